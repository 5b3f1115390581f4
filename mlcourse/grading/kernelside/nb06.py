"""Built on the learner's side for 06-training-loop's checks: random generators, models and a
reader of their parameters. (06b-compute-and-scale's data-parallel helpers are ``nb06b``'s.)"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from mlcourse.models import TorchMLP

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
