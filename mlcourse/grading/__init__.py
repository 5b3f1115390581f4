"""What nbgrader test cells call: compare with the reference, explain failures.

A test cell stays a few readable lines::

    from mlcourse import grading
    got = grading.call(mse, y_hat, y)
    grading.check_array("mse(y_hat, y)", got, 0.5, sizes=[len(y)])
    grading.passed("mse matches on a fixed case")

Every check turns the answer into a plain float64 array first, so only numbers
earn points, and raises ``GradingError`` (an ``AssertionError``) with a message
that names what was expected, what came, where and the likely mistake.
Nothing here imports nbgrader; notebooks and the instructor's pipeline both use it.
"""

from ._guard import ensure_untampered, to_float64
from .checks import (
    call,
    check_array,
    check_equal,
    check_gradient,
    check_in_band,
    check_true,
    passed,
    quiet,
)
from .errors import GradingError
from .remote import make, value

__all__ = [
    "GradingError", "call", "check_array", "check_equal", "check_gradient", "check_in_band",
    "check_true", "ensure_untampered", "make", "passed", "quiet", "to_float64", "value",
]
