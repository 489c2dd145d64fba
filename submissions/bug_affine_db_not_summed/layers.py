import numpy as np

"""
Layers of the fully connected net. ReLU keeps its OUTPUT in the cache (the
output is positive exactly where the input was).
"""


def affine_forward(x, w, b):
    """
    Affine forward: rows of x (N, d_1, ..., d_k) flattened to length D, times
    w (D, M), plus b (M,). Returns (out, cache).
    """
    out = np.dot(x.reshape(len(x), -1), w) + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    """
    Affine backward: returns (dx, dw, db), dx in the shape of x.
    """
    x, w, b = cache
    dx = np.dot(dout, w.T).reshape(*x.shape)
    dw = np.dot(x.reshape(len(x), -1).T, dout)
    db = dout
    return dx, dw, db


def relu_forward(x):
    """ReLU forward; the cache is the output."""
    out = np.maximum(x, 0)
    return out, out


def relu_backward(dout, cache):
    """ReLU backward from the cached output."""
    out = cache
    return dout * (out > 0)


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    Batchnorm forward.

    bn_param: mode ('train' | 'test'), eps (1e-5), momentum (0.9),
    running_mean / running_var (zeros of length D at the start).
    Test mode folds the running statistics, gamma and beta into one scale
    and one shift.
    """
    mode = bn_param['mode']
    eps = bn_param.get('eps', 1e-5)
    momentum = bn_param.get('momentum', 0.9)
    N, D = x.shape
    running_mean = bn_param.get('running_mean', np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get('running_var', np.zeros(D, dtype=x.dtype))

    if mode == 'train':
        mean = x.sum(axis=0) / N
        xc = x - mean
        var = (xc * xc).sum(axis=0) / N
        inv_std = 1.0 / np.sqrt(var + eps)
        xhat = xc * inv_std
        out = xhat * gamma + beta
        cache = (xhat, inv_std, gamma)
        bn_param['running_mean'] = momentum * running_mean + (1 - momentum) * mean
        bn_param['running_var'] = momentum * running_var + (1 - momentum) * var
    elif mode == 'test':
        scale = gamma / np.sqrt(running_var + eps)
        shift = beta - running_mean * scale
        out = x * scale + shift
        cache = None
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)
    return out, cache


def batchnorm_backward(dout, cache):
    """
    Batchnorm backward: dx from dxhat and its column sums.
    """
    xhat, inv_std, gamma = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (xhat * dout).sum(axis=0)
    dxhat = gamma * dout
    dx = inv_std / N * (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """
    Inverted dropout forward; dropout_param['p'] is the chance of dropping a
    unit, 'mode' is 'train' or 'test', 'seed' (optional) seeds numpy.
    """
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        np.random.seed(dropout_param['seed'])

    if mode == 'train':
        mask = (np.random.random(x.shape) < 1 - p) * (1.0 / (1 - p))
        out = mask * x
    else:
        mask = None
        out = x
    return out, (dropout_param, mask)


def dropout_backward(dout, cache):
    """Inverted dropout backward."""
    dropout_param, mask = cache
    if dropout_param['mode'] == 'train':
        return mask * dout
    return dout


def svm_loss(x, y):
    """
    Multiclass SVM loss, averaged over N. The hinge is taken over all classes
    at once; the correct class always contributes exactly 1 (its margin with
    itself), which is subtracted again.
    """
    N = x.shape[0]
    rows = np.arange(N)
    margins = x - x[rows, y][:, None] + 1.0
    positive = margins > 0
    loss = (np.sum(margins[positive]) - N) / N

    dx = positive.astype(x.dtype)
    dx[rows, y] -= positive.sum(axis=1)
    return loss, dx / N


def softmax_loss(x, y):
    """
    Softmax loss averaged over N, with the log-partition from logaddexp.
    """
    N = x.shape[0]
    log_z = np.logaddexp.reduce(x, axis=1, keepdims=True)
    log_p = x - log_z
    loss = -np.sum(log_p[np.arange(N), y]) / N
    dx = np.exp(log_p)
    dx[np.arange(N), y] -= 1
    return loss, dx / N
