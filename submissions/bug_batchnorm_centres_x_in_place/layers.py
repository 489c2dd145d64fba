import numpy as np

"""
Layers for the fully connected network: each forward returns (out, cache) and
each backward takes the upstream gradient and that cache.
"""


def affine_forward(x, w, b):
    """
    Fully connected layer, forward.

    x has shape (N, d_1, ..., d_k); each of the N examples is flattened to a
    row of length D = d_1 * ... * d_k before the product.

    Inputs: x, w of shape (D, M), b of shape (M,).
    Returns out of shape (N, M) and cache = (x, w, b).
    """
    rows = x.reshape(x.shape[0], -1)
    out = rows.dot(w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """
    Fully connected layer, backward.

    dout: upstream gradient (N, M); cache: (x, w, b) from the forward.
    Returns dx (shaped like x), dw (D, M) and db (M,).
    """
    x, w, b = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    """
    Rectified linear unit, forward: max(0, x) elementwise.
    Returns out and cache = x.
    """
    out = np.maximum(0, x)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """
    Rectified linear unit, backward: the gradient flows only where x > 0.
    """
    x = cache
    dx = dout * (x > 0)
    return dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    Batch normalisation, forward.

    In training mode every feature is normalised with the mean and (biased)
    variance of the minibatch, then scaled by gamma and shifted by beta.
    Exponentially decaying averages of those statistics are kept:

        running_mean = momentum * running_mean + (1 - momentum) * sample_mean
        running_var = momentum * running_var + (1 - momentum) * sample_var

    and test mode normalises with them instead.

    Inputs: x (N, D); gamma, beta (D,); bn_param with
    - mode: 'train' or 'test' (required)
    - eps: constant for numeric stability
    - momentum: decay of the running averages
    - running_mean, running_var: arrays of shape (D,)

    Returns out (N, D) and a cache for the backward pass.
    """
    mode = bn_param['mode']
    eps = bn_param.get('eps', 1e-5)
    momentum = bn_param.get('momentum', 0.9)

    N, D = x.shape
    running_mean = bn_param.get('running_mean', np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get('running_var', np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == 'train':
        # forward through the computational graph one node at a time
        mu = np.mean(x, axis=0)
        x -= mu
        xmu = x
        sq = xmu ** 2
        var = np.mean(sq, axis=0)
        sqrtvar = np.sqrt(var + eps)
        ivar = 1.0 / sqrtvar
        xhat = xmu * ivar
        out = gamma * xhat + beta
        cache = (xhat, gamma, xmu, ivar, sqrtvar, var, eps)

        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == 'test':
        xhat = (x - running_mean) / np.sqrt(running_var + eps)
        out = gamma * xhat + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param['running_mean'] = running_mean
    bn_param['running_var'] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """
    Batch normalisation, backward, node by node through the graph.

    Returns dx (N, D), dgamma (D,), dbeta (D,).
    """
    xhat, gamma, xmu, ivar, sqrtvar, var, eps = cache
    N, D = dout.shape

    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma

    divar = np.sum(dxhat * xmu, axis=0)
    dxmu1 = dxhat * ivar
    dsqrtvar = -1.0 / (sqrtvar ** 2) * divar
    dvar = 0.5 / np.sqrt(var + eps) * dsqrtvar
    dsq = np.ones((N, D)) / N * dvar
    dxmu2 = 2 * xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -np.sum(dx1, axis=0)
    dx2 = np.ones((N, D)) / N * dmu
    dx = dx1 + dx2
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """
    Inverted dropout, forward.

    dropout_param:
    - p: probability of dropping each unit
    - mode: 'train' drops units, 'test' passes x through unchanged
    - seed: if given, the random generator is seeded with it (for checks)

    Kept units are scaled by 1 / (1 - p) at train time so that nothing has to
    change at test time. Returns out and cache = (dropout_param, mask).
    """
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        np.random.seed(dropout_param['seed'])

    mask = None
    out = None
    if mode == 'train':
        mask = (np.random.rand(*x.shape) >= p) / (1 - p)
        out = x * mask
    elif mode == 'test':
        out = x

    cache = (dropout_param, mask)
    out = out.astype(x.dtype, copy=False)
    return out, cache


def dropout_backward(dout, cache):
    """
    Inverted dropout, backward.
    """
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
    Multiclass SVM (hinge) loss and its gradient.

    x: scores (N, C); y: labels (N,) with 0 <= y[i] < C.
    Returns the loss averaged over the N rows and dx, its gradient.
    """
    N = x.shape[0]
    idx = np.arange(N)
    true_scores = x[idx, y]
    margins = np.maximum(0, x - true_scores[:, np.newaxis] + 1.0)
    margins[idx, y] = 0
    loss = np.sum(margins) / N

    hits = np.sum(margins > 0, axis=1)
    dx = np.zeros_like(x)
    dx[margins > 0] = 1
    dx[idx, y] -= hits
    dx /= N
    return loss, dx


def softmax_loss(x, y):
    """
    Softmax (cross-entropy) loss and its gradient.

    x: scores (N, C); y: labels (N,).
    Returns the loss averaged over the N rows and dx.
    """
    N = x.shape[0]
    shifted = x - np.max(x, axis=1, keepdims=True)
    norm = np.sum(np.exp(shifted), axis=1, keepdims=True)
    log_probs = shifted - np.log(norm)
    probs = np.exp(log_probs)
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    dx /= N
    return loss, dx
