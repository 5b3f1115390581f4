"""Built on the learner's side for 01-data's checks: the course's versions of earlier exercises.

Exercises 2 and 5 take earlier exercises' functions as arguments (``split_fn``, ``fit``,
``apply``); their checks hand in these instead, built beside the learner's function with
``make(learner_fn, "mlcourse.grading.kernelside.nb01.reference_helper", name)``, so a slip
in Exercise 1, 3 or 4 costs no points there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np


def reference_split(n: int, fractions: Sequence[float], seed: int) -> tuple[np.ndarray, ...]:
    from mlcourse.data import train_val_test_split

    indices = train_val_test_split(np.zeros((n, 1)), np.zeros(n), fractions, seed).indices
    return indices["train"], indices["val"], indices["test"]


def reference_fit(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from mlcourse.data import Standardizer

    scaler = Standardizer().fit(X)
    return scaler.mean_, scaler.std_


def reference_apply(X: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return (X - mean) / std


def reference_helper(name: str) -> Callable:
    """The course's ``split_fn`` ("split"), ``fit`` ("fit") or ``apply`` ("apply"); checks
    build it with ``make(learner_fn, "mlcourse.grading.kernelside.nb01.reference_helper", name)``
    so that in grading it lives in the kernel beside the learner's function."""
    return {"split": reference_split, "fit": reference_fit, "apply": reference_apply}[name]
