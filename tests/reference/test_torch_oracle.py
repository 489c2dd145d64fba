"""An independent oracle: torch.optim and torch.nn.functional + autograd.

Convention differences are mapped, not hidden:
- torch SGD momentum keeps buf = mu * buf + dw and steps w -= lr * buf; ours keeps
  v = mu * v - lr * dw and steps w += v. From zero state with a constant lr, v = -lr * buf.
  Nesterov: torch steps w -= lr * (dw + mu * buf), ours w += mu * v - lr * dw: the same.
- torch batch_norm's momentum weighs the NEW statistic (ours weighs the old): m_torch = 1 - ours;
  and torch's running_var takes the UNBIASED batch variance where the course takes the biased.
- torch multi_margin_loss also divides by the number of classes C; svm_loss does not.
"""

import numpy as np
import pytest

torch = pytest.importorskip('torch')
F = torch.nn.functional

from reference import optim  # noqa: E402
from reference.fc_net import FullyConnectedNet  # noqa: E402
from reference.layers import (  # noqa: E402
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_forward,
    dropout_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
    svm_loss,
)

DTYPES = [np.float64, np.float32]
RTOL = {np.float64: 1e-10, np.float32: 2e-5}


def close(ours, theirs, dtype, rtol_scale: float = 1.0) -> None:
    """rtol by dtype, plus an absolute part scaled to the reference's largest entry."""
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    rtol = RTOL[dtype] * rtol_scale
    atol = rtol * max(np.max(np.abs(theirs), initial=0.0), 1e-12)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


def leaf(a: np.ndarray) -> 'torch.Tensor':
    return torch.tensor(a, requires_grad=True)


# --- update rules -------------------------------------------------------------------------

STEPS = 6


def problem(dtype):
    """w0 and the gradient of f(w) = sum(0.5 A w^2 + B w - cos w), in numpy and in torch."""
    rng = np.random.default_rng(0)
    A, B, w0 = (rng.standard_normal((4, 5)).astype(dtype) for _ in range(3))
    A = np.abs(A)

    def grad(w):
        return A * w + B + np.sin(w)

    def torch_loss(p):
        return (0.5 * torch.tensor(A) * p**2 + torch.tensor(B) * p - torch.cos(p)).sum()

    return w0, grad, torch_loss


def run_torch(make_optimizer, w0, torch_loss):
    """Yields (w, state) after each torch step."""
    p = leaf(w0.copy())
    opt = make_optimizer([p])
    for _ in range(STEPS):
        opt.zero_grad()
        torch_loss(p).backward()
        opt.step()
        yield p.detach().numpy().copy(), opt.state[p]


def run_ours(rule, config, w0, grad):
    w = w0.copy()
    for _ in range(STEPS):
        w, config = rule(w, grad(w), config)
        yield w, config


@pytest.mark.parametrize('dtype', DTYPES)
def test_sgd_matches_torch(dtype):
    w0, grad, torch_loss = problem(dtype)
    ours = run_ours(optim.sgd, {'learning_rate': 0.1}, w0, grad)
    theirs = run_torch(lambda ps: torch.optim.SGD(ps, lr=0.1), w0, torch_loss)
    for (w, _), (tw, _) in zip(ours, theirs, strict=True):
        close(w, tw, dtype)


@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('nesterov', [False, True])
def test_momentum_rules_match_torch(dtype, nesterov):
    lr, mu = 0.05, 0.8
    rule = optim.sgd_nesterov_momentum if nesterov else optim.sgd_momentum
    w0, grad, torch_loss = problem(dtype)
    ours = run_ours(rule, {'learning_rate': lr, 'momentum': mu}, w0, grad)
    theirs = run_torch(lambda ps: torch.optim.SGD(ps, lr=lr, momentum=mu, nesterov=nesterov),
                       w0, torch_loss)
    for (w, config), (tw, state) in zip(ours, theirs, strict=True):
        close(w, tw, dtype)
        close(config['velocity'], -lr * state['momentum_buffer'].numpy(), dtype)


