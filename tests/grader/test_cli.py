"""The command line as users run it: exit codes, files written, determinism, no tracebacks."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).parents[2] / "submissions"
CORRECT = CORPUS / "correct_inplace"
BUGGY = CORPUS / "bug_adam_no_bias_correction"
# The student's self-check runs where neither the solution nor the bug library exists.
WITHOUT_SOLUTION = ("import sys; sys.modules['reference'] = None; sys.modules['grader.diagnosis'] = None; "
                    "from grader.cli import main; sys.exit(main(sys.argv[1:]))")


def grader(*args: str, student: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", WITHOUT_SOLUTION] if student else [sys.executable, "-m", "grader.cli"]
    return subprocess.run([*command, *map(str, args)], capture_output=True, text=True, timeout=600)


def without_timing(report: dict) -> dict:
    return {k: v for k, v in report.items() if k != "elapsed_s"}


def test_grade_writes_three_reports_and_is_deterministic(tmp_path):
    runs = [grader("grade", BUGGY, "-o", tmp_path / str(i)) for i in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    reports = [json.loads((tmp_path / str(i) / "report.json").read_text()) for i in range(2)]
    assert without_timing(reports[0]) == without_timing(reports[1])
    assert reports[0]["score"] < reports[0]["max_score"]
    results = json.loads((tmp_path / "0" / "results.json").read_text())
    assert results["score"] == reports[0]["score"] and len(results["tests"]) == len(reports[0]["checks"])
    assert "optim.adam" in (tmp_path / "0" / "report.md").read_text()
    assert "optim.adam" in runs[0].stdout


def test_self_check_runs_without_the_reference(tmp_path):
    good, bad = grader("check", CORRECT, student=True), grader("check", BUGGY, student=True)
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Traceback" not in good.stderr
    assert bad.returncode == 1 and "optim.adam" in bad.stdout


@pytest.mark.parametrize("args, words", [
    (["grade", "no/such/folder", "-o", "out"], "no such file"),
    (["grade", str(CORRECT), "-o", "out", "--rubric", "no/such.toml"], "no such rubric"),
])
def test_bad_input_is_one_clear_line(tmp_path, args, words):
    result = subprocess.run([sys.executable, "-m", "grader.cli", *args], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and words in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["train"], ["data", "fetch"], ["notebook"], ["batch"], ["gradescope"]])
def test_every_subcommand_takes_its_own_options(command):
    result = subprocess.run([sys.executable, "-m", "grader.cli", *command, "--help"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0 and "usage:" in result.stdout
