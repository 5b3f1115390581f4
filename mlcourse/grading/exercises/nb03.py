"""Checks of 03-losses: MSE, stable cross-entropy, next-token cross-entropy."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from .. import checks as g
from . import check, refused, twins

# torch's losses (F.mse_loss, F.cross_entropy, nn.MSELoss...), log_softmax and logsumexp: refused
# to the answer while it is graded (grading.shortcuts); a scratch cell may use them to compare.
SHORTCUTS = ["torch.nn.functional"]

MSE_HINT = "Square each error, then average: np.mean((y_hat - y) ** 2)."
LSE_HINT = "Use the log-sum-exp trick, not np.log of a softmax."


@check(references=["mlcourse.losses.mse"], shortcuts=SHORTCUTS)
def mse(mse):
    """Hand-computed cases: a mean of squares, zero when exact, sign-blind, over every element."""
    # Errors 0, -1 and -2: squared 0, 1 and 4, mean 5 / 3.
    got = g.call(mse, np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 5.0]))
    g.check_array("mse([1, 2, 3], [1, 3, 5])", got, 5 / 3, sizes=[3], hint=MSE_HINT)
    g.passed("mse agrees with a hand-computed example")
    # Perfect predictions cost nothing; an error of -2 costs as much as one of +2.
    g.check_array("mse(y, y)", g.call(mse, np.array([0.5, -1.0]), np.array([0.5, -1.0])), 0.0)
    g.check_array("mse([-2], [0])", g.call(mse, np.array([-2.0]), np.array([0.0])), 4.0)
    g.passed("exact predictions give 0, and the sign of an error does not matter")
    # A (2, 2) array: the mean runs over all four entries, (1 + 4 + 9 + 16) / 4 = 7.5.
    got = g.call(mse, np.array([[1.0, 2.0], [3.0, 4.0]]), np.zeros((2, 2)))
    g.check_array("mse of (2, 2) arrays", got, 7.5, sizes=[2, 4],
                  hint="Average over every element: np.mean with no axis returns one number.")
    g.passed("mse of a 2-D array is one number, the mean over all entries")


@check(references=["mlcourse.losses.mse"], shortcuts=SHORTCUTS)
def mse_random(mse, *, seed: int, shapes: Sequence[tuple[int, ...]]):
    """Random arrays of each shape against mlcourse.losses.mse and torch."""
    import torch
    import torch.nn.functional as F

    from mlcourse.losses import mse as reference

    rng = g.seeded(seed)
    for shape in map(tuple, shapes):
        y_hat, y = rng.normal(0.0, 2.0, size=shape), rng.normal(0.0, 2.0, size=shape)
        case = f"random arrays of shape {shape}"
        got = g.call(mse, y_hat.copy(), y.copy())
        g.check_array("mse(y_hat, y)", got, reference(y_hat, y), case=case, sizes=shape)
        g.check_array("mse(y_hat, y) vs torch", got,
                      F.mse_loss(torch.from_numpy(y_hat), torch.from_numpy(y)), case=case, sizes=shape)
    g.passed("mse agrees with mlcourse.losses.mse and torch on random arrays")


def _error_kind(fn, *args, **kwargs) -> str | None:
    """The type name of the exception ``fn(*args, **kwargs)`` raises, or None when it returns."""
    try:
        with g.quiet():
            fn(*args, **kwargs)
    except Exception as exc:  # the learner's exception, raised in their kernel
        refused(exc)
        return getattr(exc, "remote_type", type(exc).__name__)
    return None


def _check_reductions(mse, y_hat: np.ndarray, y: np.ndarray, case: str) -> None:
    import torch
    import torch.nn.functional as F

    for reduction in ("sum", "none"):   # "mean" is the exercise's first test cell
        expected = F.mse_loss(torch.from_numpy(y_hat), torch.from_numpy(y), reduction=reduction).numpy()
        got = g.call(mse, y_hat.copy(), y.copy(), reduction=reduction)
        hint = {"sum": "reduction='sum' adds the squared errors: np.sum, no division.",
                "none": "reduction='none' returns every squared error, an array of y_hat's shape."}[reduction]
        g.check_array(f"mse(y_hat, y, reduction={reduction!r})", got, expected, case=case,
                      sizes=list(y.shape), hint=hint)


@check(references=["mlcourse.losses.mse"], shortcuts=SHORTCUTS)
def mse_reduction(mse):
    """Errors 0, -1, -2 with reductions "sum" and "none", against torch.nn.functional.mse_loss."""
    # Squared errors 0, 1, 4: "sum" 5, "none" [0, 1, 4].
    _check_reductions(mse, np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0, 5.0]), "errors 0, -1, -2")
    kind = _error_kind(mse, np.zeros(3), np.zeros(3), reduction="median")
    g.check_true(kind == "ValueError", "mse(..., reduction='median') should raise ValueError naming the three "
                 f"reductions it knows; it {'raised ' + kind if kind else 'returned a value'}. A typo in a "
                 "keyword must not quietly give some other number.")
    g.passed("mse reduces by mean, sum or not at all, as torch does")


@check(references=["mlcourse.losses.mse"], shortcuts=SHORTCUTS)
def mse_reduction_random(mse, *, seed: int, shapes: Sequence[tuple[int, ...]]):
    """Random arrays of each shape, each reduction, against torch."""
    rng = g.seeded(seed)
    for shape in map(tuple, shapes):
        _check_reductions(mse, rng.normal(size=shape), rng.normal(size=shape), f"random arrays of shape {shape}")
    g.passed("mse agrees with torch for every reduction on random arrays")


def _check_refuses(mse, a: tuple[int, ...], b: tuple[int, ...]) -> None:
    kind = _error_kind(mse, np.ones(a), np.ones(b))
    g.check_true(kind == "ValueError",
                 f"mse(y_hat of shape {a}, y of shape {b}) should raise ValueError naming both shapes; it "
                 f"{'raised ' + kind if kind else 'returned a value'}. numpy would broadcast {a} against {b}; "
                 "compare y_hat.shape with y.shape first and refuse a mismatch.")


def _check_accepts(mse, shape: tuple[int, ...]) -> None:
    kind = _error_kind(mse, np.ones(shape), np.zeros(shape))
    g.check_true(kind is None, f"mse of two arrays of the same shape {shape} raised {kind}; equal shapes, of any "
                 "rank, are expected to work.")


def _check_shapes(mse, mismatched: Sequence[tuple[tuple[int, ...], tuple[int, ...]]], same: tuple[int, ...]) -> None:
    for a, b in mismatched:
        _check_refuses(mse, a, b)
    _check_accepts(mse, same)


_shapes = twins(_check_shapes, references=["mlcourse.losses.mse"], shortcuts=SHORTCUTS,
                passed="mse refuses arrays of different shapes instead of broadcasting them")


@_shapes.visible()
def mse_shapes() -> Iterator:
    """A (3, 1) prediction against (3,) targets must raise, not broadcast to (3, 3)."""
    # (3, 1) - (3,) broadcasts to a (3, 3) array of every prediction minus every target: a wrong number, silently.
    yield [((3, 1), (3,)), ((3,), (3, 1)), ((2, 3), (3, 2))], (4, 1)


@_shapes.hidden(passed="mse refuses every mismatch of random shapes")
def mse_shapes_random(rng: np.random.Generator, *, count: int) -> Iterator:
    """Random pairs of shapes that broadcast (or not) without being equal; equal shapes pass."""
    for _ in range(count):
        n, k = int(rng.integers(2, 9)), int(rng.integers(2, 5))
        a, b = [((n, 1), (n,)), ((n,), (1, n)), ((n, k), (k,)), ((n, k), (1, k)), ((n,), (n + 1,))][rng.integers(5)]
        yield [(a, b)], (n, k)


@check(references=["mlcourse.losses.cross_entropy"], shortcuts=SHORTCUTS)
def cross_entropy(cross_entropy):
    """A uniform guess, one example by the definition, and the mean of two examples."""
    # Equal logits are a uniform guess over 4 classes: the loss is log 4, whatever the labels.
    got = g.call(cross_entropy, np.zeros((2, 4)), np.array([0, 3]))
    g.check_array("cross_entropy(zeros((2, 4)), [0, 3])", got, np.log(4.0), sizes=[2],
                  hint="each row is normalised over its own C logits: the log-sum-exp sums over axis=1 "
                       "(keepdims=True), not over the whole array; then average the n row losses.")
    g.passed("a uniform guess over C classes costs log C")
    # One example, three classes, true class 0: the loss is -log softmax([2, 0, -1])[0].
    p0 = np.exp(2.0) / (np.exp(2.0) + np.exp(0.0) + np.exp(-1.0))      # = 0.8438...
    got = g.call(cross_entropy, np.array([[2.0, 0.0, -1.0]]), np.array([0]))
    g.check_array("cross_entropy([[2, 0, -1]], [0])", got, -np.log(p0),
                  hint="The loss of one example is minus the log of the probability of its true class.")
    g.passed("cross_entropy agrees with the definition on one example")
    # Two examples: the mean of their two losses. The second example's true class is 2.
    logits = np.array([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0]])
    p2 = np.exp(0.0) / (np.exp(0.0) + np.exp(3.0) + np.exp(0.0))       # = 0.0453...
    got = g.call(cross_entropy, logits, np.array([0, 2]))
    g.check_array("cross_entropy(logits, [0, 2])", got, (-np.log(p0) - np.log(p2)) / 2, sizes=[2],
                  hint="Average over the examples, and pick the logit of each row's own label "
                       "(log_probs[np.arange(n), y]), not the same column for every row.")
    g.passed("cross_entropy averages over the examples, each with its own label")


@check(references=["mlcourse.losses.cross_entropy"], shortcuts=SHORTCUTS)
def cross_entropy_random(cross_entropy, *, seed: int, shapes: Sequence[tuple[int, int]],
                         scale: float = 3.0):
    """Random logits of each (n, C) shape and standard deviation ``scale``, against the
    reference and torch."""
    import torch
    import torch.nn.functional as F

    from mlcourse.losses import cross_entropy as reference

    rng = g.seeded(seed)
    for n, C in shapes:
        logits, y = rng.normal(0.0, scale, size=(n, C)), rng.integers(0, C, size=n)
        case = f"random logits with std {scale:g}, shape {(n, C)}"
        got = g.call(cross_entropy, logits.copy(), y.copy())
        g.check_array("cross_entropy(logits, y)", got, reference(logits, y), case=case, sizes=[n, C],
                      hint=LSE_HINT if scale > 100 else None)
        g.check_array("cross_entropy(logits, y) vs torch", got,
                      F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(y)), case=case, sizes=[n])
    g.passed(f"cross_entropy agrees with mlcourse.losses and torch on random logits of std {scale:g}")


@check(references=["mlcourse.losses.cross_entropy"], shortcuts=SHORTCUTS)
def cross_entropy_stable(cross_entropy):
    """Logits of +-1e4, whose true probabilities underflow to 0.0 in float64."""
    # The true probabilities are 1, exp(-2e4) and exp(-1e4): the last two are 0.0 in float64,
    # so log(softmax(...)) gives -inf. The right losses are 0, 2e4 and 1e4.
    logits = np.array([[1e4, 0.0, -1e4], [1e4, 0.0, -1e4], [0.0, 1e4, 0.0]])
    got = g.call(cross_entropy, logits, np.array([0, 2, 0]))
    g.check_array("cross_entropy(logits of +-1e4, [0, 2, 0])", got, (0.0 + 2e4 + 1e4) / 3, sizes=[3],
                  hint="Compute log-probabilities directly: (z - max) - log(sum(exp(z - max))), "
                       "never np.log of a softmax, which is 0 for these logits.")
    g.passed("cross_entropy stays finite and right for logits of +-1e4")


NEXT_TOKEN_HINT = ("Position (b, t) uses the logits logits[b, t, :] and the target targets[b, t]. "
                   "Flatten with logits.reshape(B * T, V) and targets.reshape(B * T), with no "
                   "transpose, or work along the last axis directly; then average over all B * T positions.")


@check(references=["mlcourse.losses.next_token_cross_entropy"], shortcuts=SHORTCUTS)
def next_token(next_token_cross_entropy):
    """Uniform logits, and a (2, 3, 4) case against the per-position definition."""
    # Uniform logits over a vocabulary of 5: every position costs log 5.
    got = g.call(next_token_cross_entropy, np.zeros((2, 3, 5)), np.zeros((2, 3), dtype=int))
    g.check_array("next_token_cross_entropy(zeros((2, 3, 5)), targets)", got, np.log(5.0))
    g.passed("uniform logits over V tokens cost log V")
    # B = 2 sequences, T = 3 positions, V = 4 tokens: the mean of the 6 per-position losses.
    logits = g.seeded(3).normal(size=(2, 3, 4))
    targets = np.array([[0, 3, 1], [2, 2, 0]])
    per_position = [-np.log(np.exp(logits[b, t, targets[b, t]]) / np.exp(logits[b, t]).sum())
                    for b in range(2) for t in range(3)]
    got = g.call(next_token_cross_entropy, logits, targets)
    g.check_array("next_token_cross_entropy(logits (2, 3, 4), targets (2, 3))", got, np.mean(per_position),
                  sizes=[2, 3, 6], hint=NEXT_TOKEN_HINT)
    g.passed("next_token_cross_entropy is the mean of the per-position losses")


@check(references=["mlcourse.losses.next_token_cross_entropy"], shortcuts=SHORTCUTS)
def next_token_random(next_token_cross_entropy, *, seed: int, shapes: Sequence[tuple[int, int, int]]):
    """Random (B, T, V) logits against the reference and torch's (B, V, T) convention."""
    import torch
    import torch.nn.functional as F

    from mlcourse.losses import next_token_cross_entropy as reference

    rng = g.seeded(seed)
    for B, T, V in shapes:
        logits, targets = rng.normal(0.0, 2.0, size=(B, T, V)), rng.integers(0, V, size=(B, T))
        case = f"random logits of shape {(B, T, V)}"
        got = g.call(next_token_cross_entropy, logits.copy(), targets.copy())
        g.check_array("next_token_cross_entropy(logits, targets)", got, reference(logits, targets),
                      case=case, sizes=[B, T, B * T])
        # torch's own convention: classes on axis 1, logits of shape (B, V, T)
        expected = F.cross_entropy(torch.from_numpy(logits).permute(0, 2, 1), torch.from_numpy(targets))
        g.check_array("next_token_cross_entropy(logits, targets) vs torch", got, expected, case=case)
    g.passed("next_token_cross_entropy agrees with mlcourse.losses and torch on random shapes")


