"""Built on the learner's side for 09-fine-tuning's checks: models, the helpers that read them
there as plain numbers, and the systems and metrics handed to ``evaluate_once`` and ``choose_prompt``."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from ...device import eval_mode


def lm(frozen: bool = False):
    """A fresh ContextMLPLM of the pretrained model's shape, every parameter frozen if ``frozen``."""
    from mlcourse.pretrained import new_lm

    model = new_lm(seed=0)
    for p in model.parameters():
        p.requires_grad_(not frozen)
    return model


def stack(sizes: Sequence[int], trainable: Sequence[bool] | None = None):
    """``nn.Sequential(Linear, ReLU, ..., Linear)`` through the widths ``sizes``; ``trainable``
    gives each parameter's ``requires_grad`` in order (all True when None)."""
    import torch

    layers = []
    for d_in, d_out in zip(sizes[:-1], sizes[1:], strict=True):
        layers += [torch.nn.Linear(int(d_in), int(d_out)), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    params = list(model.parameters())
    for p, flag in zip(params, [True] * len(params) if trainable is None else trainable, strict=True):
        p.requires_grad_(bool(flag))
    return model


def requires_grad_flags(model) -> list[bool]:
    """``p.requires_grad`` of each parameter of ``model``, in ``named_parameters`` order."""
    return [bool(p.requires_grad) for _, p in model.named_parameters()]


def parameters_of(model) -> dict:
    """A copy of every tensor of ``model.state_dict()``, by name."""
    return {str(name): t.detach().cpu().clone() for name, t in model.state_dict().items()}


def model_facts(obj) -> dict:
    """Whether ``obj`` is a torch module, and its type's name."""
    import torch

    return {"module": isinstance(obj, torch.nn.Module), "type": type(obj).__name__}


def same_object(a, b) -> bool:
    """Whether ``a`` and ``b`` are one object (identity can only be seen on the learner's side)."""
    return a is b


def logits_of(model, X: np.ndarray):
    """``model``'s logits on windows ``X`` (m, 5), in evaluation mode, without gradients."""
    import torch

    params = list(model.parameters())
    device = params[0].device if params else "cpu"
    with eval_mode(model):
        return model(torch.as_tensor(np.asarray(X), device=device)).double().cpu()


class MeanAbsoluteError:
    """``metric(y_hat, y)``: the mean absolute error, a float."""

    def __call__(self, y_hat, y) -> float:
        return float(np.mean(np.abs(np.asarray(y_hat, dtype=float) - np.asarray(y, dtype=float))))


class ConstantSystem:
    """``build_system(train, val)`` tuned on its validation data: ``predict`` returns the mean
    validation target everywhere."""

    def tune(self, val) -> np.ndarray:
        return np.full(1, float(np.mean(val[1])))

    def __call__(self, train, val):
        return functools.partial(self.predict, self.tune(val))

    @staticmethod
    def predict(w: np.ndarray, X) -> np.ndarray:
        return np.full(len(X), w[0])


class BuiltTwice(RuntimeError):
    """A build-once system was built again."""


def build_once():
    """A ``ConstantSystem`` that can be built once: a second ``build_system(train, val)`` raises
    ``BuiltTwice``. Whether it was built lives in a closure cell, not in an attribute."""
    left = [ConstantSystem()]

    def build_system(train, val):
        if not left:
            raise BuiltTwice("build_system was already called once: build the system once, from split.train "
                             "and split.val, and keep what it returned")
        return left.pop()(train, val)

    return build_system


class LeastSquaresOnVal(ConstantSystem):
    """A linear system fitted by least squares on the validation data: ``predict(X) = X @ w``."""

    def tune(self, val) -> np.ndarray:
        return np.linalg.lstsq(np.asarray(val[0], dtype=float), np.asarray(val[1], dtype=float), rcond=None)[0]

    @staticmethod
    def predict(w: np.ndarray, X) -> np.ndarray:
        return np.asarray(X, dtype=float) @ w


class ConstantGuessScore:
    """``score(candidate, data)``: the mean absolute error of predicting the number ``candidate``
    for every target of ``data = (X, y)``; lower is better."""

    def __call__(self, candidate, data) -> float:
        return float(np.mean(np.abs(np.asarray(data[1], dtype=float) - float(candidate))))
