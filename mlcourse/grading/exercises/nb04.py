"""Checks of 04-gradients: central differences, linear-MSE, softmax cross-entropy and MLP gradients.

``numerical_gradient`` needs a function to differentiate: ``kernelside.nb04.Smooth`` builds one in
the learner's kernel (``grading.make``), and the restore checks build ``x`` there
too, so that an in-place change the learner's code leaves behind can be read back
with ``grading.value``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import checks as g
from ..errors import GradingError
from ..kernelside.nb04 import Smooth
from ..remote import make, value
from . import check, refused

# A library's central differences (mlcourse.gradcheck.check_gradient, torch's gradcheck helpers):
# refused to the answer while it is graded (grading.shortcuts).
NUMERICAL_SHORTCUTS = ["numerical differences"]
# A gradient derived by hand: torch's autograd in every form (backward, autograd.grad, torch.func,
# grad_fn nodes) and a library's central differences are refused to the answer while it is graded.
GRADIENT_SHORTCUTS = ["torch.autograd", "numerical differences"]

SMOOTH = "mlcourse.grading.kernelside.nb04.Smooth"   # built on the learner's side


def _kind(obj: Any) -> str:
    """What a learner's return value is, in words, for a message (never for a verdict)."""
    if getattr(obj, "_is_remote", False):
        return repr(obj)
    shape = getattr(obj, "shape", None)
    return f"an array of shape {tuple(shape)}" if shape is not None else f"a {type(obj).__name__}"


# ---- 1. numerical_gradient --------------------------------------------------------------------

CENTRAL_HINT = ("divide f(x + eps) - f(x - eps) by 2 * eps. With eps = 0.1 on a quadratic, a one-sided "
                "difference (f(x + eps) - f(x)) / eps is off by exactly eps = 0.1 in every element.")


@check(references=["mlcourse.gradcheck.numerical_gradient"], shortcuts=NUMERICAL_SHORTCUTS)
def numerical_gradient(numerical_gradient):
    """A quadratic with a big eps, where central differences are exact, and a matrix input."""
    # f = x1² + x2² + x3² has gradient 2x: at [1, -2, 3] the answer is [2, -4, 6], whatever eps is.
    f = make(numerical_gradient, SMOOTH, b=1.0)
    got = g.call(numerical_gradient, f, np.array([1.0, -2.0, 3.0]), eps=0.1)
    g.check_array("numerical_gradient of sum(x**2) at [1, -2, 3], eps=0.1", got, [2.0, -4.0, 6.0],
                  rtol=1e-9, atol=1e-9, hint=CENTRAL_HINT)
    # A matrix input: the gradient of sum(sin(W)) is cos(W), element by element, same shape as W.
    W = np.array([[0.0, 0.5, 1.0], [-1.0, 2.0, 3.0]])
    got = g.call(numerical_gradient, make(numerical_gradient, SMOOTH, s=1.0), W.copy())
    g.check_array("numerical_gradient of sum(sin(W)) for W of shape (2, 3)", got, np.cos(W),
                  rtol=1e-6, atol=1e-8,
                  hint="loop over np.ndindex(x.shape) so every element of a matrix gets its own slope.")
    g.passed("numerical_gradient measures slopes by central differences, for any shape")


