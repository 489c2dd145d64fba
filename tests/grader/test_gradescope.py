"""The Gradescope archive: its layout, setup.sh, and run_autograder against a fake /autograder."""
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from corpus import CORPUS
from grader import rubric
from grader.gradescope import GRADESCOPE_MEMORY_MB, GRADESCOPE_SLOWDOWN, gradescope_main

# Gradescope's autograder specification: results.json keys, test keys, visibility values.
TOP_KEYS = {"score", "execution_time", "output", "visibility", "stdout_visibility", "extra_data", "tests",
            "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "number", "output", "tags", "visibility", "extra_data"}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
SUBMISSION = "correct_einsum"


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gradescope") / "autograder.zip"
    assert gradescope_main(["build", "-o", str(out)]) == 0
    return out


def fake_root(archive: Path, root: Path, submission: str | None = SUBMISSION) -> Path:
    """Lay out /autograder as Gradescope does: source/ unpacked, run_autograder copied, submission/."""
    with zipfile.ZipFile(archive) as z:
        z.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    if submission:
        shutil.copytree(CORPUS / submission, root / "submission", ignore=shutil.ignore_patterns("manifest.toml"))
    return root


def run_autograder(root: Path) -> dict:
    """Run run_autograder with this venv's python first on PATH (instead of setup.sh's venv)."""
    env = {**os.environ, "AUTOGRADER_ROOT": str(root),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(root / "run_autograder")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads((root / "results" / "results.json").read_text())


def assert_valid(results: dict) -> None:
    """Types, keys and values as Gradescope's specification has them; score = sum of test scores."""
    assert set(results) <= TOP_KEYS and isinstance(results["tests"], list)
    assert isinstance(results["score"], float) and isinstance(results["output"], str)
    assert results.get("stdout_visibility", "hidden") in VISIBILITIES
    for test in results["tests"]:
        assert set(test) <= TEST_KEYS, set(test) - TEST_KEYS
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert all(isinstance(test[k], float) for k in ("score", "max_score"))
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in ("passed", "failed") and test["visibility"] in VISIBILITIES
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]), abs=1e-3)


def test_archive_layout(archive):
    names = set(zipfile.ZipFile(archive).namelist())
    assert {"setup.sh", "run_autograder", "rubric.toml", "src/pyproject.toml",
            "src/grader/grade.py", "src/grader/rubric.toml", "src/reference/optim.py"} <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    modes = {i.filename: i.external_attr >> 16 for i in zipfile.ZipFile(archive).infolist()}
    assert modes["setup.sh"] & 0o111 and modes["run_autograder"] & 0o111


def test_archived_rubric_has_gradescope_limits(archive, tmp_path):
    zipfile.ZipFile(archive).extract("rubric.toml", tmp_path)
    archived, packaged = rubric.load(tmp_path / "rubric.toml"), rubric.load()
    assert archived.points == packaged.points and archived.hidden_visibility == packaged.hidden_visibility
    assert archived.limits["memory_mb"] == min(packaged.limits["memory_mb"], GRADESCOPE_MEMORY_MB)
    assert archived.limits["call_seconds"] == packaged.limits["call_seconds"] * GRADESCOPE_SLOWDOWN


def test_setup_sh_is_valid_bash(archive, tmp_path):
    zipfile.ZipFile(archive).extract("setup.sh", tmp_path)
    subprocess.run(["bash", "-n", str(tmp_path / "setup.sh")], check=True)


def test_archived_source_builds_the_package(archive, tmp_path):
    """What setup.sh pip-installs: the archived src/ builds a wheel of this project (offline)."""
    with zipfile.ZipFile(archive) as z:
        z.extractall(tmp_path / "source")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "-w", str(tmp_path / "wheels"), str(tmp_path / "source" / "src")], check=True)
    assert [p.name for p in (tmp_path / "wheels").iterdir()] == ["nndl_grader-0.1.0-py3-none-any.whl"]


def test_run_autograder_grades_a_correct_submission(archive, tmp_path):
    results = run_autograder(fake_root(archive, tmp_path))
    assert_valid(results)
    assert results["tests"] and results["score"] == pytest.approx(sum(t["max_score"] for t in results["tests"]))
    assert {t["visibility"] for t in results["tests"]} == {"visible", rubric.load().hidden_visibility}
    assert results["execution_time"] < 120


def test_results_when_there_is_no_submission(archive, tmp_path):
    results = run_autograder(fake_root(archive, tmp_path, submission=None))
    assert_valid(results)
    assert results["score"] == 0.0 and "submission" in results["output"]


def test_results_when_python_cannot_run(archive, tmp_path):
    root = fake_root(archive, tmp_path)
    broken = root / "venv" / "bin" / "python"
    broken.parent.mkdir(parents=True)
    broken.write_text("#!/bin/sh\nexit 3\n")
    broken.chmod(0o755)
    results = run_autograder(root)
    assert_valid(results)
    assert results["score"] == 0.0 and "exit status 3" in results["output"]


def test_notebook_rubric_is_refused(tmp_path):
    notebook_rubric = tmp_path / "rubric.toml"
    notebook_rubric.write_text(Path(rubric.DEFAULT).read_text() + '\n[points."notebook.runs"]\nnotebook = 2\n')
    assert rubric.load(notebook_rubric).grades_notebook()
    assert gradescope_main(["build", "-o", str(tmp_path / "a.zip"), "--rubric", str(notebook_rubric)]) == 2
    assert not (tmp_path / "a.zip").exists()
