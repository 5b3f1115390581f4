"""Small helpers the data modules share: lengths, torch detection, taking rows.

numpy only: torch is imported lazily, and only for arrays that already are tensors.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def length(a: Any, name: str) -> int:
    shape = getattr(a, "shape", None)
    if shape is not None:
        if len(shape) == 0:
            raise ValueError(f"{name} is a scalar; pass an array with one row per example")
        return int(shape[0])
    return len(a)


def check_same_length(X: Any, y: Any) -> int:
    n_X, n_y = length(X, "X"), length(y, "y")
    if n_X != n_y:
        raise ValueError(
            f"X has {n_X} rows but y has {n_y} entries; they must have one entry per "
            "example (the same length)"
        )
    return n_X


def is_torch(a: Any) -> bool:
    return type(a).__module__.split(".")[0] == "torch"


def take(a: Any, index: np.ndarray) -> Any:
    """Rows ``index`` of a numpy array, a torch tensor or a list (as a numpy array)."""
    if is_torch(a):
        import torch  # lazily: only when the caller already uses torch

        return a[torch.from_numpy(index).to(a.device)]
    return np.asarray(a)[index]
