import numpy as np

"""
Layers, each a forward/backward pair. Shared steps live in small helpers.
"""


def flatten_rows(x):
    """(N, d_1, ..., d_k) -> (N, D)."""
    return x.reshape(len(x), -1)


def affine_forward(x, w, b):
    """
    out = flatten_rows(x) w + b, shape (N, M). cache = (x, w, b).
    """
    out = np.matmul(flatten_rows(x), w) + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    """
    Gradients of the affine layer: dx (shape of x), dw (D, M), db (M,).
    """
    x, w, _ = cache
    dx = np.matmul(dout, w.T).reshape(x.shape)
    dw = np.matmul(flatten_rows(x).T, dout)
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    """ReLU: (fmax(x, 0), x)."""
    return np.fmax(x, 0), x


def relu_backward(dout, cache):
    """ReLU gradient: dout where the input was positive."""
    return np.where(cache > 0, dout, 0)


def normalise(x, mean, var, eps):
    """Standardise the columns of x."""
    return (x - mean) / np.sqrt(var + eps)


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    Batchnorm forward.

    bn_param: mode ('train' or 'test'), eps (1e-5), momentum (0.9),
    running_mean and running_var (zeros of length D if missing).
    Train mode writes the updated running averages back into bn_param.
    """
    mode = bn_param['mode']
    eps = bn_param.get('eps', 1e-5)
    momentum = bn_param.get('momentum', 0.9)
    D = x.shape[1]
    running_mean = bn_param.get('running_mean', np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get('running_var', np.zeros(D, dtype=x.dtype))

    if mode == 'train':
        mean, var = x.mean(axis=0), x.var(axis=0)
        xhat = normalise(x, mean, var, eps)
        bn_param['running_mean'] = momentum * running_mean + (1 - momentum) * mean
        bn_param['running_var'] = momentum * running_var + (1 - momentum) * var
        cache = (xhat, gamma, np.sqrt(var + eps))
    elif mode == 'test':
        xhat = normalise(x, running_mean, running_var, eps)
        cache = (xhat, gamma, np.sqrt(running_var + eps))
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)
    return gamma * xhat + beta, cache


def batchnorm_backward(dout, cache):
    """
    Batchnorm backward (train mode). Returns dx, dgamma, dbeta.
    """
    xhat, gamma, std = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    centred = dxhat - dxhat.mean(axis=0)
    dx = (centred - xhat * (dxhat * xhat).mean(axis=0)) / std
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """
    Inverted dropout forward. p = probability of dropping a unit;
    mode = 'train' | 'test'; seed (optional) reseeds numpy every call.
    """
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        np.random.seed(dropout_param['seed'])

    mask = None
    if mode == 'train':
        keep = 1 - p
        mask = (np.random.rand(*x.shape) < keep) / keep
        out = x * mask
    elif mode == 'test':
        out = x
    return out, (dropout_param, mask)


def dropout_backward(dout, cache):
    """Inverted dropout backward."""
    dropout_param, mask = cache
    return dout * mask if dropout_param['mode'] == 'train' else dout


def svm_loss(x, y):
    """
    Multiclass SVM loss averaged over N; returns (loss, dx).
    """
    N = len(x)
    pick = (np.arange(N), y)
    margins = np.maximum(x - x[pick][:, None] + 1, 0)
    margins[pick] = 0
    active = margins > 0
    dx = active * 1.0
    dx[pick] = -active.sum(axis=1)
    return margins.sum() / N, dx / N


def softmax_loss(x, y):
    """
    Softmax cross-entropy averaged over N; returns (loss, dx).
    """
    N = len(x)
    pick = (np.arange(N), y)
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    dx = np.exp(log_probs)
    dx[pick] -= 1
    return -log_probs[pick].mean(), dx / N
