"""Curves checked one by one: a bad curve refuses itself with a message, not its batch."""

from __future__ import annotations

import numpy as np
import pytest

from ae_anomaly.deploy.curves import CurveInputError, check_curves, check_rows

LENGTH = 8


def test_each_bad_row_is_named_and_the_good_ones_are_kept_in_order():
    rows = [
        np.arange(LENGTH, dtype=np.float64),
        np.arange(LENGTH - 3),
        None,
        [1.0] * 3 + [float("nan")] + [1.0] * 4,
        ["a"] * LENGTH,
        [1.0] * (LENGTH - 1) + [None],  # a null inside the curve reads as NaN
        np.full(LENGTH, 2.0, np.float32),
    ]
    checked = check_rows(rows, LENGTH)
    assert checked.scored.tolist() == [True, False, False, False, False, False, True]
    assert checked.refused == 5
    assert checked.errors[0] is None and checked.errors[-1] is None
    assert checked.errors[1] == f"curve of {LENGTH - 3} points; expected {LENGTH} points"
    assert checked.errors[2] == "the curve is null"
    assert checked.errors[3].startswith("point 4 is nan")
    assert checked.errors[4] == f"curves must be numbers; expected {LENGTH} points"
    assert checked.errors[5].startswith(f"point {LENGTH} is nan")
    assert checked.curves.dtype == np.float32
    np.testing.assert_array_equal(checked.curves, [np.arange(LENGTH), np.full(LENGTH, 2.0)])


def test_a_two_dimensional_array_is_checked_row_by_row():
    curves = np.ones((4, LENGTH))
    curves[2, 5] = np.inf
    checked = check_rows(curves, LENGTH)
    assert checked.scored.tolist() == [True, True, False, True]
    assert checked.errors[2].startswith("point 6 is inf")
    assert checked.curves.shape == (3, LENGTH)
    wrong = check_rows(np.ones((2, LENGTH + 1)), LENGTH)
    assert wrong.refused == 2 and len(wrong.curves) == 0
    assert wrong.errors == [f"curve of {LENGTH + 1} points; expected {LENGTH} points"] * 2


def test_nothing_scorable_leaves_an_empty_batch_of_the_right_width():
    checked = check_rows([None, [1.0]], LENGTH)
    assert checked.curves.shape == (0, LENGTH) and checked.refused == 2


@pytest.mark.parametrize(
    ("curves", "message"),
    [
        ([[0.5] * LENGTH, [0.5]], "different lengths"),
        ([[0.5] * (LENGTH - 1)], f"got curves of {LENGTH - 1} points"),
        ([[float("nan")] * LENGTH], "curve 1, point 1 is nan"),
    ],
)
def test_the_whole_batch_check_refuses_naming_the_length(curves, message):
    with pytest.raises(CurveInputError, match=message) as error:
        check_curves(curves, LENGTH)
    assert f"curves of {LENGTH} points" in str(error.value)
