import numpy as np

"""
Layers, written to keep the dtype of their inputs (the network runs in
float32): scalars are cast to the array dtype before use.
"""


def affine_forward(x, w, b):
    """
    Affine forward.
    x: (N, d_1, ..., d_k) flattened to (N, D); w: (D, M); b: (M,).
    Returns out (N, M) and cache (x, w, b).
    """
    N = x.shape[0]
    D = np.prod(x.shape[1:], dtype=int)
    out = np.dot(x.reshape(N, D), w) + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    """
    Affine backward. Returns dx (shape of x), dw (D, M), db (M,).
    """
    x, w, b = cache
    N = x.shape[0]
    D = np.prod(x.shape[1:], dtype=int)
    dx = np.dot(dout, w.T).reshape(x.shape)
    dw = np.dot(x.reshape(N, D).T, dout)
    db = np.sum(dout, axis=0, dtype=dout.dtype)
    return dx, dw, db


def relu_forward(x):
    """ReLU forward: max(0, x) without changing the dtype. Cache: x."""
    out = np.maximum(x, x.dtype.type(0))
    return out, x


def relu_backward(dout, cache):
    """ReLU backward: dout where x > 0, 0 elsewhere."""
    x = cache
    dx = dout * (x > 0).astype(dout.dtype)
    return dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    Batch normalisation forward.

    bn_param: mode ('train' or 'test'), eps (1e-5), momentum (0.9),
    running_mean, running_var (zeros of shape (D,), dtype of x).

    train: batch mean and biased batch variance, running averages updated
           and stored back in bn_param;
    test:  running averages used for the normalisation.
    """
    mode = bn_param['mode']
    eps = x.dtype.type(bn_param.get('eps', 1e-5))
    momentum = x.dtype.type(bn_param.get('momentum', 0.9))
    one = x.dtype.type(1)
    N, D = x.shape
    running_mean = bn_param.get('running_mean', np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get('running_var', np.zeros(D, dtype=x.dtype))

    if mode == 'train':
        mean = np.mean(x, axis=0)
        var = np.var(x, axis=0)
        inv_std = one / np.sqrt(var + eps)
        xhat = (x - mean) * inv_std
        out = gamma * xhat + beta
        cache = (xhat, gamma, inv_std)
        bn_param['running_mean'] = (momentum * running_mean + (one - momentum) * mean).astype(x.dtype)
        bn_param['running_var'] = (momentum * running_var + (one - momentum) * var).astype(x.dtype)
    elif mode == 'test':
        xhat = (x - running_mean) / np.sqrt(running_var + eps)
        out = gamma * xhat + beta
        cache = (xhat, gamma, one / np.sqrt(running_var + eps))
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)
    return out, cache


def batchnorm_backward(dout, cache):
    """
    Batch normalisation backward, via the gradient on x_hat:
    dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / std.
    """
    xhat, gamma, inv_std = cache
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    dx = inv_std * (dxhat - np.mean(dxhat, axis=0) - xhat * np.mean(dxhat * xhat, axis=0))
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """
    Inverted dropout forward.

    dropout_param: 'p' (probability of dropping), 'mode' ('train'/'test'),
    optional 'seed'. The mask already carries the 1/(1-p) factor and has the
    dtype of x.
    """
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        np.random.seed(dropout_param['seed'])

    mask = None
    out = None
    if mode == 'train':
        keep = 1.0 - p
        mask = (np.random.rand(*x.shape) < keep).astype(x.dtype) / x.dtype.type(keep)
        out = x * mask
    elif mode == 'test':
        out = x
    return out, (dropout_param, mask)


def dropout_backward(dout, cache):
    """Inverted dropout backward."""
    dropout_param, mask = cache
    mode = dropout_param['mode']
    dx = None
    if mode == 'train':
        dx = dout * mask
    elif mode == 'test':
        dx = dout
    return dx


def svm_loss(x, y):
    """
    Multiclass hinge loss, margin 1, mean over N.
    Returns (loss, dx); dx has the dtype of x.
    """
    N = x.shape[0]
    rows = np.arange(N)
    one = x.dtype.type(1)
    margins = x - x[rows, y][:, np.newaxis] + one
    wrong_class = np.ones(x.shape, dtype=bool)
    wrong_class[rows, y] = False
    violating = np.greater(margins, 0) & wrong_class

    loss = np.sum(margins[violating]) / N
    dx = violating.astype(x.dtype)
    dx[rows, y] -= np.sum(violating, axis=1).astype(x.dtype)
    dx /= x.dtype.type(N)
    return loss, dx


def softmax_loss(x, y):
    """
    Softmax cross-entropy, mean over N. Returns (loss, dx) in x's dtype.
    """
    N = x.shape[0]
    rows = np.arange(N)
    shift = x - np.max(x, axis=1, keepdims=True)
    exp = np.exp(shift)
    sums = np.sum(exp, axis=1, keepdims=True)
    loss = np.sum(np.log(sums[:, 0]) - shift[rows, y]) / N
    dx = exp / sums
    dx[rows, y] -= x.dtype.type(1)
    dx /= x.dtype.type(N)
    return loss, dx
