"""A fitted scikit-learn Random Forest as plain arrays: saved without pickles, scored fast.

The deployable detector must load without unpickling anything, and score millions of curves
at the speed of its autoencoder. Each tree is kept as scikit-learn's own node table (the
arrays its ``Tree`` pickles itself to), rebuilt into a ``Tree`` on load, and the forest is
scored block by block (a few thousand rows whose features stay in the CPU cache while every
tree walks them) instead of scikit-learn's tree by tree over all rows, which re-reads every
row from memory once per tree.

The probabilities are bit-for-bit those of ``RandomForestClassifier.predict_proba``
(``n_jobs=1``): each tree's leaf fractions normalised as scikit-learn normalises them, summed
over the trees in order, divided by their number.

This is the one module that uses private scikit-learn APIs: ``sklearn.tree._tree.Tree`` (built
empty, then filled with ``__setstate__``), ``Tree.__getstate__`` (the node table it pickles
itself to) and ``Tree.apply``. Its public-API counterpart is the fitted forest's own
``predict_proba``, which ``tests/detectors/test_packed_forest.py`` checks it against bit for
bit on every run of the suite. On a scikit-learn that moved or changed them, importing this
module or loading a detector raises :class:`PackedForestError` naming the problem; it never
scores with other numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import RandomForestClassifier


class PackedForestError(ValueError):
    """Arrays that do not describe a forest this scikit-learn can rebuild."""


try:
    from sklearn.tree._tree import Tree
except ImportError as error:  # a private name: fail loudly, naming it
    raise PackedForestError(
        f"this scikit-learn has no sklearn.tree._tree.Tree ({error}): score with the "
        "scikit-learn version the detector was saved with"
    ) from None

#: Rows scored at once: 1024 curves of 256 float32 points (1 MiB) stay in a core's L2 cache
#: while every tree walks them (larger blocks spill out of it and score slower).
BLOCK_ROWS = 1024


@dataclass(frozen=True)
class PackedForest:
    """The trees of a fitted binary Random Forest, as node tables."""

    n_features: int
    classes: np.ndarray
    #: Every tree's nodes, one after the other (scikit-learn's node record dtype).
    nodes: np.ndarray
    #: Every node's class weights, (total nodes, n_classes).
    values: np.ndarray
    #: Where each tree's nodes start in ``nodes``, and each tree's depth.
    offsets: np.ndarray
    depths: np.ndarray

    @classmethod
    def from_sklearn(cls, forest: RandomForestClassifier) -> PackedForest:
        states = [estimator.tree_.__getstate__() for estimator in forest.estimators_]
        counts = np.array([state["node_count"] for state in states])
        return cls(
            n_features=int(forest.n_features_in_),
            classes=np.asarray(forest.classes_),
            nodes=np.concatenate([state["nodes"][: state["node_count"]] for state in states]),
            values=np.concatenate([state["values"][: state["node_count"], 0] for state in states]),
            offsets=np.concatenate([[0], np.cumsum(counts)[:-1]]),
            depths=np.array([state["max_depth"] for state in states]),
        )

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The forest as named arrays, for ``np.savez`` (no object arrays: no pickle)."""
        return {
            "n_features": np.array(self.n_features),
            "classes": self.classes,
            "nodes": self.nodes,
            "values": self.values,
            "offsets": self.offsets,
            "depths": self.depths,
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> PackedForest:
        missing = {"n_features", "classes", "nodes", "values", "offsets", "depths"} - set(arrays)
        if missing:
            raise PackedForestError(f"not a packed forest: missing arrays {sorted(missing)}")
        return cls(
            n_features=int(arrays["n_features"]),
            classes=arrays["classes"],
            nodes=arrays["nodes"],
            values=arrays["values"],
            offsets=arrays["offsets"],
            depths=arrays["depths"],
        )

    @property
    def n_trees(self) -> int:
        return len(self.offsets)

    def scorer(self, threads: int = 1) -> ForestScorer:
        """A scorer holding the rebuilt trees (building them once costs milliseconds)."""
        return ForestScorer(self, threads)


class ForestScorer:
    """Class probabilities of a :class:`PackedForest`, as ``predict_proba`` computes them."""

    def __init__(self, forest: PackedForest, threads: int = 1):
        self.forest = forest
        self.threads = max(1, threads)
        n_classes = len(forest.classes)
        ends = [*forest.offsets[1:], len(forest.nodes)]
        self._trees: list[Tree] = []
        #: Per tree, per class: each node's probability, as one contiguous column.
        self._columns: list[list[np.ndarray]] = []
        for start, end, depth in zip(forest.offsets, ends, forest.depths, strict=True):
            values = forest.values[start:end]
            tree = Tree(forest.n_features, np.array([n_classes], dtype=np.intp), 1)
            try:
                tree.__setstate__(
                    {
                        "max_depth": int(depth),
                        "node_count": int(end - start),
                        "nodes": forest.nodes[start:end],
                        "values": np.ascontiguousarray(values[:, None, :], dtype=np.float64),
                    }
                )
            except (ValueError, TypeError, KeyError) as error:
                raise PackedForestError(
                    f"this scikit-learn cannot rebuild the saved trees ({error}); score with "
                    "the scikit-learn version the detector was saved with"
                ) from None
            self._trees.append(tree)
            # scikit-learn's DecisionTreeClassifier.predict_proba: rows divided by their sum.
            sums = values.sum(axis=1, keepdims=True)
            sums[sums == 0.0] = 1.0
            probabilities = values / sums
            self._columns.append(
                [np.ascontiguousarray(probabilities[:, k]) for k in range(n_classes)]
            )
        leaves = forest.nodes["left_child"] == -1
        leaf_probabilities = np.concatenate([np.column_stack(c) for c in self._columns])[leaves]
        #: Every leaf votes 0 or 1 for a class (trees grown to purity, the default): then
        #: the class-1 votes alone give both columns, exactly, as integers summed in floats.
        self._pure = n_classes == 2 and bool(np.isin(leaf_probabilities, (0.0, 1.0)).all())

    def _block(self, rows: np.ndarray) -> np.ndarray:
        if self._pure:
            votes = np.zeros(len(rows))
            for tree, columns in zip(self._trees, self._columns, strict=True):
                votes += columns[1][tree.apply(rows)]
            return np.column_stack([self.forest.n_trees - votes, votes])
        totals = [np.zeros(len(rows)) for _ in self.forest.classes]
        for tree, columns in zip(self._trees, self._columns, strict=True):
            leaves = tree.apply(rows)
            for total, column in zip(totals, columns, strict=True):
                total += column[leaves]
        return np.column_stack(totals)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(rows, n_classes) probabilities; rows are scored as float32, as scikit-learn does."""
        rows = np.ascontiguousarray(X, dtype=np.float32)
        if rows.ndim != 2 or rows.shape[1] != self.forest.n_features:
            raise ValueError(
                f"X has {rows.shape[-1]} features, but the forest expects {self.forest.n_features}"
            )
        starts = range(0, len(rows), BLOCK_ROWS)
        if self.threads == 1 or len(starts) == 1:
            blocks = [self._block(rows[start : start + BLOCK_ROWS]) for start in starts]
        else:  # Tree.apply releases the GIL: blocks are scored side by side
            with ThreadPoolExecutor(self.threads) as pool:
                blocks = list(
                    pool.map(lambda start: self._block(rows[start : start + BLOCK_ROWS]), starts)
                )
        total = np.concatenate(blocks) if blocks else np.zeros((0, len(self.forest.classes)))
        return total / self.forest.n_trees
