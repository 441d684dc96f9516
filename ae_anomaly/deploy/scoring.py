"""Scoring a file of curves with the deployable detector, batch by batch.

Reading, the network and the detectors overlap, as a pipeline over batches: a reader thread
parses batch k+2 while the main thread runs the autoencoder on batch k+1 and a scoring thread
scores batch k's residuals and appends them to the output (parsing, the network, the
histograms and the trees all release the GIL). At most a few batches are in memory at once,
so a file larger than memory is scored in bounded memory.

Output is CSV or Parquet (by the suffix), one row per curve: ``row`` (its position in the
file, from 1), the file's own label if it has one, each detector's ``<model>_score`` /
``<model>_label``, and where the curve's strongest anomaly lies (``anomaly_start``,
``anomaly_end``, ``anomaly_peak``: point indices from 0). On request each curve's anomaly
map goes to a second file of the same kind: ``row`` and one column per point.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ae_anomaly.core.progress import Progress
from ae_anomaly.core.types import InputError
from ae_anomaly.data.curve_batches import CurveBatch, Layout
from ae_anomaly.data.files import iter_curve_batches
from ae_anomaly.deploy.detector import CurveDetector
from ae_anomaly.deploy.top_curves import TopCurves

OUTPUT_SUFFIXES = (".csv", ".parquet")
DEFAULT_BATCH_ROWS = 8_192  # as fast as larger batches (bench/results/score.md), less memory


@dataclass(frozen=True)
class ScoringSummary:
    rows: int
    seconds: float
    output: Path

    @property
    def curves_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")


def count_rows(path: Path, layout: Layout) -> int | None:
    """How many curves a file holds, when that is cheap to know (for the progress bar)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return int(np.load(path, mmap_mode="r", allow_pickle=False).shape[0])
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
    except (OSError, ValueError):
        return None  # the reader reports the problem properly
    return None


def _prefetched(batches: Iterator[CurveBatch], depth: int = 1) -> Iterator[CurveBatch]:
    """``batches``, produced by a background thread up to ``depth`` batches ahead; an
    exception in the reader is raised here, in order."""
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        slots.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slots.put(done)
        except BaseException as error:  # handed to the consumer
            slots.put(error)

    reader = threading.Thread(target=produce, name="curve-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = slots.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


class _Writer:
    """Appends score tables to a CSV or Parquet file, creating it on the first batch."""

    def __init__(self, path: Path, suffix: str):
        self.path, self.suffix = path, suffix
        self._writer: Any = None

    def write(self, columns: dict[str, np.ndarray]) -> None:
        import pyarrow as pa

        table = pa.table(columns)
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.suffix == ".csv":
                import pyarrow.csv as pa_csv

                self._writer = pa_csv.CSVWriter(self.path, table.schema)
            else:
                import pyarrow.parquet as pq

                self._writer = pq.ParquetWriter(self.path, table.schema)
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def score_file(
    detector: CurveDetector,
    source: str | Path,
    output: str | Path,
    layout: Layout = "unlabelled",
    label_column: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    anomaly_maps: str | Path | None = None,
    top: TopCurves | None = None,
) -> ScoringSummary:
    """Score every curve of ``source`` into ``output``, and its anomaly map into
    ``anomaly_maps`` if given (see the module docstring); ``top`` keeps the most anomalous
    curves for a figure."""
    source, output = Path(source), Path(output)
    targets = [output] if anomaly_maps is None else [output, Path(anomaly_maps)]
    for target in targets:
        if target.suffix.lower() not in OUTPUT_SUFFIXES:
            raise InputError(
                f"{target}: write scores as {' or '.join(OUTPUT_SUFFIXES)} (by the suffix)"
            )
    # Written under temporary names and renamed when complete: a failure (a bad row halfway
    # through, Ctrl-C) never leaves a truncated file that looks like a result.
    partials = [target.with_name(f".{target.name}.partial") for target in targets]
    writers = [
        _Writer(partial, target.suffix.lower())
        for partial, target in zip(partials, targets, strict=True)
    ]
    started = time.perf_counter()
    rows = 0

    def finish(
        batch: CurveBatch,
        first_row: int,
        curves: np.ndarray,
        residuals: np.ndarray,
        progress: Progress,
    ) -> None:
        row = np.arange(first_row, first_row + len(batch.x), dtype=np.int64)
        columns: dict[str, Any] = {"row": row}
        if batch.labels is not None:
            columns["label"] = [str(value) for value in batch.labels]
        results = detector.result_columns(residuals, anomaly_map=len(writers) > 1)
        maps = results.pop("anomaly_map", None)
        if top is not None:
            top.add(first_row, curves, residuals, results)
        writers[0].write({**columns, **results})
        if maps is not None:
            points = {f"point_{i}": maps[:, i] for i in range(maps.shape[1])}
            writers[1].write({"row": row, **points})
        progress.update(len(batch.x))

    try:
        with (
            Progress(count_rows(source, layout), "score", "curves") as progress,
            ThreadPoolExecutor(1, thread_name_prefix="scorer") as scorer,
        ):
            pending: Future[None] | None = None
            for batch in _prefetched(iter_curve_batches(source, layout, label_column, batch_rows)):
                curves, residuals = detector.residuals(batch.x)
                if pending is not None:
                    pending.result()  # one batch in scoring at a time: bounded memory
                pending = scorer.submit(finish, batch, rows + 1, curves, residuals, progress)
                rows += len(batch.x)
            if pending is not None:
                pending.result()
    except BaseException:
        _discard(writers, partials)
        raise
    for writer in writers:
        writer.close()
    if rows == 0:
        _discard(writers, partials)
        raise InputError(f"{source}: no curves to score")
    for partial, target in zip(partials, targets, strict=True):
        partial.replace(target)
    return ScoringSummary(rows, time.perf_counter() - started, output)


def _discard(writers: list[_Writer], partials: list[Path]) -> None:
    for writer in writers:
        writer.close()
    for partial in partials:
        partial.unlink(missing_ok=True)
