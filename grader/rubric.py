"""The rubric: points per function and check kind, limits, and hidden-check visibility (TOML)."""
from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from grader.functions import BY_NAME

DEFAULT = Path(__file__).with_name("rubric.toml")
KINDS = ("fixed", "property", "gradient", "invariant", "notebook")
NOTEBOOK_ITEMS = ("notebook.runs", "notebook.training")
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")


class RubricError(Exception):
    """A rubric file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Rubric:
    points: Mapping[str, Mapping[str, float]]     # function -> kind -> points
    limits: Mapping[str, float]
    hidden_visibility: str = "after_published"
    source: str = str(DEFAULT)

    def check_points(self, function: str, kind: str, checks_of_kind: int) -> float:
        """Points of one check: the kind's points shared by its checks."""
        return self.points.get(function, {}).get(kind, 0.0) / max(checks_of_kind, 1)

    def grades_notebook(self) -> bool:
        return any(self.points.get(item, {}).get("notebook", 0) > 0 for item in NOTEBOOK_ITEMS)

    def fingerprint(self) -> str:
        """A short hash of everything that changes a score."""
        return hashlib.sha256(repr((sorted((f, sorted(k.items())) for f, k in self.points.items()),
                                    sorted(self.limits.items()), self.hidden_visibility)).encode()).hexdigest()[:16]


def load(path: Path | None = None) -> Rubric:
    path = Path(path) if path else DEFAULT
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RubricError(f"{path}: no such rubric file") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise RubricError(f"{path}: not a readable TOML rubric ({e})") from None
    return _validated(data, path)


def _validated(data: dict, path: Path) -> Rubric:
    points = data.get("points", {})
    if not isinstance(points, dict) or not points:
        raise RubricError(f"{path}: needs a [points.\"<module>.<function>\"] table per graded function")
    for function, kinds in points.items():
        if function not in BY_NAME and function not in NOTEBOOK_ITEMS:
            known = ", ".join([*BY_NAME, *NOTEBOOK_ITEMS])
            raise RubricError(f"{path}: unknown function {function!r} (known: {known})")
        _check_numbers(path, f"points.{function}", kinds, KINDS)
    limits = data.get("limits", {})
    _check_numbers(path, "limits", limits, ("call_seconds", "import_seconds", "memory_mb", "examples",
                                            "notebook_cell_seconds", "notebook_seconds", "notebook_accuracy"))
    if not 0 <= limits.get("notebook_accuracy", 0) <= 1:
        raise RubricError(f"{path}: [limits] notebook_accuracy must be a fraction between 0 and 1")
    visibility = data.get("hidden_visibility", "after_published")
    if visibility not in VISIBILITIES:
        raise RubricError(f"{path}: hidden_visibility must be one of {', '.join(VISIBILITIES)}")
    return Rubric(points, limits, visibility, str(path))


def _check_numbers(path: Path, table: str, values: object, allowed: Iterable[str]) -> None:
    if not isinstance(values, dict):
        raise RubricError(f"{path}: [{table}] must be a table")
    for key, value in values.items():
        if key not in allowed:
            raise RubricError(f"{path}: [{table}] has unknown key {key!r} (allowed: {', '.join(allowed)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise RubricError(f"{path}: [{table}] {key} must be a non-negative number, got {value!r}")