@check(references=["mlcourse.gradcheck.numerical_gradient"], shortcuts=NUMERICAL_SHORTCUTS)
def numerical_gradient_random(numerical_gradient, *, seed: int, shapes: Sequence[tuple[int, ...]],
                              eps: Sequence[float] = (1e-2, 1e-4)):
    """Random smooth functions of x of each shape, against their exact gradient; then a cubic
    with each large ``eps``, against mlcourse.gradcheck with the same eps."""
    from mlcourse.gradcheck import numerical_gradient as reference

    rng = g.seeded(seed)
    for shape in map(tuple, shapes):
        x = rng.normal(size=shape)
        a, b = rng.normal(size=(2, *shape))
        got = g.call(numerical_gradient, make(numerical_gradient, SMOOTH, a=a, b=b), x.copy())
        g.check_array(f"numerical_gradient on random x of shape {shape}", got, Smooth(a=a, b=b).gradient(x),
                      rtol=1e-6, atol=1e-8)
        # A cubic with a large eps: central differences give 3x² + eps², exactly what the reference gives.
        c = rng.normal(size=shape)
        cubic, cubic_here = make(numerical_gradient, SMOOTH, c=c), Smooth(c=c)
        for h in eps:
            got = g.call(numerical_gradient, cubic, x.copy(), eps=h)
            g.check_array(f"numerical_gradient with eps={h:g} on x of shape {shape}", got,
                          reference(cubic_here, x.copy(), eps=h), rtol=1e-7, atol=1e-9,
                          hint="use the eps you are given, not a fixed 1e-6.")
    g.passed("numerical_gradient agrees with exact gradients on random inputs, and honours eps")


def _check_restored(numerical_gradient, f, x0: np.ndarray, **kwargs: Any) -> None:
    """Run numerical_gradient on an x made in the learner's kernel; it must come back bit for bit."""
    x = make(numerical_gradient, "numpy.array", x0)
    result = g.call(numerical_gradient, f, x, **kwargs)
    # Leaving x alone earns this point only alongside a gradient: numbers of x's shape.
    result_shape = g.to_float64(result, "numerical_gradient(f, x)").shape
    g.check_true(result_shape == x0.shape, f"numerical_gradient should return an array of x's shape "
                                           f"{x0.shape}, got shape {result_shape}.")
    after = g.to_float64(value(x), "x after numerical_gradient")
    g.check_true(after.shape == x0.shape, f"numerical_gradient changed the shape of the array x it was "
                                          f"given: expected {x0.shape} afterwards, got {after.shape}.")
    changed = np.argwhere(after != x0)
    if len(changed):
        where = tuple(int(i) for i in changed[0])
        raise GradingError(
            f"numerical_gradient changed the array x it was given: {len(changed)} of {x0.size} elements "
            f"differ afterwards, e.g. x[{', '.join(map(str, where))}] was {float(x0[where])!r} and is now "
            f"{float(after[where])!r}; expected x exactly as it was.\n"
            "hint: after nudging x[idx] to x[idx] + eps and x[idx] - eps, set it back to "
            "the value you saved before the nudge (x[idx] = original).")


@check(references=["mlcourse.gradcheck.numerical_gradient"], shortcuts=NUMERICAL_SHORTCUTS)
def numerical_gradient_restores(numerical_gradient):
    """The caller's x, a (3, 2) matrix, is unchanged after numerical_gradient returns."""
    # A gradient checker that moves the parameters it checks corrupts the very model it is testing.
    x0 = np.array([[0.3, -1.2], [2.5, 0.7], [1e-3, -4.0]])
    _check_restored(numerical_gradient, make(numerical_gradient, SMOOTH, c=1.0), x0)
    g.passed("numerical_gradient leaves x exactly as it found it")


@check(references=["mlcourse.gradcheck.numerical_gradient"], shortcuts=NUMERICAL_SHORTCUTS)
def numerical_gradient_restores_random(numerical_gradient, *, seed: int, shapes: Sequence[tuple[int, ...]],
                                       eps: float = 1e-3):
    """Random x of each shape and scale 3, nudged by ``eps``, come back bit for bit."""
    rng = g.seeded(seed)
    for shape in map(tuple, shapes):
        x0 = rng.normal(scale=3.0, size=shape)
        f = make(numerical_gradient, SMOOTH, a=rng.normal(size=shape), c=0.1)
        _check_restored(numerical_gradient, f, x0, eps=eps)
    g.passed("numerical_gradient leaves random x of every shape exactly as it found them")


# ---- 2. linear regression with MSE ------------------------------------------------------------

