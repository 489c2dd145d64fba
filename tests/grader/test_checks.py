"""The table of checks, run in-process (no sandbox) on the reference and on hand-made bugs."""
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st

from grader.checks import CHECKS, Context, gradient
from grader.functions import reference_namespace
from grader.sandbox import Limits, Sandbox, SubmissionError

REFERENCE = reference_namespace()


def run_all(ns, public_only=False):
    ctx = Context(ns, None if public_only else REFERENCE, examples=15)
    return {c.id: c.run(ctx) for c in CHECKS if c.public or not public_only}


def failing_functions(ns):
    return {check_id.split("/")[0] for check_id, o in run_all(ns).items() if o.status != "passed"}


def test_every_check_passes_on_the_reference():
    outcomes = run_all(REFERENCE)
    assert {i: o.message for i, o in outcomes.items() if o.status != "passed"} == {}


def test_public_checks_need_no_reference():
    outcomes = run_all(REFERENCE, public_only=True)
    assert outcomes and all(o.status == "passed" for o in outcomes.values())


def with_bug(**replacements):
    return {**REFERENCE, **replacements}


def sgd_sign_flipped(w, dw, config=None):
    config = config or {}
    return w + config.get("learning_rate", 1e-2) * dw, config


def relu_backward_without_mask(dout, cache):
    return dout


def softmax_not_averaged(x, y):
    loss, dx = REFERENCE["softmax_loss"](x, y)
    return loss * x.shape[0], dx * x.shape[0]


def dropout_not_inverted(x, dropout_param):
    out, cache = REFERENCE["dropout_forward"](x, dropout_param)
    scale = 1 - dropout_param["p"] if dropout_param["mode"] == "train" else 1
    return out * scale, cache


def batchnorm_forgets_running_stats(x, gamma, beta, bn_param):
    return REFERENCE["batchnorm_forward"](x, gamma, beta, dict(bn_param))


def softmax_reseeding(x, y):
    np.random.seed(231)
    return REFERENCE["softmax_loss"](x, y)


def softmax_batch_max(x, y):
    shifted = x - x.max()
    with np.errstate(divide="ignore"):   # log 0 for the rows far below the batch's maximum
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    dx = np.exp(log_p)
    dx[np.arange(len(y)), y] -= 1
    return -log_p[np.arange(len(y)), y].mean(), dx / len(y)


LAST = {}


def batchnorm_remembering(x, gamma, beta, bn_param):
    out, LAST["cache"] = REFERENCE["batchnorm_forward"](x, gamma, beta, bn_param)
    return out, LAST["cache"]


def batchnorm_backward_of_last(dout, cache):
    return REFERENCE["batchnorm_backward"](dout, LAST["cache"])


def dropout_popping_seed(x, dropout_param):
    if "seed" in dropout_param:
        np.random.seed(dropout_param.pop("seed"))
    return REFERENCE["dropout_forward"](x, dict(dropout_param))


def as_in_the_sandbox(function):
    """function whose exceptions come out as the sandbox reports them."""
    def call(*args):
        try:
            return function(*args)
        except Exception as e:
            raise SubmissionError("exception", f"{type(e).__name__}: {e}") from None
    return call


@as_in_the_sandbox
def dropout_rows_only(x, dropout_param):
    n, d = x.shape   # ValueError for images (N, C, H, W)
    return REFERENCE["dropout_forward"](x, dropout_param)


def batchnorm_momentum_or_default(x, gamma, beta, bn_param):
    return REFERENCE["batchnorm_forward"](x, gamma, beta, {**bn_param, "momentum": bn_param.get("momentum") or 0.9})


def momentum_clipping(w, dw, config=None):
    return REFERENCE["sgd_momentum"](w, np.clip(dw, -1, 1), config)


@as_in_the_sandbox
def sgd_needing_config(w, dw, config):
    config.setdefault("learning_rate", 1e-2)
    return w - config["learning_rate"] * dw, config


def adam_default_eps_1e7(w, dw, config=None):
    config = dict(config or {})
    config.setdefault("epsilon", 1e-7)
    return REFERENCE["adam"](w, dw, config)


def adam_bias_correction_capped(w, dw, config=None):
    """Bias corrections with min(t, 1000): wrong once t passes 1000."""
    config = dict(config or {})
    t = config.get("t", 0) + 1
    if t > 1000:
        config["t"] = 999
    next_w, config = REFERENCE["adam"](w, dw, config)
    config["t"] = t
    return next_w, config


def adam_beta1_or_default(w, dw, config=None):
    config = dict(config or {})
    config["beta1"] = config.get("beta1") or 0.9   # a valid beta1 = 0 becomes 0.9
    return REFERENCE["adam"](w, dw, config)


def rmsprop_decay_or_default(w, dw, config=None):
    config = dict(config or {})
    config["decay_rate"] = config.get("decay_rate") or 0.99
    return REFERENCE["rmsprop"](w, dw, config)


