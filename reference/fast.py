"""The training path's fast twin of the readable spec: the same numbers, less memory traffic.

layers.py, layer_utils.py and optim.py say what is computed. This module computes exactly
that, operation for operation in the same order (so with the same roundings), but
  - parameters, gradients and Adam's moments live in flat buffers (Flat): one 1-D array
    each, with parameter-shaped views, so one update covers every parameter at once;
  - the sandwich layers work in place: two (N, M) arrays per layer instead of about ten,
    and parameter gradients are written straight into the gradient buffer's views;
  - adam_ updates every parameter in one compiled pass when numba is installed (optional:
    the `fast` extra), else runs optim.adam's 14 elementwise passes over BLOCK elements at a
    time, so they stay in cache, where optim.adam makes ~14 temporaries of the full size.

fc_net.py and solver.py import this module relatively and run their readable paths without
it: grader/notebook.py copies this file into the course layout only when no submission file
is overlaid, so a submission's layers and update rules are never replaced by these kernels.
"""

import functools
import math
import os
import threading
from itertools import accumulate
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

BLOCK = 1 << 17    # elements per adam_ pass (measured: 2**17 to 2**18 best, 2**14 ~40% slower)
ADAM_KEYS = ('learning_rate', 'beta1', 'beta2', 'epsilon')
ADAM_DEFAULTS = dict(zip(ADAM_KEYS, (1e-3, 0.9, 0.999, 1e-8)))


class Flat:
    """Named views of one buffer: views[k] = data[o_k : o_k + size_k].reshape(shapes[k]),
    back to back in the order of shapes; data: (P,) with P = sum of the sizes."""

    def __init__(self, shapes: dict[str, tuple[int, ...]], dtype: DTypeLike, zero: bool = True):
        self.shapes = dict(shapes)
        sizes = [math.prod(shape) for shape in self.shapes.values()]
        self.data = (np.zeros if zero else np.empty)(sum(sizes), dtype)
        self.views = {
            name: self.data[end - size:end].reshape(shape)
            for (name, shape), size, end in zip(self.shapes.items(), sizes, accumulate(sizes))
        }

    @classmethod
    def of(cls, arrays: dict[str, np.ndarray]) -> 'Flat':
        """A Flat holding copies of arrays (all of one dtype)."""
        first = next(iter(arrays.values()))
        flat = cls({k: v.shape for k, v in arrays.items()}, first.dtype, zero=False)
        for name, view in flat.views.items():
            view[...] = arrays[name]
        return flat

    def holds(self, arrays: dict[str, np.ndarray]) -> bool:
        """True when arrays maps exactly this Flat's names to its views (the very objects, still
        viewing data: a pickled or copied Flat fails), so updating data updates arrays."""
        return len(arrays) == len(self.views) and all(
            arrays.get(name) is view and view.base is self.data for name, view in self.views.items()
        )


# --- sandwich layers, in place ------------------------------------------------------------
# x: (N, D) (the caller flattens images); w: (D, M); b, gamma, beta: (M,). Each backward
# overwrites dout, writes the parameter gradients into the arrays it is given and returns
# dx = da @ w.T, or None when input_grad is False (the first layer never needs it).


def affine_backward(
    dout: np.ndarray, x: np.ndarray, w: np.ndarray, dw: np.ndarray, db: np.ndarray,
    input_grad: bool,
) -> np.ndarray | None:
    """layers.affine_backward: dw <- x.T @ dout, db <- sum_n dout; -> dout @ w.T."""
    np.matmul(x.T, dout, out=dw)
    np.sum(dout, axis=0, out=db)
    return dout @ w.T if input_grad else None


def affine_relu_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, tuple]:
    """layer_utils.affine_relu_forward: out = max(0, x @ w + b), one (N, M) array."""
    out = x @ w
    out += b
    np.maximum(out, 0, out=out)
    return out, (x, w, out)


def affine_relu_backward(
    dout: np.ndarray, cache: tuple, dw: np.ndarray, db: np.ndarray, input_grad: bool
) -> np.ndarray | None:
    """layer_utils.affine_relu_backward: da = dout * [out > 0] (out > 0 exactly where x @ w + b > 0)."""
    x, w, out = cache
    da = np.multiply(dout, out > 0, out=dout)
    return affine_backward(da, x, w, dw, db, input_grad)


