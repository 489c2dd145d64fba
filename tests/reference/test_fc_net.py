"""reference.fc_net.FullyConnectedNet: parameters, dtype, modes, numerical gradients."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference.fc_net import FullyConnectedNet
from reference.gradient_check import eval_numerical_gradient

HYP = settings(derandomize=True, database=None, deadline=None, max_examples=40)


def test_parameters_names_shapes_and_init():
    np.random.seed(0)
    model = FullyConnectedNet([20, 30], input_dim=40, num_classes=7, use_batchnorm=True,
                              weight_scale=0.05)
    assert model.num_layers == 3
    assert sorted(model.params) == sorted(
        ['W1', 'b1', 'W2', 'b2', 'W3', 'b3', 'gamma1', 'beta1', 'gamma2', 'beta2'])
    shapes = {'W1': (40, 20), 'W2': (20, 30), 'W3': (30, 7), 'b1': (20,), 'b2': (30,),
              'b3': (7,), 'gamma1': (20,), 'beta1': (20,), 'gamma2': (30,), 'beta2': (30,)}
    assert {k: v.shape for k, v in model.params.items()} == shapes
    assert all(v.dtype == np.float32 for v in model.params.values())
    assert abs(model.params['W1'].std() - 0.05) < 0.005
    for k in ('b1', 'b2', 'b3', 'beta1', 'beta2'):
        assert np.all(model.params[k] == 0)
    assert np.all(model.params['gamma1'] == 1) and np.all(model.params['gamma2'] == 1)
    assert model.bn_params == [{'mode': 'train'}, {'mode': 'train'}]


def test_attributes_as_in_the_course():
    model = FullyConnectedNet([5], input_dim=4, num_classes=3, dropout=0.25, reg=0.1,
                              dtype=np.float64, seed=3)
    assert model.use_dropout and not model.use_batchnorm
    assert model.reg == 0.1 and model.dtype == np.float64
    assert model.dropout_param == {'mode': 'train', 'p': 0.25, 'seed': 3}
    assert model.bn_params == []
    assert FullyConnectedNet([5], input_dim=4).dropout_param == {}
    assert 'seed' not in FullyConnectedNet([5], input_dim=4, dropout=0.5).dropout_param


def test_default_shapes_take_cifar_images():
    model = FullyConnectedNet([8])
    scores = model.loss(np.zeros((2, 3, 32, 32)))
    assert model.params['W1'].shape == (3072, 8) and scores.shape == (2, 10)


def test_float32_model_runs_in_float32_on_float64_data():
    np.random.seed(1)
    model = FullyConnectedNet([6, 5], input_dim=12, num_classes=4, use_batchnorm=True,
                              dropout=0.3, reg=0.1)
    X, y = np.random.randn(5, 3, 2, 2), np.random.randint(4, size=5)
    assert X.dtype == np.float64

    scores = model.loss(X)
    loss, grads = model.loss(X, y)

    assert scores.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    assert all(p.dtype == np.float32 for p in model.params.values())
    assert all(bn[k].dtype == np.float32 for bn in model.bn_params
               for k in ('running_mean', 'running_var'))
    assert isinstance(loss, float)


def test_y_none_is_test_mode():
    np.random.seed(2)
    model = FullyConnectedNet([6], input_dim=4, num_classes=3, use_batchnorm=True,
                              dropout=0.5, dtype=np.float64)
    X = np.random.randn(8, 4)
    model.loss(X, np.zeros(8, dtype=int))
    stats = {k: model.bn_params[0][k].copy() for k in ('running_mean', 'running_var')}

    scores = model.loss(X)

    assert model.bn_params[0]['mode'] == 'test' and model.dropout_param['mode'] == 'test'
    for k, v in stats.items():
        np.testing.assert_array_equal(model.bn_params[0][k], v)
    np.testing.assert_array_equal(scores, model.loss(X))


def test_initial_loss_is_about_log_c():
    np.random.seed(3)
    model = FullyConnectedNet([50, 50], input_dim=30, num_classes=10, weight_scale=1e-3)
    loss, _ = model.loss(np.random.randn(200, 30), np.random.randint(10, size=200))
    assert loss == pytest.approx(np.log(10), rel=1e-3)


def test_regularization_is_half_reg_sum_of_squared_weights_only():
    np.random.seed(4)
    kw = dict(input_dim=5, num_classes=3, use_batchnorm=True, dtype=np.float64)
    plain, regularised = FullyConnectedNet([4, 6], **kw), FullyConnectedNet([4, 6], reg=0.7, **kw)
    regularised.params = {k: v + 0.5 for k, v in plain.params.items()}
    plain.params = {k: v.copy() for k, v in regularised.params.items()}
    X, y = np.random.randn(6, 5), np.random.randint(3, size=6)

    loss0, grads0 = plain.loss(X, y)
    loss1, grads1 = regularised.loss(X, y)

    weights = [f'W{i}' for i in (1, 2, 3)]
    penalty = 0.5 * 0.7 * sum(np.sum(plain.params[k] ** 2) for k in weights)
    assert loss1 - loss0 == pytest.approx(penalty, rel=1e-12)
    for k in plain.params:
        expected = grads0[k] + (0.7 * plain.params[k] if k in weights else 0)
        np.testing.assert_allclose(grads1[k], expected, rtol=1e-12)


def test_dropout_seed_makes_the_loss_repeatable():
    np.random.seed(5)
    model = FullyConnectedNet([10, 10], input_dim=6, num_classes=4, dropout=0.5, seed=11,
                              dtype=np.float64)
    X, y = np.random.randn(7, 6), np.random.randint(4, size=7)
    assert model.loss(X, y)[0] == model.loss(X, y)[0]


net_cases = st.fixed_dictionaries({
    'seed': st.integers(0, 2**31 - 1),
    'n': st.integers(1, 4),
    'input_dim': st.integers(1, 5),
    'hidden_dims': st.lists(st.integers(1, 5), min_size=0, max_size=3),
    'num_classes': st.integers(2, 4),
    'reg': st.sampled_from([0.0, 0.3]),
    'dropout': st.sampled_from([0, 0.4]),
})


def check_net_gradients(case: dict, use_batchnorm: bool, assert_grad_close) -> None:
    """All parameters moved off their init (zero biases make exact relu kinks)."""
    np.random.seed(case['seed'])
    n = case['n']
    model = FullyConnectedNet(case['hidden_dims'], input_dim=case['input_dim'],
                              num_classes=case['num_classes'], dropout=case['dropout'],
                              use_batchnorm=use_batchnorm, reg=case['reg'], weight_scale=0.5,
                              dtype=np.float64, seed=case['seed'] % 1000)
    model.params = {k: v + 0.5 * np.random.randn(*v.shape) for k, v in model.params.items()}
    X = np.random.randn(n, case['input_dim'])
    y = np.random.randint(case['num_classes'], size=n)

    _, grads = model.loss(X, y)
    biases_before_batchnorm = [f'b{i}' for i in range(1, model.num_layers)]
    for name, param in model.params.items():
        numeric = eval_numerical_gradient(lambda _: model.loss(X, y)[0], param, verbose=False)
        if use_batchnorm and name in biases_before_batchnorm:
            assert np.max(np.abs(grads[name])) < 1e-10, name
            assert np.max(np.abs(numeric)) < 1e-7, name
        else:
            assert_grad_close(grads[name], numeric, rtol=1e-5)


@HYP
@given(case=net_cases)
def test_net_gradients(case, assert_grad_close):
    check_net_gradients(case, use_batchnorm=False, assert_grad_close=assert_grad_close)


@HYP
@given(case=net_cases.filter(lambda c: c['n'] >= 2))
def test_net_gradients_with_batchnorm(case, assert_grad_close):
    """The bias just before a batchnorm has a true gradient of 0: an absolute bound."""
    check_net_gradients(case, use_batchnorm=True, assert_grad_close=assert_grad_close)
