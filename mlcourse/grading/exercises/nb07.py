"""Checks of 07-generalization: ridge regression, early stopping, model selection, k-fold cross-validation,
the test set once.

The learner's answers work on polynomials of ``u = x / 3`` fitted by least squares, with the
notebook's helpers (``poly_features``, ``fit_polynomial``...). The checks recompute every expected
value here with their own copy of those helpers, so no expected number comes from the kernel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import checks as g
from ..errors import GradingError
from ..heldout import reading_error
from ..remote import make
from . import check, nb01

# The judge's splits (mlcourse.grading.heldout): test part handed over once, or not at all.
ONCE, SEALED = "mlcourse.grading.heldout.once", "mlcourse.grading.heldout.sealed"
# Many calls of one learner function in few requests (``grading.checks.calls``).
CALLS = "mlcourse.grading.kernelside.calls.Caller"

NOISE = 0.3                      # the notebook's noise level: sigma^2 = 0.09 is the noise floor
FRACTIONS = (0.5, 0.25, 0.25)    # 80 examples -> 40 / 20 / 20
VISIBLE_SEED = 12                # the data set of the visible selection and final checks
CANDIDATES = list(range(16))     # a list, not a range: learner code receives plain data only


# ---- the reference side: polynomials of u = x / 3 -----------------------------------------------


def _features(X: np.ndarray, degree: int) -> np.ndarray:
    """(n, 1) inputs -> (n, degree + 1) features 1, u, ..., u^degree, as the notebook's poly_features."""
    u = X[:, 0] / 3.0
    return u[:, None] ** np.arange(degree + 1)


def _fit(X: np.ndarray, y: np.ndarray, degree: int) -> np.ndarray:
    w, *_ = np.linalg.lstsq(_features(X, degree), y, rcond=None)
    return w


def _error(w: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((_features(X, len(w) - 1) @ w - y) ** 2))


