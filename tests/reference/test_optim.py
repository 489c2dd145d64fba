"""reference.optim: the notebook's fixed cases, defaults, and properties of the rules."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reference import optim
from reference.gradient_check import rel_error

HYP = settings(derandomize=True, database=None, deadline=None, max_examples=30)
RULES = ['sgd', 'sgd_momentum', 'sgd_nesterov_momentum', 'rmsprop', 'adam']

N, D = 4, 5
W = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
DW = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
STATE = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
ADAM_A = np.linspace(0.7, 0.5, num=N * D).reshape(N, D)

# The course's published numbers (API.md), typed in.
MOMENTUM_NEXT_W = np.array([
    [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
    [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
    [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
    [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096]])
MOMENTUM_VELOCITY = np.array([
    [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
    [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
    [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
    [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096]])
NESTEROV_NEXT_W = np.array([
    [0.08714, 0.15246105, 0.21778211, 0.28310316, 0.34842421],
    [0.41374526, 0.47906632, 0.54438737, 0.60970842, 0.67502947],
    [0.74035053, 0.80567158, 0.87099263, 0.93631368, 1.00163474],
    [1.06695579, 1.13227684, 1.19759789, 1.26291895, 1.32824]])
RMSPROP_NEXT_W = np.array([
    [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
    [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
    [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
    [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619]])
RMSPROP_A = np.array([
    [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
    [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
    [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
    [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926]])
ADAM_NEXT_W = np.array([
    [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
    [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
    [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
    [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459]])
ADAM_SECOND_MOMENT_A = np.array([
    [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
    [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
    [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
    [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966]])
ADAM_FIRST_MOMENT_V = np.array([
    [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
    [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
    [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
    [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85]])


def test_sgd_momentum_fixed_case(assert_printed):
    next_w, config = optim.sgd_momentum(W, DW, {'learning_rate': 1e-3, 'velocity': STATE})
    assert_printed(next_w, MOMENTUM_NEXT_W)
    assert_printed(config['velocity'], MOMENTUM_VELOCITY)


def test_sgd_nesterov_momentum_fixed_case(assert_printed):
    next_w, config = optim.sgd_nesterov_momentum(W, DW, {'learning_rate': 1e-3, 'velocity': STATE})
    assert_printed(next_w, NESTEROV_NEXT_W)
    assert_printed(config['velocity'], MOMENTUM_VELOCITY)


def test_rmsprop_fixed_case(assert_printed):
    next_w, config = optim.rmsprop(W, DW, {'learning_rate': 1e-2, 'a': STATE})
    assert_printed(next_w, RMSPROP_NEXT_W)
    assert_printed(config['a'], RMSPROP_A)


def test_adam_fixed_case(assert_printed):
    config = {'learning_rate': 1e-2, 'v': STATE, 'a': ADAM_A, 't': 5}
    next_w, config = optim.adam(W, DW, config)
    assert_printed(next_w, ADAM_NEXT_W)
    assert_printed(config['v'], ADAM_FIRST_MOMENT_V)
    assert_printed(config['a'], ADAM_SECOND_MOMENT_A)
    assert config['t'] == 6


def test_sgd_is_w_minus_lr_dw():
    next_w, config = optim.sgd(W, DW, {'learning_rate': 0.5})
    np.testing.assert_array_equal(next_w, W - 0.5 * DW)
    assert config == {'learning_rate': 0.5}


@pytest.mark.parametrize('rule, defaults', [
    ('sgd', {'learning_rate': 1e-2}),
    ('sgd_momentum', {'learning_rate': 1e-2, 'momentum': 0.9}),
    ('sgd_nesterov_momentum', {'learning_rate': 1e-2, 'momentum': 0.9}),
    ('rmsprop', {'learning_rate': 1e-2, 'decay_rate': 0.99, 'epsilon': 1e-8}),
    ('adam', {'learning_rate': 1e-3, 'beta1': 0.9, 'beta2': 0.999, 'epsilon': 1e-8}),
])
def test_none_config_gets_the_defaults(rule, defaults):
    _, config = getattr(optim, rule)(W, DW, None)
    assert {k: config[k] for k in defaults} == defaults


@pytest.mark.parametrize('rule, state_keys', [
    ('sgd_momentum', ['velocity']),
    ('sgd_nesterov_momentum', ['velocity']),
    ('rmsprop', ['a']),
    ('adam', ['v', 'a']),
])
def test_state_starts_at_zero(rule, state_keys):
    """From zero state, one step of each rule has a closed form; the state is stored."""
    _, config = getattr(optim, rule)(W, DW, {})
    assert all(config[k].shape == W.shape for k in state_keys)
    fresh = {
        'sgd_momentum': {'velocity': -1e-2 * DW},
        'sgd_nesterov_momentum': {'velocity': -1e-2 * DW},
        'rmsprop': {'a': 0.01 * DW**2},
        'adam': {'v': 0.1 * DW, 'a': 0.001 * DW**2},
    }[rule]
    for k in state_keys:
        assert rel_error(config[k], fresh[k]) < 1e-12


def test_adam_first_step_is_lr_sign_dw():
    """t=1 bias correction makes v_hat = dw, a_hat = dw^2: w moves by lr * dw / (|dw| + eps)."""
    next_w, config = optim.adam(W, DW)
    assert config['t'] == 1
    assert rel_error(next_w, W - 1e-3 * DW / (np.abs(DW) + 1e-8)) < 1e-10


def test_adam_counts_steps():
    config = None
    for _ in range(3):
        _, config = optim.adam(W, DW, config)
    assert config['t'] == 3


def test_config_is_updated_and_returned():
    config = {'learning_rate': 1e-3}
    _, returned = optim.adam(W, DW, config)
    assert returned is config


shapes = st.lists(st.integers(1, 6), min_size=1, max_size=3).map(tuple)


def _arrays(seed: int, shape: tuple, dtype=np.float64) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal(shape).astype(dtype) for _ in range(4))


@HYP
@given(shape=shapes, seed=st.integers(0, 2**32 - 1), lr=st.floats(1e-4, 1.0))
def test_zero_momentum_is_sgd(shape, seed, lr):
    w, dw, v, _ = _arrays(seed, shape)
    expected, _ = optim.sgd(w, dw, {'learning_rate': lr})
    for rule in (optim.sgd_momentum, optim.sgd_nesterov_momentum):
        next_w, config = rule(w, dw, {'learning_rate': lr, 'momentum': 0.0, 'velocity': v})
        np.testing.assert_allclose(next_w, expected, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(config['velocity'], -lr * dw, rtol=1e-12)


@HYP
@given(shape=shapes, seed=st.integers(0, 2**32 - 1), rule=st.sampled_from(RULES))
def test_rules_do_not_mutate_their_inputs(shape, seed, rule):
    w, dw, v, a = _arrays(seed, shape)
    a = np.abs(a)
    config = {'velocity': v, 'v': v, 'a': a, 't': 3}
    before = {'w': w.copy(), 'dw': dw.copy(), 'v': v.copy(), 'a': a.copy()}

    next_w, new_config = getattr(optim, rule)(w, dw, config)

    for name, arr in [('w', w), ('dw', dw), ('v', v), ('a', a)]:
        np.testing.assert_array_equal(arr, before[name], err_msg=name)
    assert next_w is not w
    for k in ('velocity', 'v', 'a'):
        assert not np.shares_memory(new_config[k], next_w)


@pytest.mark.parametrize('rule', RULES)
def test_float32_stays_float32(rule):
    w, dw = W.astype(np.float32), DW.astype(np.float32)
    config = None
    for _ in range(2):
        w, config = getattr(optim, rule)(w, dw, config)
    assert w.dtype == np.float32
    assert all(v.dtype == np.float32 for v in config.values() if isinstance(v, np.ndarray))
