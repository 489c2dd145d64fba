"""`grader batch ROOT -o OUTDIR`: grade a whole class concurrently and resumably.

Each direct child of ROOT that is a folder or a .zip is one student (hidden entries are
skipped); the student is named after the folder, or the zip without its suffix. Every
submission is graded by `grade()` (which sandboxes it) in a worker of any
concurrent.futures Executor; the parent process alone writes OUTDIR:

    OUTDIR/<student>/report.json, results.json, report.md   (grader.report.write_reports)
    OUTDIR/<student>/.graded      {"key": "<sha256 hex>", "status": "graded" | "unreadable"}
    OUTDIR/gradebook.csv, OUTDIR/summary.html                (grader.classreport)

.graded is written atomically after the reports. Its key hashes what is graded (the files
the submission reader takes, and its warnings), the rubric's fingerprint, the profile and the
grader's version: a student whose key is unchanged keeps their reports and is not graded
again, so an interrupted batch resumes where it stopped. A worker's exception becomes a row
with status grader-error and a report that says so; it has no .graded, so the next run retries it.
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, TextIO

import grader
from grader import submission as submissions
from grader.classreport import Row, write_class_report
from grader.profiles import PROFILES, Profile
from grader.report import Report, from_json, write_atomic, write_reports
from grader.rubric import Rubric, RubricError, load

STATE = ".graded"


@dataclass(frozen=True)
class Entry:
    """One student's submission under ROOT."""
    student: str
    path: Path


@dataclass
class BatchResult:
    rows: list[Row]          # one per student, in ROOT's order
    graded: list[str]        # students graded by this run, in order of completion
    reused: list[str]        # students whose unchanged reports were kept
    elapsed_s: float


def discover(root: Path) -> list[Entry]:
    """The students under `root`, sorted by name; a zip whose stem a folder already has keeps its suffix."""
    paths = sorted(p for p in root.iterdir() if not p.name.startswith(".")
                   and (p.is_dir() or (p.is_file() and p.suffix.lower() == ".zip")))
    folders = {p.name for p in paths if p.is_dir()}
    return [Entry(p.name if p.is_dir() or p.stem in folders else p.stem, p) for p in paths]


def read_entry(entry: Entry) -> submissions.Submission:
    """The submission of `entry`, named after the student; an unreadable one has warnings and no files.
    Warnings name the entry, never where ROOT is, so a moved class keeps its cache keys."""
    try:
        found = submissions.read(entry.path)
    except (submissions.SubmissionInputError, OSError) as e:
        found = submissions.Submission(entry.student, warnings=[f"unreadable ({e})"])
    return replace(found, name=entry.student,
                   warnings=[w.replace(str(entry.path), entry.path.name) for w in found.warnings])


def status_of(submission: submissions.Submission) -> str:
    return "graded" if submission.files or submission.notebook else "unreadable"


