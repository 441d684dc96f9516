"""Users' curve files: every format and layout round trip, and every kind of bad file gets
one clear error naming the file and, where it applies, the line (or row) and column."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ae_anomaly.core.types import ANOMALY, NORMAL
from ae_anomaly.data.curve_batches import CurveFileError
from ae_anomaly.data.files import (
    input_file,
    iter_curve_batches,
    read_curves,
    read_pool_and_validation,
)
from ae_anomaly.data.labels import label_key, one_vs_rest

CURVES = np.round(np.random.default_rng(0).normal(size=(6, 5)), 4)
LABELS = np.array([1, 2, 1, 1, 2, 1])


def _write_text(path: Path, rows: list[list[object]], delimiter: str) -> Path:
    path.write_text("\n".join(delimiter.join(str(cell) for cell in row) for row in rows) + "\n")
    return path


def _ucr_rows() -> list[list[object]]:
    return [[label, *curve] for label, curve in zip(LABELS, CURVES, strict=True)]


def _check_round_trip(path: Path, layout: str = "ucr", label_column: str | None = None) -> None:
    curves = read_curves(path, layout, label_column)
    np.testing.assert_allclose(curves.x, CURVES.astype(np.float32), rtol=1e-6)
    assert curves.x.dtype == np.float32
    dataset = one_vs_rest(path, curves, normal_labels=[1])
    np.testing.assert_array_equal(dataset.y, np.where(LABELS == 1, NORMAL, ANOMALY))


@pytest.mark.parametrize(("suffix", "delimiter"), [(".tsv", "\t"), (".csv", ","), (".txt", "  ")])
def test_ucr_text_layout_round_trips(tmp_path, suffix, delimiter):
    _check_round_trip(_write_text(tmp_path / f"curves{suffix}", _ucr_rows(), delimiter))


def test_csv_with_a_header_and_a_named_label_column(tmp_path):
    header = ["t0", "t1", "state", "t2", "t3", "t4"]
    rows = [
        [*curve[:2], f" {label}", *curve[2:]] for label, curve in zip(LABELS, CURVES, strict=True)
    ]
    _check_round_trip(_write_text(tmp_path / "h.csv", [header, *rows], ","), "header", "state")


def _european(value: object) -> str:
    return str(value).replace(".", ",")


def test_semicolon_csv_with_decimal_commas(tmp_path):
    rows = [[label, *map(_european, curve)] for label, curve in zip(LABELS, CURVES, strict=True)]
    _check_round_trip(_write_text(tmp_path / "eu.csv", rows, ";"))
    header = ["label", *(f"t{i}" for i in range(CURVES.shape[1]))]
    _check_round_trip(_write_text(tmp_path / "eu_h.csv", [header, *rows], ";"), "header", "label")


def test_semicolon_csv_with_decimal_points(tmp_path):
    _check_round_trip(_write_text(tmp_path / "points.csv", _ucr_rows(), ";"))


@pytest.mark.parametrize(("suffix", "delimiter"), [(".csv", ","), (".csv", ";"), (".tsv", "\t")])
def test_a_trailing_delimiter_closes_the_row(tmp_path, suffix, delimiter):
    path = tmp_path / f"trailing{suffix}"
    lines = (delimiter.join(map(str, row)) + delimiter for row in _ucr_rows())
    path.write_text("\n".join(lines) + "\n")
    _check_round_trip(path)
    assert read_curves(path).x.shape == CURVES.shape


def test_a_value_after_a_trailing_delimiter_is_reported(tmp_path):
    lines = [",".join(map(str, row)) + "," for row in _ucr_rows()]
    lines[2] += "9"
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    message = _error(tmp_path / "t.csv")
    assert "line 3, column 7: '9' after the last delimiter" in message


@pytest.mark.parametrize(("suffix", "delimiter"), [(".csv.gz", ","), (".tsv.gz", "\t")])
def test_gzip_compressed_tables(tmp_path, suffix, delimiter):
    path = tmp_path / f"curves{suffix}"
    text = "\n".join(delimiter.join(map(str, row)) for row in _ucr_rows()) + "\n"
    with gzip.open(path, "wt") as handle:
        handle.write(text)
    _check_round_trip(path)
    rows = _ucr_rows()
    rows[2][4] = "abc"
    with gzip.open(tmp_path / f"bad{suffix}", "wt") as handle:
        handle.write("\n".join(delimiter.join(map(str, row)) for row in rows) + "\n")
    assert "line 3, column 5: 'abc' is not a number" in _error(tmp_path / f"bad{suffix}")


def test_a_csv_with_another_delimiter_names_it(tmp_path):
    path = _write_text(tmp_path / "pipes.csv", _ucr_rows(), "|")
    assert "line 1: the first row holds no comma but '|'" in _error(path)


def test_parquet_in_both_layouts(tmp_path):
    columns = {f"p{i}": CURVES[:, i] for i in range(CURVES.shape[1])}
    ucr = tmp_path / "ucr.parquet"
    pq.write_table(pa.table({"label": LABELS, **columns}), ucr)
    _check_round_trip(ucr)
    named = tmp_path / "named.parquet"
    pq.write_table(pa.table({**columns, "kind": [str(v) for v in LABELS]}), named)
    _check_round_trip(named, "header", "kind")


def test_parquet_with_one_array_column_per_curve(tmp_path):
    for name, curves in {
        "list": pa.array(CURVES.tolist(), pa.list_(pa.float64())),
        "fixed": pa.FixedSizeListArray.from_arrays(pa.array(CURVES.ravel()), CURVES.shape[1]),
        "float32": pa.array(CURVES.tolist(), pa.list_(pa.float32())),
    }.items():
        path = tmp_path / f"{name}.parquet"
        pq.write_table(pa.table({"label": LABELS, "curve": curves}), path)
        _check_round_trip(path)


def test_a_bad_array_column_names_the_row(tmp_path):
    rows = CURVES.tolist()
    rows[2] = rows[2][:-1]
    ragged = tmp_path / "ragged.parquet"
    pq.write_table(pa.table({"label": LABELS, "curve": rows}), ragged)
    assert f"row 3: a curve of {CURVES.shape[1] - 1} points where the first has" in (_error(ragged))
    rows = CURVES.tolist()
    rows[1] = None
    null = tmp_path / "null.parquet"
    pq.write_table(pa.table({"label": LABELS, "curve": rows}), null)
    assert "row 2: the curve is null" in _error(null)
    rows = CURVES.tolist()
    rows[4][1] = None
    hole = tmp_path / "hole.parquet"
    pq.write_table(pa.table({"label": LABELS, "curve": rows}), hole)
    assert "row 5, column 2: a missing value" in _error(hole)
    mixed = tmp_path / "mixed.parquet"
    pq.write_table(pa.table({"label": LABELS, "a": CURVES[:, 0], "curve": CURVES.tolist()}), mixed)
    assert "either one array column (beside the label) or one numeric column" in _error(mixed)


def test_numpy_files(tmp_path):
    np.save(tmp_path / "ucr.npy", np.column_stack([LABELS, CURVES]))
    _check_round_trip(tmp_path / "ucr.npy")
    np.savez(tmp_path / "xy.npz", x=CURVES, y=LABELS)
    _check_round_trip(tmp_path / "xy.npz")


@pytest.mark.parametrize("name", ["plain.npy", "plain.npz", "plain.tsv"])
def test_a_file_without_labels_is_all_normal(tmp_path, name):
    path = tmp_path / name
    if name.endswith(".npy"):
        np.save(path, CURVES)
    elif name.endswith(".npz"):
        np.savez(path, x=CURVES)
    else:
        _write_text(path, CURVES.tolist(), "\t")
    curves = read_curves(path, "unlabelled")
    assert curves.labels is None and curves.x.shape == CURVES.shape
    assert one_vs_rest(path, curves, [1]).y.tolist() == [NORMAL] * len(CURVES)


def test_batches_keep_order_and_bounded_size(tmp_path):
    path = _write_text(tmp_path / "c.tsv", _ucr_rows(), "\t")
    batches = list(iter_curve_batches(path, "ucr", batch_rows=4))
    assert [len(batch.x) for batch in batches] == [4, 2]
    assert [batch.first_line for batch in batches] == [1, 5]
    np.testing.assert_allclose(np.concatenate([b.x for b in batches]), CURVES)


def test_labels_compare_as_numbers_or_stripped_strings():
    assert label_key("1") == label_key(1) == label_key(1.0) == label_key(" 1.0 ") == "1"
    assert label_key("normal ") == "normal" and label_key(0.5) == "0.5"


# Bad files ---------------------------------------------------------------------------------


def _error(path: Path, layout: str = "ucr", label_column: str | None = None) -> str:
    with pytest.raises(CurveFileError) as error:
        read_curves(path, layout, label_column)
    message = str(error.value)
    assert message.startswith(str(path)), message
    return message


@pytest.mark.parametrize(("suffix", "delimiter"), [(".tsv", "\t"), (".csv", ","), (".txt", " ")])
def test_ragged_rows_name_the_line(tmp_path, suffix, delimiter):
    rows = _ucr_rows()
    rows[3] = rows[3][:-1]
    message = _error(_write_text(tmp_path / f"r{suffix}", rows, delimiter))
    assert "line 4: 5 values, but the first row has 6" in message


@pytest.mark.parametrize(("suffix", "delimiter"), [(".tsv", "\t"), (".csv", ","), (".txt", " ")])
def test_non_numeric_cells_name_line_and_column(tmp_path, suffix, delimiter):
    rows = _ucr_rows()
    rows[2][4] = "abc"
    message = _error(_write_text(tmp_path / f"n{suffix}", rows, delimiter))
    assert "line 3, column 5: 'abc' is not a number" in message


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", ""])
def test_nan_infinite_and_missing_values_name_line_and_column(tmp_path, bad):
    rows = _ucr_rows()
    rows[4][2] = bad
    message = _error(_write_text(tmp_path / "v.csv", rows, ","))
    assert "line 5, column 3:" in message and "finite" in message


def test_nan_in_numpy_and_parquet_files_name_the_row(tmp_path):
    curves = CURVES.copy()
    curves[3, 1] = np.nan
    np.save(tmp_path / "c.npy", curves)
    assert "row 4, column 2:" in _error(tmp_path / "c.npy", "unlabelled")
    table = pa.table({"label": LABELS, "a": [1.0, 2.0, None, 4.0, 5.0, 6.0]})
    pq.write_table(table, tmp_path / "c.parquet")
    assert "row 3, column 2: a missing value" in _error(tmp_path / "c.parquet")


def test_text_in_a_parquet_value_column_is_refused(tmp_path):
    pq.write_table(pa.table({"label": LABELS, "a": ["x"] * 6}), tmp_path / "s.parquet")
    assert "column 2: column 'a' holds string, not numbers" in _error(tmp_path / "s.parquet")


def test_empty_files(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    assert "no curves: the file is empty" in _error(tmp_path / "empty.csv")
    (tmp_path / "header_only.csv").write_text("label,a,b\n")
    assert "no curves" in _error(tmp_path / "header_only.csv", "header", "label")
    np.save(tmp_path / "empty.npy", np.empty((0, 5)))
    assert "no curves" in _error(tmp_path / "empty.npy", "unlabelled")


def test_a_missing_label_column_lists_the_columns(tmp_path):
    path = _write_text(tmp_path / "h.csv", [["a", "b", "c"], [1, 2, 3]], ",")
    message = _error(path, "header", "label")
    assert "line 1: no column 'label' in the header (columns: a, b, c)" in message


def test_a_normal_label_that_never_occurs(tmp_path):
    path = _write_text(tmp_path / "c.tsv", _ucr_rows(), "\t")
    with pytest.raises(CurveFileError, match=r"none of the normal labels \['3'\] occurs"):
        one_vs_rest(path, read_curves(path), [3])


def test_unknown_formats_missing_files_and_pickles(tmp_path):
    (tmp_path / "c.xlsx").write_text("")
    assert "unknown format '.xlsx'" in _error(tmp_path / "c.xlsx")
    assert "no such file" in _error(tmp_path / "nothing.csv")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert "holds Python objects (a pickle)" in _error(tmp_path / "objects.npy", "unlabelled")


def test_files_must_lie_under_the_inputs_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inputs").mkdir()
    (tmp_path / "inputs/a.tsv").write_text("1\t2\n")
    (tmp_path / "elsewhere.tsv").write_text("1\t2\n")
    assert input_file("inputs/a.tsv", "inputs", "generate.files.train") == Path("inputs/a.tsv")
    with pytest.raises(
        CurveFileError, match=r"generate\.files\.train is 'elsewhere\.tsv'.*inputs/"
    ):
        input_file("elsewhere.tsv", "inputs", "generate.files.train")
    with pytest.raises(CurveFileError, match="no such file"):
        input_file("inputs/b.tsv", "inputs", "generate.files.validation")


def test_training_and_validation_curves_must_have_one_length(tmp_path):
    train = _write_text(tmp_path / "train.tsv", _ucr_rows(), "\t")
    short = _write_text(tmp_path / "val.tsv", [row[:-1] for row in _ucr_rows()], "\t")
    with pytest.raises(CurveFileError, match=r"val\.tsv: curves of 4 points.*curves of 5"):
        read_pool_and_validation(train, short, "ucr", None, [1])
