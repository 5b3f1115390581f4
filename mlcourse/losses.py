"""Losses in numpy, each beside its gradient with respect to the prediction.

Values equal ``torch.nn.functional.mse_loss`` and ``cross_entropy`` with their
default mean reduction. Every loss function carries three attributes, so the
training loop finds what belongs with it:

- ``loss.grad``: the gradient function, ``loss.grad(y_hat, y) -> d(loss)/d(y_hat)``;
- ``loss.torch_name``: the name of the torch equivalent in ``torch.nn.functional``;
- ``loss.torch_fn``: a function of torch tensors computing the same value
  (torch is imported only when it is called).

Example
-------
>>> import numpy as np
>>> logits = np.array([[2.0, 0.0, -1.0]]); y = np.array([0])
>>> round(cross_entropy(logits, y), 4)
0.1698
>>> cross_entropy.grad(logits, y).shape
(1, 3)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "mse", "mse_grad", "log_softmax", "softmax", "cross_entropy", "cross_entropy_grad",
    "next_token_cross_entropy", "next_token_cross_entropy_grad", "accuracy",
]


# --------------------------------------------------------------------------- #
# checks shared by the losses
# --------------------------------------------------------------------------- #
def _floats(a: Any, name: str, where: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise TypeError(f"{where}: {name} must be a numeric array, got dtype {a.dtype}")
    if a.size == 0:
        raise ValueError(f"{where}: {name} is empty (shape {a.shape}); a mean over no "
                         "examples is undefined")
    return a.astype(np.float64, copy=False)


def _int_targets(y: Any, n: int, C: int, where: str, shape: tuple[int, ...]) -> np.ndarray:
    """Check class labels: integers in [0, C) with the given shape."""
    y = np.asarray(y)
    if y.dtype == bool or not np.issubdtype(y.dtype, np.integer):
        if np.issubdtype(y.dtype, np.floating) and y.shape == (*shape, C):
            fix = ("these look like one-hot / probability rows: pass class indices "
                   "y.argmax(axis=-1)")
        elif np.issubdtype(y.dtype, np.floating):
            fix = "convert them with y.astype(int)"
        else:
            fix = "pass integer class indices"
        raise TypeError(
            f"{where} needs integer class indices as targets, got dtype {y.dtype} with "
            f"shape {y.shape}; {fix}"
        )
    if y.shape != shape:
        hint = (": these look like one-hot rows, pass y.argmax(axis=-1)"
                if y.shape == (*shape, C) else "")
        raise ValueError(
            f"{where}: targets have shape {y.shape}, but the logits need targets of shape "
            f"{shape} (one class index per prediction){hint}"
        )
    bad = (y < 0) | (y >= C)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{where}: target {int(y[idx])} at index {idx} is not a class index; with "
            f"C={C} classes (logits' last axis) targets must lie in 0..{C - 1}"
        )
    return y.astype(np.intp, copy=False)


# --------------------------------------------------------------------------- #
# mean squared error
# --------------------------------------------------------------------------- #
def _check_same_shape(y_hat: Any, y: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    y_hat = _floats(y_hat, "y_hat", where)
    y = _floats(y, "y", where)
    if y_hat.shape != y.shape:
        if y_hat.size == y.size:
            fix = (f"they hold the same number of values: use y_hat.reshape({y.shape}) "
                   "or flatten both with .ravel()")
        else:
            fix = "pass one target per prediction"
        raise ValueError(
            f"{where}: y_hat has shape {y_hat.shape} but y has shape {y.shape}. The shapes "
            f"must match exactly (numpy would broadcast them into a grid of every "
            f"prediction against every target, a silently wrong loss); {fix}"
        )
    return y_hat, y


def mse(y_hat: np.ndarray, y: np.ndarray) -> float:
    """Mean squared error, ``mean((y_hat - y)**2)`` over every element.

    Parameters
    ----------
    y_hat : (n,) or (n, k) array
        Predictions.
    y : array of the same shape as ``y_hat``
        Targets. No broadcasting: a (n, 1) against (n,) mismatch raises.

    Returns
    -------
    float

    Example
    -------
    >>> mse(np.array([1.0, 2.0]), np.array([1.0, 4.0]))
    2.0
    """
    y_hat, y = _check_same_shape(y_hat, y, "mse")
    return float(np.mean((y_hat - y) ** 2))


def mse_grad(y_hat: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d mse / d y_hat ``= 2 * (y_hat - y) / N`` with N the number of elements.

    Example
    -------
    >>> mse_grad(np.array([1.0, 2.0]), np.array([1.0, 4.0]))
    array([ 0., -2.])
    """
    y_hat, y = _check_same_shape(y_hat, y, "mse_grad")
    return 2.0 * (y_hat - y) / y_hat.size