def cache_key(submission: submissions.Submission, rubric: Rubric, profile: Profile) -> str:
    """sha256 hex of the graded content, the rubric's fingerprint, the profile and the grader version."""
    digest = hashlib.sha256(json.dumps([rubric.fingerprint(), profile.name, grader.__version__,
                                        sorted(submission.warnings)]).encode())
    notebook = [submission.notebook] if submission.notebook else []
    for name, data in sorted(submission.files.items()) + notebook:
        digest.update(f"\0{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def grade_one(submission: submissions.Submission, rubric: Rubric, profile_name: str) -> dict:
    """report.json's content for one submission (runs in a worker; only picklable values cross)."""
    from grader.grade import grade
    return grade(submission, rubric, PROFILES[profile_name]).to_json()


def cached_row(folder: Path, key: str) -> Row | None:
    """The row kept in `folder` when its .graded holds `key`, else None."""
    try:
        state = json.loads((folder / STATE).read_text(encoding="utf-8"))
        if state["key"] != key:
            return None
        report = from_json(json.loads((folder / "report.json").read_text(encoding="utf-8")))
        return Row(folder.name, state["status"], report)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def error_report(student: str, error: BaseException) -> Report:
    return Report(submission=student, score=0.0, max_score=0.0, elapsed_s=0.0,
                  warnings=[f"grader error: {type(error).__name__}: {error}; not graded, run the batch again"],
                  grader_version=grader.__version__)


def record(future: Future, student: str, key: str, status: str, outdir: Path) -> Row:
    """Write one finished submission's reports, then its .graded (not for a grader error)."""
    try:
        report = from_json(future.result())
    except Exception as e:  # the worker's failure, or the worker lost: one row, never the batch
        report, status = error_report(student, e), "grader-error"
    folder = outdir / student
    write_reports(report, folder)
    if status != "grader-error":
        write_atomic(folder / STATE, json.dumps({"key": key, "status": status}))
    return Row(student, status, report)


class Progress:
    """Progress on a stream: one redrawn bar on a terminal, else one plain line per submission.

    Plain line: "[  3/40] alice: graded, 52/56 (1.2/min, 31m40s left)".
    """

    def __init__(self, total: int, reused: int, stream: TextIO | None = None) -> None:
        self.total, self.done, self.reused = total, reused, reused
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.start = time.monotonic()
        self.stream.write(f"{total} submissions: {reused} unchanged (reused), {total - reused} to grade\n")
        self.stream.flush()

    def advance(self, row: Row) -> None:
        self.done += 1
        width = len(str(self.total))
        outcome = f"{row.student}: {row.status}, {row.report.score:g}/{row.report.max_score:g}"
        if self.tty:
            bar = "#" * (30 * self.done // self.total)
            self.stream.write(f"\r[{bar:<30}] {self.done:>{width}}/{self.total} {self._pace()}  {outcome[:40]:<40}")
            self.stream.write("\n" if self.done == self.total else "")
        else:
            self.stream.write(f"[{self.done:>{width}}/{self.total}] {outcome} ({self._pace()})\n")
        self.stream.flush()

    def _pace(self) -> str:
        """This run's grading rate and the time it implies: "1.2/min, 31m40s left"."""
        graded, elapsed = self.done - self.reused, time.monotonic() - self.start
        rate = graded / elapsed * 60 if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate * 60 if rate else 0.0
        return f"{rate:.1f}/min, {int(left // 60)}m{int(left % 60):02d}s left"


def grade_batch(root: Path, outdir: Path, executor: Executor, rubric: Rubric, profile: Profile,
                stream: TextIO | None = None) -> BatchResult:
    """Grade every student under `root` new or changed since the last run; write OUTDIR (module doc)."""
    start = time.monotonic()
    entries = discover(root)
    outdir.mkdir(parents=True, exist_ok=True)
    prepared = {e.student: read_entry(e) for e in entries}
    keys = {s: cache_key(sub, rubric, profile) for s, sub in prepared.items()}
    rows = {s: row for s in prepared if (row := cached_row(outdir / s, keys[s]))}
    progress = Progress(len(entries), len(rows), stream)
    futures = {executor.submit(grade_one, sub, rubric, profile.name): s
               for s, sub in prepared.items() if s not in rows}
    graded = []
    try:
        for future in as_completed(futures):
            student = futures[future]
            rows[student] = record(future, student, keys[student], status_of(prepared[student]), outdir)
            graded.append(student)
            progress.advance(rows[student])
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    ordered = [rows[e.student] for e in entries]
    write_class_report(ordered, outdir)
    return BatchResult(ordered, graded, [e.student for e in entries if e.student not in graded],
                       round(time.monotonic() - start, 3))


@contextlib.contextmanager
def executor_for(jobs: int, scheduler: str | None) -> Iterator[Executor]:
    """A process pool of `jobs` spawned workers, or the Dask cluster at `scheduler`."""
    if scheduler is None:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            yield pool
        return
    try:
        from distributed import Client
    except ImportError:
        raise SystemExit("grader batch: --scheduler needs Dask: pip install 'nndl-grader[dask]'") from None
    with Client(scheduler) as client, client.get_executor() as executor:
        yield executor


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="grader batch", description="Grade every submission under ROOT "
                                "(each folder or .zip is one student) into OUTDIR, resuming an earlier run.")
    p.add_argument("root", type=Path, help="folder holding one folder or .zip per student")
    p.add_argument("-o", "--out", type=Path, required=True, help="folder for the reports, gradebook.csv, summary.html")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: CPUs)")
    p.add_argument("--rubric", type=Path, help="a rubric TOML file (default: the packaged one)")
    p.add_argument("--profile", choices=sorted(PROFILES), default="ucla-w21")
    p.add_argument("--scheduler", help="a Dask scheduler address; grade on its cluster instead of local processes")
    return p


def batch_main(argv: list[str]) -> int:
    """Exit status: 0 when every submission was graded or found unreadable, 1 after a grader error,
    2 on bad input, 130 when interrupted."""
    args = parser().parse_args(argv)
    if not args.root.is_dir():
        print(f"grader batch: {args.root}: not a folder", file=sys.stderr)
        return 2
    if importlib.util.find_spec("matplotlib") is None:   # summary.html's plots, needed only at the end
        print("grader batch: summary.html needs matplotlib: pip install matplotlib", file=sys.stderr)
        return 2
    try:
        chosen = load(args.rubric)
    except RubricError as e:
        print(f"grader batch: {e}", file=sys.stderr)
        return 2
    try:
        with executor_for(max(args.jobs, 1), args.scheduler) as executor:
            result = grade_batch(args.root, args.out, executor, chosen, PROFILES[args.profile])
    except KeyboardInterrupt:
        print("grader batch: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    errors = [r.student for r in result.rows if r.status == "grader-error"]
    print(f"graded {len(result.graded)}, reused {len(result.reused)}, grader errors {len(errors)} "
          f"in {result.elapsed_s:.1f} s; see {args.out / 'gradebook.csv'} and {args.out / 'summary.html'}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(batch_main(sys.argv[1:]))
