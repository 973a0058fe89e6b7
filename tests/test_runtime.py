"""Runtime helpers that generated code calls: each equals what it replaces."""

from __future__ import annotations

import numpy as np
import pytest

from s2s import runtime as rt

RNG = np.random.default_rng(7)


@pytest.mark.parametrize(
    "a, b",
    [
        (RNG.standard_normal(21), RNG.standard_normal(21)),  # a dot product
        (RNG.standard_normal((3, 4)), RNG.standard_normal((3, 4))),
        (RNG.standard_normal((3, 4)).T, RNG.standard_normal((4, 3))),  # not contiguous
        (RNG.standard_normal((3, 1)), RNG.standard_normal(4)),  # broadcasting: the plain sum
        (np.array(1.5), np.array(-2.0)),
        (1.5, RNG.standard_normal(3)),
        (RNG.standard_normal(5).astype(np.float32), RNG.standard_normal(5).astype(np.float32)),
        (np.arange(5), np.arange(5)),  # integers stay integers
        (np.array([True, False, True]), np.array([True, True, True])),  # booleans count
        (RNG.standard_normal(4) + 1j, RNG.standard_normal(4)),  # no conjugate
    ],
)
def test_sum_product_is_the_sum_of_the_product(a, b):
    expected = np.sum(a * b)
    found = rt.sum_product(a, b)
    assert np.result_type(found) == np.result_type(expected)
    np.testing.assert_allclose(found, expected, rtol=1e-6 if np.result_type(expected) == np.float32 else 1e-13)


@pytest.mark.parametrize(
    "t, operands",
    [
        (np.ones(3), (np.ones(3), 2.0)),  # already the shape: the same array back
        (np.ones(3), (np.ones((2, 3)), np.ones(3))),
        (2.0, (np.ones((2, 1)), np.ones(4))),
        (np.ones((1, 4)), (np.ones((2, 1)), np.ones(4))),
    ],
)
def test_broadcast_to_operands_is_broadcast_like_the_expression(t, operands):
    expression = sum(operands) if operands else 0.0
    expected = rt.broadcast_like(t, expression)
    found = rt.broadcast_to_operands(t, *operands)
    np.testing.assert_array_equal(found, expected)
    assert np.shape(found) == np.shape(expected)
    if np.shape(t) == np.shape(expression):
        assert found is t
