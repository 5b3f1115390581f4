"""The torch engine: autograd and ``torch.optim`` on a device, alone or data-parallel.

Data and model are moved to the device once. Each epoch gathers the rows in
their shuffled order once, so every batch is a contiguous slice (a view).

Data-parallel training (``torch.distributed`` initialised, e.g. by ``torchrun``
and ``mlcourse.train.distributed.setup``): every process holds the whole data
set and the same model, wrapped in ``DistributedDataParallel``. Each global
batch of ``batch_size`` rows is cut into one nearly equal chunk per process;
each process computes the gradient of its chunk, and DDP averages the
gradients across processes during ``backward``. Each chunk's loss is weighted
by its share of the batch, so the average is exactly the gradient of the whole
batch's mean loss, as one process would compute it.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from mlcourse.train import checks, distributed

__all__ = ["TorchEngine"]


class TorchEngine:
    """Autograd and ``torch.optim`` on a device; the data moved there once."""

    name = "torch"

    def __init__(self, model: Any, loss_fn: Callable, optimizer: Any, device: Any) -> None:
        import torch

        checks.torch_parts(model, optimizer)
        self.rank, self.world_size = distributed.world()
        self.device = distributed.device_for(device) if self.world_size > 1 else _device(device)
        self.device_name = str(self.device)
        self.model = model.to(self.device)
        self.optimizer = optimizer
        self.loss_fn = checks.torch_loss(loss_fn)
        dtypes = [p.dtype for p in model.parameters() if p.is_floating_point()]
        self.float_dtype = dtypes[0] if dtypes else torch.get_default_dtype()
        self.params = [p for p in model.parameters()]
        self.data: dict[str, tuple[Any, Any]] = {}
        self._targets: dict[str, np.ndarray] = {}
        # Reading a loss on the host is free on one CPU, a stall on an accelerator and a
        # collective (every process waits for every other) when data-parallel.
        alone_on_cpu = self.device.type == "cpu" and self.world_size == 1
        self.default_sync_every = 1 if alone_on_cpu else None
        self.zero_grad = functools.partial(optimizer.zero_grad, set_to_none=True)
        self.nudge = optimizer.step
        self.backward = _backward
        if self.world_size == 1:
            self.predict, self.loss = self.model, self.loss_fn
        else:
            self.predict = distributed.wrap(self.model, self.device)
            self.loss, self._share = self._chunk_loss, 1.0

    # -- data ---------------------------------------------------------------------
    def _tensor(self, a: Any) -> Any:
        import torch

        t = a.detach() if isinstance(a, torch.Tensor) else torch.from_numpy(
            np.ascontiguousarray(np.asarray(a)))
        if t.is_floating_point() or t.dtype == torch.bool:
            t = t.to(self.float_dtype)
        elif not t.is_complex():
            t = t.to(torch.int64)
        return t.to(self.device)

    def probe(self, X_small: Any) -> Any:
        from mlcourse.device import eval_mode

        with eval_mode(self.model):
            return checks.run_model(self.model, self._tensor(X_small))

    def load(self, split: str, X: Any, y: Any) -> None:
        import torch

        X_t, y_t = self._tensor(X), self._tensor(y)
        for name, t in ((f"{split} X", X_t), (f"{split} y", y_t)):
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                bad = int((~torch.isfinite(t)).sum())
                raise ValueError(f"{name} contains {bad} NaN or infinite values; remove or "
                                 "impute them before training")
        self.data[split] = (X_t, y_t)

    def check_loss(self, y_hat_small: Any) -> None:
        import torch

        with torch.no_grad():
            self.loss_fn(y_hat_small, self.data["train"][1][:len(y_hat_small)])

    def batches(self, index: np.ndarray, batch_size: int) -> Iterator[tuple[Any, Any, int]]:
        import torch

        X, y = self.data["train"]
        order = torch.from_numpy(index).to(self.device)
        X, y = X.index_select(0, order), y.index_select(0, order)  # one gather per epoch
        self.model.train()
        n = len(index)
        for lo in range(0, n, batch_size):
            hi = min(lo + batch_size, n)
            if self.world_size == 1:
                yield X[lo:hi], y[lo:hi], hi - lo
                continue
            a, b = _chunk(lo, hi, self.rank, self.world_size)
            self._share = (b - a) * self.world_size / (hi - lo)
            yield X[a:b], y[a:b], hi - lo

    def _chunk_loss(self, y_hat: Any, y: Any) -> Any:
        """This process's chunk loss, weighted so that DDP's average is the batch's mean."""
        if len(y) == 0:  # fewer rows than processes: take part in the averaging with zeros
            return y_hat.sum() * 0.0
        return self.loss_fn(y_hat, y) * self._share

    # -- the host's view ----------------------------------------------------------
    def host_values(self, losses: list[Any]) -> list[float]:
        import torch

        if self.world_size > 1:
            return distributed.mean_over_processes(torch.stack(losses).double()).tolist()
        if len(losses) == 1:
            return [losses[0].item()]
        return torch.stack(losses).double().tolist()  # one wait for the whole window

    def weights_finite(self) -> bool:
        import torch

        with torch.no_grad():
            return bool(torch.stack([torch.isfinite(p).all() for p in self.params]).all())

    def evaluate(self, split: str, batch_size: int, *, loss: bool, outputs: bool
                 ) -> tuple[float, np.ndarray | None]:
        import torch

        from mlcourse.device import eval_mode

        X, y = self.data[split]
        step = max(batch_size, 1024)
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        parts = []
        with eval_mode(self.model):
            for i in range(0, len(X), step):
                y_hat = self.model(X[i:i + step])
                if loss:
                    total += self.loss_fn(y_hat, y[i:i + step]).double() * len(y_hat)
                if outputs:
                    parts.append(y_hat)
        return float(total) / len(X), (checks.to_numpy(torch.cat(parts)) if outputs else None)

    def targets(self, split: str) -> np.ndarray:
        if split not in self._targets:
            self._targets[split] = checks.to_numpy(self.data[split][1])
        return self._targets[split]

    # -- state --------------------------------------------------------------------
    def snapshot(self) -> tuple[Any, ...]:
        import copy

        import torch

        cuda = (torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None)
        return (self.weights(), copy.deepcopy(self.optimizer.state_dict()),
                torch.get_rng_state(), cuda)

    def restore(self, state: tuple[Any, ...]) -> None:
        import torch

        weights, optimizer_state, rng, cuda_rng = state
        self.set_weights(weights)
        self.optimizer.load_state_dict(optimizer_state)
        torch.set_rng_state(rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state(cuda_rng, self.device)

    def weights(self) -> dict[str, Any]:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def set_weights(self, weights: dict[str, Any]) -> None:
        self.model.load_state_dict(weights)

    def lr(self) -> float | None:
        try:
            return float(self.optimizer.param_groups[0]["lr"])
        except (AttributeError, IndexError, KeyError, TypeError, ValueError):
            return None

    def quiet(self) -> contextlib.AbstractContextManager:
        return contextlib.nullcontext()


def _backward(loss: Any, y_hat: Any, y: Any) -> None:
    loss.backward()


def _chunk(lo: int, hi: int, rank: int, world: int) -> tuple[int, int]:
    """Rows ``[a, b)`` of the global batch ``[lo, hi)`` that process ``rank`` takes."""
    size, extra = divmod(hi - lo, world)
    a = lo + rank * size + min(rank, extra)
    return a, a + size + (rank < extra)


def _device(device: Any) -> Any:
    from mlcourse.device import get_device

    return get_device(device)
