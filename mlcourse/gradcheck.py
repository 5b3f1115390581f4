"""Gradient checking: compare a hand-derived gradient with central differences.

The habit that catches every backprop bug (CS231n): in float64, nudge each
coordinate of x by +-eps, measure how the scalar loss changes, and compare with
the analytic gradient by a *relative* error,

    rel_error = |analytic - numeric| / max(|analytic| + |numeric|, floor).

Around 1e-7 or below, the two agree; from 1e-7 to 1e-4 they agree only if the
function has kinks (ReLU, max, abs); above 1e-2 the analytic gradient is wrong.
``check_gradient`` goes further and says *how* it is wrong: a factor of 2, a
missing 1/N, a flipped sign, a transpose, one bad element, a wrong shape.

Example
-------
>>> import numpy as np
>>> x = np.array([1.0, -2.0, 3.0])
>>> result = check_gradient(lambda x: np.sum(x ** 2), 2 * x, x)
>>> bool(result), result.max_rel_error < 1e-7
(True, True)
>>> check_gradient(lambda x: np.sum(x ** 2), 4 * x, x).diagnosis[:14]
'exactly 2x the'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mlcourse import diagnose

__all__ = [
    "numerical_gradient", "rel_error", "check_gradient", "GradCheckResult",
    "check_module_gradients",
]

_TINY = float(np.finfo(np.float64).tiny)
_EPS_MACHINE = float(np.finfo(np.float64).eps)
Indices = int | Sequence[int] | Sequence[Sequence[int]] | None


# --------------------------------------------------------------------------- #
# numerical gradient
# --------------------------------------------------------------------------- #
def _check_x(x: Any, where: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"{where} needs x as a numpy array that f reads (it is perturbed in place), got "
            f"{type(x).__name__}; pass np.asarray(x, dtype=np.float64) and let f use that array"
        )
    if x.dtype != np.float64:
        raise TypeError(
            f"{where} needs x of dtype float64, got {x.dtype}: central differences with "
            "eps=1e-6 lose most of their digits in lower precision (and cannot perturb "
            "integers); pass x.astype(np.float64) and make f read that array"
        )
    if not x.flags.writeable:
        raise ValueError(f"{where}: x is read-only, but it is perturbed in place; pass x.copy()")
    return x


def _scalar(value: Any) -> float:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    array = np.asarray(value, dtype=np.float64)
    if array.size != 1:
        raise ValueError(
            f"f must return a scalar loss, got an array of shape {array.shape}; "
            "reduce it with .sum() or .mean()"
        )
    return float(array.reshape(()))


def _resolve_indices(x: np.ndarray, indices: Indices, seed: int) -> list[tuple[int, ...]]:
    if indices is None:
        return list(np.ndindex(x.shape))
    if isinstance(indices, (int, np.integer)) and not isinstance(indices, bool):
        if indices < 1:
            raise ValueError(f"indices={indices} must be a positive number of coordinates")
        rng = np.random.default_rng(seed)
        flat = rng.choice(x.size, size=min(int(indices), x.size), replace=False)
        return [tuple(int(i) for i in np.unravel_index(k, x.shape)) for k in np.sort(flat)]
    out = []
    for idx in indices:
        idx = (idx,) if isinstance(idx, (int, np.integer)) else tuple(idx)
        if len(idx) != x.ndim or any(not -s <= i < s for i, s in zip(idx, x.shape, strict=True)):
            raise IndexError(f"index {idx} does not address an element of x of shape {x.shape}")
        out.append(tuple(int(i) % s for i, s in zip(idx, x.shape, strict=True)))
    return out


def _central_differences(f: Callable[[np.ndarray], Any], x: np.ndarray, eps: float,
                         idxs: Iterable[tuple[int, ...]]) -> tuple[np.ndarray, float]:
    """The differences, NaN where not computed, and the largest |f| seen."""
    grad = np.full(x.shape, np.nan)
    f_max = 0.0
    for idx in idxs:
        old = x[idx]
        try:
            x[idx] = old + eps
            f_plus = _scalar(f(x))
            x[idx] = old - eps
            f_minus = _scalar(f(x))
        finally:
            x[idx] = old  # the very same float: x comes back bit for bit
        grad[idx] = (f_plus - f_minus) / (2.0 * eps)
        f_max = max(f_max, abs(f_plus), abs(f_minus))
    return grad, f_max


def numerical_gradient(f: Callable[[np.ndarray], Any], x: np.ndarray, eps: float = 1e-6, *,
                       indices: Indices = None, seed: int = 0) -> np.ndarray:
    """Central-difference gradient of a scalar function: ``(f(x+eps) - f(x-eps)) / 2eps``.

    Each coordinate of ``x`` is perturbed *in place* and restored exactly, so ``f``
    must read the array it is given (or one that shares memory with it, such as
    ``p.data`` of a model parameter).

    Parameters
    ----------
    f : callable x -> float
        The scalar loss as a function of x.
    x : float64 ndarray, any shape
    eps : float, default 1e-6
    indices : None, int, or list of index tuples
        None checks every coordinate; an int k checks k random coordinates
        (seeded by ``seed``); a list checks those. Coordinates not checked are NaN
        in the result.

    Returns
    -------
    np.ndarray of x's shape

    Example
    -------
    >>> x = np.array([1.0, 2.0])
    >>> numerical_gradient(lambda x: np.sum(x ** 2), x).round(6)
    array([2., 4.])
    """
    x = _check_x(x, "numerical_gradient")
    if not eps > 0:
        raise ValueError(f"eps={eps} must be positive (1e-6 is a good choice in float64)")
    grad, _ = _central_differences(f, x, eps, _resolve_indices(x, indices, seed))
    return grad


# --------------------------------------------------------------------------- #
# relative error
# --------------------------------------------------------------------------- #
def _rel_errors(a: np.ndarray, b: np.ndarray, floor: float) -> np.ndarray:
    return np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), floor)


def rel_error(a: Any, b: Any, *, floor: float = _TINY) -> float:
    """Largest elementwise relative error, ``max |a-b| / max(|a|+|b|, floor)``.

    0 for identical arrays (zeros included), 1 when the signs are opposite,
    1/3 when one is twice the other. ``floor`` (default: the smallest positive
    float64) keeps 0/0 at 0; raise it to ignore differences between values
    that are both tiny.

    Parameters
    ----------
    a, b : arrays of the same shape

    Returns
    -------
    float (NaN if either holds NaN)

    Example
    -------
    >>> rel_error(np.array([1.0, 2.0]), np.array([1.0, 4.0]))
    0.3333333333333333
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: the shapes differ, {a.shape} vs {b.shape}; compare "
                         "arrays of the same shape")
    if a.size == 0:
        return 0.0
    return float(np.max(_rel_errors(a, b, floor)))


