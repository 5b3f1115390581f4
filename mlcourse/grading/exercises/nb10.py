"""Checks of 10-debugging: the initial loss (predicted, then checked), overfitting one batch,
a learning-rate range test, rows leaked between splits, and a label-permutation baseline.

The models the learner's training functions train are built on the learner's side by
``kernelside.nb10``'s factories (``make``); the judge builds the same models here from the same
seeds, trains its own copies with the contract's recipe, and compares the losses that come back
step by step. Nothing but numbers crosses.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .. import checks as g
from ..kernelside.nb10 import ModelFactory
from ..remote import make
from . import check, twins

FACTORY = "mlcourse.grading.kernelside.nb10.factory"


def _number(x: Any, name: str) -> float:
    v = g.to_float64(x, name)
    g.check_true(v.shape == (), f"`{name}` should be one number, got an array of shape {v.shape}.")
    return float(v)


# ---- Exercise 1: the initial loss ----------------------------------------------------------------

PREDICTION_CLASSES = 10


@check()
def initial_loss_prediction(predicted_initial_loss):
    """The learner's predicted loss of an untrained 10-class classifier, against ln 10."""
    got = g.predicted(predicted_initial_loss, "predicted_initial_loss")
    expected = math.log(PREDICTION_CLASSES)
    if abs(got - expected) <= 0.05:
        g.passed(f"an untrained {PREDICTION_CLASSES}-class classifier starts near {expected:.3f}")
        return
    C = PREDICTION_CLASSES
    slips = [(1 / C, "that is the probability the model gives each class; the loss is the cross-entropy of "
                     "that probability."),
             (math.log2(C), "that is a logarithm in base 2 (bits); cross-entropy uses the natural logarithm."),
             (math.log10(C), "that is a logarithm in base 10; cross-entropy uses the natural logarithm."),
             (0.0, "an untrained model is not right about anything: it cannot start at zero loss."),
             (-math.log(C), "a loss is never negative: the minus sign of -log p makes it positive."),
             (float(C), "the loss is not the number of classes; think of the probability an untrained model gives "
                        "the true class.")]
    mistake = next((words for value, words in slips if abs(got - value) <= 0.05), None)
    g.check_true(False, f"`predicted_initial_loss` is {got:.4g}; an untrained classifier over {C} classes should "
                        f"start within 0.05 of the value expected (you can work it out from the probability "
                        f"it gives each class)." + (f"\nlikely mistake: {mistake}" if mistake else "")
                 + "\nhint: with small random weights the logits are all about equal. What probability does the "
                   "softmax of equal logits give the true class, and what does the cross-entropy charge for it?")


@check()
def initial_loss_measured(predicted_initial_loss, *, seed: int, count: int):
    """The run that settles the prediction: untrained 10-class MLPs of random widths, drawn from ``seed``,
    on random inputs; the predicted loss must lie within 0.25 of each one's measured first loss."""
    torch, F = _torch()
    got = g.predicted(predicted_initial_loss, "predicted_initial_loss")
    rng = g.seeded(seed)
    for _ in range(count):
        d, init = int(rng.integers(1, 6)), int(rng.integers(0, 10_000))
        X = rng.normal(size=(200, d))
        y = rng.integers(0, PREDICTION_CLASSES, size=200)
        model = make(None, FACTORY, "healthy", d, PREDICTION_CLASSES, 32, init)()
        with torch.no_grad():
            measured = F.cross_entropy(model(torch.as_tensor(X)), torch.as_tensor(y)).item()
        g.check_true(abs(got - measured) <= 0.25,
                     f"`predicted_initial_loss` is {got:.4g}; an untrained 10-class MLP (seed {init}, {d} inputs) "
                     f"measured {measured:.4f} on 200 random examples, more than 0.25 away. The prediction "
                     "should be what such a model starts at.\nhint: its logits are all about equal: what does the "
                     "cross-entropy charge for the probability that gives the true class?")
    g.passed(f"the prediction agrees with {count} untrained models' measured first losses")


