"""The training loop: one loop, two engines.

Every step of training is the same four moves, whatever the library::

    for epoch in range(epochs):
        for X_batch, y_batch in shuffled mini-batches:
            y_hat = model(X_batch)              # 1. predict
            loss = loss_fn(y_hat, y_batch)      # 2. measure the loss
            gradients of loss w.r.t. params     # 3. compute gradients
            optimizer.step()                    # 4. nudge the parameters

``fit`` runs that loop on either engine:

- **numpy**: the model is an ``mlcourse.nn.Module``; gradients come from
  ``loss_fn.grad`` and ``model.backward``; the optimizer is ``mlcourse.optim``'s.
- **torch**: the model is a ``torch.nn.Module``; gradients come from autograd;
  the optimizer is a ``torch.optim`` one; data and model live on a device.

Both engines see the same mini-batches as ``mlcourse.data.iterate_minibatches``
with ``seed=seed + epoch``, so a numpy model and its ``to_torch`` twin trained
with the same optimizer follow the same trajectory.

Epoch numbers stored in ``History`` (``best_epoch``, ``stopped_epoch``) are
0-based indices into its lists; messages meant for people count from 1
("epoch 3/10").

torch is imported only when a torch model is trained, so importing this
module stays light.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlcourse.losses import accuracy  # re-exported: the usual metric for fit

__all__ = ["fit", "History", "EarlyStopping", "DivergenceError", "accuracy"]


# --------------------------------------------------------------------------- #
# Results and options
# --------------------------------------------------------------------------- #
class DivergenceError(FloatingPointError):
    """The loss became NaN or infinite: training stopped.

    Attributes ``epoch`` and ``batch`` are 0-based indices, ``loss`` the bad
    value, ``lr`` the learning rate at the time (None when unknown) and
    ``history`` the ``History`` up to the failure (its last training loss is
    the bad value), so a diverging run can still be plotted.
    """

    def __init__(self, message: str, *, epoch: int, batch: int, loss: float,
                 lr: float | None) -> None:
        super().__init__(message)
        self.epoch, self.batch, self.loss, self.lr = epoch, batch, loss, lr
        self.history: History | None = None


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

    Example
    -------
    >>> EarlyStopping(patience=3)
    EarlyStopping(patience=3, min_delta=0.0, restore_best=True, monitor='val_loss')
    """

    patience: int = 5
    min_delta: float = 0.0
    restore_best: bool = True
    monitor: str = "val_loss"

    def __post_init__(self) -> None:
        if isinstance(self.patience, bool) or not isinstance(self.patience, (int, np.integer)) \
                or self.patience < 1:
            raise ValueError(f"EarlyStopping: patience={self.patience!r} must be a positive int, "
                             "e.g. patience=5")
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
    wall_time : float
        Seconds spent in the training loop (epochs and their evaluation; the
        one-off setup, such as moving data to the device, is not counted).
    examples_per_second : float
        Training examples processed per second of ``wall_time``.
    device : str
        ``"cpu"`` for the numpy engine, the torch device otherwise.
    engine : str
        ``"numpy"`` or ``"torch"``.
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

    @property
    def stopped_early(self) -> bool:
        return self.stopped_epoch is not None

    @property
    def epochs(self) -> list[int]:
        """Epoch numbers counted from 1, for the x-axis of a plot."""
        return list(range(1, len(self.train_loss) + 1))

    def plot(self, **kwargs: Any):
        """The loss curves with the best epoch marked (``mlcourse.plots.loss_curves``)."""
        from mlcourse.plots import loss_curves

        return loss_curves(self, **kwargs)

    def summary(self) -> str:
        lines = [f"History: {self.epochs_run} epochs on {self.engine}/{self.device} "
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


# --------------------------------------------------------------------------- #
# fit
# --------------------------------------------------------------------------- #
def fit(
    model: Any,
    loss_fn: Callable,
    optimizer: Any,
    train: tuple[Any, Any],
    val: tuple[Any, Any] | None = None,
    *,
    epochs: int,
    batch_size: int,
    device: Any = "auto",
    early_stopping: EarlyStopping | Mapping[str, Any] | bool | None = None,
    seed: int = 0,
    progress: bool = True,
    metrics: Mapping[str, Callable] | None = None,
) -> History:
    """Train ``model`` on shuffled mini-batches of ``train``; return its ``History``.

    Parameters
    ----------
    model : mlcourse.nn.Module (numpy engine) or torch.nn.Module (torch engine)
    loss_fn : callable ``loss_fn(y_hat, y) -> scalar``
        numpy engine: a loss from ``mlcourse.losses`` (it carries ``.grad``).
        torch engine: a torch loss, or an ``mlcourse.losses`` one, which is
        replaced by its ``torch.nn.functional`` twin (``.torch_name``).
    optimizer : mlcourse.optim optimizer (numpy) or torch.optim optimizer (torch)
        It must own the model's parameters.
    train, val : ``(X, y)`` tuples of numpy arrays or torch tensors
        ``X: (n, ...)``, ``y: (n, ...)``. For an MSE loss, targets ``(n,)`` are
        compared with model outputs ``(n, 1)`` as ``(n, 1)``.
    epochs, batch_size : positive int
    device : "auto", "cpu", "cuda", "mps" or torch.device (torch engine only)
    early_stopping : EarlyStopping, a dict of its options, True (defaults) or None
    seed : int
        Seeds every RNG; epoch ``e`` shuffles with ``seed + e``.
    progress : bool
        A progress bar over epochs. ``False`` writes nothing at all.
    metrics : dict of name -> ``fn(y_hat, y) -> float``, optional
        Computed on numpy arrays after each epoch on the training set (after
        the epoch, in evaluation mode) and on the validation set, recorded as
        ``"train_<name>"`` and ``"val_<name>"``. See ``accuracy``.

    Returns
    -------
    History

    Raises
    ------
    DivergenceError (a FloatingPointError)
        When a batch loss is NaN or infinite: names the epoch, the batch and
        the learning rate. On a CPU the parameters are left as they were
        before that batch; on a GPU the check runs once per epoch.

    Example
    -------
    >>> from mlcourse.nn import MLP                                  # doctest: +SKIP
    >>> from mlcourse.losses import cross_entropy                    # doctest: +SKIP
    >>> from mlcourse.optim import SGD                               # doctest: +SKIP
    >>> model = MLP([2, 32, 3])                                      # doctest: +SKIP
    >>> h = fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), (X, y),
    ...         epochs=20, batch_size=32, progress=False)            # doctest: +SKIP
    >>> h.train_loss[-1] < h.train_loss[0]                           # doctest: +SKIP
    True
    """
    epochs = _positive_int(epochs, "epochs", 20)
    batch_size = _positive_int(batch_size, "batch_size", 32)
    metrics = dict(metrics or {})
    for name, fn in metrics.items():
        if not callable(fn):
            raise TypeError(f"metrics[{name!r}] is {fn!r}; pass a function fn(y_hat, y) -> float")
    stopper = _as_early_stopping(early_stopping)
    if stopper is not None and stopper.monitor.startswith("val_") and val is None:
        raise ValueError(
            f"early_stopping monitors {stopper.monitor!r} but no validation data was given; "
            "pass val=(X_val, y_val) to fit, or EarlyStopping(monitor='train_loss')"
        )
    if stopper is not None and stopper.monitor not in ("val_loss", "train_loss"):
        if stopper.monitor.split("_", 1)[1] not in metrics:
            raise ValueError(
                f"early_stopping monitors {stopper.monitor!r} but metrics={sorted(metrics)}; "
                f"pass metrics={{{stopper.monitor.split('_', 1)[1]!r}: fn}} as well"
            )

    from mlcourse.device import seed_everything

    seed_everything(seed)
    if _is_torch_module(model):
        engine: _Engine = _TorchEngine(model, loss_fn, optimizer, device)
    else:
        engine = _NumpyEngine(model, loss_fn, optimizer, device)
    n = engine.load("train", train)
    if val is not None:
        engine.load("val", val)
    engine.preflight()

    history = History(device=engine.device_name, engine=engine.name)
    start_time = time.perf_counter()  # the loop itself: setup (imports, copies) excluded
    best_value: float | None = None
    best_state = None
    bad_epochs = 0
    seen = 0
    bar = _progress_bar(epochs, progress)
    try:
        for epoch in bar:
            index = _epoch_index(n, batch_size, seed + epoch)
            try:
                history.train_loss.append(engine.train_epoch(index, batch_size, epoch, epochs))
            except DivergenceError as err:
                history.train_loss.append(err.loss)  # the runaway value ends the curve
                history.epochs_run = epoch + 1
                history.wall_time = time.perf_counter() - start_time
                err.history = history
                raise
            seen += len(index)
            if metrics:
                engine.evaluate("train", batch_size, metrics, history, loss=False)
            if val is not None:
                history.val_loss.append(engine.evaluate("val", batch_size, metrics, history))
            history.epochs_run = epoch + 1
            bar.set_postfix(_postfix(history), refresh=False)

            if stopper is not None:
                value = _monitored(history, stopper.monitor)
                if stopper.is_improvement(value, best_value):
                    best_value, bad_epochs = value, 0
                    history.best_epoch = epoch
                    if stopper.restore_best:
                        best_state = engine.snapshot()
                else:
                    bad_epochs += 1
                    if bad_epochs >= stopper.patience:
                        history.stopped_epoch = epoch
                        break
    finally:
        bar.close()

    if best_state is not None and history.best_epoch != history.epochs_run - 1:
        engine.restore(best_state)
        history.restored_best = True
    _finish(history, stopper)
    history.wall_time = time.perf_counter() - start_time
    history.examples_per_second = seen / max(history.wall_time, 1e-12)
    return history


def _finish(history: History, stopper: EarlyStopping | None) -> None:
    if stopper is None or history.best_epoch is None:
        losses = history.val_loss or history.train_loss
        finite = [v if math.isfinite(v) else math.inf for v in losses]
        history.best_epoch = int(np.argmin(finite)) if finite else None
    if history.val_loss and history.best_epoch is not None:
        history.best_val_loss = history.val_loss[history.best_epoch]


def _monitored(history: History, name: str) -> float:
    if name == "train_loss":
        return history.train_loss[-1]
    if name == "val_loss":
        return history.val_loss[-1]
    return history.metrics[name][-1]


def _postfix(history: History) -> dict[str, str]:
    shown = {"train_loss": f"{history.train_loss[-1]:.4g}"}
    if history.val_loss:
        shown["val_loss"] = f"{history.val_loss[-1]:.4g}"
    return shown


# --------------------------------------------------------------------------- #
# Engines: what differs between numpy and torch
# --------------------------------------------------------------------------- #
class _Engine:
    name = "?"
    device_name = "cpu"

    def __init__(self) -> None:
        self.data: dict[str, tuple[Any, Any]] = {}
        self.targets_np: dict[str, np.ndarray] = {}

    def load(self, split: str, pair: Any) -> int:
        X, y = _check_pair(split, pair)
        self.data[split] = self._convert(split, X, y)
        return _rows(X)

    def _diverged(self, value: float, epoch: int, batch: int, epochs: int,
                  n_batches: int) -> DivergenceError:
        lr = self.lr()
        advice = (f"The learning rate lr={lr:g} is probably too large: try a smaller one, "
                  f"e.g. lr={lr / 10:g}" if lr is not None
                  else "The learning rate is probably too large: try a smaller one")
        return DivergenceError(
            f"Training diverged: the loss became {value} at epoch {epoch + 1}/{epochs}, "
            f"batch {batch + 1}/{n_batches}. {advice}, and check the data for very large "
            "values (standardise the inputs).",
            epoch=epoch, batch=batch, loss=value, lr=lr,
        )


class _NumpyEngine(_Engine):
    """Forward, ``loss_fn.grad``, ``model.backward``, ``optimizer.step`` -- by hand."""

    name = "numpy"

    def __init__(self, model: Any, loss_fn: Callable, optimizer: Any, device: Any) -> None:
        super().__init__()
        if not (callable(getattr(model, "forward", None))
                and callable(getattr(model, "backward", None))
                and callable(getattr(model, "parameters", None))):
            raise TypeError(
                f"model is a {type(model).__name__}; fit trains an mlcourse.nn.Module (numpy: "
                "forward, backward, parameters) or a torch.nn.Module"
            )
        if device not in ("auto", "cpu", None):
            raise ValueError(
                f"device={device!r}: the numpy engine runs on the CPU only; use device='auto' "
                "or 'cpu', or convert the model with mlcourse.nn.to_torch(model) to use a GPU"
            )
        if _is_torch_loss(loss_fn):
            raise TypeError(
                f"loss_fn={_name(loss_fn)} is a PyTorch loss, but the model is a numpy "
                f"{type(model).__name__}; use a loss from mlcourse.losses (e.g. "
                "mlcourse.losses.cross_entropy), or train mlcourse.nn.to_torch(model) instead"
            )
        if not callable(getattr(loss_fn, "grad", None)):
            raise TypeError(
                f"loss_fn={_name(loss_fn)} has no .grad: the numpy engine needs the loss's "
                "gradient w.r.t. y_hat. Use a loss from mlcourse.losses, or attach yours: "
                "my_loss.grad = my_loss_grad"
            )
        if _is_torch_optimizer(optimizer):
            raise TypeError(
                f"optimizer is a torch {type(optimizer).__name__}, but the model is numpy; use "
                "mlcourse.optim, e.g. SGD(model.parameters(), lr=0.1)"
            )
        self.model, self.loss_fn, self.optimizer = model, loss_fn, optimizer
        self.params = list(model.parameters())
        _check_numpy_ownership(self.params, optimizer)
        self.loss_grad = loss_fn.grad

    def lr(self) -> float | None:
        lr = getattr(self.optimizer, "lr", None)
        return float(lr) if isinstance(lr, (int, float, np.floating)) else None

    def _convert(self, split: str, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        X, y = _numpy(X), _numpy(y)
        _check_finite_numpy(split, X, y)
        self.targets_np[split] = y
        return X, y

    def preflight(self) -> None:
        X, y = self.data["train"]
        y_hat = _run_model(self.model.forward, X[:2])
        y = _reconcile_targets(self, y_hat, y[:2], self.loss_fn)
        self.loss_fn(y_hat, y)

    def reshape_targets(self, shape_tail: tuple[int, ...]) -> None:
        for split, (X, y) in self.data.items():
            y = y.reshape(len(y), *shape_tail)
            self.data[split] = (X, y)
            self.targets_np[split] = y

    def train_epoch(self, index: np.ndarray, batch_size: int, epoch: int, epochs: int) -> float:
        X, y = self.data["train"]
        forward, backward = self.model.forward, self.model.backward
        loss_fn, loss_grad, optimizer = self.loss_fn, self.loss_grad, self.optimizer
        n_batches = -(-len(index) // batch_size)
        total = 0.0
        # Overflow shows up as an inf/NaN loss, reported below with advice; numpy's
        # own RuntimeWarnings would only add noise on stderr.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for b in range(n_batches):
                rows = index[b * batch_size:(b + 1) * batch_size]
                X_batch, y_batch = X[rows], y[rows]
                optimizer.zero_grad()
                y_hat = forward(X_batch)                      # 1. predict
                loss = float(loss_fn(y_hat, y_batch))         # 2. measure the loss
                if not math.isfinite(loss):
                    raise self._diverged(loss, epoch, b, epochs, n_batches)
                backward(loss_grad(y_hat, y_batch))           # 3. gradients into p.grad
                optimizer.step()                              # 4. nudge the parameters
                total += loss * len(rows)
        return total / len(index)

    def evaluate(self, split: str, batch_size: int, metrics: Mapping[str, Callable],
                 history: History, *, loss: bool = True) -> float:
        X, y = self.data[split]
        step = max(batch_size, 1024)
        total = 0.0
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            outputs = [self.model.forward(X[i:i + step]) for i in range(0, len(X), step)]
            if loss:
                for i, y_hat in zip(range(0, len(X), step), outputs, strict=True):
                    total += float(self.loss_fn(y_hat, y[i:i + step])) * len(y_hat)
        _record_metrics(split, np.concatenate(outputs), y, metrics, history)
        return total / len(X)

    def snapshot(self) -> list[np.ndarray]:
        return [p.data.copy() for p in self.params]

    def restore(self, state: list[np.ndarray]) -> None:
        for p, saved in zip(self.params, state, strict=True):
            p.data[...] = saved  # in place: the optimizer keeps the same arrays


class _TorchEngine(_Engine):
    """Autograd and ``torch.optim`` on a device; the data moved there once."""

    name = "torch"

    def __init__(self, model: Any, loss_fn: Callable, optimizer: Any, device: Any) -> None:
        super().__init__()
        import torch

        from mlcourse.device import get_device

        if not _is_torch_optimizer(optimizer):
            raise TypeError(
                f"optimizer is a {type(optimizer).__name__}, but the model is a torch "
                f"{type(model).__name__}; use torch.optim, e.g. "
                "torch.optim.SGD(model.parameters(), lr=0.1)"
            )
        _check_torch_ownership(model, optimizer)
        self.device = get_device(device)
        self.device_name = str(self.device)
        self.model = model.to(self.device)
        self.optimizer = optimizer
        self.loss_fn = _torch_loss(loss_fn)
        dtypes = [p.dtype for p in model.parameters() if p.is_floating_point()]
        self.float_dtype = dtypes[0] if dtypes else torch.get_default_dtype()
        self.sync_each_batch = self.device.type == "cpu"  # .item() is free on a CPU

    def lr(self) -> float | None:
        try:
            return float(self.optimizer.param_groups[0]["lr"])
        except (AttributeError, IndexError, KeyError, TypeError, ValueError):
            return None

    def _tensor(self, a: Any) -> Any:
        import torch

        t = a.detach() if isinstance(a, torch.Tensor) else torch.from_numpy(
            np.ascontiguousarray(np.asarray(a)))
        if t.is_floating_point() or t.dtype == torch.bool:
            t = t.to(self.float_dtype)
        elif not t.is_complex():
            t = t.to(torch.int64)
        return t.to(self.device)

    def _convert(self, split: str, X: Any, y: Any) -> tuple[Any, Any]:
        import torch

        X_t, y_t = self._tensor(X), self._tensor(y)
        for name, t in ((f"{split} X", X_t), (f"{split} y", y_t)):
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                bad = int((~torch.isfinite(t)).sum())
                raise ValueError(f"{name} contains {bad} NaN or infinite values; remove or "
                                 "impute them before training")
        self.targets_np[split] = _numpy(y_t) if self.device.type == "cpu" else None
        return X_t, y_t

    def preflight(self) -> None:
        import torch

        X, y = self.data["train"]
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                y_hat = _run_model(self.model, X[:2])
                y = _reconcile_targets(self, y_hat, y[:2], self.loss_fn)
                self.loss_fn(y_hat, y)
        finally:
            self.model.train(was_training)

    def reshape_targets(self, shape_tail: tuple[int, ...]) -> None:
        for split, (X, y) in self.data.items():
            self.data[split] = (X, y.reshape(len(y), *shape_tail))
        self.targets_np = {}

    def train_epoch(self, index: np.ndarray, batch_size: int, epoch: int, epochs: int) -> float:
        import torch

        X, y = self.data["train"]
        order = torch.from_numpy(index).to(self.device)
        # One gather per epoch; every batch is then a contiguous slice (a view).
        X, y = X.index_select(0, order), y.index_select(0, order)
        model, loss_fn, optimizer = self.model, self.loss_fn, self.optimizer
        zero_grad, step = optimizer.zero_grad, optimizer.step
        model.train()
        n = len(index)
        n_batches = -(-n // batch_size)
        if self.sync_each_batch:
            total = 0.0
            for b, lo in enumerate(range(0, n, batch_size)):
                hi = lo + batch_size
                zero_grad(set_to_none=True)
                loss = loss_fn(model(X[lo:hi]), y[lo:hi])
                value = loss.item()
                if not math.isfinite(value):  # stop before the bad step is taken
                    raise self._diverged(value, epoch, b, epochs, n_batches)
                loss.backward()
                step()
                total += value * (min(hi, n) - lo)
            return total / n
        # On an accelerator, keep the losses on the device and sync once per epoch.
        losses = []
        for lo in range(0, n, batch_size):
            hi = lo + batch_size
            zero_grad(set_to_none=True)
            loss = loss_fn(model(X[lo:hi]), y[lo:hi])
            loss.backward()
            step()
            losses.append(loss.detach())
        batch_losses = torch.stack(losses).double()
        sizes = torch.full_like(batch_losses, batch_size)
        sizes[-1] = n - (n_batches - 1) * batch_size
        finite = torch.isfinite(batch_losses)
        total = float((batch_losses * sizes).sum())
        if not math.isfinite(total) or not bool(finite.all()):
            b = int((~finite).nonzero()[0, 0])
            raise self._diverged(float(batch_losses[b]), epoch, b, epochs, n_batches)
        return total / n

    def evaluate(self, split: str, batch_size: int, metrics: Mapping[str, Callable],
                 history: History, *, loss: bool = True) -> float:
        import torch

        X, y = self.data[split]
        step = max(batch_size, 1024)
        model = self.model
        model.eval()
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        outputs = []
        with torch.no_grad():
            for i in range(0, len(X), step):
                y_hat = model(X[i:i + step])
                if loss:
                    total += self.loss_fn(y_hat, y[i:i + step]).double() * len(y_hat)
                if metrics:
                    outputs.append(y_hat)
        model.train()
        if metrics:
            if self.targets_np.get(split) is None:
                self.targets_np[split] = _numpy(y)
            _record_metrics(split, _numpy(torch.cat(outputs)), self.targets_np[split],
                            metrics, history)
        return float(total) / len(X) if loss else 0.0

    def snapshot(self) -> dict[str, Any]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state)


# --------------------------------------------------------------------------- #
# Helpers
# --------------------------------------------------------------------------- #
def _epoch_index(n: int, batch_size: int, seed: int) -> np.ndarray:
    """Row order of one epoch: exactly the batches of ``iterate_minibatches``."""
    from mlcourse.data import iterate_minibatches

    rows = np.arange(n)
    batches = [b for _, b in iterate_minibatches(rows, rows, batch_size, shuffle=True,
                                                 seed=seed)]
    return np.concatenate(batches)


def _record_metrics(split: str, y_hat: np.ndarray, y: np.ndarray,
                    metrics: Mapping[str, Callable], history: History) -> None:
    for name, fn in metrics.items():
        history.metrics.setdefault(f"{split}_{name}", []).append(float(fn(y_hat, y)))


def _run_model(forward: Callable, X_small: Any) -> Any:
    try:
        return forward(X_small)
    except Exception as err:  # re-raised with the shapes that explain most failures
        raise ValueError(
            f"the model could not run on a batch of X with shape {tuple(X_small.shape)}: "
            f"{err}. Does the model's input size match X's last axis?"
        ) from err


def _is_mse(loss_fn: Any) -> bool:
    name = getattr(loss_fn, "torch_name", None) or getattr(loss_fn, "__name__", "")
    return name in ("mse_loss", "mse") or type(loss_fn).__name__ == "MSELoss"


def _reconcile_targets(engine: _Engine, y_hat: Any, y: Any, loss_fn: Any) -> Any:
    """For an MSE loss, make y's shape the model output's; say so if impossible."""
    if not _is_mse(loss_fn) or tuple(y_hat.shape) == tuple(y.shape):
        return y
    if y.ndim == 1 and tuple(y_hat.shape) == (len(y), 1):
        engine.reshape_targets((1,))  # (n,) targets against (n, 1) outputs: one per example
        return y.reshape(len(y), 1)
    raise ValueError(
        f"the model's output has shape {tuple(y_hat.shape)} but y has shape "
        f"{tuple(y.shape)} (per 2 examples); mean squared error needs the same shape, "
        "otherwise broadcasting compares every prediction with every target. Reshape y "
        "or change the model's output size."
    )


def _check_pair(split: str, pair: Any) -> tuple[Any, Any]:
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise TypeError(f"{split} must be a tuple (X, y), got {type(pair).__name__}; "
                        f"e.g. fit(..., {split}=(X_{split}, y_{split}))")
    X, y = pair
    n_X, n_y = _rows(X), _rows(y)
    if n_X != n_y:
        raise ValueError(f"{split}: X has {n_X} rows but y has {n_y}; they must have one row "
                         "per example. Did you pair the right X with the right y?")
    if n_X == 0:
        raise ValueError(f"{split} has no examples; pass at least one row")
    return X, y


def _rows(a: Any) -> int:
    shape = getattr(a, "shape", None)
    if shape is None:
        a = np.asarray(a)
        shape = a.shape
    if len(shape) == 0:
        raise ValueError("X and y need one row per example, got a scalar")
    return int(shape[0])


def _check_finite_numpy(split: str, X: np.ndarray, y: np.ndarray) -> None:
    for name, a in ((f"{split} X", X), (f"{split} y", y)):
        if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
            bad = np.argwhere(~np.isfinite(a))[0]
            raise ValueError(f"{name} contains {int((~np.isfinite(a)).sum())} NaN or infinite "
                             f"values (the first at index {tuple(int(i) for i in bad)}); "
                             "remove or impute them before training")


def _positive_int(value: Any, name: str, example: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive int, e.g. {name}={example}")
    return int(value)


def _as_early_stopping(option: Any) -> EarlyStopping | None:
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


def _numpy(a: Any) -> np.ndarray:
    if hasattr(a, "detach") and hasattr(a, "cpu"):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def _name(obj: Any) -> str:
    return getattr(obj, "__qualname__", None) or type(obj).__name__


def _is_torch_module(obj: Any) -> bool:
    torch = sys.modules.get("torch")  # no torch imported: cannot be a torch model
    return torch is not None and isinstance(obj, torch.nn.Module)


def _is_torch_optimizer(obj: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.optim.Optimizer)


def _is_torch_loss(fn: Any) -> bool:
    if _is_torch_module(fn):
        return True
    module = getattr(fn, "__module__", None) or ""
    return module.split(".")[0] == "torch"


def _torch_loss(loss_fn: Any) -> Callable:
    """A torch loss as is; an mlcourse.losses loss as its torch twin.

    ``mse`` and ``cross_entropy`` become ``torch.nn.functional.<torch_name>``
    itself; a loss whose twin needs reshaping (``next_token_cross_entropy``)
    uses its ``torch_fn``.
    """
    import torch.nn.functional as F

    if not callable(loss_fn):
        raise TypeError(f"loss_fn={loss_fn!r} is not callable; pass e.g. "
                        "torch.nn.functional.cross_entropy")
    torch_name = getattr(loss_fn, "torch_name", None)
    if torch_name is None or _is_torch_loss(loss_fn):
        return loss_fn
    twin = getattr(F, torch_name, None)
    same_function = getattr(loss_fn, "__name__", "") in (torch_name, torch_name.removesuffix("_loss"))
    if twin is not None and same_function:
        return twin
    torch_fn = getattr(loss_fn, "torch_fn", None)
    if callable(torch_fn):
        return torch_fn
    if twin is None:
        raise ValueError(f"loss_fn.torch_name={torch_name!r} is not a function of "
                         "torch.nn.functional; pass a torch loss instead")
    return twin


def _check_numpy_ownership(params: list[Any], optimizer: Any) -> None:
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(f"optimizer={optimizer!r} has no step(); use mlcourse.optim, e.g. "
                        "SGD(model.parameters(), lr=0.1)")
    owned = getattr(optimizer, "params", None)
    if owned is None:
        return
    owned_ids = {id(p) for p in owned}
    missing = [i for i, p in enumerate(params) if id(p) not in owned_ids]
    if missing:
        raise ValueError(
            f"the optimizer does not own {len(missing)} of the model's {len(params)} "
            f"parameters (positions {missing[:5]}{'...' if len(missing) > 5 else ''}), so "
            "training would not change them. Create the optimizer from this model: "
            "optimizer = SGD(model.parameters(), lr=...) -- a common cause is re-creating "
            "the model after the optimizer."
        )


def _check_torch_ownership(model: Any, optimizer: Any) -> None:
    owned = {id(p) for group in optimizer.param_groups for p in group["params"]}
    trainable = [p for p in model.parameters() if p.requires_grad]
    if trainable and not any(id(p) in owned for p in trainable):
        raise ValueError(
            f"the optimizer owns none of the model's {len(trainable)} trainable parameters, "
            "so training would not change it. Create the optimizer from this model: "
            "torch.optim.SGD(model.parameters(), lr=...) -- a common cause is re-creating "
            "the model after the optimizer."
        )


class _NoBar:
    """Stands in for tqdm when progress=False: writes nothing."""

    def __init__(self, epochs: int) -> None:
        self._epochs = range(epochs)

    def __iter__(self):
        return iter(self._epochs)

    def set_postfix(self, *args: Any, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(epochs: int, progress: bool) -> Any:
    if not progress:
        return _NoBar(epochs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. TqdmExperimentalWarning, "IProgress not found"
        from tqdm.auto import tqdm

        return tqdm(range(epochs), desc="training", unit="epoch", leave=True)
