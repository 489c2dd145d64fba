"""The graded functions and their probes: how a case becomes course calls and named outputs.

A probe `probe(ns, case) -> outputs` runs against any namespace of course functions: the
reference, a known-bug variant, or the submission's sandbox proxies (docs/design.md).
Every call gets fresh copies, since the course lets update rules mutate their arguments. The
forward layers and the losses must not: their probes return the caller's arrays after the call
among the outputs ("x after the call"), so a change made in place differs from the reference.
Backward passes may overwrite dout (nobody reads it again).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from grader.strategies import STATE_KEYS

Namespace = Mapping[str, Callable]
Probe = Callable[[Namespace, dict], dict]
AFTER_CALL = " after the call"


class ContractError(Exception):
    """The submission returned something that is not of the course's form."""


@dataclass(frozen=True)
class Function:
    """One graded course function; `opaque` lists result positions kept in the child (a cache)."""
    module: str
    name: str
    opaque: tuple[int, ...] = ()

    @property
    def qualname(self) -> str:
        return f"{self.module}.{self.name}"


RULES = ("sgd", "sgd_momentum", "sgd_nesterov_momentum", "rmsprop", "adam")
FUNCTIONS: tuple[Function, ...] = (
    *(Function("optim", rule) for rule in RULES),
    Function("layers", "affine_forward", (1,)),
    Function("layers", "affine_backward"),
    Function("layers", "relu_forward", (1,)),
    Function("layers", "relu_backward"),
    Function("layers", "batchnorm_forward", (1,)),
    Function("layers", "batchnorm_backward"),
    Function("layers", "dropout_forward", (1,)),
    Function("layers", "dropout_backward"),
    Function("layers", "svm_loss"),
    Function("layers", "softmax_loss"),
)
BY_NAME = {f.qualname: f for f in FUNCTIONS}


def reference_namespace() -> dict[str, Callable]:
    """The reference's course functions (imported only when grading against it)."""
    from reference import layers, optim
    return {f.name: getattr(optim if f.module == "optim" else layers, f.name) for f in FUNCTIONS}


def fresh(value: Any) -> Any:
    return copy.deepcopy(value)


def unpack(result: Any, names: tuple[str, ...], function: str) -> tuple:
    """Check that `result` is a tuple (or list) of len(names) and return it."""
    form = "(" + ", ".join(names) + ")"
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        raise ContractError(f"{function} should return {form}, returned {_describe(result)}")
    return tuple(result)


def as_array(value: Any, name: str) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise ContractError(f"`{name}` should be a numpy array, got {_describe(value)}")
    return value