def _initial_ok_case(initial_loss_ok, loss: float, n_classes: int, tol: float) -> None:
    got = g.call(initial_loss_ok, loss, n_classes, tol)
    target = math.log(n_classes)
    expected = abs(loss - target) <= tol
    g.check_true(type(got) in (bool, np.bool_), f"initial_loss_ok({loss:g}, {n_classes}, tol={tol:g}) should "
                 f"return True or False; it returned a {type(got).__name__}.")
    if bool(got) == expected:
        return
    hints = []
    for value, words in [(math.log2(n_classes), "you compared with log2(C): cross-entropy uses the natural log."),
                         (math.log10(n_classes), "you compared with log10(C): cross-entropy uses the natural log."),
                         (1 / n_classes, "you compared with 1/C, the probability; the loss is -log of it.")]:
        if (abs(loss - value) <= tol) == bool(got):
            hints.append(words)
    if not hints and bool(got) and loss < target - tol:
        hints.append("a first loss far *below* the expected one is as wrong as one above (an untrained model "
                     "cannot know anything): compare the distance, on either side.")
    if not hints and (abs(loss - target) <= tol * target) == bool(got):
        hints.append("`tol` is an absolute distance in loss units, not a fraction of the expected loss.")
    g.check_true(False, f"initial_loss_ok({loss:g}, n_classes={n_classes}, tol={tol:g}) returned {bool(got)}, "
                 f"expected {expected}: an untrained {n_classes}-class classifier should start within {tol:g} of "
                 f"{target:.4f}, and {loss:g} is {abs(loss - target):.4f} away."
                 + (f"\nlikely mistake: {hints[0]}" if hints else ""))


_initial = twins(_initial_ok_case, passed="initial_loss_ok accepts losses near the uniform guess and no other")


@_initial.visible()
def initial_loss_ok() -> Iterator:
    """Losses near and far from the uniform guess, for 2, 10 and 1000 classes."""
    yield 2.40, 10, 0.1      # 0.097 above ln 10: fine
    yield 7.30, 1000, 0.1    # 0.39 above ln 1000 = 6.908: within 10 % of it, but tol is absolute
    yield 2.20, 10, 0.103    # 0.1026 below: fine too (the distance, either side)
    yield 2.15, 10, 0.1      # 0.15 below: too far
    yield 2.45, 10, 0.1      # 0.15 above: too far
    yield 0.70, 2, 0.05      # ln 2 = 0.693
    yield 1.00, 2, 0.05      # log2(2) = 1 is the wrong logarithm
    yield 0.10, 10, 0.1      # 1/C is a probability, not a loss
    yield 6.90, 1000, 0.1    # ln 1000 = 6.908
    yield 3.00, 1000, 0.1    # log10(1000) = 3


@_initial.hidden()
def initial_loss_ok_random(rng: np.random.Generator, *, count: int) -> Iterator:
    """Random class counts and tolerances; losses just inside, just outside, and at the usual slips."""
    for _ in range(count):
        C = int(rng.integers(2, 2000))
        tol = float(rng.uniform(0.02, 0.3))
        near = math.log(C) + float(rng.choice([-1, 1])) * tol * float(rng.uniform(0.1, 0.9))
        far = math.log(C) + float(rng.choice([-1, 1])) * tol * float(rng.uniform(1.2, 3.0))
        yield near, C, tol
        yield far, C, tol
        yield [math.log2(C), math.log10(C), 1 / C][int(rng.integers(3))], C, tol


# ---- Exercise 2: overfit one batch -------------------------------------------------------------------


def _torch():
    import torch
    import torch.nn.functional as F

    return torch, F


def _sgd_losses(factory: ModelFactory, X: np.ndarray, y: np.ndarray, steps: int, lr: float, *,
                zero_grad: bool = True, after: bool = False, reduction: str = "mean",
                adam: bool = False) -> np.ndarray:
    """The contract's run, done here (or with one slip, for the diagnosis)."""
    torch, F = _torch()
    model = factory()
    opt = (torch.optim.Adam if adam else torch.optim.SGD)(model.parameters(), lr=lr)
    Xt, yt = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y, dtype=torch.int64)
    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(model(Xt), yt, reduction=reduction)
        if not after:
            losses.append(loss.item())
        if zero_grad:
            opt.zero_grad()
        loss.backward()
        opt.step()
        if after:
            with torch.no_grad():
                losses.append(F.cross_entropy(model(Xt), yt).item())
    return np.array(losses)


OVERFIT_HINT = ("losses[t] is the mean cross-entropy of the whole batch at step t, read before that step's update; "
                "a fresh model from make_model(), torch.optim.SGD with the given lr, the gradients zeroed before "
                "every backward.")


