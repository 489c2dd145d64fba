"""`grader batch`: a small class graded concurrently, reused, resumed after a kill, and on Dask."""
import csv
import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest

from corpus import CORPUS
from grader import batch, cli, rubric
from grader.classreport import number
from grader.profiles import PROFILES
from grader.report import Report, from_json

FOLDERS = ("correct_einsum", "correct_loops")
ZIPPED = "correct_float32"
STATUSES = {"correct_einsum": "graded", "correct_loops": "graded", ZIPPED: "graded",
            "empty": "unreadable", "corrupt": "unreadable"}
PROFILE = PROFILES["ucla-w21"]


def make_class(root: Path) -> Path:
    """Two folders, one .zip (its files one folder deep), an empty folder, a corrupt zip, a hidden folder."""
    root.mkdir(parents=True)
    for name in FOLDERS:
        shutil.copytree(CORPUS / name, root / name, ignore=shutil.ignore_patterns("manifest.toml"))
    with zipfile.ZipFile(root / f"{ZIPPED}.zip", "w") as archive:
        for path in sorted((CORPUS / ZIPPED).glob("*.py")):
            archive.write(path, f"hw/{path.name}")
    (root / "empty").mkdir()
    (root / "corrupt.zip").write_bytes(b"PK\x03\x04 this is not a zip archive")
    shutil.copytree(CORPUS / FOLDERS[0], root / ".hidden")
    return root


def spawn_pool(jobs: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))


def run_batch(root: Path, out: Path, executor) -> batch.BatchResult:
    return batch.grade_batch(root, out, executor, rubric.load(), PROFILE)


def gradebook(out: Path) -> dict[str, dict[str, str]]:
    with open(out / "gradebook.csv", newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def state_files(out: Path) -> list[Path]:
    return sorted(out.glob(f"*/{batch.STATE}"))


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory) -> tuple[Path, Path, batch.BatchResult]:
    """(ROOT, OUTDIR, result) of one batch with 2 worker processes."""
    base = tmp_path_factory.mktemp("batch")
    root, out = make_class(base / "class"), base / "out"
    with spawn_pool(2) as pool:
        return root, out, run_batch(root, out, pool)


def test_every_entry_is_one_row(graded_class):
    root, out, result = graded_class
    assert {r.student: r.status for r in result.rows} == STATUSES
    assert {s: row["status"] for s, row in gradebook(out).items()} == STATUSES
    assert sorted(result.graded) == sorted(STATUSES) and result.reused == []
    for student in STATUSES:
        assert {p.name for p in (out / student).iterdir()} == {"report.json", "results.json", "report.md", batch.STATE}
    assert (out / "summary.html").is_file()


def test_gradebook_totals_equal_single_submission_reports(graded_class, tmp_path):
    root, out, _ = graded_class
    book = gradebook(out)
    for student, path in [(s, root / s) for s in FOLDERS] + [(ZIPPED, root / f"{ZIPPED}.zip")]:
        assert cli.main(["grade", str(path), "-o", str(tmp_path / student)]) == 0
        single = from_json(json.loads((tmp_path / student / "report.json").read_text()))
        assert (book[student]["score"], book[student]["max_score"]) == (number(single.score), number(single.max_score))
        assert {f: book[student][f] for f in single.by_function()} == \
               {f: number(score) for f, (score, _) in single.by_function().items()}


def test_function_columns_add_up_to_the_score(graded_class):
    _, out, result = graded_class
    book = gradebook(out)
    for row in result.rows:
        columns = {f: float(book[row.student][f]) for f in row.report.by_function()}
        assert sum(columns.values()) == pytest.approx(float(book[row.student]["score"]), abs=0.01 * len(columns))


def test_unchanged_class_is_not_graded_again(graded_class):
    root, out, first = graded_class
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*/report.json")}
    with spawn_pool(2) as pool:
        again = run_batch(root, out, pool)
    assert again.graded == [] and sorted(again.reused) == sorted(STATUSES)
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/report.json")} == stamps
    assert [(r.student, r.report.score) for r in again.rows] == [(r.student, r.report.score) for r in first.rows]


def test_changed_submission_alone_is_graded_again(graded_class, tmp_path):
    root, out, _ = graded_class
    root2, out2 = tmp_path / "class", tmp_path / "out"
    shutil.copytree(root, root2)
    shutil.copytree(out, out2)
    with open(root2 / "correct_loops" / "optim.py", "a") as f:
        f.write("\n# edited after the deadline\n")
    with spawn_pool(1) as pool:
        result = run_batch(root2, out2, pool)
    assert result.graded == ["correct_loops"]


def test_worker_exception_becomes_a_grader_error_row(graded_class, tmp_path, monkeypatch):
    root, _, _ = graded_class
    real = batch.grade_one

    def flaky(submission, chosen, profile_name):
        if submission.name == "correct_loops":
            raise RuntimeError("worker crashed")
        return Report(submission.name, 1.0, 2.0, 0.1).to_json()

    monkeypatch.setattr(batch, "grade_one", flaky)
    with ThreadPoolExecutor(2) as pool:   # any Executor will do
        result = run_batch(root, tmp_path, pool)
    rows = {r.student: r for r in result.rows}
    assert rows["correct_loops"].status == gradebook(tmp_path)["correct_loops"]["status"] == "grader-error"
    assert "worker crashed" in json.loads((tmp_path / "correct_loops" / "report.json").read_text())["warnings"][0]
    assert not (tmp_path / "correct_loops" / batch.STATE).exists()
    assert all(rows[s].status == STATUSES[s] for s in STATUSES if s != "correct_loops")
    monkeypatch.setattr(batch, "grade_one", real)
    with spawn_pool(1) as pool:
        assert run_batch(root, tmp_path, pool).graded == ["correct_loops"]   # retried, the rest reused


def cli_batch(root: Path, out: Path, stderr) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "grader.batch", str(root), "-o", str(out), "--jobs", "1"],
                            stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)


def test_killed_batch_resumes_with_the_rest(graded_class, tmp_path):
    root, _, _ = graded_class
    out = tmp_path / "out"
    with open(tmp_path / "first.log", "w") as log:
        first = cli_batch(root, out, log)
        while not state_files(out) and first.poll() is None:
            time.sleep(0.02)
        os.killpg(first.pid, signal.SIGKILL)   # the batch and its workers, as a hard stop would
        first.wait()
    done = len(state_files(out))
    assert 0 < done < len(STATUSES), "the batch finished before it could be killed"
    second = subprocess.run([sys.executable, "-m", "grader.batch", str(root), "-o", str(out), "--jobs", "2"],
                            capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stderr
    lines = second.stderr.splitlines()
    assert lines[0] == f"{len(STATUSES)} submissions: {done} unchanged (reused), {len(STATUSES) - done} to grade"
    assert len([line for line in lines if re.match(r"\[\s*\d+/\d+\] ", line)]) == len(STATUSES) - done
    assert {s: row["status"] for s, row in gradebook(out).items()} == STATUSES


def test_dask_cluster_grades_like_local_processes(graded_class, tmp_path):
    distributed = pytest.importorskip("distributed")
    root, _, local = graded_class
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        code = batch.batch_main([str(root), "-o", str(tmp_path), "--scheduler", cluster.scheduler_address])
    assert code == 0
    book = gradebook(tmp_path)
    assert {s: (row["status"], row["score"]) for s, row in book.items()} == \
           {r.student: (r.status, number(r.report.score)) for r in local.rows}
