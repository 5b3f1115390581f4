"""Checks of 02-models: the linear layer, a stable softmax, the MLP forward pass, He initialisation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import checks as g
from ..errors import GradingError
from ..remote import make
from . import check, refused

# Library routes that would do an exercise for the learner (grading.shortcuts), refused to the
# answer while it is graded and free in a scratch cell: torch's linear layer and the course's own
# layers (mlcourse.nn); torch's softmax and log_softmax; He initialisation by torch.nn.init or by
# the course's Linear.
LAYER_SHORTCUTS = ["torch.nn.functional.linear", "mlcourse.nn"]
SOFTMAX_SHORTCUTS = ["torch.softmax"]
INIT_SHORTCUTS = ["torch.nn.init", "mlcourse.nn"]

LINEAR_HINT = "Multiply X (n, d) by W (d, k), then add the bias b (k,) to every row."
LINEAR_CRASH = ("expected: X (n, d) @ W (d, k) + b (k,), an (n, k) array. W comes in-features x "
                "out-features, the layout of mlcourse.nn.Linear: use it as it is, without a transpose "
                "(torch's nn.Linear stores the (k, d) transpose).")
MLP_CRASH = ("expected: each layer turns H (n, d_{l-1}) into H @ W + b (n, d_l), and the next layer "
             "starts from that output (not from X again).")
SOFTMAX_ROWS_HINT = ("Normalise each row: divide by its own sum (axis=-1, keepdims=True), "
                     "not by a column's sum or by the sum of the whole array.")
SOFTMAX_CRASH = ("expected: an (n, C) array, each row normalised on its own (axis=-1); keepdims=True "
                 "keeps each row's maximum and sum as an (n, 1) column, which broadcasts against the "
                 "(n, C) logits.")
STABLE_HINT = ("Subtract each row's maximum before np.exp: the probabilities stay the same and nothing "
               "overflows.")
STD_HINT = ("The standard deviation is sqrt(2 / d_in), computed from d_in (the input size), "
            "not d_out. Scale numbers whose std is 1 (rng.standard_normal); "
            "a uniform(-1, 1) draw has std 1/sqrt(3), not 1.")
DEEP_HINT = ("Each layer multiplies the mean square of the activations by d_in * std**2 / 2; "
             "std = sqrt(2 / d_in) makes that factor 1. Below the band the signal vanishes "
             "(std too small), above it explodes (std too large).")


def _call(fn: Callable, *args: Any, expected: str) -> Any:
    """``g.call``, with what the call should have computed added when the learner's code raises
    (most often a shape mismatch), but not when it is simply not written yet."""
    try:
        return g.call(fn, *args)
    except GradingError as exc:
        if exc.__cause__ is None:
            raise
        raise GradingError(f"{exc}\n{expected}") from None


# ---- Exercise 1: the linear layer -----------------------------------------------------------


@check(references=[], shortcuts=LAYER_SHORTCUTS)
def linear(linear_forward: Callable) -> None:
    """A hand-computed (2, 2) x (2, 3) case, and a batch of one example."""
    # 2 examples, 2 features, 3 outputs:
    # row 0: X @ W = [1 + 1, 0 + 2, 2 - 2] = [2, 2, 0];  plus b: [2, 12, 1]
    # row 1: X @ W = [-0.5, -1, 1];                      plus b: [-0.5, 9, 2]
    X = np.array([[1.0, 2.0], [0.0, -1.0]])
    W = np.array([[1.0, 0.0, 2.0], [0.5, 1.0, -1.0]])
    b = np.array([0.0, 10.0, 1.0])
    got = _call(linear_forward, X, W, b, expected=LINEAR_CRASH)
    g.check_array("linear_forward(X, W, b)", got, [[2.0, 12.0, 1.0], [-0.5, 9.0, 2.0]], hint=LINEAR_HINT)
    g.passed("linear_forward agrees with the hand-computed example")
    # A single example is a batch of one: the output keeps its row axis, shape (1, 3).
    got = _call(linear_forward, np.array([[3.0, 4.0]]), W, b, expected=LINEAR_CRASH)
    g.check_array("linear_forward on a (1, 2) batch", got, [[5.0, 14.0, 3.0]])
    g.passed("a batch of one example gives one row of outputs")


@check(references=[], shortcuts=LAYER_SHORTCUTS)
def linear_random(linear_forward: Callable, *, seed: int, shapes: Sequence[tuple[int, int, int]]) -> None:
    """Random X (n, d), W (d, k) and non-zero b for each (n, d, k), against mlcourse.nn.Linear and torch."""
    import torch

    from mlcourse.nn import Linear

    rng = g.seeded(seed)
    for n, d, k in shapes:
        layer = Linear(d, k, seed=rng)
        layer.b.data[...] = rng.normal(size=k)
        X = rng.normal(size=(n, d))
        W, b = layer.W.data.copy(), layer.b.data.copy()
        case = f"random X of shape {(n, d)}, W {(d, k)}"
        got = _call(linear_forward, X.copy(), W.copy(), b.copy(), expected=LINEAR_CRASH)
        g.check_array("linear_forward(X, W, b)", got, layer(X), case=case, hint=LINEAR_HINT)
        # torch stores the (k, d) transpose of our W
        expected = torch.nn.functional.linear(torch.from_numpy(X), torch.from_numpy(W.T.copy()),
                                              torch.from_numpy(b))
        g.check_array("linear_forward(X, W, b) vs torch", got, expected, case=case)
    g.passed("linear_forward agrees with mlcourse.nn.Linear and torch on random shapes")


# ---- Exercise 2: softmax --------------------------------------------------------------------


@check(references=["mlcourse.losses.softmax"], shortcuts=SOFTMAX_SHORTCUTS)
def softmax(softmax: Callable) -> None:
    """Two hand-computed rows; every row a distribution; invariance to a shift of all logits."""
    # Equal logits share the probability equally; logits log(3) and 0 give odds of 3 to 1.
    got = _call(softmax, np.array([[0.0, 0.0], [np.log(3.0), 0.0]]), expected=SOFTMAX_CRASH)
    g.check_array("softmax([[0, 0], [log 3, 0]])", got, [[0.5, 0.5], [0.75, 0.25]], hint=SOFTMAX_ROWS_HINT)
    g.passed("softmax agrees with two hand-computed rows")
    # Four examples, three classes: each row must be a probability distribution.
    logits = np.array([[1.0, 2.0, 3.0], [-1.0, 0.0, 5.0], [0.0, 0.0, 0.0], [2.0, -2.0, 0.5]])
    probs = g.to_float64(_call(softmax, logits.copy(), expected=SOFTMAX_CRASH), "softmax(logits)")
    g.check_equal("softmax(logits).shape", probs.shape, logits.shape,
                  hint="softmax keeps the shape of the logits: (n, C) in, (n, C) out.")
    g.check_array("softmax(logits).sum(axis=1)", probs.sum(axis=1), np.ones(4),
                  hint="Each row must sum to 1: divide by the sum over the classes (axis=-1).")
    g.check_true(bool((probs >= 0).all()), "softmax returned negative numbers; probabilities are >= 0.")
    g.passed("every row is non-negative and sums to 1")
    # Only differences between logits matter: adding 5 to every logit changes nothing.
    g.check_array("softmax(logits + 5)", _call(softmax, logits + 5.0, expected=SOFTMAX_CRASH), probs,
                  hint="softmax(z + a) equals softmax(z): exp(z + a) = exp(a) * exp(z), and exp(a) cancels.")
    g.passed("shifting every logit by the same amount leaves the probabilities unchanged")


@check(references=["mlcourse.losses.softmax"], shortcuts=SOFTMAX_SHORTCUTS)
def softmax_stable(softmax: Callable) -> None:
    """Logits of +-1000 and +-1e4, where exp overflows to inf or underflows to 0."""
    # exp(1000) overflows to inf, exp(-1000) underflows to 0: a naive softmax returns nan here.
    logits = np.array([[1000.0, 0.0], [0.0, -1000.0], [1e4, 1e4], [-1e4, -1e4]])
    got = _call(softmax, logits, expected=SOFTMAX_CRASH)
    g.check_array("softmax(very large logits)", got, [[1.0, 0.0], [1.0, 0.0], [0.5, 0.5], [0.5, 0.5]],
                  hint=STABLE_HINT)
    g.passed("softmax stays finite and right for logits of +-1e4")


@check(references=["mlcourse.losses.softmax"], shortcuts=SOFTMAX_SHORTCUTS)
def softmax_random(softmax: Callable, *, seed: int, shapes: Sequence[tuple[int, int]],
                   scale: float = 3.0) -> None:
    """Random logits of each (n, C) shape and standard deviation ``scale``, against the
    reference and torch."""
    import torch

    from mlcourse.losses import softmax as reference

    huge = scale > 100
    rng = g.seeded(seed)
    for n, C in shapes:
        logits = rng.normal(0.0, scale, size=(n, C))
        case = f"random logits with std {scale:g}, shape {(n, C)}"
        got = _call(softmax, logits.copy(), expected=SOFTMAX_CRASH)
        g.check_array("softmax(logits)", got, reference(logits), case=case,
                      hint=STABLE_HINT if huge else SOFTMAX_ROWS_HINT)
        g.check_array("softmax(logits) vs torch", got, torch.softmax(torch.from_numpy(logits), dim=-1),
                      case=case)
    g.passed("softmax stays finite on random huge logits" if huge else
             "softmax agrees with mlcourse.losses.softmax and torch on random logits")


# ---- Exercise 3: the MLP --------------------------------------------------------------------


@check(references=[], shortcuts=LAYER_SHORTCUTS)
def mlp(mlp_forward: Callable) -> None:
    """A hand-computed two-layer network, and a one-layer one (a plain linear layer)."""
    # One hidden layer of two units, small enough to follow by hand.
    # row 0: X W1 + b1 = [0, -1.5], ReLU -> [0, 0], then 0*2 + 0*(-3) - 1 = -1
    # row 1: X W1 + b1 = [3, -0.5], ReLU -> [3, 0], then 3*2 + 0*(-3) - 1 = 5
    X = np.array([[1.0, -1.0], [2.0, 1.0]])
    W1, b1 = np.array([[1.0, -1.0], [1.0, 1.0]]), np.array([0.0, 0.5])
    W2, b2 = np.array([[2.0], [-3.0]]), np.array([-1.0])
    got = _call(mlp_forward, X, [(W1, b1), (W2, b2)], expected=MLP_CRASH)
    g.check_array("mlp_forward(X, [(W1, b1), (W2, b2)])", got, [[-1.0], [5.0]],
                  hint="ReLU after every layer except the last (and never on the input X): without a ReLU "
                       "in between you get [[3.5], [6.5]]; with one after the output too, the -1 becomes 0.")
    g.passed("mlp_forward agrees with the hand-computed two-layer example")
    # One (W, b) pair is just a linear layer: no ReLU, so the -1.5 and -0.5 stay negative.
    got = _call(mlp_forward, X, [(W1, b1)], expected=MLP_CRASH)
    g.check_array("mlp_forward(X, [(W1, b1)])", got, [[0.0, -1.5], [3.0, -0.5]],
                  hint="With a single layer there is nothing to put a ReLU between.")
    g.passed("a one-layer MLP is a linear layer")


@check(references=[], shortcuts=LAYER_SHORTCUTS)
def mlp_random(mlp_forward: Callable, *, seed: int, sizes: Sequence[Sequence[int]]) -> None:
    """An MLP of each ``sizes`` ([d_0, ..., d_L]) with random weights and non-zero biases, on a
    random batch, against mlcourse.nn.MLP and torch."""
    import torch

    from mlcourse.nn import MLP, Linear, to_torch

    rng = g.seeded(seed)
    for widths in sizes:
        widths = [int(s) for s in widths]
        model = MLP(widths, seed=int(rng.integers(1_000_000)))
        linears = [m for m in model.layers if isinstance(m, Linear)]
        for m in linears:
            m.b.data[...] = rng.normal(size=m.b.shape)   # non-zero biases, so a missing b shows
        X = rng.normal(size=(int(rng.integers(1, 9)), widths[0]))
        params = [(m.W.data.copy(), m.b.data.copy()) for m in linears]
        case = f"an MLP with sizes {widths}"
        got = _call(mlp_forward, X.copy(), params, expected=MLP_CRASH)
        g.check_array("mlp_forward(X, params)", got, model(X), case=case)
        g.check_array("mlp_forward(X, params) vs torch", got, to_torch(model)(torch.from_numpy(X)), case=case)
    g.passed("mlp_forward agrees with mlcourse.nn.MLP and torch at random depths and widths")


# ---- Exercise 4: He initialisation ----------------------------------------------------------


def _layer(init_linear: Callable, d_in: int, d_out: int, rng: Any, *,
           zero_bias: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Call ``init_linear(d_in, d_out, rng)`` and check it returns W: (d_in, d_out) and b: (d_out,)."""
    out = g.call(init_linear, d_in, d_out, rng)
    try:
        W, b = out
    except Exception as exc:   # not a pair: an array of another length, a number, an object
        refused(exc)
        raise GradingError(f"`init_linear({d_in}, {d_out}, rng)`: expected a pair (W, b), as in "
                           "`return W, b`; what it returned is not two values.") from None
    W, b = g.to_float64(W, "W"), g.to_float64(b, "b")
    g.check_equal(f"W.shape for d_in={d_in}, d_out={d_out}", W.shape, (d_in, d_out),
                  hint="W has shape (d_in, d_out), the layout of linear_forward and "
                       "mlcourse.nn.Linear (torch stores the transpose).")
    if zero_bias:
        g.check_equal("b", b, np.zeros(d_out), hint="b has shape (d_out,) and starts at zero.")
    else:
        g.check_equal(f"b.shape for d_out={d_out}", b.shape, (d_out,))
    return W, b


