"""Checks of 00-loop-at-a-glance: predict, mse, the gradients of the line, a descent step."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import checks as g
from . import check

g.preload("torch")   # the random gradients are compared with torch autograd: loaded while the cells run

# ---- Exercise 1: predict ---------------------------------------------------------------------


@check()
def predict(predict: Callable) -> None:
    """Two hand-drawn lines: y = 2x + 1 through three points, and a flat line."""
    # The line y = 2x + 1 passes through (0, 1), (1, 3) and (2, 5).
    got = g.call(predict, 2.0, 1.0, np.array([0.0, 1.0, 2.0]))
    g.check_array("predict(2.0, 1.0, [0, 1, 2])", got, [1.0, 3.0, 5.0],
                  hint="multiply every x by w, then add b: one prediction per example, shape (n,).")
    # A flat line (w = 0) predicts b everywhere.
    got = g.call(predict, 0.0, -1.5, np.array([3.0, -4.0]))
    g.check_array("predict(0.0, -1.5, [3, -4])", got, [-1.5, -1.5])
    g.passed("predict draws the line w * x + b")


@check()
def predict_random(predict: Callable, *, seed: int, sizes: Sequence[int]) -> None:
    """Random slopes, intercepts and inputs of each size against w * x + b."""
    rng = g.seeded(seed)
    for n in sizes:
        X = rng.normal(scale=3.0, size=n)
        w, b = (float(v) for v in rng.normal(size=2))
        got = g.call(predict, w, b, X.copy())
        g.check_array(f"predict on {n} random inputs", got, w * X + b, case=f"w={w:.3f}, b={b:.3f}")
    g.passed("predict draws the line w * x + b on random inputs")


# ---- Exercise 2: mse -------------------------------------------------------------------------


@check(references=["mlcourse.losses.mse"])
def mse(mse: Callable) -> None:
    """A hand-computed mean of squares, and zero for exact predictions."""
    # Errors 0, -2 and 3: squared 0, 4 and 9, mean (0 + 4 + 9) / 3 = 13/3.
    got = g.call(mse, np.array([1.0, 2.0, 3.0]), np.array([1.0, 4.0, 0.0]))
    g.check_array("mse([1, 2, 3], [1, 4, 0])", got, 13 / 3, sizes=[3],
                  hint="square each error y_hat - y, then average over the n examples.")
    # Perfect predictions cost nothing.
    got = g.call(mse, np.array([0.5, -1.0, 3.0]), np.array([0.5, -1.0, 3.0]))
    g.check_array("mse(y, y)", got, 0.0, sizes=[3])
    g.passed("mse is the mean of the squared errors")


@check(references=["mlcourse.losses.mse"])
def mse_random(mse: Callable, *, seed: int, sizes: Sequence[int]) -> None:
    """Random predictions and targets of each size against mlcourse.losses.mse."""
    from mlcourse.losses import mse as reference

    rng = g.seeded(seed)
    for n in sizes:
        y_hat, y = rng.normal(size=(2, n))
        got = g.call(mse, y_hat.copy(), y.copy())
        g.check_array(f"mse on {n} random examples", got, reference(y_hat, y), sizes=[n])
    g.passed("mse agrees with mlcourse.losses.mse on random examples")


# ---- Exercise 3: mse_gradients -----------------------------------------------------------------

# By hand: X = [1, 2, 3], y = [0, 2, 0], w = 1, b = 0, so y_hat = [1, 2, 3] and the errors are [1, 0, 3]:
#   dL/dw = 2/3 * (1*1 + 0*2 + 3*3) = 20/3      dL/db = 2/3 * (1 + 0 + 3) = 8/3
HAND_X, HAND_Y = np.array([1.0, 2.0, 3.0]), np.array([0.0, 2.0, 0.0])
HAND = {"dw": (20 / 3, "each error is weighted by its own x (the chain rule: d y_hat / d w = x)."),
        "db": (8 / 3, "dL/db = 2/n * sum(y_hat - y): the mean error, times 2.")}
PARAMETER = {"dw": 0, "db": 1}     # where each gradient sits in the pair (dw, db)


def _gradients(mse_gradients: Callable, w: float, b: float, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The learner's (dw, db) as a float64 array of shape (2,)."""
    grads = g.to_float64(g.call(mse_gradients, w, b, X.copy(), y.copy()), "mse_gradients(...)")
    g.check_true(grads.shape == (2,),
                 f"mse_gradients should return the pair (dw, db); it returned shape {grads.shape}.")
    return grads


