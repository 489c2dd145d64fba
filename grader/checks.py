"""The table of checks: for each graded function, what is checked, how, and whether it is public.

Kinds: fixed (the notebook's visible cases), property (Hypothesis differential tests against
the reference, or statistical properties for dropout), gradient (backward against centred
differences of the submission's own forward), invariant (facts that need no reference).
Public checks (everything but the differential ones) are what `grader check` runs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from grader import fixed_cases, strategies as gen
from grader.compare import (FIXED_CASE_REL_ERROR, GRADIENT_ATOL, GRADIENT_RTOL, Mismatch, compare_outputs,
                            compare_value, input_scale, precision_lost, rel_error, tolerance_for)
from grader.functions import GRADIENTS, PROBES, RULES, ContractError, Namespace, as_array, fresh, unpack
from grader.hints import describe, hint_for, name_the_bug
from grader.sandbox import SubmissionError

SEEN_FOR_DIAGNOSIS = 40       # cases of a failed search (shrinking's included) a fingerprint must reproduce
GENERATED_FOR_DIAGNOSIS = 30  # and generated ones besides (shrunk cases lose optional state, e.g. a velocity)


@dataclass
class Outcome:
    status: str                        # passed | failed | error
    message: str = ""
    counterexample: Any = None
    hint: str | None = None
    diagnosis: str | None = None      # the known bug named in the hint


@dataclass(frozen=True)
class Finding:
    """What a property check found, and the known bug it amounts to (a fingerprint name)."""
    message: str
    diagnosis: str | None = None


@dataclass
class Context:
    submission: Namespace              # the submission's functions, in the reference's conventions
    reference: Namespace | None        # None for the public self-check
    examples: int = 25                 # Hypothesis examples per property check
    # "module.function" -> whether its calls changed numpy's global random state where they ran
    # (Sandbox.changed_random_state); None: the submission runs in this process
    changed_random_state: Callable[[str], bool] | None = None


@dataclass(frozen=True)
class Check:
    id: str
    function: str
    kind: str
    description: str
    run: Callable[[Context], Outcome] = field(repr=False)
    public: bool = True


class Failure(Exception):
    """A counterexample: the case, what went wrong, and the submission's outputs if any."""
    def __init__(self, case: dict, message: str, got: dict | None = None, hint: str | None = None,
                 error: bool = False, diagnosis: str | None = None):
        super().__init__(message)
        self.case, self.message, self.got, self.hint, self.error = case, message, got, hint, error
        self.diagnosis = diagnosis


def attempt(case: dict, call: Callable[[], Any]) -> Any:
    """Run `call`; the submission's errors and malformed results become a Failure."""
    try:
        return call()
    except SubmissionError as e:
        raise Failure(case, f"{e.kind}: {e.message}", error=True) from None
    except ContractError as e:
        raise Failure(case, str(e), error=True) from None


def search(cases: st.SearchStrategy, evaluate: Callable[[dict], None], examples: int) -> Failure | None:
    """Hypothesis, derandomised, no database: the last Failure raised is the shrunk one."""
    failures: list[Failure] = []

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None, print_blob=False,
              suppress_health_check=list(HealthCheck), phases=(Phase.explicit, Phase.generate, Phase.shrink))
    @given(cases)
    def run(case):
        try:
            evaluate(case)
        except Failure as failure:
            failures.append(failure)
            raise

    try:
        run()
    except Exception:
        if not failures:
            raise
    return failures[-1] if failures else None


def outcome(failure: Failure | None, passed: str) -> Outcome:
    if failure is None:
        return Outcome("passed", passed)
    return Outcome("error" if failure.error else "failed", failure.message,
                   counterexample=to_json(failure.case), hint=failure.hint, diagnosis=failure.diagnosis)


def to_json(value: Any) -> Any:
    """A case as plain JSON: arrays become nested lists (with their dtype noted)."""
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


# --- fixed: the notebook's cases ------------------------------------------------------------

def fixed_check(function: str, case: dict, expected: dict) -> Callable[[Context], Outcome]:
    """The notebook's measure: rel_error below FIXED_CASE_REL_ERROR on every expected output."""
    def run(ctx: Context) -> Outcome:
        try:
            got = attempt(case, lambda: PROBES[function](ctx.submission, case))
        except Failure as failure:
            return outcome(failure, "")
        for name, want in expected.items():
            mismatch = _fixed_mismatch(name, want, got)
            if mismatch:
                return Outcome("failed", mismatch.message, to_json(case), describe(mismatch, expected, got))
        return Outcome("passed", "matches the notebook's expected values")
    return run


def _fixed_mismatch(name: str, want: Any, got: dict) -> Mismatch | None:
    if name not in got:
        return Mismatch(name, f"`{name}` is missing from what your function returned")
    if not isinstance(want, np.ndarray):
        return compare_value(name, want, got[name], 0.0)
    malformed = compare_value(name, want, got[name], np.inf)
    if malformed:
        return malformed
    error = rel_error(want, got[name])
    if error > FIXED_CASE_REL_ERROR:
        return Mismatch(name, f"`{name}`: rel_error {error:.2e} against the notebook's expected values "
                              f"(needs < {FIXED_CASE_REL_ERROR:g})", rel_error=error)
    return None


