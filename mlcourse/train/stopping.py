"""Early stopping: one rule, used by ``fit`` and by the grading checks alike."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mlcourse import arguments

__all__ = ["EarlyStopping", "Watch"]


@dataclass
class EarlyStopping:
    """Stop when the monitored quantity has not improved for ``patience`` epochs.

    Parameters
    ----------
    patience : int
        Epochs without an improvement larger than ``min_delta`` before stopping.
    min_delta : float
        The smallest change that counts as an improvement.
    restore_best : bool
        Put back the weights of the best epoch when training ends.
    monitor : str
        ``"val_loss"`` (default), ``"train_loss"`` or a metric such as
        ``"val_accuracy"``. Losses improve downwards, other metrics upwards.

    The rule itself is ``watch()``: a fresh ``Watch`` that is told one value per
    epoch and says when to stop. ``replay(values)`` runs it over a whole curve.

    Example
    -------
    >>> EarlyStopping(patience=3)
    EarlyStopping(patience=3, min_delta=0.0, restore_best=True, monitor='val_loss')
    >>> EarlyStopping(patience=2).replay([1.0, 0.5, 0.6, 0.7, 0.4])
    (1, 3)
    """

    patience: int = 5
    min_delta: float = 0.0
    restore_best: bool = True
    monitor: str = "val_loss"

    def __post_init__(self) -> None:
        arguments.count(self.patience, "patience", example=5, owner="EarlyStopping")
        if not isinstance(self.min_delta, (int, float)) or not self.min_delta >= 0:
            raise ValueError(f"EarlyStopping: min_delta={self.min_delta!r} must be a number "
                             ">= 0, e.g. min_delta=1e-4")
        if not isinstance(self.monitor, str) or not self.monitor.startswith(("val_", "train_")):
            raise ValueError(f"EarlyStopping: monitor={self.monitor!r} must name a recorded "
                             "quantity such as 'val_loss', 'train_loss' or 'val_accuracy'")

    @property
    def lower_is_better(self) -> bool:
        return self.monitor.endswith("loss") or "error" in self.monitor

    def is_improvement(self, value: float, best: float | None) -> bool:
        """Whether ``value`` beats ``best`` by more than ``min_delta``."""
        if best is None:
            return math.isfinite(value)
        if self.lower_is_better:
            return value < best - self.min_delta
        return value > best + self.min_delta

    def watch(self) -> Watch:
        """A fresh watch over one run (this object holds only the options)."""
        return Watch(self)

    def replay(self, values: Iterable[float]) -> tuple[int | None, int | None]:
        """``(best_epoch, stopped_epoch)`` for a whole curve, 0-based.

        ``stopped_epoch`` is None when patience never ran out.
        """
        watch = self.watch()
        for epoch, value in enumerate(values):
            watch.update(epoch, value)
            if watch.should_stop:
                return watch.best_epoch, epoch
        return watch.best_epoch, None


class Watch:
    """The state of early stopping during one run: the best value and the epochs since."""

    def __init__(self, rule: EarlyStopping) -> None:
        self.rule = rule
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.bad_epochs = 0

    def update(self, epoch: int, value: float) -> bool:
        """Record one epoch's value; return whether it is the new best."""
        if self.rule.is_improvement(value, self.best):
            self.best, self.best_epoch, self.bad_epochs = value, epoch, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.bad_epochs >= self.rule.patience


def as_early_stopping(option: Any) -> EarlyStopping | None:
    """``fit``'s ``early_stopping`` argument as an ``EarlyStopping`` (or None)."""
    if option is None or option is False:
        return None
    if option is True:
        return EarlyStopping()
    if isinstance(option, EarlyStopping):
        return option
    if isinstance(option, Mapping):
        return EarlyStopping(**option)
    raise TypeError(f"early_stopping={option!r}; pass EarlyStopping(patience=5), a dict of "
                    "its options, True or None")
