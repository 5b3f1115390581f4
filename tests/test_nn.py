"""mlcourse.nn against PyTorch float64: forward values, backward gradients, bookkeeping."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlcourse.nn import MLP, Linear, Module, Parameter, ReLU, Sequential, Tanh, from_torch, to_torch

torch = pytest.importorskip("torch")

FAST = settings(max_examples=20, deadline=None)


def _max_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) if np.size(a) else 0.0


def _torch_grads(module: Module, X: np.ndarray, g: np.ndarray):
    """Torch's output, input gradient and parameter gradients for upstream gradient g."""
    net = to_torch(module)
    Xt = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    out = net(Xt)
    out.backward(torch.tensor(g))
    grads = [p.grad.numpy() for p in net.parameters()]
    return out.detach().numpy(), Xt.grad.numpy(), grads


# --------------------------------------------------------------------------- Parameter
def test_parameter_is_float64_with_zero_grad_and_copies_its_input():
    source = np.arange(6).reshape(2, 3)
    p = Parameter(source)
    assert p.data.dtype == np.float64, f"Parameter.data should be float64, got {p.data.dtype}"
    assert p.grad.shape == (2, 3) and not p.grad.any(), f"grad should be zeros, got {p.grad}"
    assert p.shape == (2, 3), f"shape should be (2, 3), got {p.shape}"
    p.data[0, 0] = 100.0
    assert source[0, 0] == 0, "Parameter must copy its input, not alias the caller's array"
    assert "(2, 3)" in repr(p), f"repr should show the shape, got {repr(p)}"


def test_parameter_refuses_a_new_shape_and_names_both():
    p = Parameter(np.zeros((2, 3)))
    with pytest.raises(ValueError) as info:
        p.data = np.zeros((3, 2))
    message = str(info.value)
    assert "(2, 3)" in message and "(3, 2)" in message and ".T" in message, message
    p.grad = None
    assert p.grad.shape == (2, 3) and not p.grad.any(), "grad=None should reset to zeros"


# --------------------------------------------------------------------------- Linear
def test_linear_shapes_init_and_seed():
    layer = Linear(4, 3, seed=7)
    assert layer.W.shape == (4, 3), f"W should be (in, out) = (4, 3), got {layer.W.shape}"
    assert layer.b.shape == (3,), f"b should be (3,), got {layer.b.shape}"
    assert not layer.b.data.any(), "the bias should start at zero"
    assert np.array_equal(layer.W.data, Linear(4, 3, seed=7).W.data), "same seed, same weights"
    assert not np.array_equal(layer.W.data, Linear(4, 3, seed=8).W.data), "seeds should differ"
    assert Linear(4, 3, bias=False).b is None, "bias=False should leave b = None"
    assert not Linear(4, 3, init="zeros").W.data.any(), "init='zeros' should give zeros"


@pytest.mark.parametrize("init, std", [("he", np.sqrt(2 / 400)), ("xavier", np.sqrt(2 / 600)),
                                       ("normal", 0.01)])
def test_linear_init_scales(init, std):
    W = Linear(400, 200, init=init, seed=0).W.data
    assert abs(W.std() / std - 1) < 0.02, f"init={init}: std {W.std():.4g}, expected {std:.4g}"


def test_linear_rejects_bad_arguments():
    with pytest.raises(ValueError, match="init='kaiming'"):
        Linear(2, 3, init="kaiming")
    with pytest.raises(ValueError, match="in_features"):
        Linear(0, 3)


def test_linear_shape_error_names_the_layer_and_the_shape():
    layer = Linear(3, 2)
    with pytest.raises(ValueError) as info:
        layer(np.zeros((5, 4)))
    message = str(info.value)
    assert "Linear(3 -> 2)" in message and "3 columns" in message and "(5, 4)" in message, message
    with pytest.raises(ValueError, match="reshape"):
        layer(np.zeros(3))


def test_backward_before_forward_says_so():
    with pytest.raises(RuntimeError, match="before forward"):
        Linear(2, 2).backward(np.zeros((1, 2)))


def test_backward_checks_grad_out_shape():
    layer = Linear(3, 2)
    layer(np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"\(5, 2\)"):
        layer.backward(np.zeros((5, 3)))


@FAST
@given(n=st.integers(1, 6), d_in=st.integers(1, 5), d_out=st.integers(1, 5),
       bias=st.booleans(), seed=st.integers(0, 2**16))
def test_linear_matches_torch(n, d_in, d_out, bias, seed):
    rng = np.random.default_rng(seed)
    layer = Linear(d_in, d_out, bias=bias, seed=seed)
    if bias:
        layer.b.data[...] = rng.standard_normal(d_out)
    X, g = rng.standard_normal((n, d_in)), rng.standard_normal((n, d_out))
    out = layer(X)
    grad_X = layer.backward(g)
    t_out, t_grad_X, t_grads = _torch_grads(layer, X, g)
    assert _max_diff(out, t_out) < 1e-12, f"forward differs from torch by {_max_diff(out, t_out)}"
    assert _max_diff(grad_X, t_grad_X) < 1e-10, "grad wrt X differs from torch autograd"
    assert _max_diff(layer.W.grad, t_grads[0].T) < 1e-10, "dW differs from torch (W = weight.T)"
    if bias:
        assert _max_diff(layer.b.grad, t_grads[1]) < 1e-10, "db differs from torch autograd"