def rmsprop_first_learning_rate(w, dw, config=None):
    """Keeps the first call's learning rate: the Solver's lr_decay never reaches it."""
    config = dict(config or {})
    config.setdefault("frozen_lr", config.get("learning_rate", 1e-2))
    next_w, config = REFERENCE["rmsprop"](w, dw, {**config, "learning_rate": config["frozen_lr"]})
    return next_w, config


def svm_ties_zeroed(x, y):
    """Drops the correct class from dx with `x == x_y`, which drops every class tied with it."""
    loss, _ = REFERENCE["svm_loss"](x, y)
    rows = np.arange(len(y))
    dx = (x - x[rows, y][:, None] + 1 > 0).astype(float)
    dx[x == x[rows, y][:, None]] = 0
    dx[rows, y] = -dx.sum(axis=1)
    return loss, dx / len(y)


def softmax_min_shift(x, y):
    """Shifts each row by its minimum: the same softmax, until exp(max - min) overflows."""
    rows = np.arange(len(y))
    shifted = x - x.min(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    dx = np.exp(log_probs)
    dx[rows, y] -= 1
    return -log_probs[rows, y].mean(), dx / len(y)


def dropout_caching_out(x, dropout_param):
    out, _ = REFERENCE["dropout_forward"](x, dropout_param)
    return out, (dict(dropout_param), out)


def dropout_backward_from_out(dout, cache):
    """Takes the mask to be out != 0: a kept unit whose x was 0 gets no gradient."""
    param, out = cache
    return dout * (out != 0) / (1 - param["p"]) if param["mode"] == "train" else dout


@pytest.mark.parametrize("bug, function", [
    ({"dropout_forward": dropout_caching_out, "dropout_backward": dropout_backward_from_out},
     "layers.dropout_backward"),
    ({"softmax_loss": softmax_min_shift}, "layers.softmax_loss"),
    ({"svm_loss": svm_ties_zeroed}, "layers.svm_loss"),
    ({"adam": adam_beta1_or_default}, "optim.adam"),
    ({"rmsprop": rmsprop_decay_or_default}, "optim.rmsprop"),
    ({"rmsprop": rmsprop_first_learning_rate}, "optim.rmsprop"),
    ({"adam": adam_bias_correction_capped}, "optim.adam"),
    ({"softmax_loss": softmax_reseeding}, "layers.softmax_loss"),
    ({"softmax_loss": softmax_batch_max}, "layers.softmax_loss"),
    ({"batchnorm_forward": batchnorm_remembering, "batchnorm_backward": batchnorm_backward_of_last},
     "layers.batchnorm_backward"),
    ({"dropout_forward": dropout_popping_seed}, "layers.dropout_forward"),
    ({"dropout_forward": dropout_rows_only}, "layers.dropout_forward"),
    ({"batchnorm_forward": batchnorm_momentum_or_default}, "layers.batchnorm_forward"),
    ({"sgd_momentum": momentum_clipping}, "optim.sgd_momentum"),
    ({"sgd": sgd_needing_config}, "optim.sgd"),
    ({"adam": adam_default_eps_1e7}, "optim.adam"),
])
def test_bugs_found_by_outside_audits_are_caught(bug, function):
    assert function in failing_functions(with_bug(**bug))


@pytest.mark.parametrize("bug, function", [
    ({"sgd": sgd_sign_flipped}, "optim.sgd"),
    ({"relu_backward": relu_backward_without_mask}, "layers.relu_backward"),
    ({"softmax_loss": softmax_not_averaged}, "layers.softmax_loss"),
    ({"dropout_forward": dropout_not_inverted}, "layers.dropout_forward"),
    ({"batchnorm_forward": batchnorm_forgets_running_stats}, "layers.batchnorm_forward"),
])
def test_a_bug_fails_its_own_function_only(bug, function):
    failing = failing_functions(with_bug(**bug))
    assert function in failing
    allowed = {function, function.replace("forward", "backward")}   # a backward calls its forward
    assert failing <= allowed


def test_failures_carry_a_json_counterexample_and_are_deterministic():
    ns = with_bug(softmax_loss=softmax_not_averaged)
    first, second = run_all(ns), run_all(ns)
    outcome = first["layers.softmax_loss/property"]
    assert outcome.status == "failed" and "N" in (outcome.hint or "") or "times" in (outcome.hint or "")
    json.dumps(outcome.counterexample)
    assert {k: (o.status, o.message, json.dumps(o.counterexample)) for k, o in first.items()} == \
           {k: (o.status, o.message, json.dumps(o.counterexample)) for k, o in second.items()}


def test_dropout_keep_probability_is_named():
    def keep_probability(x, dropout_param):
        return REFERENCE["dropout_forward"](x, {**dropout_param, "p": 1 - dropout_param["p"]})
    outcome = run_all(with_bug(dropout_forward=keep_probability))["layers.dropout_forward/property/mask"]
    assert outcome.status == "failed" and "DROPPING" in outcome.message


def test_a_loss_that_ignores_its_scores_earns_no_gradient_point():
    def svm_doing_nothing(x, y):
        return 0.0, np.zeros_like(x)
    outcomes = run_all(with_bug(svm_loss=svm_doing_nothing))
    assert outcomes["layers.svm_loss/gradient"].status == "failed"
    assert "does not depend on its inputs" in outcomes["layers.svm_loss/gradient"].message


def test_a_seed_left_in_a_sandboxed_loss_fails_its_property_check():
    correct = (Path(__file__).parents[2] / "submissions" / "correct_fresh_config" / "layers.py").read_text()
    seeded = correct.replace("def softmax_loss(x, y):\n", "def softmax_loss(x, y):\n    np.random.seed(231)\n", 1)
    assert seeded != correct
    outcomes = {}
    for name, source in (("correct", correct), ("seeded", seeded)):
        with Sandbox({"layers.py": source.encode()}, Limits(), []) as sandbox:
            ns = {"softmax_loss": sandbox.function("layers", "softmax_loss")}
            ctx = Context(ns, REFERENCE, examples=5, changed_random_state=sandbox.changed_random_state)
            outcomes[name] = next(c for c in CHECKS if c.id == "layers.softmax_loss/property").run(ctx)
    assert outcomes["correct"].status == "passed"
    assert outcomes["seeded"].status == "failed" and "random state" in outcomes["seeded"].message


def test_a_correct_dropout_that_drops_every_unit_keeps_its_gradient_point():
    """A correct mask drawn otherwise than the reference's may drop all 12 units where the
    reference's keeps some: dropout's gradient check is built with deterministic=False."""
    def dropout_rand_below_keep(x, dropout_param):
        p, mode = dropout_param["p"], dropout_param["mode"]
        if "seed" in dropout_param:
            np.random.seed(dropout_param["seed"])
        mask = (np.random.rand(*x.shape) < 1 - p) / (1 - p) if mode == "train" else None
        return (x * mask if mode == "train" else x), (dropout_param, mask)

    rng = np.random.default_rng(1)
    case = {"x": rng.uniform(0.5, 2, (3, 4)), "dout": rng.uniform(-1, 1, (3, 4)),
            "dropout_param": {"mode": "train", "p": 0.8, "seed": 0}}
    submission = with_bug(dropout_forward=dropout_rand_below_keep)
    assert np.all(dropout_rand_below_keep(case["x"], case["dropout_param"])[0] == 0)
    check = gradient("layers.dropout_backward", st.just(case), deterministic=False)
    assert check(Context(submission, REFERENCE, examples=4)).status == "passed"
    flat = gradient("layers.dropout_backward", st.just(case))(Context(submission, REFERENCE, examples=4))
    assert flat.status == "failed"   # what deterministic=False protects it from


def test_a_correct_backward_keeps_its_gradient_point_when_the_forward_ignores_seed_0():
    """`if dropout_param.get('seed'):` redraws the mask at every call for seed 0: centred
    differences of such a forward mean nothing, and the forward's own checks say so."""
    def dropout_ignoring_seed_0(x, dropout_param):
        return REFERENCE["dropout_forward"](x, {k: v for k, v in dropout_param.items() if k != "seed" or v})

    rng = np.random.default_rng(2)
    case = {"x": rng.uniform(0.5, 2, (3, 4)), "dout": rng.uniform(-1, 1, (3, 4)),
            "dropout_param": {"mode": "train", "p": 0.5, "seed": 0}}
    submission = with_bug(dropout_forward=dropout_ignoring_seed_0)
    check = gradient("layers.dropout_backward", st.just(case), deterministic=False)
    assert check(Context(submission, REFERENCE, examples=4)).status == "passed"
    assert run_all(submission)["layers.dropout_forward/property/random"].status == "failed"


@pytest.mark.parametrize("guard", [1e-8, 0.0], ids=["log(p + 1e-8)", "the 2016 course's log(p)"])
def test_a_softmax_taking_the_log_of_its_probabilities_keeps_every_point(guard):
    def softmax_log_of_probs(x, y):
        shifted = x - x.max(axis=1, keepdims=True)
        probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(probs[np.arange(len(y)), y] + guard))
        dx = probs.copy()
        dx[np.arange(len(y)), y] -= 1
        return loss, dx / len(y)

    outcomes = run_all(with_bug(softmax_loss=softmax_log_of_probs))
    softmax = {name: o.status for name, o in outcomes.items() if name.startswith("layers.softmax_loss/")}
    assert set(softmax.values()) == {"passed"}, softmax