def _rng(init_linear: Callable, seed: int) -> Any:
    """A fresh ``np.random.default_rng(seed)`` on the learner's side, for init_linear to draw from."""
    return make(init_linear, "numpy.random.default_rng", seed)


def _std_mistake(std: float, d_in: int, d_out: int) -> str | None:
    """The initialisation whose standard deviation ``std`` matches, when it is a known wrong one."""
    target = np.sqrt(2 / d_in)
    known = [
        (np.sqrt(1 / d_in), "std sqrt(1 / d_in) (LeCun), which halves the signal's power at every "
                            "ReLU layer: the 2 in sqrt(2 / d_in) makes up for the half a ReLU zeroes"),
        (np.sqrt(2 / d_out), "d_out in place of d_in: the std is sqrt(2 / d_out)"),
        (np.sqrt(2 / (d_in + d_out)),
         "Xavier/Glorot's std sqrt(2 / (d_in + d_out)), meant for tanh, not ReLU"),
        (2 / d_in, "the variance 2 / d_in used as the standard deviation: take its square root"),
        (target / np.sqrt(3), "a uniform draw in [-s, s] with s = sqrt(2 / d_in): its std is s / sqrt(3)"),
        (1.0, "unscaled standard normal numbers: multiply them by sqrt(2 / d_in)"),
    ]
    for value, mistake in known:
        if abs(value - target) > 0.1 * target and abs(std - value) <= 0.05 * value:
            return mistake
    return None


