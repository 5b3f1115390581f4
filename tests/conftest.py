"""Shared fixtures: the repository on sys.path and an environment for nbgrader subprocesses."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


@pytest.fixture(scope="session")
def course_env() -> dict[str, str]:
    """Environment for `nbgrader` / `python -m grader.pipeline` run as subprocesses.

    Our venv first on PATH (nbgrader runs `alembic` from PATH), and never the class
    gradebook: scratch courses keep their own sqlite file.
    """
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.pop("MLCOURSE_DB_URL", None)
    env.pop("MLCOURSE_COURSE_ID", None)
    # One math thread per process, as grading kernels have (KERNEL_ENV): two pytest workers
    # each driving nbgrader, its judge and a kernel would otherwise fight over 2 cores.
    env.update(PYTHONWARNINGS="ignore", MPLBACKEND="Agg", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """One math thread per test process: the models under test are tiny, so threads
    buy nothing, and pytest workers sharing a few cores would stall each other."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
