"""Hypothesis strategies: every generated case the grader feeds a function.

Arrays are drawn from a seeded NumPy generator (uniform in [low, high)): values stay generic
and well conditioned, while shrinking still works on shapes, hyperparameters and the seed.
A case is a dict of named course inputs (see docs/design.md, "Cases and outputs").
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

DTYPES = st.sampled_from([np.float64, np.float32])
SEEDS = st.integers(0, 2**31 - 1)


def or_zero(values: st.SearchStrategy[float]) -> st.SearchStrategy[float]:
    """values, or exactly 0.0 (`config.get(key) or default` turns a valid 0 into the default)."""
    return st.just(0.0) | values


MOMENTA = st.sampled_from([0.0, 0.9]) | st.floats(0.0, 0.99)   # 0 forced, as or_zero does
HYPERPARAMETERS = {
    "learning_rate": st.floats(1e-4, 0.5),   # never 0: the invariants need a step that moves w
    "momentum": MOMENTA,
    "decay_rate": or_zero(st.floats(0.5, 0.999)),
    "beta1": or_zero(st.floats(0.0, 0.99)),
    "beta2": or_zero(st.floats(0.5, 0.9999)),
    "epsilon": st.sampled_from([1e-8, 1e-7]),
}
RULE_HYPERPARAMETERS = {
    "sgd": ("learning_rate",),
    "sgd_momentum": ("learning_rate", "momentum"),
    "sgd_nesterov_momentum": ("learning_rate", "momentum"),
    "rmsprop": ("learning_rate", "decay_rate", "epsilon"),
    "adam": ("learning_rate", "beta1", "beta2", "epsilon"),
}
STATE_KEYS = {
    "sgd": (),
    "sgd_momentum": ("velocity",),
    "sgd_nesterov_momentum": ("velocity",),
    "rmsprop": ("a",),
    "adam": ("v", "a", "t"),
}


def uniform(seed: int, shape: tuple, dtype=np.float64, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(low, high, size=shape).astype(dtype)


@st.composite
def arrays(draw, shape: tuple, dtype=np.float64, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    return uniform(draw(SEEDS), shape, dtype, low, high)


def shapes(min_dims: int = 1, max_dims: int = 4, max_side: int = 5) -> st.SearchStrategy[tuple]:
    return st.lists(st.integers(1, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


@st.composite
def optional_keys(draw, options: dict) -> dict:
    """A dict holding each key of `options` or not; absent keys test the rule's defaults."""
    return {k: draw(v) for k, v in options.items() if draw(st.booleans())}


@st.composite
def rule_state(draw, rule: str, shape: tuple, dtype) -> dict:
    """Optimizer state carried from an earlier step (each key present or not)."""
    state = {
        "velocity": arrays(shape, dtype),
        "a": arrays(shape, dtype, 0.0, 1.0),
        "v": arrays(shape, dtype),
        "t": st.integers(0, 50) | st.integers(1000, 5000),   # late steps: bias corrections near 1
    }
    return draw(optional_keys({k: state[k] for k in STATE_KEYS[rule]}))


@st.composite
def rule_cases(draw, rule: str, max_steps: int = 1, config_may_be_none: bool = False) -> dict:
    """{w, dws: [dw per step], config}: one step, or a trajectory chaining the returned config.
    Gradients are uniform in [-1, 1) or [-30, 30) (a clipped gradient shows); config None (the
    course's "use the defaults") only when config_may_be_none."""
    dtype = draw(DTYPES)
    shape = draw(shapes())
    steps = draw(st.integers(1, max_steps))
    config = draw(optional_keys({k: HYPERPARAMETERS[k] for k in RULE_HYPERPARAMETERS[rule]}))
    config.update(draw(rule_state(rule, shape, dtype)))
    gradient_scale = draw(st.sampled_from([1.0, 30.0]))
    dws = [draw(arrays(shape, dtype, -gradient_scale, gradient_scale)) for _ in range(steps)]
    if config_may_be_none and draw(st.integers(0, 3)) == 3:   # shrinks away from None: a counterexample keeps its config
        config = None
    return {"w": draw(arrays(shape, dtype)), "dws": dws, "config": config}


