"""The training path's fast twin of the readable spec: the same numbers, less memory traffic.

layers.py, layer_utils.py and optim.py say what is computed. This module computes exactly
that, operation for operation in the same order (so with the same roundings), but
  - parameters, gradients and Adam's moments live in flat buffers (Flat): one 1-D array
    each, with parameter-shaped views, so one update covers every parameter at once;
  - the sandwich layers work in place: two (N, M) arrays per layer instead of about ten,
    and parameter gradients are written straight into the gradient buffer's views;
  - with numba installed (optional: the `fast` extra), the batchnorm-ReLU layers' elementwise
    work runs as three compiled loops forward and two backward (numpy: about ten passes each
    way), and adam_ updates every parameter in one compiled pass; without numba, adam_ runs
    optim.adam's 14 elementwise passes over BLOCK elements at a time, so they stay in cache,
    where optim.adam makes ~14 temporaries of the full size.

fc_net.py and solver.py import this module relatively and run their readable paths without
it: grader/notebook.py copies this file into the course layout only when no submission file
is overlaid, so a submission's layers and update rules are never replaced by these kernels.
"""

import functools
import math
import os
import threading
import types
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
    running_mean = bn_param.get('running_mean', np.zeros(a.shape[1], dtype=a.dtype))
    running_var = bn_param.get('running_var', np.zeros(a.shape[1], dtype=a.dtype))

    if mode == 'train':
        out = np.empty_like(a)
        kernels = _kernels(a.dtype) if type(eps) is float else None   # a numpy eps may upcast
        if kernels:
            mean, var, std = kernels.batchnorm_relu_train(a, b, gamma, beta, a.dtype.type(eps), out)
        else:
            mean, var, std = batchnorm_relu_train_numpy(a, b, gamma, beta, eps, out)
        cache = (x, w, a, std, gamma, out)
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == 'test':
        a += b
        out = np.subtract(a, running_mean, out=a)
        np.multiply(gamma, out, out=out)
        out /= np.sqrt(running_var + eps)
        out += beta
        np.maximum(out, 0, out=out)
        cache = None
    else:
        raise ValueError(f'Invalid batchnorm mode "{mode}"')

    bn_param['running_mean'] = running_mean
    bn_param['running_var'] = running_var
    return out, cache


