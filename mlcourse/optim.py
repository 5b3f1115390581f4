"""Optimizers in numpy whose trajectories equal ``torch.optim``'s, option for option.

An optimizer holds a list of parameters -- any objects with a numpy ``.data``
array and a ``.grad`` array of the same shape, such as ``mlcourse.nn.Parameter``
-- and, on every ``step()``, nudges each ``.data`` in place using its ``.grad``.
Because the arrays are changed in place, a model that holds the parameters sees
the new values at once.

Each class states its update rule in its docstring, and ``_update`` follows it
line by line, with the same names. Notation: θ a parameter, g its gradient,
γ the learning rate ``lr``, λ the weight decay, t the step count (from 1).

The loop they are written for::

    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    for X_batch, y_batch in batches:
        opt.zero_grad()
        ...                      # forward, loss, backward: fills every p.grad
        opt.step()

Only numpy is imported here; ``torch`` is the oracle in the tests, never a dependency.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Real
from typing import Any

import numpy as np

__all__ = ["SGD", "Adam", "AdamW", "Optimizer"]

_EMPTY_PARAMS = (
    "optimizer got an empty parameter list — did you pass model.parameters() "
    "of a model with no layers?"
)


class Optimizer:
    """Base class: holds the parameters and their per-parameter state.

    Subclasses implement ``_update(theta, g, state)`` for a single parameter;
    ``step()`` checks every gradient first and only then updates, so a bad
    gradient raises before any parameter has moved.

    Parameters
    ----------
    params : iterable of parameters
        Objects with ``.data`` (a floating-point ndarray) and ``.grad`` (an
        array of the same shape), e.g. ``model.parameters()``. The iterable is
        read once into the list ``self.params``.
    **defaults
        The hyperparameters, stored as attributes of the same names
        (``opt.lr``, ``opt.momentum``, ...) and read at every step, so a
        learning-rate schedule can set ``opt.lr`` between steps.

    Attributes
    ----------
    params : list
        The parameters, in the order given.
    state : dict[int, dict]
        Per-parameter state keyed by the parameter's index in ``params``
        (momentum buffers, moment estimates, step counts), with torch's key names.
    """

    def __init__(self, params: Iterable[Any], **defaults: Any) -> None:
        self.params: list[Any] = _as_parameter_list(params, type(self).__name__)
        self.defaults: dict[str, Any] = dict(defaults)
        for name, value in defaults.items():
            setattr(self, name, value)
        self.state: dict[int, dict[str, Any]] = {i: {} for i in range(len(self.params))}

    # -- the learning rate, validated whenever it is set ----------------------------
    @property
    def lr(self) -> float:
        """The learning rate γ, read at every step; set it to follow a schedule."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = _check_number("lr", value, hint="typical values: 1e-4 to 1")

    # -- the public loop API ---------------------------------------------------------
    def zero_grad(self) -> None:
        """Set every parameter's gradient to zero, in place (the arrays stay the same objects)."""
        for param in self.params:
            if param.grad is None:
                param.grad = np.zeros_like(param.data)
            else:
                param.grad[...] = 0.0

    def step(self) -> None:
        """Update every parameter once from its current ``.grad``."""
        grads = [_checked_grad(i, param) for i, param in enumerate(self.params)]
        for i, (param, g) in enumerate(zip(self.params, grads, strict=True)):
            self._update(param.data, g, self.state[i])

    def _update(self, theta: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _update")

    # -- saving and resuming ---------------------------------------------------------
    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The current hyperparameters (``lr`` included, as it is now)."""
        return {name: getattr(self, name) for name in self.defaults}

    def state_dict(self) -> dict[str, Any]:
        """A copy of the hyperparameters and the per-parameter state, for checkpoints."""
        return {
            "hyperparameters": self.hyperparameters,
            "state": {i: _copy_state(s) for i, s in self.state.items()},
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict()`` returned, for an optimizer over same-shaped parameters."""
        saved_state = state_dict["state"]
        if len(saved_state) != len(self.params):
            raise ValueError(
                f"the saved state has {len(saved_state)} parameters but this optimizer "
                f"has {len(self.params)}; load it into an optimizer over the same model"
            )
        for i, param in enumerate(self.params):
            for key, value in saved_state[i].items():
                if isinstance(value, np.ndarray) and value.shape != param.data.shape:
                    raise ValueError(
                        f"saved state {key!r} of parameter {i} has shape {value.shape}, "
                        f"but the parameter has shape {param.data.shape}"
                    )
        for name, value in state_dict["hyperparameters"].items():
            setattr(self, name, value)
        self.state = {i: _copy_state(saved_state[i]) for i in range(len(self.params))}

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters.items())
        return f"{type(self).__name__}({len(self.params)} parameters, {options})"


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum -- ``torch.optim.SGD``'s rule.

    At every step, for each parameter θ with gradient g::

        g ← −g                              if maximize
        g ← g + λ·θ                         if weight_decay λ ≠ 0
        if momentum μ ≠ 0:
            buf ← g                         at the first step (no dampening yet)
            buf ← μ·buf + (1 − τ)·g         afterwards (τ = dampening)
            g ← g + μ·buf                   if nesterov
            g ← buf                         otherwise
        θ ← θ − γ·g

    ``buf`` is ``state[i]["momentum_buffer"]``, as in torch.

    Parameters
    ----------
    params : iterable of parameters
        E.g. ``model.parameters()``.
    lr : float
        The learning rate γ ≥ 0.
    momentum : float, default 0
        μ ≥ 0; 0 is plain gradient descent.
    dampening : float, default 0
        τ: the share of the new gradient left out of the momentum buffer.
    nesterov : bool, default False
        Nesterov momentum; needs momentum > 0 and dampening = 0.
    weight_decay : float, default 0
        λ ≥ 0, an L2 penalty ½λ‖θ‖² added to the loss.
    maximize : bool, default False
        Climb the objective instead of descending it.

    Example
    -------
    >>> from mlcourse.nn import Parameter  # or anything with .data and .grad
    >>> w = Parameter([1.0, -2.0])
    >>> opt = SGD([w], lr=0.1, momentum=0.9)
    >>> w.grad[:] = [1.0, 1.0]
    >>> opt.step()               # first step: the buffer is the gradient itself
    >>> w.data
    array([ 0.9, -2.1])
    >>> opt.step()               # buffer 0.9·1 + 1 = 1.9
    >>> w.data
    array([ 0.71, -2.29])
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        maximize: bool = False,
    ) -> None:
        _check_number("lr", lr, hint="typical values: 1e-4 to 1")
        momentum = _check_number("momentum", momentum, hint="typical values: 0.9 or 0.99")
        dampening = _check_number("dampening", dampening, low=None, hint="usually 0")
        weight_decay = _check_number("weight_decay", weight_decay, hint="typical values: 0 to 1e-2")
        nesterov = _check_bool("nesterov", nesterov)
        maximize = _check_bool("maximize", maximize)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                "nesterov=True needs momentum > 0 and dampening == 0, got "
                f"momentum={momentum!r}, dampening={dampening!r}; "
                "e.g. SGD(params, lr, momentum=0.9, nesterov=True)"
            )
        super().__init__(
            params, lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
            weight_decay=weight_decay, maximize=maximize,
        )

    def _update(self, theta: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> None:
        lr, weight_decay, momentum = self.lr, self.weight_decay, self.momentum
        if self.maximize:
            g = -g
        if weight_decay != 0:
            g = g + weight_decay * theta
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, dtype=theta.dtype)  # a copy
            else:
                buf *= momentum
                buf += (1 - self.dampening) * g
            g = g + momentum * buf if self.nesterov else buf
        theta -= lr * g


