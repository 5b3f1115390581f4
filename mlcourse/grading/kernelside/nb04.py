"""Built on the learner's side for 04-gradients' checks: a function with a known gradient."""

from __future__ import annotations

from typing import Any

import numpy as np


class Smooth:
    """``f(x) = sum(a * tanh(x) + b * x**2 + c * x**3 + s * sin(x))``, coefficients broadcast
    against ``x``: a function with a known gradient, for numerical_gradient to measure.

    >>> f = Smooth(b=1.0)
    >>> f(np.array([1.0, -2.0])), f.gradient(np.array([1.0, -2.0]))
    (5.0, array([ 2., -4.]))
    """

    def __init__(self, a: Any = 0.0, b: Any = 0.0, c: Any = 0.0, s: Any = 0.0):
        self.a, self.b, self.c, self.s = (np.asarray(v, dtype=np.float64) for v in (a, b, c, s))

    def __call__(self, x: np.ndarray) -> float:
        x = np.asarray(x, dtype=np.float64)
        return float(np.sum(self.a * np.tanh(x) + self.b * x ** 2 + self.c * x ** 3 + self.s * np.sin(x)))

    def gradient(self, x: np.ndarray) -> np.ndarray:
        return self.a * (1 - np.tanh(x) ** 2) + 2 * self.b * x + 3 * self.c * x ** 2 + self.s * np.cos(x)