def _check_std(W: np.ndarray, d_in: int, d_out: int, band: float) -> None:
    target = np.sqrt(2 / d_in)
    mistake = _std_mistake(float(W.std()), d_in, d_out)
    g.check_in_band("W.std()", W.std(), low=(1 - band) * target, high=(1 + band) * target,
                    what=f"for d_in={d_in}, d_out={d_out} (expected sqrt(2 / {d_in}) = {target:.4f})",
                    hint=f"likely mistake: {mistake}\nhint: {STD_HINT}" if mistake else STD_HINT)
    g.check_in_band("W.mean()", W.mean(), low=-band * target, high=band * target,
                    what=f"for d_in={d_in}, d_out={d_out} (expected near 0: weights are centred on 0)")


@check(references=[], shortcuts=INIT_SHORTCUTS)
def init(init_linear: Callable) -> None:
    """Shapes, zero bias, the standard deviation sqrt(2 / d_in) of 60 000 draws, and weights from rng."""
    # 300 x 200 = 60 000 draws pin the standard deviation down to about 0.3 %: a 5 % band.
    W, _ = _layer(init_linear, 300, 200, _rng(init_linear, 0))
    _check_std(W, 300, 200, band=0.05)
    g.passed("W has shape (d_in, d_out), mean 0 and standard deviation sqrt(2 / d_in); b is zero")
    # The same seed gives the same weights; another seed gives others.
    W_a, _ = _layer(init_linear, 30, 20, _rng(init_linear, 7))
    W_b, _ = _layer(init_linear, 30, 20, _rng(init_linear, 7))
    g.check_equal("W drawn twice with seed 7", W_b, W_a,
                  hint="Draw from the rng you are given (rng.standard_normal(...)), not from np.random.")
    W_c, _ = _layer(init_linear, 30, 20, _rng(init_linear, 8))
    g.check_true(bool((W_c != W_a).any()), "seeds 7 and 8 gave identical weights: draw them from rng.")
    g.passed("the weights come from rng: same seed, same weights")


