"""What ``fit`` asks of an engine, and the numpy engine.

``fit`` runs one loop (``mlcourse.train.loop``); an engine supplies the four
moves of a step and the bookkeeping around them. The moves are plain
callables, not methods that wrap them, so the loop pays nothing per batch for
the indirection:

==============  ====================================  ===========================
move            numpy engine                          torch engine
==============  ====================================  ===========================
``zero_grad``   ``optimizer.zero_grad``               ``optimizer.zero_grad``
``predict``     ``model.forward``                     ``model`` (or its DDP wrapper)
``loss``        the ``mlcourse.losses`` loss          its ``torch.nn.functional`` twin
``backward``    ``model.backward(loss_fn.grad(...))`` ``loss.backward()``
``nudge``       ``optimizer.step``                    ``optimizer.step``
==============  ====================================  ===========================
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol, runtime_checkable

import numpy as np

from mlcourse.train import checks

__all__ = ["Engine", "NumpyEngine"]


@runtime_checkable
class Engine(Protocol):
    """The interface ``fit``'s loop runs over."""

    name: str                 # "numpy" or "torch"
    device_name: str          # where the work happens, e.g. "cpu" or "cuda:0"
    world_size: int           # processes training together (1 unless data-parallel)
    rank: int                 # this process's number among them
    default_sync_every: int | None  # batches between host checks; None: once per epoch

    zero_grad: Callable[[], None]
    predict: Callable[[Any], Any]
    loss: Callable[[Any, Any], Any]
    backward: Callable[[Any, Any, Any], None]
    nudge: Callable[[], None]

    def probe(self, X_small: Any) -> Any:
        """The model's output on a few rows, in evaluation mode, before training."""

    def load(self, split: str, X: Any, y: Any) -> None:
        """Keep ``(X, y)`` for ``split`` ("train", "val") in the engine's own format."""

    def check_loss(self, y_hat_small: Any) -> None:
        """Run the loss once on ``probe``'s output against the first training targets."""

    def batches(self, index: np.ndarray, batch_size: int) -> Iterator[tuple[Any, Any, int]]:
        """This epoch's ``(X_batch, y_batch, rows)``, in the row order ``index``.

        ``rows`` counts the batch's examples over all processes.
        """

    def host_values(self, losses: list[Any]) -> list[float]:
        """The batch losses as Python floats: the moment the host waits for the device."""

    def weights_finite(self) -> bool:
        """Whether every weight is finite."""

    def evaluate(self, split: str, batch_size: int, *, loss: bool, outputs: bool
                 ) -> tuple[float, np.ndarray | None]:
        """Mean loss on ``split`` (0.0 when not asked) and the outputs as numpy (or None)."""

    def targets(self, split: str) -> np.ndarray:
        """``split``'s targets as numpy, for metrics."""

    def snapshot(self) -> Any:
        """Everything a step changes: weights, optimizer state, random generators."""

    def restore(self, state: Any) -> None:
        """Put back a ``snapshot``, in place."""

    def weights(self) -> Any:
        """A copy of the weights alone (early stopping's best epoch)."""

    def set_weights(self, weights: Any) -> None:
        """Put back ``weights()``, in place."""

    def lr(self) -> float | None:
        """The learning rate, when the optimizer has one."""

    def quiet(self) -> contextlib.AbstractContextManager:
        """A context in which overflow is left to the loss check (no warnings)."""


class NumpyEngine:
    """Forward, ``loss_fn.grad``, ``model.backward``, ``optimizer.step`` -- by hand, on the CPU."""

    name = "numpy"
    device_name = "cpu"
    world_size, rank = 1, 0
    default_sync_every = 1  # a numpy loss is already a Python number: check every batch

    def __init__(self, model: Any, loss_fn: Callable, optimizer: Any, device: Any) -> None:
        checks.numpy_parts(model, loss_fn, optimizer, device)
        self.model, self.optimizer = model, optimizer
        self.params = list(model.parameters())
        self.data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        loss_grad, model_backward = loss_fn.grad, model.backward

        def backward(loss: Any, y_hat: np.ndarray, y: np.ndarray) -> None:
            model_backward(loss_grad(y_hat, y))  # gradients into every p.grad

        self.zero_grad, self.predict, self.loss = optimizer.zero_grad, model.forward, loss_fn
        self.backward, self.nudge = backward, optimizer.step

    def probe(self, X_small: Any) -> np.ndarray:
        return checks.run_model(self.model.forward, checks.to_numpy(X_small))

    def load(self, split: str, X: Any, y: Any) -> None:
        X, y = checks.to_numpy(X), checks.to_numpy(y)
        checks.finite(split, X, y)
        self.data[split] = (X, y)

    def check_loss(self, y_hat_small: Any) -> None:
        self.loss(y_hat_small, self.data["train"][1][:len(y_hat_small)])

    def batches(self, index: np.ndarray, batch_size: int
                ) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
        X, y = self.data["train"]
        for lo in range(0, len(index), batch_size):
            rows = index[lo:lo + batch_size]
            yield X[rows], y[rows], len(rows)

    def host_values(self, losses: list[Any]) -> list[float]:
        return [float(v) for v in losses]

    def weights_finite(self) -> bool:
        return all(np.isfinite(p.data).all() for p in self.params)

    def evaluate(self, split: str, batch_size: int, *, loss: bool, outputs: bool
                 ) -> tuple[float, np.ndarray | None]:
        X, y = self.data[split]
        step = max(batch_size, 1024)
        total, parts = 0.0, []
        with self.quiet():
            for i in range(0, len(X), step):
                y_hat = self.model.forward(X[i:i + step])
                if loss:
                    total += float(self.loss(y_hat, y[i:i + step])) * len(y_hat)
                parts.append(y_hat)
        return total / len(X), (np.concatenate(parts) if outputs else None)

    def targets(self, split: str) -> np.ndarray:
        return self.data[split][1]

    def snapshot(self) -> tuple[Any, ...]:
        saves = callable(getattr(self.optimizer, "state_dict", None)) and callable(
            getattr(self.optimizer, "load_state_dict", None))
        return (self.weights(), self.optimizer.state_dict() if saves else None,
                np.random.get_state())  # noqa: NPY002 - a learner's layer may draw from it

    def restore(self, state: tuple[Any, ...]) -> None:
        weights, optimizer_state, rng = state
        self.set_weights(weights)
        if optimizer_state is not None:
            self.optimizer.load_state_dict(optimizer_state)
        np.random.set_state(rng)  # noqa: NPY002

    def weights(self) -> list[np.ndarray]:
        return [p.data.copy() for p in self.params]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        for p, saved in zip(self.params, weights, strict=True):
            p.data[...] = saved  # in place: the optimizer keeps the same arrays

    def lr(self) -> float | None:
        lr = getattr(self.optimizer, "lr", None)
        return float(lr) if isinstance(lr, (int, float, np.floating)) else None

    def quiet(self) -> contextlib.AbstractContextManager:
        # Overflow shows up as an inf/NaN loss, reported with advice; numpy's own
        # RuntimeWarnings would only add noise on stderr.
        return np.errstate(over="ignore", invalid="ignore", divide="ignore")
