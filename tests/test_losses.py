"""mlcourse.losses against torch.nn.functional in float64, on random shapes and values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlcourse import losses
from mlcourse.losses import (
    accuracy,
    cross_entropy,
    cross_entropy_grad,
    log_softmax,
    mse,
    mse_grad,
    next_token_cross_entropy,
    next_token_cross_entropy_grad,
    softmax,
)

torch = pytest.importorskip("torch")
F = torch.nn.functional

FAST = settings(max_examples=30, deadline=None)
scales = st.sampled_from([1e-3, 1.0, 30.0, 1e4])


def _torch_value_and_grad(fn, first: np.ndarray, second):
    t = torch.tensor(first, dtype=torch.float64, requires_grad=True)
    value = fn(t, second)
    value.backward()
    return value.item(), t.grad.numpy()


def _close(a: float, b: float, tol: float = 1e-10) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(b))


# --------------------------------------------------------------------------- mse
@FAST
@given(n=st.integers(1, 8), k=st.sampled_from([None, 1, 3]), scale=scales,
       seed=st.integers(0, 2**16))
def test_mse_matches_torch(n, k, scale, seed):
    rng = np.random.default_rng(seed)
    shape = (n,) if k is None else (n, k)
    y_hat, y = scale * rng.standard_normal(shape), scale * rng.standard_normal(shape)
    value, grad = _torch_value_and_grad(F.mse_loss, y_hat, torch.tensor(y))
    assert _close(mse(y_hat, y), value), f"mse {mse(y_hat, y)} vs torch {value}"
    diff = np.max(np.abs(mse_grad(y_hat, y) - grad))
    assert diff <= 1e-10 * max(1.0, np.max(np.abs(grad))), f"mse_grad off by {diff}"


def test_mse_shape_mismatch_names_both_shapes_and_the_fix():
    with pytest.raises(ValueError) as info:
        mse(np.zeros((5, 1)), np.zeros(5))
    message = str(info.value)
    assert "(5, 1)" in message and "(5,)" in message, message
    assert "reshape" in message and "ravel" in message, message
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        mse_grad(np.zeros(3), np.zeros(4))


# --------------------------------------------------------------------------- softmax
@FAST
@given(n=st.integers(1, 6), C=st.integers(1, 6), scale=scales, seed=st.integers(0, 2**16))
def test_softmax_and_log_softmax_match_torch(n, C, scale, seed):
    z = scale * np.random.default_rng(seed).standard_normal((n, C))
    expected = F.log_softmax(torch.tensor(z), dim=-1).numpy()
    got = log_softmax(z)
    assert np.all(np.isfinite(got)), f"log_softmax not finite for logits of scale {scale}"
    assert np.allclose(got, expected, rtol=1e-12, atol=1e-10), "log_softmax differs from torch"
    assert np.allclose(softmax(z).sum(axis=-1), 1.0), "softmax rows should sum to 1"
    assert np.allclose(softmax(z, axis=0), F.softmax(torch.tensor(z), dim=0).numpy()), "axis=0"


# --------------------------------------------------------------------------- cross-entropy
@FAST
@given(n=st.integers(1, 8), C=st.integers(1, 7), scale=scales, seed=st.integers(0, 2**16))
def test_cross_entropy_matches_torch(n, C, scale, seed):
    rng = np.random.default_rng(seed)
    logits, y = scale * rng.standard_normal((n, C)), rng.integers(0, C, size=n)
    value, grad = _torch_value_and_grad(F.cross_entropy, logits, torch.tensor(y))
    got = cross_entropy(logits, y)
    assert np.isfinite(got), f"cross_entropy not finite for logits of scale {scale}"
    assert _close(got, value), f"cross_entropy {got} vs torch {value}"
    diff = np.max(np.abs(cross_entropy_grad(logits, y) - grad))
    assert diff <= 1e-10, f"cross_entropy_grad differs from torch autograd by {diff}"


def test_cross_entropy_is_finite_for_huge_logits():
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4]])
    y = np.array([1, 0])
    value = cross_entropy(logits, y)
    expected = F.cross_entropy(torch.tensor(logits), torch.tensor(y)).item()
    assert np.isfinite(value) and _close(value, expected), f"{value} vs torch {expected}"
    assert np.all(np.isfinite(cross_entropy_grad(logits, y))), "gradient not finite"


def test_cross_entropy_refuses_float_targets():
    with pytest.raises(TypeError, match=r"astype\(int\)"):
        cross_entropy(np.zeros((3, 2)), np.array([0.0, 1.0, 1.0]))
    with pytest.raises(TypeError, match="argmax"):
        cross_entropy(np.zeros((2, 3)), np.eye(3)[[0, 2]])


def test_cross_entropy_names_an_out_of_range_target():
    with pytest.raises(ValueError) as info:
        cross_entropy(np.zeros((3, 4)), np.array([0, 4, 1]))
    message = str(info.value)
    assert "target 4" in message and "C=4" in message and "0..3" in message, message
    with pytest.raises(ValueError, match="target -1"):
        cross_entropy_grad(np.zeros((2, 4)), np.array([0, -1]))


def test_cross_entropy_shape_errors():
    with pytest.raises(ValueError, match="next_token_cross_entropy"):
        cross_entropy(np.zeros((2, 3, 4)), np.zeros((2, 3), int))
    with pytest.raises(ValueError, match=r"targets have shape \(3,\)"):
        cross_entropy(np.zeros((2, 4)), np.zeros(3, int))


# --------------------------------------------------------------------------- next token
@FAST
@given(B=st.integers(1, 4), T=st.integers(1, 5), V=st.integers(1, 6), scale=scales,
       seed=st.integers(0, 2**16))
def test_next_token_cross_entropy_matches_torch_reshape(B, T, V, scale, seed):
    rng = np.random.default_rng(seed)
    logits, targets = scale * rng.standard_normal((B, T, V)), rng.integers(0, V, size=(B, T))

    def torch_loss(t, y):
        return F.cross_entropy(t.reshape(-1, V), y.reshape(-1))

    value, grad = _torch_value_and_grad(torch_loss, logits, torch.tensor(targets))
    got = next_token_cross_entropy(logits, targets)
    assert _close(got, value), f"next_token_cross_entropy {got} vs torch {value}"
    got_grad = next_token_cross_entropy_grad(logits, targets)
    assert got_grad.shape == (B, T, V), f"gradient shape {got_grad.shape}, expected {(B, T, V)}"
    assert np.max(np.abs(got_grad - grad)) <= 1e-10, "next-token gradient differs from torch"


def test_next_token_rejects_2d_logits():
    with pytest.raises(ValueError) as info:
        next_token_cross_entropy(np.zeros((4, 5)), np.zeros(4, int))
    message = str(info.value)
    assert "(B, T, V)" in message and "cross_entropy" in message, message
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        next_token_cross_entropy(np.zeros((2, 3, 5)), np.zeros((3, 2), int))


# --------------------------------------------------------------------------- attributes
@pytest.mark.parametrize("loss, grad, torch_name", [
    (losses.mse, mse_grad, "mse_loss"),
    (losses.cross_entropy, cross_entropy_grad, "cross_entropy"),
    (losses.next_token_cross_entropy, next_token_cross_entropy_grad, "cross_entropy"),
])
def test_losses_carry_their_gradient_and_torch_name(loss, grad, torch_name):
    assert loss.grad is grad, f"{loss.__name__}.grad should be {grad.__name__}"
    assert loss.torch_name == torch_name, f"{loss.__name__}.torch_name = {loss.torch_name!r}"
    assert hasattr(F, loss.torch_name), f"torch.nn.functional has no {loss.torch_name}"


def test_torch_fn_agrees():
    rng = np.random.default_rng(1)
    logits, y = rng.standard_normal((2, 3, 4)), rng.integers(0, 4, size=(2, 3))
    got = losses.next_token_cross_entropy.torch_fn(torch.tensor(logits), torch.tensor(y)).item()
    assert _close(got, next_token_cross_entropy(logits, y)), "torch_fn differs"
    a, b = rng.standard_normal(5), rng.standard_normal(5)
    assert _close(losses.mse.torch_fn(torch.tensor(a), torch.tensor(b)).item(), mse(a, b))


def test_accuracy():
    logits = np.array([[2.0, 1.0], [0.0, 3.0], [5.0, -1.0], [0.0, 1.0]])
    assert accuracy(logits, np.array([0, 1, 1, 0])) == 0.5, "two of four are right"
    assert accuracy(logits[None], np.array([[0, 1, 0, 1]])) == 1.0, "(B, T, V) logits"
