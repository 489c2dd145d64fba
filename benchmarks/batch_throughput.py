"""Batch throughput: grade the submissions/ corpus at --jobs 1 and 2, print a Markdown table.

Each run is `grader batch` as a child process into a fresh OUTDIR (nothing reused). The
resident memory of its whole process tree (the batch, its workers, their sandboxes) is summed
from /proc every 0.1 s; the table reports the peak. CPU seconds (user + system) of the tree
come from getrusage(RUSAGE_CHILDREN), which does not depend on what else the machine runs;
the line under the table gives the machine's CPUs and load average.

    python benchmarks/batch_throughput.py [--root submissions] [--jobs 1 2] [--keep DIR]

| jobs | submissions | wall (s) | submissions / min | CPU s / submission | peak RSS of the process tree (MiB) |
|---:|---:|---:|---:|---:|---:|
"""
from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from grader.batch import discover

CORPUS = Path(__file__).resolve().parents[1] / "submissions"
PAGE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_S = 0.1


@dataclass(frozen=True)
class Run:
    jobs: int
    submissions: int
    wall_s: float
    cpu_s: float    # user + system, the whole tree
    peak_rss: int   # bytes
    returncode: int


def children() -> dict[int, list[int]]:
    """Parent pid -> child pids, for every process in /proc."""
    tree: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:   # the process ended meanwhile
            continue
        tree.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    return tree


def tree_rss(pid: int) -> int:
    """Bytes resident in `pid` and all its descendants."""
    tree, todo, total = children(), [pid], 0
    while todo:
        current = todo.pop()
        todo += tree.get(current, [])
        try:
            total += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * PAGE
        except OSError:
            pass
    return total


def measure(root: Path, jobs: int, keep: Path | None) -> Run:
    """One fresh `grader batch ROOT --jobs N` (into KEEP/jobs-N, emptied first, or a temporary
    folder), timed, its process tree's memory sampled."""
    if keep:
        shutil.rmtree(keep / f"jobs-{jobs}", ignore_errors=True)
    place = contextlib.nullcontext(keep / f"jobs-{jobs}") if keep else tempfile.TemporaryDirectory(prefix="batch-")
    with place as out:
        start, cpu = time.monotonic(), _children_cpu()
        child = subprocess.Popen([sys.executable, "-m", "grader.batch", str(root), "-o", str(out), "--jobs", str(jobs)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak = 0
        while child.poll() is None:
            peak = max(peak, tree_rss(child.pid))
            time.sleep(SAMPLE_S)
        return Run(jobs, len(discover(root)), time.monotonic() - start, _children_cpu() - cpu, peak, child.returncode)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def table(runs: list[Run]) -> str:
    lines = ["| jobs | submissions | wall (s) | submissions / min | CPU s / submission | "
             "peak RSS of the process tree (MiB) |", "|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r.jobs} | {r.submissions} | {r.wall_s:.1f} | {r.submissions / r.wall_s * 60:.1f} | "
              f"{r.cpu_s / r.submissions:.2f} | {r.peak_rss / 2**20:.0f} |" for r in runs]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return "\n".join(lines) + f"\n\n{os.cpu_count()} CPUs; load average {load} (1, 5, 15 min) at the end."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=CORPUS, help="the class folder (default: submissions/)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="worker counts to compare")
    parser.add_argument("--keep", type=Path, help="keep each run's OUTDIR as KEEP/jobs-N")
    args = parser.parse_args(argv)
    runs = [measure(args.root, jobs, args.keep) for jobs in args.jobs]
    print(table(runs))
    failed = [r.jobs for r in runs if r.returncode not in (0, 1)]   # 1: some grader errors, still a full run
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
