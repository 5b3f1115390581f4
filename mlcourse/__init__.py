"""mlcourse — "How Models Learn", the support package of the course.

Notebooks import what they need from the submodules::

    from mlcourse.data import make_regression, train_val_test_split
    from mlcourse.nn import Linear, MLP

``import mlcourse`` stays light: numpy only, never torch. Submodules load on
first use, so ``mlcourse.train`` also works after a bare ``import mlcourse``.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "data", "nn", "models", "losses", "gradcheck", "optim", "train",
    "device", "plots", "widgets", "grading", "cli", "pretrained",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'mlcourse' has no attribute {name!r}")
