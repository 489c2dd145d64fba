"""The class report of a batch: gradebook.csv and a self-contained summary.html.

gradebook.csv, one row per student, columns in this order:
    student, score, max_score, <module.function>... (points on each graded function),
    status (graded | unreadable | grader-error), elapsed_s
Numbers are written by `number()` (rounded to 2 decimals, no trailing zeros); summary.html
shows the same strings, so its tables hold exactly the numbers of gradebook.csv.

summary.html holds its plots as PNG data: URIs (matplotlib, Agg) and no external resource.
Pass rates count the students whose status is "graded"; a function is passed with full points
on it, a check with status "passed".
"""
from __future__ import annotations

import base64
import csv
import html
import io
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from grader.report import Report, write_atomic

STATUSES = ("graded", "unreadable", "grader-error")
SLOWEST = 10
NUMERIC = re.compile(r"^[\d.,/%-]+$")   # cells right-aligned in the tables
# A warning's kind: the first whose words occur in it (lower case); anything else is "other".
WARNING_KINDS = (
    ("timeout", ("timed out", "timeout", "time limit", "too long")),
    ("tampering", ("tamper", "forbidden", "blocked", "refusal")),
    ("memory", ("memory",)),
    ("exit or crash", ("systemexit", "keyboardinterrupt", "child died")),
    ("output flood", ("printed",)),
    ("grader error", ("internal grader error", "grader error")),
    ("unreadable files", ("not a readable", "larger than", "inflate", "holds none", "unsafe paths", "cannot read")),
)


@dataclass(frozen=True)
class Row:
    """One student of a batch: their report and how grading went (one of STATUSES)."""
    student: str
    status: str
    report: Report


def number(value: float) -> str:
    """The one rendering of a number in gradebook.csv and summary.html: 2.3333 -> "2.33", 4.0 -> "4"."""
    return f"{round(value, 2):g}"


def functions(rows: Sequence[Row]) -> list[str]:
    """Every graded function of the batch, in the order the reports list them."""
    return list(dict.fromkeys(f for row in rows for f in row.report.by_function()))


def gradebook(rows: Sequence[Row]) -> tuple[list[str], list[list[str]]]:
    """(header, lines) of gradebook.csv, every cell already a string."""
    names = functions(rows)
    header = ["student", "score", "max_score", *names, "status", "elapsed_s"]
    lines = []
    for row in rows:
        points = row.report.by_function()
        lines.append([row.student, number(row.report.score), number(row.report.max_score),
                      *(number(points[f][0]) if f in points else "" for f in names),
                      row.status, number(row.report.elapsed_s)])
    return header, lines


def write_class_report(rows: Sequence[Row], outdir: Path) -> None:
    """OUTDIR/gradebook.csv and OUTDIR/summary.html, each written atomically."""
    header, lines = gradebook(rows)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *lines])
    write_atomic(outdir / "gradebook.csv", buffer.getvalue())
    write_atomic(outdir / "summary.html", summary_html(rows))


# The figures and tables of summary.html.

def function_pass_rates(rows: Sequence[Row]) -> list[tuple[str, int, int]]:
    """(function, students with full points, graded students), worst first."""
    graded = [r for r in rows if r.status == "graded"]
    full = Counter(f for r in graded for f, (score, most) in r.report.by_function().items() if score >= most)
    return sorted(((f, full[f], len(graded)) for f in functions(graded)), key=lambda t: (t[1], t[0]))


def check_pass_rates(rows: Sequence[Row]) -> list[tuple[str, str, int, int]]:
    """(check id, function, students who passed it, graded students who ran it), worst first."""
    ran, passed, owner = Counter(), Counter(), {}
    for check in (c for r in rows if r.status == "graded" for c in r.report.checks):
        ran[check.id] += 1
        passed[check.id] += check.status == "passed"
        owner[check.id] = check.function
    return sorted(((i, owner[i], passed[i], ran[i]) for i in ran), key=lambda t: (t[2] / t[3], t[0]))


def diagnoses(rows: Sequence[Row]) -> list[tuple[str, int]]:
    """(known bug, students in whose report it is diagnosed), most common first."""
    found = Counter(d for r in rows for d in {getattr(c, "diagnosis", None) for c in r.report.checks} if d)
    return found.most_common()


def warning_kind(warning: str) -> str:
    low = warning.lower()
    return next((kind for kind, words in WARNING_KINDS if any(w in low for w in words)), "other")


