"""reference.layers and reference.layer_utils: fixed cases, numerical gradients, properties."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reference.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array
from reference.layer_utils import (
    affine_batchnorm_relu_backward,
    affine_batchnorm_relu_forward,
    affine_relu_backward,
    affine_relu_forward,
)
from reference.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
    svm_loss,
)

HYP = settings(derandomize=True, database=None, deadline=None, max_examples=50)
seeds = st.integers(0, 2**32 - 1)
rows = st.integers(1, 5)
features = st.integers(1, 6)


def num_grad(f, x, dout):
    return eval_numerical_gradient_array(f, x, dout)


def num_grad_scalar(f, x):
    return eval_numerical_gradient(f, x, verbose=False)


# --- fixed cases (API.md) -------------------------------------------------------------

def test_affine_forward_fixed_case(assert_printed):
    x = np.linspace(-0.1, 0.5, num=240).reshape(2, 4, 5, 6)
    w = np.linspace(-0.2, 0.3, num=360).reshape(120, 3)
    b = np.linspace(-0.3, 0.1, num=3)
    out, _ = affine_forward(x, w, b)
    assert_printed(out, np.array([[1.49834967, 1.70660132, 1.91485297],
                                  [3.25553199, 3.5141327, 3.77273342]]))


def test_relu_forward_fixed_case(assert_printed):
    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
    out, _ = relu_forward(x)
    assert_printed(out, np.array([[0, 0, 0, 0],
                                  [0, 0, 0.04545455, 0.13636364],
                                  [0.22727273, 0.31818182, 0.40909091, 0.5]]))


# --- numerical gradients (float64) ----------------------------------------------------

@HYP
@given(seed=seeds, n=rows, in_shape=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       m=features)
def test_affine_backward(seed, n, in_shape, m, assert_grad_close):
    """x may be an image batch (N, d1, d2, d3); b is 1-D."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *in_shape))
    w = rng.standard_normal((int(np.prod(in_shape)), m))
    b = rng.standard_normal(m)
    dout = rng.standard_normal((n, m))

    out, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)

    assert out.shape == (n, m)
    assert_grad_close(dx, num_grad(lambda x: affine_forward(x, w, b)[0], x, dout))
    assert_grad_close(dw, num_grad(lambda w: affine_forward(x, w, b)[0], w, dout))
    assert_grad_close(db, num_grad(lambda b: affine_forward(x, w, b)[0], b, dout))


