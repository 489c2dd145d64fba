"""Sandwich layers: affine - relu and affine - batchnorm - relu."""

import numpy as np

from reference.layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_forward,
    relu_backward,
    relu_forward,
)


def affine_relu_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """out = relu(x @ w + b).  x: (N, d1, ..., dk); w: (D, M); b: (M,) -> out: (N, M)."""
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(
    dout: np.ndarray, cache: tuple, input_grad: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """-> (dx, dw, db); input_grad=False skips dx (None)."""
    fc_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    return affine_backward(da, fc_cache, input_grad)


def affine_batchnorm_relu_forward(
    x: np.ndarray,
    w: np.ndarray,
    b: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    bn_param: dict,
) -> tuple[np.ndarray, tuple]:
    """out = relu(batchnorm(x @ w + b)).  gamma, beta: (M,); bn_param as batchnorm_forward."""
    a, fc_cache = affine_forward(x, w, b)
    an, bn_cache = batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(an)
    return out, (fc_cache, bn_cache, relu_cache)


def affine_batchnorm_relu_backward(
    dout: np.ndarray, cache: tuple, input_grad: bool = True
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """-> (dx, dw, db, dgamma, dbeta); input_grad=False skips dx (None)."""
    fc_cache, bn_cache, relu_cache = cache
    dan = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = batchnorm_backward(dan, bn_cache)
    dx, dw, db = affine_backward(da, fc_cache, input_grad)
    return dx, dw, db, dgamma, dbeta
