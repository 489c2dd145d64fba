"""The grader's record on the corpus: no correct code penalised, every bug caught and named."""
import pytest

from corpus import corpus

MANIFESTS = corpus(("full marks", "bug"))
BUGS = {name: m for name, m in MANIFESTS.items() if m["verdict"] == "bug"}


def lost(report: dict) -> set[str]:
    """Functions that lost points."""
    return {c["function"] for c in report["checks"] if c["score"] < c["max_score"]}


def first_diagnosis(report: dict, functions: list[str]) -> str | None:
    return next((c["diagnosis"] for c in report["checks"]
                 if c["function"] in functions and c["status"] != "passed" and c["diagnosis"]), None)


@pytest.mark.parametrize("name", sorted(MANIFESTS))
def test_submission_gets_its_verdict(name, graded_corpus):
    manifest, report = MANIFESTS[name], graded_corpus[name]
    if manifest["verdict"] == "full marks":
        failing = {c["id"]: c["message"] for c in report["checks"] if c["status"] != "passed"}
        assert failing == {} and report["score"] == report["max_score"]
    else:
        must, may = set(manifest["lose"]), set(manifest.get("may_lose", []))
        assert must <= lost(report), f"not caught: {must - lost(report)}"
        assert lost(report) <= must | may, f"collateral damage: {lost(report) - must - may}"


def test_corpus_figures(graded_corpus, capsys):
    correct = [n for n, m in MANIFESTS.items() if m["verdict"] == "full marks"]
    false_positives = [n for n in correct if lost(graded_corpus[n])]
    caught = [n for n, m in BUGS.items() if set(m["lose"]) <= lost(graded_corpus[n])]
    collateral = [n for n, m in BUGS.items()
                  if lost(graded_corpus[n]) - set(m["lose"]) - set(m.get("may_lose", []))]
    named = [n for n, m in BUGS.items() if first_diagnosis(graded_corpus[n], m["lose"]) == m["bug"]]
    fixed_only = [n for n, m in BUGS.items() if any(
        c["kind"] == "fixed" and c["status"] != "passed" and c["function"] in m["lose"]
        for c in graded_corpus[n]["checks"])]
    with capsys.disabled():
        print(f"\ncorpus: {len(correct)} correct, {len(BUGS)} single-bug submissions")
        print(f"  false positives (correct code penalised): {len(false_positives)} {false_positives}")
        print(f"  detection rate: {len(caught)}/{len(BUGS)} = {len(caught) / len(BUGS):.0%}")
        print(f"  collateral damage (untouched functions losing points): {len(collateral)} {collateral}")
        print(f"  diagnosis accuracy (right bug named first): {len(named)}/{len(BUGS)} = {len(named) / len(BUGS):.0%}")
        print(f"  the notebook's fixed cases alone would catch: {len(fixed_only)}/{len(BUGS)} = "
              f"{len(fixed_only) / len(BUGS):.0%}")
        missed = sorted(set(BUGS) - set(named))
        print(f"  not named: {[(n, first_diagnosis(graded_corpus[n], BUGS[n]['lose'])) for n in missed]}")
    assert len(correct) >= 8 and len(BUGS) >= 30
    assert not false_positives and len(caught) == len(BUGS) and not collateral
    assert len(named) >= 0.9 * len(BUGS)
