"""Built on the learner's side for 06-training-loop's checks: random generators, models, a reader
of their parameters, the course's gradient average handed to ``data_parallel_step``, and
``Stepper``, which runs several data-parallel steps in one request of the judge's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from mlcourse.models import TorchMLP
from mlcourse.nn import MLP

from .calls import Caller, failure, not_plain

# Taken when the judge freezes this module, before any learner cell: a learner's
# ``np.random.default_rng = ...`` changes nothing here.
_default_rng = np.random.default_rng


def generators(seeds: Sequence[int]) -> list[np.random.Generator]:
    """``numpy.random.default_rng(seed)`` for each of ``seeds``: independent generators, built in
    one request (a list the judge iterates once, for its handles)."""
    return [_default_rng(int(seed)) for seed in seeds]


def make_torch_mlp(sizes: Sequence[int], seed: int) -> torch.nn.Module:
    """A float64 torch copy of ``mlcourse.nn.MLP(sizes, seed=seed)`` (what ``to_torch`` gives)."""
    from mlcourse.nn import MLP, to_torch

    return to_torch(MLP(list(sizes), seed=seed))


def parameter_values(model: Any) -> list[np.ndarray]:
    """The current values of ``model.parameters()`` (numpy or torch) as float64 arrays."""
    out = []
    for p in model.parameters():
        data = p.detach().cpu().numpy() if isinstance(p, torch.Tensor) else p.data
        out.append(np.array(data, dtype=np.float64))
    return out


class ParkedMLP(TorchMLP):
    """A ``TorchMLP(sizes, seed=seed)`` whose weights are NaN until ``model.to(device)`` names a
    device of type ``device_type``: that call writes the real initial weights in place (the same
    parameter objects, so an optimizer made before the move still holds them).

    A loop that never moves the model trains NaN weights and returns NaN losses, so the check sees
    the missing move in the numbers; nothing records where the model went. On an accelerator, torch
    itself refuses a batch on another device than the weights.
    """

    def __init__(self, sizes: Sequence[int], seed: int, device_type: str) -> None:
        super().__init__(list(sizes), seed=seed)
        self._origin = (list(sizes), int(seed), str(device_type))
        with torch.no_grad():
            for p in self.parameters():
                p.fill_(float("nan"))

    def to(self, *args: Any, **kwargs: Any) -> ParkedMLP:
        out = super().to(*args, **kwargs)
        named = [a.device if isinstance(a, torch.Tensor) else torch.device(a)
                 for a in (*args, kwargs.get("device"), kwargs.get("tensor"))
                 if isinstance(a, (str, torch.device, torch.Tensor))]
        sizes, seed, device_type = self._origin
        if any(d.type == device_type for d in named) and all(bool(p.isnan().all()) for p in self.parameters()):
            with torch.no_grad():
                for p, value in zip(self.parameters(), TorchMLP(sizes, seed=seed).parameters(), strict=True):
                    p.copy_(value.to(p.device, p.dtype))
        return out

    def cpu(self) -> ParkedMLP:
        return self.to("cpu")

    def cuda(self, device: Any = None) -> ParkedMLP:
        return self.to(torch.device("cuda", device) if isinstance(device, int) else device or "cuda")


def reference_average(grads: list[list[np.ndarray]], rows: list[int]) -> list[np.ndarray]:
    """Each worker's gradient weighted by its share of the batch: sum_r (n_r / B) g_r."""
    total = sum(rows)
    return [sum((n / total) * worker[j] for worker, n in zip(grads, rows, strict=True))
            for j in range(len(grads[0]))]


class CourseAverage:
    """The course's ``average_gradients``, handed to ``data_parallel_step`` on the learner's side
    (so a slip in Exercise 6 costs Exercise 6's points only).

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
    as its step returns: built with ``grading.make(fn, "mlcourse.grading.kernelside.nb06.Stepper")``.
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
