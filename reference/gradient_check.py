"""Centred-difference gradients and the notebook's relative error."""

from collections.abc import Callable

import numpy as np


def eval_numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, verbose: bool = True, h: float = 1e-5
) -> np.ndarray:
    """grad[i] = (f(x + h e_i) - f(x - h e_i)) / 2h for scalar f; x is perturbed in place
    and restored after each entry.  -> grad, shaped like x.
    """
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        old = x[ix]
        x[ix] = old + h
        f_plus = f(x)
        x[ix] = old - h
        f_minus = f(x)
        x[ix] = old
        grad[ix] = (f_plus - f_minus) / (2 * h)
        if verbose:
            print(ix, grad[ix])
    return grad


def eval_numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """grad[i] = sum((f(x + h e_i) - f(x - h e_i)) * df) / 2h for array-valued f with
    upstream gradient df; x is perturbed in place and restored.  -> grad, shaped like x.
    """
    grad = np.zeros_like(x)
    for ix in np.ndindex(x.shape):
        old = x[ix]
        x[ix] = old + h
        f_plus = f(x).copy()
        x[ix] = old - h
        f_minus = f(x).copy()
        x[ix] = old
        grad[ix] = np.sum((f_plus - f_minus) * df) / (2 * h)
    return grad


def rel_error(x: np.ndarray, y: np.ndarray) -> float:
    """max |x - y| / max(1e-8, |x| + |y|)."""
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))
