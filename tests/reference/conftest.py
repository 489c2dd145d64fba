"""Shared checks for tests/reference, as session fixtures (usable inside Hypothesis tests)."""

from collections.abc import Callable

import numpy as np
import pytest

from reference.gradient_check import rel_error


def _assert_printed(got: np.ndarray, printed: np.ndarray) -> None:
    """got agrees with every printed digit: |got - printed| <= half a unit in the 8th decimal.

    Stricter than the notebook's rel_error ~ 1e-7 for all but the smallest entries; the
    8-decimal print of adam's next_w (0.01971428) cannot support rel_error < 1.14e-7 even
    for exact code, so an absolute bound is the honest reading of the published numbers.
    """
    assert np.max(np.abs(got - printed)) <= 5e-9, f'rel_error {rel_error(got, printed):.2e}'


def _assert_grad_close(analytic: np.ndarray, numeric: np.ndarray, rtol: float = 1e-6) -> None:
    """|analytic - numeric| <= rtol * |numeric| + atol with atol = rtol * (max|numeric| + 1e-3):
    centred differences in float64 carry ~1e-10 absolute error, so entries that cancel to
    near zero are judged against the size of the whole gradient.
    """
    assert analytic.shape == numeric.shape
    atol = rtol * (np.max(np.abs(numeric), initial=0.0) + 1e-3)
    np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=atol)


@pytest.fixture(scope='session')
def assert_printed() -> Callable[[np.ndarray, np.ndarray], None]:
    return _assert_printed


@pytest.fixture(scope='session')
def assert_grad_close() -> Callable[..., None]:
    return _assert_grad_close
