"""Grading: the checks of every exercise, and the judge that decides them outside the kernel.

A test cell is a few calls of checks kept in ``exercises/nbNN.py``::

    # visible: fixed, explained cases
    nb03.mse(mse)
    ### BEGIN HIDDEN TESTS
    nb03.mse_random(mse, seed=60_606, shapes=[(7,), (12, 3)])
    ### END HIDDEN TESTS

A check is built from the primitives exported here: ``call`` the learner's code,
``to_float64`` what comes back (only numbers earn points), compare with
``check_array`` / ``check_equal`` / ``check_gradient`` / ``check_in_band`` /
``check_true``, which raise ``GradingError`` naming what was expected, what came,
where and the likely mistake (``mlcourse.diagnose``); ``make`` builds an argument
on the learner's side and ``value`` brings it back. In the learner's kernel the
cell runs as Python; in grading ``judge`` runs the same checks in its own process
(see ``cells``, ``remote``, ``wire``, ``agent``, ``integrity``). Nothing here
imports nbgrader; ``grader/`` plugs the judge into it.
"""

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
from .guard import ensure_untampered, to_float64
from .remote import make, value

__all__ = [
    "GradingError", "call", "check_array", "check_equal", "check_gradient", "check_in_band",
    "check_true", "ensure_untampered", "make", "passed", "quiet", "to_float64", "value",
]
