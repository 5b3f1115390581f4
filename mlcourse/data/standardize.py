"""``Standardizer``: zero mean and unit variance per column, fitted on the training set only."""

from __future__ import annotations

from typing import Any

import numpy as np


class Standardizer:
    """Rescale every column to zero mean and unit standard deviation.

    Fit it on the training set only, then transform train, validation and test with the
    same ``mean_`` and ``std_``: fitting on all data leaks the test set into training.
    A constant column gets ``std_ = 1`` (it is centred, never divided by zero).

    Attributes
    ----------
    mean_ : (d,) float64
    std_ : (d,) float64

    Example
    -------
    >>> scaler = Standardizer().fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
    >>> scaler.transform(np.array([[2.0, 5.0]])).tolist()
    [[0.0, 0.0]]
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None

    def __repr__(self) -> str:
        fitted = "unfitted" if self.mean_ is None else f"d={len(self.mean_)}"
        return f"Standardizer({fitted})"

    def fit(self, X: np.ndarray) -> Standardizer:
        """Learn the column means and standard deviations of X: (n, d). Returns self."""
        X = self._as_2d(X, "fit")
        if len(X) == 0:
            raise ValueError("fit got X with 0 rows; pass the training set, shape (n, d)")
        bad = np.flatnonzero(~np.isfinite(X).all(axis=0))
        if bad.size:
            raise ValueError(f"X has NaN or infinite values in column(s) {bad.tolist()}; "
                             "clean or impute them before fitting")
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        # a constant column: std is 0, or rounding noise next to a large mean
        constant = std <= 1e-12 * np.maximum(1.0, np.abs(self.mean_))
        self.std_ = np.where(constant, 1.0, std)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """``(X - mean_) / std_`` for X: (m, d), with the statistics learned in ``fit``."""
        X = self._as_2d(X, "transform")
        self._check_fitted(X, "transform")
        return (X - self.mean_) / self.std_

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``; use it on the training set only."""
        return self.fit(X).transform(X)

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        """Undo ``transform``: ``X * std_ + mean_`` for X: (m, d)."""
        X = self._as_2d(X, "inverse_transform")
        self._check_fitted(X, "inverse_transform")
        return X * self.std_ + self.mean_

    @staticmethod
    def _as_2d(X: Any, method: str) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"{method} expects X of shape (n, d), got shape {X.shape}; "
                             "for a single feature use X.reshape(-1, 1)")
        return X

    def _check_fitted(self, X: np.ndarray, method: str) -> None:
        if self.mean_ is None:
            raise RuntimeError(f"call fit(X_train) before {method}: this Standardizer has "
                               "not been fitted yet")
        if X.shape[1] != len(self.mean_):
            raise ValueError(f"{method} got X with {X.shape[1]} columns, but the Standardizer "
                             f"was fitted on {len(self.mean_)} columns")
