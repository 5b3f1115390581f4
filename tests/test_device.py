"""mlcourse.device: choosing a device and seeding every random generator."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from mlcourse.device import available_devices, get_device, seed_everything


def test_cpu_and_auto():
    assert get_device("cpu") == torch.device("cpu")
    assert get_device(torch.device("cpu")) == torch.device("cpu")
    assert get_device("auto").type in {"cpu", "cuda", "mps"}
    assert get_device(None) == get_device("auto")
    assert available_devices()[-1] == "cpu"


@pytest.mark.parametrize("name", ["gpu", "tpu", "", 3])
def test_unknown_names_are_refused_with_the_accepted_ones(name):
    with pytest.raises(ValueError, match=r"use one of .*'cpu'"):
        get_device(name)


def test_names_are_case_insensitive_and_gpu_gets_a_hint():
    assert get_device(" CPU ") == torch.device("cpu")
    with pytest.raises(ValueError, match="Did you mean 'cuda'"):
        get_device("gpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present here")
def test_cuda_without_a_gpu_says_what_is_available():
    with pytest.raises(RuntimeError, match=r"no CUDA GPU.*available here: \['cpu'\]"):
        get_device("cuda")
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        get_device("cuda:1")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_when_present():
    assert get_device("cuda").type == "cuda"
    assert get_device("auto").type == "cuda"
    with pytest.raises(RuntimeError, match="GPU number"):
        get_device(f"cuda:{torch.cuda.device_count()}")


def test_seed_everything_repeats_every_generator():
    def draw():
        return random.random(), np.random.rand(), torch.rand(1).item()  # noqa: NPY002 (global RNG on purpose)

    rng = seed_everything(123)
    first, first_rng = draw(), rng.integers(1_000_000)
    rng = seed_everything(123)
    assert draw() == first and rng.integers(1_000_000) == first_rng
    seed_everything(124)
    assert draw() != first


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_bad_seeds_are_refused(seed):
    with pytest.raises(ValueError, match="non-negative integer"):
        seed_everything(seed)
