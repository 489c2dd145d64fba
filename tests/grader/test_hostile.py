"""Hostile and malformed submissions: nothing lost, nothing fooled.

Each submissions/hostile_*/ folder is correct code with one hostile or malformed thing in it, and a
manifest: verdict = "hostile"; lose and may_lose as in test_corpus.py; incidents, words that must
appear in the report's warnings; optionally earns_only, the check kinds through which a function in
`lose` may still score, and grade, the file in the folder to grade instead of the folder (a zip).

Every case is graded once per session as `grader grade` does (submission.read, grade, write_reports),
two at a time, with the packaged rubric under shorter limits (HOSTILE_LIMITS). Each case gets its own
temporary folder, which becomes the parent of its sandbox's scratch folders (nndl-sandbox-*, in /tmp
otherwise), so whatever the sandbox leaves behind is attributed to the case that left it: files, and
processes working in such a folder or started with it in their environment (a child's cwd and HOME
lie in its scratch folder, and so would those of anything it started).
"""
from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import re
import signal
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from corpus import CORPUS, corpus
from grader import rubric, submission
from grader.functions import FUNCTIONS
from grader.grade import grade
from grader.profiles import PROFILES
from grader.report import from_json, gradescope, write_reports
from grader.sandbox import Limits, Sandbox
from test_corpus import lost

MANIFESTS = corpus(("hostile",))
HOSTILE_LIMITS = {"call_seconds": 2.0, "import_seconds": 5.0, "examples": 10}
MARGIN_SECONDS = 30.0  # a whole grading without incident, on a busy machine
RESTART_SECONDS = 2.0  # a new child: start, numpy, confinement, imports again
CHECKOUT = CORPUS.parent
FORGED_NAMES = ("report.json", "results.json", "report.md", "planted.py")
WORST_CASE = "hostile_hang_everywhere"
# Cases the grader still scores wrongly, and why: each is an expected failure until its fix lands.


def hostile_rubric() -> rubric.Rubric:
    rules = rubric.load()
    return dataclasses.replace(rules, limits={**rules.limits, **HOSTILE_LIMITS})


def grade_case(name: str, temp: str, out: str) -> dict:
    """Grade one case in a pool worker, its scratch folders under `temp`, its reports into `out`.

    Returns the report (as JSON), the wall time in seconds, and what the sandbox left behind: the
    entries of `temp` and the processes working in it or started with it in their environment.
    """
    tempfile.tempdir = temp
    target = CORPUS / name / MANIFESTS[name].get("grade", "")
    start = time.monotonic()
    report = grade(submission.read(target), hostile_rubric(), PROFILES["ucla-w21"])
    write_reports(report, Path(out))
    wall = time.monotonic() - start
    return {"report": report.to_json(), "wall": wall, "files": sorted(os.listdir(temp)),
            "processes": leftover_processes(temp)}


def leftover_processes(folder: str) -> list[str]:
    """The processes whose working folder or environment names `folder`, SIGKILLed once listed."""
    found = []
    for pid in [int(name) for name in os.listdir("/proc") if name.isdigit()]:
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
            environment = Path(f"/proc/{pid}/environ").read_bytes()
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone, or not ours to read
            continue
        if cwd.startswith(folder) or folder.encode() in environment:
            found.append(f"{pid}: {command}")
            os.kill(pid, signal.SIGKILL)
    return found


