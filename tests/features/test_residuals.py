import numpy as np
import pytest

from ae_anomaly.features.residuals import (
    learned_histogram_range,
    reconstruction_errors,
    residuals,
    row_histograms,
    transform_residuals,
)


@pytest.mark.parametrize(
    ("bins", "value_range"), [(10, (-0.3, 0.3)), (7, (0.0, 1.0)), (1, (-1.0, 2.0))]
)
def test_row_histograms_equal_numpy_row_by_row(bins, value_range):
    rng = np.random.default_rng(0)
    values = rng.normal(0, 0.2, size=(50, 256))
    edges = np.linspace(*value_range, bins + 1)
    values[0, : bins + 1] = edges  # exact edges, including the inclusive right edge
    values[1, :3] = [value_range[0] - 1, value_range[1] + 1, np.nextafter(value_range[1], 9)]
    expected = np.stack([np.histogram(row, bins=bins, range=value_range)[0] for row in values])
    np.testing.assert_array_equal(row_histograms(values, bins, value_range), expected)


def _binary_search_histograms(values, bins, value_range):
    """The definition, value by value: how many edges are <= it (the right edge inclusive)."""
    low, high = value_range
    index = np.searchsorted(np.linspace(low, high, bins + 1), values, side="right") - 1
    index[values == high] = bins - 1
    inside = (index >= 0) & (index < bins)
    rows = np.broadcast_to(np.arange(values.shape[0])[:, None], values.shape)
    flat = rows[inside] * bins + index[inside]
    return np.bincount(flat, minlength=values.shape[0] * bins).reshape(values.shape[0], bins)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "value_range", [(-0.3, 0.3), (0.0, 0.1043), (0.0, 0.10430000000000001), (-5e-5, 3e-5)]
)
def test_row_histograms_bin_every_value_as_a_binary_search_would(dtype, value_range):
    """float32 residuals included: at, just below and just above every edge, and far out."""
    rng = np.random.default_rng(1)
    values = rng.normal(0, value_range[1], size=(3000, 64)).astype(dtype)
    edges = np.linspace(*value_range, 21)
    values[0, :21] = edges
    values[1, :21] = np.nextafter(edges.astype(dtype), dtype(-9))
    values[2, :21] = np.nextafter(edges.astype(dtype), dtype(9))
    values[3, :4] = [-3e38, 3e38, value_range[1], value_range[0]]
    expected = _binary_search_histograms(values, 20, value_range)
    np.testing.assert_array_equal(row_histograms(values, 20, value_range), expected)


def test_row_histograms_validate_input():
    with pytest.raises(ValueError, match="2-D"):
        row_histograms(np.zeros(5), 3, (0, 1))
    with pytest.raises(ValueError, match="low < high"):
        row_histograms(np.zeros((2, 5)), 3, (1, 1))


def test_residuals_are_x_minus_reconstruction():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(residuals(x, x * 0.5), x * 0.5)
    with pytest.raises(ValueError, match="shape"):
        residuals(x, x[:1])


def test_reconstruction_errors():
    values = np.array([[0.0, 0.2, -0.4], [0.1, 0.1, 0.1]])
    np.testing.assert_allclose(reconstruction_errors(values, "mse"), [0.2 / 3, 0.01])
    np.testing.assert_allclose(reconstruction_errors(values, "max_abs"), [0.4, 0.1])


def test_transform_residuals():
    values = np.array([[-0.5, 0.25]])
    np.testing.assert_array_equal(transform_residuals(values, "signed"), values)
    np.testing.assert_array_equal(transform_residuals(values, "absolute"), [[0.5, 0.25]])
    np.testing.assert_array_equal(transform_residuals(values, "squared"), [[0.25, 0.0625]])


def test_learned_range_is_symmetric_for_signed_and_from_zero_for_folded_residuals():
    values = np.array([[-0.2, 0.0, 0.1], [0.05, 0.4, -0.1]])
    assert learned_histogram_range(values, "signed", 1.0) == pytest.approx((-0.4, 0.4))
    assert learned_histogram_range(values, "absolute", 1.0) == pytest.approx((0.0, 0.4))
    assert learned_histogram_range(np.zeros((2, 3)), "absolute", 1.0) == (0.0, 1.0)


def test_mae_is_the_mean_absolute_residual_and_rows_share_it():
    from ae_anomaly.features.residuals import ResidualRows

    values = np.array([[0.0, 0.2, -0.4], [0.1, -0.1, 0.1]], dtype=np.float32)
    np.testing.assert_allclose(reconstruction_errors(values, "mae"), [0.2, 0.1], rtol=1e-6)
    np.testing.assert_array_equal(
        ResidualRows(values).errors("mae"), reconstruction_errors(values, "mae")
    )