@check(references=[], shortcuts=INIT_SHORTCUTS)
def init_sizes(init_linear: Callable, *, cases: Sequence[tuple[int, int, int]], band: float = 0.08) -> None:
    """For each (d_in, d_out, seed): shapes, zero bias, mean 0 and std sqrt(2 / d_in) within ``band``."""
    for d_in, d_out, seed in cases:
        W, _ = _layer(init_linear, d_in, d_out, _rng(init_linear, seed))
        _check_std(W, d_in, d_out, band=band)
    g.passed("the standard deviation is right for several layer sizes")


def _rms_ratio(init_linear: Callable, widths: Sequence[int], seed: int, n: int = 200) -> float:
    """RMS of the activations after the last ReLU layer over RMS after the first, for n random
    inputs pushed through layers that init_linear initialised."""
    widths = [int(w) for w in widths]
    rng = _rng(init_linear, seed)
    # The inputs come from a stream of their own: the learner's generator stays in the kernel.
    H = g.seeded([seed, 1]).standard_normal((n, widths[0]))
    rms = []
    for d_in, d_out in zip(widths[:-1], widths[1:], strict=True):
        W, b = _layer(init_linear, d_in, d_out, rng, zero_bias=False)
        with g.quiet():                      # exploding activations may overflow
            H = np.maximum(H @ W + b, 0.0)
            rms.append(np.sqrt(np.mean(H ** 2)))
    return float(rms[-1] / rms[0])


