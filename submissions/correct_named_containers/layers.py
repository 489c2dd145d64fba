"""
Layers returning named tuples: Forward(out, cache), AffineGrads(dx, dw, db),
BatchNormGrads(dx, dgamma, dbeta), Loss(loss, dx).  They unpack exactly like
plain tuples.
"""
from collections import namedtuple

import numpy as np

Forward = namedtuple('Forward', 'out cache')
AffineGrads = namedtuple('AffineGrads', 'dx dw db')
BatchNormGrads = namedtuple('BatchNormGrads', 'dx dgamma dbeta')
Loss = namedtuple('Loss', 'loss dx')

AffineCache = namedtuple('AffineCache', 'x w b')
BatchNormCache = namedtuple('BatchNormCache', 'xhat inv_std gamma')
DropoutCache = namedtuple('DropoutCache', 'mode mask')


def affine_forward(x, w, b):
    N = x.shape[0]
    out = np.matmul(np.reshape(x, (N, -1)), w) + b
    return Forward(out, AffineCache(x, w, b))


def affine_backward(dout, cache):
    N = cache.x.shape[0]
    dx = np.matmul(dout, cache.w.T).reshape(cache.x.shape)
    dw = np.matmul(np.reshape(cache.x, (N, -1)).T, dout)
    db = np.sum(dout, axis=0)
    return AffineGrads(dx, dw, db)


def relu_forward(x):
    return Forward(np.maximum(0, x), x)


def relu_backward(dout, cache):
    return dout * (cache > 0)


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param['mode']
    eps = bn_param.get('eps', 1e-5)
    momentum = bn_param.get('momentum', 0.9)
    D = x.shape[1]
    running_mean = bn_param.get('running_mean', np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get('running_var', np.zeros(D, dtype=x.dtype))

    if mode == 'train':
        mu = np.mean(x, axis=0)
        var = np.var(x, axis=0)
        inv_std = 1.0 / np.sqrt(var + eps)
        xhat = (x - mu) * inv_std
        result = Forward(gamma * xhat + beta, BatchNormCache(xhat, inv_std, gamma))
        bn_param['running_mean'] = momentum * running_mean + (1 - momentum) * mu
        bn_param['running_var'] = momentum * running_var + (1 - momentum) * var
    elif mode == 'test':
        xhat = (x - running_mean) / np.sqrt(running_var + eps)
        result = Forward(gamma * xhat + beta, None)
        bn_param['running_mean'] = running_mean
        bn_param['running_var'] = running_var
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)
    return result


def batchnorm_backward(dout, cache):
    xhat, inv_std, gamma = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (xhat * dout).sum(axis=0)
    dx = gamma * inv_std / N * (N * dout - dbeta - xhat * dgamma)
    return BatchNormGrads(dx, dgamma, dbeta)


def dropout_forward(x, dropout_param):
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        np.random.seed(dropout_param['seed'])
    if mode == 'train':
        mask = (np.random.random_sample(x.shape) >= p).astype(x.dtype) / (1 - p)
        return Forward(x * mask, DropoutCache(mode, mask))
    if mode == 'test':
        return Forward(x, DropoutCache(mode, None))
    raise ValueError('Invalid dropout mode "%s"' % mode)


def dropout_backward(dout, cache):
    if cache.mode == 'train':
        return dout * cache.mask
    return dout


def svm_loss(x, y):
    N = x.shape[0]
    rows = np.arange(N)
    margins = x - x[rows, y][:, np.newaxis] + 1.0
    margins[rows, y] = 0.0
    hinge = np.maximum(margins, 0.0)
    loss = hinge.sum() / N
    active = (margins > 0).astype(x.dtype)
    dx = active.copy()
    dx[rows, y] = -active.sum(axis=1)
    dx /= N
    return Loss(loss, dx)


def softmax_loss(x, y):
    N = x.shape[0]
    rows = np.arange(N)
    m = x.max(axis=1, keepdims=True)
    logsumexp = m + np.log(np.sum(np.exp(x - m), axis=1, keepdims=True))
    probs = np.exp(x - logsumexp)
    loss = -np.mean((x - logsumexp)[rows, y])
    dx = probs
    dx[rows, y] -= 1.0
    dx /= N
    return Loss(loss, dx)
