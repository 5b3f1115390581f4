"""Built on the learner's side for 06b-compute-and-scale's checks: the course's gradient average
handed to ``data_parallel_step`` (``CourseAverage``), the numpy models it steps, a reader of their
parameters, and ``Stepper``, which runs several data-parallel steps in one request of the judge's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mlcourse.nn import MLP

from .calls import Caller, failure, not_plain


def parameter_values(model: Any) -> list[np.ndarray]:
    """The current values of ``model.parameters()`` (numpy or torch) as float64 arrays."""
    out = []
    for p in model.parameters():
        data = p.detach().cpu().numpy() if hasattr(p, "detach") else p.data
        out.append(np.array(data, dtype=np.float64))
    return out


def reference_average(grads: list[list[np.ndarray]], rows: list[int]) -> list[np.ndarray]:
    """Each worker's gradient weighted by its share of the batch: sum_r (n_r / B) g_r."""
    total = sum(rows)
    return [sum((n / total) * worker[j] for worker, n in zip(grads, rows, strict=True))
            for j in range(len(grads[0]))]


class CourseAverage:
    """The course's ``average_gradients``, handed to ``data_parallel_step`` on the learner's side
    (so a slip in Exercise 3 costs Exercise 3's points only).

    With ``factors``, worker r's share is scaled by ``factors[r]``: the step then taken reveals
    which gradients went in (k copies of the full-batch gradient, a full-batch step, one worker's
    gradient k times all give other weights), without any record of the call to read back.
    """

    def __init__(self, factors: Sequence[float] | None = None) -> None:
        self.factors = None if factors is None else [float(f) for f in factors]

    def __call__(self, worker_grads: Any, worker_rows: Any) -> list[np.ndarray]:
        grads = [[np.array(w, dtype=np.float64) for w in worker] for worker in worker_grads]
        rows = [int(r) for r in worker_rows]
        if self.factors is not None:
            if len(grads) != len(self.factors):
                raise ValueError(f"average was handed the gradients of {len(grads)} worker(s); expected one list "
                                 f"per worker, k = {len(self.factors)}, each the gradient of its own chunk")
            grads = [[f * w for w in worker] for f, worker in zip(self.factors, grads, strict=True)]
        return reference_average(grads, rows)


def dp_problems(specs: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """For each ``[sizes, seed, factors]``: a fresh ``MLP(sizes, seed=seed)`` and
    ``CourseAverage(factors)``, the model and the average of one run of ``data_parallel_step``."""
    return [[MLP([int(d) for d in sizes], seed=int(seed)), CourseAverage(factors)] for sizes, seed, factors in specs]


class Stepper(Caller):
    """Runs ``data_parallel_step`` on several problems in one request, as ``calls.Caller`` runs a
    function (``grading.checks.calls`` drives either), and reads each model's parameters as soon
    as its step returns: built with ``grading.make(fn, "mlcourse.grading.kernelside.nb06b.Stepper")``.
    """

    def result(self, returned: Any, args: Sequence[Any]) -> tuple[Any, bool]:
        """``{"returned": what the step returned, "values": parameter_values(model)}`` (``args[0]``
        the model), or with ``"unread"`` (the exception's type and message) in place of
        ``values`` when the parameters could not be read; that ends the run."""
        from mlcourse.grading import agent, wire

        entry = {"returned": wire.encode(returned, agent.keep_value)}
        try:
            entry["values"] = wire.encode(parameter_values(args[0]), agent.keep_value)
        except BaseException as exc:  # what the judge's read of the parameters met
            entry["unread"] = wire.encode(failure(exc), not_plain)
        return {"dict": [[key, value] for key, value in entry.items()]}, "unread" not in entry