def _loss_of_one(X: np.ndarray, y: np.ndarray, w: float, b: float, k: int) -> Callable:
    """The reference loss as a function of parameter k alone (0: w, 1: b), the other held fixed,
    for central differences."""
    from mlcourse.losses import mse as reference

    def loss(p: np.ndarray) -> float:
        wb = [w, b]
        wb[k] = p[0]
        return reference(wb[0] * X + wb[1], y)
    return loss


def _torch_gradient(X: np.ndarray, y: np.ndarray, w: float, b: float, k: int) -> float:
    """dL/dw (k = 0) or dL/db (k = 1) by torch autograd, in float64."""
    import torch

    params = [torch.tensor(v, dtype=torch.float64, requires_grad=(i == k)) for i, v in enumerate((w, b))]
    torch.mean((params[0] * torch.from_numpy(X) + params[1] - torch.from_numpy(y)) ** 2).backward()
    return params[k].grad.item()


def _which(which: str) -> int:
    if which not in PARAMETER:
        raise ValueError(f"which={which!r}: use 'dw' or 'db'")
    return PARAMETER[which]


@check(references=["mlcourse.losses.mse_grad"])
def gradient(mse_gradients: Callable, *, which: str) -> None:
    """The hand-computed dw or db (which = "dw" or "db"), then the same by central differences."""
    k = _which(which)
    grads = _gradients(mse_gradients, 1.0, 0.0, HAND_X, HAND_Y)
    expected, hint = HAND[which]
    g.check_array(f"{which} for X = [1, 2, 3], y = [0, 2, 0], w = 1, b = 0", grads[k], expected, sizes=[3],
                  hint=hint)
    g.check_gradient(which, grads[k:k + 1], _loss_of_one(HAND_X, HAND_Y, 1.0, 0.0, k), np.array([[1.0, 0.0][k]]))
    g.passed(f"{which} agrees with central differences")


@check(references=["mlcourse.losses.mse_grad"])
def gradient_random(mse_gradients: Callable, *, which: str, seed: int, sizes: Sequence[int]) -> None:
    """dw or db on random data of each size, against central differences and torch autograd."""
    k = _which(which)
    rng = g.seeded(seed)
    for n in sizes:
        X, y = rng.normal(scale=2.0, size=(2, n))
        w, b = (float(v) for v in rng.normal(size=2))
        grads = _gradients(mse_gradients, w, b, X, y)
        g.check_gradient(f"{which} on {n} random examples", grads[k:k + 1], _loss_of_one(X, y, w, b, k),
                         np.array([[w, b][k]]))
        g.check_array(f"{which} on {n} random examples (vs torch autograd)", grads[k],
                      _torch_gradient(X, y, w, b, k), sizes=[n])
    g.passed(f"{which} agrees with central differences and torch autograd on random data")


# ---- Exercise 4: gradient_descent_step -----------------------------------------------------------

STEP_HINT = "descent moves AGAINST the gradient: new = old - lr * gradient."


@check(references=["mlcourse.optim.SGD"])
def step(gradient_descent_step: Callable) -> None:
    """One hand-computed step, and a learning rate of 0 that changes nothing."""
    # w = 1 with gradient +2 moves down by 0.1 * 2; b = 0.5 with gradient -1 moves up by 0.1 * 1.
    got = g.call(gradient_descent_step, 1.0, 0.5, 2.0, -1.0, 0.1)
    g.check_array("gradient_descent_step(w=1, b=0.5, dw=2, db=-1, lr=0.1)", got, [0.8, 0.6], hint=STEP_HINT)
    # A learning rate of 0 changes nothing.
    got = g.call(gradient_descent_step, 1.0, 0.5, 2.0, -1.0, 0.0)
    g.check_array("gradient_descent_step(..., lr=0)", got, [1.0, 0.5])
    g.passed("gradient_descent_step moves w and b downhill")