# Worked example, n = 4 rows, d = 3 features, k = 1 output:
#   y_hat = X @ W + b = [1.5, 0.5, -0.5, 0.5], errors y_hat - y = [0.5, -0.5, -1.5, -0.5]
#   G = 2/4 * errors = [0.25, -0.25, -0.75, -0.25]
#   dW = X.T @ G = [0.25 - 0.25, -0.25 - 0.25, -0.75 - 0.25] = [0, -0.5, -1]
#   db = sum of G over the rows = 0.25 - 0.25 - 0.75 - 0.25 = -1
WORKED = (np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 1.0]]),
          np.ones((4, 1)), np.array([[1.0], [0.0], [-1.0]]), np.array([0.5]))


def _linear_case(rng: np.random.Generator, n: int, d: int, k: int) -> tuple[np.ndarray, ...]:
    """X (n, d), y (n, k), W (d, k), b (k,), drawn in that order."""
    return (rng.normal(size=(n, d)), rng.normal(size=(n, k)), rng.normal(size=(d, k)), rng.normal(size=k))


def _linear_grads(linear_mse_grads, X, y, W, b) -> tuple[Any, Any]:
    """The learner's (dW, db), or a GradingError when the answer is not a pair."""
    # copies: an answer that changes its inputs in place must not change the check's own arrays
    result = g.call(linear_mse_grads, X.copy(), y.copy(), W.copy(), b.copy())
    try:
        pair = len(result) == 2
        dW, db = result[0], result[1]
    except Exception as exc:  # no length, or no items 0 and 1 (a dict, a number...)
        refused(exc)
        pair = False
    g.check_true(pair, f"linear_mse_grads should return the pair (dW, db): expected two arrays, "
                       f"got {_kind(result)}.")
    return dW, db


def _linear_loss(which: str, X: np.ndarray, y: np.ndarray, W: np.ndarray, b: np.ndarray):
    """The reference MSE as a function of W (``which="dW"``) or of b (``"db"``), and that parameter."""
    from mlcourse.losses import mse

    if which == "dW":
        return (lambda W_: mse(X @ W_ + b, y)), W
    return (lambda b_: mse(X @ W + b_, y)), b


def _linear_random(linear_mse_grads, which: str, seed: int, shapes: Sequence[tuple[int, int, int]]) -> None:
    """dW or db on random cases, against torch autograd and central differences."""
    import torch
    import torch.nn.functional as F

    rng = g.seeded(seed)
    for n, d, k in shapes:
        X, y, W, b = _linear_case(rng, n, d, k)
        dW, db = _linear_grads(linear_mse_grads, X, y, W, b)
        got = dW if which == "dW" else db
        case = f"n={n}, d={d}, k={k}"
        W_t, b_t = torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)
        F.mse_loss(torch.from_numpy(X) @ W_t + b_t, torch.from_numpy(y)).backward()
        expected = (W_t if which == "dW" else b_t).grad.numpy()
        g.check_array(f"{which} vs torch autograd", got, expected, rtol=1e-7, atol=1e-12,
                      sizes=[n, n * k, k], case=case)
        loss, at = _linear_loss(which, X, y, W, b)
        g.check_gradient(which, got, loss, at, sizes=[n, n * k], case=case + ", vs central differences")


@check(references=["mlcourse.losses.mse_grad"], shortcuts=GRADIENT_SHORTCUTS)
def linear_dW(linear_mse_grads):
    """dW on the worked example, then on a random case with k = 4 outputs against central differences."""
    dW, _ = _linear_grads(linear_mse_grads, *WORKED)
    g.check_array("dW from linear_mse_grads (worked example)", dW, [[0.0], [-0.5], [-1.0]],
                  sizes=[4], hint="dW = X.T @ G with G = 2 * (y_hat - y) / (n * k): shape (d, k).")
    # A random case with k = 4 outputs, against central differences of the loss as a function of W.
    X, y, W, b = _linear_case(g.seeded(4), 5, 3, 4)
    dW, _ = _linear_grads(linear_mse_grads, X, y, W, b)
    g.check_gradient("dW", dW, *_linear_loss("dW", X, y, W, b), sizes=[5, 20],
                     case="random case n=5, d=3, k=4, vs central differences",
                     hint="the mean runs over all n * k entries of y_hat.")
    g.passed("dW = X.T @ (2 (y_hat - y) / (n k)) agrees with central differences")


