"""Small seeded problems to plot: 1-D regression and 2-D classification.

- ``make_regression``: ``y = f(x) + noise`` for a known f ("linear", "sine", "cubic"),
  so the noise floor of the mean squared error is known too.
- ``make_classification``: balanced classes as "blobs", "moons" or "spirals".
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mlcourse import arguments

# --------------------------------------------------------------------------- regression

_REGRESSION_TRUTHS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: 0.8 * x - 0.5,
    "sine": lambda x: np.sin(x),
    "cubic": lambda x: 0.1 * x**3 - 0.6 * x,
}
_REGRESSION_RANGE = (-3.0, 3.0)


def make_regression(
    n_samples: int = 100,
    *,
    kind: str = "sine",
    noise: float = 0.2,
    seed: int = 0,
    return_truth: bool = False,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, Callable]:
    """A 1-D regression problem: ``y = f(x) + noise * N(0, 1)`` with x uniform on [-3, 3].

    Parameters
    ----------
    n_samples : int
        Number of examples n.
    kind : "linear", "sine" or "cubic"
        The true function f: ``0.8 x - 0.5``, ``sin(x)`` or ``0.1 x^3 - 0.6 x``.
    noise : float
        Standard deviation of the Gaussian noise. No model can reach a mean squared
        error below ``noise**2`` on fresh data: that is the noise floor.
    seed : int
        Seed of the random generator.
    return_truth : bool
        Also return the noiseless function f, to plot it or to measure a model against it.

    Returns
    -------
    X : (n, 1) float64
    y : (n,) float64
    f : callable, only with ``return_truth=True``; ``f(X)`` accepts (m, 1) or (m,) and
        returns (m,).

    Example
    -------
    >>> X, y, f = make_regression(50, kind="cubic", noise=0.1, return_truth=True)
    >>> X.shape, y.shape, f(X).shape
    ((50, 1), (50,), (50,))
    """
    n_samples = arguments.count(n_samples, "n_samples", example=100)
    if kind not in _REGRESSION_TRUTHS:
        raise ValueError(f"kind={kind!r} is unknown; use one of {sorted(_REGRESSION_TRUTHS)}")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise={noise!r} must be a finite number >= 0, e.g. noise=0.2")
    arguments.seed(seed)
    rule = _REGRESSION_TRUTHS[kind]

    def f(X: np.ndarray) -> np.ndarray:
        x = np.asarray(X, dtype=np.float64)
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 1:
            raise ValueError(f"f expects X of shape (m, 1) or (m,), got shape {x.shape}")
        return rule(x)

    rng = np.random.default_rng(seed)
    X = rng.uniform(*_REGRESSION_RANGE, size=(n_samples, 1))
    y = f(X) + noise * rng.standard_normal(n_samples)
    return (X, y, f) if return_truth else (X, y)


# --------------------------------------------------------------------------- classification


def _balanced_labels(n_samples: int, n_classes: int) -> np.ndarray:
    """Labels 0..C-1 whose counts differ by at most one, in class order."""
    counts = np.full(n_classes, n_samples // n_classes)
    counts[: n_samples % n_classes] += 1
    return np.repeat(np.arange(n_classes, dtype=np.int64), counts)


def make_classification(
    n_samples: int = 300,
    *,
    kind: str = "blobs",
    n_classes: int | None = None,
    noise: float = 0.1,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D classification problem with balanced classes.

    Parameters
    ----------
    n_samples : int
        Number of examples n; class sizes differ by at most one.
    kind : "blobs", "moons" or "spirals"
        "blobs": Gaussian clouds (std 0.7) around centres on a circle of radius 2.5;
        "moons": two interleaved half circles (always 2 classes);
        "spirals": one spiral arm per class (hard for a linear model).
    n_classes : int or None
        Number of classes C; None means 3 for blobs and spirals, 2 for moons.
    noise : float
        Standard deviation of the Gaussian jitter added to every point.
    seed : int
        Seed of the random generator.

    Returns
    -------
    X : (n, 2) float64
    y : (n,) int64, labels 0..C-1, in shuffled order

    Example
    -------
    >>> X, y = make_classification(200, kind="moons", seed=1)
    >>> X.shape, np.bincount(y).tolist()
    ((200, 2), [100, 100])
    """
    n_samples = arguments.count(n_samples, "n_samples", example=300)
    kinds = ("blobs", "moons", "spirals")
    if kind not in kinds:
        raise ValueError(f"kind={kind!r} is unknown; use one of {kinds}")
    if n_classes is None:
        n_classes = 2 if kind == "moons" else 3
    n_classes = arguments.count(n_classes, "n_classes", example=3)
    if n_classes < 2:
        raise ValueError(f"n_classes={n_classes} must be at least 2, e.g. n_classes=3")
    if kind == "moons" and n_classes != 2:
        raise ValueError(f"kind='moons' has exactly 2 classes, got n_classes={n_classes}")
    if n_samples < n_classes:
        raise ValueError(
            f"n_samples={n_samples} is fewer than n_classes={n_classes}; every class needs "
            f"at least one example, so use n_samples >= {n_classes}"
        )
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise={noise!r} must be a finite number >= 0, e.g. noise=0.1")
    arguments.seed(seed)

    rng = np.random.default_rng(seed)
    y = _balanced_labels(n_samples, n_classes)
    if kind == "blobs":
        angles = 2 * np.pi * np.arange(n_classes) / n_classes
        centres = 2.5 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        X = centres[y] + 0.7 * rng.standard_normal((n_samples, 2))
    elif kind == "moons":
        t = rng.uniform(0.0, np.pi, n_samples)
        upper = np.stack([np.cos(t), np.sin(t)], axis=1)
        lower = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)
        X = np.where((y == 0)[:, None], upper, lower)
    else:  # spirals: radius grows from 0.05 to 1 while the angle turns 1.5 times
        t = rng.uniform(0.05, 1.0, n_samples)
        theta = 2 * np.pi * (y / n_classes + 1.5 * t)
        X = t[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    X = X + noise * rng.standard_normal((n_samples, 2))
    order = rng.permutation(n_samples)
    return X[order].astype(np.float64), y[order]