def _rule_fixed_case(rule: str) -> tuple[dict, dict]:
    config, expected = fixed_cases.RULE_CASES[rule]
    return {"w": fixed_cases.W, "dws": [fixed_cases.DW], "config": config}, expected


# --- property: differential against the reference ---------------------------------------------

def differential(function: str, cases: st.SearchStrategy) -> Callable[[Context], Outcome]:
    """The submission's outputs equal the reference's on every generated case, in float64 when the
    inputs are, and its calls leave numpy's global random state alone (dropout is not judged so)."""
    probe = PROBES[function]

    def run(ctx: Context) -> Outcome:
        seen: list[tuple[dict, dict]] = []

        def evaluate(case: dict) -> None:
            want = probe(ctx.reference, case)
            random_state = np.random.get_state()
            got = attempt(case, lambda: probe(ctx.submission, case))
            if len(seen) < SEEN_FOR_DIAGNOSIS:
                seen.append((case, got))
            mismatch = compare_outputs(want, got, *tolerance_for(case))
            if mismatch:
                raise Failure(case, mismatch.message, got, describe(mismatch, want, got))
            narrowed = precision_lost(case, got)
            if narrowed:
                raise Failure(case, narrowed.message, got)
            if _changed_random_state(ctx, function, random_state):
                raise Failure(case, f"the outputs are right, but a call of {function.split('.')[1]} changed numpy's "
                              f"global random state (np.random.seed, or a draw from np.random): only dropout may "
                              f"use it; a seed left in, say, a loss makes the Solver draw the same minibatch at "
                              f"every step")

        failure = search(cases, evaluate, ctx.examples)
        if failure is not None and failure.got is not None:
            seen.append((failure.case, failure.got))
            seen.extend(answered(ctx.submission, probe, cases, GENERATED_FOR_DIAGNOSIS))
            known = name_the_bug(function, probe, ctx.reference, seen, tolerance_for)
            if known:
                failure.hint, failure.diagnosis = known.hint, known.name
        return outcome(failure, f"agrees with the reference on {ctx.examples} generated cases")
    return run


def answered(ns: Namespace, probe: Callable[[Namespace, dict], dict], cases: st.SearchStrategy,
             count: int) -> list[tuple[dict, dict]]:
    """The first `count` generated cases with ns's outputs (those it cannot answer left out)."""
    answers: list[tuple[dict, dict]] = []

    def collect(case: dict) -> None:
        try:
            answers.append((case, probe(ns, case)))
        except (SubmissionError, ContractError):
            pass

    search(cases, collect, count)
    return answers


# --- gradient: backward against the submission's own forward ------------------------------------