def _data(n: int, kind: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from mlcourse.data import make_regression

    return make_regression(n, kind=kind, noise=NOISE, seed=seed)


def _parts(X: np.ndarray, y: np.ndarray, fractions: Sequence[float], seed: int) -> dict:
    """The split the learner receives, read here: ``{"train": (X, y), "val": ..., "test": ..., "indices": ...}``."""
    from mlcourse.data import train_val_test_split

    indices = train_val_test_split(X, y, fractions=tuple(fractions), seed=seed).indices
    return {name: (X[idx], y[idx]) for name, idx in indices.items()} | {"indices": indices}


def _select(parts: dict, candidates: Sequence[int]) -> int:
    """The reference choice: the lowest validation MSE of a fit on train, the first on ties."""
    (X_t, y_t), (X_v, y_v) = parts["train"], parts["val"]
    errors = [_error(_fit(X_t, y_t, d), X_v, y_v) for d in candidates]
    return int(list(candidates)[int(np.argmin(errors))])


def _show(a: np.ndarray) -> str:
    """Whole numbers as integers: a degree 4, a pair (2, 5)."""
    if a.size > 8:
        return f"an array of shape {a.shape}"
    if a.ndim == 0:
        return f"{int(a)}" if float(a).is_integer() else f"{float(a):.6g}"
    return "(" + ", ".join(_show(x) for x in a) + ")"


def _check_whole(name: str, got: np.ndarray, expected: Sequence[int] | int, *, case: str,
                 hint: str | None) -> None:
    """Exact equality of small whole numbers (epochs, degrees), without check_equal's diagnosis of
    factors and zeros, which means nothing for an epoch or a degree."""
    e = np.asarray(expected, dtype=np.float64)
    same = got.shape == e.shape and bool((got == e).all())
    g.check_true(same, "\n".join([f"`{name}` ({case}): wrong value.", f"  expected: {_show(e)}",
                                  f"  got:      {_show(got)}"] + ([f"hint: {hint}"] if hint else [])))


# ---- Exercise 1: fit_ridge --------------------------------------------------------------------

RIDGE_HINT = ("solve (A.T @ A / n + weight_decay * np.eye(degree + 1)) w = A.T @ y / n. Common slips: ignoring "
              "weight_decay; adding weight_decay without the identity matrix (that adds it to every entry of the "
              "matrix, not just the diagonal); dividing only one side by n.")


def _ridge_weights(fit_ridge, X: np.ndarray, y: np.ndarray, degree: int, weight_decay: float) -> np.ndarray:
    w = g.to_float64(g.call(fit_ridge, X.copy(), y.copy(), degree, weight_decay), "fit_ridge's result")
    g.check_true(w.shape == (degree + 1,),
                 f"fit_ridge(X, y, degree={degree}, ...) should return the {degree + 1} weights "
                 f"w_0..w_{degree} as an array of shape ({degree + 1},).")
    return w


def _random_data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    X = rng.uniform(-3, 3, size=(n, 1))
    return X, np.sin(X[:, 0]) + 0.3 * rng.standard_normal(n)


@check()
def ridge_zero(fit_ridge):
    """Without weight decay fit_ridge is least squares: five points on a line, fitted with a quadratic."""
    # Five points on the line y = 1 + 2u (u = x / 3): the exact answer is w = [1, 2, 0].
    X_line = np.array([[-3.0], [-1.5], [0.0], [1.5], [3.0]])
    y_line = 1 + 2 * X_line[:, 0] / 3
    g.check_array("fit_ridge(X_line, y_line, degree=2, weight_decay=0)",
                  _ridge_weights(fit_ridge, X_line, y_line, 2, 0.0), [1.0, 2.0, 0.0], rtol=1e-8, atol=1e-8,
                  hint="with weight_decay = 0 the system is (A.T @ A / n) w = A.T @ y / n, plain least "
                       "squares: both sides need the same 1/n.")
    g.passed("without weight decay, fit_ridge is least squares")


@check()
def ridge_zero_random(fit_ridge, *, seed: int, count: int):
    """``count`` random data sets (20 to 79 points, degree 0 to 8) with weight_decay = 0, against least squares."""
    rng = g.seeded(seed)
    for _ in range(count):
        n, degree = int(rng.integers(20, 80)), int(rng.integers(0, 9))
        X, y = _random_data(rng, n)
        g.check_array(f"fit_ridge(X, y, degree={degree}, weight_decay=0) on {n} random points",
                      _ridge_weights(fit_ridge, X, y, degree, 0.0), _fit(X, y, degree), rtol=1e-6, atol=1e-8,
                      hint="with weight_decay = 0 the answer is the least-squares fit, fit_polynomial's.")
    g.passed("without weight decay, fit_ridge is least squares on random data too")


@check()
def ridge_decay(fit_ridge):
    """Hand-solved cases: a penalised constant, the same data duplicated, a penalised line."""
    # A constant model (degree 0) on y = [1, 3]: J(w) = ((w - 1)^2 + (w - 3)^2) / 2 + lambda * w^2.
    # Without decay the best constant is the mean, 2. With lambda = 1: (1 + 1) w = 2, so w = 1.
    X_two, y_two = np.array([[0.0], [1.0]]), np.array([1.0, 3.0])
    got = _ridge_weights(fit_ridge, X_two, y_two, 0, 1.0)
    g.check_array("fit_ridge(X_two, y_two, degree=0, weight_decay=1)", got, [1.0], hint=RIDGE_HINT, slips=[
        ([2.0], "2 is the mean of y, the answer without weight decay: weight_decay is not used."),
        ([4 / 3], "4/3 solves (A.T @ A + lambda I) w = A.T @ y: the data term lost its 1/n, so the penalty counts "
                  "relatively less the more examples there are."),
        ([2 / 3], "2/3 solves (A.T @ A + lambda I) w = A.T @ y / n: 1/n on one side only.")])
    # The same two points, each twice: J is a mean over examples, so the answer must not change.
    g.check_array("fit_ridge on the two points duplicated, weight_decay=1",
                  _ridge_weights(fit_ridge, np.repeat(X_two, 2, axis=0), np.repeat(y_two, 2), 0, 1.0), [1.0],
                  hint="the data term is a mean, so duplicating every example must not change the answer. "
                       + RIDGE_HINT)
    # A line through (-3, 0) and (3, 2): u = -1 and 1, so A = [[1, -1], [1, 1]] and A.T A / n = I.
    # With lambda = 1: 2 w = A.T y / n = [1, 1], so w = [0.5, 0.5].
    got = _ridge_weights(fit_ridge, np.array([[-3.0], [3.0]]), np.array([0.0, 2.0]), 1, 1.0)
    g.check_array("fit_ridge([[-3], [3]], [0, 2], degree=1, weight_decay=1)", got, [0.5, 0.5], hint=RIDGE_HINT,
                  slips=[([1 / 3, 1 / 3], "weight_decay was added to every entry of A.T @ A / n (numpy broadcasts "
                                          "a number onto the whole matrix); add weight_decay * np.eye(degree + 1) "
                                          "to put it on the diagonal only."),
                         ([1.0, 1.0], "that is the least-squares answer: weight_decay is not used.")])
    g.passed("fit_ridge minimises the mean squared error plus the weight-decay penalty")


@check()
def ridge_decay_random(fit_ridge, *, seed: int, count: int):
    """``count`` random data sets (10 to 79 points, degree 0 to 15, lambda from 1e-6 to 10) against an
    independent route to the same minimiser."""
    rng = g.seeded(seed)
    for _ in range(count):
        n, degree = int(rng.integers(10, 80)), int(rng.integers(0, 16))
        lam = float(10 ** rng.uniform(-6, 1))
        X, y = _random_data(rng, n)
        # least squares on [A; sqrt(n lambda) I] w = [y; 0] has the same minimiser as the ridge system
        A_aug = np.vstack([_features(X, degree), np.sqrt(n * lam) * np.eye(degree + 1)])
        expected, *_ = np.linalg.lstsq(A_aug, np.concatenate([y, np.zeros(degree + 1)]), rcond=None)
        g.check_array(f"fit_ridge(X, y, degree={degree}, weight_decay={lam:.3g}) on {n} random points",
                      _ridge_weights(fit_ridge, X, y, degree, lam), expected, rtol=1e-5, atol=1e-8,
                      hint=RIDGE_HINT)
    g.passed("fit_ridge minimises the penalised error on random data sets")


# ---- Exercise 2: early_stopping_epoch ---------------------------------------------------------

# (val_losses, patience, min_delta, (best_epoch, stopped_epoch), case)
STOPPING_CASES = [
    # The notebook's example: improvements at epochs 0, 1, 2; epochs 3, 4, 5 do not -> stop after 5, keep 2.
    ([1.0, 0.8, 0.6, 0.65, 0.7, 0.75, 0.72, 0.5], 3, 0.0, (2, 5), "the worked example"),
    # A curve that keeps improving: patience never runs out; the last epoch (4) is also the best.
    ([1.0, 0.9, 0.8, 0.7, 0.6], 2, 0.0, (4, 4), "a curve that keeps improving"),
    # Ties do not improve: epochs 2 and 3 repeat 0.9 -> stop after epoch 3, keep epoch 1.
    ([1.0, 0.9, 0.9, 0.9, 0.5], 2, 0.0, (1, 3), "ties"),
    # patience=1: stop at the first epoch that does not improve.
    ([1.0, 0.5, 0.6, 0.4], 1, 0.0, (1, 2), "patience 1"),
]
MIN_DELTA_CASES = [
    # 0.95, 0.94 and 0.93 are below 1.0, but not by more than 0.1 -> none improves -> stop after 3, keep 0.
    ([1.0, 0.95, 0.94, 0.93, 0.92, 0.5], 3, 0.1, (0, 3), "small gains below min_delta"),
    # 0.9 improves on 1.0 (by 0.1), 0.87 does not improve on 0.9, 0.8 does (by 0.1).
    ([1.0, 0.9, 0.87, 0.8, 0.79, 0.78], 2, 0.05, (3, 5), "gains above and below min_delta"),
]


def _reference_stopping(val_losses: Sequence[float], patience: int, min_delta: float) -> tuple[int, int]:
    """The rule of mlcourse.train.fit (``EarlyStopping``), replayed over a list of losses."""
    from mlcourse.train import EarlyStopping

    best, stopped = EarlyStopping(patience=patience, min_delta=min_delta).replay(val_losses)
    return (0 if best is None else best), (len(val_losses) - 1 if stopped is None else stopped)


def _stopping_hint(got: np.ndarray, expected: tuple[int, int], n_epochs: int, patience: int,
                   min_delta: float) -> str | None:
    """The likely slip behind a wrong (best_epoch, stopped_epoch)."""
    best, stop = expected
    if got[1] == n_epochs - 1 and stop < n_epochs - 1 and got[1] != stop + 1:
        return f"you never stopped: after {patience} epochs in a row without improvement, training ends." + (
            f" With min_delta = {min_delta}, an epoch improves only if its loss is below the best so far by "
            "more than min_delta." if min_delta > 0 else "")
    if got[1] == stop + 1:
        return ("you stop one epoch late: stop as soon as the count of epochs without improvement "
                "reaches patience (count >= patience), counting the epoch you are looking at.")
    if got[1] == stop - 1:
        return ("you stop one epoch early: stop when the count of epochs without improvement reaches patience, "
                "not patience - 1.")
    if got[0] == got[1] and best != stop:
        return "best_epoch should be the epoch of the best validation loss (the weights we keep), not the last epoch run."
    if got[0] != best:
        return (f"an epoch improves only if its loss < best so far - min_delta (here min_delta = {min_delta}); "
                "an equal loss is not an improvement.")
    return None


def _stopping_calls(early_stopping_epoch, cases: Sequence[tuple[list, int, float]]):
    """The learner's (best_epoch, stopped_epoch) for each (val_losses, patience, min_delta), in turn."""
    return g.calls(CALLS, early_stopping_epoch, [((list(v), p, d), {}) for v, p, d in cases])


def _check_stopped(got, val_losses: Sequence[float], patience: int, min_delta: float,
                   expected: tuple[int, int], case: str) -> None:
    got = g.to_float64(got, "(best_epoch, stopped_epoch)")
    g.check_true(got.shape == (2,), "early_stopping_epoch should return the pair (best_epoch, stopped_epoch); "
                                    f"expected 2 numbers, got an array of shape {got.shape}.")
    _check_whole(f"early_stopping_epoch(..., patience={patience}, min_delta={min_delta}) -> "
                 "(best_epoch, stopped_epoch)", got, expected, case=case,
                 hint=_stopping_hint(got, expected, len(val_losses), patience, min_delta))


def _random_curve(rng: np.random.Generator, length: int) -> list[float]:
    """A noisy U-shaped validation curve, rounded to 3 decimals so that ties happen."""
    t = np.arange(length)
    bottom = rng.uniform(0.2, 0.8) * length
    curve = 0.2 + (t - bottom) ** 2 / length ** 2 + rng.uniform(0, 0.05) * rng.standard_normal(length)
    return np.round(curve, 3).tolist()


@check()
def early_stopping(early_stopping_epoch):
    """The worked example, a curve that keeps improving, ties, and patience 1 (min_delta = 0)."""
    answers = _stopping_calls(early_stopping_epoch, [c[:3] for c in STOPPING_CASES])
    for (val_losses, patience, min_delta, expected, case), got in zip(STOPPING_CASES, answers, strict=True):
        _check_stopped(got, val_losses, patience, min_delta, expected, case)
    g.passed("early stopping stops after `patience` epochs without improvement and keeps the best epoch")


@check()
def early_stopping_min_delta(early_stopping_epoch):
    """Gains smaller and larger than min_delta."""
    answers = _stopping_calls(early_stopping_epoch, [c[:3] for c in MIN_DELTA_CASES])
    for (val_losses, patience, min_delta, expected, case), got in zip(MIN_DELTA_CASES, answers, strict=True):
        _check_stopped(got, val_losses, patience, min_delta, expected, case)
    g.passed("early stopping counts only improvements larger than min_delta")


@check()
def early_stopping_random(early_stopping_epoch, *, seed: int, count: int, min_deltas: Sequence[float]):
    """``count`` noisy U-shaped curves of 2 to 149 epochs, patience 1 to 14, min_delta drawn from
    ``min_deltas``, against the rule of mlcourse.train.fit."""
    rng = g.seeded(seed)
    cases = []
    for _ in range(count):
        curve = _random_curve(rng, int(rng.integers(2, 150)))
        patience = int(rng.integers(1, 15))
        min_delta = float(rng.choice(list(min_deltas)))
        cases.append((curve, patience, min_delta))
    for (curve, patience, min_delta), got in zip(cases, _stopping_calls(early_stopping_epoch, cases), strict=True):
        _check_stopped(got, curve, patience, min_delta, _reference_stopping(curve, patience, min_delta),
                       f"a random curve of {len(curve)} epochs")
    g.passed(f"early_stopping_epoch agrees with mlcourse.train's rule on {count} random curves")


# ---- Exercise 3: select_degree ----------------------------------------------------------------

NO_PEEKING = ("Model selection may use split.train and split.val only: a test set that helped choose the model "
              "no longer measures it honestly.")


def _with_noise_as_test(X: np.ndarray, y: np.ndarray, fractions: Sequence[float], seed: int,
                        variant: int = 0) -> tuple[np.ndarray, dict, dict]:
    """``y`` with its test targets replaced by unrelated noise; the real parts; the parts with the noise.

    Selection must not depend on the test part, so the learner never receives the real one: an
    answer that looks at it chooses by noise. ``variant`` picks another draw of the noise.
    """
    parts = _parts(X, y, fractions, seed)
    test = parts["indices"]["test"]
    y_noise = y.copy()
    y_noise[test] = 10 * g.seeded([seed, variant]).standard_normal(len(test))
    return y_noise, parts, _parts(X, y_noise, fractions, seed)


def _split_with_noise_as_test(like, X: np.ndarray, y: np.ndarray, fractions: Sequence[float], seed: int,
                              variant: int = 0):
    """The split of (X, y), built on the learner's side, whose test targets are noise (readable)."""
    y_noise, parts, noisy = _with_noise_as_test(X, y, fractions, seed, variant)
    return make(like, "mlcourse.data.Split", X, y_noise, parts["indices"]), parts, noisy


def _peeked(got: int, parts: dict, noisy: dict, candidates: Sequence[int]) -> bool:
    """Whether ``got`` is the choice of an answer that ranked the degrees on the (noise) test part,
    alone or pooled with validation, where the honest choice differs."""
    (X_t, y_t), (X_v, y_v), (X_s, y_s) = noisy["train"], noisy["val"], noisy["test"]
    pooled = (np.concatenate([X_v, X_s]), np.concatenate([y_v, y_s]))
    by = [int(list(candidates)[int(np.argmin([_error(_fit(X_t, y_t, d), *data) for d in candidates]))])
          for data in ((X_s, y_s), pooled)]
    return got != _select(parts, candidates) and got in by


def _chosen_degree(select_degree, split, candidates: Sequence[int]) -> int:
    got = g.to_float64(g.call(select_degree, split, list(candidates)), "select_degree's result")
    g.check_true(got.shape == () and float(got) in [float(c) for c in candidates],
                 f"select_degree should return one of the candidate degrees: expected one of {list(candidates)}, "
                 f"got {_show(got)}.")
    return int(got)


PEEKED = "you read split.test while selecting: choose by the error on split.val only."


@check()
def select(select_degree):
    """80 noisy sine examples, split 40 / 20 / 20: the validation MSE is lowest at degree 4."""
    X, y = _data(80, "sine", VISIBLE_SEED)
    split, parts, noisy = _split_with_noise_as_test(select_degree, X, y, FRACTIONS, VISIBLE_SEED)
    got = _chosen_degree(select_degree, split, CANDIDATES)
    hint = (PEEKED if _peeked(got, parts, noisy, CANDIDATES) else
            "that is the largest candidate: you ranked the degrees by their TRAINING error, which always "
            "prefers the most flexible model. Rank them by their error on split.val." if got == CANDIDATES[-1] else
            "fit each degree on split.train, compute mse(predict_polynomial(w, X_val), y_val), "
            "and return the degree with the smallest validation MSE.")
    _check_whole("select_degree(split, range(16))", np.array(float(got)), _select(parts, CANDIDATES),
                 case="80 noisy sine examples, split 40 / 20 / 20", hint=hint)
    g.passed("select_degree picks the degree with the lowest validation MSE")


@check()
def select_generalizes(select_degree, *, seed: int, kinds: Sequence[str]):
    """One data set of 80 examples per kind; the chosen degree, fitted on its training part, is scored
    on 2000 fresh examples: at most 1.25 x the reference choice's error."""
    rng = g.seeded(seed)
    for kind in kinds:
        data_seed = int(rng.integers(1_000_000))
        X, y = _data(80, kind, data_seed)
        split, parts, noisy = _split_with_noise_as_test(select_degree, X, y, FRACTIONS, data_seed)
        X_new, y_new = _data(2000, kind, data_seed + 1)
        X_t, y_t = parts["train"]
        reference = _error(_fit(X_t, y_t, _select(parts, CANDIDATES)), X_new, y_new)
        got = _chosen_degree(select_degree, split, CANDIDATES)
        g.check_in_band("the MSE on 2000 fresh examples of the degree you chose",
                        _error(_fit(X_t, y_t, got), X_new, y_new),
                        low=0.0, high=1.25 * reference, reference=reference,
                        what=f"(hidden {kind} data set, you chose degree {got})",
                        hint=PEEKED if _peeked(got, parts, noisy, CANDIDATES) else
                             "the band is [0, 1.25 x the reference's error]. Choose the degree with the lowest "
                             "validation MSE; the training MSE always prefers the most flexible model.")
    g.passed("select_degree picks a degree that generalizes")


def _no_peeking(select_degree, X: np.ndarray, y: np.ndarray, seed: int) -> None:
    """select_degree on a split with no test part at all (a read raises there), then on the same
    split with noise as its test part: no read, and the same choice."""
    indices = _parts(X, y, FRACTIONS, seed)["indices"]
    X_blank, y_blank = X.copy(), y.copy()   # the test rows never reach the learner's side here
    X_blank[indices["test"]], y_blank[indices["test"]] = np.nan, np.nan
    try:
        degree = _chosen_degree(select_degree, make(select_degree, SEALED, X_blank, y_blank, indices), CANDIDATES)
    except GradingError as err:
        if reading_error(err) is None:
            raise
        raise GradingError("select_degree read split.test (expected: no read at all). " + NO_PEEKING
                           + " Here it was handed a split whose test set cannot be read.") from None
    other_split, _, _ = _split_with_noise_as_test(select_degree, X, y, FRACTIONS, seed, variant=1)
    other = _chosen_degree(select_degree, other_split, CANDIDATES)
    g.check_true(other == degree, f"giving the split a test part changed your choice from degree "
                                  f"{degree} to {other} (expected the same choice): the test set must play no "
                                  "part in selection.")


@check()
def select_no_peeking(select_degree):
    """The visible data set: select_degree never reads split.test, and a test part leaves the choice alone."""
    _no_peeking(select_degree, *_data(80, "sine", VISIBLE_SEED), VISIBLE_SEED)
    g.passed("select_degree never looks at the test set")


@check()
def select_no_peeking_random(select_degree, *, seed: int, count: int):
    """The same on ``count`` data sets of 80 noisy sine examples."""
    rng = g.seeded(seed)
    for _ in range(count):
        data_seed = int(rng.integers(1_000_000))
        _no_peeking(select_degree, *_data(80, "sine", data_seed), data_seed)
    g.passed(f"select_degree never looks at the test set of {count} more data sets")


# ---- Exercise 4: final_test_error -------------------------------------------------------------


def _split(like, X: np.ndarray, y: np.ndarray, fractions: Sequence[float], seed: int):
    """The real split, built on the learner's side: the final score needs the true test targets."""
    return make(like, "mlcourse.data.train_val_test_split", X, y, fractions=tuple(fractions), seed=seed)


def _final_error(final_test_error, split, degree: int) -> float:
    got = g.to_float64(g.call(final_test_error, split, degree), "final_test_error's result")
    g.check_true(got.shape == (), f"final_test_error should return one number, the test MSE (expected "
                                  f"shape ()); got an array of shape {got.shape}.")
    return float(got)


def _final_scores(parts: dict, degree: int) -> dict[str, float]:
    """The test MSE of the right protocol, and what three slips would give instead."""
    (X_t, y_t), (X_v, y_v), (X_s, y_s) = parts["train"], parts["val"], parts["test"]
    w = _fit(np.concatenate([X_t, X_v]), np.concatenate([y_t, y_v]), degree)
    w_leaked = _fit(np.concatenate([X_t, X_v, X_s]), np.concatenate([y_t, y_v, y_s]), degree)
    return {"right": _error(w, X_s, y_s), "leaked": _error(w_leaked, X_s, y_s),
            "train_only": _error(_fit(X_t, y_t, degree), X_s, y_s), "on_val": _error(w, X_v, y_v)}


FINAL_HINT = "fit on np.concatenate of the train and validation inputs (and targets), then compute the MSE on split.test."


def _final_slips(scores: dict[str, float]) -> list[tuple[float, str]]:
    """The known slips of final_test_error, by the score each gives on this split."""
    return [(scores["leaked"], "the test examples were part of the fit: that is test-set leakage, and it makes "
                               "the score look better than it is. Fit on split.train and split.val only."),
            (scores["train_only"], "you fitted on split.train only: refit the chosen degree on train and "
                                   "validation combined (np.concatenate)."),
            (scores["on_val"], "this is the error on the validation set: score the final model on split.test.")]


@check()
def final(final_test_error):
    """The visible data set at degree 4: refit on train + validation, score on test."""
    X, y = _data(80, "sine", VISIBLE_SEED)
    scores = _final_scores(_parts(X, y, FRACTIONS, VISIBLE_SEED), 4)
    got = _final_error(final_test_error, _split(final_test_error, X, y, FRACTIONS, VISIBLE_SEED), 4)
    g.check_array("final_test_error(split, degree=4)", got, scores["right"], rtol=1e-6,
                  case="80 noisy sine examples, split 40 / 20 / 20", hint=FINAL_HINT, slips=_final_slips(scores))
    g.passed("final_test_error refits on train + validation and scores the test set")


@check()
def final_random(final_test_error, *, seed: int, kinds: Sequence[str], degrees: Sequence[int]):
    """One data set of 80 examples per kind, scored at the reference's chosen degree and at each of
    ``degrees``: within 5 % of the reference's test MSE on the same split."""
    rng = g.seeded(seed)
    for kind in kinds:
        data_seed = int(rng.integers(1_000_000))
        X, y = _data(80, kind, data_seed)
        parts = _parts(X, y, FRACTIONS, data_seed)
        for degree in sorted({_select(parts, CANDIDATES), *degrees}):
            reference = _final_scores(parts, degree)["right"]
            got = _final_error(final_test_error, _split(final_test_error, X, y, FRACTIONS, data_seed), degree)
            g.check_in_band(f"final_test_error(split, degree={degree})", got,
                            low=0.95 * reference, high=1.05 * reference, reference=reference,
                            what=f"on a hidden {kind} data set",
                            hint="the band is the reference's test MSE +- 5 %. Fit on train + validation only (a "
                                 "value below the band usually means the test set leaked into the fit), then "
                                 "score on split.test.")
    g.passed("final_test_error refits on train + validation and scores the test set of hidden data sets")


READ_ONCE = ("read it once: X_test, y_test = split.test (split.test[0] and split.test[1] are two reads), "
             "then use X_test and y_test.")


def _one_read(final_test_error, X: np.ndarray, y: np.ndarray, fractions: Sequence[float], seed: int,
              degree: int) -> None:
    """Two splits built on the learner's side whose test part is handed over once (a second read
    raises there), the same but for the test targets: exactly one read gives two different scores.
    An answer that never reads split.test gives the same number twice."""
    indices = _parts(X, y, fractions, seed)["indices"]
    y_other = y.copy()
    test = indices["test"]
    y_other[test] = y[test] + g.seeded([seed, degree, 7]).normal(0.0, 0.5, len(test))
    scores = []
    for targets in (y, y_other):
        try:
            scores.append(_final_error(final_test_error, make(final_test_error, ONCE, X, targets, indices), degree))
        except GradingError as err:
            if reading_error(err) != "twice":
                raise
            raise GradingError("final_test_error read split.test 2 times (expected exactly one read: the "
                               "second read is refused); "
                               + READ_ONCE) from None
    g.check_true(bool(np.all(np.isfinite(scores))),
                 f"final_test_error returned {scores[0]!r} and {scores[1]!r}; expected finite test MSEs.")
    g.check_true(scores[0] != scores[1],
                 f"final_test_error never read split.test (expected exactly one read): it returned {scores[0]:.6g} "
                 "for two splits that differ only in their test targets, so its score does not come from the test "
                 "set. Refit on train + validation, then score on split.test.")


@check()
def final_reads(final_test_error):
    """The visible data set at degree 4, on splits whose test part is handed over once: one read, used."""
    _one_read(final_test_error, *_data(80, "sine", VISIBLE_SEED), FRACTIONS, VISIBLE_SEED, 4)
    g.passed("final_test_error reads the test set exactly once")


@check()
def final_reads_random(final_test_error, *, seed: int, degrees: Sequence[int], n: int,
                       fractions: Sequence[float]):
    """The same on one data set of ``n`` sine examples for each of ``degrees``."""
    rng = g.seeded(seed)
    for degree in degrees:
        data_seed = int(rng.integers(1_000_000))
        _one_read(final_test_error, *_data(n, "sine", data_seed), fractions, data_seed, degree)
    g.passed("final_test_error reads the test set exactly once on other splits too")


# ---- Underfitting's three fixes: features, training, and reading the curves -------------------------


def _monomials(X: np.ndarray, degree: int) -> np.ndarray:
    """Every x1^a x2^b with 1 <= a + b <= degree: by total degree, then by falling power of x1."""
    return np.stack([X[:, 0] ** a * X[:, 1] ** (d - a)
                     for d in range(1, degree + 1) for a in range(d, -1, -1)], axis=1)


def _monomial_names(degree: int) -> list[str]:
    def term(a: int, b: int) -> str:
        parts = [f"x1^{a}" if a > 1 else "x1" if a else "", f"x2^{b}" if b > 1 else "x2" if b else ""]
        return "·".join(p for p in parts if p)
    return [term(a, d - a) for d in range(1, degree + 1) for a in range(d, -1, -1)]


def _check_features(polynomial_features, X: np.ndarray, degree: int, case: str) -> None:
    got = g.to_float64(g.call(polynomial_features, X.copy(), degree), "the feature matrix")
    expected = _monomials(X, degree)
    names = _monomial_names(degree)
    if got.shape == expected.shape:
        g.check_array(f"polynomial_features({case}, degree={degree})", got, expected, rtol=1e-12, atol=1e-12,
                      hint=f"the columns, in order: {', '.join(names)}.")
        return
    hint = f"expected {len(names)} columns ({', '.join(names)}), got {got.shape[-1] if got.ndim else 'a number'}"
    if got.ndim == 2 and got.shape[1] == len(names) + 1:
        hint += "; the extra one is probably a column of ones: leave it out, the model has its own bias b"
    elif got.ndim == 2 and degree >= 2 and got.shape[1] == 2 * degree:
        hint += "; powers of each input alone miss the cross terms such as x1·x2"
    g.check_true(False, f"polynomial_features({case}, degree={degree}): shape {got.shape}, expected "
                 f"{expected.shape}: {hint}.")


@check()
def features(polynomial_features):
    """Two points, degree 1, 2 and 3, by hand."""
    # (x1, x2) = (2, 3) and (-1, 0.5): degree 2 gives x1, x2, x1^2, x1·x2, x2^2 = 2, 3, 4, 6, 9 and -1, 0.5, 1, -0.5, 0.25.
    X = np.array([[2.0, 3.0], [-1.0, 0.5]])
    for degree in (1, 2, 3):
        _check_features(polynomial_features, X, degree, "[[2, 3], [-1, 0.5]]")
    g.passed("polynomial_features builds every monomial up to the degree, in order")


@check()
def features_random(polynomial_features, *, seed: int, cases: Sequence[tuple[int, int]]):
    """Random (n, 2) inputs for each (n, degree)."""
    rng = g.seeded(seed)
    for n, degree in cases:
        _check_features(polynomial_features, rng.normal(size=(n, 2)), degree, f"a random ({n}, 2) X")
    g.passed("polynomial_features agrees on random inputs")


def _logistic_loss(A: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, weight_decay: float) -> float:
    z = A @ w + b
    return float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * weight_decay * w @ w)