@st.composite
def affine_cases(draw, dtype_strategy=DTYPES) -> dict:
    """x (N, d1..dk), w (D, M), b (M,), dout (N, M)."""
    dtype = draw(dtype_strategy)
    n, m = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dims = draw(shapes(1, 3, 4))
    d = int(np.prod(dims))
    return {"x": draw(arrays((n, *dims), dtype)), "w": draw(arrays((d, m), dtype)),
            "b": draw(arrays((m,), dtype)), "dout": draw(arrays((n, m), dtype))}


@st.composite
def relu_cases(draw, dtype_strategy=DTYPES, with_zeros: bool = True) -> dict:
    """x of any shape, some entries exactly 0 (the kink: never judged); dout like x."""
    dtype = draw(dtype_strategy)
    shape = draw(shapes())
    x = draw(arrays(shape, dtype))
    if with_zeros and draw(st.booleans()):
        x[uniform(draw(SEEDS), shape) > 0.7] = 0
    return {"x": x, "dout": draw(arrays(shape, dtype))}


@st.composite
def batchnorm_cases(draw, mode: str | None = None, dtype_strategy=DTYPES, max_n: int = 6) -> dict:
    """x (N, D), gamma and beta (D,), bn_param with mode and optional eps, momentum, running stats."""
    dtype = draw(dtype_strategy)
    mode = mode or draw(st.sampled_from(["train", "test"]))
    n, d = draw(st.integers(1, max_n)), draw(st.integers(1, 5))
    scale, shift = draw(st.sampled_from([1.0, 10.0])), draw(st.sampled_from([0.0, 3.0]))
    bn_param = {"mode": mode}
    bn_param.update(draw(optional_keys({
        "eps": st.sampled_from([1e-5, 1e-3]),
        "momentum": MOMENTA,
        "running_mean": arrays((d,), dtype),
        "running_var": arrays((d,), dtype, 0.5, 2.0),
    })))
    if mode == "test":
        bn_param.setdefault("running_mean", draw(arrays((d,), dtype)))
        bn_param.setdefault("running_var", draw(arrays((d,), dtype, 0.5, 2.0)))
    return {"x": draw(arrays((n, d), dtype)) * dtype(scale) + dtype(shift),
            "gamma": draw(arrays((d,), dtype, -2.0, 2.0)), "beta": draw(arrays((d,), dtype)),
            "bn_param": bn_param, "dout": draw(arrays((n, d), dtype))}


@st.composite
def dropout_cases(draw, mode: str | None = "train", sizes: tuple[tuple, ...] = ((60, 50), (10, 3, 10, 10))) -> dict:
    """x of one of `sizes` (large enough for statistics, rows of features or of images), bounded
    away from 0 so a dropped unit is unambiguous; mode None draws train or test."""
    mode = mode or draw(st.sampled_from(["train", "test"]))
    size = draw(st.sampled_from(sizes))
    x = draw(arrays(size, np.float64, 0.5, 2.0)) * np.sign(draw(arrays(size)))
    seed = draw(st.just(0) | SEEDS)   # `if dropout_param.get('seed'):` ignores seed 0
    param = {"mode": mode, "p": draw(st.sampled_from([0.2, 0.3, 0.5, 0.6, 0.8])), "seed": seed}
    return {"x": x, "dropout_param": param, "dout": draw(arrays(size))}


@st.composite
def loss_cases(draw, dtype_strategy=DTYPES) -> dict:
    """x (N, C) scores, y (N,) labels in [0, C)."""
    dtype = draw(dtype_strategy)
    n, c = draw(st.integers(1, 6)), draw(st.integers(2, 6))
    x = draw(arrays((n, c), dtype, -2.0, 2.0))
    y = np.random.default_rng(draw(SEEDS)).integers(0, c, size=n)
    return {"x": x, "y": y}
