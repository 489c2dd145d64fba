"""What the student is told: the known mistake their outputs match, or how an output differs."""
from __future__ import annotations

import warnings
from typing import Callable, Mapping, Sequence

import numpy as np

from grader.compare import Mismatch, equal_outputs
from grader.functions import AFTER_CALL, Probe


def name_the_bug(function: str, probe: Probe, reference: Mapping[str, Callable],
                 seen: Sequence[tuple[dict, dict]], tolerance: Callable[[dict], tuple[float, float]]):
    """The first fingerprint of `function` that reproduces the submission's outputs on every
    case seen (case, outputs), or None."""
    from grader.diagnosis import fingerprints_for
    for fingerprint in fingerprints_for(function):
        variant = {**reference, **fingerprint.replaces}
        if all(_reproduces(probe, variant, case, got, tolerance(case)) for case, got in seen):
            return fingerprint
    return None


def hint_for(name: str | None) -> str | None:
    """The fingerprint library's hint for a named bug, where the library is installed."""
    if name is None:
        return None
    try:
        from grader.diagnosis import FINGERPRINTS
    except ImportError:   # the student's kit ships without it
        return None
    return next((f.hint for f in FINGERPRINTS if f.name == name), None)


def _reproduces(probe: Probe, variant: Mapping[str, Callable], case: dict, got: dict,
                tolerance: tuple[float, float]) -> bool:
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return equal_outputs(probe(variant, case), got, *tolerance)
    except Exception:  # a variant that cannot run on this case does not match it
        return False


def describe(mismatch: Mismatch, expected: dict, got: dict) -> str:
    """How one output differs, in words: scaled, negated, zeros, offset, or just different."""
    name = mismatch.output
    want, have = expected.get(name), got.get(name)
    if name not in got:
        return f"`{name}` is missing: store it in the dict your function returns"
    if name.endswith(AFTER_CALL):
        argument = name.removesuffix(AFTER_CALL)
        return (f"your function changed its argument `{argument}` in place, and the caller still uses it "
                f"(the network's parameters, the numerical gradient's input): compute on new arrays, e.g. "
                f"`{argument} = {argument} - m` rather than `{argument} -= m`, and reshape without assigning "
                f"to `{argument}.shape`")
    if not _is_numeric(want) or not _is_numeric(have) or np.shape(want) != np.shape(have):
        return mismatch.message
    want, have = np.asarray(want, dtype=np.float64), np.asarray(have, dtype=np.float64)
    if not np.all(np.isfinite(have)):
        return f"`{name}` holds NaN or inf"
    if np.all(have == 0) and np.any(want != 0):
        return f"`{name}` is all zeros"
    if np.allclose(have, -want, rtol=1e-6, atol=1e-12):
        return f"`{name}` has the wrong sign"
    scale = _constant_ratio(want, have)
    if scale is not None:
        return f"`{name}` is the expected value times {scale:.6g}: a missing or extra factor"
    offset = have - want
    if np.ptp(offset) <= 1e-6 * (np.max(np.abs(want), initial=0) + 1e-12):
        return f"`{name}` is off by a constant {float(np.mean(offset)):.6g}"
    return mismatch.message


def _is_numeric(value) -> bool:
    return isinstance(value, (np.ndarray, np.number, float, int)) and not isinstance(value, bool)


def _constant_ratio(want: np.ndarray, have: np.ndarray) -> float | None:
    nonzero = np.abs(want) > 1e-12
    if not np.any(nonzero) or np.any(np.abs(have[~nonzero]) > 1e-12):
        return None
    ratios = have[nonzero] / want[nonzero]
    return float(ratios.flat[0]) if np.ptp(ratios) <= 1e-6 * np.max(np.abs(ratios)) else None
