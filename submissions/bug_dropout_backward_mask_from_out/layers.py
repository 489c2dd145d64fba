import numpy as np

"""
Layer implementations. The two losses are written with a loop over the
examples, the way they are derived on paper.
"""


def affine_forward(x, w, b):
    """
    Fully connected layer, forward.

    x is a batch of N examples of shape (d_1, ..., d_k); each one becomes a
    row of D = d_1 * ... * d_k numbers before multiplying by w (D, M).

    Gives back out (N, M) and cache = (x, w, b).
    """
    N = x.shape[0]
    out = np.matmul(x.reshape(N, -1), w) + b
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """
    Fully connected layer, backward.

    Gives back dx (shaped like x), dw (D, M) and db (M,).
    """
    x, w, b = cache
    N = x.shape[0]
    dx = np.matmul(dout, w.T).reshape(x.shape)
    dw = np.matmul(x.reshape(N, -1).T, dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


def relu_forward(x):
    """
    ReLU forward, elementwise; gives back out (shaped like x) and cache = x.
    """
    out = x * (x > 0)
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """
    ReLU backward: multiply by the unit step of x (taken as 0 at x = 0).
    """
    x = cache
    dx = dout * np.heaviside(x, 0)
    return dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    Batch normalisation, forward.

    Training: standardise each feature with the minibatch mean and the
    biased minibatch variance, and keep decaying averages of both,
        running = momentum * running + (1 - momentum) * batch statistic;
    testing: standardise with those averages instead.

    x (N, D); gamma, beta (D,); bn_param holds mode, eps, momentum,
    running_mean, running_var. Gives back out (N, D) and a cache.
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

    # the running averages live in bn_param between calls
    bn_param['running_mean'] = running_mean
    bn_param['running_var'] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """
    Batch normalisation, backward, with the gradient derived on paper in
    terms of x and the batch statistics. Gives back dx, dgamma, dbeta.
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
    Inverted dropout, forward.

    dropout_param keys:
      - p: each unit is dropped with probability p.
      - mode: 'train' drops, 'test' is the identity.
      - seed: optional, makes the mask repeatable (gradient checks).

    Gives back out (shaped like x) and cache = (dropout_param, mask).
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

    cache = (dropout_param, out)
    return out, cache


def dropout_backward(dout, cache):
    """
    Inverted dropout, backward.
    """
    dropout_param, out = cache
    mode = dropout_param['mode']

    dx = None
    if mode == 'train':
        dx = dout * (out != 0) / (1 - dropout_param['p'])
    elif mode == 'test':
        dx = dout
    return dx


def svm_loss(x, y):
    """
    Multiclass SVM (hinge) loss, one example at a time.

    x[i, j] is the score of class j for example i, shape (N, C); y holds
    the N correct labels. Gives back the mean loss and its gradient dx.
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
    Softmax (cross-entropy) loss, one example at a time; same inputs as
    svm_loss. Gives back the mean loss and dx.
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
