"""Gradescope: the autograder archive (`grader gradescope build`) and its runner (`... run`).

Gradescope's autograder specification: the zip holds setup.sh and run_autograder at its
root; it is extracted to /autograder/source, setup.sh runs once (as root) when the image is
built, run_autograder is copied to /autograder/run_autograder and runs in /autograder for each
submission, which is in /autograder/submission; it must write /autograder/results/results.json
(keys score, execution_time, output, stdout_visibility, tests[]: name, score, max_score,
status, output, visibility in hidden | after_due_date | after_published | visible).

The archive:
    setup.sh         Python >= 3.11, a venv in $AUTOGRADER_ROOT/venv, then `pip install src/[grader]`
    run_autograder   grades $AUTOGRADER_ROOT/submission (AUTOGRADER_ROOT defaults to /autograder)
                     and always leaves a valid results.json, even if Python itself fails
    rubric.toml      the chosen rubric with Gradescope's limits (for_gradescope)
    src/             this project: pyproject.toml (and its readme), grader/, reference/

Gradescope's default container has half a CPU and 768 MB: the submission's process gets
GRADESCOPE_MEMORY_MB, its time limits are scaled by GRADESCOPE_SLOWDOWN, and the whole run
stops at DEADLINE_S, well inside Gradescope's 10 minutes.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import stat
import sys
import time
import tomllib
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import grader
from grader.profiles import PROFILES
from grader.report import gradescope, table, write_atomic
from grader.rubric import Rubric, RubricError, load

GRADESCOPE_MEMORY_MB = 512   # of the container's 768 MB; the rest is the grader's own process
GRADESCOPE_SLOWDOWN = 2.0    # half a CPU: a call takes up to twice as long as on a whole one
DEADLINE_S = 480.0           # the whole grading, leaving two of Gradescope's ten minutes spare
PACKAGES = ("grader", "reference")

SETUP_SH = r"""#!/usr/bin/env bash
# Gradescope runs this once, as root, in /autograder/source, when it builds the image.
set -euo pipefail
cd "$(dirname "$0")"
ROOT="${AUTOGRADER_ROOT:-/autograder}"
apt-get update
if python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    PY=python3
    apt-get install -y python3-venv
else
    PY=python3.11
    apt-get install -y python3.11 python3.11-venv
fi
"$PY" -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --upgrade pip
"$ROOT/venv/bin/python" -m pip install "./src[grader]"
"""

RUN_AUTOGRADER = r"""#!/usr/bin/env bash
# Gradescope runs this for every submission, in /autograder. It always leaves a valid
# results.json: when the grader cannot run at all, one that says so.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
RESULTS="$ROOT/results/results.json"
PY="$ROOT/venv/bin/python"
[ -x "$PY" ] || PY=python3
mkdir -p "$ROOT/results"
rm -f "$RESULTS"
"$PY" -m grader.gradescope run --root "$ROOT" --rubric "$ROOT/source/rubric.toml" --profile @PROFILE@
status=$?
if [ "$status" -ne 0 ] || [ ! -s "$RESULTS" ]; then
    message="The autograder failed before grading (exit status $status). Please tell your instructor."
    printf '{"score": 0.0, "output": "%s", "stdout_visibility": "hidden", "tests": []}\n' "$message" > "$RESULTS"
fi
exit 0
"""


class BuildError(Exception):
    """The archive cannot be built from this installation; the message says why."""


class DeadlineExceeded(BaseException):
    """The whole run took longer than its deadline (a BaseException: no check may swallow it)."""


def for_gradescope(rubric: Rubric) -> Rubric:
    """`rubric` with the limits of Gradescope's container (module doc)."""
    from grader.grade import limits_from
    limits = limits_from(rubric)
    return replace(rubric, limits={**rubric.limits,
                                   "call_seconds": limits.call_seconds * GRADESCOPE_SLOWDOWN,
                                   "import_seconds": limits.import_seconds * GRADESCOPE_SLOWDOWN,
                                   "memory_mb": min(limits.memory_bytes >> 20, GRADESCOPE_MEMORY_MB)})


def rubric_toml(rubric: Rubric) -> str:
    """`rubric` as the TOML that grader.rubric.load reads."""
    lines = [f"hidden_visibility = {json.dumps(rubric.hidden_visibility)}", "", "[limits]"]
    lines += [f"{key} = {value!r}" for key, value in rubric.limits.items()]
    for function, kinds in rubric.points.items():
        lines += ["", f"[points.{json.dumps(function)}]", *(f"{kind} = {value!r}" for kind, value in kinds.items())]
    return "\n".join(lines) + "\n"