def test_affine_backward_without_input_grad():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((3, 2, 2)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    dout = rng.standard_normal((3, 5))
    _, cache = affine_forward(x, w, b)
    _, dw, db = affine_backward(dout, cache)
    dx, dw_only, db_only = affine_backward(dout, cache, input_grad=False)
    assert dx is None
    np.testing.assert_array_equal(dw_only, dw)
    np.testing.assert_array_equal(db_only, db)


@HYP
@given(seed=seeds, shape=st.lists(st.integers(1, 5), min_size=1, max_size=3))
def test_relu_backward(seed, shape, assert_grad_close):
    """Checked away from the kink at 0."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    x += 0.1 * np.sign(x)
    dout = rng.standard_normal(shape)

    _, cache = relu_forward(x)
    assert_grad_close(relu_backward(dout, cache), num_grad(lambda x: relu_forward(x)[0], x, dout))


def test_relu_backward_at_zero_is_a_subgradient():
    x = np.array([[-1.0, 0.0, 2.0]])
    _, cache = relu_forward(x)
    dx = relu_backward(np.ones_like(x), cache)
    assert dx[0, 0] == 0 and 0 <= dx[0, 1] <= 1 and dx[0, 2] == 1


@HYP
@given(seed=seeds, n=rows, d=features)
def test_batchnorm_backward(seed, n, d, assert_grad_close):
    rng = np.random.default_rng(seed)
    x = 3 * rng.standard_normal((n, d)) + 5
    gamma, beta = rng.standard_normal(d), rng.standard_normal(d)
    dout = rng.standard_normal((n, d))

    def f(x=x, gamma=gamma, beta=beta):
        return batchnorm_forward(x, gamma, beta, {'mode': 'train'})[0]

    _, cache = batchnorm_forward(x, gamma, beta, {'mode': 'train'})
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)

    assert_grad_close(dx, num_grad(lambda x: f(x=x), x, dout))
    assert_grad_close(dgamma, num_grad(lambda g: f(gamma=g), gamma, dout))
    assert_grad_close(dbeta, num_grad(lambda b: f(beta=b), beta, dout))


@HYP
@given(seed=seeds, n=rows, d=features, p=st.floats(0.0, 0.9))
def test_dropout_backward(seed, n, d, p, assert_grad_close):
    rng = np.random.default_rng(seed)
    x, dout = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    param = {'mode': 'train', 'p': p, 'seed': seed % 1000}

    _, cache = dropout_forward(x, param)
    dx = dropout_backward(dout, cache)
    assert_grad_close(dx, num_grad(lambda x: dropout_forward(x, param)[0], x, dout))


def _scores(seed: int, n: int, c: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, c)), rng.integers(c, size=n)


@HYP
@given(seed=seeds, n=rows, c=st.integers(2, 6))
def test_svm_loss_gradient(seed, n, c, assert_grad_close):
    """Checked away from the hinge's kinks (margins within 1e-3 of 0)."""
    x, y = _scores(seed, n, c)
    margins = x - x[np.arange(n), y][:, None] + 1
    margins[np.arange(n), y] = 1
    assume(np.all(np.abs(margins) > 1e-3))

    _, dx = svm_loss(x, y)
    assert_grad_close(dx, num_grad_scalar(lambda x: svm_loss(x, y)[0], x))


@HYP
@given(seed=seeds, n=rows, c=st.integers(2, 6))
def test_softmax_loss_gradient(seed, n, c, assert_grad_close):
    x, y = _scores(seed, n, c)
    _, dx = softmax_loss(x, y)
    assert_grad_close(dx, num_grad_scalar(lambda x: softmax_loss(x, y)[0], x))


def _pre_activations_away_from_zero(pre: np.ndarray) -> bool:
    return bool(np.all(np.abs(pre) > 1e-3))


@HYP
@given(seed=seeds, n=rows, in_shape=st.lists(st.integers(1, 3), min_size=1, max_size=3),
       m=features)
def test_affine_relu_backward(seed, n, in_shape, m, assert_grad_close):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *in_shape))
    w = rng.standard_normal((int(np.prod(in_shape)), m))
    b = rng.standard_normal(m)
    dout = rng.standard_normal((n, m))
    assume(_pre_activations_away_from_zero(affine_forward(x, w, b)[0]))

    _, cache = affine_relu_forward(x, w, b)
    dx, dw, db = affine_relu_backward(dout, cache)

    assert_grad_close(dx, num_grad(lambda x: affine_relu_forward(x, w, b)[0], x, dout))
    assert_grad_close(dw, num_grad(lambda w: affine_relu_forward(x, w, b)[0], w, dout))
    assert_grad_close(db, num_grad(lambda b: affine_relu_forward(x, w, b)[0], b, dout))


@HYP
@given(seed=seeds, n=st.integers(2, 5), d=features, m=features)
def test_affine_batchnorm_relu_backward(seed, n, d, m, assert_grad_close):
    """b sits just before batchnorm: its true gradient is 0, checked with an absolute bound."""
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal((n, d)), rng.standard_normal((d, m)), rng.standard_normal(m)
    gamma, beta = rng.standard_normal(m), rng.standard_normal(m)
    dout = rng.standard_normal((n, m))

    def f(x=x, w=w, b=b, gamma=gamma, beta=beta):
        return affine_batchnorm_relu_forward(x, w, b, gamma, beta, {'mode': 'train'})[0]

    a = affine_forward(x, w, b)[0]
    assume(np.all(a.std(axis=0) > 1e-2))
    assume(_pre_activations_away_from_zero(batchnorm_forward(a, gamma, beta, {'mode': 'train'})[0]))

    _, cache = affine_batchnorm_relu_forward(x, w, b, gamma, beta, {'mode': 'train'})
    dx, dw, db, dgamma, dbeta = affine_batchnorm_relu_backward(dout, cache)

    assert_grad_close(dx, num_grad(lambda x: f(x=x), x, dout))
    assert_grad_close(dw, num_grad(lambda w: f(w=w), w, dout))
    assert_grad_close(dgamma, num_grad(lambda g: f(gamma=g), gamma, dout))
    assert_grad_close(dbeta, num_grad(lambda bt: f(beta=bt), beta, dout))
    assert np.max(np.abs(db)) < 1e-10
    assert np.max(np.abs(num_grad(lambda b: f(b=b), b, dout))) < 1e-8


