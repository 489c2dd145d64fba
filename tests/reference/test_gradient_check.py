"""reference.gradient_check: centred differences, restoration of x, rel_error."""

import numpy as np
import pytest

from reference.gradient_check import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    rel_error,
)


def test_numerical_gradient_of_a_cubic_is_centred():
    """f = sum(x^3): centred differences give 3x^2 + h^2 exactly (up to rounding)."""
    x = np.linspace(-2, 2, 12).reshape(3, 4)
    grad = eval_numerical_gradient(lambda x: np.sum(x**3), x, verbose=False, h=1e-3)
    np.testing.assert_allclose(grad, 3 * x**2 + 1e-6, rtol=1e-7, atol=1e-8)


def test_numerical_gradient_restores_x_and_reads_it_in_place():
    x = np.random.default_rng(0).standard_normal((2, 3, 2))
    before = x.copy()
    seen = []

    def f(arg):
        seen.append(arg is x)
        return float(np.sum(np.sin(x)))

    grad = eval_numerical_gradient(f, x, verbose=False)
    np.testing.assert_array_equal(x, before)
    assert all(seen) and len(seen) == 2 * x.size
    np.testing.assert_allclose(grad, np.cos(x), rtol=1e-8, atol=1e-10)


def test_numerical_gradient_verbose_prints_each_entry(capsys):
    x = np.array([1.0, 2.0])
    eval_numerical_gradient(lambda x: float(np.sum(x**2)), x)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith('(0,)') and lines[1].startswith('(1,)')


def test_numerical_gradient_array_contracts_with_df():
    rng = np.random.default_rng(1)
    x, A, df = rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), rng.standard_normal((3, 5))
    before = x.copy()
    grad = eval_numerical_gradient_array(lambda x: x @ A, x, df)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(grad, df @ A.T, rtol=1e-8, atol=1e-10)


def test_numerical_gradient_array_copies_outputs_that_alias_x():
    """f returning a view of x must not be read after x is restored."""
    x = np.array([1.0, -2.0, 3.0])
    grad = eval_numerical_gradient_array(lambda x: x, x, np.ones(3))
    np.testing.assert_allclose(grad, np.ones(3), rtol=1e-9)


def test_rel_error_is_the_notebook_formula():
    assert rel_error(np.zeros(3), np.zeros(3)) == 0
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 3.0])) == pytest.approx(1 / 5)
    assert rel_error(np.array([0.0]), np.array([1e-9])) == pytest.approx(1e-9 / 1e-8)
