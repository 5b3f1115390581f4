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

Most exercises have a visible check on fixed, explained cases and a hidden ``_random``
twin on cases drawn from a seed, both checking the same property case by case. ``twins``
declares the pair once: the check of one case, the references and shortcuts, and what a
pass says; the visible check lists its cases, the hidden one draws its cases from
``checks.seeded(seed)``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .. import checks
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


class twins:  # noqa: N801 - used as a decorator, like ``check``
    """A visible check and its hidden random twin, declared once.

    ``case(fn, *args, **kwargs)`` checks the learner's ``fn`` on one case and raises
    ``GradingError`` when it fails. ``visible`` turns a function that yields fixed cases
    into the visible check ``name(fn)``; ``hidden`` turns a function ``(rng, **sizes)``
    that yields cases drawn from ``rng`` into the hidden check ``name(fn, *, seed, **sizes)``,
    whose ``rng`` is ``checks.seeded(seed)``. A case is a tuple of positional arguments
    after ``fn``, or a dict of keyword arguments. After the last case the check says
    ``passed`` (each of the two may say its own ``passed=``; the hidden one says
    ``passed`` and "on random cases" by default).

    Example
    -------
    >>> sums = twins(_doubles, passed="double(x) is x + x")       # doctest: +SKIP
    >>> @sums.visible()                                            # doctest: +SKIP
    ... def double():
    ...     yield (2.0,)                # 4: the simplest case
    ...     yield (-1.5,)               # -3: the sign survives
    >>> @sums.hidden(passed="double(x) is x + x on random numbers")  # doctest: +SKIP
    ... def double_random(rng, *, count: int):
    ...     for _ in range(count):
    ...         yield (float(rng.normal()),)
    """

    def __init__(self, case: Callable[..., None], *, passed: str, references: Iterable[str] = (),
                 shortcuts: Iterable[str] = ()) -> None:
        self.case, self.message = case, passed
        self.mark = check(references=references, shortcuts=shortcuts)
        self.learner = next(iter(inspect.signature(case).parameters))   # the learner object's name

    def _run(self, fn: Any, cases: Iterator, passed: str) -> None:
        for one in cases:
            if isinstance(one, dict):
                self.case(fn, **one)
            else:
                self.case(fn, *one)
        checks.passed(passed)

    def visible(self, *, passed: str | None = None) -> Callable[[Callable[[], Iterator]], Callable]:
        """The visible check from a function that yields its fixed cases."""
        def build(cases: Callable[[], Iterator]) -> Callable:
            @functools.wraps(cases)
            def run(fn: Any) -> None:
                self._run(fn, cases(), passed or self.message)

            run.__signature__ = inspect.Signature([self._learner_parameter()])
            return self.mark(run)
        return build

    def hidden(self, *, passed: str | None = None) -> Callable[[Callable[..., Iterator]], Callable]:
        """The hidden check from a function ``(rng, **sizes)`` that yields cases drawn from ``rng``."""
        def build(draw: Callable[..., Iterator]) -> Callable:
            @functools.wraps(draw)
            def run(fn: Any, *, seed: int, **sizes: Any) -> None:
                self._run(fn, draw(checks.seeded(seed), **sizes), passed or f"{self.message} on random cases")

            sizes = list(inspect.signature(draw).parameters.values())[1:]
            seed = inspect.Parameter("seed", inspect.Parameter.KEYWORD_ONLY, annotation=int)
            run.__signature__ = inspect.Signature([self._learner_parameter(), seed, *sizes])
            return self.mark(run)
        return build

    def _learner_parameter(self) -> inspect.Parameter:
        return inspect.Parameter(self.learner, inspect.Parameter.POSITIONAL_OR_KEYWORD)


__all__ = ["GradingError", "check", "refused", "twins"]
