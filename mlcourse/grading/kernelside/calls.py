"""Built on the learner's side for checks that call a learner's function on many cases: several
calls in one request of the judge's (``grading.checks.calls``), and what runs beside a request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def pending() -> tuple:
    """What waits to run beside the judge's errand: the kernel's event loop's callbacks and timers,
    and the live threads. A call that adds to them leaves work for between two requests, so what
    comes after it is left to the next request, as it always was."""
    import asyncio
    import threading

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:   # no event loop runs here (the judge's own tests)
        waiting: tuple = ()
    else:
        waiting = (len(getattr(loop, "_ready", ())), len(getattr(loop, "_scheduled", ())))
    return waiting, frozenset(map(id, threading.enumerate()))


class Caller:
    """Calls one learner function on several cases in one request: built with
    ``grading.make(fn, "mlcourse.grading.kernelside.calls.Caller")``."""

    def __init__(self) -> None:
        self.record: dict = record([], None)

    def last(self) -> dict:
        """What the last ``run`` left (also when its request failed as a whole)."""
        return self.record

    def run(self, fn: Any, cases: Sequence[Sequence[Any]]) -> dict:
        """``fn(*args, **kwargs)`` for each ``[args, kwargs]`` in turn, until one raises.

        ``{"results", "stop"}``: what each call returned, in order, and for the call that did not
        return, its exception's type and message, or ``refused`` when a library shortcut was
        refused meanwhile (the judge's request then fails as a whole, and ``last`` tells what
        came before). Each result is encoded as soon as its call returns, as its own request's
        reply was: a later call that changes an object an earlier one returned changes nothing
        of it. A call that leaves work to the kernel's event loop or to a new thread ends the
        run: the next call is the next request's. Nothing here decides anything."""
        from mlcourse.grading import shortcuts

        results: list = []
        self.record = record(results, None)
        for args, kwargs in cases:
            before = pending()
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:  # SystemExit and KeyboardInterrupt too, as the errand does
                self.record = record(results, failure(exc))
                return self.record
            if shortcuts.refused_calls:
                self.record = record(results, {"refused": True})
                return self.record
            try:
                encoded, complete = self.result(result, args)
            except BaseException as exc:  # as the errand's own encoding would fail
                self.record = record(results, failure(exc))
                return self.record
            results.append(encoded)
            if not complete or pending() != before:
                break
        return self.record

    def result(self, returned: Any, args: Sequence[Any]) -> tuple[Any, bool]:
        """One call's result as the reply carries it, and whether the run may go on: here what
        the call returned. A runner that reads more after each call (``nb06b.Stepper``,
        ``nb09.Freezer``) says so here, and ends the run when that read fails."""
        from mlcourse.grading import agent, wire

        return wire.encode(returned, agent.keep_value), True


def record(results: list, stop: dict | None) -> dict:
    """``{"results": results, "stop": stop}`` as the errand's reply carries it (``agent.answer``
    passes a ``{"plain": ...}`` through as it is), the results already encoded one by one; the
    shared reply of every runner here (``Caller``, ``nb06b.Stepper``, ``nb09.Freezer``)."""
    from mlcourse.grading import wire

    return {"plain": {"dict": [["results", {"list": results}], ["stop", wire.encode(stop, not_plain)]]}}


def failure(exc: BaseException) -> dict:
    """An exception as a runner's ``stop`` names it: its type and (the start of) its message."""
    return {"type": type(exc).__name__, "message": str(exc)[:2000]}


def not_plain(obj: Any) -> Any:
    raise TypeError(f"a {type(obj).__name__} is not plain data")