# --------------------------------------------------------------------------- MLP
def test_mlp_structure():
    model = MLP([2, 32, 3])
    kinds = [type(m).__name__ for m in model.layers]
    assert kinds == ["Linear", "ReLU", "Linear"], f"MLP([2, 32, 3]) layers: {kinds}"
    assert isinstance(MLP([2, 4, 4, 1], activation="tanh").layers[1], Tanh), "tanh activation"
    assert model.num_parameters() == 2 * 32 + 32 + 32 * 3 + 3, model.num_parameters()
    names = list(model.state_dict())
    assert names == ["layers.0.W", "layers.0.b", "layers.2.W", "layers.2.b"], names
    assert [p.shape for p in model.parameters()] == [(2, 32), (32,), (32, 3), (3,)]
    with pytest.raises(ValueError, match="activation='sigmoid'"):
        MLP([2, 3], activation="sigmoid")
    with pytest.raises(ValueError, match="at least"):
        MLP([2])


@FAST
@given(sizes=st.lists(st.integers(1, 6), min_size=2, max_size=4),
       n=st.integers(1, 6), activation=st.sampled_from(["relu", "tanh"]),
       seed=st.integers(0, 2**16))
def test_mlp_forward_and_backward_match_torch(sizes, n, activation, seed):
    rng = np.random.default_rng(seed)
    model = MLP(sizes, activation=activation, seed=seed)
    for p in model.parameters():  # nonzero biases, so db is exercised
        p.data[...] = rng.standard_normal(p.shape)
    X, g = rng.standard_normal((n, sizes[0])), rng.standard_normal((n, sizes[-1]))
    out = model(X)
    grad_X = model.backward(g)
    t_out, t_grad_X, t_grads = _torch_grads(model, X, g)
    assert _max_diff(out, t_out) < 1e-10, f"MLP{sizes} forward differs from torch"
    assert _max_diff(grad_X, t_grad_X) < 1e-10, f"MLP{sizes} grad wrt X differs from torch"
    for (name, p), tg in zip(model.named_parameters(), t_grads, strict=True):
        expected = tg.T if p.data.ndim == 2 else tg
        assert _max_diff(p.grad, expected) < 1e-10, f"{name}.grad differs from torch autograd"


def test_backward_accumulates_and_zero_grad_resets():
    rng = np.random.default_rng(0)
    model = MLP([3, 4, 2])
    X, g = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    model(X)
    model.backward(g)
    once = [p.grad.copy() for p in model.parameters()]
    model(X)
    model.backward(g)
    for p, first in zip(model.parameters(), once, strict=True):
        assert np.allclose(p.grad, 2 * first), "a second backward should add (+=), like torch"
    model.zero_grad()
    assert all(not p.grad.any() for p in model.parameters()), "zero_grad should zero every grad"


def test_state_dict_round_trip_copies():
    model, other = MLP([2, 3, 1], seed=0), MLP([2, 3, 1], seed=1)
    state = model.state_dict()
    state["layers.0.W"][...] = 42.0
    assert not np.any(model.layers[0].W.data == 42.0), "state_dict must return copies"
    W_before = other.layers[0].W.data
    other.load_state_dict(model.state_dict())
    for name, value in model.state_dict().items():
        assert np.array_equal(other.state_dict()[name], value), f"{name} not loaded"
    assert other.layers[0].W.data is W_before, "load_state_dict should copy in place"


def test_load_state_dict_errors_name_the_problem():
    model = MLP([2, 3, 1])
    with pytest.raises(ValueError, match="missing"):
        model.load_state_dict({"layers.0.W": np.zeros((2, 3))})
    bad = model.state_dict()
    bad["layers.0.W"] = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"layers\.0\.W.*\(3, 2\)"):
        model.load_state_dict(bad)


def test_shared_parameters_are_listed_once():
    layer = Linear(2, 2)
    model = Sequential(layer, ReLU(), layer)
    assert len(model.parameters()) == 2, "a layer used twice should be listed once"


def test_to_torch_and_back():
    model = MLP([3, 5, 2], activation="tanh", seed=3)
    net = to_torch(model)
    assert all(p.dtype == torch.float64 for p in net.parameters()), "to_torch should be float64"
    assert sum(p.numel() for p in net.parameters()) == model.num_parameters()
    back = from_torch(net)
    X = np.random.default_rng(0).standard_normal((4, 3))
    assert _max_diff(back(X), model(X)) == 0.0, "from_torch(to_torch(m)) should equal m"
    with pytest.raises(TypeError, match="to_torch"):
        to_torch(Module())


def test_import_mlcourse_does_not_import_torch():
    code = ("import sys, mlcourse, mlcourse.nn, mlcourse.losses, mlcourse.gradcheck; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, f"importing the numpy modules pulled in torch: {done.stderr}"