def _describe(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of length {len(value)}"
    return "None" if value is None else f"a {type(value).__name__}"


LR_DECAY = 0.5


def rule_probe(rule: str) -> Probe:
    """Outputs: next_w and each state key, per step of the trajectory (config chained). When the
    case sets a learning_rate, the returned config's is multiplied by LR_DECAY before the next
    step, as the Solver's lr_decay does at an epoch's end: a rule must read it at every call."""
    def probe(ns: Namespace, case: dict) -> dict:
        w, config, outputs = case["w"], case["config"], {}
        steps = len(case["dws"])
        decays = "learning_rate" in (config or {})
        for step, dw in enumerate(case["dws"], 1):
            result = ns[rule](fresh(w), fresh(dw), fresh(config))
            next_w, config = unpack(result, ("next_w", "config"), rule)
            if not isinstance(config, dict):
                raise ContractError(f"{rule} should return its config dict, returned {_describe(config)}")
            tag = f" after step {step}" if steps > 1 else ""
            outputs["next_w" + tag] = next_w
            outputs.update({key + tag: config[key] for key in STATE_KEYS[rule] if key in config})
            w = as_array(next_w, "next_w")
            if decays and "learning_rate" in config:
                config["learning_rate"] *= LR_DECAY
        return outputs
    return probe


def after_call(**arguments: np.ndarray) -> dict:
    """The caller's arrays after a call, as outputs named "<argument> after the call"."""
    return {name + AFTER_CALL: value for name, value in arguments.items()}


def affine_forward(ns: Namespace, case: dict) -> dict:
    x, w, b = fresh([case["x"], case["w"], case["b"]])
    out, _ = unpack(ns["affine_forward"](x, w, b), ("out", "cache"), "affine_forward")
    return {"out": out, **after_call(x=x, w=w, b=b)}


def cache_of_first(ns: Namespace, forward: str, args: list, second_args: list) -> Any:
    """The cache of forward(*args), taken after another call forward(*second_args): a backward must
    read its own cache, not what the last forward left behind."""
    _, cache = unpack(ns[forward](*fresh(args)), ("out", "cache"), forward)
    unpack(ns[forward](*fresh(second_args)), ("out", "cache"), forward)
    return cache


def affine_backward(ns: Namespace, case: dict) -> dict:
    """dx, dw, db from the cache of (x, w, b), after a second forward on -x."""
    x, w, b = case["x"], case["w"], case["b"]
    cache = cache_of_first(ns, "affine_forward", [x, w, b], [-x, w, b])
    dx, dw, db = unpack(ns["affine_backward"](fresh(case["dout"]), cache), ("dx", "dw", "db"), "affine_backward")
    return {"dx": dx, "dw": dw, "db": db}


def relu_forward(ns: Namespace, case: dict) -> dict:
    x = fresh(case["x"])
    out, _ = unpack(ns["relu_forward"](x), ("out", "cache"), "relu_forward")
    return {"out": out, **after_call(x=x)}


def relu_backward(ns: Namespace, case: dict) -> dict:
    """dx from the cache of x, after a second forward on -x; entries at the kink (x == 0) are set
    to 0: any subgradient there is accepted."""
    cache = cache_of_first(ns, "relu_forward", [case["x"]], [-case["x"]])
    dx = as_array(ns["relu_backward"](fresh(case["dout"]), cache), "dx")
    if dx.shape == case["x"].shape:
        dx = np.where(case["x"] == 0, 0, dx)
    return {"dx": dx}


def batchnorm_forward(ns: Namespace, case: dict) -> dict:
    """out, the running statistics in bn_param after the call (test mode leaves them as they
    were), and the array arguments after the call."""
    x, gamma, beta, bn_param = fresh([case["x"], case["gamma"], case["beta"], case["bn_param"]])
    out, _ = unpack(ns["batchnorm_forward"](x, gamma, beta, bn_param), ("out", "cache"), "batchnorm_forward")
    outputs = {"out": out}
    outputs.update({k: bn_param[k] for k in ("running_mean", "running_var") if k in bn_param})
    return {**outputs, **after_call(x=x, gamma=gamma, beta=beta)}


def batchnorm_backward(ns: Namespace, case: dict) -> dict:
    """dx, dgamma, dbeta from the cache of a train-mode forward, after a second forward on -x."""
    args = [case["x"], case["gamma"], case["beta"], case["bn_param"]]
    cache = cache_of_first(ns, "batchnorm_forward", args, [-case["x"], *args[1:]])
    result = ns["batchnorm_backward"](fresh(case["dout"]), cache)
    dx, dgamma, dbeta = unpack(result, ("dx", "dgamma", "dbeta"), "batchnorm_backward")
    return {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}


def loss_probe(name: str) -> Probe:
    def probe(ns: Namespace, case: dict) -> dict:
        x, y = fresh([case["x"], case["y"]])
        loss, dx = unpack(ns[name](x, y), ("loss", "dx"), name)
        return {"loss": loss, "dx": dx, **after_call(x=x, y=y)}
    return probe


PROBES: dict[str, Probe] = {
    **{f"optim.{rule}": rule_probe(rule) for rule in RULES},
    "layers.affine_forward": affine_forward,
    "layers.affine_backward": affine_backward,
    "layers.relu_forward": relu_forward,
    "layers.relu_backward": relu_backward,
    "layers.batchnorm_forward": batchnorm_forward,
    "layers.batchnorm_backward": batchnorm_backward,
    "layers.svm_loss": loss_probe("svm_loss"),
    "layers.softmax_loss": loss_probe("softmax_loss"),
}


FORWARD_ARGS = {
    "affine_forward": ("x", "w", "b"),
    "relu_forward": ("x",),
    "batchnorm_forward": ("x", "gamma", "beta", "bn_param"),
    "dropout_forward": ("x", "dropout_param"),
}


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Centred differences: df/dx[i] = (f(x + h e_i) - f(x - h e_i)) / 2h."""
    grad = np.zeros_like(x, dtype=np.float64)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = h
        grad[i] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


def backward_gradients(forward: str, backward: str, wrt: tuple[str, ...], grads: tuple[str, ...]):
    """Probe returning (analytic, numeric): the backward's outputs against centred differences
    of the same namespace's forward, f = sum(forward(...) * dout); numeric is None when two calls
    of the forward on the same inputs differ (a dropout ignoring its seed): nothing to difference."""
    def analytic_and_numeric(ns: Namespace, case: dict) -> tuple[dict, dict]:
        def call_forward(**override):
            args = [override.get(k, case[k]) for k in FORWARD_ARGS[forward]]
            return unpack(ns[forward](*fresh(args)), ("out", "cache"), forward)

        def f(name: str, value: np.ndarray) -> float:
            return float(np.sum(as_array(call_forward(**{name: value})[0], "out") * case["dout"]))

        out, cache = call_forward()
        result = ns[backward](fresh(case["dout"]), cache)
        analytic = dict(zip(grads, unpack(result, grads, backward) if len(grads) > 1 else (result,)))
        if not np.array_equal(as_array(out, "out"), as_array(call_forward()[0], "out")):
            return analytic, None
        numeric = {g: numerical_gradient(lambda v, k=k: f(k, v), case[k]) for k, g in zip(wrt, grads)}
        return analytic, numeric
    return analytic_and_numeric


def loss_gradients(name: str):
    """Probe returning (analytic, numeric) for a loss: its dx against centred differences of its loss."""
    def analytic_and_numeric(ns: Namespace, case: dict) -> tuple[dict, dict]:
        def f(x: np.ndarray) -> float:
            loss, _ = unpack(ns[name](fresh(x), fresh(case["y"])), ("loss", "dx"), name)
            return float(loss)

        _, dx = unpack(ns[name](fresh(case["x"]), fresh(case["y"])), ("loss", "dx"), name)
        return {"dx": dx}, {"dx": numerical_gradient(f, case["x"])}
    return analytic_and_numeric


GRADIENTS = {
    "layers.affine_backward": backward_gradients("affine_forward", "affine_backward", ("x", "w", "b"), ("dx", "dw", "db")),
    "layers.relu_backward": backward_gradients("relu_forward", "relu_backward", ("x",), ("dx",)),
    "layers.batchnorm_backward": backward_gradients(
        "batchnorm_forward", "batchnorm_backward", ("x", "gamma", "beta"), ("dx", "dgamma", "dbeta")),
    "layers.dropout_backward": backward_gradients("dropout_forward", "dropout_backward", ("x",), ("dx",)),
    "layers.svm_loss": loss_gradients("svm_loss"),
    "layers.softmax_loss": loss_gradients("softmax_loss"),
}