def gradient(function: str, cases: st.SearchStrategy, deterministic: bool = True) -> Callable[[Context], Outcome]:
    """The backward agrees with centred differences of the same namespace's forward; when grading
    (a reference at hand) a deterministic function whose forward is flat (numerical gradient 0)
    where the reference's is not fails too: a stub returning zeros has no gradient to check. (A
    correct dropout may draw another mask than the reference's, one that drops every unit.)"""
    probe = GRADIENTS[function]

    def run(ctx: Context) -> Outcome:
        def evaluate(case: dict) -> None:
            analytic, numeric = attempt(case, lambda: probe(ctx.submission, case))
            if numeric is None:
                return   # the forward answers the same inputs differently: its own checks say so
            mismatch = compare_outputs(numeric, analytic, GRADIENT_RTOL, GRADIENT_ATOL * input_scale(case))
            if mismatch:
                raise Failure(case, "backward disagrees with centred differences of your forward: "
                              + mismatch.message, hint=describe(mismatch, numeric, analytic))
            if (deterministic and ctx.reference is not None and _all_zero(numeric)
                    and not _all_zero(probe(ctx.reference, case)[1], 1e-6)):
                raise Failure(case, "the numerical gradient of your forward is zero here, where the course's "
                                    "function has one: your forward does not depend on its inputs")

        failure = search(cases, evaluate, max(3, ctx.examples // 4))
        return outcome(failure, "backward matches centred differences of your forward")
    return run


def _all_zero(gradients: dict, atol: float = 0.0) -> bool:
    return all(np.all(np.abs(np.asarray(g, dtype=float)) <= atol) for g in gradients.values())


# --- invariants and dropout properties: no reference needed -------------------------------------

def invariant(cases: st.SearchStrategy, prop: Callable[[Namespace, dict], str | Finding | None],
              examples: int | None = None) -> Callable[[Context], Outcome]:
    """`prop(ns, case)` returns None when the property holds, else what is wrong."""
    def run(ctx: Context) -> Outcome:
        def evaluate(case: dict) -> None:
            problem = attempt(case, lambda: prop(ctx.submission, case))
            if problem:
                found = problem if isinstance(problem, Finding) else Finding(problem)
                hint = hint_for(found.diagnosis) or found.message
                raise Failure(case, found.message, hint=hint, diagnosis=found.diagnosis)
        return outcome(search(cases, evaluate, examples or ctx.examples), "holds on every generated case")
    return run


def _changed_random_state(ctx: Context, function: str, before: tuple) -> bool:
    """Whether `function` has changed numpy's global random state where it runs: as the sandbox
    saw it, or, in this process, since `before` (np.random.get_state())."""
    if ctx.changed_random_state is not None:
        return ctx.changed_random_state(function)
    after = np.random.get_state()
    return not (np.array_equal(before[1], after[1]) and before[2:] == after[2:])


def _step(ns: Namespace, rule: str, w: np.ndarray, dw: np.ndarray, config: dict) -> tuple[np.ndarray, dict]:
    next_w, config = unpack(ns[rule](fresh(w), fresh(dw), fresh(config)), ("next_w", "config"), rule)
    return as_array(next_w, "next_w"), config


def _differs(name: str, want: Any, have: Any, rtol: float, atol: float = 0.0) -> str | None:
    mismatch = compare_value(name, want, have, rtol, atol)
    return mismatch.message if mismatch else None


def momentum_zero_is_sgd(rule: str):
    def prop(ns: Namespace, case: dict) -> str | None:
        config = {**case["config"], "momentum": 0.0}
        lr = config.get("learning_rate", 1e-2)
        next_w, _ = _step(ns, rule, case["w"], case["dws"][0], config)
        problem = _differs("next_w", case["w"] - lr * case["dws"][0], next_w, *tolerance_for(case))
        return problem and f"with momentum 0 the step should be plain SGD (w - lr * dw): {problem}"
    return prop


def zero_gradient_is_fixed(rule: str, cleared: tuple[str, ...]):
    """From a fresh state, a zero gradient leaves w unchanged and a nonzero one moves it."""
    def prop(ns: Namespace, case: dict) -> str | None:
        config = {k: v for k, v in case["config"].items() if k not in cleared}
        next_w, _ = _step(ns, rule, case["w"], np.zeros_like(case["w"]), config)
        problem = _differs("next_w", case["w"], next_w, *tolerance_for(case))
        if problem:
            return f"a zero gradient from a fresh state should leave w unchanged: {problem}"
        moved, _ = _step(ns, rule, case["w"], case["dws"][0], config)
        if np.array_equal(moved, case["w"]):
            return "a nonzero gradient should move w, but your step returned w unchanged"
        return None
    return prop


def scale_invariant_step(rule: str):
    """From a fresh state with epsilon negligible, the first step does not depend on |dw|."""
    def prop(ns: Namespace, case: dict) -> str | None:
        w, dw = case["w"], case["dws"][0]
        dw = np.where(dw < 0, -1, 1) * (0.5 + np.abs(dw))
        config = {k: v for k, v in case["config"].items() if k in ("learning_rate", "decay_rate", "beta1", "beta2")}
        config["epsilon"] = 1e-12
        step = _step(ns, rule, w, dw, config)[0] - w
        if not np.all(step * dw < 0):
            return f"the first {rule} step from a fresh state should move every weight against its gradient"
        for factor in (0.1, 10.0):
            scaled = _step(ns, rule, w, dw * factor, config)[0] - w
            problem = _differs("step", step, scaled, 1e-4)
            if problem:
                return (f"scaling the gradient by {factor:g} should not change the {rule} step "
                        f"(it divides by the root of the squared-gradient average): {problem}")
        return None
    return prop


def epsilon_is_used(rule: str):
    """From a fresh state with gradients of 1e-6 (root of the squared-gradient average ~1e-6),
    config['epsilon'] = 1e-3 gives a much smaller first step than 1e-8, wherever it is added, and
    no 'epsilon' key gives the step of 1e-8 (the course's default)."""
    def prop(ns: Namespace, case: dict) -> Finding | None:
        w = case["w"]
        dw = np.where(case["dws"][0] < 0, -1e-6, 1e-6).astype(w.dtype)
        config = {k: v for k, v in case["config"].items() if k in ("learning_rate", "decay_rate", "beta1", "beta2")}
        small_eps = _step(ns, rule, w, dw, {**config, "epsilon": 1e-8})[0] - w
        large_eps = _step(ns, rule, w, dw, {**config, "epsilon": 1e-3})[0] - w
        if np.allclose(large_eps, small_eps, rtol=0.1, atol=0.0):
            return Finding(f"config['epsilon'] = 1e-3 gave the same {rule} step as 1e-8 for gradients of "
                           f"1e-6: use the epsilon in config (its default only when the key is absent)",
                           f"{rule}_ignores_epsilon")
        default_eps = _step(ns, rule, w, dw, config)[0] - w
        if not np.allclose(default_eps, small_eps, rtol=1e-3, atol=0.0):
            return Finding(f"with no 'epsilon' in config the {rule} step for gradients of 1e-6 differs from the "
                           f"step with epsilon 1e-8: the default epsilon is 1e-8")
        return None
    return prop


def batchnorm_normalises(ns: Namespace, case: dict) -> str | None:
    x = case["x"].astype(np.float64) * 100.0
    out, _ = unpack(ns["batchnorm_forward"](x, case["gamma"].astype(np.float64), case["beta"].astype(np.float64),
                                            {"mode": "train"}), ("out", "cache"), "batchnorm_forward")
    out = as_array(out, "out")
    if out.shape != x.shape:
        return f"out has shape {out.shape}, expected {x.shape}"
    mean_problem = _differs("mean of out", case["beta"], out.mean(axis=0), 1e-6)
    std_problem = _differs("std of out", np.abs(case["gamma"]), out.std(axis=0), 1e-3)
    problem = mean_problem or std_problem
    return problem and f"in train mode each feature of out should have mean beta and std |gamma|: {problem}"


def batchnorm_uses_eps(ns: Namespace, case: dict) -> Finding | None:
    """bn_param['eps'] = 0.5 gives another out than 1e-5, in train and in test mode."""
    args = [case["x"], case["gamma"], case["beta"]]
    outs = []
    for eps in (1e-5, 0.5):
        out, _ = unpack(ns["batchnorm_forward"](*fresh(args), {**fresh(case["bn_param"]), "eps": eps}),
                        ("out", "cache"), "batchnorm_forward")
        outs.append(as_array(out, "out"))
    if outs[0].shape == outs[1].shape and np.allclose(outs[0], outs[1], rtol=1e-3, atol=0.0):
        mode = case["bn_param"]["mode"]
        return Finding(f"in {mode} mode bn_param['eps'] = 0.5 gave the same out as 1e-5: divide by "
                       f"sqrt(var + bn_param['eps']) (1e-5 only when the key is absent)",
                       "batchnorm_test_ignores_eps" if mode == "test" else None)
    return None


def batchnorm_rejects_unknown_mode(ns: Namespace, case: dict) -> Finding | None:
    """A mode other than 'train' or 'test' raises ValueError (API.md)."""
    bn_param = {**fresh(case["bn_param"]), "mode": "Train"}
    try:
        ns["batchnorm_forward"](*fresh([case["x"], case["gamma"], case["beta"]]), bn_param)
    except ValueError:
        return None
    except SubmissionError as error:
        if error.kind == "exception" and error.message.startswith("ValueError"):
            return None
        raise
    return Finding("bn_param['mode'] = 'Train' should raise ValueError (only 'train' and 'test' are modes)",
                   "batchnorm_no_mode_check")


def _dropout_call(ns: Namespace, x: np.ndarray, param: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    """-> out (checked to have x's shape), the copies of x and param passed in as they are after the call."""
    argument, param_argument = fresh(x), fresh(param)
    out, _ = unpack(ns["dropout_forward"](argument, param_argument), ("out", "cache"), "dropout_forward")
    out = as_array(out, "out")
    if out.shape != x.shape:
        raise ContractError(f"out has shape {out.shape}, expected {x.shape}")
    return out, argument, param_argument


def _same_setting(after: Any, before: Any) -> bool:
    """after == before for a setting (a number or a string); anything that does not compare is changed."""
    try:
        return bool(after == before)
    except Exception:
        return False


def _dropout(ns: Namespace, x: np.ndarray, param: dict) -> np.ndarray:
    return _dropout_call(ns, x, param)[0]


def dropout_train_mask(ns: Namespace, case: dict) -> Finding | None:
    """x and dropout_param are left as they were; about p of the units are zeroed, the others are
    x / (1 - p)."""
    x, param = case["x"], case["dropout_param"]
    p = param["p"]
    out, argument, param_after = _dropout_call(ns, x, param)
    if not (argument.shape == x.shape and np.array_equal(argument, x)):
        return Finding("your function changed its argument `x` in place, and the caller still uses it: "
                       "compute out as a new array (out = x * mask)")
    changed = [key for key, value in param.items()
               if key not in param_after or not _same_setting(param_after[key], value)]
    if changed:
        removed = changed[0] not in param_after
        return Finding(f"your function {'removed' if removed else 'changed'} dropout_param[{changed[0]!r}] (the "
                       f"caller's dict, used again on the next call): read the settings, do not pop or overwrite them",
                       "dropout_pops_seed" if removed and changed[0] == "seed" else None)
    dropped = float(np.mean(out == 0))
    if abs(dropped - p) > 0.06:
        as_keep = abs(dropped - (1 - p)) < 0.06
        reading = " (that is 1 - p: p is the probability of DROPPING a unit)" if as_keep else ""
        return Finding(f"with p = {p:g}, {dropped:.3f} of the units were dropped, expected about {p:g}{reading}",
                       "dropout_keep_prob" if as_keep else None)
    kept = out != 0
    scale = out[kept] / x[kept]
    if not np.allclose(scale, 1 / (1 - p), rtol=1e-6):
        seen = float(np.median(scale))
        not_inverted = bool(np.isclose(seen, 1))
        why = " (dropout must be inverted: scale kept units by 1 / (1 - p) at train time)" if not_inverted else ""
        return Finding(f"kept units should be x / (1 - p) = x * {1 / (1 - p):.6g}, got x * {seen:.6g}{why}",
                       "dropout_not_inverted" if not_inverted else None)
    return None


def dropout_random(ns: Namespace, case: dict) -> Finding | None:
    """The same seed gives the same mask; another seed, or none, another one; units are drawn on
    their own (the mask's rows are not all alike, nor its columns)."""
    x, param = case["x"], case["dropout_param"]
    first = _dropout(ns, x, param)
    if not np.array_equal(first, _dropout(ns, x, param)):
        return Finding("two train-mode calls with the same 'seed' gave different outputs: seed the RNG with it")
    if np.array_equal(first != 0, _dropout(ns, x, {**param, "seed": param["seed"] + 1}) != 0):
        return Finding("two different 'seed' values gave the same mask: seed the RNG with dropout_param['seed']")
    unseeded = {k: v for k, v in param.items() if k != "seed"}
    if np.array_equal(_dropout(ns, x, unseeded) != 0, _dropout(ns, x, unseeded) != 0):
        return Finding("two train-mode calls without a 'seed' gave the same mask: seed the RNG only when "
                       "dropout_param has a 'seed'", "dropout_fixed_seed")
    kept = first != 0
    if np.all(kept == kept[:1]) or np.all(kept == kept[:, :1]):
        return Finding("every row (or every column) of the mask is the same: draw one random number per unit, "
                       "a mask of x's shape")
    return None


def dropout_test_identity(ns: Namespace, case: dict) -> Finding | None:
    x = case["x"]
    out = _dropout(ns, x, {**case["dropout_param"], "mode": "test"})
    problem = _differs("out", x, out, 1e-12)
    if problem is None:
        return None
    known = "dropout_test_drops" if np.any(out == 0) else "dropout_test_scaled" if _scaled(x, out) else None
    return Finding(f"in test mode dropout must return x unchanged: {problem}", known)


def _scaled(want: np.ndarray, have: np.ndarray) -> bool:
    """have == c * want for one constant c."""
    ratio = have / want
    return bool(np.allclose(ratio, ratio.flat[0], rtol=1e-9))


def dropout_expectation(ns: Namespace, case: dict) -> str | None:
    x = np.ones((200, 200))
    out = _dropout(ns, x, case["dropout_param"])
    mean = float(out.mean())
    if abs(mean - 1) > 0.05:
        return f"train-mode dropout should keep the expectation: mean of dropout(ones) is {mean:.4f}, expected 1"
    return None


def dropout_backward_mask(ns: Namespace, case: dict) -> Finding | None:
    """dx = dout where the forward kept a unit (scaled like the forward), 0 where it dropped it.
    The forward runs without a seed, as in training, and a second forward runs before the backward,
    so only the first forward's cache can give that dx. Then, in train mode, _dropout_backward_at_zeros."""
    param = {k: v for k, v in case["dropout_param"].items() if k != "seed"}
    x, dout = case["x"], case["dout"]
    out, cache = unpack(ns["dropout_forward"](fresh(x), fresh(param)), ("out", "cache"), "dropout_forward")
    out = as_array(out, "out")
    second_out, _ = unpack(ns["dropout_forward"](fresh(x), fresh(param)), ("out", "cache"), "dropout_forward")
    dx = ns["dropout_backward"](fresh(dout), cache)
    train = param["mode"] == "train"
    want = dout * (out / x) if train else dout
    problem = _differs("dx", want, dx, 1e-6)
    if problem is None:
        return _dropout_backward_at_zeros(ns, case) if train else None
    known = {"dropout_backward_no_mask": dout, "dropout_backward_unscaled": dout * (out != 0),
             "dropout_backward_uses_last_cache": dout * (as_array(second_out, "out") / x)}
    named = next((name for name, wrong in known.items() if _differs("dx", wrong, dx, 1e-6) is None), None)
    if named is None and train and _another_mask(dout, as_array(dx, "dx"), param["p"]):
        named = "dropout_backward_redraws_mask"
    return Finding(f"dx should be dout masked and scaled exactly as your forward did: {problem}", named)


def _dropout_backward_at_zeros(ns: Namespace, case: dict) -> Finding | None:
    """With x exactly 0 at some units (as after a ReLU), a kept unit still passes dout / (1 - p):
    dx does not depend on x. The mask is read off a forward of x (no zeros) under the case's seed;
    a forward that does not repeat itself under a seed is left to the forward's own checks."""
    x, dout, param = case["x"], case["dout"], case["dropout_param"]
    zeroed = x.copy()
    zeroed.flat[::3] = 0
    scale = as_array(_dropout(ns, x, param), "out") / x
    out, cache = unpack(ns["dropout_forward"](fresh(zeroed), fresh(param)), ("out", "cache"), "dropout_forward")
    if _differs("out", zeroed * scale, as_array(out, "out"), 1e-6):
        return None
    _dropout(ns, x, {**param, "seed": param["seed"] + 1})   # another forward before the backward
    dx = ns["dropout_backward"](fresh(dout), cache)
    problem = _differs("dx", dout * scale, dx, 1e-6)
    if problem is None:
        return None
    from_out = _differs("dx", dout * scale * (zeroed != 0), dx, 1e-6) is None
    return Finding(f"with x exactly 0 at every third unit (as after a ReLU), a kept unit's dx should still be "
                   f"dout / (1 - p): {problem}", "dropout_backward_mask_from_out" if from_out else None)


def _another_mask(dout: np.ndarray, dx: np.ndarray, p: float) -> bool:
    """dx is dout under some inverted-dropout mask: each entry 0 or dout / (1 - p)."""
    return dx.shape == dout.shape and bool(np.all(np.isclose(dx, 0) | np.isclose(dx, dout / (1 - p))))


# At all-zero scores over C classes, with onehot the (N, C) indicator of y:
# svm: loss C - 1, dx = (1 - C * onehot) / N (every margin is 1);
# softmax: loss log C, dx = (1 / C - onehot) / N (uniform probabilities).
ZERO_SCORES = {
    "svm_loss": (lambda c: c - 1.0, lambda onehot, c: (1 - c * onehot) / len(onehot)),
    "softmax_loss": (np.log, lambda onehot, c: (1 / c - onehot) / len(onehot)),
}


def loss_of_zero_scores(name: str):
    """The loss and dx of all-zero scores (ties everywhere) are ZERO_SCORES[name]."""
    loss_at_zero, dx_at_zero = ZERO_SCORES[name]

    def prop(ns: Namespace, case: dict) -> str | None:
        (n, c), y = case["x"].shape, case["y"]
        loss, dx = unpack(ns[name](np.zeros((n, c)), fresh(y)), ("loss", "dx"), name)
        onehot = np.eye(c)[y]
        problem = (_differs("loss", loss_at_zero(c), loss, *tolerance_for(case))   # log(p + 1e-8) passes
                   or _differs("dx", dx_at_zero(onehot, c), as_array(dx, "dx"), *tolerance_for(case)))
        return problem and f"all-zero scores over {c} classes: {problem}"
    return prop


def loss_is_averaged(name: str):
    """Repeating every row leaves the loss unchanged and halves dx: the loss is a mean over N."""
    def prop(ns: Namespace, case: dict) -> str | None:
        x, y = case["x"].astype(np.float64), case["y"]
        loss, dx = unpack(ns[name](fresh(x), fresh(y)), ("loss", "dx"), name)
        loss2, dx2 = unpack(ns[name](np.concatenate([x, x]), np.concatenate([y, y])), ("loss", "dx"), name)
        dx = as_array(dx, "dx")
        problem = _differs("loss", loss, loss2, 1e-9) or _differs("dx", np.concatenate([dx, dx]) / 2, dx2, 1e-9)
        return problem and f"the loss should be averaged over the N rows (repeating every row): {problem}"
    return prop


def _finite(loss: Any, dx: Any) -> bool:
    """Whether a loss and its dx hold no inf or NaN."""
    return bool(np.all(np.isfinite(np.asarray(dx, dtype=float)))) and bool(np.isfinite(float(loss)))


def loss_ignores_shift(name: str, shift: float = 1000.0):
    """Adding `shift` to every score, then shift * (i + 1) to the scores of row i, changes neither
    loss nor dx: both depend on differences within a row only. exp(1000) overflows float64, so a
    softmax must subtract each row's own maximum first (the batch's maximum underflows other rows)."""
    def prop(ns: Namespace, case: dict) -> Finding | None:
        x, y = case["x"].astype(np.float64), case["y"]
        loss, dx = unpack(ns[name](fresh(x), fresh(y)), ("loss", "dx"), name)
        for per_row in (False, True):
            offsets = shift * (np.arange(1, len(x) + 1)[:, None] if per_row else np.ones((1, 1)))
            shifted_loss, shifted_dx = unpack(ns[name](x + offsets, fresh(y)), ("loss", "dx"), name)
            atol = 1e-9 * float(offsets.max())
            problem = (_differs("loss", loss, shifted_loss, 1e-9, atol)
                       or _differs("dx", as_array(dx, "dx"), shifted_dx, 1e-9, atol))
            if problem:
                finite = _finite(shifted_loss, shifted_dx)
                known = "softmax_global_max" if per_row else "softmax_no_max_shift"
                added = (f"{shift:g} to every score of the first row, {2 * shift:g} to the second, and so on,"
                         if per_row else f"{shift:g} to every score")
                return Finding(f"adding {added} should change nothing (only differences within a row count; "
                               f"subtract each row's maximum before exp): {problem}",
                               known if not finite and name == "softmax_loss" else None)
        return None
    return prop


def loss_of_confident_scores(name: str, gap: float = 1000.0):
    """Lowering every wrong class's score by `gap` makes each row a confident right answer: loss 0
    and dx 0, to within the relative tolerance of an order-1 loss (a guarded log(p + 1e-8) passes).
    exp(gap) overflows float64, so a softmax shifted by less than each row's maximum (its minimum,
    its mean) gives NaN here."""
    def prop(ns: Namespace, case: dict) -> Finding | None:
        x, y = case["x"].astype(np.float64), case["y"]
        confident = np.where(np.eye(x.shape[1], dtype=bool)[y], x, x - gap)
        loss, dx = unpack(ns[name](confident, fresh(y)), ("loss", "dx"), name)
        rtol, _ = tolerance_for(case)
        problem = (_differs("loss", 0.0, loss, rtol, rtol)
                   or _differs("dx", np.zeros_like(x), as_array(dx, "dx"), rtol, rtol))
        if problem is None:
            return None
        finite = _finite(loss, dx)
        return Finding(f"with every wrong class's score lowered by {gap:g} (a confident right answer) the loss "
                       f"and dx should be 0: {problem}",
                       "softmax_min_shift" if not finite and name == "softmax_loss" else None)
    return prop


# --- the table ---------------------------------------------------------------------------------

def _rule_checks(rule: str) -> list[Check]:
    f = f"optim.{rule}"
    checks = [
        Check(f"{f}/property/step", f, "property", "one step from a given state",
              differential(f, gen.rule_cases(rule, config_may_be_none=True)), public=False),
        Check(f"{f}/property/trajectory", f, "property", "several steps chaining the returned config",
              differential(f, gen.rule_cases(rule, max_steps=4)), public=False),
    ]
    if rule in fixed_cases.RULE_CASES:
        checks.append(Check(f"{f}/fixed/notebook", f, "fixed", "the notebook's case", fixed_check(f, *_rule_fixed_case(rule))))
    if rule in ("sgd_momentum", "sgd_nesterov_momentum"):
        checks.append(Check(f"{f}/invariant/momentum-zero", f, "invariant", "momentum 0 is plain SGD",
                            invariant(gen.rule_cases(rule), momentum_zero_is_sgd(rule))))
    cleared = {"sgd": (), "sgd_momentum": ("velocity",), "sgd_nesterov_momentum": ("velocity",),
               "rmsprop": (), "adam": ("v",)}[rule]
    checks.append(Check(f"{f}/invariant/zero-gradient", f, "invariant", "a zero gradient leaves w unchanged",
                        invariant(gen.rule_cases(rule), zero_gradient_is_fixed(rule, cleared))))
    if rule in ("rmsprop", "adam"):
        checks.append(Check(f"{f}/invariant/scale", f, "invariant", "the first step ignores the gradient's scale",
                            invariant(gen.rule_cases(rule), scale_invariant_step(rule))))
        checks.append(Check(f"{f}/invariant/epsilon", f, "invariant", "config['epsilon'] is used (default 1e-8)",
                            invariant(gen.rule_cases(rule), epsilon_is_used(rule))))
    return checks


F64 = st.just(np.float64)


def _smooth_margins(case: dict) -> bool:
    """No SVM margin within 1e-3 of its hinge, where centred differences would straddle the kink."""
    x, y = case["x"], case["y"]
    margins = x - x[np.arange(len(y)), y][:, None] + 1.0
    margins[np.arange(len(y)), y] = 1.0
    return bool(np.min(np.abs(margins)) > 1e-3)


CHECKS: tuple[Check, ...] = (
    *(check for rule in RULES for check in _rule_checks(rule)),
    Check("layers.affine_forward/fixed/notebook", "layers.affine_forward", "fixed", "the notebook's case",
          fixed_check("layers.affine_forward", fixed_cases.AFFINE_CASE, {"out": fixed_cases.AFFINE_OUT})),
    Check("layers.affine_forward/property", "layers.affine_forward", "property", "1-D to 3-D features per row",
          differential("layers.affine_forward", gen.affine_cases()), public=False),
    Check("layers.affine_backward/property", "layers.affine_backward", "property", "dx, dw, db",
          differential("layers.affine_backward", gen.affine_cases()), public=False),
    Check("layers.affine_backward/gradient", "layers.affine_backward", "gradient", "numerical gradient",
          gradient("layers.affine_backward", gen.affine_cases(F64))),
    Check("layers.relu_forward/fixed/notebook", "layers.relu_forward", "fixed", "the notebook's case",
          fixed_check("layers.relu_forward", fixed_cases.RELU_CASE, {"out": fixed_cases.RELU_OUT})),
    Check("layers.relu_forward/property", "layers.relu_forward", "property", "any shape",
          differential("layers.relu_forward", gen.relu_cases()), public=False),
    Check("layers.relu_backward/property", "layers.relu_backward", "property", "any shape (x = 0 not judged)",
          differential("layers.relu_backward", gen.relu_cases()), public=False),
    Check("layers.relu_backward/gradient", "layers.relu_backward", "gradient", "numerical gradient away from 0",
          gradient("layers.relu_backward", gen.relu_cases(F64, with_zeros=False).filter(
              lambda c: np.min(np.abs(c["x"])) > 1e-3))),
    Check("layers.batchnorm_forward/property/train", "layers.batchnorm_forward", "property",
          "train mode: out and running statistics",
          differential("layers.batchnorm_forward", gen.batchnorm_cases("train")), public=False),
    Check("layers.batchnorm_forward/property/test", "layers.batchnorm_forward", "property",
          "test mode: out from the running statistics",
          differential("layers.batchnorm_forward", gen.batchnorm_cases("test")), public=False),
    Check("layers.batchnorm_forward/invariant/normalises", "layers.batchnorm_forward", "invariant",
          "train output has per-feature mean beta and std |gamma|",
          invariant(gen.batchnorm_cases("train", F64).filter(lambda c: c["x"].shape[0] >= 2), batchnorm_normalises)),
    Check("layers.batchnorm_forward/invariant/eps", "layers.batchnorm_forward", "invariant",
          "bn_param['eps'] is used in both modes",
          invariant(gen.batchnorm_cases(None, F64).filter(lambda c: c["x"].shape[0] >= 2), batchnorm_uses_eps,
                    examples=8)),
    Check("layers.batchnorm_forward/invariant/mode", "layers.batchnorm_forward", "invariant",
          "an unknown mode raises ValueError", invariant(gen.batchnorm_cases("train", F64), batchnorm_rejects_unknown_mode,
                                                         examples=2)),
    Check("layers.batchnorm_backward/property", "layers.batchnorm_backward", "property", "dx, dgamma, dbeta",
          differential("layers.batchnorm_backward", gen.batchnorm_cases("train")), public=False),
    Check("layers.batchnorm_backward/gradient", "layers.batchnorm_backward", "gradient", "numerical gradient",
          gradient("layers.batchnorm_backward", gen.batchnorm_cases("train", F64, max_n=4))),
    Check("layers.dropout_forward/property/mask", "layers.dropout_forward", "property",
          "about p of the units dropped, the others scaled by 1 / (1 - p)",
          invariant(gen.dropout_cases(), dropout_train_mask, examples=8)),
    Check("layers.dropout_forward/property/random", "layers.dropout_forward", "property",
          "the seed fixes the mask, and only the seed; units dropped independently",
          invariant(gen.dropout_cases(), dropout_random, examples=4)),
    Check("layers.dropout_forward/property/test-mode", "layers.dropout_forward", "property",
          "test mode is the identity", invariant(gen.dropout_cases(), dropout_test_identity, examples=4)),
    Check("layers.dropout_forward/invariant/expectation", "layers.dropout_forward", "invariant",
          "train mode keeps the expectation", invariant(gen.dropout_cases(), dropout_expectation, examples=4)),
    Check("layers.dropout_backward/property", "layers.dropout_backward", "property",
          "dx follows the forward's mask, in both modes",
          invariant(gen.dropout_cases(mode=None), dropout_backward_mask, examples=8)),
    Check("layers.dropout_backward/gradient", "layers.dropout_backward", "gradient", "numerical gradient (seeded)",
          gradient("layers.dropout_backward", gen.dropout_cases(sizes=((3, 4),)), deterministic=False)),
    *(check for name in ("svm_loss", "softmax_loss") for check in (
        Check(f"layers.{name}/property", f"layers.{name}", "property", "loss and dx",
              differential(f"layers.{name}", gen.loss_cases()), public=False),
        Check(f"layers.{name}/gradient", f"layers.{name}", "gradient", "numerical gradient",
              gradient(f"layers.{name}", gen.loss_cases(F64).filter(_smooth_margins) if name == "svm_loss"
                       else gen.loss_cases(F64))),
        Check(f"layers.{name}/invariant/zero-scores", f"layers.{name}", "invariant",
              "loss and dx of all-zero scores", invariant(gen.loss_cases(F64), loss_of_zero_scores(name), examples=5)),
        Check(f"layers.{name}/invariant/averaged", f"layers.{name}", "invariant", "averaged over the N rows",
              invariant(gen.loss_cases(F64), loss_is_averaged(name), examples=5)),
        Check(f"layers.{name}/invariant/shift", f"layers.{name}", "invariant",
              "adding a constant to a row's scores changes nothing",
              invariant(gen.loss_cases(F64), loss_ignores_shift(name), examples=5)),
        Check(f"layers.{name}/invariant/confident", f"layers.{name}", "invariant",
              "a confident right answer costs nothing",
              invariant(gen.loss_cases(F64), loss_of_confident_scores(name), examples=5)),
    )),
)
