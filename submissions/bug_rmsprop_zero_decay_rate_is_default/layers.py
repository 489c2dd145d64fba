import numpy as np

"""
Layer forward/backward passes, with the index bookkeeping done by einsum.
"""


def affine_forward(x, w, b):
    """
    Affine layer forward: out = x_flat w + b, where x (N, d_1..d_k) is
    flattened to (N, D). Returns (out, cache).
    """
    x_flat = x.reshape(x.shape[0], -1)
    out = np.einsum('nd,dm->nm', x_flat, w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """
    Affine layer backward. Returns dx (like x), dw (D, M), db (M,).
    """
    x, w, b = cache
    x_flat = x.reshape(x.shape[0], -1)
    dx = np.einsum('nm,dm->nd', dout, w).reshape(x.shape)
    dw = np.einsum('nd,nm->dm', x_flat, dout)
    db = np.einsum('nm->m', dout)
    return dx, dw, db


def relu_forward(x):
    """ReLU forward, elementwise max(0, x). Cache: x."""
    out = np.where(x > 0, x, np.zeros_like(x))
    return out, x


def relu_backward(dout, cache):
    """ReLU backward: pass dout where the input was positive, 0 elsewhere."""
    x = cache
    dx = np.where(x > 0, dout, np.zeros_like(dout))
    return dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    Batchnorm forward.

    bn_param: 'mode' ('train' | 'test'), 'eps' (1e-5), 'momentum' (0.9),
    'running_mean' and 'running_var' (zeros of shape (D,) at first).
    Train mode uses the batch mean and biased batch variance and updates the
    running averages in bn_param; test mode uses the running averages.
    """
    mode = bn_param['mode']
    eps = bn_param.get('eps', 1e-5)
    momentum = bn_param.get('momentum', 0.9)

    N, D = x.shape
    running_mean = bn_param.get('running_mean', np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get('running_var', np.zeros(D, dtype=x.dtype))

    if mode == 'train':
        mean = np.einsum('nd->d', x) / N
        centred = x - mean
        var = np.einsum('nd,nd->d', centred, centred) / N
        std = np.sqrt(var + eps)
        xhat = centred / std
        out = gamma * xhat + beta
        cache = (x, mean, var, eps, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == 'test':
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        cache = (x, running_mean, running_var, eps, gamma)
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param['running_mean'] = running_mean
    bn_param['running_var'] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """
    Batchnorm backward, through the variance and the mean in turn.
    Returns dx, dgamma, dbeta.
    """
    x, mean, var, eps, gamma = cache
    N = x.shape[0]
    centred = x - mean
    std = np.sqrt(var + eps)
    xhat = centred / std

    dbeta = np.einsum('nd->d', dout)
    dgamma = np.einsum('nd,nd->d', dout, xhat)
    dxhat = dout * gamma

    dvar = np.einsum('nd,nd->d', dxhat, centred) * -0.5 * std ** -3
    dmean = -np.einsum('nd->d', dxhat) / std + dvar * np.einsum('nd->d', -2.0 * centred) / N
    dx = dxhat / std + dvar * 2.0 * centred / N + dmean / N
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """
    Inverted dropout forward.

    dropout_param: 'p' = probability that a unit is dropped, 'mode',
    optional 'seed'. Survivors are divided by (1 - p) during training; test
    mode returns the input as it is.
    """
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        np.random.seed(dropout_param['seed'])

    mask = None
    out = None
    if mode == 'train':
        mask = (np.random.random_sample(x.shape) > p) / (1.0 - p)
        out = x * mask
    elif mode == 'test':
        out = x

    cache = (dropout_param, mask)
    return out, cache


def dropout_backward(dout, cache):
    """Inverted dropout backward."""
    dropout_param, mask = cache
    mode = dropout_param['mode']
    if mode == 'train':
        dx = dout * mask
    elif mode == 'test':
        dx = dout
    return dx


def svm_loss(x, y):
    """
    Hinge loss for multiclass SVM, averaged over N.
    x: (N, C) scores, y: (N,) labels in [0, C). Returns (loss, dx).
    """
    N = x.shape[0]
    onehot = np.zeros_like(x)
    onehot[np.arange(N), y] = 1
    correct = np.einsum('nc,nc->n', x, onehot)
    margins = np.maximum(0.0, x - correct[:, None] + 1.0) * (1 - onehot)
    loss = margins.sum() / N

    positive = (margins > 0).astype(x.dtype)
    dx = (positive - onehot * positive.sum(axis=1, keepdims=True)) / N
    return loss, dx


def softmax_loss(x, y):
    """
    Softmax cross-entropy loss averaged over N.
    x: (N, C) scores, y: (N,) labels. Returns (loss, dx).
    """
    N = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1)
    probs = e / total[:, None]
    loss = np.mean(np.log(total) - shifted[np.arange(N), y])
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx
