"""Built on the learner's side for 09-fine-tuning's checks: models, the helpers that read them
there as plain numbers, the systems and metrics handed to ``evaluate_once`` and ``choose_prompt``,
the same built several at a time, and ``Freezer``, which runs several freezes in one request."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...device import eval_mode
from .calls import Caller, failure, not_plain


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


# ---- several at a time: one request of the judge's builds them all, or runs several freezes -----


def models(specs: Sequence[Sequence[Any]]) -> list:
    """For each ``[factory, args]`` (``"lm"`` or ``"stack"``, and its arguments): a fresh model."""
    factories = {"lm": lm, "stack": stack}
    return [factories[str(name)](*args) for name, args in specs]


def _split(kind: str, X, y, indices: dict):
    """``mlcourse.data.Split(X, y, indices)``, or with ``kind == "once"`` ``heldout.once``'s split,
    whose test part is handed over on the first read only."""
    from mlcourse.data import Split
    from mlcourse.grading.heldout import once

    return (once if kind == "once" else Split)(X, y, indices)


def evaluations(specs: Sequence[Sequence[Any]]) -> list[list]:
    """For each ``[split kind, system, X, y, indices]`` (``system`` a name of this module's:
    ``"ConstantSystem"``, ``"LeastSquaresOnVal"`` or ``"build_once"``): the arguments of one
    ``evaluate_once(build_system, split, metric)``, each object new."""
    systems = {"ConstantSystem": ConstantSystem, "LeastSquaresOnVal": LeastSquaresOnVal, "build_once": build_once}
    return [[systems[str(system)](), _split(kind, X, y, indices), MeanAbsoluteError()]
            for kind, system, X, y, indices in specs]


def choices(specs: Sequence[Sequence[Any]]) -> list[list]:
    """For each ``[split kind, X, y, indices]``: a new ``ConstantGuessScore`` and split, the
    score and split of one ``choose_prompt(candidates, score, split)``."""
    return [[ConstantGuessScore(), _split(kind, X, y, indices)] for kind, X, y, indices in specs]


class Freezer(Caller):
    """Runs ``freeze(model, n_layers)`` on several models in one request, as ``calls.Caller`` runs a
    function (``grading.checks.calls`` drives either), and reads each model's ``requires_grad``
    flags as soon as its freeze returns: built with
    ``grading.make(freeze, "mlcourse.grading.kernelside.nb09.Freezer")``."""

    def result(self, returned: Any, args: Sequence[Any]) -> tuple[Any, bool]:
        """``{"flags": requires_grad_flags(model)}`` (``args[0]`` the model), or ``{"unread": the
        exception's type and message}`` when the flags could not be read; that ends the run.
        What freeze returns is not read (the check never looked at it)."""
        from mlcourse.grading import agent, wire

        try:
            return {"dict": [["flags", wire.encode(requires_grad_flags(args[0]), agent.keep_value)]]}, True
        except BaseException as exc:  # what the judge's read of the flags met
            return {"dict": [["unread", wire.encode(failure(exc), not_plain)]]}, False
