import numpy as np

"""
Forward and backward passes for the layers of the fully connected net.
"""


def affine_forward(x, w, b):
    """
    Affine forward. x: (N, d_1, ..., d_k); w: (D, M); b: (M,).
    Every example of x is laid out as one row of length D = w.shape[0].
    Returns (out, cache) with out of shape (N, M).
    """
    x_rows = x.reshape(-1, w.shape[0])
    out = x_rows @ w + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """
    Affine backward. Returns (dx, dw, db), dx shaped like x.
    """
    x, w, b = cache
    x_rows = x.reshape(-1, w.shape[0])
    dx = (dout @ w.T).reshape(x.shape)
    dw = x_rows.T @ dout
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    """ReLU forward. Returns (max(x, 0), x)."""
    out = np.maximum(x, 0)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """
    ReLU backward. The gradient is blocked where x is negative; at x == 0 it
    passes (subgradient 1).
    """
    x = cache
    dx = dout.copy()
    dx[x < 0] = 0
    return dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    Batchnorm forward pass.

    bn_param: mode ('train'/'test'), eps (1e-5), momentum (0.9),
    running_mean, running_var (shape (D,), zeros when absent).
    """
    mode = bn_param['mode']
    eps = bn_param.get('eps', 1e-5)
    momentum = bn_param.get('momentum', 0.9)

    N, D = x.shape
    running_mean = bn_param.get('running_mean', np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get('running_var', np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == 'train':
        sample_mean = np.mean(x, axis=0)
        x_mu = x - sample_mean
        sample_var = np.mean(x_mu * x_mu, axis=0)
        inv_var = 1.0 / (sample_var + eps)
        x_hat = x_mu * np.sqrt(inv_var)
        out = gamma * x_hat + beta
        cache = (x_mu, inv_var, x_hat, gamma)

        running_mean = momentum * running_mean + (1 - momentum) * sample_mean
        running_var = momentum * running_var + (1 - momentum) * sample_var
        bn_param['running_mean'] = running_mean
        bn_param['running_var'] = running_var
    elif mode == 'test':
        out = gamma * ((x - running_mean) / np.sqrt(running_var + eps)) + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)
    return out, cache


def batchnorm_backward(dout, cache):
    """
    Batchnorm backward pass. Returns (dx, dgamma, dbeta).
    """
    x_mu, inv_var, x_hat, gamma = cache
    N = dout.shape[0]

    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)

    dx_hat = dout * gamma
    dvar = np.sum(dx_hat * x_mu, axis=0) * -0.5 * inv_var ** 1.5
    dmu = -np.sum(dx_hat, axis=0) * np.sqrt(inv_var) - 2.0 * dvar * np.mean(x_mu, axis=0)
    dx = dx_hat * np.sqrt(inv_var) + dvar * 2.0 * x_mu / N + dmu / N
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """
    Inverted dropout forward.

    dropout_param: p, the probability of DROPPING a unit (this course's
    convention); mode, 'train' or 'test'; seed, optional.
    """
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        np.random.seed(dropout_param['seed'])

    mask = None
    out = None
    if mode == 'train':
        mask = np.random.rand(*x.shape) > p
        mask = mask / (1 - p)
        out = x * mask
    elif mode == 'test':
        out = x

    cache = (dropout_param, mask)
    return out, cache


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
    Multiclass SVM loss (margin 1) averaged over the batch.
    x: (N, C); y: (N,). Returns (loss, dx).
    """
    num_train = x.shape[0]
    correct_scores = np.take_along_axis(x, y[:, np.newaxis], axis=1)[:, 0]
    margins = np.maximum(0, x - correct_scores[:, np.newaxis] + 1)
    margins[np.arange(num_train), y] = 0
    loss = np.sum(margins) / num_train

    counts = (margins > 0).astype(float)
    counts[np.arange(num_train), y] = -np.sum(counts, axis=1)
    dx = counts / num_train
    return loss, dx


def softmax_loss(x, y):
    """
    Softmax loss averaged over the batch. Returns (loss, dx).
    """
    num_train = x.shape[0]
    logits = x - np.amax(x, axis=1, keepdims=True)
    log_den = np.log(np.sum(np.exp(logits), axis=1))
    loss = np.mean(log_den - logits[np.arange(num_train), y])
    probs = np.exp(logits - log_den[:, np.newaxis])
    probs[np.arange(num_train), y] -= 1
    dx = probs / num_train
    return loss, dx