@pytest.mark.parametrize('dtype', DTYPES)
def test_rmsprop_matches_torch(dtype):
    lr, rho, eps = 1e-2, 0.9, 1e-6
    w0, grad, torch_loss = problem(dtype)
    ours = run_ours(optim.rmsprop, {'learning_rate': lr, 'decay_rate': rho, 'epsilon': eps},
                    w0, grad)
    theirs = run_torch(lambda ps: torch.optim.RMSprop(ps, lr=lr, alpha=rho, eps=eps),
                       w0, torch_loss)
    for (w, config), (tw, state) in zip(ours, theirs, strict=True):
        close(w, tw, dtype)
        close(config['a'], state['square_avg'], dtype)


@pytest.mark.parametrize('dtype', DTYPES)
def test_adam_matches_torch(dtype):
    lr, b1, b2, eps = 1e-2, 0.8, 0.95, 1e-6
    w0, grad, torch_loss = problem(dtype)
    config = {'learning_rate': lr, 'beta1': b1, 'beta2': b2, 'epsilon': eps}
    ours = run_ours(optim.adam, config, w0, grad)
    theirs = run_torch(lambda ps: torch.optim.Adam(ps, lr=lr, betas=(b1, b2), eps=eps),
                       w0, torch_loss)
    for (w, config), (tw, state) in zip(ours, theirs, strict=True):
        close(w, tw, dtype)
        close(config['v'], state['exp_avg'], dtype)
        close(config['a'], state['exp_avg_sq'], dtype)
        assert config['t'] == int(state['step'])


# --- layers -------------------------------------------------------------------------------

