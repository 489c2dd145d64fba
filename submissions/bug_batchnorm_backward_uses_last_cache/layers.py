import numpy as np

"""
Forward and backward passes of the layers. Forward functions return
(out, cache); backward functions take (dout, cache).
"""


def affine_forward(x, w, b):
    """
    Affine (fully connected) forward pass.

    x: (N, d_1, ..., d_k), read as N rows of D = prod(d_i) numbers.
    w: (D, M); b: (M,).
    Returns out (N, M) and cache (x, w, b).
    """
    N = x.shape[0]
    D = int(np.prod(x.shape[1:]))
    out = np.reshape(x, (N, D)) @ w + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    """
    Affine backward pass: dx (shape of x), dw (D, M), db (M,).
    """
    x, w, b = cache
    N = x.shape[0]
    D = int(np.prod(x.shape[1:]))
    dx = np.reshape(dout @ w.T, x.shape)
    dw = np.reshape(x, (N, D)).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    """ReLU forward: out = max(x, 0). The cache is x."""
    out = np.where(x > 0, x, 0.0)
    return out, x


def relu_backward(dout, cache):
    """
    ReLU backward. At exactly x = 0 I take the subgradient 1 (any value in
    [0, 1] is valid there).
    """
    x = cache
    return dout * (x >= 0)


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    Batch normalisation forward pass.

    Train mode: normalise each column of x with the batch mean and variance,
    scale by gamma, shift by beta, and move the running averages towards the
    batch statistics with the given momentum. Test mode: normalise with the
    running averages.

    bn_param: mode ('train'/'test'), eps, momentum, running_mean, running_var.
    """
    mode = bn_param['mode']
    eps = bn_param.get('eps', 1e-5)
    momentum = bn_param.get('momentum', 0.9)
    D = x.shape[1]
    running_mean = bn_param.get('running_mean', np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get('running_var', np.zeros(D, dtype=x.dtype))

    if mode == 'train':
        mean = x.mean(axis=0)
        var = x.var(axis=0)
        inv_std = 1.0 / np.sqrt(var + eps)
        x_norm = (x - mean) * inv_std
        out = gamma * x_norm + beta
        cache = (x_norm, gamma, inv_std)
        global _last_cache
        _last_cache = cache
        bn_param['running_mean'] = momentum * running_mean + (1 - momentum) * mean
        bn_param['running_var'] = momentum * running_var + (1 - momentum) * var
    elif mode == 'test':
        x_norm = (x - running_mean) / np.sqrt(running_var + eps)
        out = gamma * x_norm + beta
        cache = None
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)
    return out, cache


def batchnorm_backward(dout, cache):
    """
    Batch normalisation backward pass, simplified on paper to one expression
    for dx.
    """
    x_norm, gamma, inv_std = _last_cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_norm).sum(axis=0)
    dx = (gamma * inv_std / N) * (N * dout - dbeta - x_norm * dgamma)
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """
    Inverted dropout forward.

    dropout_param['p'] is the probability of DROPPING a unit; 'mode' is
    'train' or 'test'; an optional 'seed' makes the mask reproducible.
    Train: zero each unit with probability p and scale survivors by 1/(1-p).
    Test: identity.
    """
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        np.random.seed(dropout_param['seed'])

    mask = None
    if mode == 'train':
        mask = np.random.binomial(1, 1 - p, size=x.shape) / (1 - p)
        out = x * mask
    elif mode == 'test':
        out = x.copy()
    return out, (dropout_param, mask)


def dropout_backward(dout, cache):
    """Inverted dropout backward."""
    dropout_param, mask = cache
    if dropout_param['mode'] == 'train':
        return dout * mask
    return dout


def svm_loss(x, y):
    """
    Multiclass hinge loss with margin 1, averaged over the N rows.
    x: (N, C) scores; y: (N,) labels. Returns (loss, dx).
    """
    N = x.shape[0]
    rows = np.arange(N)
    margins = x - x[rows, y].reshape(N, 1) + 1.0
    is_true = np.zeros(x.shape, dtype=bool)
    is_true[rows, y] = True
    active = (margins > 0) & ~is_true

    loss = np.sum(margins * active) / N
    dx = active.astype(x.dtype)
    dx[rows, y] = -active.sum(axis=1)
    dx = dx / N
    return loss, dx


def softmax_loss(x, y):
    """
    Cross-entropy of the softmax, averaged over the N rows.
    x: (N, C) scores; y: (N,) labels. Returns (loss, dx).
    """
    N = x.shape[0]
    top = x.max(axis=1, keepdims=True)
    log_norm = top + np.log(np.exp(x - top).sum(axis=1, keepdims=True))
    log_p = x - log_norm
    loss = -log_p[np.arange(N), y].mean()
    dx = np.exp(log_p)
    dx[np.arange(N), y] -= 1.0
    dx /= N
    return loss, dx