class Adam(Optimizer):
    """Adam, with L2 weight decay coupled into the gradient -- ``torch.optim.Adam``'s rule.

    At every step t = 1, 2, ..., for each parameter θ with gradient g::

        g ← −g                                  if maximize
        g ← g + λ·θ                             if weight_decay λ ≠ 0
        m ← β₁·m + (1 − β₁)·g                   first moment,  m starts at 0
        v ← β₂·v + (1 − β₂)·g²                  second moment, v starts at 0
        v_max ← max(v_max, v);  v ← v_max       if amsgrad (v_max starts at 0)
        denom ← √v / √(1 − β₂ᵗ) + ε             ε added after the square root
        θ ← θ − γ / (1 − β₁ᵗ) · m / denom

    The bias corrections 1 − β₁ᵗ and 1 − β₂ᵗ undo the pull of m and v towards
    their zero start, so the very first step moves each coordinate by about γ.
    m, v, v_max and t are ``state[i]["exp_avg"]``, ``["exp_avg_sq"]``,
    ``["max_exp_avg_sq"]`` and ``["step"]``, as in torch.

    Parameters
    ----------
    params : iterable of parameters
        E.g. ``model.parameters()``.
    lr : float, default 1e-3
        The learning rate γ ≥ 0.
    betas : (float, float), default (0.9, 0.999)
        β₁, β₂ in [0, 1): the decay rates of the two moment estimates.
    eps : float, default 1e-8
        ε ≥ 0, keeps the denominator away from zero.
    weight_decay : float, default 0
        λ ≥ 0, added to the gradient as λ·θ (see ``AdamW`` for the decoupled form).
    amsgrad : bool, default False
        Divide by the largest second moment seen so far.
    maximize : bool, default False
        Climb the objective instead of descending it.

    Example
    -------
    >>> from mlcourse.nn import Parameter  # or anything with .data and .grad
    >>> w = Parameter([1.0, 1.0])
    >>> opt = Adam([w], lr=0.1)
    >>> w.grad[:] = [5.0, -0.01]  # any size of gradient...
    >>> opt.step()
    >>> np.round(w.data, 6)       # ...moves each coordinate by about lr at t = 1
    array([0.9, 1.1])
    """

    _decoupled_weight_decay = False

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        _check_number("lr", lr, hint="typical values: 1e-4 to 1e-2")
        betas = _check_betas(betas)
        eps = _check_number("eps", eps, hint="typical value: 1e-8")
        weight_decay = _check_number("weight_decay", weight_decay, hint="typical values: 0 to 1e-1")
        amsgrad = _check_bool("amsgrad", amsgrad)
        maximize = _check_bool("maximize", maximize)
        super().__init__(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
            amsgrad=amsgrad, maximize=maximize,
        )

    def _update(self, theta: np.ndarray, g: np.ndarray, state: dict[str, Any]) -> None:
        lr, (beta1, beta2), eps, weight_decay = self.lr, self.betas, self.eps, self.weight_decay
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(theta)
            state["exp_avg_sq"] = np.zeros_like(theta)
        if self.amsgrad and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = np.zeros_like(theta)
        state["step"] += 1
        t = state["step"]

        if self.maximize:
            g = -g
        if weight_decay != 0:
            if self._decoupled_weight_decay:
                theta *= 1 - lr * weight_decay  # AdamW: shrink θ itself, not the gradient
            else:
                g = g + weight_decay * theta
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m += (1 - beta1) * (g - m)  # = β₁·m + (1 − β₁)·g, in the order torch's lerp uses
        v *= beta2
        v += (1 - beta2) * g * g
        if self.amsgrad:
            v_max = state["max_exp_avg_sq"]
            np.maximum(v_max, v, out=v_max)
            v = v_max
        bias_correction1 = 1 - beta1**t
        bias_correction2 = 1 - beta2**t
        denom = np.sqrt(v) / math.sqrt(bias_correction2) + eps
        theta -= (lr / bias_correction1) * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay -- ``torch.optim.AdamW``'s rule.

    Identical to ``Adam`` except for the weight decay, which shrinks θ directly
    before the Adam step instead of entering the gradient (and so the moments)::

        g ← −g                                  if maximize
        θ ← θ · (1 − γ·λ)                       decoupled weight decay
        m ← β₁·m + (1 − β₁)·g
        v ← β₂·v + (1 − β₂)·g²
        v_max ← max(v_max, v);  v ← v_max       if amsgrad
        denom ← √v / √(1 − β₂ᵗ) + ε
        θ ← θ − γ / (1 − β₁ᵗ) · m / denom

    Parameters are those of ``Adam``; only the default ``weight_decay=1e-2`` differs.

    Example
    -------
    >>> from mlcourse.nn import Parameter
    >>> w = Parameter([2.0])
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad[:] = [1.0]
    >>> opt.step()                # 2·(1 − 0.1·0.5) − 0.1
    >>> np.round(w.data, 6)
    array([1.8])
    """

    _decoupled_weight_decay = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
            amsgrad=amsgrad, maximize=maximize,
        )


# -- checks: every bad input is named, with what would be right ---------------------


def _as_parameter_list(params: Iterable[Any], owner: str) -> list[Any]:
    if isinstance(params, np.ndarray):
        raise TypeError(
            f"{owner} got a numpy array, but it updates parameters (objects with .data "
            "and .grad) in place; pass model.parameters() or a list of Parameters"
        )
    if isinstance(params, dict) or _is_parameter_like(params):
        raise TypeError(
            f"{owner} expects an iterable of parameters such as model.parameters(), got a "
            f"single {type(params).__name__}; wrap it in a list: {owner}([p], ...)"
        )
    try:
        params = list(params)
    except TypeError:
        raise TypeError(
            f"{owner} expects an iterable of parameters such as model.parameters(), "
            f"got {type(params).__name__}"
        ) from None
    if not params:
        raise ValueError(_EMPTY_PARAMS)
    seen: dict[int, int] = {}
    for i, param in enumerate(params):
        if isinstance(param, dict):
            raise TypeError(
                f"parameter {i} is a dict: parameter groups are not supported here; "
                "pass a flat list of parameters and set opt.lr on the optimizer"
            )
        if not _is_parameter_like(param):
            raise TypeError(
                f"parameter {i} is a {type(param).__name__}, not a parameter: the optimizer "
                "needs objects with a numpy .data array and a .grad attribute "
                "(e.g. mlcourse.nn.Parameter); did you pass model.parameters()?"
            )
        if not np.issubdtype(param.data.dtype, np.floating):
            raise TypeError(
                f"parameter {i} has .data of dtype {param.data.dtype}; it must be floating "
                "point (float64) to be updated in place, e.g. data.astype(np.float64)"
            )
        if id(param) in seen:
            raise ValueError(
                f"parameter {i} is the same object as parameter {seen[id(param)]}; "
                "each parameter must appear once, or it would be updated twice per step"
            )
        seen[id(param)] = i
    return params


def _is_parameter_like(obj: Any) -> bool:
    return isinstance(getattr(obj, "data", None), np.ndarray) and hasattr(obj, "grad")


def _checked_grad(i: int, param: Any) -> np.ndarray:
    name = getattr(param, "name", None)
    label = f"parameter {i}" + (f" ({name!r})" if isinstance(name, str) and name else "")
    grad = param.grad
    if grad is None:
        raise ValueError(
            f"{label} has no gradient (.grad is None); run the backward pass "
            "(it fills every .grad) before optimizer.step()"
        )
    grad = np.asarray(grad, dtype=param.data.dtype)
    if grad.shape != param.data.shape:
        raise ValueError(
            f"{label} has shape {param.data.shape} but its gradient has shape {grad.shape}; "
            "a gradient must have its parameter's shape (transposed, or summed over the "
            "wrong axis?)"
        )
    return grad


def _check_number(name: str, value: Any, low: float | None = 0.0, hint: str = "") -> float:
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or (low is not None and value < low):
        bound = "a finite number" + (f" >= {low:g}" if low is not None else "")
        raise ValueError(
            f"{name} must be {bound}, got {value!r}" + (f" ({hint})" if hint else "")
        )
    return float(value)


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _check_betas(betas: Any) -> tuple[float, float]:
    try:
        beta1, beta2 = betas
    except (TypeError, ValueError):
        raise ValueError(
            f"betas must be a pair (beta1, beta2), got {betas!r}; the default is (0.9, 0.999)"
        ) from None
    checked = []
    for k, beta in enumerate((beta1, beta2)):
        ok = isinstance(beta, Real) and not isinstance(beta, bool) and 0.0 <= beta < 1.0
        if not ok:
            raise ValueError(
                f"betas[{k}] must be in [0, 1), got {beta!r}; the default is (0.9, 0.999)"
            )
        checked.append(float(beta))
    return checked[0], checked[1]


def _copy_state(state: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in state.items()}