def _overfit_case(overfit_one_batch, kind: str, n: int, d: int, C: int, steps: int, lr: float, seed: int) -> None:
    rng = g.seeded(seed)
    X = rng.normal(0.0, 1.0, size=(n, d))
    y = rng.integers(0, C, size=n)
    args = (kind, d, C, 32, seed)
    local = make(None, FACTORY, *args)
    expected = _sgd_losses(local, X, y, steps, lr)
    make_model = make(overfit_one_batch, FACTORY, *args)
    case = f"{local!r}, a batch of {n} random points, {steps} steps, lr={lr:g}"
    got = g.to_float64(g.call(overfit_one_batch, make_model, X.copy(), y.copy(), steps, lr),
                       "overfit_one_batch's losses")
    if got.shape != expected.shape:
        g.check_true(False, f"overfit_one_batch ({case}) returned {got.size} loss(es) in shape {got.shape}; "
                     f"expected one per step, {steps} in all.\nhint: {OVERFIT_HINT}")
    slips = [(lambda: _sgd_losses(local, X, y, steps, lr, zero_grad=False),
              "the gradients are never zeroed, so each step adds to the last one's; call optimizer.zero_grad() "
              "(or model.zero_grad()) before every backward."),
             (lambda: _sgd_losses(local, X, y, steps, lr, after=True),
              "each loss is read after its step; read it before the update, so losses[0] is the untrained model's."),
             (lambda: _sgd_losses(local, X, y, steps, lr, reduction="sum"),
              "the losses are summed over the batch; use the mean cross-entropy (F.cross_entropy's default)."),
             (lambda: _sgd_losses(local, X, y, steps, lr, adam=True),
              "this is Adam's run; the test is defined with plain torch.optim.SGD (no momentum), whose steps "
              "are the gradient times lr, so that a broken model cannot hide behind an adaptive optimizer.")]
    g.check_array("overfit_one_batch(make_model, X, y, steps, lr)", got, expected, rtol=1e-6, atol=1e-9,
                  case=case, slips=slips, hint=OVERFIT_HINT)


_overfit = twins(_overfit_case, passed="overfit_one_batch trains a fresh model on the batch, step for step as SGD does")


@_overfit.visible()
def overfit() -> Iterator:
    """A healthy MLP on 16 points, and one whose ReLUs are dead (its loss barely moves)."""
    yield "healthy", 16, 2, 3, 60, 0.5, 1
    yield "dead-relu", 16, 2, 3, 20, 0.5, 2      # only the output bias learns: the losses flatten out
    yield "hot-init", 8, 3, 4, 15, 0.05, 3


@_overfit.hidden()
def overfit_random(rng: np.random.Generator, *, count: int) -> Iterator:
    """Random batch sizes, widths, class counts, step counts and learning rates."""
    for i in range(count):
        kind = ["healthy", "dead-relu", "hot-init"][i % 3]
        yield (kind, int(rng.integers(4, 40)), int(rng.integers(1, 6)), int(rng.integers(2, 7)),
               int(rng.integers(5, 40)), float(rng.choice([0.01, 0.1, 0.3, 1.0])), int(rng.integers(0, 10_000)))


# ---- Exercise 3: the learning-rate range test ----------------------------------------------------


def _range_losses(factory: ModelFactory, X: np.ndarray, y: np.ndarray, lrs: Sequence[float], blowup: float, *,
                  stop: bool = True, record_last: bool = True, late: bool = False) -> np.ndarray:
    torch, F = _torch()
    model = factory()
    opt = torch.optim.SGD(model.parameters(), lr=float(lrs[0]))
    Xt, yt = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y, dtype=torch.int64)
    losses: list[float] = []
    for i, lr in enumerate(lrs):
        lr = lrs[max(i - 1, 0)] if late else lr
        loss = F.cross_entropy(model(Xt), yt)
        value = loss.item()
        if stop and (not math.isfinite(value) or value > blowup * min(losses + [value])):
            if record_last:
                losses.append(value)
            break
        losses.append(value)
        for group in opt.param_groups:
            group["lr"] = float(lr)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return np.array(losses)


RANGE_HINT = ("one fresh model and one optimizer for the whole test; at the i-th step read the batch's loss, then "
              "take one SGD step with lrs[i]; stop once a loss is not finite or above blowup times the smallest "
              "loss so far, keeping that last loss in the result.")