@check(references=["mlcourse.optim.SGD"])
def step_random(gradient_descent_step: Callable, *, seed: int, count: int) -> None:
    """``count`` steps from random parameters, gradients and learning rates in [0.001, 0.5]."""
    rng = g.seeded(seed)
    for _ in range(count):
        w, b, dw, db = (float(v) for v in rng.normal(scale=3.0, size=4))
        lr = float(rng.uniform(1e-3, 0.5))
        got = g.call(gradient_descent_step, w, b, dw, db, lr)
        g.check_array("gradient_descent_step on random values", got, [w - lr * dw, b - lr * db],
                      case=f"lr={lr:.4f}", hint="new = old - lr * gradient, for w and for b.")
    g.passed("gradient_descent_step moves w and b downhill from random values")


# ---- Exercise 5: predict the loss the loop stops at ----------------------------------------------

NOISE = 0.3        # the standard deviation of the data's noise (section 1 of the notebook)
FLOOR_TOL = 0.015  # the prediction is a number worked out by hand: 0.09 to within this


def _near(got: float, tol: float, slips: Sequence[tuple[float, str]]) -> str | None:
    """The words of the first slip within ``tol`` of ``got``: a number worked out by hand is rounded."""
    return next((words for value, words in slips if abs(got - value) <= tol), None)


@check()
def loss_floor_prediction(predicted_loss_floor: Any) -> None:
    """The learner's predicted lowest loss of a line on data with noise of std 0.3, against 0.3 ** 2."""
    got = g.predicted(predicted_loss_floor, "predicted_loss_floor")
    expected = NOISE ** 2
    if abs(got - expected) <= FLOOR_TOL:
        g.passed(f"the best line's loss is the noise's variance, {expected:.2f}")
        return
    mistake = _near(got, 0.004, [
        (NOISE, "that is the noise's standard deviation; the loss averages SQUARED errors."),
        (0.0, "a line cannot follow the noise: even the true line misses every point by its noise."),
        (NOISE ** 4, "you squared twice: the mean of the squared noise is 0.3 ** 2, once."),
        (2 * NOISE ** 2, "the 2 belongs to the gradient of a square, not to the loss itself.")])
    g.check_true(False, f"`predicted_loss_floor` is {got:.4g}; expected the mean squared error of the true line "
                        f"y = 0.8x - 0.5 on data whose noise has standard deviation {NOISE}, to within {FLOOR_TOL}."
                 + (f"\nlikely mistake: {mistake}" if mistake else "")
                 + "\nhint: the true line's error on each point is exactly that point's noise. What is the mean of "
                   "the square of a noise with mean 0 and standard deviation 0.3?")


@check()
def loss_floor_measured(predicted_loss_floor: Any, *, seed: int, count: int) -> None:
    """The run that settles it: the best line (least squares) on ``count`` fresh data sets of 4,000
    points from the notebook's recipe; the prediction must lie within 0.025 of each one's loss (the
    visible check's 0.015, plus room for the measurement's own noise, about 0.002)."""
    from mlcourse.data import make_regression

    got = g.predicted(predicted_loss_floor, "predicted_loss_floor")
    rng = g.seeded(seed)
    for _ in range(count):
        data_seed = int(rng.integers(1_000_000))
        X, y = make_regression(4000, kind="linear", noise=NOISE, seed=data_seed)
        w, b = np.polyfit(X[:, 0], y, 1)
        measured = float(np.mean((w * X[:, 0] + b - y) ** 2))
        g.check_true(abs(got - measured) <= 0.025,
                     f"`predicted_loss_floor` is {got:.4g}; the best line on 4,000 fresh points (seed {data_seed}) "
                     f"reached a loss of {measured:.4f}, more than 0.025 away.\nhint: the loss of the best line is "
                     "what the noise leaves: the mean of its square.")
    g.passed(f"the prediction agrees with the best line's loss on {count} fresh data sets")
