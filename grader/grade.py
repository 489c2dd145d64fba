"""Grading one submission: sandbox it, run the table of checks, score by the rubric."""
from __future__ import annotations

import importlib.util
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

import grader
from grader.checks import CHECKS, Check, Context, Outcome
from grader.functions import FUNCTIONS, reference_namespace
from grader.profiles import PROFILES, Profile
from grader.report import CheckResult, Report
from grader.rubric import Rubric
from grader.sandbox import Limits, Sandbox
from grader.submission import Submission

GRADED_MODULES = ("optim", "layers")


def limits_from(rubric: Rubric) -> Limits:
    lim = rubric.limits
    return Limits(call_seconds=float(lim.get("call_seconds", 5.0)),
                  import_seconds=float(lim.get("import_seconds", 10.0)),
                  memory_bytes=int(lim.get("memory_mb", 1024)) << 20)


def forbidden_roots() -> list[Path]:
    """Folders the submission may not read: the grader's and the reference's packages."""
    roots = [Path(grader.__file__).parent]
    try:
        spec = importlib.util.find_spec("reference")
    except (ImportError, ValueError):   # not installed: the student's kit
        spec = None
    if spec and spec.submodule_search_locations:
        roots += [Path(p) for p in spec.submodule_search_locations]
    return roots


def checks_for(profile: Profile, public_only: bool) -> list[Check]:
    return [c for c in CHECKS if profile.has(c.function) and (c.public or not public_only)]


def grade(submission: Submission, rubric: Rubric, profile: Profile = PROFILES["ucla-w21"],
          public_only: bool = False, data_dir: Path | None = None, notebook_out: Path | None = None) -> Report:
    """Grade `submission`; `public_only` runs the self-check (no reference, no hidden checks).
    When the rubric gives notebook points, the notebook runs on CIFAR-10 from `data_dir`
    (default $CIFAR10_DIR) and its outputs go to `notebook_out` (default: a temporary folder)."""
    start = time.monotonic()
    every_check = checks_for(profile, public_only=False)
    per_kind = Counter((c.function, c.kind) for c in every_check)
    chosen = checks_for(profile, public_only)
    warnings = list(submission.warnings)
    results = []
    with Sandbox(submission.files, limits_from(rubric), forbidden_roots()) as sandbox:
        unavailable = _load_modules(sandbox, submission)
        ctx = Context(profile.wrap({f.name: sandbox.function(f.module, f.name, f.opaque) for f in FUNCTIONS}),
                      None if public_only else reference_namespace(),
                      int(rubric.limits.get("examples", 25)), sandbox.changed_random_state)
        for check in chosen:
            module = check.function.split(".")[0]
            result = Outcome("error", unavailable[module]) if module in unavailable else _run(check, ctx, warnings)
            max_score = rubric.check_points(check.function, check.kind, per_kind[(check.function, check.kind)])
            results.append(CheckResult(
                id=check.id, function=check.function, kind=check.kind, status=result.status,
                score=max_score if result.status == "passed" else 0.0, max_score=max_score,
                message=result.message, counterexample=result.counterexample, hint=result.hint,
                diagnosis=result.diagnosis,
                description=check.description,
                visibility="visible" if check.public else rubric.hidden_visibility))
        warnings += sandbox.incidents
    if rubric.grades_notebook() and not public_only:
        results += _notebook_results(submission, rubric, data_dir, notebook_out, warnings)
    return Report(submission=submission.name, score=round(sum(r.score for r in results), 6),
                  max_score=round(sum(r.max_score for r in results), 6),
                  elapsed_s=round(time.monotonic() - start, 3), warnings=warnings, checks=results,
                  profile=profile.name, grader_version=grader.__version__,
                  mode="check" if public_only else "grade")


def _notebook_results(submission: Submission, rubric: Rubric, data_dir: Path | None,
                      outdir: Path | None, warnings: list[str]) -> list[CheckResult]:
    """The rubric's notebook items: the notebook run in isolation and its training re-evaluated."""
    from grader.notebook import NNDL_FILES, NotebookRun, notebook_checks, run_notebook
    data_dir = data_dir or (Path(os.environ["CIFAR10_DIR"]) if os.environ.get("CIFAR10_DIR") else None)
    if submission.notebook is None:
        return notebook_checks(NotebookRun(ok=False, outdir="", reason="no notebook was submitted"), rubric)
    if data_dir is None:
        warnings.append("the notebook was not graded: the grader has no CIFAR-10 data (--data-dir or CIFAR10_DIR)")
        return []
    with tempfile.TemporaryDirectory(prefix="nndl-notebook-out-") as scratch:
        run = run_notebook(submission.notebook[1], {k: v for k, v in submission.files.items() if k in NNDL_FILES},
                           data_dir, outdir or scratch,
                           cell_timeout=float(rubric.limits.get("notebook_cell_seconds", 1800)),
                           total_timeout=float(rubric.limits.get("notebook_seconds", 3600)))
    return notebook_checks(run, rubric)


def _load_modules(sandbox: Sandbox, submission: Submission) -> dict[str, str]:
    """module -> why its functions cannot be graded."""
    from grader.sandbox import SubmissionError
    unavailable = {}
    for module in GRADED_MODULES:
        if f"{module}.py" not in submission.files:
            unavailable[module] = f"{module}.py was not submitted"
            continue
        try:
            sandbox.load(module)
        except SubmissionError as e:
            unavailable[module] = f"{module}.py could not be imported ({e.kind}): {e.message}"
    return unavailable


def _run(check: Check, ctx: Context, warnings: list[str]) -> Outcome:
    try:
        with np.errstate(all="ignore"):
            return check.run(ctx)
    except Exception as e:  # a grader bug must not lose the report
        warnings.append(f"internal grader error in {check.id}: {type(e).__name__}: {e}")
        return Outcome("error", f"the grader failed on this check ({type(e).__name__}); "
                                f"tell your instructor")