def _range_case(lr_range_test, n: int, d: int, C: int, lrs: np.ndarray, blowup: float, seed: int) -> None:
    rng = g.seeded(seed)
    X = rng.normal(0.0, 1.0, size=(n, d))
    y = rng.integers(0, C, size=n)
    args = ("healthy", d, C, 32, seed)
    local = make(None, FACTORY, *args)
    expected = _range_losses(local, X, y, lrs, blowup)
    make_model = make(lr_range_test, FACTORY, *args)
    case = f"{local!r}, {n} points, {len(lrs)} learning rates from {lrs[0]:.0e} to {lrs[-1]:.0e}, blowup={blowup:g}"
    got = g.to_float64(g.call(lr_range_test, make_model, X.copy(), y.copy(), lrs.copy(), blowup=blowup),
                       "lr_range_test's losses")
    if got.shape != expected.shape:
        full = _range_losses(local, X, y, lrs, blowup, stop=False)
        without = _range_losses(local, X, y, lrs, blowup, record_last=False)
        late = _range_losses(local, X, y, lrs, blowup, late=True)
        if got.shape == late.shape and np.allclose(got, late, rtol=1e-6, atol=1e-9):
            why = ("step i was taken with lrs[i - 1]: set the optimizer's learning rate to lrs[i] before step i, "
                   "not after it.")
        elif got.shape == full.shape:
            why = "every learning rate was tried: the run should stop at the first loss that blows up."
        elif got.shape == without.shape:
            why = "the loss that blew up is missing: keep it as the last entry, so the plot shows the blow-up."
        else:
            why = "compare your stopping rule with the contract: not finite, or above blowup x the smallest so far."
        g.check_true(False, f"lr_range_test ({case}) returned {got.size} losses; expected {expected.size} "
                     f"(the loss blows up at learning rate {lrs[expected.size - 1]:.2g}).\nlikely mistake: {why}\n"
                     f"hint: {RANGE_HINT}")
    fresh = [(lambda: _first_steps_fresh(local, X, y, lrs, expected.size),
              "each learning rate starts from a new model; the test walks one model through all of them."),
             (lambda: _range_losses(local, X, y, lrs, blowup, late=True),
              "step i was taken with lrs[i - 1]: set the optimizer's learning rate to lrs[i] before step i, "
              "not after it.")]
    g.check_array("lr_range_test(make_model, X, y, lrs)", got, expected, rtol=1e-6, atol=1e-9, case=case,
                  slips=fresh, hint=RANGE_HINT)


def _first_steps_fresh(factory: ModelFactory, X, y, lrs, count: int) -> np.ndarray:
    torch, F = _torch()
    Xt, yt = torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y, dtype=torch.int64)
    with torch.no_grad():
        return np.array([F.cross_entropy(factory()(Xt), yt).item()] * count)


_range = twins(_range_case, passed="lr_range_test walks one model up the learning rates and stops at the blow-up")


@_range.visible()
def lr_range() -> Iterator:
    """Learning rates from 1e-4 to 1e3 on 32 points: the loss falls, then blows up."""
    yield 32, 2, 3, np.geomspace(1e-4, 1e3, 36), 4.0, 4
    yield 16, 3, 5, np.geomspace(1e-3, 1e4, 22), 2.0, 5


@_range.hidden()
def lr_range_random(rng: np.random.Generator, *, count: int) -> Iterator:
    """Random batches and ranges, blowup factors from 1.5 to 10."""
    for _ in range(count):
        lo = float(10.0 ** rng.uniform(-5, -2))
        yield (int(rng.integers(8, 48)), int(rng.integers(1, 5)), int(rng.integers(2, 8)),
               np.geomspace(lo, 1e4, int(rng.integers(15, 50))), float(rng.uniform(1.5, 10.0)),
               int(rng.integers(0, 10_000)))


def _suggest_reference(lrs: np.ndarray, losses: np.ndarray) -> float:
    drops = losses[1:] - losses[:-1]
    drops[~np.isfinite(drops)] = np.inf
    return float(lrs[int(np.argmin(drops))])


