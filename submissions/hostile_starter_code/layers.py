import numpy as np


def affine_forward(x, w, b):
    """
    Computes the forward pass for an affine (fully-connected) layer.
    """
    out = None
    # ================================================================ #
    # YOUR CODE HERE:
    #   Computes the forward pass for an affine (fully-connected) layer.
    # ================================================================ #

    pass

    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """
    Computes the backward pass for an affine layer.
    """
    x, w, b = cache
    dx, dw, db = None, None, None
    # ================================================================ #
    # YOUR CODE HERE:
    #   Computes the backward pass for an affine layer.
    # ================================================================ #

    pass

    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #
    return dx, dw, db


def relu_forward(x):
    """
    Computes the forward pass for a layer of rectified linear units (ReLUs).
    """
    out = None
    # ================================================================ #
    # YOUR CODE HERE:
    #   Computes the forward pass for a layer of rectified linear units (ReLUs).
    # ================================================================ #

    pass

    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """
    Computes the backward pass for a layer of rectified linear units (ReLUs).
    """
    dx, x = None, cache
    # ================================================================ #
    # YOUR CODE HERE:
    #   Computes the backward pass for a layer of rectified linear units (ReLUs).
    # ================================================================ #

    pass

    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #
    return dx


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    Forward pass for batch normalization.
    """
    mode = bn_param['mode']
    eps = bn_param.get('eps', 1e-5)
    momentum = bn_param.get('momentum', 0.9)
    N, D = x.shape
    running_mean = bn_param.get('running_mean', np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get('running_var', np.zeros(D, dtype=x.dtype))
    out, cache = None, None
    # ================================================================ #
    # YOUR CODE HERE:
    #   Forward pass for batch normalization.
    # ================================================================ #

    pass

    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #
    bn_param['running_mean'] = running_mean
    bn_param['running_var'] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """
    Backward pass for batch normalization.
    """
    dx, dgamma, dbeta = None, None, None
    # ================================================================ #
    # YOUR CODE HERE:
    #   Backward pass for batch normalization.
    # ================================================================ #

    pass

    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """
    Performs the forward pass for (inverted) dropout.
    """
    p, mode = dropout_param['p'], dropout_param['mode']
    if 'seed' in dropout_param:
        np.random.seed(dropout_param['seed'])
    mask = None
    out = None
    # ================================================================ #
    # YOUR CODE HERE:
    #   Performs the forward pass for (inverted) dropout.
    # ================================================================ #

    pass

    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #
    cache = (dropout_param, mask)
    out = out.astype(x.dtype, copy=False)
    return out, cache


def dropout_backward(dout, cache):
    """
    Perform the backward pass for (inverted) dropout.
    """
    dropout_param, mask = cache
    mode = dropout_param['mode']
    dx = None
    # ================================================================ #
    # YOUR CODE HERE:
    #   Perform the backward pass for (inverted) dropout.
    # ================================================================ #

    pass

    # ================================================================ #
    # END YOUR CODE HERE
    # ================================================================ #
    return dx


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
