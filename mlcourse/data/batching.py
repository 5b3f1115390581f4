"""``iterate_minibatches``: shuffled mini-batches of numpy arrays or torch tensors.

Tensors stay tensors, on their device; torch is never imported unless X or y is one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from mlcourse import arguments

from .common import check_same_length, take


def iterate_minibatches(
    X: Any,
    y: Any,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int | np.random.Generator = 0,
    drop_last: bool = False,
) -> Iterator[tuple[Any, Any]]:
    """Yield ``(X_batch, y_batch)`` pairs that together cover one epoch.

    Parameters
    ----------
    X : (n, ...) numpy array or torch tensor
    y : (n, ...) numpy array or torch tensor
    batch_size : int >= 1
    shuffle : bool
        Visit the rows in the order ``np.random.default_rng(seed).permutation(n)``;
        pass a different seed every epoch (e.g. ``seed=epoch``) for a fresh order.
    seed : int or np.random.Generator
    drop_last : bool
        Skip the last batch when it is smaller than ``batch_size``.

    Yields
    ------
    X_batch : (b, ...), same type as X (torch tensors stay on their device)
    y_batch : (b, ...), same type as y

    Example
    -------
    >>> X, y = np.arange(10).reshape(5, 2), np.arange(5)
    >>> [len(yb) for _, yb in iterate_minibatches(X, y, batch_size=2)]
    [2, 2, 1]
    """
    # checked here, not inside the generator, so a bad call fails where it is made
    batch_size = arguments.count(batch_size, "batch_size", example=32)
    n = check_same_length(X, y)
    if shuffle:
        if not isinstance(seed, np.random.Generator):
            arguments.seed(seed)
            seed = np.random.default_rng(seed)
        order = seed.permutation(n)
    else:
        order = np.arange(n)
    stop = n - n % batch_size if drop_last else n
    return _batches(X, y, order, batch_size, stop)


def _batches(
    X: Any, y: Any, order: np.ndarray, batch_size: int, stop: int
) -> Iterator[tuple[Any, Any]]:
    for start in range(0, stop, batch_size):
        index = order[start : start + batch_size]
        yield take(X, index), take(y, index)