def affine_batchnorm_relu_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
    bn_param: dict,
) -> tuple[np.ndarray, tuple | None]:
    """layer_utils.affine_batchnorm_relu_forward: a = x @ w + b is normalised in place
    (a -> xc -> xhat in train mode), out = max(0, gamma * xhat + beta); bn_param as
    layers.batchnorm_forward (running statistics replaced, not updated in place)."""
    mode = bn_param['mode']
    eps = bn_param.get('eps', 1e-5)
    momentum = bn_param.get('momentum', 0.9)
    a = x @ w
    a += b
    running_mean = bn_param.get('running_mean', np.zeros(a.shape[1], dtype=a.dtype))
    running_var = bn_param.get('running_var', np.zeros(a.shape[1], dtype=a.dtype))

    if mode == 'train':
        mean = a.mean(axis=0)
        a -= mean                                   # xc
        out = np.multiply(a, a)
        var = out.mean(axis=0)
        std = np.sqrt(var + eps)
        a /= std                                    # xhat
        np.multiply(gamma, a, out=out)
        cache = (x, w, a, std, gamma, out)
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == 'test':
        out = np.subtract(a, running_mean, out=a)
        np.multiply(gamma, out, out=out)
        out /= np.sqrt(running_var + eps)
        cache = None
    else:
        raise ValueError(f'Invalid batchnorm mode "{mode}"')
    out += beta
    np.maximum(out, 0, out=out)

    bn_param['running_mean'] = running_mean
    bn_param['running_var'] = running_var
    return out, cache


def affine_batchnorm_relu_backward(
    dout: np.ndarray, cache: tuple, dw: np.ndarray, db: np.ndarray, dgamma: np.ndarray,
    dbeta: np.ndarray, input_grad: bool,
) -> np.ndarray | None:
    """layer_utils.affine_batchnorm_relu_backward with dan = dout * [out > 0], dxhat = dan * gamma:
    dbeta <- sum_n dan, dgamma <- sum_n dan * xhat,
    da = (dxhat - mean_n(dxhat) - xhat * mean_n(dxhat * xhat)) / std, then affine_backward."""
    x, w, xhat, std, gamma, out = cache
    dan = np.multiply(dout, out > 0, out=dout)
    tmp = np.multiply(dan, xhat, out=out)           # out is not needed any more
    np.sum(tmp, axis=0, out=dgamma)
    np.sum(dan, axis=0, out=dbeta)

    dxhat = np.multiply(dan, gamma, out=dan)
    mean_dxhat_xhat = np.multiply(dxhat, xhat, out=tmp).mean(axis=0)
    da = np.subtract(dxhat, dxhat.mean(axis=0), out=dxhat)
    da -= np.multiply(xhat, mean_dxhat_xhat, out=tmp)
    da /= std
    return affine_backward(da, x, w, dw, db, input_grad)


# --- Adam over flat buffers ----------------------------------------------------------------


def _adam_block(
    w: np.ndarray, dw: np.ndarray, v: np.ndarray, a: np.ndarray, tmp: np.ndarray,
    tmp2: np.ndarray, lr: float, b1: float, b2: float, eps: float, t: int,
) -> None:
    """optim.adam's expressions, one in-place pass per operation (t already incremented)."""
    np.multiply(v, b1, out=v)                       # v = b1 * v + (1 - b1) * dw
    v += np.multiply(dw, 1 - b1, out=tmp)
    np.multiply(a, b2, out=a)                       # a = b2 * a + (1 - b2) * dw**2
    a += np.multiply(np.square(dw, out=tmp), 1 - b2, out=tmp)
    np.divide(v, 1 - b1**t, out=tmp)                # lr * v_hat
    tmp *= lr
    np.divide(a, 1 - b2**t, out=tmp2)               # sqrt(a_hat) + eps
    np.sqrt(tmp2, out=tmp2)
    tmp2 += eps
    tmp /= tmp2
    w -= tmp


def adam_(
    w: np.ndarray, dw: np.ndarray, v: np.ndarray, a: np.ndarray,
    learning_rate: float, beta1: float, beta2: float, epsilon: float, t: int,
) -> None:
    """optim.adam in place on contiguous 1-D arrays w, dw, v (first moment), a (second), step
    t >= 1: the same values as optim.adam, to the last bit. With numba installed (the `fast`
    extra) one compiled pass on every core (adam_numba), else numpy passes (adam_numpy)."""
    use_numba = w.dtype in (np.float32, np.float64) and _numba_adam_kernel() is not None
    (adam_numba if use_numba else adam_numpy)(w, dw, v, a, learning_rate, beta1, beta2, epsilon, t)


def adam_numba(
    w: np.ndarray, dw: np.ndarray, v: np.ndarray, a: np.ndarray,
    learning_rate: float, beta1: float, beta2: float, epsilon: float, t: int,
) -> None:
    """adam_ as one numba loop over the elements, split over the cores. Every constant is
    rounded to w's dtype, as numpy does with a Python float in an array operation, so each
    operation rounds as in optim.adam (numba contracts nothing into FMAs without fastmath)."""
    c = w.dtype.type
    with _NUMBA_LOCK:
        _numba_adam_kernel()(w, dw, v, a, c(learning_rate), c(beta1), c(1 - beta1), c(beta2), c(1 - beta2),
                             c(epsilon), c(1 - beta1**t), c(1 - beta2**t))


_NUMBA_LOCK = threading.Lock()   # the workqueue layer takes one parallel launch at a time