# ---- The best constant: predicted, then measured -------------------------------------------------

# Five targets with one far from the rest: the mean (5) and the median (3) part ways.
CONSTANT_TARGETS = (1.0, 2.0, 3.0, 4.0, 15.0)


def _constant_slips(y: np.ndarray) -> dict[str, list[tuple[float, str]]]:
    mean, median = float(np.mean(y)), float(np.median(y))
    middle = (float(y.min()) + float(y.max())) / 2
    return {
        "mse": [(median, "that is the median, the best constant under the absolute error. A squared error's slope "
                         "2(c - y_i) grows with the distance, so the far target pulls c towards it."),
                (middle, "that is halfway between the smallest and the largest target: the targets in between "
                         "count too."),
                (float(np.mean((y - mean) ** 2)), "that is the loss at the best constant, not the constant.")],
        "mae": [(mean, "that is the mean, the best constant under the squared error. The absolute error's slope "
                       "is +1 or -1 per target, however far it is: only how many targets lie on each side counts."),
                (middle, "that is halfway between the smallest and the largest target: only how many targets lie on "
                         "each side of c counts."),
                (float(np.mean(np.abs(y - median))), "that is the loss at the best constant, not the constant.")],
    }


@check()
def best_constant_prediction(best_constant_mse, best_constant_mae):
    """The learner's best constants for the targets [1, 2, 3, 4, 15], against the mean and the median."""
    y = np.array(CONSTANT_TARGETS)
    slips = _constant_slips(y)
    # The MSE's slope in c is (2/N) sum (c - y_i): zero at the mean, 25 / 5 = 5.
    # The absolute error's slope is (#targets below c - #targets above c) / N: zero at the median, 3.
    for name, value, expected, kind in (("best_constant_mse", best_constant_mse, float(np.mean(y)), "mse"),
                                        ("best_constant_mae", best_constant_mae, float(np.median(y)), "mae")):
        got = g.predicted(value, name)
        if abs(got - expected) <= 0.05:
            continue
        mistake = next((words for v, words in slips[kind] if abs(got - v) <= 0.05), None)
        loss = "mean squared error" if kind == "mse" else "mean absolute error"
        g.check_true(False, f"`{name}` is {got:.4g}; the constant c with the smallest {loss} on the targets "
                            f"{list(CONSTANT_TARGETS)} is another number (to within 0.05)."
                     + (f"\nlikely mistake: {mistake}" if mistake else "")
                     + "\nhint: at the best c, a small move in either direction does not lower the loss: write the "
                       "loss's slope in c as a sum over the targets and find where it is zero.")
    g.passed("the squared error is minimised by the mean (5), the absolute error by the median (3)")


@check()
def best_constant_measured(best_constant_mse, best_constant_mae, *, seed: int, count: int):
    """The experiment that settles it: ``count`` searches over random candidate constants (drawn from
    ``seed``); each one's best candidate under each loss must lie within 0.05 of the prediction."""
    y = np.array(CONSTANT_TARGETS)
    predicted = {"mse": g.predicted(best_constant_mse, "best_constant_mse"),
                 "mae": g.predicted(best_constant_mae, "best_constant_mae")}
    rng = g.seeded(seed)
    for _ in range(count):
        c = rng.uniform(y.min() - 5.0, y.max() + 5.0, size=20_001)
        residuals = c[:, None] - y
        for kind, per_target in (("mse", residuals ** 2), ("mae", np.abs(residuals))):
            measured = float(c[per_target.mean(axis=1).argmin()])
            g.check_true(abs(predicted[kind] - measured) <= 0.05,
                         f"`best_constant_{kind}` is {predicted[kind]:.4g}; a search over 20 001 random constants "
                         f"found the smallest {'mean squared' if kind == 'mse' else 'mean absolute'} error at "
                         f"c = {measured:.4f}, more than 0.05 away.")
    g.passed(f"the predictions agree with {count} searches for the best constant under each loss")
