"""Train / validation / test splits that are disjoint, seeded, and count test-set reads.

- ``train_val_test_split``: shuffle and cut (X, y) by fractions, optionally per class.
- ``Split``: the three parts, their row indices, and ``test_reads``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mlcourse import arguments

from .common import check_same_length, take

SPLIT_NAMES = ("train", "val", "test")


class Split:
    """A train / validation / test split that counts how often the test set is read.

    ``split.train``, ``split.val`` and ``split.test`` are ``(X, y)`` tuples. Reading
    ``split.test`` adds one to ``split.test_reads``: the test set is for a single, final
    evaluation, and the counter makes every extra peek visible.

    Attributes
    ----------
    indices : dict[str, np.ndarray]
        Row indices into the original X for "train", "val" and "test" (for leakage checks).
    sizes : dict[str, int]
    """

    def __init__(self, X: Any, y: Any, indices: dict[str, np.ndarray]) -> None:
        self.indices = {name: indices[name] for name in SPLIT_NAMES}
        self._parts = {name: (take(X, idx), take(y, idx)) for name, idx in self.indices.items()}
        self._test_reads = 0

    @property
    def train(self) -> tuple[Any, Any]:
        """(X_train, y_train)."""
        return self._parts["train"]

    @property
    def val(self) -> tuple[Any, Any]:
        """(X_val, y_val)."""
        return self._parts["val"]

    @property
    def test(self) -> tuple[Any, Any]:
        """(X_test, y_test); every read is counted in ``test_reads``."""
        self._test_reads += 1
        return self._parts["test"]

    @property
    def test_reads(self) -> int:
        """How many times ``.test`` has been read."""
        return self._test_reads

    @property
    def sizes(self) -> dict[str, int]:
        return {name: len(idx) for name, idx in self.indices.items()}

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={n}" for name, n in self.sizes.items())
        return f"Split({sizes}, test_reads={self._test_reads})"


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    f = np.asarray(fractions, dtype=np.float64)
    if f.shape != (3,):
        raise ValueError(f"fractions={tuple(fractions)!r} must be three numbers "
                         "(train, val, test), e.g. (0.7, 0.15, 0.15)")
    for name, value in zip(SPLIT_NAMES, f, strict=True):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"the {name} fraction is {value}; fractions must be >= 0, "
                             "e.g. (0.7, 0.15, 0.15)")
    if f[0] == 0:
        raise ValueError("the train fraction is 0; the training set cannot be empty, "
                         "e.g. fractions=(0.7, 0.15, 0.15)")
    total = f.sum()
    if abs(total - 1.0) > 1e-9:
        suggestion = tuple(round(float(v), 4) for v in f / total)
        raise ValueError(f"fractions={tuple(float(v) for v in f)} sum to {total:g}, not 1; "
                         f"rescaled they would be {suggestion}, or use (0.7, 0.15, 0.15)")
    return f


def _allocate(n: int, f: np.ndarray) -> np.ndarray:
    """Split n into counts close to ``n * f`` (each within one), summing to n exactly."""
    raw = n * f
    counts = np.floor(raw + 1e-9).astype(np.int64)
    remainder = n - counts.sum()
    order = np.argsort(-(raw - counts), kind="stable")  # largest fractional part first
    counts[order[:remainder]] += 1
    return counts


def train_val_test_split(
    X: Any,
    y: Any,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    stratify: bool = False,
) -> Split:
    """Split (X, y) into disjoint train, validation and test sets, reproducibly.

    The rows are shuffled with ``np.random.default_rng(seed)``; the same seed always
    gives the same split. Every row lands in exactly one part. With ``stratify=True``
    each class is split separately, so its share in every part matches ``fractions``
    to within one example.

    Parameters
    ----------
    X : (n, ...) array (numpy, torch or list)
    y : (n,) array
    fractions : (train, val, test), each >= 0, summing to 1; a val or test fraction of 0
        gives an empty part on purpose.
    seed : int
    stratify : bool
        Keep each class's proportion in every part (y holds class labels).

    Returns
    -------
    Split, with ``.train``, ``.val``, ``.test`` as (X, y), ``.indices`` and ``.test_reads``.

    Example
    -------
    >>> from mlcourse.data import make_classification
    >>> X, y = make_classification(100, seed=0)
    >>> split = train_val_test_split(X, y, seed=0)
    >>> split
    Split(train=70, val=15, test=15, test_reads=0)
    >>> X_train, y_train = split.train
    """
    n = check_same_length(X, y)
    f = _check_fractions(fractions)
    arguments.seed(seed)
    rng = np.random.default_rng(seed)
    if not stratify:
        counts = _allocate(n, f)
        _check_nonempty(counts, f, n, where="")
        order = rng.permutation(n)
        bounds = np.cumsum(counts)[:-1]
        parts = dict(zip(SPLIT_NAMES, np.split(order, bounds), strict=True))
    else:
        labels = np.asarray(y)
        if labels.ndim != 1:
            raise ValueError(f"stratify=True needs 1-D class labels y (n,), got shape "
                             f"{labels.shape}")
        classes, inverse = np.unique(labels, return_inverse=True)
        pieces: dict[str, list[np.ndarray]] = {name: [] for name in SPLIT_NAMES}
        for c, label in enumerate(classes):
            members = rng.permutation(np.flatnonzero(inverse == c))
            counts = _allocate(len(members), f)
            _check_nonempty(counts, f, len(members), where=f" of class {label.item()!r}")
            parts_c = np.split(members, np.cumsum(counts)[:-1])
            for name, part in zip(SPLIT_NAMES, parts_c, strict=True):
                pieces[name].append(part)
        # shuffle within each part so the classes are interleaved, not in blocks
        parts = {name: rng.permutation(np.concatenate(p)) for name, p in pieces.items()}
    return Split(X, y, {name: idx.astype(np.int64) for name, idx in parts.items()})


def _check_nonempty(counts: np.ndarray, f: np.ndarray, n: int, where: str) -> None:
    for name, count, frac in zip(SPLIT_NAMES, counts, f, strict=True):
        if count == 0 and frac > 0:
            needed = math.ceil(1 / frac - 1e-9)
            raise ValueError(
                f"the {name} part would be empty: {n} examples{where} times {name} fraction "
                f"{frac:g} rounds to 0; it needs at least {needed} examples{where} "
                f"(or set that fraction to 0 on purpose)"
            )
