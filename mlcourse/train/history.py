"""What ``fit`` returns (``History``) and what it raises when training diverges."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["History", "DivergenceError"]


class DivergenceError(FloatingPointError):
    """The loss (or a weight) became NaN or infinite: training stopped.

    Attributes
    ----------
    epoch, batch : int
        0-based indices of the batch whose loss was not finite (or whose step
        made a weight infinite).
    loss : float
        The bad loss; NaN when the loss was still finite but the step on that
        batch made a weight infinite or NaN.
    lr : float or None
        The learning rate at the time, when the optimizer has one.
    history : History
        The run up to the failure; its last training loss is ``loss``, so a
        diverging run can still be plotted.
    restored : str
        The weights the model was left with, the same on every device:
        ``"last finite"`` (the weights before the bad step) or ``"best"``
        (early stopping's best epoch, with ``restore_best``).
    """

    def __init__(self, message: str, *, epoch: int, batch: int, loss: float,
                 lr: float | None) -> None:
        super().__init__(message)
        self.epoch, self.batch, self.loss, self.lr = epoch, batch, loss, lr
        self.history: History | None = None
        self.restored = "last finite"


def divergence(loss: float, *, epoch: int, batch: int, epochs: int, n_batches: int,
               lr: float | None, weights: bool = False) -> DivergenceError:
    """The error ``fit`` raises, with advice a learner can act on."""
    advice = (f"The learning rate lr={lr:g} is probably too large: try a smaller one, "
              f"e.g. lr={lr / 10:g}" if lr is not None
              else "The learning rate is probably too large: try a smaller one")
    where = f"epoch {epoch + 1}/{epochs}, batch {batch + 1}/{n_batches}"
    what = (f"the step on {where} made a weight infinite or NaN" if weights
            else f"the loss became {loss} at {where}")
    return DivergenceError(
        f"Training diverged: {what}. {advice}, and check the data for very large values "
        "(standardise the inputs). The model keeps the weights from before the bad step.",
        epoch=epoch, batch=batch, loss=loss, lr=lr,
    )


@dataclass(repr=False)
class History:
    """What happened during ``fit``: one entry per epoch, and a summary.

    Attributes
    ----------
    train_loss : list of float
        Mean training loss over the examples of each epoch (the running
        average while the weights change during the epoch).
    val_loss : list of float
        Validation loss after each epoch (empty without validation data).
    metrics : dict of str -> list of float
        ``"train_<name>"`` and ``"val_<name>"`` for each metric passed to ``fit``.
    best_epoch : int
        0-based index of the best epoch: by the early-stopping monitor when
        early stopping is used, else by validation loss, else by training loss.
    best_val_loss : float or None
    epochs_run : int
    stopped_epoch : int or None
        0-based index of the epoch after which early stopping ended the run.
    restored_best : bool
        Whether the best epoch's weights were put back at the end.
    wall_time : float
        Seconds spent in the training loop (epochs and their evaluation; the
        one-off setup, such as moving data to the device, is not counted).
    examples_per_second : float
        Training examples processed per second of ``wall_time`` (by all
        workers together in a data-parallel run).
    device : str
        ``"cpu"`` for the numpy engine, the torch device otherwise.
    engine : str
        ``"numpy"`` or ``"torch"``.
    world_size : int
        Processes that trained together (1 unless data-parallel).
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int | None = None
    best_val_loss: float | None = None
    epochs_run: int = 0
    stopped_epoch: int | None = None
    restored_best: bool = False
    wall_time: float = 0.0
    examples_per_second: float = 0.0
    device: str = "cpu"
    engine: str = "numpy"
    world_size: int = 1

    @property
    def stopped_early(self) -> bool:
        return self.stopped_epoch is not None

    @property
    def epochs(self) -> list[int]:
        """Epoch numbers counted from 1, for the x-axis of a plot."""
        return list(range(1, len(self.train_loss) + 1))

    def last(self, name: str) -> float:
        """The latest value of ``"train_loss"``, ``"val_loss"`` or a recorded metric."""
        if name == "train_loss":
            return self.train_loss[-1]
        if name == "val_loss":
            return self.val_loss[-1]
        return self.metrics[name][-1]

    def plot(self, **kwargs: Any):
        """The loss curves with the best epoch marked (``mlcourse.plots.loss_curves``)."""
        from mlcourse.plots import loss_curves

        return loss_curves(self, **kwargs)

    def summary(self) -> str:
        where = f"{self.engine}/{self.device}" + (
            f" x {self.world_size} processes" if self.world_size > 1 else "")
        lines = [f"History: {self.epochs_run} epochs on {where} "
                 f"in {self.wall_time:.2f} s ({self.examples_per_second:,.0f} examples/s)"]
        if self.train_loss:
            lines.append(f"  train_loss: {self.train_loss[0]:.4g} -> {self.train_loss[-1]:.4g}")
        if self.val_loss:
            lines.append(f"  val_loss:   {self.val_loss[0]:.4g} -> {self.val_loss[-1]:.4g}")
        for name, values in self.metrics.items():
            if values:
                lines.append(f"  {name}: {values[0]:.4g} -> {values[-1]:.4g}")
        if self.best_epoch is not None:
            best = f"  best epoch: index {self.best_epoch} (epoch {self.best_epoch + 1})"
            if self.best_val_loss is not None:
                best += f", val_loss {self.best_val_loss:.4g}"
            lines.append(best)
        if self.stopped_early:
            lines.append(f"  stopped early after epoch {self.stopped_epoch + 1}"
                         + ("; best weights restored" if self.restored_best else ""))
        return "\n".join(lines)

    __repr__ = summary