@check(references=["mlcourse.losses.mse_grad"], shortcuts=GRADIENT_SHORTCUTS)
def linear_dW_random(linear_mse_grads, *, seed: int, shapes: Sequence[tuple[int, int, int]]):
    """dW on random (n, d, k) cases against torch autograd and central differences."""
    _linear_random(linear_mse_grads, "dW", seed, shapes)
    g.passed("dW agrees with torch autograd and central differences on random cases")


@check(references=["mlcourse.losses.mse_grad"], shortcuts=GRADIENT_SHORTCUTS)
def linear_db(linear_mse_grads):
    """db on the worked example, then on a random case with k = 4 outputs against central differences."""
    _, db = _linear_grads(linear_mse_grads, *WORKED)
    g.check_array("db from linear_mse_grads (worked example)", db, [-1.0], sizes=[4],
                  hint="the bias is shared by every row: db = G.sum(axis=0), shape (k,).")
    X, y, W, b = _linear_case(g.seeded(4), 5, 3, 4)
    _, db = _linear_grads(linear_mse_grads, X, y, W, b)
    g.check_gradient("db", db, *_linear_loss("db", X, y, W, b), sizes=[5, 20],
                     case="random case n=5, d=3, k=4, vs central differences")
    g.passed("db = sum over the batch of 2 (y_hat - y) / (n k)")


@check(references=["mlcourse.losses.mse_grad"], shortcuts=GRADIENT_SHORTCUTS)
def linear_db_random(linear_mse_grads, *, seed: int, shapes: Sequence[tuple[int, int, int]]):
    """db on random (n, d, k) cases against torch autograd and central differences."""
    _linear_random(linear_mse_grads, "db", seed, shapes)
    g.passed("db agrees with torch autograd and central differences on random cases")


# ---- 3. softmax cross-entropy -----------------------------------------------------------------


@check(references=["mlcourse.losses.cross_entropy_grad"], shortcuts=GRADIENT_SHORTCUTS)
def softmax_cross_entropy_grad(softmax_cross_entropy_grad):
    """Equal logits, worked by hand, and random logits against central differences."""
    from mlcourse.losses import cross_entropy

    # All logits equal: every class gets probability 1/4. With n = 3 rows the gradient is
    # (1/4 - one_hot) / 3: -0.25 at the true class (1/4 - 1 = -3/4, over 3), +1/12 elsewhere.
    y = np.array([0, 1, 3])
    expected = np.full((3, 4), 0.25)
    expected[[0, 1, 2], y] -= 1.0
    got = g.call(softmax_cross_entropy_grad, np.zeros((3, 4)), y.copy())
    g.check_array("softmax_cross_entropy_grad(zeros((3, 4)), [0, 1, 3])", got, expected / 3, sizes=[3],
                  hint="the gradient is (softmax(logits) - one_hot(y)) / n, shape (n, C).")
    # A random case, against central differences of the loss itself.
    logits, y = g.seeded(3).normal(size=(5, 3)), np.array([2, 0, 1, 1, 2])
    got = g.call(softmax_cross_entropy_grad, logits.copy(), y.copy())
    g.check_gradient("dlogits", got, lambda z: cross_entropy(z, y), logits, sizes=[5],
                     case="random logits, n=5, C=3, vs central differences")
    g.passed("dlogits = (softmax(logits) - one_hot(y)) / n")


