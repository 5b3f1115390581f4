"""Neural-network building blocks in numpy, each with a hand-written backward.

Every layer keeps its ``forward`` and ``backward`` side by side, so the chain
rule can be checked in one glance: ``forward`` caches what ``backward`` needs,
``backward(grad_out)`` adds the parameter gradients into ``Parameter.grad``
(``+=``, as torch accumulates) and returns the gradient with respect to the
layer's input.

Shapes: ``X: (n, d)`` is a batch of n rows with d features; a ``Linear`` layer
holds ``W: (in_features, out_features)`` and ``b: (out_features,)`` and computes
``X @ W + b`` (torch stores the transpose; ``to_torch`` takes care of it).

Example
-------
>>> import numpy as np
>>> model = MLP([2, 8, 3], seed=0)
>>> y_hat = model(np.zeros((5, 2)))          # forward: (5, 3)
>>> grad_X = model.backward(np.ones((5, 3)))  # backward: fills every p.grad
>>> [p.shape for p in model.parameters()]
[(2, 8), (8,), (8, 3), (3,)]
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from mlcourse import arguments

if TYPE_CHECKING:  # torch is imported lazily: `import mlcourse` must stay light
    import torch

__all__ = [
    "Parameter", "Module", "Linear", "ReLU", "Tanh", "Sequential", "MLP",
    "to_torch", "from_torch",
]

_INITS = ("he", "xavier", "normal", "zeros")
_ACTIVATIONS = ("relu", "tanh")


# --------------------------------------------------------------------------- #
# Parameter
# --------------------------------------------------------------------------- #
class Parameter:
    """An array the optimizer may change, with the gradient of the loss beside it.

    Parameters
    ----------
    data : array-like
        The initial values; copied and stored as a float64 array.

    Attributes
    ----------
    data : np.ndarray, float64
        The current values. Its shape is fixed: assigning an array of another
        shape raises, so an optimizer bug cannot silently reshape a weight.
    grad : np.ndarray, float64, same shape as ``data``
        d(loss)/d(data), accumulated by ``backward`` (``+=``). Starts at zero;
        ``zero_grad()`` resets it. Assigning ``None`` also resets it to zeros.

    Example
    -------
    >>> p = Parameter([[1.0, 2.0], [3.0, 4.0]])
    >>> p.shape, float(p.grad.sum())
    ((2, 2), 0.0)
    """

    def __init__(self, data: Any) -> None:
        array = np.array(data, dtype=np.float64)  # a copy: the caller's array stays theirs
        self._data = array
        self._grad = np.zeros_like(array)

    @property
    def data(self) -> np.ndarray:
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        self._data = self._checked(value, "data")

    @property
    def grad(self) -> np.ndarray:
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is None:
            self._grad = np.zeros_like(self._data)
            return
        self._grad = self._checked(value, "grad")

    def _checked(self, value: Any, what: str) -> np.ndarray:
        array = np.asarray(value, dtype=np.float64)
        if array.shape != self._data.shape:
            hint = " (the transpose: did you mean `.T`?)" if (
                array.ndim == 2 and array.shape == self._data.shape[::-1]) else ""
            raise ValueError(
                f"Parameter of shape {self._data.shape} cannot take {what} of shape "
                f"{array.shape}{hint}; a parameter keeps its shape, so assign an array "
                f"of shape {self._data.shape} (or update it in place, e.g. p.data -= lr * p.grad)"
            )
        return array

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def size(self) -> int:
        return int(self._data.size)

    def zero_grad(self) -> None:
        """Set ``grad`` to zeros in place."""
        self._grad[...] = 0.0

    def __repr__(self) -> str:
        return f"Parameter(shape={self.shape}, dtype=float64)"


# --------------------------------------------------------------------------- #
# Module
# --------------------------------------------------------------------------- #
class Module:
    """Base class: a function with parameters, a forward and a backward.

    Subclasses implement ``forward(X)`` (caching what backward needs) and
    ``backward(grad_out) -> grad_in``. Parameters are found automatically in the
    attributes: a ``Parameter``, a ``Module``, or a list/tuple of them, in the
    order the attributes were assigned.

    Example
    -------
    >>> layer = Linear(3, 2)
    >>> [name for name, _ in layer.named_parameters()]
    ['W', 'b']
    """

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return self.forward(X)

    def forward(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError(
            f"{type(self).__name__}.forward is not written yet: return the layer's output for X"
        )

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError(
            f"{type(self).__name__}.backward is not written yet: given d(loss)/d(output), "
            "add the parameter gradients into p.grad and return d(loss)/d(input)"
        )

    # -- parameters ---------------------------------------------------------
    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Yield ``(dotted_name, Parameter)`` for every parameter, each once, in a stable order."""
        seen: set[int] = set()
        for name, param in self._walk(prefix):
            if id(param) not in seen:
                seen.add(id(param))
                yield name, param

    def _walk(self, prefix: str) -> Iterator[tuple[str, Parameter]]:
        for attr, value in vars(self).items():
            if attr.startswith("_"):
                continue
            yield from _params_in(value, prefix + attr)

    def parameters(self) -> list[Parameter]:
        """Every ``Parameter`` of this module and its sub-modules, in a stable order.

        Example
        -------
        >>> [p.shape for p in MLP([2, 4, 1]).parameters()]
        [(2, 4), (4,), (4, 1), (1,)]
        """
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Reset every parameter's ``grad`` to zeros (call it before each backward)."""
        for p in self.parameters():
            p.zero_grad()

    def num_parameters(self) -> int:
        """The number of scalar parameters, e.g. ``Linear(3, 2)`` has 3*2 + 2 = 8."""
        return sum(p.size for p in self.parameters())

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter array, keyed by dotted name (``"layers.0.W"``).

        Example
        -------
        >>> sorted(Linear(3, 2).state_dict())
        ['W', 'b']
        """
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Copy the arrays of ``state`` into the parameters, in place.

        The keys must be exactly those of ``state_dict()`` and every shape must
        match; otherwise nothing is changed and a ``ValueError`` says what differs.
        In-place copying keeps any optimizer that holds these parameters working.
        """
        params = dict(self.named_parameters())
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        if missing or unexpected:
            raise ValueError(
                f"load_state_dict: keys do not match {type(self).__name__}'s parameters; "
                f"missing {missing}, unexpected {unexpected}. Expected keys: {list(params)}"
            )
        arrays = {}
        for name, p in params.items():
            array = np.asarray(state[name], dtype=np.float64)
            if array.shape != p.shape:
                raise ValueError(
                    f"load_state_dict: {name!r} has shape {array.shape} in the state, "
                    f"but the parameter has shape {p.shape}; was the state saved from "
                    "a model with other layer sizes?"
                )
            arrays[name] = array
        for name, p in params.items():  # only after every check passed
            p.data[...] = arrays[name]

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _params_in(value: Any, name: str) -> Iterator[tuple[str, Parameter]]:
    if isinstance(value, Parameter):
        yield name, value
    elif isinstance(value, Module):
        yield from value._walk(name + ".")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if isinstance(item, (Parameter, Module)):
                yield from _params_in(item, f"{name}.{i}")