def _suggest_case(suggest_lr, lrs: np.ndarray, losses: np.ndarray) -> None:
    expected = _suggest_reference(lrs, losses)
    got = _number(g.call(suggest_lr, lrs.copy(), losses.copy()), "suggest_lr's learning rate")
    i = int(np.argmin(np.where(np.isfinite(losses[1:] - losses[:-1]), losses[1:] - losses[:-1], np.inf)))
    raw = np.diff(losses)
    nan_unaware = float(lrs[int(np.argmin(raw))]) if np.isnan(raw).any() else None
    slips = [(nan_unaware, "a drop into nan: np.argmin returns the position of a nan; set the drops that are not "
                           "finite aside before looking for the steepest."),
             (float(lrs[i + 1]), "that is the learning rate of the step after the steepest drop: losses[i] is read "
                                 "before step i, so the drop from losses[i] to losses[i + 1] is step i's, "
                                 "made with lrs[i]."),
             (float(lrs[int(np.nanargmin(losses))]), "that is the learning rate where the loss was lowest, by then "
                                                     "already close to the blow-up; the suggestion is where the loss "
                                                     "falls fastest."),
             (float(lrs[int(np.nanargmin(losses))]) / 10, "a tenth of the learning rate at the lowest loss is a "
                                                          "rule of thumb; this exercise asks for the steepest drop.")]
    mistake = g.slip(got, slips, expected=expected)
    g.check_array(f"suggest_lr(lrs, losses) on {len(losses)} losses", got, expected, rtol=1e-12,
                  hint=(f"likely mistake: {mistake}" if mistake else
                        "find the step whose loss fell the most (a drop is the next loss minus this one), ignoring "
                        "drops into a loss that is not finite, and return the learning rate that step used."),
                  explain=False)


_suggest = twins(_suggest_case, passed="suggest_lr picks the learning rate of the steepest drop")


@_suggest.visible()
def suggest() -> Iterator:
    """Hand-made curves: a clear steepest step, a blow-up to inf, and a run stopped early."""
    lrs = np.array([1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0])
    yield lrs, np.array([2.0, 1.95, 1.5, 0.9, 0.85, 5.0])    # drops -0.05, -0.45, -0.6, -0.05: step 2, lr 0.1
    yield lrs, np.array([1.1, 1.0, 0.6, 0.55, np.inf])       # the jump to inf is no drop: step 1, lr 0.01
    yield lrs, np.array([3.0, 1.0, 2.5])                     # stopped after 3 losses: step 0, lr 0.001


@_suggest.hidden()
def suggest_random(rng: np.random.Generator, *, count: int) -> Iterator:
    """Random falling-then-rising curves of random lengths, some ending in inf or nan."""
    for _ in range(count):
        m = int(rng.integers(6, 40))
        lrs = np.geomspace(float(10.0 ** rng.uniform(-6, -3)), float(10.0 ** rng.uniform(0, 3)), m)
        k = int(rng.integers(3, m + 1))
        losses = np.cumsum(np.concatenate([[3.0], rng.normal(-0.1, 0.08, size=k - 1)]))
        losses[-1] = [losses[-1], np.inf, np.nan, 50.0][int(rng.integers(4))]
        yield lrs, losses


# ---- Exercise 4: rows leaked between splits ------------------------------------------------------


def _overlap_reference(train_X: np.ndarray, test_X: np.ndarray) -> np.ndarray:
    same = (test_X[:, None, :] == train_X[None, :, :]).all(axis=-1)
    return np.flatnonzero(same.any(axis=1))


def _overlap_case(overlapping_rows, train_X: np.ndarray, test_X: np.ndarray, about: str) -> None:
    expected = _overlap_reference(train_X, test_X)
    got = g.to_float64(g.call(overlapping_rows, train_X.copy(), test_X.copy()), "overlapping_rows' indices")
    name = f"overlapping_rows(train_X {train_X.shape}, test_X {test_X.shape})"
    if got.ndim != 1:
        g.check_true(False, f"`{name}` ({about}) returned an array of shape {got.shape}; expected one index per leaked "
                     f"test row, a 1-D array (here {expected.size} of them: {expected.tolist()}).")
    by_value = np.flatnonzero(np.isin(test_X, train_X).all(axis=1))
    first_column = np.flatnonzero(np.isin(test_X[:, 0], train_X[:, 0]))
    from_train = np.flatnonzero((test_X[:, None, :] == train_X[None, :, :]).all(axis=-1).any(axis=0))
    slips = [(from_train, "these are the indices of the training rows that were copied; return the indices of the "
                          "test rows that are copies."),
             (by_value, "a test row whose numbers each appear *somewhere* in train is not a copied row: compare "
                        "whole rows, all their features together."),
             (first_column, "only the first feature was compared; two rows are the same when every feature is.")]
    if got.shape == expected.shape:
        g.check_equal(name, got, expected, case=about,
                      hint="return the indices of the test rows equal to some training row, in increasing order, "
                           "each once.")
        return
    mistake = g.slip(got, slips, expected=expected)
    g.check_true(False, f"`{name}` ({about}) found {got.size} leaked test rows, expected {expected.size}: "
                 f"{expected.tolist()[:12]}{' ...' if expected.size > 12 else ''}; got "
                 f"{got.astype(int).tolist()[:12]}{' ...' if got.size > 12 else ''}."
                 + (f"\nlikely mistake: {mistake}" if mistake else
                    "\nhint: a test row leaks when it equals some training row in every feature; return the test "
                    "indices, in increasing order, each once."))