def _logistic_optimum(A: np.ndarray, y: np.ndarray, weight_decay: float) -> float:
    """The smallest value of the regularised logistic loss, by Newton's method (convex, so exact)."""
    n, d = A.shape
    Ab = np.hstack([A, np.ones((n, 1))])
    theta = np.zeros(d + 1)
    penalty = np.diag(np.r_[np.full(d, weight_decay), 0.0])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(Ab @ theta)))
        grad = Ab.T @ (p - y) / n + penalty @ theta
        hess = (Ab * (p * (1 - p))[:, None]).T @ Ab / n + penalty
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.max(np.abs(step)) < 1e-13:
            break
    return _logistic_loss(A, y, theta[:d], theta[d], weight_decay)


def _moons_problem(seed: int, n: int, degree: int) -> tuple[np.ndarray, np.ndarray]:
    from mlcourse.data import make_classification

    X, y = make_classification(n, kind="moons", noise=0.2, seed=seed)
    A = _monomials(X, degree)
    return (A - A.mean(axis=0)) / A.std(axis=0), y.astype(np.float64)


def _check_logistic(fit_logistic, A: np.ndarray, y: np.ndarray, *, lr: float, weight_decay: float, case: str) -> None:
    got = g.items(g.call(fit_logistic, A.copy(), y.copy(), lr=lr, weight_decay=weight_decay, tol=1e-9,
                           max_epochs=50_000), 3, "fit_logistic should return (w, b, losses)")
    w = g.to_float64(got[0], "w").ravel()
    b = float(g.to_float64(got[1], "b").ravel()[0]) if g.to_float64(got[1], "b").size == 1 else np.nan
    g.check_true(w.shape == (A.shape[1],) and np.isfinite(b),
                 f"fit_logistic({case}): w should have shape ({A.shape[1]},) and b be one number; got w of "
                 f"shape {w.shape} and b = {got[1]!r}.")
    losses = g.to_float64(got[2], "losses").ravel()
    reached = _logistic_loss(A, y, w, b, weight_decay)
    best = _logistic_optimum(A, y, weight_decay)
    g.check_true(bool(losses.size >= 2 and np.all(np.isfinite(losses))),
                 f"fit_logistic({case}): losses should hold the loss after each epoch, at least two of them; "
                 f"got {losses.size} values.")
    g.check_true(abs(losses[-1] - reached) <= 1e-6 * max(1.0, reached),
                 f"fit_logistic({case}): the last entry of losses is {losses[-1]:.6f}, but the loss of the w and "
                 f"b you returned is {reached:.6f}; they should agree: record the loss (with its weight-decay term) "
                 "after each step.")
    gap = (reached - best) / best
    epochs = losses.size
    g.check_true(gap <= 2e-3,
                 f"fit_logistic({case}, lr={lr}, weight_decay={weight_decay}): your training loss is {reached:.4f}, "
                 f"{gap:.1%} above the lowest this model can reach ({best:.4f}), after {epochs} epochs. "
                 + ("likely mistake: the model is undertrained: keep stepping until one epoch improves the loss by "
                    "less than tol (relative), not for a fixed number of epochs."
                    if np.all(np.diff(losses[-min(epochs, 20):]) < 0) and epochs < 1000 else
                    "likely mistake: a wrong gradient (the weight-decay term is weight_decay * w, the bias is not "
                    "decayed, and the data term is A.T @ (sigmoid(z) - y) / n)."))