def _check_deep(init_linear: Callable, widths: Sequence[int], seed: int) -> float:
    ratio = _rms_ratio(init_linear, widths, seed)
    g.check_in_band(f"RMS after layer {len(widths) - 1} / RMS after layer 1", ratio, low=0.5, high=2.0,
                    what=f"for widths {list(widths)} "
                         "(expected near 1: activations keep their size through the stack)",
                    hint=DEEP_HINT)
    return ratio


@check(references=[], shortcuts=INIT_SHORTCUTS)
def init_deep(init_linear: Callable) -> None:
    """Ten ReLU layers of different widths: the activations' RMS keeps its size (ratio in [0.5, 2])."""
    # With He initialisation the ratio lies near 1 (0.7 to 1.4 across seeds).
    ratio = _check_deep(init_linear, [256, 384, 320, 448, 256, 300, 400, 288, 352, 320, 256], seed=1)
    g.passed(f"activations keep their size through 10 layers (ratio {ratio:.2f})")


@check(references=[], shortcuts=INIT_SHORTCUTS)
def init_deep_stacks(init_linear: Callable, *, stacks: Sequence[tuple[Sequence[int], int]]) -> None:
    """For each (widths, seed): the RMS ratio of the last to the first ReLU layer lies in [0.5, 2]."""
    for widths, seed in stacks:
        _check_deep(init_linear, widths, seed)
    g.passed("activations keep their size through other deep stacks too")


