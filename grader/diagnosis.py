"""Known-bug fingerprints: each is a course function rewritten with one realistic mistake.
When a submission fails a check and a fingerprint reproduces its outputs, the report names the mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Any, Callable, Mapping

import numpy as np

Config = dict[str, Any]
Step = tuple[np.ndarray, Config]


@dataclass(frozen=True)
class Fingerprint:
    name: str
    function: str
    hint: str
    replaces: Mapping[str, Callable[..., Any]]


# Update rules. Each copies config (the caller's dict and arrays are never touched) and
# returns the state under the ucla-w21 keys.


def _config(config: Config | None, **defaults: Any) -> Config:
    fresh = dict(config or {})
    for key, value in defaults.items():
        fresh.setdefault(key, value)
    return fresh


def _sgd(w: np.ndarray, dw: np.ndarray, config: Config | None = None, *,
         use_lr: bool = True, sign: float = -1.0) -> Step:
    config = _config(config, learning_rate=1e-2)
    step = config["learning_rate"] * dw if use_lr else dw
    return w + sign * step, config


def _sgd_momentum(w: np.ndarray, dw: np.ndarray, config: Config | None = None, *,
                  momentum: bool = True, lr_in_velocity: bool = True, sign: float = 1.0,
                  step_with_old: bool = False, store: bool = True) -> Step:
    """sign=-1 is the convention v = mu*v + lr*dw, w -= v, which stores the negated velocity."""
    config = _config(config, learning_rate=1e-2, momentum=0.9)
    lr = config["learning_rate"]
    mu = config["momentum"] if momentum else 0.0
    v_old = config.get("velocity", np.zeros_like(w))
    v = mu * v_old - sign * (lr if lr_in_velocity else 1.0) * dw
    next_w = w + sign * (1.0 if lr_in_velocity else lr) * (v_old if step_with_old else v)
    if store:
        config["velocity"] = v
    return next_w, config


def _sgd_nesterov_momentum(w: np.ndarray, dw: np.ndarray, config: Config | None = None, *,
                           lookahead: bool = True, old_sign: float = -1.0,
                           boost: bool = True, store: bool = True) -> Step:
    config = _config(config, learning_rate=1e-2, momentum=0.9)
    mu = config["momentum"]
    v_old = config.get("velocity", np.zeros_like(w))
    v = mu * v_old - config["learning_rate"] * dw
    if lookahead:
        next_w = w + old_sign * mu * v_old + ((1 + mu) if boost else 1.0) * v
    else:
        next_w = w + v
    if store:
        config["velocity"] = v
    return next_w, config


def _rmsprop(w: np.ndarray, dw: np.ndarray, config: Config | None = None, *,
             square: bool = True, sqrt: bool = True, swap_decay: bool = False,
             stale: bool = False, store: bool = True, fixed_epsilon: float | None = None) -> Step:
    """fixed_epsilon: used whatever config['epsilon'] says."""
    config = _config(config, learning_rate=1e-2, decay_rate=0.99, epsilon=1e-8,
                     a=np.zeros_like(w))
    rho = config["decay_rate"]
    keep, fresh = (1 - rho, rho) if swap_decay else (rho, 1 - rho)
    a_old = config["a"]
    a = keep * a_old + fresh * (dw**2 if square else dw)
    scale = a_old if stale else a
    eps = config["epsilon"] if fixed_epsilon is None else fixed_epsilon
    next_w = w - config["learning_rate"] * dw / ((np.sqrt(scale) if sqrt else scale) + eps)
    if store:
        config["a"] = a
    return next_w, config


def _adam(w: np.ndarray, dw: np.ndarray, config: Config | None = None, *,
          bias_correction: bool = True, sqrt: bool = True, swap_moments: bool = False,
          late_t: bool = False, swap_betas: bool = False, store_t: bool = True,
          store_corrected: bool = False, fixed_epsilon: float | None = None) -> Step:
    """fixed_epsilon: used whatever config['epsilon'] says."""
    config = _config(config, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8,
                     v=np.zeros_like(w), a=np.zeros_like(w), t=0)
    first, second = ("a", "v") if swap_moments else ("v", "a")
    b1, b2 = config["beta1"], config["beta2"]
    t = config["t"] + 1
    v = b1 * config[first] + (1 - b1) * dw
    a = b2 * config[second] + (1 - b2) * dw**2
    tc = t - 1 if late_t else t
    c1, c2 = (b2, b1) if swap_betas else (b1, b2)
    v_hat, a_hat = (v / (1 - c1**tc), a / (1 - c2**tc)) if bias_correction else (v, a)
    eps = config["epsilon"] if fixed_epsilon is None else fixed_epsilon
    next_w = w - config["learning_rate"] * v_hat / ((np.sqrt(a_hat) if sqrt else a_hat) + eps)
    config[first], config[second] = (v_hat, a_hat) if store_corrected else (v, a)
    config["t"] = t if store_t else t - 1
    return next_w, config


# Layers. Every forward/backward pair shares its own cache layout.


def _affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, *,
                    flatten: bool = True, bias: bool = True,
                    dtype: type | None = None) -> tuple[np.ndarray, tuple]:
    """dtype: the product is computed in it (np.float32), whatever the inputs' dtype."""
    rows = x.reshape(x.shape[0], -1) if flatten else x
    if dtype is not None:
        rows, w, b = rows.astype(dtype), w.astype(dtype), b.astype(dtype)
    return (rows @ w + b if bias else rows @ w), (x, w, b)


