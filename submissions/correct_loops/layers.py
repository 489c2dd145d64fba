import numpy as np

"""
Layer implementations. The two losses are written with a loop over the
examples, the way they are derived on paper.
"""


def affine_forward(x, w, b):
    """
    Computes the forward pass for an affine (fully-connected) layer.

    The input x has shape (N, d_1, ..., d_k): a minibatch of N examples, each
    of which is reshaped into a vector of dimension D = d_1 * ... * d_k.

    Returns a tuple of:
    - out: output, of shape (N, M)
    - cache: (x, w, b)
    """
    N = x.shape[0]
    out = np.matmul(x.reshape(N, -1), w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """
    Computes the backward pass for an affine layer.

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, d1, ..., d_k)
    - dw: Gradient with respect to w, of shape (D, M)
    - db: Gradient with respect to b, of shape (M,)
    """
    x, w, b = cache
    N = x.shape[0]
    dx = np.matmul(dout, w.T).reshape(x.shape)
    dw = np.matmul(x.reshape(N, -1).T, dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    """
    Computes the forward pass for a layer of rectified linear units (ReLUs).
    Returns out (same shape as x) and cache = x.
    """
    out = x * (x > 0)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """
    Computes the backward pass for a layer of ReLUs (step function of x, 0 at 0).
    """
    x = cache
    dx = dout * np.heaviside(x, 0)
    return dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    Forward pass for batch normalization.

    During training the sample mean and (uncorrected) sample variance are
    computed from minibatch statistics and used to normalize the incoming
    data; a running average of each is kept with
        running_mean = momentum * running_mean + (1 - momentum) * sample_mean
    and at test time the running averages normalize the data.

    Input:
    - x: Data of shape (N, D)
    - gamma: Scale parameter of shape (D,)
    - beta: Shift parameter of shape (D,)
    - bn_param: Dictionary with keys mode, eps, momentum, running_mean,
      running_var.

    Returns a tuple of out (N, D) and cache.
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
        sample_var = np.mean((x - sample_mean) ** 2, axis=0)
        x_normalized = (x - sample_mean) / np.sqrt(sample_var + eps)
        out = gamma * x_normalized + beta
        cache = (x, sample_mean, sample_var, gamma, eps)

        running_mean = momentum * running_mean + (1 - momentum) * sample_mean
        running_var = momentum * running_var + (1 - momentum) * sample_var
    elif mode == 'test':
        x_normalized = (x - running_mean) / np.sqrt(running_var + eps)
        out = gamma * x_normalized + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    # Store the updated running means back into bn_param
    bn_param['running_mean'] = running_mean
    bn_param['running_var'] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """
    Backward pass for batch normalization, worked out on paper in terms of x
    and the batch statistics.

    Returns a tuple of dx (N, D), dgamma (D,), dbeta (D,).
    """
    x, mu, var, gamma, eps = cache
    N = x.shape[0]
    x_mu = x - mu
    inv = (var + eps) ** -0.5

    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_mu * inv, axis=0)
    dx = (1.0 / N) * gamma * inv * (
        N * dout - np.sum(dout, axis=0) - x_mu * inv ** 2 * np.sum(dout * x_mu, axis=0))
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """
    Performs the forward pass for (inverted) dropout.

    Inputs:
    - x: Input data, of any shape
    - dropout_param: A dictionary with the following keys:
      - p: Dropout parameter. We drop each neuron output with probability p.
      - mode: 'test' or 'train'.
      - seed: Seed for the random number generator (for gradient checks).

    Outputs:
    - out: Array of the same shape as x.
    - cache: (dropout_param, mask).
    """
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        np.random.seed(dropout_param['seed'])

    mask = None
    out = None
    if mode == 'train':
        mask = np.random.choice([0.0, 1.0], size=x.shape, p=[p, 1 - p]) / (1 - p)
        out = x * mask
    elif mode == 'test':
        out = x

    cache = (dropout_param, mask)
    return out, cache


def dropout_backward(dout, cache):
    """
    Perform the backward pass for (inverted) dropout.
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
    Computes the loss and gradient for multiclass SVM classification.

    Inputs:
    - x: Input data, of shape (N, C) where x[i, j] is the score for the jth
      class for the ith input.
    - y: Vector of labels, of shape (N,) where 0 <= y[i] < C.

    Returns a tuple of loss (scalar) and dx (gradient of the loss w.r.t. x).
    """
    N, C = x.shape
    loss = 0.0
    dx = np.zeros_like(x)
    for i in range(N):
        correct = x[i, y[i]]
        for j in range(C):
            if j == y[i]:
                continue
            margin = x[i, j] - correct + 1
            if margin > 0:
                loss += margin
                dx[i, j] += 1
                dx[i, y[i]] -= 1
    loss /= N
    dx /= N
    return loss, dx


def softmax_loss(x, y):
    """
    Computes the loss and gradient for softmax classification.

    Inputs as for svm_loss. Returns a tuple of loss and dx.
    """
    N, C = x.shape
    loss = 0.0
    dx = np.zeros_like(x)
    for i in range(N):
        scores = x[i] - np.max(x[i])
        log_total = np.log(np.sum(np.exp(scores)))
        loss += log_total - scores[y[i]]
        dx[i] = np.exp(scores - log_total)
        dx[i, y[i]] -= 1
    loss /= N
    dx /= N
    return loss, dx