@check(references=["mlcourse.losses.cross_entropy_grad"], shortcuts=GRADIENT_SHORTCUTS)
def softmax_cross_entropy_grad_random(softmax_cross_entropy_grad, *, seed: int,
                                      cases: Sequence[tuple[int, int, float]]):
    """Random (n, C) logits of each size ``scale``, against torch autograd and the reference; below
    a scale of 10 also against central differences (larger logits saturate the softmax)."""
    import torch
    import torch.nn.functional as F

    from mlcourse.losses import cross_entropy, cross_entropy_grad

    rng = g.seeded(seed)
    for n, C, scale in cases:
        logits = scale * rng.normal(size=(n, C))
        y = rng.integers(0, C, size=n)
        case = f"n={n}, C={C}, logits of size ~{scale:g}"
        got = g.call(softmax_cross_entropy_grad, logits.copy(), y.copy())
        z = torch.tensor(logits, requires_grad=True)
        F.cross_entropy(z, torch.from_numpy(y)).backward()
        g.check_array("dlogits vs torch autograd", got, z.grad.numpy(), rtol=1e-7, atol=1e-12,
                      sizes=[n], case=case)
        g.check_array("dlogits vs the reference", got, cross_entropy_grad(logits, y), rtol=1e-7, atol=1e-12,
                      sizes=[n], case=case)
        if scale < 10:
            g.check_gradient("dlogits", got, lambda z_, y=y: cross_entropy(z_, y), logits, sizes=[n],
                             case=case + ", vs central differences")
    g.passed("dlogits agrees with torch autograd and central differences on random logits")


# ---- 4. backpropagation through a two-layer MLP -----------------------------------------------

OUTPUT = ("W2", "b2")
HIDDEN = ("W1", "b1")
HINTS = {
    OUTPUT: "the output layer is a linear layer: dW2 = H.T @ dlogits, db2 = dlogits.sum(axis=0).",
    HIDDEN: ("dH = dlogits @ W2.T; the ReLU passes dH only where Z1 > 0 (dZ1 = dH * (Z1 > 0)); "
             "then dW1 = X.T @ dZ1 and db1 = dZ1.sum(axis=0)."),
}
KEYS = ("W1", "b1", "W2", "b2")


def _forward(X: np.ndarray, params: dict) -> tuple[np.ndarray, dict]:
    """The notebook's mlp_forward, on the judge's side: logits (n, C) and the cache."""
    Z1 = X @ params["W1"] + params["b1"]
    H = np.maximum(Z1, 0.0)
    return H @ params["W2"] + params["b2"], {"X": X, "Z1": Z1, "H": H}


def _fixed_network() -> tuple[np.ndarray, np.ndarray, dict]:
    """n=6 examples, d=3 inputs, h=5 hidden units, C=4 classes: the notebook's init_params(3, 5, 4,
    seed=5) (He initialisation) with random biases, so every gradient is exercised."""
    rng, init = g.seeded(5), g.seeded(5)
    X, y = rng.normal(size=(6, 3)), np.array([0, 3, 1, 2, 2, 0])
    params = {"W1": init.normal(scale=np.sqrt(2 / 3), size=(3, 5)), "b1": rng.normal(size=5),
              "W2": init.normal(scale=np.sqrt(2 / 5), size=(5, 4)), "b2": rng.normal(size=4)}
    return X, y, params


def _backward(mlp_backward, X: np.ndarray, y: np.ndarray, params: dict) -> dict:
    """The learner's gradients for the cross-entropy of the network, read key by key."""
    from mlcourse.losses import cross_entropy_grad

    logits, cache = _forward(X, params)
    grads = g.call(mlp_backward, cross_entropy_grad(logits, y), {k: v.copy() for k, v in cache.items()},
                   {k: v.copy() for k, v in params.items()})
    try:
        return {key: grads[key] for key in KEYS}
    except Exception as exc:
        refused(exc)
    got = f"the keys {sorted(map(str, grads))}" if type(grads) is dict else _kind(grads)
    raise GradingError(f"mlp_backward should return a dict with the keys 'W1', 'b1', 'W2', 'b2': "
                       f"expected those four keys, got {got}.")


def _check_layer(grads: dict, names: tuple[str, str], X: np.ndarray, y: np.ndarray, params: dict,
                 case: str, tol: float = 1e-6) -> None:
    """Each gradient of ``names`` against central differences of the loss in that parameter."""
    from mlcourse.losses import cross_entropy

    for name in names:
        def loss(value, name=name):
            return cross_entropy(_forward(X, {**params, name: value})[0], y)
        g.check_gradient(f"grads[{name!r}]", grads[name], loss, params[name], sizes=[len(X)],
                         case=case + ", vs central differences", hint=HINTS[names], tol=tol)


