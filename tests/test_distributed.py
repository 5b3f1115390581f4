"""Data-parallel training: torchrun, gloo on CPU processes, through the same fit."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlcourse.train import ddp_demo, distributed
from mlcourse.train.torch_engine import _chunk

ROOT = Path(__file__).resolve().parents[1]


def _torchrun(nproc: int, out: Path, *args: str) -> subprocess.CompletedProcess:
    torchrun = Path(sys.executable).with_name("torchrun")
    launcher = [str(torchrun)] if torchrun.exists() else [sys.executable, "-m",
                                                          "torch.distributed.run"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [*launcher, "--standalone", "--nproc_per_node", str(nproc), "-m",
         "mlcourse.train.ddp_demo", "--out", str(out), *args],
        capture_output=True, text=True, timeout=300, env=env, cwd=out.parent)


def test_two_gloo_processes_reach_the_weights_of_one_process(tmp_path):
    """1025 examples in global batches of 64: the last batch has one row, so one process
    gets none -- the hardest case for averaging -- and the others are split 32/32."""
    options = ["--examples", "1025", "--epochs", "3", "--batch-size", "64"]
    run = _torchrun(2, tmp_path / "ddp.npz", *options)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "process 0 of 2" in run.stdout, run.stdout
    ddp = np.load(tmp_path / "ddp.npz")
    assert int(ddp["world_size"]) == 2

    model, history = ddp_demo.train(epochs=3, batch_size=64, n=1025)
    one = ddp_demo.weights_of(model)
    assert history.world_size == 1 and set(one) <= set(ddp.files)
    for name, w in one.items():
        np.testing.assert_allclose(ddp[name], w, rtol=1e-5, atol=2e-6, err_msg=name)
    np.testing.assert_allclose(ddp["train_loss"], history.train_loss, rtol=1e-5)
    # Not a vacuous comparison: training moved the weights well beyond the tolerance.
    from mlcourse.models import TorchMLP

    start = {k: v.double().numpy() for k, v in TorchMLP([2, 32, 32, 2], seed=0).state_dict().items()}
    assert max(np.abs(one[k] - start[k]).max() for k in one) > 0.1


@pytest.mark.parametrize("world", [1, 2, 3, 5])
@pytest.mark.parametrize(("lo", "hi"), [(0, 64), (64, 65), (10, 17), (0, 3)])
def test_chunks_share_a_batch_exactly_and_nearly_equally(world, lo, hi):
    chunks = [_chunk(lo, hi, rank, world) for rank in range(world)]
    assert chunks[0][0] == lo and chunks[-1][1] == hi
    assert all(a[1] == b[0] for a, b in zip(chunks[:-1], chunks[1:], strict=True))  # no gap
    sizes = [b - a for a, b in chunks]
    assert max(sizes) - min(sizes) <= 1 and sum(sizes) == hi - lo


def test_setup_outside_torchrun_says_how_to_launch(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(RuntimeError, match=r"not started by torchrun.*torchrun --nproc_per_node"):
        distributed.setup()
    assert distributed.world() == (0, 1)