# ---- Exercise 5: predict how twice He's scale grows the signal --------------------------------------

GROWTH_LAYERS = 10           # the stack of the notebook's experiment: ten ReLU layers
GROWTH = 2.0 ** (GROWTH_LAYERS - 1)   # std doubles at each of the 9 steps from layer 1 to layer 10


@check()
def growth_prediction(predicted_growth: Any) -> None:
    """The learner's predicted std ratio of layer 10's pre-activations to layer 1's at twice He's
    scale, against 2 ** 9 (within 10 %)."""
    got = g.predicted(predicted_growth, "predicted_growth")
    if abs(got - GROWTH) <= 0.1 * GROWTH:
        g.passed(f"at twice He's scale the signal's std doubles per layer: {GROWTH:.0f} times from layer 1 to 10")
        return
    slips = [(2.0 ** GROWTH_LAYERS, "ten layers, but only nine steps lie between layer 1 and layer 10."),
             (4.0 ** (GROWTH_LAYERS - 1), "4 is what each layer does to the MEAN SQUARE; the standard deviation "
                                          "grows by its square root."),
             (4.0 ** GROWTH_LAYERS, "4 per layer is the mean square's factor (take its square root for the std), "
                                    "and nine steps lie between layer 1 and layer 10."),
             (2.0 ** (GROWTH_LAYERS - 2), "count again: from layer 1 to layer 10 the signal passes nine layers."),
             (2.0, "that is one layer's factor; the factors of successive layers multiply."),
             (2.0 * (GROWTH_LAYERS - 1), "the factors multiply, layer after layer: they do not add."),
             (2.0 * GROWTH_LAYERS, "the factors multiply, layer after layer: they do not add.")]
    mistake = next((words for value, words in slips if abs(got - value) <= 0.05 * value), None)
    g.check_true(False, f"`predicted_growth` is {got:.6g}; expected the ratio std(layer 10) / std(layer 1) of the "
                        "pre-activations when every weight has twice He's standard deviation, within 10 %."
                 + (f"\nlikely mistake: {mistake}" if mistake else "")
                 + "\nhint: He's scale makes the factor d_in * std**2 / 2 equal to 1. What does doubling the std do "
                   "to that factor of the mean square, what does that do to the std, and how many layers does "
                   "the signal cross between layer 1 and layer 10?")


@check()
def growth_measured(predicted_growth: Any, *, seed: int, stacks: int) -> None:
    """The run that settles it: ``stacks`` fresh ten-layer ReLU stacks of width 128 at twice He's
    scale on 200 random inputs; the prediction must lie within a factor of 1.5 of the geometric mean
    of the measured ratios std(Z_10) / std(Z_1) (2 ** 8 and 2 ** 10 lie a factor of 2 away)."""
    got = g.predicted(predicted_growth, "predicted_growth")
    rng = g.seeded(seed)
    width = 128
    logs = []
    for _ in range(stacks):
        H = rng.standard_normal((200, width))
        stds = []
        for _ in range(GROWTH_LAYERS):
            Z = H @ (2.0 * np.sqrt(2.0 / width) * rng.standard_normal((width, width)))
            stds.append(Z.std())
            H = np.maximum(Z, 0.0)
        logs.append(np.log(stds[-1] / stds[0]))
    measured = float(np.exp(np.mean(logs)))
    g.check_true(got > 0 and abs(np.log(got / measured)) <= np.log(1.5),
                 f"`predicted_growth` is {got:.6g}; {stacks} fresh ten-layer stacks at twice He's scale measured "
                 f"std(layer 10) / std(layer 1) = {measured:.1f} (geometric mean), and the prediction is not "
                 "within a factor of 1.5 of it.\nhint: each layer multiplies the mean square by d_in * std**2 / 2.")
    g.passed(f"the prediction agrees with {stacks} fresh stacks (measured ratio {measured:.0f})")