# --------------------------------------------------------------------------- #
# the diagnostic check
# --------------------------------------------------------------------------- #
_SCALE = (
    "Scale: a relative error |analytic - numeric| / (|analytic| + |numeric|) around 1e-7 "
    "or below means the gradients agree; 1e-7 to 1e-4 is fine only for functions with "
    "kinks (ReLU, max, abs); above 1e-2 the analytic gradient is almost certainly wrong."
)


@dataclass
class GradCheckResult:
    """The outcome of a gradient check; ``bool(result)`` is ``result.passed``.

    Attributes
    ----------
    max_rel_error : float
        The largest elementwise relative error (inf for a shape mismatch or NaN).
    worst_index : tuple of int
        Where it occurs (``()`` when the shapes differ).
    analytic_value, numeric_value : float
        The two gradients at ``worst_index``.
    passed : bool
        ``max_rel_error <= tol``.
    diagnosis : str
        The likely mistake, in words ("" is never returned; a pass says so).
    tol, name : the tolerance used and the label of the checked array.
    analytic, numeric : the full arrays (numeric is NaN where not computed).
    """

    max_rel_error: float
    worst_index: tuple[int, ...]
    analytic_value: float
    numeric_value: float
    passed: bool
    diagnosis: str
    tol: float = 1e-6
    name: str = "x"
    analytic: np.ndarray | None = field(default=None, repr=False, compare=False)
    numeric: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __bool__(self) -> bool:
        return bool(self.passed)

    @property
    def message(self) -> str:
        """A paragraph a learner can act on: the error, its scale, the worst element, the cause."""
        verdict = "passed" if self.passed else "FAILED"
        lines = [f"Gradient check for {self.name} {verdict}: max relative error "
                 f"{self.max_rel_error:.1e} (tolerance {self.tol:.0e})."]
        if not self.passed:
            lines.append(_SCALE)
            if self.worst_index != ():
                where = f"{self.name}[{', '.join(map(str, self.worst_index))}]"
                lines.append(
                    f"Worst element {where}: your analytic gradient gives "
                    f"{self.analytic_value:.6g}, central differences give {self.numeric_value:.6g}."
                )
        lines.append(f"{'Diagnosis' if self.passed else 'Likely mistake'}: {self.diagnosis}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.message


def _size_names(shape: tuple[int, ...], name: str,
                sizes: Mapping[int, str] | Sequence[int] | None) -> dict[int, str]:
    names: dict[int, str] = {}
    if isinstance(sizes, Mapping):
        names.update({int(k): v for k, v in sizes.items()})
    elif sizes is not None:
        names.update({int(k): "a size you named" for k in sizes})
    for axis, n in enumerate(shape):
        names.setdefault(n, f"axis {axis} of {name}")
    names.setdefault(int(np.prod(shape)), f"the number of elements of {name}")
    return names


def _diagnose(a: np.ndarray, n: np.ndarray, errs: np.ndarray, tol: float, noise: float,
              x_shape: tuple[int, ...], full: bool, index_of: Callable[[int], tuple],
              sizes: dict[int, str], name: str) -> str:
    """Name the most likely mistake (``mlcourse.diagnose``); a and n are the checked values."""
    if np.any(a) and not np.any(n):
        return (f"the numerical gradient is zero everywhere: f does not change when {name} "
                f"changes. f must read the very array it is given (it is perturbed in place); "
                f"a copy of {name} inside f, or a model that reads another array, hides every "
                "change.")
    of = "the numerical gradient"
    k = diagnose.fitted_factor(a, n, noise)
    sentence = diagnose.zeros(a, n) or (k is not None and diagnose.factor(k, sizes, of=of))
    if not sentence and full:
        sentence = diagnose.transposed(a.reshape(x_shape), n.reshape(x_shape), max(10 * tol, 1e-5))
    bad = [index_of(int(i)) for i in np.flatnonzero(errs > tol)]
    sentence = sentence or diagnose.few_wrong(bad, errs.size, name)
    if not sentence:
        sentence = (f"{len(bad)} of {errs.size} checked elements disagree with no simple pattern "
                    "(not a constant factor, sign or transpose). Re-derive the gradient with the "
                    "chain rule one step at a time and check each intermediate's shape.")
    if errs.max() <= 1e-2 and k is None:
        sentence += (" The error is small: if f has kinks (ReLU, max, abs), a central difference "
                     "that straddles one is itself wrong; try another x or a smaller eps.")
    return sentence


def _failed(diagnosis: str, tol: float, name: str, analytic: Any, numeric: Any,
            index: tuple[int, ...] = (), a_val: float = np.nan,
            n_val: float = np.nan) -> GradCheckResult:
    return GradCheckResult(np.inf, index, a_val, n_val, False, diagnosis, tol, name,
                           analytic, numeric)


def check_gradient(f: Callable[[np.ndarray], Any],
                   analytic_grad: np.ndarray | Callable[[np.ndarray], np.ndarray],
                   x: np.ndarray, *, eps: float = 1e-6, tol: float = 1e-6,
                   indices: Indices = None, seed: int = 0, name: str = "x",
                   sizes: Mapping[int, str] | Sequence[int] | None = None) -> GradCheckResult:
    """Compare an analytic gradient with central differences, and diagnose a mismatch.

    Parameters
    ----------
    f : callable x -> float
        The scalar function; it must read the array ``x`` (perturbed in place).
    analytic_grad : array of x's shape, or callable x -> array
        The gradient you derived.
    x : float64 ndarray
    eps : float, default 1e-6
        Step of the central differences.
    tol : float, default 1e-6
        Largest relative error that passes.
    indices : None, int or list of index tuples
        Check every coordinate, k random ones, or the listed ones (see
        ``numerical_gradient``); useful for large tensors.
    name : str
        How messages call x (e.g. "W").
    sizes : mapping {size: description} or list of sizes, optional
        Extra sizes (e.g. the batch size) that a "missing 1/N" diagnosis may name;
        the axes of x are always considered.

    Returns
    -------
    GradCheckResult
        ``bool(result)`` tells whether it passed; ``print(result)`` explains.

    Notes
    -----
    Elements where both gradients lie at the rounding noise of the central
    difference (about 1e-16 * |f| / eps) are compared by absolute difference,
    so a true zero next to a numerical 1e-11 does not fail the check.

    Example
    -------
    >>> x = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> result = check_gradient(lambda x: np.sum(x ** 2), lambda x: -2 * x, x, name="W")
    >>> result.passed, result.diagnosis[:17]
    (False, 'the opposite sign')
    """
    x = _check_x(x, "check_gradient")
    analytic = analytic_grad(x) if callable(analytic_grad) else analytic_grad
    if analytic is None:
        return _failed("the analytic gradient is None: did you forget to return it?",
                       tol, name, None, None)
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != x.shape:
        why = ("a gradient has the shape of what it differentiates with respect to"
               if analytic.ndim == x.ndim and analytic.shape != x.shape[::-1] and analytic.size != x.size
               else diagnose.shape(analytic.shape, x.shape))
        return _failed(f"shape mismatch: the analytic gradient has shape {analytic.shape}, "
                       f"but {name} has shape {x.shape}; {why}", tol, name, analytic, None)
    bad = ~np.isfinite(analytic)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        return _failed(f"the analytic gradient holds {int(bad.sum())} non-finite value(s) "
                       f"(NaN or inf), first at {name}{list(idx)}: an overflow (exp of a large "
                       "number: subtract the max first), a log of 0, or a division by 0?",
                       tol, name, analytic, None, idx, float(analytic[idx]))
    idxs = _resolve_indices(x, indices, seed)
    numeric, f_max = _central_differences(f, x, eps, idxs)
    flat = np.ravel_multi_index(tuple(np.array(idxs).T), x.shape) if idxs else np.array([], int)
    a, n = analytic.ravel()[flat], numeric.ravel()[flat]
    if not np.all(np.isfinite(n)):
        return _failed("f is not finite near x (the numerical gradient holds NaN or inf): "
                       "fix the loss itself first, e.g. a stable log-softmax.",
                       tol, name, analytic, numeric)
    noise = 10 * _EPS_MACHINE * f_max / (2 * eps)  # rounding error of one central difference
    floor = max(noise / tol, _TINY) if tol > 0 else _TINY
    errs = _rel_errors(a, n, floor)
    if errs.size == 0:
        return GradCheckResult(0.0, (), np.nan, np.nan, True, "nothing to check: x is empty",
                               tol, name, analytic, numeric)
    worst = int(np.argmax(errs))
    worst_index = tuple(int(i) for i in np.unravel_index(flat[worst], x.shape))
    passed = bool(errs[worst] <= tol)
    if passed:
        diagnosis = "the analytic gradient matches central differences."
    else:
        diagnosis = _diagnose(
            a, n, errs, tol, noise, x.shape, indices is None,
            lambda i: tuple(int(j) for j in np.unravel_index(flat[i], x.shape)),
            _size_names(x.shape, name, sizes), name)
    return GradCheckResult(float(errs[worst]), worst_index, float(a[worst]), float(n[worst]),
                           passed, diagnosis, tol, name, analytic, numeric)


def check_module_gradients(module: Any, X: np.ndarray, y: np.ndarray,
                           loss: Callable[[np.ndarray, np.ndarray], float], *,
                           loss_grad: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                           eps: float = 1e-6, tol: float = 1e-6, indices: Indices = None,
                           seed: int = 0, check_input: bool = False) -> dict[str, GradCheckResult]:
    """Check every parameter gradient of a module's ``backward`` against central differences.

    Runs ``zero_grad``, forward, ``loss``, ``backward(loss_grad(y_hat, y))`` once, then
    perturbs each parameter's ``data`` in place to get the numerical gradient of
    ``loss(module(X), y)``. The module's grads are left holding the analytic ones.

    Parameters
    ----------
    module : mlcourse.nn.Module
    X : (n, d) array
    y : targets for ``loss``
    loss : callable (y_hat, y) -> float, e.g. ``mlcourse.losses.mse``
    loss_grad : callable (y_hat, y) -> d loss / d y_hat, default ``loss.grad``
    eps, tol, indices, seed : as in ``check_gradient``
    check_input : bool, default False
        Also check the gradient ``backward`` returns with respect to X (key "X").

    Returns
    -------
    dict mapping each dotted parameter name ("layers.0.W") to its GradCheckResult;
    ``all(results.values())`` is True when every one passed.

    Example
    -------
    >>> from mlcourse.nn import MLP; from mlcourse.losses import mse
    >>> X, y = np.ones((4, 2)), np.zeros((4, 1))
    >>> results = check_module_gradients(MLP([2, 3, 1]), X, y, mse)
    >>> all(results.values())
    True
    """
    if loss_grad is None:
        loss_grad = getattr(loss, "grad", None)
        if loss_grad is None:
            raise TypeError(
                f"check_module_gradients: {getattr(loss, '__name__', loss)!r} has no .grad "
                "attribute; pass loss_grad=<function (y_hat, y) -> d loss / d y_hat>"
            )
    X = np.array(X, dtype=np.float64)
    module.zero_grad()
    y_hat = module(X)
    grad_X = module.backward(loss_grad(y_hat, y))
    n = X.shape[0] if X.ndim else 1
    sizes = {int(np.size(y_hat)): "the number of outputs in y_hat"}
    sizes[n] = "the batch size n, rows of X"  # wins when the two coincide
    results = {}
    for pname, p in module.named_parameters():
        results[pname] = check_gradient(
            lambda _: loss(module(X), y), p.grad.copy(), p.data, eps=eps, tol=tol,
            indices=indices, seed=seed, name=pname, sizes=sizes)
    if check_input:
        results["X"] = check_gradient(lambda _: loss(module(X), y), grad_X, X, eps=eps,
                                      tol=tol, indices=indices, seed=seed, name="X", sizes=sizes)
    return results
