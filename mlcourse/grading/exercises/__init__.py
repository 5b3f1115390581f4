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
implementations the learner's answer must not be or call; ``shortcuts=[...]`` names the
library routes that would do the exercise for the learner (``torch.autograd`` for a
hand-written gradient: see ``grading.shortcuts``), refused to the answer's code while
the judge runs this check, and free everywhere else.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

from ..errors import GradingError, ReferenceUse


def check(references: Iterable[str] = (), shortcuts: Iterable[str] = ()) -> Callable[[Callable], Callable]:
    """Mark ``fn`` as a check of the exercises whose references are ``references``
    (dotted paths such as ``"mlcourse.losses.mse"``) and whose library shortcuts are
    ``shortcuts`` (routes of ``grading.shortcuts.ROUTES``, or dotted paths)."""
    refs = tuple(references)
    routes = tuple(shortcuts)

    def mark(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args, **kwargs):
            from ..references import refuse_reference

            for arg in [*args, *kwargs.values()]:
                refuse_reference(arg, refs)
            try:
                return fn(*args, **kwargs)
            except Exception as exc:   # a refusal, from whichever request of the check it came
                refused(exc)
                raise

        run.is_check = True
        run.references = refs
        run.shortcuts = routes
        return run

    return mark


def refused(exc: BaseException) -> None:
    """Raise the kernel's refusal of a reference or a library shortcut (``ReferenceUseError``)
    as the check's failure, with its sentence: for a check that catches the learner's
    exceptions itself (to read which one an answer raises)."""
    if getattr(exc, "remote_type", type(exc).__name__) == "ReferenceUseError":
        raise ReferenceUse(str(exc)) from None


__all__ = ["GradingError", "check", "refused"]