def test_sandwiches_skip_the_input_gradient():
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal(5)
    g, bt, dout = rng.standard_normal(5), rng.standard_normal(5), rng.standard_normal((4, 5))

    _, cache = affine_relu_forward(x, w, b)
    full, skipped = affine_relu_backward(dout, cache), affine_relu_backward(dout, cache, False)
    assert skipped[0] is None
    for got, want in zip(skipped[1:], full[1:]):
        np.testing.assert_array_equal(got, want)

    _, cache = affine_batchnorm_relu_forward(x, w, b, g, bt, {'mode': 'train'})
    full = affine_batchnorm_relu_backward(dout, cache)
    skipped = affine_batchnorm_relu_backward(dout, cache, False)
    assert skipped[0] is None
    for got, want in zip(skipped[1:], full[1:]):
        np.testing.assert_array_equal(got, want)


# --- batchnorm properties ---------------------------------------------------------------

@HYP
@given(seed=seeds, n=st.integers(2, 50), d=features)
def test_batchnorm_train_output_has_mean_beta_and_std_gamma(seed, n, d):
    rng = np.random.default_rng(seed)
    x = 4 * rng.standard_normal((n, d)) - 2
    gamma, beta = rng.standard_normal(d), rng.standard_normal(d)
    eps = 1e-5
    assume(np.all(x.var(axis=0) > 1e-3))

    out, _ = batchnorm_forward(x, gamma, beta, {'mode': 'train', 'eps': eps})

    var = x.var(axis=0)
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-12 * (1 + np.abs(gamma).max()))
    np.testing.assert_allclose(out.std(axis=0), np.abs(gamma) * np.sqrt(var / (var + eps)),
                               rtol=1e-10)


def test_batchnorm_running_statistics_update():
    rng = np.random.default_rng(2)
    x1, x2 = rng.standard_normal((8, 3)), 2 + 3 * rng.standard_normal((8, 3))
    gamma, beta = np.ones(3), np.zeros(3)
    bn_param = {'mode': 'train', 'momentum': 0.8}

    batchnorm_forward(x1, gamma, beta, bn_param)
    batchnorm_forward(x2, gamma, beta, bn_param)

    mean = 0.8 * (0.2 * x1.mean(0)) + 0.2 * x2.mean(0)
    var = 0.8 * (0.2 * x1.var(0)) + 0.2 * x2.var(0)
    np.testing.assert_allclose(bn_param['running_mean'], mean, rtol=1e-13)
    np.testing.assert_allclose(bn_param['running_var'], var, rtol=1e-13)


def test_batchnorm_defaults_running_stats_to_zeros_in_x_dtype():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    bn_param = {'mode': 'train'}
    out, _ = batchnorm_forward(x, np.ones(3, np.float32), np.zeros(3, np.float32), bn_param)
    assert out.dtype == np.float32
    assert bn_param['running_mean'].dtype == bn_param['running_var'].dtype == np.float32
    np.testing.assert_allclose(bn_param['running_mean'], 0.1 * x.mean(0), rtol=1e-6)
    np.testing.assert_allclose(bn_param['running_var'], 0.1 * x.var(0), rtol=1e-6)


def test_batchnorm_test_mode_uses_running_statistics():
    rng = np.random.default_rng(3)
    x, gamma, beta = rng.standard_normal((5, 4)), rng.standard_normal(4), rng.standard_normal(4)
    rm, rv = rng.standard_normal(4), rng.random(4) + 0.5
    bn_param = {'mode': 'test', 'running_mean': rm, 'running_var': rv, 'eps': 1e-3}

    out, _ = batchnorm_forward(x, gamma, beta, bn_param)

    np.testing.assert_allclose(out, gamma * (x - rm) / np.sqrt(rv + 1e-3) + beta, rtol=1e-13)
    assert bn_param['running_mean'] is rm and bn_param['running_var'] is rv