_overlap = twins(_overlap_case, passed="overlapping_rows finds exactly the test rows copied from train")


@_overlap.visible()
def overlap() -> Iterator:
    """Small integer tables: copied rows, a row mixed from two training rows, a clean split."""
    train = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0], [1.0, 5.0, 9.0]])
    test = np.array([[4.0, 5.0, 6.0],      # a copy of train row 1
                     [1.0, 2.0, 9.0],      # every number is in train, but no train row is this one
                     [7.0, 8.0, 9.0],      # a copy of train row 2
                     [1.0, 9.0, 5.0],      # train row 3's numbers in another order
                     [4.0, 5.0, 6.0]])     # row 1 again: both copies leak
    yield train, test, "copies at test rows 0, 2 and 4"
    yield train, np.array([[1.0, 3.0, 2.0], [9.0, 8.0, 7.0]]), "a clean split: no leaked rows"
    yield np.array([[0.5, 1.5]]), np.array([[0.5, 1.5], [0.5, 2.5], [1.5, 0.5]]), "one training row, copied once"


@_overlap.hidden()
def overlap_random(rng: np.random.Generator, *, count: int) -> Iterator:
    """Random small-integer tables (so columns often share values) with planted copies."""
    for _ in range(count):
        d = int(rng.integers(1, 6))
        train = rng.integers(1, 5, size=(int(rng.integers(5, 60)), d)).astype(float)
        test = rng.integers(1, 5, size=(int(rng.integers(5, 40)), d)).astype(float) + 0.5
        planted = rng.choice(len(test), size=int(rng.integers(0, len(test) // 2 + 1)), replace=False)
        test[planted] = train[rng.integers(0, len(train), size=len(planted))]
        yield train, test, f"{len(planted)} planted copies, {d} feature(s)"


# ---- Exercise 5: a label-permutation baseline ---------------------------------------------------


def _chance(y_pred: np.ndarray, y: np.ndarray) -> float:
    """The mean accuracy of y_pred against a uniformly random permutation of y."""
    classes = np.union1d(y_pred, y)
    return float(sum(np.mean(y_pred == c) * np.mean(y == c) for c in classes))


PERMUTATION_HINT = ("the baseline scores the same predictions against n_permutations shuffles of the labels (each a "
                    "permutation of y, drawn from one generator seeded with `seed`); the p-value counts the real "
                    "labelling among the candidates.")


def _permutation_case(permutation_test, y_pred: np.ndarray, y: np.ndarray, n_permutations: int, seed: int) -> None:
    n = len(y)
    name = f"permutation_test(y_pred, y, n_permutations={n_permutations}, seed={seed}) on {n} labels"
    got = g.items(g.call(permutation_test, y_pred.copy(), y.copy(), n_permutations, seed), 2,
                  f"{name} should return a pair (p_value, baseline)")
    p = _number(got[0], "the p-value")
    baseline = g.to_float64(got[1], "the baseline accuracies")
    g.check_true(baseline.shape == (n_permutations,), f"{name}: the baseline should hold one accuracy per "
                 f"permutation, shape ({n_permutations},); got shape {baseline.shape}.")
    steps = baseline * n
    g.check_true(bool(np.all(np.abs(steps - np.round(steps)) < 1e-6) and np.all((baseline >= 0) & (baseline <= 1))),
                 f"{name}: each baseline value should be an accuracy on {n} labels, a multiple of 1/{n} between 0 and "
                 f"1; got values such as {baseline[:3].tolist()}.")
    acc = float(np.mean(y_pred == y))
    mu = _chance(y_pred, y)
    shuffles = g.seeded(seed + 1)
    ref = np.array([np.mean(y_pred == shuffles.permutation(y)) for _ in range(2000)])
    spread = float(ref.std())
    mean = float(baseline.mean())
    band = 5 * spread / math.sqrt(n_permutations) + 1e-9
    g.check_true(bool(spread < 1e-9 or baseline.std() > 0), f"{name}: every baseline accuracy is {baseline[0]:.4f}: "
                 "each entry should come from a new shuffle of the labels, but these all scored the same. Was a new "
                 "generator seeded with `seed` made for every permutation? Make one, and draw each permutation from "
                 f"it.\nhint: {PERMUTATION_HINT}")
    if abs(mean - mu) > band:
        if abs(mean - acc) <= band:
            why = ("the baseline scores as well as the real labels: were the predictions shuffled together with the "
                   "labels, or the labels not shuffled at all? Shuffle the labels only, keep y_pred as it is.")
        elif abs(mean - 1 / len(np.unique(y))) <= band:
            why = ("the baseline is near 1/C, the score of uniformly random labels; a permutation keeps the class "
                   "frequencies of y, so its chance level depends on them.")
        else:
            why = None
        g.check_true(False, f"{name}: the baseline accuracies average {mean:.4f}; scoring y_pred against shuffled "
                     f"labels should average {mu:.4f} (within {band:.4f}), the chance level of these predictions. "
                     f"The real labels score {acc:.4f}." + (f"\nlikely mistake: {why}" if why else "")
                     + f"\nhint: {PERMUTATION_HINT}")
    g.check_true(bool(abs(float(baseline.std()) - spread) <= 0.35 * spread + 1e-9),
                 f"{name}: the baseline accuracies spread with a standard deviation of {float(baseline.std()):.4f}; "
                 f"accuracies against random permutations of y spread by about {spread:.4f}. Draw a new "
                 f"permutation for every entry.\nhint: {PERMUTATION_HINT}")
    expected = (1 + int(np.sum(baseline >= acc - 1e-12))) / (n_permutations + 1)
    at_least = int(np.sum(baseline >= acc - 1e-12))
    slips = [(at_least / n_permutations, "the real labelling is one of the candidates too: count it in both the "
                                         "numerator and the denominator, so a p-value is never 0."),
             ((1 + int(np.sum(baseline > acc + 1e-12))) / (n_permutations + 1),
              "a shuffle that scores exactly as well as the real labels counts against them: 'at least as well'."),
             (1 - expected, "this is the fraction of shuffles that score worse; the p-value counts those at least as "
                            "good.")]
    g.check_array(f"{name}: the p-value", p, expected, rtol=1e-9, slips=slips, explain=False,
                  hint=f"the real labels score {acc:.4f} and {at_least} of the {n_permutations} shuffles score at "
                       "least as well; the p-value is the fraction of candidates, the real labelling included, that "
                       "score at least as well as the real labels.")
    again = g.items(g.call(permutation_test, y_pred.copy(), y.copy(), n_permutations, seed), 2,
                    f"{name} should return a pair (p_value, baseline)")
    g.check_true(bool(np.array_equal(g.to_float64(again[1], "the baseline"), baseline)),
                 f"{name}: a second call with the same seed gave a different baseline. Draw every permutation "
                 f"from np.random.default_rng(seed), so that the result can be reproduced.")


_permutation = twins(_permutation_case, passed="permutation_test scores the predictions against shuffled labels "
                                               "and counts the p-value")


@_permutation.visible()
def permutation() -> Iterator:
    """Predictions good on unbalanced labels (p small), and predictions unrelated to the labels (p large)."""
    y = np.array([0] * 28 + [1] * 8 + [2] * 4)
    good = y.copy()
    good[[0, 1, 30, 37]] = [1, 2, 0, 0]                       # 36 of 40 right; chance is about 0.54
    yield good, y, 300, 0
    unrelated = g.seeded(11).permutation(y)                   # shuffled labels: chance level, p far from 0
    yield unrelated, y, 300, 1


@_permutation.hidden()
def permutation_random(rng: np.random.Generator, *, count: int) -> Iterator:
    """Random class counts and frequencies, predictions from right to unrelated."""
    for _ in range(count):
        n, C = int(rng.integers(20, 120)), int(rng.integers(2, 6))
        y = rng.choice(C, size=n, p=rng.dirichlet(np.ones(C)))
        y_pred = np.where(rng.random(n) < rng.uniform(0, 1), y, rng.integers(0, C, size=n))
        yield y_pred, y, int(rng.integers(200, 500)), int(rng.integers(0, 10_000))