def _mlp_layer(mlp_backward, names: tuple[str, str]) -> None:
    """The gradients of one layer of the fixed network, against central differences."""
    X, y, params = _fixed_network()
    _check_layer(_backward(mlp_backward, X, y, params), names, X, y, params, "n=6, d=3, h=5, C=4")


def _mlp_layer_random(mlp_backward, names: tuple[str, str], seed: int,
                      shapes: Sequence[tuple[int, int, int, int]]) -> None:
    """Random networks of each (n, d, h, C), against torch autograd and central differences."""
    import torch
    import torch.nn.functional as F

    rng = g.seeded(seed)
    for n, d, h, C in shapes:
        X, y = rng.normal(size=(n, d)), rng.integers(0, C, size=n)
        # W2 at the scale of a sensible initialisation (1/sqrt(h)): with unit weights a one-row network
        # could be certain (logits near 20, loss near 1e-7), and central differences of a loss that small
        # are round-off (the reference failed 6 in 1000 seeds at 1e-4).
        params = {"W1": rng.normal(size=(d, h)), "b1": rng.normal(size=h),
                  "W2": rng.normal(size=(h, C)) / np.sqrt(h), "b2": rng.normal(size=C)}
        case = f"n={n}, d={d}, h={h}, C={C}"
        grads = _backward(mlp_backward, X, y, params)
        weights = {key: torch.tensor(v, requires_grad=True) for key, v in params.items()}
        H = torch.relu(torch.from_numpy(X) @ weights["W1"] + weights["b1"])
        F.cross_entropy(H @ weights["W2"] + weights["b2"], torch.from_numpy(y)).backward()
        for name in names:
            g.check_array(f"grads[{name!r}] vs torch autograd", grads[name], weights[name].grad.numpy(),
                          rtol=1e-7, atol=1e-12, sizes=[n], case=case, hint=HINTS[names])
        # Central differences a second time, looser: their round-off reaches 1e-5 where a softmax nearly
        # saturates. torch autograd above is the strict judge, and every real mistake gives 1e-2 or more.
        _check_layer(grads, names, X, y, params, case, tol=1e-4)


@check(references=[], shortcuts=GRADIENT_SHORTCUTS)
def mlp_output(mlp_backward):
    """dW2 and db2 of a small fixed network, against central differences."""
    _mlp_layer(mlp_backward, OUTPUT)
    g.passed("the output layer's gradients dW2 and db2 are right")


@check(references=[], shortcuts=GRADIENT_SHORTCUTS)
def mlp_output_random(mlp_backward, *, seed: int, shapes: Sequence[tuple[int, int, int, int]]):
    """dW2 and db2 of random networks of each (n, d, h, C) shape."""
    _mlp_layer_random(mlp_backward, OUTPUT, seed, shapes)
    g.passed("dW2 and db2 agree with torch autograd and central differences on random networks")


@check(references=[], shortcuts=GRADIENT_SHORTCUTS)
def mlp_hidden(mlp_backward):
    """dW1 and db1 of a small fixed network, through the ReLU, against central differences."""
    _mlp_layer(mlp_backward, HIDDEN)
    g.passed("the hidden layer's gradients dW1 and db1 are right: you can backpropagate")


@check(references=[], shortcuts=GRADIENT_SHORTCUTS)
def mlp_hidden_random(mlp_backward, *, seed: int, shapes: Sequence[tuple[int, int, int, int]]):
    """dW1 and db1 of random networks of each (n, d, h, C) shape."""
    _mlp_layer_random(mlp_backward, HIDDEN, seed, shapes)
    g.passed("dW1 and db1 agree with torch autograd and central differences on random networks")


# ---- 6. predicted: the relative error of a gradient that forgot its 1/n ---------------------------

BUG_ROWS = 16   # the batch of the notebook's gradient check: the planted bug makes every gradient 16 times too large