@pytest.mark.parametrize('mode', ['eval', 'Train', None])
def test_batchnorm_rejects_other_modes(mode):
    with pytest.raises(ValueError):
        batchnorm_forward(np.ones((2, 2)), np.ones(2), np.zeros(2), {'mode': mode})


# --- dropout properties -------------------------------------------------------------------

@pytest.mark.parametrize('p', [0.0, 0.5, 0.9])
def test_dropout_test_mode_is_identity(p):
    x = np.random.default_rng(4).standard_normal((10, 7))
    out, cache = dropout_forward(x, {'mode': 'test', 'p': p})
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(dropout_backward(x, cache), x)


@pytest.mark.parametrize('p', [0.1, 0.5, 0.9])
def test_dropout_train_keeps_expectation_and_drops_about_p(p):
    """n = 1e6 units of x = 1: out is 0 or 1/(1-p); bounds are 6 standard deviations."""
    n = 1000 * 1000
    out, _ = dropout_forward(np.ones((1000, 1000)), {'mode': 'train', 'p': p, 'seed': 0})

    dropped = np.mean(out == 0)
    assert abs(dropped - p) < 6 * np.sqrt(p * (1 - p) / n)
    assert abs(out.mean() - 1) < 6 * np.sqrt(p / (1 - p) / n)
    np.testing.assert_allclose(out[out != 0], 1 / (1 - p), rtol=1e-15)


def test_dropout_seed_repeats_the_mask_and_no_seed_does_not():
    x = np.ones((50, 50))
    seeded = {'mode': 'train', 'p': 0.5, 'seed': 123}
    np.testing.assert_array_equal(dropout_forward(x, seeded)[0], dropout_forward(x, seeded)[0])
    unseeded = {'mode': 'train', 'p': 0.5}
    assert not np.array_equal(dropout_forward(x, unseeded)[0], dropout_forward(x, unseeded)[0])


def test_dropout_seed_seeds_the_global_rng():
    dropout_forward(np.ones(3), {'mode': 'train', 'p': 0.5, 'seed': 7})
    after = np.random.rand()
    np.random.seed(7)
    np.random.rand(3)
    assert after == np.random.rand()


def test_dropout_keeps_float32():
    x = np.ones((4, 5), dtype=np.float32)
    out, cache = dropout_forward(x, {'mode': 'train', 'p': 0.3, 'seed': 1})
    assert out.dtype == np.float32
    assert dropout_backward(x, cache).dtype == np.float32


def test_dropout_rejects_other_modes():
    with pytest.raises(ValueError):
        dropout_forward(np.ones(3), {'mode': 'eval', 'p': 0.5})


# --- loss properties ------------------------------------------------------------------------

@pytest.mark.parametrize('n, c', [(1, 2), (3, 10), (7, 5)])
def test_softmax_loss_of_zero_scores_is_log_c(n, c):
    loss, dx = softmax_loss(np.zeros((n, c)), np.zeros(n, dtype=int))
    assert loss == pytest.approx(np.log(c), rel=1e-14)
    np.testing.assert_allclose(dx.sum(axis=1), 0, atol=1e-16)


def test_softmax_loss_is_stable_and_shift_invariant():
    x, y = _scores(5, 6, 4)
    loss, dx = softmax_loss(x, y)
    big_loss, big_dx = softmax_loss(x + 1e4, y)
    huge_loss, _ = softmax_loss(np.array([[1e4, -1e4]]), np.array([1]))
    assert big_loss == pytest.approx(loss, rel=1e-9)
    np.testing.assert_allclose(big_dx, dx, rtol=1e-9, atol=1e-12)
    assert huge_loss == pytest.approx(2e4, rel=1e-12)


def test_svm_loss_known_values():
    loss, dx = svm_loss(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), np.array([0, 2]))
    assert loss == pytest.approx((2 + 3 + 1 + 1) / 2)
    np.testing.assert_allclose(dx, [[-1.0, 0.5, 0.5], [0.5, 0.5, -1.0]])


@pytest.mark.parametrize('loss_fn', [svm_loss, softmax_loss])
def test_losses_keep_float32(loss_fn):
    x, y = _scores(6, 4, 3)
    loss, dx = loss_fn(x.astype(np.float32), y)
    assert dx.dtype == np.float32 and np.isfinite(loss)