@check()
def logistic(fit_logistic):
    """The notebook's problem: 300 moons, cubic features, lr 2, weight decay 1e-3."""
    A, y = _moons_problem(seed=0, n=300, degree=3)
    _check_logistic(fit_logistic, A, y, lr=2.0, weight_decay=1e-3, case="300 moons, cubic features")
    g.passed("fit_logistic trains until the loss stops falling, to the model's best")


@check()
def logistic_random(fit_logistic, *, seed: int, cases: Sequence[tuple[int, int, float]]):
    """For each (n, degree, weight decay): fresh moons."""
    rng = g.seeded(seed)
    for n, degree, weight_decay in cases:
        A, y = _moons_problem(seed=int(rng.integers(10_000)), n=n, degree=degree)
        _check_logistic(fit_logistic, A, y, lr=1.0, weight_decay=weight_decay,
                        case=f"{n} fresh moons, degree {degree}")
    g.passed("fit_logistic reaches the best loss on fresh problems")


FIXES = {
    "overfitting": "regularize: stop earlier, add weight decay or data, or reduce capacity",
    "underfitting, still learning": "train longer",
    "underfitting": "add capacity or better features",
    "good fit": "keep it, and score it once on the test set",
}


def _reference_diagnose(train: Sequence[float], val: Sequence[float], floor: float) -> tuple[str, str]:
    train, val = np.asarray(train, dtype=np.float64), np.asarray(val, dtype=np.float64)
    if val[-1] > 1.1 * val.min():
        verdict = "overfitting"
    elif train[-1] > 1.5 * floor:
        back = train[max(0, len(train) - 1 - max(1, len(train) // 5))]
        verdict = "underfitting, still learning" if train[-1] < 0.95 * back else "underfitting"
    else:
        verdict = "good fit"
    return verdict, FIXES[verdict]


def _curve(kind: str, rng: np.random.Generator, n: int, floor: float) -> tuple[list, list]:
    t = np.arange(1, n + 1)
    jitter = lambda: 1 + 0.01 * rng.standard_normal(n)  # noqa: E731
    if kind == "overfitting":
        turn = int(rng.integers(n // 5, n // 2))
        train = floor * (0.3 + 3.0 * np.exp(-t / (turn / 2)))
        val = floor * (1.1 + 3.0 * np.exp(-t / (turn / 2)) + 0.8 * np.clip(t - turn, 0, None) / n)
    elif kind == "still learning":
        train = floor * (1.2 + 4.0 * np.exp(-t / (2.0 * n)))
        val = train * 1.05
    elif kind == "too simple":
        train = floor * (3.0 + 2.0 * np.exp(-t / (n / 10)))
        val = train * 1.1
    else:  # a good fit: both settle near the floor
        train = floor * (0.9 + 2.0 * np.exp(-t / (n / 8)))
        val = floor * (1.05 + 2.0 * np.exp(-t / (n / 8)))
    return (train * jitter()).tolist(), (val * np.minimum(jitter(), 1.0) if kind != "overfitting" else val).tolist()


def _diagnosed(diagnose, cases: Sequence[tuple]):
    """The learner's answer for each (train, val, floor, ...) of ``cases``, in turn."""
    return g.calls(CALLS, diagnose, [((list(c[0]), list(c[1]), c[2]), {}) for c in cases])


def _verdict_variants(train: Sequence[float], val: Sequence[float], floor: float) -> set[str]:
    """The verdicts of every faithful reading of the contract: "the last fifth of the run" counted as n // 5,
    n / 5 rounded or rounded up (at least one epoch), back from the last error or from the one before it; each
    threshold moved by a little. One verdict: the run is unambiguous, and any careful answer must name it."""
    train, val = np.asarray(train, dtype=np.float64), np.asarray(val, dtype=np.float64)
    n, verdicts = len(train), set()
    for k in {max(1, n // 5), max(1, round(n / 5)), max(1, -(-n // 5))}:
        for back in (train[max(0, n - 1 - k)], train[max(0, n - k)] if k > 1 else train[max(0, n - 1 - k)]):
            for wiggle in (0.98, 1.0, 1.02):
                if val[-1] > (1 + 0.1 * wiggle) * val.min():
                    verdicts.add("overfitting")
                elif train[-1] > 1.5 * wiggle * floor:
                    still = train[-1] < (1 - 0.05 * wiggle) * back
                    verdicts.add("underfitting, still learning" if still else "underfitting")
                else:
                    verdicts.add("good fit")
    return verdicts


def _check_diagnose(got, train: Sequence[float], val: Sequence[float], floor: float, case: str) -> None:
    expected = _reference_diagnose(train, val, floor)
    ok = isinstance(got, (tuple, list)) and len(got) == 2 and tuple(got) == expected
    tail = lambda c: ", ".join(f"{v:.3g}" for v in c[-3:])  # noqa: E731
    g.check_true(ok, f"diagnose({case}; train ends {tail(train)}, validation ends {tail(val)} with its lowest "
                 f"{min(val):.3g}, floor {floor:g}) returned {got!r}; expected {expected!r}. Ask the questions in "
                 "order: has validation turned upward (its last error more than 10 % above its own lowest)? If not, "
                 "does training stay above 1.5 x the floor, and is it still falling (more than 5 % lower than one "
                 "fifth of the run earlier)? Return (verdict, FIXES[verdict]).")


@check()
def diagnose(diagnose):
    """Four short curves, one of each kind, with floor 1."""
    cases = {
        "overfitting": ([3, 2, 1.5, 1, 0.8, 0.6], [3.2, 2.3, 1.8, 1.6, 1.9, 2.2]),
        "a model still learning": ([10, 8, 6.5, 5, 4, 3.2], [10.5, 8.4, 6.8, 5.3, 4.2, 3.4]),
        "a model too simple": ([5, 3.4, 3.1, 3.05, 3.02, 3.0], [5.5, 3.7, 3.4, 3.36, 3.33, 3.3]),
        "a good fit": ([3, 1.6, 1.2, 1.05, 1.0, 0.98], [3.3, 1.8, 1.35, 1.2, 1.15, 1.14]),
    }
    runs = [(train, val, 1.0, case) for case, (train, val) in cases.items()]
    for (train, val, floor, case), got in zip(runs, _diagnosed(diagnose, runs), strict=True):
        _check_diagnose(got, train, val, floor, case)
    g.passed("diagnose names the four kinds of run")


@check()
def diagnose_random(diagnose, *, seed: int, count: int):
    """``count`` random curves of each kind, of random lengths and floors."""
    rng = g.seeded(seed)
    runs = []
    for _ in range(count):
        for kind in ("overfitting", "still learning", "too simple", "good fit"):
            floor, n = float(rng.uniform(0.05, 2.0)), int(rng.integers(20, 400))
            train, val = _curve(kind, rng, n, floor)
            while len(_verdict_variants(train, val, floor)) > 1:    # a borderline run tests a reading, not a rule
                train, val = _curve(kind, rng, n, floor)
            runs.append((train, val, floor, f"a random curve of {n} epochs"))
    for (train, val, floor, case), got in zip(runs, _diagnosed(diagnose, runs), strict=True):
        _check_diagnose(got, train, val, floor, case)
    g.passed("diagnose agrees on random learning curves")


# ---- k-fold cross-validation: kfold_indices (brought from 01) and cross_validate ----------------


@check()
def kfold(kfold_indices):
    """Notebook 01's visible check of ``kfold_indices``, for the copy brought into this notebook."""
    nb01.kfold(kfold_indices)


@check()
def kfold_random(kfold_indices, *, seed: int, cases: Sequence[tuple[int, int]]):
    """Notebook 01's hidden check of ``kfold_indices`` on ``(n, k)`` cases."""
    nb01.kfold_random(kfold_indices, seed=seed, cases=cases)


def _reference_folds(n: int, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    order = np.random.default_rng(seed).permutation(n)
    parts = np.array_split(order, k)
    return [(np.concatenate(parts[:i] + parts[i + 1:]), part) for i, part in enumerate(parts)]


def _cv(X: np.ndarray, y: np.ndarray, degree: int, folds, *, fit_rows: str = "train",
        score_rows: str = "val", pooled: bool = False) -> float:
    """The mean over folds of the validation MSE of a fit on the other folds; the keywords give the
    slips (fitting on every row, scoring the training rows, pooling the squared errors)."""
    scores, sizes = [], []
    for train_idx, val_idx in folds:
        rows = {"train": train_idx, "val": val_idx, "all": np.arange(len(y))}
        w = _fit(X[rows[fit_rows]], y[rows[fit_rows]], degree)
        scores.append(_error(w, X[rows[score_rows]], y[rows[score_rows]]))
        sizes.append(len(rows[score_rows]))
    return float(np.average(scores, weights=sizes) if pooled else np.mean(scores))


def _cv_slips(X: np.ndarray, y: np.ndarray, degree: int, folds) -> list[tuple[float, str]]:
    last_train, last_val = folds[-1]
    last = _error(_fit(X[last_train], y[last_train], degree), X[last_val], y[last_val])
    return [
        (_cv(X, y, degree, folds, fit_rows="all"),
         "each fold's fit saw its own validation rows (you fitted on all of X): fit on X[train_idx] only, "
         "or the validation error is a training error in disguise."),
        (_cv(X, y, degree, folds, score_rows="train"),
         "you scored each fit on its own training rows: score it on X[val_idx], y[val_idx]."),
        (last, "that is the last fold's validation MSE alone: average the k folds' MSEs."),
        (_cv(X, y, degree, folds, pooled=True),
         "that is the MSE of all validation rows pooled (folds weighted by their size): return the plain mean "
         "of the k folds' MSEs, one number per fold."),
    ]


def _check_cv(cross_validate, X: np.ndarray, y: np.ndarray, degree: int, folds, case: str) -> None:
    plain = [(np.asarray(t, dtype=np.int64), np.asarray(v, dtype=np.int64)) for t, v in folds]
    got = g.call(cross_validate, X.copy(), y.copy(), degree, plain)
    g.check_array(f"cross_validate(X, y, degree={degree}, folds)", got, _cv(X, y, degree, plain), rtol=1e-8,
                  case=case, slips=_cv_slips(X, y, degree, plain),
                  hint="for each (train_idx, val_idx): w = fit_polynomial(X[train_idx], y[train_idx], degree), "
                       "then the MSE of predict_polynomial(w, X[val_idx]) against y[val_idx]; return the mean of "
                       "the k MSEs as a float.")


@check()
def cross_validate(cross_validate):
    """Four points and two folds by hand, then 10 sine points in folds of 4, 3 and 3."""
    # A constant (degree 0) on y = 0, 2, 4, 10 with folds {0, 1} and {2, 3}: fitted on rows 2, 3 it predicts
    # 7, and rows 0, 1 score (49 + 25) / 2 = 37; fitted on rows 0, 1 it predicts 1: (9 + 81) / 2 = 45. Mean: 41.
    X = np.array([[-3.0], [-1.0], [1.0], [3.0]])
    y = np.array([0.0, 2.0, 4.0, 10.0])
    folds = [(np.array([2, 3]), np.array([0, 1])), (np.array([0, 1]), np.array([2, 3]))]
    _check_cv(cross_validate, X, y, 0, folds, case="y = 0, 2, 4, 10, two folds, degree 0: expected 41")
    X, y = _data(10, "sine", 7)
    _check_cv(cross_validate, X, y, 1, _reference_folds(10, 3, seed=0),
              case="10 sine points, 3 folds of 4, 3 and 3, degree 1")
    g.passed("cross_validate averages the validation MSE of every fold")


@check()
def cross_validate_random(cross_validate, *, seed: int, count: int):
    """``count`` data sets of 20 to 90 points, 2 to 10 folds, degrees 0 to 8."""
    rng = g.seeded(seed)
    for _ in range(count):
        n, k, degree = int(rng.integers(20, 91)), int(rng.integers(2, 11)), int(rng.integers(0, 9))
        X, y = _data(n, str(rng.choice(["sine", "cubic"])), int(rng.integers(1_000_000)))
        _check_cv(cross_validate, X, y, degree, _reference_folds(n, k, seed=int(rng.integers(1000))),
                  case=f"{n} random points, {k} folds, degree {degree}")
    g.passed(f"cross_validate agrees with the reference on {count} random data sets")


# ---- the prediction before the capacity sweep -----------------------------------------------------

PREDICTION_DEGREES = (1, 3, 15)    # the three fits the learner reasons about, on 30 noisy points of a sine


def _predicted_degree(value, name: str) -> int:
    g.written(value, name, f"one of the degrees {list(PREDICTION_DEGREES)}")
    got = g.to_float64(value, name)
    g.check_true(got.shape == () and float(got) in PREDICTION_DEGREES,
                 f"`{name}` should be one of the degrees {list(PREDICTION_DEGREES)}, got {value!r}.")
    return int(got)


def _prediction_words(name: str, got: int, expected: int) -> str:
    slips = {
        ("lowest_training_degree", 3): "degree 3 is the best *model* of the sine, but the training error does not "
                                       "ask for the best model: it rewards following the 30 points, noise included.",
        ("lowest_training_degree", 1): "a line is the fit with the fewest weights; fewer weights can only fit the "
                                       "training points worse, never better.",
        ("lowest_validation_degree", 15): "that is the lowest *training* error. On points it never saw, a fit that "
                                          "followed the noise of its 30 points pays for every wiggle.",
        ("lowest_validation_degree", 1): "a line cannot bend, and sin(x) on [-3, 3] bends twice: its error stays "
                                         "far above the noise floor however the points fall.",
    }
    why = {"lowest_training_degree": "a degree-15 polynomial can reproduce any degree-3 or degree-1 fit by setting "
                                     "its extra weights to 0, so least squares never does worse on its own points "
                                     "with more weights",
           "lowest_validation_degree": "the sine needs a curve that bends twice (a cubic can), but 16 weights for 30 "
                                       "noisy points follow the noise too"}[name]
    words = slips.get((name, got))
    return (f"`{name}` is {got}; expected {expected}." + (f"\nlikely mistake: {words}" if words else "")
            + f"\nhint: {why}.")


@check()
def capacity_prediction(lowest_training_degree, lowest_validation_degree):
    """The learner's two predictions for degrees 1, 3 and 15 against the reasoning of section 2."""
    for name, value, expected in [("lowest_training_degree", lowest_training_degree, 15),
                                  ("lowest_validation_degree", lowest_validation_degree, 3)]:
        got = _predicted_degree(value, name)
        g.check_true(got == expected, _prediction_words(name, got, expected))
    g.passed("the most flexible fit has the lowest training error; the one in between, the lowest error on new data")


@check()
def capacity_prediction_measured(lowest_training_degree, lowest_validation_degree, *, seed: int, count: int):
    """The experiment on ``count`` fresh data sets drawn from ``seed``: 30 training points of the notebook's noisy
    sine, each degree fitted by least squares and scored on them and on 2000 fresh points; the predictions must
    name the measured lowest of each."""
    train_pred = _predicted_degree(lowest_training_degree, "lowest_training_degree")
    val_pred = _predicted_degree(lowest_validation_degree, "lowest_validation_degree")
    rng = g.seeded(seed)
    for _ in range(count):
        data_seed = int(rng.integers(0, 2**31))
        X, y = _data(2030, "sine", data_seed)
        X_t, y_t, X_new, y_new = X[:30], y[:30], X[30:], y[30:]
        fits = {d: _fit(X_t, y_t, d) for d in PREDICTION_DEGREES}
        train_err = {d: _error(w, X_t, y_t) for d, w in fits.items()}
        new_err = {d: _error(w, X_new, y_new) for d, w in fits.items()}
        shown = lambda errs: ", ".join(f"degree {d}: {e:.3g}" for d, e in errs.items())  # noqa: E731
        for name, got, errs, where in [("lowest_training_degree", train_pred, train_err, "on its 30 training points"),
                                       ("lowest_validation_degree", val_pred, new_err, "on 2000 fresh points")]:
            measured = min(errs, key=errs.get)
            g.check_true(got == measured, f"on a fresh data set (seed {data_seed}) the MSE {where} is {shown(errs)}: "
                         f"the lowest is degree {measured}.\n" + _prediction_words(name, got, measured))
    g.passed(f"both predictions agree with the sweep measured on {count} fresh data sets")