def batchnorm_relu_train_numpy(
    a: np.ndarray, b: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float,
    out: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """a: (N, M) <- xhat = (a + b - mean) / std; out: (N, M) <- max(0, gamma * xhat + beta);
    -> (mean, var, std), each (M,), the batch statistics of a + b (var biased)."""
    a += b
    mean = a.mean(axis=0)
    a -= mean                                       # xc
    var = np.multiply(a, a, out=out).mean(axis=0)
    std = np.sqrt(var + eps)
    a /= std                                        # xhat
    np.multiply(gamma, a, out=out)
    out += beta
    np.maximum(out, 0, out=out)
    return mean, var, std


def affine_batchnorm_relu_backward(
    dout: np.ndarray, cache: tuple, dw: np.ndarray, db: np.ndarray, dgamma: np.ndarray,
    dbeta: np.ndarray, input_grad: bool,
) -> np.ndarray | None:
    """layer_utils.affine_batchnorm_relu_backward with dan = dout * [out > 0], dxhat = dan * gamma:
    dbeta <- sum_n dan, dgamma <- sum_n dan * xhat,
    da = (dxhat - mean_n(dxhat) - xhat * mean_n(dxhat * xhat)) / std, then affine_backward."""
    x, w, xhat, std, gamma, out = cache
    kernels = _kernels(dout.dtype)
    train_backward = kernels.batchnorm_relu_backward if kernels else batchnorm_relu_backward_numpy
    train_backward(dout, out, xhat, gamma, std, dgamma, dbeta)
    return affine_backward(dout, x, w, dw, db, input_grad)


def batchnorm_relu_backward_numpy(
    dout: np.ndarray, out: np.ndarray, xhat: np.ndarray, gamma: np.ndarray, std: np.ndarray,
    dgamma: np.ndarray, dbeta: np.ndarray,
) -> None:
    """dout: (N, M) <- da (the batchnorm backward of dan = dout * [out > 0]); out is scratch;
    dgamma, dbeta: (M,) <- sum_n dan * xhat, sum_n dan."""
    dan = np.multiply(dout, out > 0, out=dout)
    tmp = np.multiply(dan, xhat, out=out)
    np.sum(tmp, axis=0, out=dgamma)
    np.sum(dan, axis=0, out=dbeta)

    dxhat = np.multiply(dan, gamma, out=dan)
    mean_dxhat_xhat = np.multiply(dxhat, xhat, out=tmp).mean(axis=0)
    da = np.subtract(dxhat, dxhat.mean(axis=0), out=dxhat)
    da -= np.multiply(xhat, mean_dxhat_xhat, out=tmp)
    da /= std


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
    adam = adam_numba if _kernels(w.dtype) else adam_numpy
    adam(w, dw, v, a, learning_rate, beta1, beta2, epsilon, t)


def adam_numba(
    w: np.ndarray, dw: np.ndarray, v: np.ndarray, a: np.ndarray,
    learning_rate: float, beta1: float, beta2: float, epsilon: float, t: int,
) -> None:
    """adam_ as one numba loop over the elements, split over the cores. Every constant is
    rounded to w's dtype, as numpy does with a Python float in an array operation, so each
    operation rounds as in optim.adam (numba contracts nothing into FMAs without fastmath)."""
    c = w.dtype.type
    with _NUMBA_LOCK:
        _numba_kernels().adam(w, dw, v, a, c(learning_rate), c(beta1), c(1 - beta1), c(beta2),
                              c(1 - beta2), c(epsilon), c(1 - beta1**t), c(1 - beta2**t))


_NUMBA_LOCK = threading.Lock()   # the workqueue layer takes one parallel launch at a time


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


# --- numba kernels (the optional `fast` extra) ----------------------------------------------


def _kernels(dtype: DTypeLike) -> Any:
    """_numba_kernels() for float32 and float64 arrays, else None (numba missing, other dtype)."""
    return _numba_kernels() if dtype in (np.float32, np.float64) else None


@functools.cache
def _numba_kernels() -> Any:
    """numba-compiled twins of the numpy passes above (compiled per dtype on first call), or None
    without numba. Each rounds as its numpy twin, operation for operation: every scalar comes in
    the arrays' dtype, nothing is contracted into FMAs (no fastmath), column sums run over the
    rows in order as numpy's axis-0 sums do, and error_model='numpy' makes x / 0 inf or nan,
    not an exception. Numba's threads are its workqueue layer's unless NUMBA_THREADING_LAYER
    says otherwise: they sleep when idle, where OpenMP's spin and take a core from the next
    GEMM (a headline step took 16 ms with OpenMP, 8.7 with the workqueue)."""
    try:
        import numba
    except ImportError:
        return None
    if 'NUMBA_THREADING_LAYER' not in os.environ:
        numba.config.THREADING_LAYER = 'workqueue'
    jit = numba.njit(error_model='numpy')

    @numba.njit(parallel=True, error_model='numpy')
    def adam(w, dw, v, a, lr, b1, one_minus_b1, b2, one_minus_b2, eps, bias1, bias2):
        """adam_numba's pass: w, dw, v, a (P,) -> w, v, a updated in place."""
        for i in numba.prange(w.size):
            g = dw[i]
            v_i = v[i] * b1 + g * one_minus_b1
            a_i = a[i] * b2 + (g * g) * one_minus_b2
            v[i], a[i] = v_i, a_i
            w[i] -= (v_i / bias1) * lr / (np.sqrt(a_i / bias2) + eps)

    @jit
    def batchnorm_relu_train(a, b, gamma, beta, eps, out):
        """batchnorm_relu_train_numpy in three passes over a: (N, M)."""
        N, M = a.shape
        mean, var = np.zeros(M, a.dtype), np.zeros(M, a.dtype)
        for i in range(N):                          # a += b; mean = sum_n a / N
            for j in range(M):
                a[i, j] += b[j]
                mean[j] += a[i, j]
        mean /= N
        for i in range(N):                          # xc = a - mean; var = sum_n xc^2 / N
            for j in range(M):
                a[i, j] -= mean[j]
                var[j] += a[i, j] * a[i, j]
        var /= N
        std = np.sqrt(var + eps)
        for i in range(N):                          # xhat = xc / std
            for j in range(M):
                a[i, j] /= std[j]
                o = gamma[j] * a[i, j] + beta[j]    # out = max(0, gamma * xhat + beta),
                out[i, j] = o if not o < 0 else 0   # NaN staying NaN as in np.maximum
        return mean, var, std

    @jit
    def batchnorm_relu_backward(dout, out, xhat, gamma, std, dgamma, dbeta):
        """batchnorm_relu_backward_numpy in two passes over dout: (N, M) (out is left alone):
        da = (dxhat - mean_n(dxhat) - xhat * mean_n(dxhat * xhat)) / std."""
        N, M = dout.shape
        one, zero = dout.dtype.type(1), dout.dtype.type(0)
        mean_dxhat, mean_dxhat_xhat = np.zeros(M, dout.dtype), np.zeros(M, dout.dtype)
        dgamma[:] = 0
        dbeta[:] = 0
        for i in range(N):                          # dan = dout * [out > 0]; dxhat = dan * gamma
            for j in range(M):
                dout[i, j] *= one if out[i, j] > 0 else zero
                dgamma[j] += dout[i, j] * xhat[i, j]
                dbeta[j] += dout[i, j]
                dxhat = dout[i, j] * gamma[j]
                mean_dxhat[j] += dxhat
                mean_dxhat_xhat[j] += dxhat * xhat[i, j]
        mean_dxhat /= N
        mean_dxhat_xhat /= N
        for i in range(N):                          # da, in dout's place
            for j in range(M):
                dxhat = dout[i, j] * gamma[j]
                dout[i, j] = ((dxhat - mean_dxhat[j]) - xhat[i, j] * mean_dxhat_xhat[j]) / std[j]

    return types.SimpleNamespace(adam=adam, batchnorm_relu_train=batchnorm_relu_train,
                                 batchnorm_relu_backward=batchnorm_relu_backward)