def state(path: Path) -> tuple[int, int] | None:
    """(size, mtime_ns), or None when nothing is there."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns


def size(path: Path) -> int:
    """Its size in bytes; 0 when nothing is there."""
    return (state(path) or (0, 0))[0]


def forgery_targets(root: Path) -> list[Path]:
    """Where a forged report or planted file could land: the folders a submission can name."""
    folders = {Path("/tmp"), Path("/var/tmp"), Path("/"), Path(tempfile.gettempdir()), Path.home(), root,
               root / "temp", CHECKOUT, CHECKOUT / "grader", CHECKOUT / "reference", CORPUS}
    return [folder / name for folder in sorted(folders) for name in FORGED_NAMES]


def protected_files() -> list[Path]:
    """The files the hostile cases try to truncate, delete or rename."""
    patterns = ("reference/*.py", "grader/*.py", "grader/*.toml", "submissions/*/*")
    return [path for pattern in patterns for path in sorted(CHECKOUT.glob(pattern)) if path.is_file()]


@pytest.fixture(scope="session")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every case graded: {"results": name -> grade_case's answer, "out": the output folders' parent,
    "forged": targets that changed, "destroyed": protected files missing or emptied since}."""
    root = tmp_path_factory.mktemp("hostile")
    targets, protected = forgery_targets(root), [path for path in protected_files() if size(path)]
    before = {target: state(target) for target in targets}
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {}
        for name in MANIFESTS:
            temp = root / "temp" / name
            temp.mkdir(parents=True)
            futures[name] = pool.submit(grade_case, name, str(temp), str(root / "out" / name))
        results = {name: future.result() for name, future in futures.items()}
    return {
        "results": results,
        "out": root / "out",
        "forged": [str(target) for target in targets if state(target) != before[target]],
        "destroyed": [str(path) for path in protected if not size(path)],
    }


def verdict_problems(manifest: dict, report: dict) -> list[str]:
    """What is wrong with the scores: a function not caught, collateral damage, points it may not earn."""
    must, may, lost_now = set(manifest["lose"]), set(manifest["may_lose"]), lost(report)
    problems = [f"not caught: {sorted(must - lost_now)}"] if must - lost_now else []
    problems += [f"collateral damage: {sorted(lost_now - must - may)}"] if lost_now - must - may else []
    kinds = manifest.get("earns_only")
    if kinds is not None:
        problems += [f"{c['id']} earned {c['score']}" for c in report["checks"]
                     if c["function"] in must and c["kind"] not in kinds and c["score"] > 0]
        problems += [f"{c['id']} did not earn its points" for c in report["checks"]
                     if c["function"] in must and c["kind"] in kinds and c["score"] < c["max_score"]]
    return problems


def missing_incidents(manifest: dict, report: dict) -> list[str]:
    return [word for word in manifest["incidents"] if not any(word in warning for warning in report["warnings"])]


def report_problems(out: Path, report: dict) -> list[str]:
    """How the files in `out` differ from what the grader wrote for `report` (forged, partial, missing)."""
    expected = {"report.json": report, "results.json": gradescope(from_json(report))}
    problems = []
    for name, content in expected.items():
        try:
            written = json.loads((out / name).read_text())
        except (OSError, ValueError) as error:
            problems.append(f"{name}: {error}")
            continue
        if written != json.loads(json.dumps(content, default=str)):
            problems.append(f"{name} is not the report the grader returned")
    if not (out / "report.md").read_text().startswith(f"# Grading report: {report['submission']}"):
        problems.append("report.md is not the grader's")
    return problems


def wall_bound(warnings: list[str]) -> float:
    """The seconds a grading may take: a margin, plus each timeout's limit and each lost child's restart."""
    timeouts = [float(seconds) for w in warnings for seconds in re.findall(r"timeout after ([\d.]+) s", w)]
    restarts = len(timeouts) + sum("the child died" in w for w in warnings)
    return MARGIN_SECONDS + sum(timeouts) + restarts * RESTART_SECONDS


def survived(result: dict, out: Path) -> bool:
    """A complete report of the grader's own, within its time, and nothing left behind."""
    report = result["report"]
    return (not report_problems(out, report) and result["wall"] < wall_bound(report["warnings"])
            and not result["files"] and not result["processes"])


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_scores_are_not_fooled(name: str, hostile: dict) -> None:
    assert verdict_problems(MANIFESTS[name], hostile["results"][name]["report"]) == []


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_warnings_name_the_incidents(name: str, hostile: dict) -> None:
    report = hostile["results"][name]["report"]
    assert missing_incidents(MANIFESTS[name], report) == [], report["warnings"]


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_reports_are_the_graders_and_complete(name: str, hostile: dict) -> None:
    assert report_problems(hostile["out"] / name, hostile["results"][name]["report"]) == []


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_grading_ends_in_time_and_leaves_nothing(name: str, hostile: dict) -> None:
    result = hostile["results"][name]
    assert result["wall"] < wall_bound(result["report"]["warnings"])
    assert result["files"] == [] and result["processes"] == []


