import numpy as np

from grader.compare import RTOL, compare_outputs, compare_value, precision_lost, rel_error, tolerance_for
from grader.hints import describe


def test_rel_error_is_the_notebooks_measure():
    x = np.array([1.0, 2.0])
    assert rel_error(x, x) == 0
    assert np.isclose(rel_error(np.array([1.0]), np.array([1.1])), 0.1 / 2.1)


def test_entries_cancelled_to_zero_are_judged_against_the_arrays_scale():
    want = np.array([1.0, 1e-12])
    assert compare_value("dx", want, want + np.array([0, 1e-10]), RTOL["float64"]) is None
    assert compare_value("dx", want, want + np.array([0, 1e-3]), RTOL["float64"]) is not None


def test_mismatch_names_the_output_the_first_entries_and_the_error():
    want = {"next_w": np.zeros((2, 2)), "v": np.ones(3)}
    got = {"next_w": np.zeros((2, 2)), "v": np.array([1.0, 2.0, 1.0])}
    m = compare_outputs(want, got, 1e-6)
    assert m.output == "v" and "(1,)" in m.message and "1 of 3" in m.message


def test_shape_type_missing_and_nan_are_reported():
    assert "shape" in compare_value("out", np.zeros(3), np.zeros(4), 1e-6).message
    assert "NoneType" in compare_value("out", np.zeros(3), None, 1e-6).message
    assert "NaN" in compare_value("out", np.zeros(3), np.array([0, np.nan, 0]), 1e-6).message
    assert "missing" in compare_outputs({"t": 1}, {}, 1e-6).message
    assert compare_value("t", 6, 6.0, 0) is None and compare_value("t", 6, 5, 0) is not None


def test_describe_names_common_patterns():
    want = {"dx": np.array([1.0, -2.0, 3.0])}
    for got, words in [(want["dx"] * 4, "times 4"), (-want["dx"], "wrong sign"),
                       (np.zeros(3), "all zeros"), (want["dx"] + 0.5, "constant 0.5")]:
        m = compare_outputs(want, {"dx": got}, 1e-6)
        assert words in describe(m, want, {"dx": got})


def test_scalars_are_judged_like_arrays():
    assert compare_value("loss", 2.98, 3.98, 1e-6) is not None
    assert compare_value("loss", np.float64(2.98), 2.98 + 1e-12, 1e-6) is None


def test_outputs_cancelled_to_zero_are_judged_against_the_inputs_scale():
    """softmax's p - 1 on a confident row is 0 in one correct formula and -1e-16 in another."""
    case = {"x": np.array([[300.0, 0.0, 0.0]]), "y": np.array([0])}
    want, got = {"dx": np.zeros((1, 3))}, {"dx": np.array([[-1e-16, 5e-131, 5e-131]])}
    assert compare_outputs(want, got, *tolerance_for(case)) is None
    assert compare_outputs(want, {"dx": np.array([[-1e-3, 0, 0]])}, *tolerance_for(case)) is not None


def test_float32_inputs_get_the_float32_tolerance():
    assert tolerance_for({"x": np.ones(2, np.float32)})[0] == RTOL["float32"]
    assert tolerance_for({"x": np.ones(2), "config": {"v": np.ones(2)}})[0] == RTOL["float64"]


def test_a_float64_case_answered_in_float32_has_lost_precision():
    case64, case32 = {"x": np.zeros((2, 3))}, {"x": np.zeros((2, 3), np.float32)}
    narrowed = {"loss": 1.5, "dx": np.zeros((2, 3), np.float32)}
    assert precision_lost(case64, narrowed).output == "dx"
    assert precision_lost(case32, narrowed) is None
    wider = {"loss": np.float64(1.5), "dx": np.zeros((2, 3), np.longdouble), "t": 3}
    assert precision_lost(case64, wider) is None