def _affine_backward(dout: np.ndarray, cache: tuple, *, reshape_dx: bool = True,
                     flatten_x: bool = True,
                     db_reduce: Callable[..., np.ndarray] | None = np.sum) -> tuple[np.ndarray, ...]:
    x, w, _ = cache
    dx = dout @ w.T
    dw = (x.reshape(x.shape[0], -1) if flatten_x else x).T @ dout
    db = dout.copy() if db_reduce is None else db_reduce(dout, axis=0)
    return (dx.reshape(x.shape) if reshape_dx else dx), dw, db


_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda x: np.maximum(x, 0),
    "abs": np.abs,
    "leaky": lambda x: np.maximum(x, 0.01 * x),
}


def _relu_forward(x: np.ndarray, *, activation: str = "relu") -> tuple[np.ndarray, np.ndarray]:
    return _ACTIVATIONS[activation](x), x


def _relu_backward(dout: np.ndarray, cache: np.ndarray, *, gate: str | None = "x") -> np.ndarray:
    """gate: which array's sign lets the gradient through ("x" or "dout"); None for no mask."""
    if gate is None:
        return dout.copy()
    return dout * ((cache if gate == "x" else dout) > 0)


def _batchnorm_forward(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict, *,
                       ddof: int = 0, test_batch_stats: bool = False,
                       swap_momentum: bool = False, write_back: bool = True,
                       update_at_test: bool = False, centre_in_place: bool = False,
                       test_eps: float | None = None, check_mode: bool = True) -> tuple[np.ndarray, tuple]:
    """New running statistics go into bn_param (the course interface); no array is modified in place
    but with centre_in_place (train mode ends with x -= mean, the caller's x).
    update_at_test: test mode normalises with the running statistics but also moves them.
    test_eps: test mode uses it whatever bn_param['eps'] says.
    check_mode=False: any mode but 'train' runs as test mode."""
    mode = bn_param["mode"]
    if mode != "train" and not check_mode:
        mode = "test"
    if mode not in ("train", "test"):
        raise ValueError(f'Invalid forward batchnorm mode "{mode}"')
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    if mode == "test" and test_eps is not None:
        eps = test_eps
    running_mean = bn_param.get("running_mean", np.zeros(x.shape[1], dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(x.shape[1], dtype=x.dtype))
    if mode == "test" and not test_batch_stats:
        mean, var = running_mean, running_var
    else:
        mean, var = x.mean(axis=0), x.var(axis=0, ddof=ddof)
    if (mode == "train" or update_at_test) and write_back:
        batch_mean, batch_var = x.mean(axis=0), x.var(axis=0, ddof=ddof)
        keep = 1 - momentum if swap_momentum else momentum
        bn_param["running_mean"] = keep * running_mean + (1 - keep) * batch_mean
        bn_param["running_var"] = keep * running_var + (1 - keep) * batch_var
    xhat = (x - mean) / np.sqrt(var + eps)
    out = gamma * xhat + beta
    if centre_in_place and mode == "train":
        x -= mean
    return out, (x, xhat, gamma, var + eps)


def _batchnorm_backward(dout: np.ndarray, cache: tuple, *, dmean: bool = True, dvar: bool = True,
                        gamma_in_dx: bool = True, dgamma_on_xhat: bool = True) -> tuple[np.ndarray, ...]:
    x, xhat, gamma, var_eps = cache
    dxhat = dout * gamma if gamma_in_dx else dout
    dx = dxhat
    if dmean:
        dx = dx - dxhat.mean(axis=0)
    if dvar:
        dx = dx - xhat * (dxhat * xhat).mean(axis=0)
    dgamma = (dout * (xhat if dgamma_on_xhat else x)).sum(axis=0)
    return dx / np.sqrt(var_eps), dgamma, dout.sum(axis=0)


def _dropout_forward(x: np.ndarray, dropout_param: dict, *, p_is_keep: bool = False,
                     inverted: bool = True, drop_at_test: bool = False, test_scale: bool = False,
                     default_seed: int | None = None, pop_seed: bool = False) -> tuple[np.ndarray, tuple]:
    """The mask keeps a unit where np.random.rand < keep probability, after seeding when asked
    (default_seed: seeding with it when dropout_param has no seed; pop_seed: the seed is taken out
    of the caller's dropout_param)."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    seed = dropout_param.pop("seed", default_seed) if pop_seed else dropout_param.get("seed", default_seed)
    if seed is not None:
        np.random.seed(seed)
    keep = p if p_is_keep else 1 - p
    if mode == "train" or drop_at_test:
        kept = np.random.rand(*x.shape) < keep
        mask = kept / keep if inverted else kept * 1.0
        return x * mask, (mode, kept, mask, keep, x)
    return (x * keep if test_scale else x), (mode, None, None, keep, x)


def _dropout_backward(dout: np.ndarray, cache: tuple, *, use_mask: bool = True,
                      scale: bool = True, redraw: bool = False, from_out: bool = False) -> np.ndarray:
    """scale=False applies the bare 0/1 mask, without the forward's 1/(1 - p);
    redraw=True draws a new mask instead of using the forward's; from_out=True reads the mask
    off the forward's output (out != 0), which also drops the kept units whose x was 0."""
    mode, kept, mask, keep, x = cache
    if mode != "train" or not use_mask:
        return dout
    if redraw:
        kept = np.random.rand(*dout.shape) < keep
        mask = kept / keep
    if from_out:
        kept = x * mask != 0
        mask = kept / keep
    return dout * (mask if scale else kept)


def _svm_loss(x: np.ndarray, y: np.ndarray, *, delta: float = 1.0, skip_correct: bool = True,
              correct_grad: bool = True, average_loss: bool = True,
              average_dx: bool = True) -> tuple[float, np.ndarray]:
    n, rows = x.shape[0], np.arange(x.shape[0])
    margins = np.maximum(0.0, x - x[rows, y][:, None] + delta)
    if skip_correct:
        margins[rows, y] = 0
    dx = (margins > 0).astype(x.dtype)
    if correct_grad:
        dx[rows, y] -= dx.sum(axis=1)
    loss = margins.sum()
    return (loss / n if average_loss else loss), (dx / n if average_dx else dx)


def _softmax_loss(x: np.ndarray, y: np.ndarray, *, subtract_one: bool = True,
                  average_loss: bool = True, average_dx: bool = True, subtract_max: bool = True,
                  in_place: bool = False, global_max: bool = False,
                  min_shift: bool = False) -> tuple[float, np.ndarray]:
    """in_place: the row maxima are subtracted from the caller's x itself; global_max: the
    largest score of the whole batch is subtracted instead of each row's; min_shift: each row's
    smallest score is."""
    n, rows = x.shape[0], np.arange(x.shape[0])
    if in_place:
        x -= x.max(axis=1, keepdims=True)
    top = x.max() if global_max else (x.min if min_shift else x.max)(axis=1, keepdims=True)
    shifted = x - top if subtract_max else x
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    dx = np.exp(log_p)
    if subtract_one:
        dx[rows, y] -= 1
    loss = -log_p[rows, y].sum()
    return (loss / n if average_loss else loss), (dx / n if average_dx else dx)


_IMPLEMENTATIONS: dict[str, Callable[..., Any]] = {
    "sgd": _sgd, "sgd_momentum": _sgd_momentum, "sgd_nesterov_momentum": _sgd_nesterov_momentum,
    "rmsprop": _rmsprop, "adam": _adam,
    "affine_forward": _affine_forward, "affine_backward": _affine_backward,
    "relu_forward": _relu_forward, "relu_backward": _relu_backward,
    "batchnorm_forward": _batchnorm_forward, "batchnorm_backward": _batchnorm_backward,
    "dropout_forward": _dropout_forward, "dropout_backward": _dropout_backward,
    "svm_loss": _svm_loss, "softmax_loss": _softmax_loss,
}
_PARTNERS = {f"{layer}_{a}": f"{layer}_{b}" for layer in ("affine", "relu", "batchnorm", "dropout")
             for a, b in (("forward", "backward"), ("backward", "forward"))}


def _backward_reads_last_cache(layer: str) -> Fingerprint:
    """The correct forward and a backward that reads the cache of the last forward call (kept in a
    module global), not the cache it is given."""
    forward, backward = _IMPLEMENTATIONS[f"{layer}_forward"], _IMPLEMENTATIONS[f"{layer}_backward"]
    last: dict[str, Any] = {}

    def remembering_forward(*args: Any) -> tuple[np.ndarray, tuple]:
        out, last["cache"] = forward(*args)
        return out, last["cache"]

    def backward_of_last(dout: np.ndarray, cache: Any) -> Any:
        return backward(dout, last["cache"])

    hint = (f"{layer}_backward uses the cache of the last {layer}_forward call (a module-level variable), "
            f"not the cache it is given: in a network each layer has its own cache, and the backward pass "
            f"runs after every forward; read everything from the cache argument.")
    return Fingerprint(f"{layer}_backward_uses_last_cache", f"layers.{layer}_backward", hint,
                       MappingProxyType({f"{layer}_forward": remembering_forward, f"{layer}_backward": backward_of_last}))


def _zero_is_default(rule: str, key: str, default: float) -> Fingerprint:
    """`config.get(key) or default`: the correct rule, except that config[key] = 0 counts as missing."""
    def step(w: np.ndarray, dw: np.ndarray, config: Config | None = None) -> Step:
        config = dict(config or {})
        if config.get(key) == 0:
            config[key] = default
        return _IMPLEMENTATIONS[rule](w, dw, config)

    hint = (f"config['{key}'] = 0 is treated as missing (`config.get('{key}') or {default}`), but 0 is a "
            f"valid {key}: use config.setdefault('{key}', {default}), which fills in a missing key only.")
    return Fingerprint(f"{rule}_zero_{key}_is_default", f"optim.{rule}", hint, MappingProxyType({rule: step}))


def _first_learning_rate(rule: str) -> Fingerprint:
    """The correct rule, stepping with the learning rate of the first call it saw in this config
    (a config without one steps with the rule's default, as the correct rule does)."""
    def step(w: np.ndarray, dw: np.ndarray, config: Config | None = None) -> Step:
        config = dict(config or {})
        if "learning_rate" in config:
            config.setdefault("first_learning_rate", config["learning_rate"])
            config["learning_rate"] = config["first_learning_rate"]
        return _IMPLEMENTATIONS[rule](w, dw, config)

    hint = ("The step keeps the learning rate of the first call: the Solver's lr_decay changes "
            "config['learning_rate'] between steps, so read it from config at every call.")
    return Fingerprint(f"{rule}_first_learning_rate", f"optim.{rule}", hint, MappingProxyType({rule: step}))


def _fingerprint(name: str, function: str, hint: str, **flags: Any) -> Fingerprint:
    """The buggy variant of `function` (flags set), plus the correct partner of a layer pass."""
    course_name = function.split(".", 1)[1]
    replaces = {course_name: partial(_IMPLEMENTATIONS[course_name], **flags)}
    if course_name in _PARTNERS:
        replaces[_PARTNERS[course_name]] = _IMPLEMENTATIONS[_PARTNERS[course_name]]
    return Fingerprint(name, function, hint, MappingProxyType(replaces))


IGNORES_EPSILON = ("The step ignores config['epsilon'] (a constant takes its place): read it from config, "
                   "with 1e-8 only as the default for a missing key.")

FINGERPRINTS: tuple[Fingerprint, ...] = (
    # sgd
    _fingerprint("sgd_no_learning_rate", "optim.sgd",
                 "Your step matches SGD without the learning rate: scale the gradient by "
                 "config['learning_rate'] before subtracting it.", use_lr=False),
    _fingerprint("sgd_sign_error", "optim.sgd",
                 "Your step goes uphill: SGD subtracts the scaled gradient from the weights.", sign=1.0),
    _first_learning_rate("sgd"),
    # sgd_momentum
    _fingerprint("momentum_dropped", "optim.sgd_momentum",
                 "Your update ignores the old velocity: the new velocity is momentum times the "
                 "stored velocity minus the learning rate times the gradient.", momentum=False),
    _fingerprint("momentum_velocity_not_stored", "optim.sgd_momentum",
                 "The weights move correctly but the new velocity never reaches the returned config, "
                 "so the next step starts from the old one: store it under 'velocity'.", store=False),
    _fingerprint("momentum_stores_negated_velocity", "optim.sgd_momentum",
                 "You keep the velocity with the opposite sign (adding the scaled gradient and "
                 "subtracting the velocity from w); the course's velocity is momentum times velocity "
                 "minus the scaled gradient, added to w.", sign=-1.0),
    _fingerprint("momentum_lr_outside_velocity", "optim.sgd_momentum",
                 "The learning rate multiplies the whole velocity instead of the gradient inside it: "
                 "scale only the gradient term when you update the velocity, then add the velocity to w.",
                 lr_in_velocity=False),
    _fingerprint("momentum_step_with_old_velocity", "optim.sgd_momentum",
                 "The weights move by the previous velocity: update the velocity first, then add the "
                 "new velocity to w.", step_with_old=True),
    _zero_is_default("sgd_momentum", "momentum", 0.9),
    _first_learning_rate("sgd_momentum"),
    # sgd_nesterov_momentum
    _fingerprint("nesterov_no_lookahead", "optim.sgd_nesterov_momentum",
                 "This is plain momentum, not Nesterov: undo the previous look-ahead (minus momentum "
                 "times the old velocity) and add (1 + momentum) times the new velocity. If your code "
                 "already does, the old velocity is probably an alias (v_prev = v) of the array you then "
                 "update in place: copy it first.", lookahead=False),
    _fingerprint("nesterov_sign_error", "optim.sgd_nesterov_momentum",
                 "The old-velocity term has the wrong sign: Nesterov subtracts momentum times the old "
                 "velocity, then adds (1 + momentum) times the new one.", old_sign=1.0),
    _fingerprint("nesterov_missing_one_plus_mu", "optim.sgd_nesterov_momentum",
                 "The new velocity is added once instead of (1 + momentum) times, which turns the "
                 "update back into plain SGD.", boost=False),
    _fingerprint("nesterov_velocity_not_stored", "optim.sgd_nesterov_momentum",
                 "The weights move correctly but the new velocity is not stored in the returned "
                 "config under 'velocity'.", store=False),
    _zero_is_default("sgd_nesterov_momentum", "momentum", 0.9),
    _first_learning_rate("sgd_nesterov_momentum"),
    # rmsprop
    _fingerprint("rmsprop_no_square", "optim.rmsprop",
                 "Your cache averages the gradient itself: RMSProp's cache 'a' is a moving average of "
                 "the squared gradient.", square=False),
    _fingerprint("rmsprop_no_sqrt", "optim.rmsprop",
                 "You divide by the cache itself: divide by its square root (plus epsilon).", sqrt=False),
    _fingerprint("rmsprop_swapped_decay", "optim.rmsprop",
                 "decay_rate and (1 - decay_rate) are swapped: the old cache keeps the decay_rate share "
                 "and the new squared gradient gets (1 - decay_rate).", swap_decay=True),
    _fingerprint("rmsprop_cache_not_stored", "optim.rmsprop",
                 "The step is right but the updated cache is not stored in the returned config "
                 "under 'a'.", store=False),
    _fingerprint("rmsprop_stale_cache", "optim.rmsprop",
                 "The step divides by the cache from before this iteration: update 'a' with the new "
                 "squared gradient first, then use it.", stale=True),
    _fingerprint("rmsprop_ignores_epsilon", "optim.rmsprop",
                 IGNORES_EPSILON, fixed_epsilon=1e-8),
    _zero_is_default("rmsprop", "decay_rate", 0.99),
    _first_learning_rate("rmsprop"),
    # adam
    _fingerprint("adam_no_bias_correction", "optim.adam",
                 "Your step matches Adam without bias correction: divide v and a by (1 - beta1**t) and "
                 "(1 - beta2**t) before the step.", bias_correction=False),
    _fingerprint("adam_late_t", "optim.adam",
                 "The bias correction uses the iteration count before this step: increment t first, "
                 "then correct with the new t.", late_t=True),
    _fingerprint("adam_swapped_moments", "optim.adam",
                 "The moments are stored under each other's keys: in this course 'v' is the first "
                 "moment (mean of the gradient) and 'a' the second (mean of its square); the "
                 "docstring's m/v names are Stanford's.", swap_moments=True),
    _fingerprint("adam_no_sqrt", "optim.adam",
                 "You divide by the corrected second moment itself: divide by its square root "
                 "(plus epsilon).", sqrt=False),
    _fingerprint("adam_swapped_betas", "optim.adam",
                 "The bias corrections use the wrong betas: the first moment is corrected with beta1, "
                 "the second with beta2.", swap_betas=True),
    _fingerprint("adam_t_not_stored", "optim.adam",
                 "The step is right but the incremented t is not stored in the returned config, so "
                 "every call corrects as if it were the first.", store_t=False),
    _fingerprint("adam_stores_corrected_moments", "optim.adam",
                 "You store the bias-corrected moments; keep the raw moving averages in 'v' and 'a' "
                 "and use the corrected ones only for the step.", store_corrected=True),
    _fingerprint("adam_ignores_epsilon", "optim.adam",
                 IGNORES_EPSILON, fixed_epsilon=1e-8),
    _zero_is_default("adam", "beta1", 0.9),
    _zero_is_default("adam", "beta2", 0.999),
    _first_learning_rate("adam"),
    # affine
    _fingerprint("affine_no_reshape", "layers.affine_forward",
                 "Inputs with more than two dimensions fail: flatten each example of x into a row "
                 "of length D before the product.", flatten=False),
    _fingerprint("affine_no_bias", "layers.affine_forward",
                 "The bias is missing: add b to every row of the product.", bias=False),
    _fingerprint("affine_float32", "layers.affine_forward",
                 "The product is computed in float32 whatever the inputs' dtype: float64 inputs lose "
                 "half their digits, and the numerical gradient checks fail; keep x's dtype.",
                 dtype=np.float32),
    _fingerprint("affine_dx_not_reshaped", "layers.affine_backward",
                 "dx comes back flattened: reshape it to the original shape of x.", reshape_dx=False),
    _fingerprint("affine_dw_not_flattened", "layers.affine_backward",
                 "dw has the wrong shape for inputs with more than two dimensions: use the flattened "
                 "(N, D) rows of x, as in the forward pass.", flatten_x=False),
    _fingerprint("affine_db_not_summed", "layers.affine_backward",
                 "db has one row per example: sum dout over the batch axis.", db_reduce=None),
    _fingerprint("affine_db_mean", "layers.affine_backward",
                 "db is averaged over the batch: the bias gradient is the sum of dout over the batch "
                 "axis.", db_reduce=np.mean),
    # relu
    _fingerprint("relu_abs", "layers.relu_forward",
                 "Negative inputs come out positive: ReLU sets them to zero rather than taking the "
                 "absolute value.", activation="abs"),
    _fingerprint("relu_leaky", "layers.relu_forward",
                 "Negative inputs leak through with a small slope: the course's ReLU outputs exactly "
                 "zero for them.", activation="leaky"),
    _fingerprint("relu_backward_no_mask", "layers.relu_backward",
                 "The gradient passes everywhere: zero it where the forward input was not positive.",
                 gate=None),
    _fingerprint("relu_backward_mask_on_dout", "layers.relu_backward",
                 "The gradient is masked by the sign of dout; the mask must come from the forward "
                 "input x (kept in the cache).", gate="dout"),
    # batchnorm
    _fingerprint("batchnorm_centres_x_in_place", "layers.batchnorm_forward",
                 "The batch mean is subtracted from the caller's x in place (x -= mean): the previous "
                 "layer's output changes under it; centre into a new array (x - mean).",
                 centre_in_place=True),
    _fingerprint("batchnorm_no_mode_check", "layers.batchnorm_forward",
                 "Any mode but 'train' runs as test mode, so a typo such as 'Train' evaluates silently: "
                 "raise ValueError for a mode that is neither 'train' nor 'test'.", check_mode=False),
    _fingerprint("batchnorm_test_ignores_eps", "layers.batchnorm_forward",
                 "Test mode divides by sqrt(running_var + 1e-5) whatever bn_param['eps'] says: use "
                 "bn_param's eps in both modes.", test_eps=1e-5),
    _fingerprint("batchnorm_unbiased_var", "layers.batchnorm_forward",
                 "You normalise with the unbiased variance (divided by N - 1): batchnorm uses the "
                 "biased one, divided by N.", ddof=1),
    _fingerprint("batchnorm_test_uses_batch_stats", "layers.batchnorm_forward",
                 "Test mode normalises with the statistics of the test batch: it must use "
                 "running_mean and running_var from bn_param.", test_batch_stats=True),
    _fingerprint("batchnorm_momentum_swapped", "layers.batchnorm_forward",
                 "momentum and (1 - momentum) are swapped in the running averages: the old running "
                 "value keeps the momentum share.", swap_momentum=True),
    _fingerprint("batchnorm_running_not_written", "layers.batchnorm_forward",
                 "The running mean and variance are computed but never written back into bn_param, "
                 "so test mode never sees them.", write_back=False),
    _backward_reads_last_cache("batchnorm"),
    _backward_reads_last_cache("affine"),
    _backward_reads_last_cache("relu"),
    _fingerprint("batchnorm_backward_no_mean_terms", "layers.batchnorm_backward",
                 "dx treats the batch mean and variance as constants: they depend on x too, so dx "
                 "needs the gradient paths through both of them.",
                 dmean=False, dvar=False),
    _fingerprint("batchnorm_backward_missing_dvar_term", "layers.batchnorm_backward",
                 "dx is missing the path through the batch variance: the variance depends on x, so "
                 "add its contribution to dx.", dvar=False),
    _fingerprint("batchnorm_backward_missing_dmean_term", "layers.batchnorm_backward",
                 "dx is missing the path through the batch mean: the mean depends on x, so add its "
                 "contribution to dx.", dmean=False),
    _fingerprint("batchnorm_backward_no_gamma", "layers.batchnorm_backward",
                 "dx is missing the factor gamma: the gradient on x_hat is dout times gamma.",
                 gamma_in_dx=False),
    _fingerprint("batchnorm_dgamma_raw_x", "layers.batchnorm_backward",
                 "dgamma uses the raw input; gamma multiplies the normalised x_hat, so sum dout "
                 "times x_hat.", dgamma_on_xhat=False),
    _fingerprint("batchnorm_test_updates_running", "layers.batchnorm_forward",
                 "Test mode moves the running mean and variance towards the test batch: at test time "
                 "only use them, so that evaluating the model does not change it.", update_at_test=True),
    # dropout (p is the probability of dropping a unit)
    _fingerprint("dropout_not_inverted", "layers.dropout_forward",
                 "Kept units are not scaled at train time: inverted dropout divides them by (1 - p) "
                 "so that test mode can be the identity.", inverted=False),
    _fingerprint("dropout_keep_prob", "layers.dropout_forward",
                 "You treat p as the probability of keeping a unit; in this course p is the "
                 "probability of dropping it.", p_is_keep=True),
    _fingerprint("dropout_test_drops", "layers.dropout_forward",
                 "Test mode still drops units: at test time the input passes through unchanged.",
                 drop_at_test=True),
    _fingerprint("dropout_test_scaled", "layers.dropout_forward",
                 "Test mode scales the input by (1 - p): with inverted dropout the scaling already "
                 "happened at train time, so test mode is the identity.", test_scale=True),
    _fingerprint("dropout_fixed_seed", "layers.dropout_forward",
                 "Without a 'seed' in dropout_param the RNG is still seeded with a constant, so every "
                 "training step drops the same units: seed only when dropout_param has a 'seed'.",
                 default_seed=0),
    _fingerprint("dropout_pops_seed", "layers.dropout_forward",
                 "dropout_param.pop('seed') takes the seed out of the caller's dict, so only the first call "
                 "is seeded: read it with dropout_param.get('seed') and leave the dict as it was.",
                 pop_seed=True),
    _backward_reads_last_cache("dropout"),
    _fingerprint("dropout_backward_redraws_mask", "layers.dropout_backward",
                 "The backward pass draws a mask of its own: without a seed it differs from the "
                 "forward's, so use the mask the forward kept in the cache.", redraw=True),
    _fingerprint("dropout_backward_mask_from_out", "layers.dropout_backward",
                 "The backward pass takes the mask to be out != 0, so a kept unit whose input was exactly 0 "
                 "(after a ReLU, say) gets no gradient: keep the forward's mask itself in the cache.",
                 from_out=True),
    _fingerprint("dropout_backward_no_mask", "layers.dropout_backward",
                 "The backward pass ignores the mask: multiply dout by the same mask (and scale) "
                 "as the forward pass.", use_mask=False),
    _fingerprint("dropout_backward_unscaled", "layers.dropout_backward",
                 "The backward pass applies the mask but not the 1 / (1 - p) scaling of the forward "
                 "pass.", scale=False),
    # svm
    _fingerprint("svm_no_margin", "layers.svm_loss",
                 "The hinge has no margin: a wrong class counts whenever its score plus 1 exceeds "
                 "the correct class's score.", delta=0.0),
    _fingerprint("svm_counts_correct_class", "layers.svm_loss",
                 "The correct class is counted against itself, adding 1 per example: leave it out "
                 "of the sum of margins.", skip_correct=False),
    _fingerprint("svm_missing_correct_class_gradient", "layers.svm_loss",
                 "dx is missing the correct-class entries: each example's correct class gets minus "
                 "the number of classes that violate the margin.", correct_grad=False),
    _fingerprint("svm_not_averaged", "layers.svm_loss",
                 "The loss and dx are summed over the batch: divide both by N.",
                 average_loss=False, average_dx=False),
    _fingerprint("svm_dx_not_averaged", "layers.svm_loss",
                 "The loss is averaged but dx is not: divide dx by N as well.", average_dx=False),
    # softmax
    _fingerprint("softmax_no_subtract_one", "layers.softmax_loss",
                 "dx is the probabilities alone: subtract 1 at each example's correct class.",
                 subtract_one=False),
    _fingerprint("softmax_no_max_shift", "layers.softmax_loss",
                 "exp of large scores overflows to inf (NaN loss): subtract each row's maximum score "
                 "before exp; the softmax does not change.", subtract_max=False),
    _fingerprint("softmax_shifts_scores_in_place", "layers.softmax_loss",
                 "The row maxima are subtracted from the caller's scores in place (x -= ...): the "
                 "caller's array changes, which breaks the numerical gradient check; use x - max.",
                 in_place=True),
    _fingerprint("softmax_global_max", "layers.softmax_loss",
                 "You subtract the largest score of the whole batch: a row whose scores are far below "
                 "it underflows to exp(...) = 0 and log 0 = -inf; subtract each row's own maximum "
                 "(x.max(axis=1, keepdims=True)).", global_max=True),
    _fingerprint("softmax_min_shift", "layers.softmax_loss",
                 "You subtract each row's minimum score (or another value below its maximum): for a "
                 "confident row, exp of the gap to the maximum overflows to inf and the loss is NaN; "
                 "subtract each row's maximum (x.max(axis=1, keepdims=True)).", min_shift=True),
    _fingerprint("softmax_not_averaged", "layers.softmax_loss",
                 "The loss and dx are summed over the batch: divide both by N.",
                 average_loss=False, average_dx=False),
    _fingerprint("softmax_dx_not_averaged", "layers.softmax_loss",
                 "The loss is averaged but dx is not: divide dx by N as well.", average_dx=False),
)


def fingerprints_for(function: str) -> tuple[Fingerprint, ...]:
    """The fingerprints of one graded function, e.g. "optim.adam"."""
    return tuple(fp for fp in FINGERPRINTS if fp.function == function)
