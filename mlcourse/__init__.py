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

__all__ = ["__version__", "grade_me", *_SUBMODULES]


def grade_me(notebook=None, *, timeout: int | None = None):
    """Grade this notebook as the instructor would, from a cell at its end.

    The last *saved* version of the notebook (save first: Ctrl-S) runs top to bottom in
    a fresh kernel, its test cells decided by the judge, hidden tests included where
    the course's ``solutions/`` folder is there (otherwise the visible tests only, and
    it says so); prints a line per exercise and returns the points. ``notebook``: the
    path, when Jupyter does not tell the kernel which notebook it runs; ``timeout``: seconds
    a cell may run (the grading limit, ``mlcourse.grading.limits.CELL_SECONDS``, by default).
    """
    from .grading.notebook import grade_me as _grade_me

    return _grade_me(notebook, timeout=timeout)


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'mlcourse' has no attribute {name!r}")
