"""Layers of the course package: forward and backward passes, written to be read.

Every forward returns (out, cache); its backward takes (dout, cache). Arrays keep the
dtype of their inputs (float32 in, float32 out).
"""

import numpy as np


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """out = x.reshape(N, D) @ w + b.

    x: (N, d1, ..., dk) with D = d1*...*dk; w: (D, M); b: (M,) -> out: (N, M).
    """
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w)


def affine_backward(
    dout: np.ndarray, cache: tuple, input_grad: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """dx = dout @ w.T (reshaped like x), dw = x.T @ dout, db = sum_n dout.

    dout: (N, M) -> dx: (N, d1, ..., dk), dw: (D, M), db: (M,).
    input_grad=False skips dx and returns None for it (a first layer never needs it).
    """
    x, w = cache
    dx = (dout @ w.T).reshape(x.shape) if input_grad else None
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """out = max(0, x), any shape."""
    return np.maximum(x, 0), x


def relu_backward(dout: np.ndarray, cache: np.ndarray) -> np.ndarray:
    """dx = dout * [x > 0] (subgradient 0 at x == 0)."""
    x = cache
    return dout * (x > 0)


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict
) -> tuple[np.ndarray, tuple | None]:
    """out = gamma * (x - mean) / sqrt(var + eps) + beta, per feature.

    x: (N, D); gamma, beta: (D,) -> out: (N, D).
    bn_param: 'mode' ('train' | 'test', required), 'eps' (1e-5), 'momentum' (0.9),
    'running_mean', 'running_var' (zeros(D) in x's dtype).
    train: batch mean and biased variance (ddof=0); then
        running = momentum * running + (1 - momentum) * batch_stat, written into bn_param.
    test: the running statistics instead of the batch ones; the cache is None.
    """
    mode = bn_param['mode']
    eps = bn_param.get('eps', 1e-5)
    momentum = bn_param.get('momentum', 0.9)
    D = x.shape[1]
    running_mean = bn_param.get('running_mean', np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get('running_var', np.zeros(D, dtype=x.dtype))

    if mode == 'train':
        mean = x.mean(axis=0)
        xc = x - mean
        var = (xc * xc).mean(axis=0)
        std = np.sqrt(var + eps)
        xhat = xc / std
        out = gamma * xhat + beta
        cache = (xhat, std, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == 'test':
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        cache = None
    else:
        raise ValueError(f'Invalid batchnorm mode "{mode}"')

    bn_param['running_mean'] = running_mean
    bn_param['running_var'] = running_var
    return out, cache


def batchnorm_backward(
    dout: np.ndarray, cache: tuple
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of train-mode batchnorm, with dxhat = dout * gamma:

    dx = (dxhat - mean_n(dxhat) - xhat * mean_n(dxhat * xhat)) / std
    dgamma = sum_n dout * xhat, dbeta = sum_n dout.  dout: (N, D).
    """
    xhat, std, gamma = cache
    dxhat = dout * gamma
    dx = (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0)) / std
    dgamma = (dout * xhat).sum(axis=0)
    dbeta = dout.sum(axis=0)
    return dx, dgamma, dbeta


def dropout_forward(x: np.ndarray, dropout_param: dict) -> tuple[np.ndarray, tuple]:
    """Inverted dropout; p is the probability of DROPPING a unit (Winter 2021 profile).

    train: mask = [U(0, 1) >= p] / (1 - p), out = x * mask; test: out = x.
    dropout_param: 'p' in [0, 1), 'mode' ('train' | 'test'), optional 'seed'
    (np.random.seed(seed) at every call, so the mask repeats).
    """
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        np.random.seed(dropout_param['seed'])

    if mode == 'train':
        mask = ((np.random.rand(*x.shape) >= p) / (1 - p)).astype(x.dtype)
        out = x * mask
    elif mode == 'test':
        mask = None
        out = x
    else:
        raise ValueError(f'Invalid dropout mode "{mode}"')
    return out, (dropout_param, mask)


def dropout_backward(dout: np.ndarray, cache: tuple) -> np.ndarray:
    """dx = dout * mask in train mode, dout in test mode."""
    dropout_param, mask = cache
    if dropout_param['mode'] == 'train':
        return dout * mask
    return dout


def svm_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Multiclass hinge loss, averaged over N.

    x: (N, C) scores; y: (N,) labels in [0, C).
    loss = 1/N sum_n sum_{j != y_n} max(0, x_nj - x_n,y_n + 1)
    """
    N = x.shape[0]
    rows = np.arange(N)
    margins = np.maximum(0, x - x[rows, y][:, None] + 1)
    margins[rows, y] = 0
    loss = margins.sum() / N

    dx = (margins > 0).astype(x.dtype)
    dx[rows, y] = -dx.sum(axis=1)
    return float(loss), dx / N


def softmax_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Cross-entropy of softmax(x), averaged over N; scores shifted by their row max.

    x: (N, C) scores; y: (N,) labels in [0, C).
    loss = -1/N sum_n log softmax(x_n)[y_n];  dx = (softmax(x) - onehot(y)) / N.
    """
    N = x.shape[0]
    rows = np.arange(N)
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[rows, y].sum() / N

    dx = np.exp(log_probs)
    dx[rows, y] -= 1
    return float(loss), dx / N
