"""Choosing where tensors live, and seeding every random number generator.

``get_device("auto")`` picks CUDA, then Apple's MPS, then the CPU;
``seed_everything(seed)`` makes a run repeatable across Python, numpy and torch.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch is imported lazily: `import mlcourse` must stay light
    import torch

_NAMES = ("auto", "cpu", "cuda", "mps")


def get_device(device: str | torch.device | None = "auto") -> torch.device:
    """Return the ``torch.device`` to train on.

    Parameters
    ----------
    device : "auto", "cpu", "cuda", "cuda:N", "mps", a ``torch.device`` or None
        "auto" (or None) picks the fastest one present: CUDA, then MPS, then CPU.
        Asking for a device that is not present raises a ``RuntimeError`` that
        says which ones are.

    Example
    -------
    >>> get_device("cpu")
    device(type='cpu')
    """
    import torch

    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    requested = device if isinstance(device, torch.device) else _parse(device)
    if requested.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise RuntimeError(
                f"device={str(requested)!r} was asked for, but no CUDA GPU is visible; "
                f"available here: {available_devices()}. Use device='auto' to pick the best one."
            )
        if requested.index is not None and requested.index >= count:
            raise RuntimeError(
                f"device={str(requested)!r} asks for GPU number {requested.index}, but only "
                f"{count} GPU(s) are visible, numbered from 0; available here: "
                f"{available_devices()}"
            )
    if requested.type == "mps" and not _mps_available():
        raise RuntimeError(
            f"device='mps' was asked for, but Apple's MPS backend is not available; "
            f"available here: {available_devices()}. Use device='auto'."
        )
    return requested


_ALIASES = {"gpu": "cuda", "nvidia": "cuda", "metal": "mps", "apple": "mps"}


def _parse(device: object) -> torch.device:
    """A ``torch.device`` from a name such as "cpu" or "cuda:1"; a ValueError otherwise."""
    import torch

    name = device.strip().lower() if isinstance(device, str) else None
    if name is not None and name.split(":")[0] in _NAMES[1:]:
        try:
            return torch.device(name)
        except RuntimeError:  # e.g. "cuda:x" or "cpu:1:2"
            pass
    hint = ""
    if name is not None and name.split(":")[0] in _ALIASES:
        hint = f" Did you mean {_ALIASES[name.split(':')[0]]!r}?"
    raise ValueError(
        f"device={device!r} is not a device name; use one of {_NAMES} "
        f"(or 'cuda:N' for GPU number N).{hint}"
    )


def available_devices() -> list[str]:
    """Names of the devices torch can use on this machine, fastest first."""
    import torch

    names = [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if _mps_available():
        names.append("mps")
    return [*names, "cpu"]


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def seed_everything(seed: int, *, deterministic: bool = False) -> np.random.Generator:
    """Seed Python's ``random``, numpy's global RNG and torch (CPU and every GPU).

    Returns a fresh ``numpy.random.Generator`` seeded with ``seed``: prefer it to
    the global RNG in new code. ``deterministic=True`` also asks torch for
    deterministic kernels (slower on a GPU, identical results run to run).

    Example
    -------
    >>> rng = seed_everything(0)
    >>> bool(rng.integers(10) == seed_everything(0).integers(10))
    True
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - learners' code may use the legacy global RNG
    os.environ["PYTHONHASHSEED"] = str(seed)
    import torch

    torch.manual_seed(seed)  # seeds the CPU generator and every CUDA device's
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    return np.random.default_rng(seed)


@contextlib.contextmanager
def eval_mode(model: Any) -> Iterator[Any]:
    """Run ``model`` for evaluation, then put back the mode it was in.

    Inside the block a torch module is in ``eval()`` mode (dropout off, batch
    norm on its running statistics) and gradients are not recorded; on leaving,
    even by an exception, ``model.train(was_training)`` restores its mode. A
    model without ``train``/``eval`` (a numpy ``mlcourse.nn`` model, a plain
    function) is yielded unchanged.

    Example
    -------
    >>> import torch
    >>> net = torch.nn.Dropout(0.5)
    >>> with eval_mode(net):
    ...     net.training
    False
    >>> net.training
    True
    """
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not isinstance(model, torch.nn.Module):
        yield model
        return
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)
