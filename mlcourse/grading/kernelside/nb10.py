"""Built on the learner's side for 10-debugging's checks: the model factories handed to
``overfit_one_batch`` and ``lr_range_test``. The judge builds the same models on its own side
from the same seeds, and trains its own copies to compare with the losses that come back."""

from __future__ import annotations

import torch

from mlcourse.models import TorchMLP

KINDS = ("healthy", "dead-relu", "hot-init")


class ModelFactory:
    """``make_model()``: a fresh float64 ``TorchMLP([d, hidden, n_classes])`` drawn from ``seed``,
    the same weights at every call.

    ``kind`` is "healthy"; "dead-relu" (every hidden bias at -50: each ReLU outputs 0 for every
    input, so nothing before the output layer gets a gradient); or "hot-init" (the output layer's
    weights scaled by 30: confident, wrong logits from the first step)."""

    def __init__(self, kind: str, d: int, n_classes: int, hidden: int = 32, seed: int = 0) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind={kind!r}: use one of {KINDS}")
        self.kind, self.sizes, self.seed = kind, [int(d), int(hidden), int(n_classes)], int(seed)

    def __call__(self) -> torch.nn.Module:
        model = TorchMLP(self.sizes, seed=self.seed).double()
        first, last = model.net[0], model.net[-1]
        with torch.no_grad():
            if self.kind == "dead-relu":
                first.bias.fill_(-50.0)
            elif self.kind == "hot-init":
                last.weight.mul_(30.0)
        return model

    def __repr__(self) -> str:
        return f"make_model ({self.kind} {self.sizes[0]} -> {self.sizes[1]} -> {self.sizes[2]} MLP, seed {self.seed})"


def factory(kind: str, d: int, n_classes: int, hidden: int = 32, seed: int = 0) -> ModelFactory:
    """The ``make_model`` a check hands to the learner's function."""
    return ModelFactory(kind, d, n_classes, hidden, seed)
