"""Built on the learner's side for 05-optimizers' checks: the parameters an optimizer steps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .calls import pending

# Taken when the judge freezes this module, before any learner cell: a learner's ``np.sin = ...``
# changes nothing here (this module's own names cannot be changed from the learner's cells).
_sin = np.sin
_errstate = np.errstate


def _fresh(value: Any) -> Any:
    """``value`` with new lists, tuples, dicts and arrays, as each request of the judge's decodes
    its arguments anew: a step that changes the list it is handed changes it for itself only."""
    t = type(value)
    if t is list or t is tuple:
        return t(_fresh(v) for v in value)
    if t is dict:
        return {k: _fresh(v) for k, v in value.items()}
    if t is np.ndarray:
        return value.copy()
    return value


class Bench:
    """Parameters on the learner's side, built there with ``grading.make(like, BENCH, values)``.

    The learner's optimizer changes ``params`` (a list of ``mlcourse.nn.Parameter``) in
    place. ``run`` takes several steps in one request of the judge's: before each it sets
    every gradient (as ``set_grads`` does), calls the learner's step, and reads every value
    back (as ``values`` does). It reports what each step left, and where a step stopped; the
    judge compares every value with its own optimizer's, step by step, as if it had asked for
    each one by itself. Nothing here decides anything.
    """

    def __init__(self, values: Sequence[Any]) -> None:
        from mlcourse.nn import Parameter

        self.params = [Parameter(v) for v in values]
        self.record: dict = {"values": [], "stop": None}
        self.exception: BaseException | None = None

    def set_grads(self, grads: Sequence[Any]) -> None:
        for p, grad in zip(self.params, grads, strict=True):
            p.grad = np.array(grad, dtype=np.float64)

    def values(self) -> list[np.ndarray]:
        return [np.array(p.data, dtype=np.float64) for p in self.params]

    def last(self) -> dict:
        """What the last ``run`` left (also when its request failed as a whole)."""
        return self.record

    def run(self, step: Any, args: Sequence[Any], kwargs: dict, grads: Sequence[Sequence[Any]],
            count: int, bowl: Sequence[Any] | None = None, read_first: bool = False) -> dict:
        """Up to ``count`` steps of ``step(*args, **kwargs)``; ``read_first``: first read the values
        a step of the request before left (see ``deferred``). Before new step k the gradients are
        ``grads[k]`` (the judge's) where given, else ``bowl``'s (``[curvature, centre, scale]``,
        the judge's bumpy bowl) at the values read after the step before.

        ``{"values", "stop", "deferred"}``: the values read (after each step, in order); the
        phase ("grads", "step", "values"; "bowl" when the bowl's gradient could not be taken) of
        the first step that did not finish, with its exception's type and message, or ``refused``
        when a library shortcut was refused meanwhile (the judge's request then fails as a whole,
        and ``last`` tells what came before); ``deferred``: the last step left work to the
        kernel's event loop or to a new thread, which runs between two requests, so its values
        are left to the next request to read, as they always were."""
        from mlcourse.grading import shortcuts

        done: list[list[np.ndarray]] = []
        record = self.record = {"values": done, "stop": None, "deferred": False}
        self.exception = None
        phase = "values"
        try:
            if read_first:
                now = self.values()
                if shortcuts.refused_calls:
                    record["stop"] = {"phase": phase, "refused": True}
                    return record
                done.append(now)
            for k in range(int(count)):
                phase = "bowl"
                if k < len(grads):
                    given = grads[k]
                else:
                    curvature, centre, scale = bowl
                    with _errstate(all="ignore"):
                        given = [scale * (curvature[i] * (theta - centre[i]) + 0.5 * _sin(3.0 * theta))
                                 for i, theta in enumerate(done[-1])]
                phase = "grads"
                self.set_grads(given)
                if shortcuts.refused_calls:
                    record["stop"] = {"phase": phase, "refused": True}
                    return record
                phase = "step"
                before = pending()
                step(*_fresh(list(args)), **_fresh(dict(kwargs)))
                if shortcuts.refused_calls:
                    record["stop"] = {"phase": phase, "refused": True}
                    return record
                if pending() != before:
                    record["deferred"] = True
                    return record
                phase = "values"
                now = self.values()
                if shortcuts.refused_calls:
                    record["stop"] = {"phase": phase, "refused": True}
                    return record
                done.append(now)
        except BaseException as exc:  # SystemExit and KeyboardInterrupt too, as the errand does
            if phase == "bowl":
                record["stop"] = {"phase": phase}
                return record
            self.exception = exc
            record["stop"] = {"phase": phase, "type": type(exc).__name__, "message": str(exc)[:2000]}
        return record