def arrays(dtype, *shapes, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


@pytest.mark.parametrize('dtype', DTYPES)
def test_affine_matches_linear(dtype):
    x, w, b, dout = arrays(dtype, (4, 2, 3, 2), (12, 5), (5,), (4, 5))
    out, cache = affine_forward(x, w, b)
    dx, dw, db = affine_backward(dout, cache)

    tx, tw, tb = leaf(x), leaf(w), leaf(b)
    tout = F.linear(tx.reshape(4, -1), tw.T, tb)
    tout.backward(torch.tensor(dout))

    close(out, tout, dtype)
    close(dx, tx.grad, dtype)
    close(dw, tw.grad, dtype)
    close(db, tb.grad, dtype)


@pytest.mark.parametrize('dtype', DTYPES)
def test_relu_matches_torch(dtype):
    x, dout = arrays(dtype, (6, 7), (6, 7))
    x += np.sign(x) * dtype(0.01)
    out, cache = relu_forward(x)
    tx = leaf(x)
    tout = F.relu(tx)
    tout.backward(torch.tensor(dout))
    close(out, tout, dtype)
    close(relu_backward(dout, cache), tx.grad, dtype)


@pytest.mark.parametrize('dtype', DTYPES)
def test_batchnorm_train_matches_torch(dtype):
    n, d, momentum, eps = 8, 5, 0.7, 1e-4
    x, gamma, beta, dout, rm0 = arrays(dtype, (n, d), (d,), (d,), (n, d), (d,))
    x = 3 * x + 1
    rv0 = np.abs(rm0) + dtype(0.5)
    bn_param = {'mode': 'train', 'momentum': momentum, 'eps': eps,
                'running_mean': rm0.copy(), 'running_var': rv0.copy()}

    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    dx, dgamma, dbeta = batchnorm_backward(dout, cache)

    tx, tg, tb = leaf(x), leaf(gamma), leaf(beta)
    trm, trv = torch.tensor(rm0), torch.tensor(rv0)
    tout = F.batch_norm(tx, trm, trv, tg, tb, training=True, momentum=1 - momentum, eps=eps)
    tout.backward(torch.tensor(dout))

    close(out, tout, dtype, rtol_scale=10)
    close(dx, tx.grad, dtype, rtol_scale=10)
    close(dgamma, tg.grad, dtype, rtol_scale=10)
    close(dbeta, tb.grad, dtype)
    close(bn_param['running_mean'], trm, dtype)
    var_biased = torch.var(torch.tensor(x), dim=0, correction=0)
    var_unbiased = torch.var(torch.tensor(x), dim=0, correction=1)
    course_running_var = trv + (1 - momentum) * (var_biased - var_unbiased)
    close(bn_param['running_var'], course_running_var, dtype)


@pytest.mark.parametrize('dtype', DTYPES)
def test_batchnorm_test_mode_matches_torch_eval(dtype):
    x, gamma, beta, rm = arrays(dtype, (6, 4), (4,), (4,), (4,))
    rv = np.abs(rm) + dtype(0.3)
    out, _ = batchnorm_forward(x, gamma, beta,
                               {'mode': 'test', 'running_mean': rm, 'running_var': rv})
    tout = F.batch_norm(torch.tensor(x), torch.tensor(rm), torch.tensor(rv),
                        torch.tensor(gamma), torch.tensor(beta), training=False, eps=1e-5)
    close(out, tout, dtype)


def scores_and_labels(dtype, n=7, c=5):
    (x,) = arrays(dtype, (n, c), seed=2)
    return 2 * x, np.random.default_rng(3).integers(c, size=n)


@pytest.mark.parametrize('dtype', DTYPES)
def test_softmax_loss_matches_cross_entropy(dtype):
    x, y = scores_and_labels(dtype)
    loss, dx = softmax_loss(x, y)
    tx = leaf(x)
    tloss = F.cross_entropy(tx, torch.tensor(y))
    tloss.backward()
    close(loss, tloss, dtype)
    close(dx, tx.grad, dtype)


@pytest.mark.parametrize('dtype', DTYPES)
def test_svm_loss_matches_multi_margin_loss_times_c(dtype):
    x, y = scores_and_labels(dtype)
    c = x.shape[1]
    loss, dx = svm_loss(x, y)
    tx = leaf(x)
    tloss = c * F.multi_margin_loss(tx, torch.tensor(y), p=1, margin=1.0)
    tloss.backward()
    close(loss, tloss, dtype)
    close(dx, tx.grad, dtype)


@pytest.mark.parametrize('p', [0.2, 0.7])
def test_dropout_scales_kept_units_like_torch(p):
    """Masks differ by construction; the kept value 1/(1-p) (p = drop probability) must not."""
    x = np.ones((200, 50))
    out, _ = dropout_forward(x, {'mode': 'train', 'p': p, 'seed': 0})
    tout = F.dropout(torch.tensor(x), p=p, training=True).numpy()
    np.testing.assert_allclose(np.unique(out[out != 0]), np.unique(tout[tout != 0]), rtol=1e-15)


@pytest.mark.parametrize('dtype', DTYPES)
def test_batchnorm_net_matches_torch(dtype):
    """Loss and gradients of a 3-layer batchnorm net with L2; the biases just before a
    batchnorm have a true gradient of 0 (both sides give rounding noise): an absolute bound."""
    np.random.seed(4)
    reg, hidden = 0.3, [6, 5]
    model = FullyConnectedNet(hidden, input_dim=8, num_classes=4, use_batchnorm=True, reg=reg,
                              weight_scale=0.3, dtype=dtype)
    model.params = {k: v + dtype(0.1) for k, v in model.params.items()}
    X, y = np.random.randn(9, 2, 2, 2), np.random.randint(4, size=9)

    loss, grads = model.loss(X, y)

    tp = {k: leaf(v) for k, v in model.params.items()}
    h = torch.tensor(X.astype(dtype)).reshape(9, -1)
    for i in range(1, len(hidden) + 1):
        a = F.linear(h, tp[f'W{i}'].T, tp[f'b{i}'])
        h = F.relu(F.batch_norm(a, None, None, tp[f'gamma{i}'], tp[f'beta{i}'], training=True))
    scores = F.linear(h, tp['W3'].T, tp['b3'])
    penalty = 0.5 * reg * sum((tp[f'W{i}'] ** 2).sum() for i in (1, 2, 3))
    tloss = F.cross_entropy(scores, torch.tensor(y)) + penalty
    tloss.backward()

    close(loss, tloss, dtype)
    biases_before_batchnorm = ['b1', 'b2']
    for k, t in tp.items():
        if k in biases_before_batchnorm:
            assert np.max(np.abs(grads[k])) < 100 * np.finfo(dtype).eps
        else:
            close(grads[k], t.grad, dtype, rtol_scale=50)
