"""Data-parallel training through ``fit``, checked against one process.

Run it under ``torchrun``; every process trains the same small classifier on
its share of each global batch, and process 0 saves the final weights::

    torchrun --standalone --nproc_per_node 2 -m mlcourse.train.ddp_demo --out ddp.npz

Without ``torchrun`` it trains in one process, on the same global batches:
the reference the data-parallel weights must equal (to float rounding).
Notebook 06b runs both and compares them.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import numpy as np


def train(*, epochs: int = 5, batch_size: int = 64, n: int = 1000, seed: int = 0,
          device: Any = "cpu") -> tuple[Any, Any]:
    """The run every process makes: same data, same initial weights, same global batches."""
    import torch

    from mlcourse.data import make_classification
    from mlcourse.losses import cross_entropy
    from mlcourse.models import TorchMLP
    from mlcourse.train import fit

    X, y = make_classification(n, kind="moons", seed=seed)
    model = TorchMLP([2, 32, 32, 2], seed=seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    history = fit(model, cross_entropy, optimizer, (X, y), epochs=epochs,
                  batch_size=batch_size, device=device, seed=seed, progress=False)
    return model, history


def weights_of(model: Any) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().double().numpy() for k, v in model.state_dict().items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlcourse.train.ddp_demo",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="where process 0 saves the weights (.npz)")
    parser.add_argument("--epochs", type=int, default=5, help="epochs (5)")
    parser.add_argument("--batch-size", type=int, default=64, help="global batch size (64)")
    parser.add_argument("--examples", type=int, default=1000, help="training examples (1000)")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)  # one core per process: k processes, k cores
    from mlcourse.train import distributed

    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1
    device = distributed.setup() if launched else "cpu"
    model, history = train(epochs=args.epochs, batch_size=args.batch_size, n=args.examples,
                           device=device)
    rank, world = distributed.world()
    if rank == 0:
        np.savez(args.out, **weights_of(model), train_loss=np.array(history.train_loss),
                 world_size=world, seconds=history.wall_time)
        print(f"process 0 of {world}: {history.epochs_run} epochs, final train loss "
              f"{history.train_loss[-1]:.6f}, training loop {history.wall_time:.2f} s; "
              f"weights saved to {args.out}")
    if launched:
        distributed.teardown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
