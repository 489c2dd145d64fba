"""Reports: report.json (the contract), results.json (Gradescope), report.md, the terminal table.

Every file is written to a temporary name in the output folder and renamed into place, so a
reader never sees a partial report and nothing written there earlier survives.
"""
from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

OUTPUT_CHARS = 4000          # per Gradescope test output
COUNTEREXAMPLE_CHARS = 1500  # quoted in Markdown and Gradescope outputs


@dataclass
class CheckResult:
    id: str
    function: str
    kind: str
    status: str
    score: float
    max_score: float
    message: str
    counterexample: Any = None
    hint: str | None = None
    diagnosis: str | None = None
    description: str = ""
    visibility: str = "visible"


@dataclass
class Report:
    submission: str
    score: float
    max_score: float
    elapsed_s: float
    warnings: list[str] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    profile: str = "ucla-w21"
    grader_version: str = ""
    mode: str = "grade"

    def by_function(self) -> dict[str, tuple[float, float]]:
        """function -> (score, max_score)."""
        totals: dict[str, tuple[float, float]] = {}
        for c in self.checks:
            score, most = totals.get(c.function, (0.0, 0.0))
            totals[c.function] = (score + c.score, most + c.max_score)
        return totals

    def to_json(self) -> dict:
        return asdict(self)


def from_json(data: dict) -> Report:
    checks = [CheckResult(**c) for c in data.get("checks", [])]
    return Report(**{**data, "checks": checks})


def gradescope(report: Report) -> dict:
    """Gradescope's results.json: score, execution_time, output, tests[] with visibility."""
    tests = [{
        "name": f"{c.function}: {c.description or c.id}",
        "score": c.score,             # unrounded: a function's thirds add up to its points
        "max_score": c.max_score,
        "status": "passed" if c.status == "passed" else "failed",
        "output": _clip(_check_text(c), OUTPUT_CHARS),
        "visibility": c.visibility,
    } for c in report.checks]
    return {
        "score": round(report.score, 4),
        "execution_time": round(report.elapsed_s, 1),
        "output": _clip("\n".join(["Warnings:", *report.warnings]) if report.warnings else
                        "Graded without incident.", OUTPUT_CHARS),
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _check_text(c: CheckResult) -> str:
    lines = [c.message]
    if c.hint and c.hint != c.message:
        lines.append(f"Hint: {c.hint}")
    if c.counterexample is not None and c.visibility == "visible":
        lines.append("Counterexample: " + _clip(json.dumps(c.counterexample), COUNTEREXAMPLE_CHARS))
    return "\n".join(lines)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 20] + " ... (truncated)"


def markdown(report: Report) -> str:
    lines = [f"# Grading report: {report.submission}", "",
             f"**Score: {report.score:g} / {report.max_score:g}** "
             f"(profile {report.profile}, {report.elapsed_s:.1f} s)", ""]
    if report.warnings:
        lines += ["## Warnings", "", *[f"- {w}" for w in report.warnings], ""]
    lines += ["## By function", "", "| function | score | checks passed |", "|---|---:|---:|"]
    for function, (score, most) in report.by_function().items():
        checks = [c for c in report.checks if c.function == function]
        passed = sum(c.status == "passed" for c in checks)
        lines.append(f"| `{function}` | {score:g} / {most:g} | {passed} / {len(checks)} |")
    failing = [c for c in report.checks if c.status != "passed"]
    if failing:
        lines += ["", "## What failed", ""]
    for c in failing:
        lines += [f"### `{c.id}` ({c.status})", "", c.message, ""]
        if c.hint and c.hint != c.message:
            lines += [f"**Hint:** {c.hint}", ""]
        if c.counterexample is not None:
            lines += ["Counterexample:", "", "```json", _clip(json.dumps(c.counterexample), COUNTEREXAMPLE_CHARS),
                      "```", ""]
    return "\n".join(lines) + "\n"


def table(report: Report) -> str:
    """The short summary printed to the terminal."""
    rows = [(f, f"{s:g} / {m:g}", _marks(f, report)) for f, (s, m) in report.by_function().items()]
    width = max((len(r[0]) for r in rows), default=8)
    out = [f"{'function':<{width}}  {'points':>11}  checks"]
    out += [f"{f:<{width}}  {p:>11}  {marks}" for f, p, marks in rows]
    out.append(f"{'total':<{width}}  {f'{report.score:g} / {report.max_score:g}':>11}")
    out += [f"warning: {w}" for w in report.warnings]
    return "\n".join(out)


def _marks(function: str, report: Report) -> str:
    symbol = {"passed": ".", "failed": "F", "error": "E"}
    return "".join(symbol.get(c.status, "?") for c in report.checks if c.function == function)


def write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_reports(report: Report, outdir: Path) -> None:
    """OUTDIR/report.json, results.json, report.md."""
    outdir.mkdir(parents=True, exist_ok=True)
    write_atomic(outdir / "report.json", json.dumps(report.to_json(), indent=1, allow_nan=False, default=str))
    write_atomic(outdir / "results.json", json.dumps(gradescope(report), indent=1, allow_nan=False, default=str))
    write_atomic(outdir / "report.md", markdown(report))
