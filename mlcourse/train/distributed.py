"""Beyond one device: the same loop, with gradients averaged across processes.

Data-parallel training runs one copy of the training script per device. All
copies start from the same weights and step through the same global batches;
each takes its own slice of every batch, computes that slice's gradient, and
the gradients are averaged across the processes before the optimizer's step.
Every copy then takes the same step and the weights stay identical, so ``k``
processes with batches of ``B/k`` rows take exactly the steps of one process
with batches of ``B`` rows -- in roughly ``1/k`` of the time.

``fit`` does this when ``torch.distributed`` is initialised. Launch a script
with ``torchrun`` and call ``setup()`` first::

    torchrun --nproc_per_node 2 my_script.py

    # my_script.py
    from mlcourse.train import distributed, fit
    device = distributed.setup()          # gloo on CPUs, NCCL on GPUs
    history = fit(model, loss_fn, optimizer, (X, y), epochs=5, batch_size=64,
                  device=device)
    distributed.teardown()

``python -m mlcourse.train.ddp_demo`` is such a script (notebook 06b runs it).
"""

from __future__ import annotations

import os
import sys
from typing import Any

__all__ = ["setup", "teardown", "world", "device_for", "wrap", "mean_over_processes"]


def world() -> tuple[int, int]:
    """``(rank, world_size)`` of this process: ``(0, 1)`` unless distributed is initialised."""
    torch = sys.modules.get("torch")
    if torch is None:
        return 0, 1
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def setup(backend: str | None = None) -> Any:
    """Join the process group ``torchrun`` prepared; return this process's device.

    ``backend`` defaults to NCCL when CUDA GPUs are visible, gloo otherwise.
    Outside ``torchrun`` (no ``RANK``/``WORLD_SIZE`` in the environment) this
    raises a ``RuntimeError`` that says how to launch the script.
    """
    import torch
    import torch.distributed as dist

    missing = [v for v in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
               if v not in os.environ]
    if missing:
        raise RuntimeError(
            f"distributed.setup(): {', '.join(missing)} not set -- this process was not "
            "started by torchrun. Launch it with: torchrun --nproc_per_node 2 your_script.py")
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    return device_for("auto")


def teardown() -> None:
    """Leave the process group (call once at the end of the script).

    First the garbage a finished ``fit`` left (its ``DistributedDataParallel``
    wrapper sits in reference cycles and holds the group) is collected, and every
    process waits for the others: gloo's worker threads must be gone before the
    interpreter shuts down, or a process can abort on its way out (SIGABRT,
    "terminate called without an active exception", about 1 run in 20 on a busy
    two-core machine)."""
    import gc

    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()


def device_for(device: Any) -> Any:
    """This process's device: with "auto", GPU number ``LOCAL_RANK`` when GPUs are visible."""
    import torch

    from mlcourse.device import get_device

    if device is None or (isinstance(device, str) and device == "auto"):
        if torch.cuda.is_available():
            local = int(os.environ.get("LOCAL_RANK", "0"))
            return torch.device("cuda", local % torch.cuda.device_count())
        return torch.device("cpu")
    return get_device(device)


def wrap(model: Any, device: Any) -> Any:
    """``model`` in ``DistributedDataParallel``: it averages gradients during ``backward``."""
    from torch.nn.parallel import DistributedDataParallel

    if device.type == "cuda":
        return DistributedDataParallel(model, device_ids=[device.index])
    return DistributedDataParallel(model)


def mean_over_processes(values: Any) -> Any:
    """The element-wise mean of a tensor over all processes (one all-reduce)."""
    import torch.distributed as dist

    values = values.clone()
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values / dist.get_world_size()
