"""The checks of each notebook's exercises, one module per notebook (``nb03`` for 03-losses).

A check takes the learner's objects (functions, classes, values named in the
test cell) and literal cases, calls the learner's code only through
``grading.call`` / ``grading.make``, converts what comes back with
``grading.to_float64`` and compares it on its own side with ``grading.check_*``.
That discipline lets the same check run in two places:

- in the learner's kernel, when a test cell runs (immediate feedback);
- in the judge's process during grading, where each learner object is a proxy
  that asks the kernel to call it and brings back plain numbers (see ``judge``).

``@check(references=[...])`` marks a function as a check and names the reference
implementations the learner's answer must not be or call.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

from ..errors import GradingError


def check(references: Iterable[str] = ()) -> Callable[[Callable], Callable]:
    """Mark ``fn`` as a check of the exercises whose references are ``references``
    (dotted paths such as ``"mlcourse.losses.mse"``)."""
    refs = tuple(references)

    def mark(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args, **kwargs):
            from ..references import refuse_reference

            for arg in [*args, *kwargs.values()]:
                refuse_reference(arg, refs)
            return fn(*args, **kwargs)

        run.is_check = True
        run.references = refs
        return run

    return mark


__all__ = ["GradingError", "check"]