def source_files() -> dict[str, Path]:
    """Archive name -> file of this project's source: pyproject.toml, its readme, the packages."""
    project = Path(grader.__file__).resolve().parents[1]
    pyproject = project / "pyproject.toml"
    if not pyproject.is_file():
        raise BuildError(f"{project}: no pyproject.toml; build the archive from a source checkout "
                         f"(pip install -e .)")
    readme = project / str(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"].get("readme", ""))
    paths = [pyproject, *([readme] if readme.is_file() else [])]
    for package in PACKAGES:
        paths += [p for p in sorted((project / package).rglob("*"))
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    return {f"src/{p.relative_to(project).as_posix()}": p for p in paths}


def _add(archive: zipfile.ZipFile, name: str, text: str, executable: bool) -> None:
    info = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
    info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, text)


def build(out: Path, rubric: Rubric, profile: str) -> None:
    """Write the autograder archive (module doc) to `out`, atomically."""
    if rubric.grades_notebook():
        raise BuildError(f"{rubric.source} gives notebook points: training on CIFAR-10 does not fit in "
                         f"Gradescope's 10 minutes at half a CPU; grade notebooks with `grader batch`")
    scripts = {"setup.sh": SETUP_SH, "run_autograder": RUN_AUTOGRADER.replace("@PROFILE@", shlex.quote(profile))}
    sources = source_files()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in scripts.items():
            _add(archive, name, text, executable=True)
        _add(archive, "rubric.toml", rubric_toml(for_gradescope(rubric)), executable=False)
        for name, path in sources.items():
            archive.write(path, name)
    os.replace(partial, out)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise DeadlineExceeded in the main thread once `seconds` have passed."""
    def expire(signum: int, frame: object) -> None:
        raise DeadlineExceeded(f"grading did not finish within {seconds:g} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def failure(message: str, elapsed_s: float) -> dict:
    """results.json when grading could not finish: no points, and why."""
    return {"score": 0.0, "execution_time": round(elapsed_s, 1),
            "output": f"The autograder could not grade this submission: {message}. "
                      f"If this persists, please tell your instructor.",
            "stdout_visibility": "hidden", "tests": []}


def run(root: Path, rubric_path: Path | None, profile: str, seconds: float) -> dict:
    """Grade ROOT/submission into ROOT/results/results.json; return what was written."""
    from grader.grade import grade
    from grader.submission import SubmissionInputError, read
    start = time.monotonic()
    try:
        with deadline(seconds):
            report = grade(read(root / "submission"), load(rubric_path), PROFILES[profile])
        results = gradescope(report)
        print(table(report))
    except (Exception, DeadlineExceeded) as e:  # the student gets a results.json whatever happened
        print(f"grader: {type(e).__name__}: {e}", file=sys.stderr)
        shown = isinstance(e, (DeadlineExceeded, SubmissionInputError))
        results = failure(str(e) if shown else f"an internal error ({type(e).__name__})", time.monotonic() - start)
    path = root / "results" / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(results, indent=1, allow_nan=False, default=str))
    return results


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grader gradescope", description=__doc__.split("\n")[0])
    commands = p.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="write the autograder archive to upload to Gradescope")
    build_cmd.add_argument("-o", "--out", type=Path, required=True, help="the archive, e.g. autograder.zip")
    run_cmd = commands.add_parser("run", help="grade inside Gradescope's container (run_autograder calls this)")
    run_cmd.add_argument("--root", type=Path, default=Path(os.environ.get("AUTOGRADER_ROOT", "/autograder")),
                         help="Gradescope's folder (default: $AUTOGRADER_ROOT or /autograder)")
    run_cmd.add_argument("--deadline", type=float, default=DEADLINE_S, help="seconds for the whole grading")
    for command in (build_cmd, run_cmd):
        command.add_argument("--rubric", type=Path, help="a rubric TOML file (default: the packaged one)")
        command.add_argument("--profile", choices=sorted(PROFILES), default="ucla-w21")
    return p


def gradescope_main(argv: list[str]) -> int:
    """build: 0, or 2 when the rubric or the installation is unusable. run: 0 once results.json is written."""
    args = parser().parse_args(argv)
    if args.command == "run":
        run(args.root, args.rubric, args.profile, args.deadline)
        return 0
    try:
        build(args.out, load(args.rubric), args.profile)
    except (RubricError, BuildError) as e:
        print(f"grader gradescope: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: upload it as the autograder of a Gradescope programming assignment")
    return 0


if __name__ == "__main__":
    sys.exit(gradescope_main(sys.argv[1:]))
