"""summary.html as a person sees it: rendered by headless Chromium, images decoded, numbers as in gradebook.csv."""
import csv
import html
import re
import subprocess
from pathlib import Path

import pytest

from grader.classreport import Row, write_class_report
from grader.report import CheckResult, Report

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")


def report(student: str, points: dict[str, float], elapsed_s: float = 2.0, warnings: tuple[str, ...] = (),
           diagnosis: str | None = None) -> Report:
    """A report with one check per function worth 1/3 point, `points` of them passed."""
    checks = [CheckResult(id=f"{function}/property/{i}", function=function, kind="property",
                          status="passed" if i < passed else "failed", score=1 / 3 if i < passed else 0.0,
                          max_score=1 / 3, message="", diagnosis=None if i < passed else diagnosis)
              for function, passed in points.items() for i in range(3)]
    return Report(student, sum(c.score for c in checks), sum(c.max_score for c in checks), elapsed_s,
                  list(warnings), checks)


def the_class() -> list[Row]:
    full = {"optim.sgd": 3, "optim.adam": 3, "layers.relu_forward": 3}
    return [
        Row("alice", "graded", report("alice", full)),
        Row("bob", "graded", report("bob", {**full, "optim.adam": 2}, diagnosis="adam_no_bias_correction")),
        Row("carol", "graded", report("carol", {**full, "optim.sgd": 1}, 31.4159,
                                      ("call to optim.sgd timed out after 5 s",))),
        Row("dave", "unreadable", report("dave", dict.fromkeys(full, 0), 0.2,
                                         ("dave.zip: not a readable zip archive",))),
        Row("erin", "grader-error", Report("erin", 0.0, 0.0, 0.0, ["grader error: RuntimeError: boom"])),
    ]


def chromium(page: Path, tmp_path: Path, *args: str) -> str:
    done = subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args, page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def table_rows(dom: str, table_id: str) -> list[list[str]]:
    table = re.search(rf'<table id="{table_id}">(.*?)</table>', dom, re.S).group(1)
    return [[html.unescape(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[Path, str]:
    """(OUTDIR, Chromium's DOM of summary.html after load), and OUTDIR/screenshot.png."""
    out = tmp_path_factory.mktemp("classreport")
    write_class_report(the_class(), out)
    page = out / "summary.html"
    dom = chromium(page, out, "--dump-dom")
    chromium(page, out, "--window-size=1200,2400", f"--screenshot={out / 'screenshot.png'}")
    return out, dom


def test_every_image_decodes(rendered):
    out, dom = rendered
    assert len(re.findall(r"<img ", dom)) == 2
    assert re.search(r'<body data-images-decoded="yes"', dom)
    assert (out / "screenshot.png").stat().st_size > 10_000


def test_page_is_self_contained(rendered):
    out, _ = rendered
    source = (out / "summary.html").read_text()
    assert not re.search(r'(src|href)="(?!data:)', source)


def test_gradebook_table_holds_the_csv(rendered):
    out, dom = rendered
    with open(out / "gradebook.csv", newline="") as f:
        assert table_rows(dom, "gradebook") == list(csv.reader(f))


def test_rounding_is_the_csvs(rendered):
    out, dom = rendered
    book = {row[0]: row for row in table_rows(dom, "gradebook")}
    assert book["bob"][1:3] == ["2.67", "3"] and book["carol"][-1] == "31.42"
    assert "adam_no_bias_correction" in dom and "timeout" in dom