def warning_counts(rows: Sequence[Row]) -> list[tuple[str, int, int]]:
    """(kind, students with such a warning, warnings of the kind), most students first."""
    students, total = Counter(), Counter()
    for row in rows:
        kinds = [warning_kind(w) for w in row.report.warnings]
        total.update(kinds)
        students.update(set(kinds))
    return sorted(((k, students[k], total[k]) for k in total), key=lambda t: (-t[1], t[0]))


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def _reason(row: Row) -> str:
    """Why a row is not graded: its first warning."""
    return row.report.warnings[0] if row.report.warnings else ""


def _table(header: Sequence[str], lines: Iterable[Sequence[object]], table_id: str = "") -> str:
    ident = f' id="{table_id}"' if table_id else ""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(str(v)) for v in line) + "</tr>" for line in lines)
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(text: str) -> str:
    return f'<td class="n">{text}</td>' if NUMERIC.match(text) else f"<td>{html.escape(text)}</td>"


def _png(fig) -> str:
    """A matplotlib figure as an <img> with a PNG data: URI."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="" src="data:image/png;base64,{data}">'


def score_histogram(rows: Sequence[Row]) -> str:
    from matplotlib.figure import Figure
    scored = [r.report for r in rows if r.status != "grader-error"]
    most = max((r.max_score for r in scored), default=1.0) or 1.0
    fig = Figure(figsize=(7, 3), dpi=100, layout="constrained")
    ax = fig.subplots()
    ax.hist([r.score for r in scored], bins=20, range=(0, most), color="#4c72b0", edgecolor="white")
    ax.set(xlabel="score", ylabel="students", title=f"Scores (out of {number(most)})")
    return _png(fig)


def pass_rate_chart(rates: Sequence[tuple[str, int, int]]) -> str:
    from matplotlib.figure import Figure
    fig = Figure(figsize=(7, 0.3 * len(rates) + 1), dpi=100, layout="constrained")
    ax = fig.subplots()
    ax.barh([f for f, _, _ in rates], [full / graded if graded else 0 for _, full, graded in rates], color="#55a868")
    ax.set(xlim=(0, 1), xlabel="fraction of graded students with full points", title="Per-function pass rates")
    ax.invert_yaxis()
    return _png(fig)


STYLE = """body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}td.n{text-align:right}.wide{overflow-x:auto}"""
# Sets data-images-decoded="yes" on <body> once every image has decoded ("no" if one failed).
SCRIPT = """window.addEventListener("load", () => {const imgs = Array.from(document.images);
document.body.dataset.imagesDecoded = imgs.every(i => i.complete && i.naturalWidth > 0) ? "yes" : "no";});"""


def summary_html(rows: Sequence[Row]) -> str:
    header, lines = gradebook(rows)
    by_status = Counter(r.status for r in rows)
    graded = [r.report.score for r in rows if r.status == "graded"]
    rates = function_pass_rates(rows)
    slowest = sorted((r for r in rows if r.status != "grader-error"), key=lambda r: -r.report.elapsed_s)[:SLOWEST]
    sections = [
        "<h1>Class report</h1>",
        f"<p>{len(rows)} submissions: " + ", ".join(f"{by_status[s]} {s}" for s in STATUSES)
        + (f"; median score {number(statistics.median(graded))}" if graded else "") + "</p>",
        score_histogram(rows),
        "<h2>Per-function pass rates</h2>", pass_rate_chart(rates),
        _table(["function", "full points", "pass rate"],
               [(f, f"{full}/{n}", _percent(full, n)) for f, full, n in rates]),
        "<h2>Per-check pass rates (worst first)</h2>",
        _table(["check", "function", "passed", "pass rate"],
               [(i, f, f"{p}/{n}", _percent(p, n)) for i, f, p, n in check_pass_rates(rows)]),
        "<h2>Most common diagnosed bugs</h2>", _table(["bug", "students"], diagnoses(rows)),
        "<h2>Warnings</h2>", _table(["kind", "students", "warnings"], warning_counts(rows)),
        "<h2>Slowest submissions</h2>",
        _table(["student", "elapsed_s", "score"], [(r.student, number(r.report.elapsed_s), number(r.report.score))
                                                   for r in slowest]),
        "<h2>Not graded</h2>",
        _table(["student", "status", "reason"],
               [(r.student, r.status, _reason(r)) for r in rows if r.status != "graded"]),
        "<h2>Gradebook</h2>", f'<div class="wide">{_table(header, lines, "gradebook")}</div>',
    ]
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Class report</title>'
            f"<style>{STYLE}</style><script>{SCRIPT}</script></head>\n<body>\n" + "\n".join(sections)
            + "\n</body></html>\n")
