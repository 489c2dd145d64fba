"""Course profiles: the conventions a submission was written against.

The grader reasons in the reference's (ucla-w21) names; a profile translates each call into
the submission's conventions and each result back. It changes how the grader calls and
reads, never the math it expects.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from grader.functions import RULES


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    rules: tuple[str, ...] = RULES
    state_keys: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # rule -> {ours: theirs}
    dropout_p_is_keep: bool = False

    def has(self, qualname: str) -> bool:
        module, name = qualname.split(".")
        return module != "optim" or name in self.rules

    def wrap(self, ns: Mapping[str, Callable]) -> dict[str, Callable]:
        """The submission's namespace, called and read in the reference's conventions."""
        wrapped = dict(ns)
        for rule, keys in self.state_keys.items():
            if rule in ns:
                wrapped[rule] = _renaming_rule(ns[rule], keys)
        if self.dropout_p_is_keep and "dropout_forward" in ns:
            wrapped["dropout_forward"] = _keep_probability(ns["dropout_forward"])
        return wrapped


def _rename(config: dict, keys: Mapping[str, str]) -> dict:
    return {keys.get(k, k): v for k, v in config.items()}


def _renaming_rule(rule: Callable, keys: Mapping[str, str]) -> Callable:
    back = {theirs: ours for ours, theirs in keys.items()}

    def call(w, dw, config=None):
        result = rule(w, dw, None if config is None else _rename(config, keys))
        if isinstance(result, (tuple, list)) and len(result) == 2 and isinstance(result[1], dict):
            return type(result)((result[0], _rename(result[1], back)))
        return result
    return call


def _keep_probability(dropout_forward: Callable) -> Callable:
    def call(x, dropout_param):
        return dropout_forward(x, {**dropout_param, "p": 1 - dropout_param["p"]})
    return call


PROFILES = {
    "ucla-w21": Profile("ucla-w21", "UCLA nndl, Winter 2021: state keys velocity, a, v (first), a (second), t; "
                                    "dropout p = probability of dropping a unit"),
    "cs231n": Profile("cs231n", "Stanford CS231n: RMSProp state `cache`, Adam `m` (first) and `v` (second); "
                                "no Nesterov; dropout p = probability of keeping a unit",
                      rules=("sgd", "sgd_momentum", "rmsprop", "adam"),
                      state_keys={"rmsprop": {"a": "cache"}, "adam": {"v": "m", "a": "v"}},
                      dropout_p_is_keep=True),
}