def _as_batch(X: Any, layer: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        fix = " (a single example? use X.reshape(1, -1))" if X.ndim == 1 else ""
        raise ValueError(
            f"{layer} expects a 2-D batch X of shape (n, d), got X of shape {X.shape}{fix}"
        )
    return X


def _check_grad_out(grad_out: Any, expected: tuple[int, ...], layer: str) -> np.ndarray:
    grad_out = np.asarray(grad_out, dtype=np.float64)
    if grad_out.shape != expected:
        raise ValueError(
            f"{layer}.backward got grad_out of shape {grad_out.shape}, but its last "
            f"forward returned shape {expected}; grad_out must have the output's shape"
        )
    return grad_out


def _no_forward(layer: str) -> RuntimeError:
    return RuntimeError(
        f"{layer}.backward was called before forward: run the layer on a batch first "
        "(backward needs what forward cached)"
    )


# --------------------------------------------------------------------------- #
# Layers: forward and backward side by side
# --------------------------------------------------------------------------- #
class Linear(Module):
    """An affine map ``X @ W + b``.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of the input and output rows.
    bias : bool, default True
        Whether to add ``b``.
    init : {"he", "xavier", "normal", "zeros"}, default "he"
        How ``W`` starts: He (std sqrt(2 / in), for ReLU), Xavier/Glorot
        (std sqrt(2 / (in + out)), for tanh), "normal" (std 0.01) or zeros.
        ``b`` always starts at zero.
    seed : int or np.random.Generator, default 0
        Seed (or generator) for the initial weights.

    Attributes
    ----------
    W : Parameter, shape (in_features, out_features)
    b : Parameter, shape (out_features,), or None when ``bias=False``

    Example
    -------
    >>> layer = Linear(3, 2, seed=0)
    >>> layer(np.ones((5, 3))).shape
    (5, 2)
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True,
                 init: str = "he", seed: int | np.random.Generator = 0) -> None:
        in_features = arguments.count(in_features, "in_features", example=3, owner="Linear")
        out_features = arguments.count(out_features, "out_features", example=2, owner="Linear")
        if init not in _INITS:
            raise ValueError(f"Linear: init={init!r} is not known; use one of {_INITS}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        std = {
            "he": np.sqrt(2.0 / in_features),
            "xavier": np.sqrt(2.0 / (in_features + out_features)),
            "normal": 0.01,
            "zeros": 0.0,
        }[init]
        self.W = Parameter(std * rng.standard_normal((in_features, out_features)))
        self.b = Parameter(np.zeros(out_features)) if bias else None
        self._X: np.ndarray | None = None

    def _label(self) -> str:
        return f"Linear({self.in_features} -> {self.out_features})"

    def forward(self, X: np.ndarray) -> np.ndarray:
        """``X: (n, in_features)`` -> ``(n, out_features)``; caches X for backward."""
        X = _as_batch(X, self._label())
        if X.shape[1] != self.in_features:
            raise ValueError(
                f"{self._label()} expects X with {self.in_features} columns, got X of shape "
                f"{X.shape}; the layer's in_features must equal the number of features"
            )
        self._X = X
        out = X @ self.W.data
        return out + self.b.data if self.b is not None else out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """``grad_out: (n, out)``: dW += X.T @ g, db += g.sum(0); returns g @ W.T, ``(n, in)``."""
        if self._X is None:
            raise _no_forward(self._label())
        g = _check_grad_out(grad_out, (self._X.shape[0], self.out_features), self._label())
        self.W.grad += self._X.T @ g
        if self.b is not None:
            self.b.grad += g.sum(axis=0)
        return g @ self.W.data.T

    def __repr__(self) -> str:
        return (f"Linear(in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.b is not None})")


class ReLU(Module):
    """``max(0, x)`` elementwise; its derivative is 1 where x > 0, else 0.

    Example
    -------
    >>> ReLU()(np.array([[-1.0, 2.0]]))
    array([[0., 2.]])
    """

    def __init__(self) -> None:
        self._mask: np.ndarray | None = None

    def forward(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        self._mask = X > 0
        return np.maximum(X, 0.0)  # keeps a NaN visible, as torch.relu does

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._mask is None:
            raise _no_forward("ReLU")
        return _check_grad_out(grad_out, self._mask.shape, "ReLU") * self._mask


class Tanh(Module):
    """``tanh(x)`` elementwise; its derivative is ``1 - tanh(x)**2``.

    Example
    -------
    >>> Tanh()(np.zeros((1, 2)))
    array([[0., 0.]])
    """

    def __init__(self) -> None:
        self._out: np.ndarray | None = None

    def forward(self, X: np.ndarray) -> np.ndarray:
        self._out = np.tanh(np.asarray(X, dtype=np.float64))
        return self._out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        if self._out is None:
            raise _no_forward("Tanh")
        return _check_grad_out(grad_out, self._out.shape, "Tanh") * (1.0 - self._out ** 2)


class Sequential(Module):
    """Modules applied one after another; backward runs them in reverse.

    Attributes
    ----------
    layers : list of Module

    Example
    -------
    >>> model = Sequential(Linear(2, 4), ReLU(), Linear(4, 1))
    >>> model(np.ones((3, 2))).shape
    (3, 1)
    """

    def __init__(self, *modules: Module) -> None:
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(
                    f"Sequential: argument {i} is a {type(m).__name__}, not a Module; "
                    "pass layers such as Linear(2, 4), ReLU()"
                )
        self.layers: list[Module] = list(modules)

    def forward(self, X: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            X = layer(X)
        return X

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            grad_out = layer.backward(grad_out)
        return grad_out

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> Module:
        return self.layers[i]

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(m) for m in self.layers)
        return f"{type(self).__name__}(\n  {inner}\n)"


class MLP(Sequential):
    """A multi-layer perceptron: Linear layers with an activation between them.

    Parameters
    ----------
    sizes : sequence of int
        ``[d_in, hidden_1, ..., d_out]``; ``MLP([2, 32, 3])`` is
        Linear(2, 32), ReLU, Linear(32, 3). No activation after the last layer.
    activation : {"relu", "tanh"}, default "relu"
    seed : int, default 0
        Seeds all initial weights (He init for ReLU, Xavier for tanh).

    Attributes
    ----------
    layers : list of Module
    sizes : list of int

    Example
    -------
    >>> MLP([2, 32, 3]).num_parameters()
    195
    """

    def __init__(self, sizes: Sequence[int], *, activation: str = "relu", seed: int = 0) -> None:
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(
                f"MLP: sizes={sizes} needs at least an input and an output size, e.g. [2, 32, 3]"
            )
        if activation not in _ACTIVATIONS:
            raise ValueError(f"MLP: activation={activation!r} is not known; use one of "
                             f"{_ACTIVATIONS}")
        rng = np.random.default_rng(seed)
        init = "he" if activation == "relu" else "xavier"
        layers: list[Module] = []
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(Linear(d_in, d_out, init=init, seed=rng))
            if i < len(sizes) - 2:
                layers.append(ReLU() if activation == "relu" else Tanh())
        super().__init__(*layers)
        self.sizes = sizes
        self.activation = activation


# --------------------------------------------------------------------------- #
# Moving a model between numpy and PyTorch
# --------------------------------------------------------------------------- #
def to_torch(module: Module) -> torch.nn.Module:
    """Build the equivalent float64 ``torch.nn.Module`` with the same weights.

    ``Linear`` becomes ``torch.nn.Linear`` (whose weight is our ``W.T``),
    ``ReLU``/``Tanh`` their torch namesakes, ``Sequential``/``MLP`` a
    ``torch.nn.Sequential``. The weights are copied: the two models are
    independent afterwards.

    Example
    -------
    >>> net = to_torch(MLP([2, 8, 1]))      # doctest: +SKIP
    >>> net(torch.zeros(4, 2, dtype=torch.float64)).shape  # doctest: +SKIP
    torch.Size([4, 1])
    """
    import torch

    if isinstance(module, Linear):
        out = torch.nn.Linear(module.in_features, module.out_features,
                              bias=module.b is not None, dtype=torch.float64)
        with torch.no_grad():
            out.weight.copy_(torch.from_numpy(module.W.data.T.copy()))
            if module.b is not None:
                out.bias.copy_(torch.from_numpy(module.b.data.copy()))
        return out
    if isinstance(module, ReLU):
        return torch.nn.ReLU()
    if isinstance(module, Tanh):
        return torch.nn.Tanh()
    if isinstance(module, Sequential):
        return torch.nn.Sequential(*(to_torch(m) for m in module.layers))
    raise TypeError(
        f"to_torch does not know how to convert {type(module).__name__}; it converts "
        "Linear, ReLU, Tanh, Sequential and MLP"
    )


def from_torch(module: torch.nn.Module) -> Module:
    """The inverse of ``to_torch``: a numpy model with the torch model's weights.

    Converts ``torch.nn.Linear``, ``ReLU``, ``Tanh`` and ``Sequential`` of them
    (a ``Sequential`` comes back as ``Sequential``, not ``MLP``).

    Example
    -------
    >>> model = from_torch(to_torch(MLP([2, 8, 1])))  # doctest: +SKIP
    """
    import torch

    if isinstance(module, torch.nn.Linear):
        out = Linear(module.in_features, module.out_features, bias=module.bias is not None,
                     init="zeros")
        out.W.data[...] = module.weight.detach().cpu().double().numpy().T
        if module.bias is not None:
            out.b.data[...] = module.bias.detach().cpu().double().numpy()
        return out
    if isinstance(module, torch.nn.ReLU):
        return ReLU()
    if isinstance(module, torch.nn.Tanh):
        return Tanh()
    if isinstance(module, torch.nn.Sequential):
        return Sequential(*(from_torch(m) for m in module))
    raise TypeError(
        f"from_torch does not know how to convert {type(module).__name__}; it converts "
        "torch.nn.Linear, ReLU, Tanh and Sequential"
    )
