"""reference.fast: the fast internals follow the readable spec's trajectory to the last bit.

The readable side is the same FullyConnectedNet with use_fast = False (layer_utils / layers) under
the Solver's per-parameter optim.adam step; the fast side is the default (in-place kernels,
flat buffers, FlatAdam), with numba's kernels when numba is installed and without them.
"""

import pickle

import numpy as np
import pytest

from reference import fast, optim
from reference.fc_net import FullyConnectedNet
from reference.solver import Solver


def blobs(n: int, seed: int, d: int = 48, c: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(n, 3, 4, 4) images around one centre per class, and their labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(c, size=n)
    X = 2 * np.eye(c, d)[y] + rng.standard_normal((n, d))
    return X.reshape(n, 3, 4, 4), y


def small_data() -> dict:
    (X_train, y_train), (X_val, y_val) = blobs(300, 0), blobs(60, 1)
    return {'X_train': X_train, 'y_train': y_train, 'X_val': X_val, 'y_val': y_val}


def train(dtype, fast_model: bool, **net) -> tuple[FullyConnectedNet, Solver]:
    """300 Adam steps (10 epochs of 30) with lr decay on a small batchnorm net, seeded."""
    np.random.seed(0)
    model = FullyConnectedNet([20, 30, 20], input_dim=48, num_classes=5, use_batchnorm=True,
                              weight_scale=0.1, dtype=dtype, **net)
    model.use_fast = fast_model
    solver = Solver(model, small_data(), update_rule='adam', optim_config={'learning_rate': 5e-3},
                    lr_decay=0.9, batch_size=10, num_epochs=10, verbose=False)
    np.random.seed(1)
    solver.train()
    return model, solver


def assert_same_state(fast_pair, readable_pair) -> None:
    """Histories, (best) parameters, batchnorm statistics and Adam configs are equal."""
    (model, solver), (ref_model, ref_solver) = fast_pair, readable_pair
    assert solver.loss_history == ref_solver.loss_history
    assert solver.train_acc_history == ref_solver.train_acc_history
    assert solver.val_acc_history == ref_solver.val_acc_history
    for k, v in ref_model.params.items():
        np.testing.assert_array_equal(model.params[k], v, err_msg=k)
        np.testing.assert_array_equal(solver.best_params[k], ref_solver.best_params[k], err_msg=k)
    for stats, ref_stats in [*zip(model.bn_params, ref_model.bn_params),
                             *zip(solver.best_bn_stats, ref_solver.best_bn_stats)]:
        for k in ('running_mean', 'running_var'):
            np.testing.assert_array_equal(stats[k], ref_stats[k])
    for p, ref_config in ref_solver.optim_configs.items():
        config = solver.optim_configs[p]
        assert config.keys() == ref_config.keys()
        for k, v in ref_config.items():
            if isinstance(v, np.ndarray):
                np.testing.assert_array_equal(config[k], v, err_msg=f'{p} {k}')
            else:
                assert config[k] == v, (p, k)


def assert_fast_path_ran(model: FullyConnectedNet, solver: Solver) -> None:
    assert model.flat_params.holds(model.params)
    assert all(c['v'] is solver.flat_adam.v.views[p] and c['a'] is solver.flat_adam.a.views[p]
               for p, c in solver.optim_configs.items())


@pytest.mark.parametrize('dtype', [np.float64, np.float32])
@pytest.mark.parametrize('net', [{}, {'reg': 0.05}, {'dropout': 0.2, 'seed': 3}],
                         ids=['plain', 'l2', 'dropout'])
def test_fast_training_follows_the_readable_trajectory(dtype, net):
    fast_pair, readable_pair = train(dtype, True, **net), train(dtype, False, **net)

    assert_fast_path_ran(*fast_pair)
    ref_solver = readable_pair[1]
    assert all(c['v'] is not ref_solver.flat_adam.v.views[p]
               for p, c in ref_solver.optim_configs.items())
    assert ref_solver.optim_configs['W1']['t'] == 300
    assert ref_solver.optim_configs['W1']['learning_rate'] == pytest.approx(5e-3 * 0.9**10)
    assert_same_state(fast_pair, readable_pair)


@pytest.mark.parametrize('dtype', [np.float64, np.float32])
def test_without_numba_the_numpy_passes_follow_the_same_trajectory(monkeypatch, dtype):
    monkeypatch.setattr(fast, '_numba_kernels', lambda: None)
    fast_pair, readable_pair = train(dtype, True), train(dtype, False)
    assert_fast_path_ran(*fast_pair)
    assert_same_state(fast_pair, readable_pair)


@pytest.mark.parametrize('dtype', [np.float64, np.float32])
def test_fast_loss_matches_readable_loss_in_both_modes(dtype):
    np.random.seed(5)
    model = FullyConnectedNet([7, 6], input_dim=12, num_classes=4, use_batchnorm=True, reg=0.1,
                              weight_scale=0.5, dtype=dtype)
    X, y = np.random.randn(9, 12), np.random.randint(4, size=9)
    loss, grads = model.loss(X, y)
    fast_stats = [dict(bn) for bn in model.bn_params]
    scores = model.loss(X)

    for bn in model.bn_params:
        bn.pop('running_mean'), bn.pop('running_var')
    model.use_fast = False
    ref_loss, ref_grads = model.loss(X, y)
    ref_scores = model.loss(X)

    assert loss == ref_loss
    np.testing.assert_array_equal(scores, ref_scores)
    assert grads.keys() == ref_grads.keys()
    for k, g in ref_grads.items():
        assert grads[k].dtype == dtype
        np.testing.assert_array_equal(grads[k], g, err_msg=k)
    for bn, ref_bn in zip(fast_stats, model.bn_params):
        np.testing.assert_array_equal(bn['running_var'], ref_bn['running_var'])


def test_each_loss_call_returns_its_own_gradients():
    """A later call never overwrites the gradients an earlier call returned."""
    np.random.seed(6)
    model = FullyConnectedNet([5], input_dim=4, num_classes=3, use_batchnorm=True)
    X, y = np.random.randn(6, 4), np.random.randint(3, size=6)
    _, first = model.loss(X, y)
    kept = {k: v.copy() for k, v in first.items()}
    model.loss(2 * X, y)
    for k, v in kept.items():
        np.testing.assert_array_equal(first[k], v)


NUMBA = pytest.mark.skipif(fast._numba_kernels() is None, reason='numba is not installed (the fast extra)')


@pytest.mark.parametrize('adam_', [fast.adam_numpy, pytest.param(fast.adam_numba, marks=NUMBA)],
                         ids=['numpy', 'numba'])
@pytest.mark.parametrize('dtype', [np.float64, np.float32])
@pytest.mark.parametrize('size', [1, fast.BLOCK - 1, 2 * fast.BLOCK + 7])
def test_adam_on_flat_buffers_is_optim_adam(adam_, dtype, size):
    """Same operations in the same order: equal to the last bit, for any block split."""
    rng = np.random.default_rng(size)
    w, v, a = rng.standard_normal(size).astype(dtype), np.zeros(size, dtype), np.zeros(size, dtype)
    config = {'learning_rate': 1e-2}
    ref_w = w.copy()
    for t in range(1, 6):
        dw = rng.standard_normal(size).astype(dtype)
        ref_w, config = optim.adam(ref_w, dw, config)
        adam_(w, dw, v, a, 1e-2, 0.9, 0.999, 1e-8, t)
    np.testing.assert_array_equal(w, ref_w)
    np.testing.assert_array_equal(v, config['v'])
    np.testing.assert_array_equal(a, config['a'])


@NUMBA
@pytest.mark.parametrize('dtype', [np.float64, np.float32])
@pytest.mark.parametrize('shape', [(1, 3), (7, 13), (100, 500)])
def test_batchnorm_kernels_are_their_numpy_twins(dtype, shape):
    """Equal to the last bit, NaN included (a NaN in the scores stays NaN, as in numpy)."""
    rng = np.random.default_rng(shape[0])
    a, dout = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    a[0, 0] = np.nan
    b, gamma, beta = (rng.standard_normal(shape[1]).astype(dtype) for _ in range(3))
    kernels = fast._numba_kernels()
    results = []
    for train_forward, train_backward in [
            (fast.batchnorm_relu_train_numpy, fast.batchnorm_relu_backward_numpy),
            (kernels.batchnorm_relu_train, kernels.batchnorm_relu_backward)]:
        xhat, out, da = a.copy(), np.empty_like(a), dout.copy()
        stats = train_forward(xhat, b, gamma, beta, dtype(1e-5), out)
        grads = np.empty(shape[1], dtype), np.empty(shape[1], dtype)
        train_backward(da, out.copy(), xhat, gamma, stats[2], *grads)
        results.append((xhat, out, *stats, da, *grads))
    for numpy_result, numba_result in zip(*results):
        assert numba_result.dtype == dtype
        np.testing.assert_array_equal(numba_result, numpy_result)


def test_flat_views_share_one_buffer():
    flat = fast.Flat({'W': (2, 3), 'b': (3,)}, np.float32)
    assert flat.data.shape == (9,) and flat.views['W'].shape == (2, 3)
    flat.data[:] = np.arange(9)
    np.testing.assert_array_equal(flat.views['b'], [6, 7, 8])
    arrays = dict(flat.views)
    assert flat.holds(arrays)
    assert not flat.holds({**arrays, 'b': arrays['b'].copy()})
    assert not flat.holds({'W': arrays['W']})
    assert not pickle.loads(pickle.dumps(flat)).holds(arrays)


def lockstep(model: FullyConnectedNet, change, steps: int = 40) -> Solver:
    """Seeded Adam steps; change(solver) after half of them."""
    solver = Solver(model, small_data(), update_rule='adam', optim_config={'learning_rate': 1e-2},
                    batch_size=10, verbose=False)
    np.random.seed(2)
    for t in range(steps):
        if t == steps // 2:
            change(solver)
        solver._step()
    return solver


def make_model(fast_model: bool = True) -> FullyConnectedNet:
    np.random.seed(4)
    model = FullyConnectedNet([16, 16], input_dim=48, num_classes=5, use_batchnorm=True,
                              dtype=np.float64)
    model.use_fast = fast_model
    return model


def one_rate_changed(solver: Solver) -> None:
    solver.optim_configs['W2']['learning_rate'] = 1e-3


def params_replaced(solver: Solver) -> None:
    solver.model.params = {k: v.copy() for k, v in solver.model.params.items()}


def numpy_rate(solver: Solver) -> None:
    for config in solver.optim_configs.values():
        config['learning_rate'] = np.float64(config['learning_rate'])


@pytest.mark.parametrize('change', [one_rate_changed, params_replaced, numpy_rate])
def test_per_parameter_step_takes_over_when_flat_is_not_exact(change):
    solver = lockstep(make_model(), change)
    ref_solver = lockstep(make_model(fast_model=False), change)

    assert not solver.model.flat_params.holds(solver.model.params)
    assert solver.loss_history == ref_solver.loss_history
    for k, v in ref_solver.model.params.items():
        np.testing.assert_array_equal(solver.model.params[k], v, err_msg=k)


def test_other_update_rules_use_the_per_parameter_step():
    solver = Solver(make_model(), small_data(), update_rule='sgd_momentum', verbose=False)
    assert solver.flat_adam is None


def test_restored_best_parameters_stay_in_the_flat_buffer():
    model, solver = train(np.float32, True)
    assert model.flat_params.holds(model.params)
    for k, v in solver.best_params.items():
        np.testing.assert_array_equal(model.params[k], v)


def test_unpickled_model_is_flat_and_equal(tmp_path):
    model = make_model()
    model.loss(*blobs(8, 3))
    copy = pickle.loads(pickle.dumps(model))
    assert copy.flat_params.holds(copy.params) and copy.flat_grads is None
    for k, v in model.params.items():
        np.testing.assert_array_equal(copy.params[k], v)
    assert len(pickle.dumps(model)) < 1.5 * model.flat_params.data.nbytes + 10_000