@functools.cache
def _numba_adam_kernel() -> Any:
    """The compiled kernel of adam_numba (compiled per dtype on first call), or None without
    numba. Numba's threads are its workqueue layer's unless NUMBA_THREADING_LAYER says
    otherwise: they sleep when idle, where OpenMP's spin and take a core from the next GEMM
    (a headline step took 16 ms with OpenMP, 8.7 with the workqueue)."""
    try:
        import numba
    except ImportError:
        return None
    if 'NUMBA_THREADING_LAYER' not in os.environ:
        numba.config.THREADING_LAYER = 'workqueue'

    @numba.njit(parallel=True)   # only the parallel loop is vectorized (its body is alias-free)
    def kernel(w, dw, v, a, lr, b1, one_minus_b1, b2, one_minus_b2, eps, bias1, bias2):
        for i in numba.prange(w.size):
            g = dw[i]
            v_i = v[i] * b1 + g * one_minus_b1
            a_i = a[i] * b2 + (g * g) * one_minus_b2
            v[i], a[i] = v_i, a_i
            w[i] -= (v_i / bias1) * lr / (np.sqrt(a_i / bias2) + eps)

    return kernel


def adam_numpy(
    w: np.ndarray, dw: np.ndarray, v: np.ndarray, a: np.ndarray,
    learning_rate: float, beta1: float, beta2: float, epsilon: float, t: int,
) -> None:
    """adam_ with optim.adam's numpy operations in the same order, computed BLOCK elements at
    a time by this thread and a helper, each taking the next block when done with one (numpy
    releases the GIL inside each pass). The helper pays off fully only when OpenBLAS's idle
    threads sleep (OPENBLAS_THREAD_TIMEOUT small); by default they spin on a core for ~0.1 s
    after every GEMM."""
    starts, lock = iter(range(0, w.size, BLOCK)), threading.Lock()

    def run() -> None:
        tmp, tmp2 = np.empty(BLOCK, w.dtype), np.empty(BLOCK, w.dtype)
        while True:
            with lock:
                start = next(starts, None)
            if start is None:
                return
            s = slice(start, start + BLOCK)
            n = w[s].size
            _adam_block(w[s], dw[s], v[s], a[s], tmp[:n], tmp2[:n],
                        learning_rate, beta1, beta2, epsilon, t)

    helper = threading.Thread(target=run)
    helper.start()
    run()
    helper.join()


class FlatAdam:
    """optim.adam for every parameter at once, for a Solver whose model has flat buffers.

    The moments live in two Flats, v (first) and a (second); each parameter's config holds
    their views as 'v' and 'a', next to the course keys, so solver.optim_configs[p] reads
    like the course's and the readable per-parameter step can take over at any time.
    """

    def __init__(self, params: Flat):
        self.v = Flat(params.shapes, params.data.dtype)
        self.a = Flat(params.shapes, params.data.dtype)

    def step(self, model: Any, grads: dict[str, np.ndarray], configs: dict[str, dict]) -> bool:
        """One optim.adam step of model.params if that is exactly what it computes here, i.e.
        params and grads are the views of model.flat_params and model.flat_grads, and every
        config holds this object's moments and the same Python-number learning_rate, beta1,
        beta2, epsilon and t. -> whether it stepped (False: nothing changed but defaults)."""
        if not (model.flat_params.holds(model.params) and model.flat_grads is not None
                and model.flat_grads.holds(grads) and self._adopt(configs)):
            return False
        settings = _settings(next(iter(configs.values())))
        if settings is None or any(_settings(c) != settings for c in configs.values()):
            return False
        *hyper, t = settings
        adam_(model.flat_params.data, model.flat_grads.data, self.v.data, self.a.data,
              *hyper, t + 1)
        for config in configs.values():
            config['t'] = t + 1
        return True

    def _adopt(self, configs: dict[str, dict]) -> bool:
        """Fresh configs (no moments yet) get optim.adam's defaults and zeroed views of v and a.
        -> whether every config now holds exactly these views."""
        if configs.keys() != self.v.views.keys():
            return False
        if not any('v' in c or 'a' in c for c in configs.values()):
            self.v.data.fill(0)
            self.a.data.fill(0)
            for name, config in configs.items():
                for key, default in ADAM_DEFAULTS.items():
                    config.setdefault(key, default)
                config['v'], config['a'] = self.v.views[name], self.a.views[name]
        return all(c.get('v') is self.v.views[k] and c.get('a') is self.a.views[k]
                   for k, c in configs.items())


def _settings(config: dict) -> tuple | None:
    """(learning_rate, beta1, beta2, epsilon, t) if all are Python numbers (numpy scalars would
    change optim.adam's result dtype), else None."""
    values = (*(config.get(k) for k in ADAM_KEYS), config.get('t', 0))
    return values if all(type(x) in (int, float) for x in values) else None
