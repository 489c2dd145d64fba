"""The table of checks, run in-process (no sandbox) on the reference and on hand-made bugs."""
import json

import numpy as np
import pytest

from grader.checks import CHECKS, Context
from grader.functions import reference_namespace

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
