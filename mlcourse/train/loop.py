"""``fit``: the training loop, written once.

The four moves of a step are in ``_Run.steps``; everything else here is
bookkeeping around them: the epochs, evaluation, early stopping, and what
happens when the loss stops being a number.

**When the host looks at the loss** is the one thing that differs between
devices. Reading a loss waits for the device to finish; on a CPU that costs
nothing, on a GPU it stalls the queue of work. ``sync_every`` is how many
batches go by between looks: 1 on a CPU (a bad loss is seen before its step is
taken), once per epoch on an accelerator.

**Divergence, the same on every device.** When a loss (or, after a step, a
weight) is NaN or infinite, ``fit`` raises ``DivergenceError`` and leaves the
model with the last finite weights: those from before the bad step. Each
epoch starts by saving the weights, the optimizer's state and the random
generators; if the host only notices a bad loss after some bad steps were
taken, the epoch is replayed from that save one checked step at a time up to
the bad batch. With ``EarlyStopping(restore_best=True)`` the best epoch's
weights are put back instead.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from mlcourse.train import checks
from mlcourse.train.engines import Engine, NumpyEngine
from mlcourse.train.history import DivergenceError, History, divergence
from mlcourse.train.stopping import EarlyStopping, as_early_stopping

__all__ = ["fit"]


def fit(model: Any, loss_fn: Callable, optimizer: Any, train: tuple[Any, Any],
        val: tuple[Any, Any] | None = None, *, epochs: int, batch_size: int,
        device: Any = "auto",
        early_stopping: EarlyStopping | Mapping[str, Any] | bool | None = None,
        seed: int = 0, progress: bool = True, metrics: Mapping[str, Callable] | None = None,
        sync_every: int | None = None) -> History:
    """Train ``model`` on shuffled mini-batches of ``train``; return its ``History``.

    Parameters
    ----------
    model, loss_fn, optimizer
        numpy engine: an ``mlcourse.nn.Module``, an ``mlcourse.losses`` loss (it
        carries ``.grad``) and an ``mlcourse.optim`` optimizer. torch engine: a
        ``torch.nn.Module``, a torch loss (an ``mlcourse.losses`` one becomes its
        ``torch.nn.functional`` twin) and a ``torch.optim`` optimizer. The
        optimizer must own the model's parameters.
    train, val : ``(X, y)`` of numpy arrays or torch tensors, one row per example
        For an MSE loss, targets ``(n,)`` meet outputs ``(n, 1)`` as ``(n, 1)``.
    epochs, batch_size : positive int
        ``batch_size`` is the global batch, shared by the processes of a
        data-parallel run (``mlcourse.train.distributed``).
    device : "auto", "cpu", "cuda", "mps" or a torch.device (torch engine only)
    early_stopping : EarlyStopping, a dict of its options, True (defaults) or None
    seed : int -- seeds every RNG; epoch ``e`` shuffles with ``seed + e``.
    progress : bool -- a progress bar over epochs; ``False`` writes nothing.
    metrics : dict of name -> ``fn(y_hat, y) -> float``
        Recorded after each epoch, on numpy arrays, as ``"train_<name>"`` and
        ``"val_<name>"`` (in evaluation mode). See ``accuracy``.
    sync_every : positive int or None
        Batches between the host's looks at the loss; None: every batch on a
        CPU, once per epoch on an accelerator. It changes speed, never results.

    Raises
    ------
    DivergenceError (a FloatingPointError)
        When a loss is NaN or infinite, or a step makes a weight so: it names
        the epoch, the batch and the learning rate. The model keeps the weights
        from before the bad step -- on every device, whatever ``sync_every`` --
        or the best epoch's with ``EarlyStopping(restore_best=True)``.

    Example: ``model = MLP([2, 32, 3])``, then ``fit(model, cross_entropy,
    SGD(model.parameters(), lr=0.1), (X, y), epochs=20, batch_size=32)``.
    """
    from mlcourse.device import seed_everything

    stopper = as_early_stopping(early_stopping)
    epochs, batch_size, metrics = checks.options(epochs, batch_size, metrics, stopper,
                                                 val is not None, sync_every)
    train = checks.pair("train", train)
    val = checks.pair("val", val) if val is not None else None
    seed_everything(seed)
    engine = _engine(model, loss_fn, optimizer, device)
    _load(engine, loss_fn, train, val)
    run = _Run(engine, stopper, metrics, has_val=val is not None, batch_size=batch_size,
               seed=seed, sync_every=sync_every or engine.default_sync_every,
               n=checks.rows(train[0]))
    return run.epochs(epochs, progress)


def _engine(model: Any, loss_fn: Callable, optimizer: Any, device: Any) -> Engine:
    if checks.is_torch_module(model):
        from mlcourse.train.torch_engine import TorchEngine

        return TorchEngine(model, loss_fn, optimizer, device)
    return NumpyEngine(model, loss_fn, optimizer, device)


def _load(engine: Engine, loss_fn: Callable, train: tuple[Any, Any],
          val: tuple[Any, Any] | None) -> None:
    """Give the engine its data, targets shaped for the loss; try the model and loss once."""
    X, y = (a if hasattr(a, "reshape") else np.asarray(a) for a in train)
    y_hat = engine.probe(X[:2])
    tail = checks.target_shape(y_hat, y[:2], loss_fn)
    for split, pair in (("train", (X, y)), ("val", val)):
        if pair is not None:
            X_s, y_s = (a if hasattr(a, "reshape") else np.asarray(a) for a in pair)
            engine.load(split, X_s, y_s if tail is None else y_s.reshape(len(y_s), *tail))
    engine.check_loss(y_hat)


class _BadStep(Exception):
    """A non-finite loss (or weight) noticed inside an epoch; becomes a DivergenceError."""

    def __init__(self, batch: int | None, loss: float, *, weights: bool = False,
                 before_step: bool = False) -> None:
        super().__init__(batch)
        self.batch, self.loss, self.weights, self.before_step = batch, loss, weights, before_step


class _Run:
    """One call of ``fit``: the engine, the options and what has happened so far."""

    def __init__(self, engine: Engine, stopper: EarlyStopping | None,
                 metrics: dict[str, Callable], *, has_val: bool, batch_size: int, seed: int,
                 sync_every: int | None, n: int) -> None:
        self.engine, self.stopper, self.metrics, self.has_val = engine, stopper, metrics, has_val
        self.batch_size, self.seed, self.sync_every, self.n = batch_size, seed, sync_every, n
        self.n_batches = -(-n // batch_size)
        self.watch = stopper.watch() if stopper is not None else None
        self.best_weights: Any = None
        self.history = History(device=engine.device_name, engine=engine.name,
                               world_size=engine.world_size)

    def epochs(self, epochs: int, progress: bool) -> History:
        """Train for ``epochs`` epochs (or until early stopping); time the loop itself."""
        history, start = self.history, time.perf_counter()
        bar = _progress_bar(epochs, progress and self.engine.rank == 0)
        try:
            for epoch in bar:
                history.train_loss.append(self.train_epoch(epoch, epochs, start))
                self.evaluate()
                history.epochs_run = epoch + 1
                bar.set_postfix(_postfix(history), refresh=False)
                if self.should_stop(epoch):
                    break
        finally:
            bar.close()
        if self.best_weights is not None and history.best_epoch != history.epochs_run - 1:
            self.engine.set_weights(self.best_weights)
            history.restored_best = True
        _finish(history, self.stopper)
        history.wall_time = time.perf_counter() - start
        history.examples_per_second = self.n * history.epochs_run / max(history.wall_time, 1e-12)
        return history

    def train_epoch(self, epoch: int, epochs: int, start_time: float) -> float:
        """One pass over the shuffled training set; the mean loss over its examples."""
        index = _epoch_index(self.n, self.batch_size, self.seed + epoch)
        saved = self.engine.snapshot()
        try:
            total = self.steps(index, self.sync_every)
            if not self.engine.weights_finite():  # every loss finite, yet a step overflowed
                raise _BadStep(None, math.nan, weights=True)
        except _BadStep as bad:
            raise self.diverged(saved, index, bad, epoch, epochs, start_time) from None
        return total / self.n

    def steps(self, index: np.ndarray, sync_every: int | None, *, until: int | None = None,
              guard: bool = False) -> float:
        """The loop of the seed's pseudocode over one epoch's batches; the summed loss.

        ``until`` stops before that batch; ``guard`` checks the weights after
        every step and takes a step back if they stopped being finite.
        """
        e = self.engine
        zero_grad, predict, loss_fn, backward, nudge = (e.zero_grad, e.predict, e.loss,
                                                        e.backward, e.nudge)
        pending: list[Any] = []   # losses the host has not looked at yet
        rows: list[int] = []
        total = 0.0
        with e.quiet():
            for b, (X_batch, y_batch, n_rows) in enumerate(e.batches(index, self.batch_size)):
                if b == until:
                    break
                zero_grad()
                y_hat = predict(X_batch)                  # 1. predict
                loss = loss_fn(y_hat, y_batch)            # 2. measure the loss
                pending.append(loss)
                rows.append(n_rows)
                if len(pending) == sync_every:            # the host looks, before the step
                    total += self.settle(pending, rows, b)
                before = e.snapshot() if guard else None
                backward(loss, y_hat, y_batch)            # 3. compute the gradients
                nudge()                                   # 4. nudge the parameters
                if guard and not e.weights_finite():
                    e.restore(before)
                    raise _BadStep(b, math.nan, weights=True)
            if pending:
                total += self.settle(pending, rows, b)
        return total

    def settle(self, pending: list[Any], rows: list[int], last: int) -> float:
        """Read the pending losses on the host (one wait); raise on the first bad one."""
        values = self.engine.host_values(pending)
        first = last - len(values) + 1
        total = 0.0
        for i, (value, n_rows) in enumerate(zip(values, rows, strict=True)):
            if not math.isfinite(value):
                raise _BadStep(first + i, value, before_step=len(values) == 1)
            total += value * n_rows
        pending.clear()
        rows.clear()
        return total

    def diverged(self, saved: Any, index: np.ndarray, bad: _BadStep, epoch: int, epochs: int,
                 start_time: float) -> DivergenceError:
        """Leave the model with its last finite weights (or the best); the error to raise."""
        e = self.engine
        if not (bad.before_step and e.weights_finite()):
            e.restore(saved)  # replay the epoch one checked step at a time
            try:
                self.steps(index, 1, until=bad.batch, guard=True)
            except _BadStep as earlier:
                bad = earlier
        batch = self.n_batches - 1 if bad.batch is None else bad.batch
        err = divergence(bad.loss, epoch=epoch, batch=batch, epochs=epochs,
                         n_batches=self.n_batches, lr=e.lr(), weights=bad.weights)
        if self.best_weights is not None:
            e.set_weights(self.best_weights)
            err.restored = "best"
            self.history.restored_best = True
        self.history.train_loss.append(bad.loss)  # the runaway value ends the curve
        self.history.epochs_run = epoch + 1
        self.history.wall_time = time.perf_counter() - start_time
        err.history = self.history
        return err

    def evaluate(self) -> None:
        """After an epoch: the metrics on the training set, loss and metrics on validation."""
        e, history, want = self.engine, self.history, bool(self.metrics)
        splits = (["train"] if want else []) + (["val"] if self.has_val else [])
        for split in splits:
            loss, outputs = e.evaluate(split, self.batch_size, loss=split == "val",
                                       outputs=want)
            if split == "val":
                history.val_loss.append(loss)
            for name, fn in self.metrics.items():
                value = float(fn(outputs, e.targets(split)))
                history.metrics.setdefault(f"{split}_{name}", []).append(value)

    def should_stop(self, epoch: int) -> bool:
        """Early stopping's verdict after ``epoch``; keeps the best weights on the way."""
        if self.watch is None:
            return False
        if self.watch.update(epoch, self.history.last(self.stopper.monitor)):
            self.history.best_epoch = epoch
            if self.stopper.restore_best:
                self.best_weights = self.engine.weights()
        if self.watch.should_stop:
            self.history.stopped_epoch = epoch
            return True
        return False


def _finish(history: History, stopper: EarlyStopping | None) -> None:
    if stopper is None or history.best_epoch is None:
        losses = history.val_loss or history.train_loss
        finite = [v if math.isfinite(v) else math.inf for v in losses]
        history.best_epoch = int(np.argmin(finite)) if finite else None
    if history.val_loss and history.best_epoch is not None:
        history.best_val_loss = history.val_loss[history.best_epoch]


def _epoch_index(n: int, batch_size: int, seed: int) -> np.ndarray:
    """Row order of one epoch: exactly the batches of ``iterate_minibatches``."""
    from mlcourse.data import iterate_minibatches

    rows = np.arange(n)
    batches = [b for _, b in iterate_minibatches(rows, rows, batch_size, shuffle=True,
                                                 seed=seed)]
    return np.concatenate(batches)


def _postfix(history: History) -> dict[str, str]:
    shown = {"train_loss": f"{history.train_loss[-1]:.4g}"}
    if history.val_loss:
        shown["val_loss"] = f"{history.val_loss[-1]:.4g}"
    return shown


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