# --------------------------------------------------------------------------- #
# softmax and cross-entropy
# --------------------------------------------------------------------------- #
def log_softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """``logits - logsumexp(logits)`` along ``axis``, computed stably.

    Subtracting the maximum first keeps ``exp`` from overflowing: the result is
    finite even for logits of 1e4.

    Example
    -------
    >>> np.exp(log_softmax(np.array([1e4, 0.0]))).round(6)
    array([1., 0.])
    """
    z = _floats(logits, "logits", "log_softmax")
    z = z - np.max(z, axis=axis, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Probabilities ``exp(z) / sum(exp(z))`` along ``axis``, computed stably.

    Example
    -------
    >>> softmax(np.array([0.0, 0.0]))
    array([0.5, 0.5])
    """
    return np.exp(log_softmax(logits, axis=axis))


def _check_logits_2d(logits: Any, where: str) -> np.ndarray:
    z = _floats(logits, "logits", where)
    if z.ndim == 3:
        raise ValueError(
            f"{where} expects logits of shape (n, C), got 3-D logits {z.shape}; for "
            "(B, T, V) sequence logits use next_token_cross_entropy(logits, targets)"
        )
    if z.ndim != 2:
        fix = " (a single example? use logits.reshape(1, -1))" if z.ndim == 1 else ""
        raise ValueError(f"{where} expects logits of shape (n, C), got shape {z.shape}{fix}")
    return z


def cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy of integer class labels under softmax(logits).

    ``-mean_i log softmax(logits_i)[y_i]``, computed with ``log_softmax`` so it
    stays finite for logits as large as +-1e4.

    Parameters
    ----------
    logits : (n, C) array
        Unnormalised scores, one row per example.
    y : (n,) integer array
        Class indices in ``0..C-1`` (not one-hot, not floats).

    Returns
    -------
    float

    Example
    -------
    >>> round(cross_entropy(np.zeros((2, 4)), np.array([0, 3])), 4)  # log(4)
    1.3863
    """
    z = _check_logits_2d(logits, "cross_entropy")
    y = _int_targets(y, z.shape[0], z.shape[1], "cross_entropy", (z.shape[0],))
    return float(-np.mean(log_softmax(z)[np.arange(z.shape[0]), y]))


def cross_entropy_grad(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d cross_entropy / d logits ``= (softmax(logits) - onehot(y)) / n``, shape (n, C).

    Example
    -------
    >>> cross_entropy_grad(np.zeros((1, 2)), np.array([1]))
    array([[ 0.5, -0.5]])
    """
    z = _check_logits_2d(logits, "cross_entropy_grad")
    n, C = z.shape
    y = _int_targets(y, n, C, "cross_entropy_grad", (n,))
    g = softmax(z)
    g[np.arange(n), y] -= 1.0
    return g / n


def _check_logits_3d(logits: Any, targets: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    z = _floats(logits, "logits", where)
    if z.ndim != 3:
        fix = (" For (n, C) logits of single predictions use cross_entropy; to treat them "
               "as one sequence use logits[None]" if z.ndim == 2 else "")
        raise ValueError(
            f"{where} expects logits of shape (B, T, V) (batch, time, vocabulary), got "
            f"shape {z.shape}.{fix}"
        )
    B, T, V = z.shape
    y = _int_targets(targets, B * T, V, where, (B, T))
    return z, y


def next_token_cross_entropy(logits: np.ndarray, targets: np.ndarray) -> float:
    """Mean cross-entropy over every position of every sequence.

    Equals ``F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1))``: the
    mean of B*T next-token losses.

    Parameters
    ----------
    logits : (B, T, V) array
        Scores for the token at each of T positions in B sequences.
    targets : (B, T) integer array
        The true next tokens, in ``0..V-1``.

    Returns
    -------
    float

    Example
    -------
    >>> round(next_token_cross_entropy(np.zeros((2, 3, 5)), np.zeros((2, 3), int)), 4)
    1.6094
    """
    z, y = _check_logits_3d(logits, targets, "next_token_cross_entropy")
    V = z.shape[-1]
    return cross_entropy(z.reshape(-1, V), y.reshape(-1))


def next_token_cross_entropy_grad(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """d next_token_cross_entropy / d logits ``= (softmax - onehot) / (B*T)``, shape (B, T, V).

    Example
    -------
    >>> next_token_cross_entropy_grad(np.zeros((1, 2, 2)), np.array([[0, 1]])).shape
    (1, 2, 2)
    """
    z, y = _check_logits_3d(logits, targets, "next_token_cross_entropy_grad")
    V = z.shape[-1]
    return cross_entropy_grad(z.reshape(-1, V), y.reshape(-1)).reshape(z.shape)


def accuracy(logits: np.ndarray, y: np.ndarray) -> float:
    """Fraction of predictions whose largest logit is the target class.

    Parameters
    ----------
    logits : (n, C) or (B, T, V) array
    y : integer array of shape ``logits.shape[:-1]``

    Example
    -------
    >>> accuracy(np.array([[2.0, 1.0], [0.0, 3.0]]), np.array([0, 0]))
    0.5
    """
    z = _floats(logits, "logits", "accuracy")
    if z.ndim < 2:
        raise ValueError(f"accuracy expects logits of shape (n, C), got shape {z.shape}")
    shape = z.shape[:-1]
    y = _int_targets(y, int(np.prod(shape)), z.shape[-1], "accuracy", shape)
    return float(np.mean(np.argmax(z, axis=-1) == y))


# --------------------------------------------------------------------------- #
# the torch equivalents (torch imported only when called)
# --------------------------------------------------------------------------- #
def _torch_mse(y_hat: Any, y: Any) -> Any:
    import torch.nn.functional as F

    return F.mse_loss(y_hat, y)


def _torch_cross_entropy(logits: Any, y: Any) -> Any:
    import torch.nn.functional as F

    return F.cross_entropy(logits, y)


def _torch_next_token(logits: Any, targets: Any) -> Any:
    import torch.nn.functional as F

    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def _attach(loss: Callable, grad: Callable, torch_name: str, torch_fn: Callable) -> None:
    loss.grad = grad  # type: ignore[attr-defined]
    loss.torch_name = torch_name  # type: ignore[attr-defined]
    loss.torch_fn = torch_fn  # type: ignore[attr-defined]


_attach(mse, mse_grad, "mse_loss", _torch_mse)
_attach(cross_entropy, cross_entropy_grad, "cross_entropy", _torch_cross_entropy)
_attach(next_token_cross_entropy, next_token_cross_entropy_grad, "cross_entropy",
        _torch_next_token)
