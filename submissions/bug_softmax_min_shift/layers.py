import numpy as np

"""
Layers. Forward: (out, cache). Backward: gradients from (dout, cache).
The affine layer contracts over all trailing axes with tensordot instead of
flattening x.
"""


def affine_forward(x, w, b):
    """
    Affine forward.

    x: (N, d_1, ..., d_k); w: (D, M) with D = d_1 * ... * d_k; b: (M,).
    out: (N, M).
    """
    w_blocks = w.reshape(x.shape[1:] + (w.shape[1],))
    out = np.tensordot(x, w_blocks, axes=x.ndim - 1) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """
    Affine backward: dx (N, d_1, ..., d_k), dw (D, M), db (M,).
    """
    x, w, b = cache
    w_blocks = w.reshape(x.shape[1:] + (w.shape[1],))
    dx = np.tensordot(dout, w_blocks, axes=([1], [x.ndim - 1]))
    dw = np.tensordot(x, dout, axes=([0], [0])).reshape(w.shape)
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    """ReLU forward. Returns (max(0, x), x)."""
    out = np.clip(x, 0, None)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """ReLU backward: zero the gradient wherever x <= 0."""
    x = cache
    dx = dout.copy()
    dx[x <= 0] = 0
    return dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    Batchnorm forward.

    Training: x_hat = (x - batch mean) / sqrt(batch var + eps),
    out = gamma * x_hat + beta; running averages move by the momentum.
    Testing: the running averages replace the batch statistics.

    bn_param keys: mode, eps, momentum, running_mean, running_var.
    """
    mode = bn_param['mode']
    if mode not in ('train', 'test'):
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)
    eps = bn_param.get('eps', 1e-5)
    momentum = bn_param.get('momentum', 0.9)
    D = x.shape[1]
    running_mean = bn_param.get('running_mean', np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get('running_var', np.zeros(D, dtype=x.dtype))

    cache = None
    if mode == 'train':
        mu = x.mean(axis=0)
        var = ((x - mu) ** 2).mean(axis=0)
        std = np.sqrt(var + eps)
        x_hat = (x - mu) / std
        out = gamma * x_hat + beta
        cache = (x_hat, gamma, std)
        running_mean = momentum * running_mean + (1.0 - momentum) * mu
        running_var = momentum * running_var + (1.0 - momentum) * var
        bn_param['running_mean'] = running_mean
        bn_param['running_var'] = running_var
    else:
        x_hat = (x - running_mean) / np.sqrt(running_var + eps)
        out = gamma * x_hat + beta
    return out, cache


def batchnorm_backward(dout, cache):
    """
    Batchnorm backward, in the centred form:
    dx = gamma / std * (dout - mean(dout) - x_hat * mean(dout * x_hat)).
    """
    x_hat, gamma, std = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx = gamma / std * (dout - dout.mean(axis=0) - x_hat * (dout * x_hat).mean(axis=0))
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """
    Inverted dropout forward.

    dropout_param: p (probability of dropping a unit), mode, seed (optional).
    The cache keeps the boolean mask of kept units; the 1/(1-p) scaling is
    applied in both passes.
    """
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        np.random.seed(dropout_param['seed'])

    keep = None
    if mode == 'train':
        keep = np.random.uniform(size=x.shape) < 1 - p
        out = x * keep / (1 - p)
    elif mode == 'test':
        out = x
    return out, (dropout_param, keep)


def dropout_backward(dout, cache):
    """Inverted dropout backward."""
    dropout_param, keep = cache
    if dropout_param['mode'] == 'train':
        return dout * keep / (1 - dropout_param['p'])
    return dout


def svm_loss(x, y):
    """
    Multiclass SVM loss (margin 1), averaged over the N examples.
    Returns (loss, dx).
    """
    N, C = x.shape
    rows = np.arange(N)
    margins = x - x[rows, y][:, None] + 1
    margins[rows, y] = 0
    margins[margins < 0] = 0
    loss = margins.sum() / N

    dx = (margins > 0).astype(x.dtype)
    dx[rows, y] = -np.count_nonzero(margins, axis=1)
    return loss, dx / N


def softmax_loss(x, y):
    """
    Softmax loss averaged over the N examples. Returns (loss, dx).
    """
    N = x.shape[0]
    z = x - np.min(x, axis=1)[:, None]
    log_sum = np.log(np.sum(np.exp(z), axis=1))
    loss = np.sum(log_sum - z[np.arange(N), y]) / N
    dx = np.exp(z - log_sum[:, None])
    dx[np.arange(N), y] -= 1
    return loss, dx / N