def test_nothing_forged_or_destroyed_outside(hostile: dict) -> None:
    assert hostile["forged"] == [] and hostile["destroyed"] == []


def test_worst_case_every_function_hangs(hostile: dict, capsys: pytest.CaptureFixture) -> None:
    """Each graded function costs at most one call limit and one restart, then is not called again (a
    backward whose forward hangs is never called at all)."""
    result = hostile["results"][WORST_CASE]
    bound = len(FUNCTIONS) * (HOSTILE_LIMITS["call_seconds"] + RESTART_SECONDS) + MARGIN_SECONDS / 3
    with capsys.disabled():
        print(f"\nworst case (every function hangs): {result['wall']:.1f} s for {len(FUNCTIONS)} functions, "
              f"bound {bound:.0f} s ({HOSTILE_LIMITS['call_seconds']:g} s limit + {RESTART_SECONDS:g} s restart each)")
    assert result["wall"] < bound
    assert 0 < sum("timeout after" in warning for warning in result["report"]["warnings"]) <= len(FUNCTIONS)


def test_hostile_figures(hostile: dict, capsys: pytest.CaptureFixture) -> None:
    results = hostile["results"]
    outside = not hostile["forged"] and not hostile["destroyed"]
    alive = [n for n, r in results.items() if outside and survived(r, hostile["out"] / n)]
    scored = [n for n, r in results.items() if not verdict_problems(MANIFESTS[n], r["report"])
              and not missing_incidents(MANIFESTS[n], r["report"])]
    slowest = max(results, key=lambda n: results[n]["wall"])
    with capsys.disabled():
        print(f"\nhostile corpus: {len(results)} cases tried")
        print(f"  survived (the grader's own complete reports, in time, nothing left or forged): {len(alive)}/{len(results)}")
        print(f"  correctly scored (nothing fooled, no collateral damage, incidents named): {len(scored)}/{len(results)}")
        print(f"  grading time: {sum(r['wall'] for r in results.values()):.0f} s in all, "
              f"slowest {slowest} {results[slowest]['wall']:.1f} s")
    assert len(alive) == len(results) >= 30 and len(scored) == len(results)


# -- the memory-write exploit against the kernel's confinement -----------------------------------------

EXPLOIT = CORPUS / "hostile_memory_exploit" / "optim.py"
EACCES, EPERM = "builtins.PermissionError: [Errno 13]", "builtins.PermissionError: [Errno 1]"
# What each of the exploit's attempts must get once the audit hook is silenced: the kernel's refusal.
ESCAPES = {
    "silence the audit hook": "done",
    "audit hook off": "done",  # the proof: a gc walk the audit hook refuses
    "read the reference": EACCES,
    "read the grader": EACCES,
    "list the grader's folder": EACCES,
    "read the parent's environment": EACCES,
    "forge /tmp/report.json": EACCES,
    "forge results.json beside scratch": EACCES,
    "forge report.json in the checkout": EACCES,
    "plant a module in the reference": EACCES,
    "signal the parent": EPERM,
    "start a process": EPERM,
    "run a program": EPERM,
    "open a socket": EPERM,
    "open a unix socket": EPERM,
    "raise the memory limit": "builtins.ValueError: not allowed to raise maximum limit",
    "chmod a grader file": EPERM,
}


def test_the_memory_exploit_is_held_by_the_kernel() -> None:
    """The exploit switches every in-process guard off, then each escape fails all the same.

    (It finds the audit hooks by CPython 3.11's layout; should that change, AUDIT_HOOKS_AFTER_MODULES
    in the exploit needs updating, and "silence the audit hook" says so.)"""
    targets = [Path("/tmp/report.json"), Path("/tmp/results.json"), CHECKOUT / "report.json",
               CHECKOUT / "reference" / "planted.py"]
    before = [state(target) for target in targets]
    with Sandbox({"optim.py": EXPLOIT.read_bytes()}, Limits(call_seconds=5.0)) as sandbox:
        escapes = sandbox.call("optim", "escapes")
    assert escapes.keys() == ESCAPES.keys()
    wrong = {name: got for name, got in escapes.items() if not got.startswith(ESCAPES[name])}
    assert wrong == {}
    assert [state(target) for target in targets] == before
    assert not any("kernel confinement" in incident for incident in sandbox.incidents)