@check()
def bug_rel_error_prediction(predicted_rel_error):
    """The learner's relative error of a gradient n = 16 times too large, against (n - 1) / (n + 1)."""
    got = g.predicted(predicted_rel_error, "predicted_rel_error")
    n = BUG_ROWS
    # Every analytic element is a = n * t for the true t: |a - t| / (|a| + |t|) = (n - 1) |t| / ((n + 1) |t|).
    expected = (n - 1) / (n + 1)
    if abs(got - expected) <= 0.01:
        g.passed(f"a gradient {n} times too large has relative error {n - 1}/{n + 1} = {expected:.3f} in every "
                 "element, whatever the values: far above 1e-2")
        return
    slips = [(float(n), "that is the ratio of the two gradients; the relative error divides their difference by "
                        "the sum of their sizes."),
             (float(n - 1), "that divides the difference by the true gradient only; the relative error of this "
                            "notebook divides by the sum of both sizes, |a_i| + |n_i|."),
             ((n - 1) / n, "that divides the difference by the wrong gradient only; the relative error of this "
                           "notebook divides by the sum of both sizes, |a_i| + |n_i|."),
             (1 / 3, "1/3 is the relative error of a gradient off by a factor of 2; here the factor is 16."),
             (1.0, "a relative error of 1 means opposite signs; here both gradients point the same way."),
             (0.0, "the two gradients differ: the relative error cannot be 0.")]
    mistake = next((words for value, words in slips if abs(got - value) <= 0.01), None)
    g.check_true(False, f"`predicted_rel_error` is {got:.4g}; every element of the buggy gradient is {n} times the "
                        "right one, and the relative error of section 2 then has one value (to within 0.01), "
                        "which this is not." + (f"\nlikely mistake: {mistake}" if mistake else "")
                 + "\nhint: write each analytic element in terms of the true one, put both into the relative "
                   "error of section 2, and simplify: what is left does not depend on the values.")


@check()
def bug_rel_error_measured(predicted_rel_error, *, seed: int, count: int):
    """The run that settles it: ``count`` random MLPs (drawn from ``seed``) on 16 rows, their gradients made
    16 times too large, against central differences; the prediction must lie within 0.01 of every
    parameter's measured relative error."""
    import torch
    import torch.nn.functional as F

    from mlcourse.gradcheck import numerical_gradient, rel_error
    from mlcourse.losses import cross_entropy

    got = g.predicted(predicted_rel_error, "predicted_rel_error")
    rng = g.seeded(seed)
    n = BUG_ROWS
    for _ in range(count):
        d, h, C = (int(v) for v in rng.integers(2, 7, size=3))
        X, y = rng.normal(size=(n, d)), rng.integers(0, C, size=n)
        params = {"W1": rng.normal(size=(d, h)), "b1": rng.normal(size=h),
                  "W2": rng.normal(size=(h, C)), "b2": rng.normal(size=C)}
        weights = {key: torch.tensor(v, requires_grad=True) for key, v in params.items()}
        H = torch.relu(torch.from_numpy(X) @ weights["W1"] + weights["b1"])
        F.cross_entropy(H @ weights["W2"] + weights["b2"], torch.from_numpy(y)).backward()
        for name in params:
            def loss(value, name=name, X=X, y=y, params=params):
                return cross_entropy(_forward(X, {**params, name: value})[0], y)
            numeric = numerical_gradient(loss, params[name].copy())
            # elements that are both below 1e-7 (a hidden unit off for every row) are round-off, not signal
            measured = rel_error(n * weights[name].grad.numpy(), numeric, floor=1e-7)
            g.check_true(abs(got - measured) <= 0.01,
                         f"`predicted_rel_error` is {got:.4g}; on a random network (d={d}, h={h}, C={C}, n={n}) "
                         f"the gradient of {name} made {n} times too large measured a relative error of "
                         f"{measured:.4f} against central differences, more than 0.01 away.")
    g.passed(f"the prediction agrees with the relative errors measured on {count} random networks")
