import pytest

from grader import rubric
from grader.checks import CHECKS


def test_default_rubric_gives_every_check_kind_points():
    r = rubric.load()
    for check in CHECKS:
        assert r.points[check.function].get(check.kind, 0) > 0, check.id


@pytest.mark.parametrize("text, words", [
    ("[points.\"optim.nope\"]\nfixed = 1\n", "unknown function"),
    ("[points.\"optim.adam\"]\nfixed = -1\n", "non-negative"),
    ("[points.\"optim.adam\"]\nbogus = 1\n", "unknown key"),
    ("[points.\"optim.adam\"\n", "not a readable TOML"),
    ("[points.\"optim.adam\"]\nfixed = 1\n[limits]\ncall_seconds = \"x\"\n", "non-negative number"),
])
def test_bad_rubrics_are_named_with_their_problem(tmp_path, text, words):
    path = tmp_path / "r.toml"
    path.write_text(text)
    with pytest.raises(rubric.RubricError, match=words) as err:
        rubric.load(path)
    assert str(path) in str(err.value)
