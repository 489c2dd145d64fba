"""Comparing outputs: the one place that says what "equal enough" means.

An entry passes when |got - expected| <= rtol * (|expected| + max|expected|) + atol: a relative
tolerance, an absolute one scaled to the array's own magnitude, and a floor scaled to the
inputs (atol = ATOL[dtype] * max|input|), so that outputs cancelled to near zero (a batchnorm
dx at N = 2, softmax's p - 1 on a confident row) are judged against the size of the terms
that produced them. Both depend on the dtype of the inputs the function was given.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

RTOL = {"float64": 1e-6, "float32": 1e-3}
ATOL = {"float64": 1e-9, "float32": 1e-4}     # times the largest input magnitude
GRADIENT_RTOL, GRADIENT_ATOL = 1e-5, 1e-6      # centred differences (h = 1e-5) against a backward
FIXED_CASE_REL_ERROR = 1e-6   # the notebook's printed arrays carry 8 significant digits
SHOWN_ENTRIES = 3             # differing entries quoted in a message


def rel_error(x: np.ndarray, y: np.ndarray) -> float:
    """The notebook's measure: max |x - y| / max(1e-8, |x| + |y|)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)), initial=0.0))


@dataclass(frozen=True)
class Mismatch:
    """Why one named output differs: a sentence plus the numbers behind it."""
    output: str
    message: str
    expected: Any = None
    got: Any = None
    rel_error: float | None = None

    def to_json(self) -> dict:
        return {"output": self.output, "message": self.message, "expected": self.expected,
                "got": self.got, "rel_error": self.rel_error}


def case_dtype(case: dict) -> str:
    """"float32" when any float input of the case is float32, else "float64"."""
    return "float32" if any(a.dtype == np.float32 for a in _float_arrays(case)) else "float64"


def tolerance_for(case: dict) -> tuple[float, float]:
    """(rtol, atol) for a case: float32 inputs anywhere get the float32 tolerances."""
    dtype = case_dtype(case)
    return RTOL[dtype], ATOL[dtype] * input_scale(case)


def precision_lost(case: dict, got: dict) -> Mismatch | None:
    """The first output narrower than float64 (float32, float16) of a case whose inputs are all float64."""
    if case_dtype(case) != "float64":
        return None
    for name, value in got.items():
        dtype = getattr(value, "dtype", None)
        if isinstance(dtype, np.dtype) and dtype.kind == "f" and dtype.itemsize < 8:
            return Mismatch(name, f"`{name}` is {dtype} although every input was float64: a {dtype} array or "
                                  f"constant in your computation rounds the result (keep the inputs' dtype)")
    return None


def input_scale(case: dict) -> float:
    """The largest magnitude among a case's float arrays (at least 1)."""
    return max([1.0, *(float(np.max(np.abs(a))) for a in _float_arrays(case) if a.size)])


def _float_arrays(case: dict) -> list[np.ndarray]:
    return [v for v in _leaves(case) if isinstance(v, np.ndarray) and v.dtype.kind == "f"]


def _leaves(value: Any):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def compare_outputs(expected: dict, got: dict, rtol: float, atol: float = 0.0) -> Mismatch | None:
    """First named output of `got` that differs from `expected` (same keys), or None."""
    for name, want in expected.items():
        if name not in got:
            return Mismatch(name, f"`{name}` is missing from what your function returned")
        mismatch = compare_value(name, want, got[name], rtol, atol)
        if mismatch:
            return mismatch
    return None


def compare_value(name: str, want: Any, have: Any, rtol: float, atol: float = 0.0) -> Mismatch | None:
    if isinstance(want, (int, np.integer)) and not isinstance(want, bool):
        if isinstance(have, (int, float, np.integer, np.floating)) and have == want:
            return None
        return Mismatch(name, f"`{name}` should be {want}, got {_short(have)}", int(want), _short(have))
    want = np.asarray(want, dtype=np.float64)
    if not isinstance(have, (np.ndarray, np.number, float, int)) or isinstance(have, bool):
        return Mismatch(name, f"`{name}` should be an array of shape {want.shape}, got {type(have).__name__}")
    have_arr = np.asarray(have)
    if have_arr.dtype.kind not in "fiu":
        return Mismatch(name, f"`{name}` has dtype {have_arr.dtype}, expected a float array")
    if have_arr.shape != want.shape:
        return Mismatch(name, f"`{name}` has shape {have_arr.shape}, expected {want.shape}")
    want, have_arr = np.atleast_1d(want), np.atleast_1d(have_arr.astype(np.float64))
    if not np.all(np.isfinite(have_arr)) and np.all(np.isfinite(want)):
        bad = np.argwhere(~np.isfinite(have_arr))[:SHOWN_ENTRIES]
        return Mismatch(name, f"`{name}` holds NaN or inf at {_indices(bad)}", got=_entries(have_arr, bad))
    same = (have_arr == want) | (np.isnan(have_arr) & np.isnan(want))   # equal infs and NaNs match
    finite = np.isfinite(want)
    scale = np.max(np.abs(want[finite]), initial=0.0)
    bad = np.argwhere(~(same | (np.abs(have_arr - want) <= rtol * (np.abs(want) + scale) + atol + 1e-300)))
    if bad.size == 0:
        return None
    first = bad[:SHOWN_ENTRIES]
    return Mismatch(
        name,
        f"`{name}` differs at {len(bad)} of {want.size} entries; first at {_indices(first)}: "
        f"expected {_fmt(_entries(want, first))}, got {_fmt(_entries(have_arr, first))}",
        expected=_entries(want, first), got=_entries(have_arr, first),
        rel_error=rel_error(want, have_arr))


def equal_outputs(a: dict, b: dict, rtol: float, atol: float = 0.0) -> bool:
    """True when two output dicts have the same keys and agree within the tolerances."""
    return a.keys() == b.keys() and compare_outputs(a, b, rtol, atol) is None


def _entries(arr: np.ndarray, idx: np.ndarray) -> list[float]:
    return [float(arr[tuple(i)]) for i in idx]


def _indices(idx: np.ndarray) -> str:
    return ", ".join(str(tuple(int(v) for v in i)) for i in idx)


def _fmt(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.8g}" for v in values) + "]"


def _short(value: Any) -> Any:
    if isinstance(value, (int, float, str, type(None))):
        return value
    return type(value).__name__
