"""FullyConnectedNet: {affine - [batchnorm] - relu - [dropout]} x (L - 1) - affine - softmax."""

import numpy as np

from reference.layer_utils import (
    affine_batchnorm_relu_backward,
    affine_batchnorm_relu_forward,
    affine_relu_backward,
    affine_relu_forward,
)
from reference.layers import (
    affine_backward,
    affine_forward,
    dropout_backward,
    dropout_forward,
    softmax_loss,
)

try:  # relative: in the course layout (grader/notebook.py) fast.py is there only for the reference
    from . import fast
except ImportError:
    fast = None


class FullyConnectedNet:
    """L = len(hidden_dims) + 1 affine layers; dims input_dim -> *hidden_dims -> num_classes.

    params: W{i} ~ weight_scale * randn, b{i} = 0 (i = 1..L); with batchnorm gamma{i} = 1,
    beta{i} = 0 (i = 1..L-1); all in dtype. dropout is the DROP probability (0: none);
    seed, when given, fixes the dropout mask (dropout_param['seed']).

    With reference.fast (use_fast = True): params are views of one buffer, flat_params, and
    loss() runs the in-place twin of the layers, returning gradients as views of a new
    buffer, flat_grads; the numbers are those of the readable layers (use_fast = False).
    """

    def __init__(
        self,
        hidden_dims: list[int],
        input_dim: int = 3 * 32 * 32,
        num_classes: int = 10,
        dropout: float = 0,
        use_batchnorm: bool = False,
        reg: float = 0.0,
        weight_scale: float = 1e-2,
        dtype: type = np.float32,
        seed: int | None = None,
    ):
        self.use_batchnorm = use_batchnorm
        self.use_dropout = dropout > 0
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype

        self.params = {}
        dims = [input_dim, *hidden_dims, num_classes]
        for i in range(1, self.num_layers + 1):
            fan_in, fan_out = dims[i - 1], dims[i]
            self.params[f'W{i}'] = weight_scale * np.random.randn(fan_in, fan_out)
            self.params[f'b{i}'] = np.zeros(fan_out)
            if use_batchnorm and i < self.num_layers:
                self.params[f'gamma{i}'] = np.ones(fan_out)
                self.params[f'beta{i}'] = np.zeros(fan_out)
        self.params = {k: v.astype(dtype) for k, v in self.params.items()}
        self.use_fast = fast is not None
        self._flatten()

        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {'mode': 'train', 'p': dropout}
            if seed is not None:
                self.dropout_param['seed'] = seed

        self.bn_params = []
        if use_batchnorm:
            self.bn_params = [{'mode': 'train'} for _ in range(self.num_layers - 1)]

    def loss(
        self, X: np.ndarray, y: np.ndarray | None = None
    ) -> np.ndarray | tuple[float, dict[str, np.ndarray]]:
        """X: (N, d1, ..., dk), cast to self.dtype; y: (N,) labels or None.

        y None (test mode) -> scores (N, C).
        Otherwise (train mode) -> (loss, grads): loss = softmax loss + 0.5 * reg * sum_i |W_i|^2,
        grads keyed like params.
        """
        X = X.astype(self.dtype, copy=False)
        mode = 'test' if y is None else 'train'
        for bn_param in self.bn_params:
            bn_param['mode'] = mode
        if self.use_dropout:
            self.dropout_param['mode'] = mode
        if self.use_fast and all(p.dtype == self.dtype for p in self.params.values()):
            return self._fast_loss(X, y)

        L = self.num_layers
        h, caches = X, []
        for i in range(1, L):
            h, cache = self._hidden_forward(h, i)
            caches.append(cache)
        scores, last_cache = affine_forward(h, self.params[f'W{L}'], self.params[f'b{L}'])
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        grads = {}
        dh, grads[f'W{L}'], grads[f'b{L}'] = affine_backward(dscores, last_cache, input_grad=L > 1)
        for i in reversed(range(1, L)):
            dh = self._hidden_backward(dh, caches[i - 1], i, grads)

        return self._add_l2(loss, grads), grads

    def _add_l2(self, loss: float, grads: dict) -> float:
        """-> loss + 0.5 * reg * sum_i |W_i|^2; grads[W_i] += reg * W_i (nothing when reg = 0)."""
        if self.reg:
            for i in range(1, self.num_layers + 1):
                W = self.params[f'W{i}']
                loss += 0.5 * self.reg * float(np.sum(W * W))
                grads[f'W{i}'] += self.reg * W
        return loss

    def _hidden_forward(self, x: np.ndarray, i: int) -> tuple[np.ndarray, tuple]:
        """Hidden layer i: affine - [batchnorm] - relu - [dropout]."""
        p = self.params
        if self.use_batchnorm:
            out, cache = affine_batchnorm_relu_forward(
                x, p[f'W{i}'], p[f'b{i}'], p[f'gamma{i}'], p[f'beta{i}'], self.bn_params[i - 1]
            )
        else:
            out, cache = affine_relu_forward(x, p[f'W{i}'], p[f'b{i}'])
        drop_cache = None
        if self.use_dropout:
            out, drop_cache = dropout_forward(out, self.dropout_param)
        return out, (cache, drop_cache)

    def _hidden_backward(
        self, dout: np.ndarray, cache: tuple, i: int, grads: dict
    ) -> np.ndarray | None:
        """Writes layer i's parameter gradients into grads; returns dx (None for layer 1)."""
        cache, drop_cache = cache
        if self.use_dropout:
            dout = dropout_backward(dout, drop_cache)
        input_grad = i > 1
        if self.use_batchnorm:
            dx, grads[f'W{i}'], grads[f'b{i}'], grads[f'gamma{i}'], grads[f'beta{i}'] = (
                affine_batchnorm_relu_backward(dout, cache, input_grad)
            )
        else:
            dx, grads[f'W{i}'], grads[f'b{i}'] = affine_relu_backward(dout, cache, input_grad)
        return dx

    def _fast_loss(
        self, X: np.ndarray, y: np.ndarray | None
    ) -> np.ndarray | tuple[float, dict[str, np.ndarray]]:
        """loss() through reference.fast; grads are the views of a new Flat, self.flat_grads."""
        p, L = self.params, self.num_layers
        h, caches = X.reshape(X.shape[0], -1), []
        for i in range(1, L):
            if self.use_batchnorm:
                h, cache = fast.affine_batchnorm_relu_forward(
                    h, p[f'W{i}'], p[f'b{i}'], p[f'gamma{i}'], p[f'beta{i}'], self.bn_params[i - 1]
                )
            else:
                h, cache = fast.affine_relu_forward(h, p[f'W{i}'], p[f'b{i}'])
            drop_cache = None
            if self.use_dropout:
                h, drop_cache = dropout_forward(h, self.dropout_param)
            caches.append((cache, drop_cache))
        scores, _ = affine_forward(h, p[f'W{L}'], p[f'b{L}'])
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        # The last call's buffer goes first, so malloc can hand its cache-warm memory back
        # (a caller still holding the last grads keeps that buffer; this call gets another).
        self.flat_grads = None
        self.flat_grads = fast.Flat({k: v.shape for k, v in p.items()}, self.dtype, zero=False)
        g = dict(self.flat_grads.views)
        dh = fast.affine_backward(dscores, h, p[f'W{L}'], g[f'W{L}'], g[f'b{L}'], L > 1)
        for i in reversed(range(1, L)):
            cache, drop_cache = caches[i - 1]
            if self.use_dropout:
                dh = dropout_backward(dh, drop_cache)
            if self.use_batchnorm:
                dh = fast.affine_batchnorm_relu_backward(
                    dh, cache, g[f'W{i}'], g[f'b{i}'], g[f'gamma{i}'], g[f'beta{i}'], i > 1
                )
            else:
                dh = fast.affine_relu_backward(dh, cache, g[f'W{i}'], g[f'b{i}'], i > 1)
        return self._add_l2(loss, g), g

    def _flatten(self) -> None:
        """With reference.fast, params become views of one buffer, self.flat_params."""
        self.flat_params, self.flat_grads = None, None
        if fast:
            self.flat_params = fast.Flat.of(self.params)
            self.params = dict(self.flat_params.views)

    def __getstate__(self) -> dict:
        """Pickles params as plain arrays, without flat_params and flat_grads ..."""
        return {k: v for k, v in self.__dict__.items() if k not in ('flat_params', 'flat_grads')}

    def __setstate__(self, state: dict) -> None:
        """... which come back, params as views of flat_params, when unpickled."""
        self.__dict__.update(state)
        self._flatten()
