"""Fixtures: the submissions corpus, graded once per test session."""
import pytest

from corpus import corpus, grade_all


@pytest.fixture(scope="session")
def graded_corpus() -> dict[str, dict]:
    return grade_all(corpus(("full marks", "bug")))
