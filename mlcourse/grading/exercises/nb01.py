"""Checks of 01-data: a seeded disjoint split, a stratified split, standardization without leakage.

Exercises 2 and 5 take earlier exercises' functions as arguments (``split_fn``, ``fit``,
``apply``). Their checks hand in the course's versions instead (``kernelside.nb01``, built
on the learner's side with ``make``), so a slip in Exercise 1, 3 or 4 costs no points there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .. import checks as g
from ..kernelside.nb01 import reference_fit
from ..remote import make
from . import check, twins

SPLIT = "mlcourse.data.train_val_test_split"
STANDARDIZER = "mlcourse.data.Standardizer"
PARTS = ("train", "val", "test")
# The course's versions of earlier exercises, handed to later ones, built beside the learner's function.
HELPER = "mlcourse.grading.kernelside.nb01.reference_helper"


def _index_arrays(got: Any, fn_name: str) -> list[np.ndarray]:
    message = f"{fn_name} should return three index arrays: (train_idx, val_idx, test_idx)."
    return [g.to_float64(part, "an index array").ravel() for part in g.items(got, 3, message)]


def _helper(like: Any, name: str) -> Any:
    return make(like, HELPER, name)


# ---- Exercise 1: split_indices -----------------------------------------------------------------


def _check_sizes(split_indices: Callable, n: int, fractions: Sequence[float], seed: int = 0) -> None:
    parts = _index_arrays(g.call(split_indices, n, fractions, seed), "split_indices")
    sizes, target = np.array([part.size for part in parts]), n * np.asarray(fractions)
    g.check_true(bool(sizes.sum() == n), f"split_indices({n}, {fractions}): the parts hold "
                 f"{sizes.sum()} indices in total; expected n = {n}. Cut ONE shuffled permutation at two positions, "
                 "round(n * f_train) and round(n * (f_train + f_val)): the second cut counts from the start, "
                 "so the three pieces are consecutive and hold n indices together.")
    g.check_true(bool(np.all(np.abs(sizes - target) <= 1 + 1e-9)),
                 f"split_indices({n}, {fractions}): part sizes {sizes.tolist()}, but n * fractions = "
                 f"{np.round(target, 3).tolist()}; every part is expected within one example of its share. "
                 "Cut at round(n * f_train) and round(n * (f_train + f_val)) so rounding errors cannot pile up "
                 "in one part.")


_sizes = twins(_check_sizes, references=[SPLIT], passed="the parts have the right sizes")


@_sizes.visible()
def split_sizes() -> Iterator:
    """Part sizes for 10 examples as (0.6, 0.2, 0.2), and 13 as (0.7, 0.15, 0.15)."""
    # 10 examples as (0.6, 0.2, 0.2): exactly 6, 2 and 2.
    yield 10, (0.6, 0.2, 0.2)
    # 13 examples as (0.7, 0.15, 0.15): n * f = 9.1, 1.95, 1.95, so (9, 2, 2) is right and (9, 1, 3) is not.
    yield 13, (0.7, 0.15, 0.15)


@_sizes.hidden(passed="the parts have the right sizes for random n and fractions")
def split_sizes_random(rng: np.random.Generator, *, ns: Sequence[int],
                       fractions: Sequence[tuple[float, float, float]], random_fractions: int) -> Iterator:
    """Every n with every fractions, then ``random_fractions`` random n and fractions (mostly train)."""
    for n in ns:
        for f in fractions:
            yield n, tuple(f), int(rng.integers(1000))
    for _ in range(random_fractions):
        f = tuple(float(v) for v in rng.dirichlet([3.0, 1.0, 1.0]))
        yield int(rng.integers(5, 500)), f, int(rng.integers(1000))


def _check_partition(split_indices: Callable, n: int, fractions: Sequence[float], seed: int = 0) -> None:
    everything = np.concatenate(_index_arrays(g.call(split_indices, n, fractions, seed), "split_indices"))
    g.check_true(bool(np.all((everything == np.round(everything)) & (everything >= 0) & (everything < n))),
                 f"split_indices({n}, ...) returned values that are not whole numbers in 0..{n - 1}; "
                 "expected positions (indices) into the data, not the data itself.")
    counts = np.bincount(everything.astype(np.int64), minlength=n)
    twice, never = np.flatnonzero(counts > 1), np.flatnonzero(counts == 0)
    g.check_true(twice.size == 0, f"split_indices({n}, {fractions}, seed={seed}): indices {twice[:6].tolist()} "
                 "appear more than once (expected: each index in exactly one part), so the parts overlap and "
                 "the model would be tested on examples it trained on. Cut ONE shuffled permutation into three consecutive pieces, at round(n * f_train) "
                 "and round(n * (f_train + f_val)); drawing each part separately, or a second cut that lies "
                 "before the first, makes parts overlap.")
    g.check_true(never.size == 0, f"split_indices({n}, {fractions}, seed={seed}): indices {never[:6].tolist()} "
                 "are in no part; expected: every example lands in exactly one of train, val and test.")


_partition = twins(_check_partition, references=[SPLIT],
                    passed="train, val and test are disjoint and cover every example")


@_partition.visible()
def split_partition() -> Iterator:
    """Every index of 10 and of 20 examples lands in exactly one part."""
    yield 10, (0.6, 0.2, 0.2)
    yield 20, (0.7, 0.15, 0.15), 3


@_partition.hidden(passed="train, val and test are disjoint and cover every example, for random n and seeds")
def split_partition_random(rng: np.random.Generator, *, ns: Sequence[int],
                           fractions: Sequence[tuple[float, float, float]]) -> Iterator:
    """Every n with every fractions, each with a random seed."""
    for n in ns:
        for f in fractions:
            yield n, tuple(f), int(rng.integers(10_000))


def _check_seeded(split_indices: Callable, n: int, seed: int, other_seed: int) -> None:
    def parts_of(s: int) -> list[np.ndarray]:
        return _index_arrays(g.call(split_indices, n, (0.7, 0.15, 0.15), s), "split_indices")

    first, again, other = parts_of(seed), parts_of(seed), parts_of(other_seed)
    for name, a, b in zip(PARTS, first, again, strict=True):
        g.check_equal(f"the {name} indices of a second call with seed={seed}", b, a,
                      hint="the same seed must give the same split: draw the permutation from "
                           "np.random.default_rng(seed), not from np.random's global state.")
    g.check_true(not np.array_equal(first[0], other[0]),
                 f"seeds {seed} and {other_seed} gave the same training indices for n = {n}, expected different ones: "
                 "the split should be a shuffle that depends on the seed (rng.permutation(n)), "
                 "not the examples in their original order.")


_seeded = twins(_check_seeded, references=[SPLIT], passed="the split is shuffled and reproducible from its seed")


@_seeded.visible()
def split_seeded() -> Iterator:
    """Two calls with seed 0 agree on 50 examples; seed 1 gives a different shuffle."""
    yield {"n": 50, "seed": 0, "other_seed": 1}


@_seeded.hidden(passed="the split is shuffled and reproducible from its seed, for random seeds")
def split_seeded_random(rng: np.random.Generator, *, ns: Sequence[int]) -> Iterator:
    """For each n, a random seed s: s twice agrees, s + 1 differs."""
    for n in ns:
        s = int(rng.integers(100_000))
        yield {"n": n, "seed": s, "other_seed": s + 1}


# ---- Exercise 2: stratified_split_indices ------------------------------------------------------------


def _stratified_parts(stratified_split_indices: Callable, y: np.ndarray, fractions: Sequence[float],
                      seed: int) -> list[np.ndarray]:
    """The learner's three parts, split with the course's splitter, as positions in y."""
    got = g.call(stratified_split_indices, y.copy(), tuple(fractions), seed,
                 split_fn=_helper(stratified_split_indices, "split"))
    parts = _index_arrays(got, "stratified_split_indices")
    everything = np.concatenate(parts)
    g.check_true(bool(np.all((everything == np.round(everything)) & (everything >= 0) & (everything < len(y)))),
                 f"stratified_split_indices returned values that are not positions 0..{len(y) - 1} in y, as expected: "
                 "did you return positions within one class (from split_fn) without translating them back "
                 "(members[idx]), or the labels instead of positions?")
    return [part.astype(np.int64) for part in parts]


def _labels(rng: np.random.Generator, class_sizes: Sequence[int]) -> np.ndarray:
    """Shuffled labels 0..C-1 with class_sizes[c] examples of class c."""
    return rng.permutation(np.repeat(np.arange(len(class_sizes)), class_sizes))


def _check_stratified_partition(stratified_split_indices: Callable, y: np.ndarray,
                                fractions: Sequence[float], seed: int) -> None:
    parts = _stratified_parts(stratified_split_indices, y, fractions, seed)
    counts = np.bincount(np.concatenate(parts), minlength=len(y))
    twice, never = np.flatnonzero(counts > 1), np.flatnonzero(counts == 0)
    g.check_true(twice.size == 0, f"positions {twice[:6].tolist()} of y appear more than once (expected: each position in exactly "
                 "one part): the parts overlap. split_fn returns positions 0..n_c-1 within one class; translate them with members[idx].")
    g.check_true(never.size == 0, f"positions {never[:6].tolist()} of y are in no part; expected: every example in "
                 "exactly one. Split every class (np.unique(y)) and return only after the loop over the classes.")


_stratified_partition = twins(_check_stratified_partition, references=[SPLIT],
                               passed="the stratified parts are disjoint and cover every example")


@_stratified_partition.visible()
def stratified_partition() -> Iterator:
    """60, 30 and 10 examples of classes 0, 1, 2: each lands in exactly one part."""
    yield np.repeat([0, 1, 2], [60, 30, 10]), (0.6, 0.2, 0.2), 0


@_stratified_partition.hidden(passed="the stratified parts are disjoint and cover every example, for random labels")
def stratified_partition_random(rng: np.random.Generator, *, class_sizes: Sequence[Sequence[int]],
                                fractions: Sequence[float] = (0.7, 0.15, 0.15)) -> Iterator:
    """Shuffled labels with each list of class sizes, each with a random seed."""
    for sizes in class_sizes:
        y = _labels(rng, sizes)
        yield y, fractions, int(rng.integers(1000))


def _check_proportions(stratified_split_indices: Callable, y: np.ndarray, fractions: Sequence[float],
                       seed: int) -> None:
    parts = _stratified_parts(stratified_split_indices, y, fractions, seed)
    for c in np.unique(y):
        n_c = int(np.sum(y == c))
        for name, part, f in zip(PARTS, parts, fractions, strict=True):
            held = int(np.sum(y[part] == c))
            g.check_true(abs(held - n_c * f) <= 1 + 1e-9,
                         f"class {c} has {n_c} examples, so the {name} part is expected to hold about {n_c} * {f} = "
                         f"{n_c * f:g} of them (within one); yours holds {held}. Split each class's members "
                         "separately.")


_proportions = twins(_check_proportions, references=[SPLIT],
                      passed="every class keeps its share in train, val and test")


@_proportions.visible()
def stratified_proportions() -> Iterator:
    """Classes of 60, 30 and 10 examples as (0.6, 0.2, 0.2): each class keeps its share."""
    # Class 2 has 10 examples: 6 for train, 2 for validation, 2 for test. A plain split often leaves val with 0 or 4.
    yield np.repeat([0, 1, 2], [60, 30, 10]), (0.6, 0.2, 0.2), 0


@_proportions.hidden(passed="every class keeps its share in train, val and test, for random labels")
def stratified_proportions_random(rng: np.random.Generator, *,
                                  cases: Sequence[tuple[Sequence[int], Sequence[float]]]) -> Iterator:
    """Shuffled labels for each (class sizes, fractions) case, each with a random seed."""
    for sizes, fractions in cases:
        y = _labels(rng, sizes)
        yield y, tuple(fractions), int(rng.integers(1000))


# ---- Exercise 3: fit_standardizer ------------------------------------------------------------------

STD_HINT = "one std per column (axis=0), the population std: np.std's default ddof=0."


def _fitted(fit_standardizer: Callable, X: np.ndarray) -> list:
    return g.items(g.call(fit_standardizer, X.copy()), 2, "fit_standardizer should return the pair (mean, std).")


@check(references=[STANDARDIZER])
def fit_standardizer(fit_standardizer: Callable) -> None:
    """Column means and stds of a (2, 2) X by hand, and std 1 for a constant column."""
    # Column 0 holds 1 and 3: mean 2, std sqrt(((1-2)^2 + (3-2)^2) / 2) = 1.
    # Column 1 holds 4 and 8: mean 6, std 2.
    mean, std = _fitted(fit_standardizer, np.array([[1.0, 4.0], [3.0, 8.0]]))
    g.check_array("mean of [[1, 4], [3, 8]]", mean, [2.0, 6.0],
                  hint="one mean per column: average over the examples, axis=0.")
    g.check_array("std of [[1, 4], [3, 8]]", std, [1.0, 2.0], hint=STD_HINT)
    # A constant column (here 5, 5, 5) has std 0; use 1 instead, so standardizing only centres it.
    mean, std = _fitted(fit_standardizer, np.array([[1.0, 5.0], [2.0, 5.0], [6.0, 5.0]]))
    g.check_array("std of a data set whose column 1 is constant", std, [np.std([1.0, 2.0, 6.0]), 1.0],
                  hint="a column with std 0 gets std 1, so nothing is divided by zero.")
    g.passed("fit_standardizer learns the column means and standard deviations")


@check(references=[STANDARDIZER])
def fit_standardizer_random(fit_standardizer: Callable, *, seed: int, shapes: Sequence[tuple[int, int]]) -> None:
    """Random (n, d) data on very different scales, column 1 constant when d > 1, against
    mlcourse.data.Standardizer."""
    from mlcourse.data import Standardizer

    rng = g.seeded(seed)
    for n, d in shapes:
        X = rng.normal(size=(n, d)) * rng.uniform(0.1, 100, size=d) + rng.uniform(-50, 50, size=d)
        if d > 1:
            X[:, 1] = 3.25
        reference = Standardizer().fit(X)
        mean, std = _fitted(fit_standardizer, X)
        g.check_array(f"mean of a random ({n}, {d}) X", mean, reference.mean_, rtol=1e-9, sizes=[n])
        g.check_array(f"std of a random ({n}, {d}) X", std, reference.std_, rtol=1e-9, sizes=[n],
                      hint="the population std per column (ddof=0), 1.0 for a constant column.")
    g.passed("fit_standardizer agrees with mlcourse.data.Standardizer on random data")


# ---- Exercise 4: apply_standardizer ------------------------------------------------------------------


@check(references=[STANDARDIZER])
def apply_standardizer(apply_standardizer: Callable) -> None:
    """A (3, 2) X with given statistics, by hand."""
    # Column 0: mean 3, std 2, so 1, 3, 5 become -1, 0, 1.  Column 1: mean 10, std 3, so 10, 10, 13 become 0, 0, 1.
    X = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 13.0]])
    got = g.call(apply_standardizer, X, np.array([3.0, 10.0]), np.array([2.0, 3.0]))
    g.check_array("apply_standardizer(X, mean=[3, 10], std=[2, 3])", got, [[-1.0, 0.0], [0.0, 0.0], [1.0, 1.0]],
                  hint="first subtract the mean, then divide by the std: (X - mean) / std.")
    g.passed("apply_standardizer rescales every column")


@check(references=[STANDARDIZER])
def apply_standardizer_random(apply_standardizer: Callable, *, seed: int,
                              shapes: Sequence[tuple[int, int]]) -> None:
    """Random (m, d) X, means and positive stds."""
    rng = g.seeded(seed)
    for m, d in shapes:
        X = rng.normal(scale=10.0, size=(m, d))
        mean, std = rng.normal(size=d), rng.uniform(0.5, 5.0, size=d)
        got = g.call(apply_standardizer, X.copy(), mean.copy(), std.copy())
        g.check_array(f"apply_standardizer on a random ({m}, {d}) X", got, (X - mean) / std,
                      hint="(X - mean) / std, column by column.")
    g.passed("apply_standardizer rescales every column of random data")


# ---- Exercise 5: standardize_splits ------------------------------------------------------------------


def _check_no_leak(standardize_splits: Callable, X_train: np.ndarray, X_val: np.ndarray, X_test: np.ndarray,
                   case: str) -> None:
    got = g.call(standardize_splits, X_train.copy(), X_val.copy(), X_test.copy(),
                 fit=_helper(standardize_splits, "fit"), apply=_helper(standardize_splits, "apply"))
    parts = g.items(got, 3, "standardize_splits should return three arrays: (X_train_s, X_val_s, X_test_s).")
    mean, std = reference_fit(X_train)
    for name, part, X_part in zip(PARTS, parts, [X_train, X_val, X_test], strict=True):
        g.check_array(f"the standardized {name} part", part, (X_part - mean) / std, case=case,
                      hint="fit the statistics on X_train ONLY, then apply those same mean and std to all three "
                           "parts. Statistics computed on all the data let the test set leak into training.")


_no_leak = twins(_check_no_leak, references=[STANDARDIZER],
                  passed="standardize_splits learns only from the training set")


@_no_leak.visible()
def standardize_splits() -> Iterator:
    """Train [0, 2], val [4, 7], test [100]: the test set's 100 must not move the training data."""
    # Train holds 0 and 2 (mean 1, std 1): train -> [-1, 1], val [4, 7] -> [3, 6], test 100 -> 99.
    yield np.array([[0.0], [2.0]]), np.array([[4.0], [7.0]]), np.array([[100.0]]), "train [0, 2], val [4, 7], test [100]"


@_no_leak.hidden(passed="standardize_splits learns only from the training set, on random data")
def standardize_splits_random(rng: np.random.Generator, *, shapes: Sequence[tuple[int, int]]) -> Iterator:
    """Random (n_train, d) parts, then the same train with the test set shifted by 20."""
    for n, d in shapes:
        X_train = rng.normal(size=(n, d)) * 3 + 1
        X_val = rng.normal(size=(n // 5 + 1, d)) * 3 + 1
        X_test = rng.normal(size=(n // 5 + 2, d)) * 3 + 1
        yield X_train, X_val, X_test, f"random data, n_train={n}"
        # the same training data with a shifted test set: the standardized training data must not change
        yield X_train, X_val, X_test + 20, "the same train, a shifted test set"


# ---- Exercises 6-8: splits that a random shuffle would leak through ----------------------------------


def _check_covers(parts: Sequence[np.ndarray], n: int, label: str) -> None:
    """Every position 0..n-1 in exactly one of ``parts``."""
    everything = np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in parts]) if parts else np.zeros(0)
    g.check_true(bool(np.all((everything == np.round(everything)) & (everything >= 0) & (everything < n))),
                 f"{label}: returned values that are not whole numbers in 0..{n - 1}; expected positions "
                 "(indices) into the data, not the data itself.")
    counts = np.bincount(everything.astype(np.int64), minlength=n)
    twice, never = np.flatnonzero(counts > 1), np.flatnonzero(counts == 0)
    g.check_true(twice.size == 0, f"{label}: indices {twice[:6].tolist()} are in more than one part; "
                 "expected each example in exactly one, or the model is measured on what it trained on.")
    g.check_true(never.size == 0, f"{label}: indices {never[:6].tolist()} are in no part; expected every "
                 "example in exactly one.")


def _check_shares(sizes: Sequence[int], total: int, fractions: Sequence[float], what: str, label: str) -> None:
    target = total * np.asarray(fractions, dtype=np.float64)
    g.check_true(bool(np.all(np.abs(np.asarray(sizes) - target) <= 1 + 1e-9)),
                 f"{label}: the parts hold {list(sizes)} {what}, but {total} * fractions = "
                 f"{np.round(target, 3).tolist()}; each part is expected within one of its share. Cut at "
                 f"round({total} * f_train) and round({total} * (f_train + f_val)), as in Exercise 1.")


def _check_time_split(time_split: Callable, times: np.ndarray, fractions: Sequence[float]) -> None:
    label = f"time_split(times of {len(times)} examples, {tuple(fractions)})"
    parts = _index_arrays(g.call(time_split, times.copy(), tuple(fractions)), "time_split")
    _check_covers(parts, len(times), label)
    _check_shares([p.size for p in parts], len(times), fractions, "examples", label)
    idx = [p.astype(np.int64) for p in parts]
    for (a, name_a), (b, name_b) in [((idx[0], "train"), (idx[1], "validation")),
                                     ((idx[1], "validation"), (idx[2], "test")),
                                     ((idx[0], "train"), (idx[2], "test"))]:
        if a.size and b.size:
            late, early = times[a].max(), times[b].min()
            g.check_true(bool(late <= early),
                         f"{label}: a {name_a} example has time {late:g}, later than a {name_b} example at "
                         f"time {early:g}; expected every train time <= every validation time <= every test "
                         "time, else the model learns from the future and is judged on the past. "
                         "Sort the examples by time (np.argsort(times, kind='stable')), then cut that order: "
                         "the earliest train, the next validate, the latest test. Do not shuffle.")


_time = twins(_check_time_split, passed="time_split trains on the past and tests on the future")


@_time.visible()
def time_split() -> Iterator:
    """Ten examples whose times are a shuffle of 0..9, split (0.6, 0.2, 0.2)."""
    # Times 0-5 train, 6-7 validate, 8-9 test, wherever those examples sit in the array.
    yield np.array([5.0, 1.0, 9.0, 2.0, 7.0, 0.0, 4.0, 8.0, 3.0, 6.0]), (0.6, 0.2, 0.2)


@_time.hidden(passed="time_split orders every random data set by time")
def time_split_random(rng: np.random.Generator, *, ns: Sequence[int]) -> Iterator:
    """Random times (with ties) for each n, random fractions."""
    for n in ns:
        times = np.round(rng.uniform(0, 100, size=n), 0)
        yield times, tuple(float(v) for v in rng.dirichlet([4.0, 1.0, 1.0]))


def _group_parts(group_split: Callable, groups: np.ndarray, fractions: Sequence[float], seed: int) -> list[np.ndarray]:
    label = f"group_split(groups of {len(groups)} examples, {tuple(fractions)}, seed={seed})"
    handed = groups.tolist() if groups.dtype.kind in "US" else groups.copy()  # string ids travel as a list
    parts = _index_arrays(g.call(group_split, handed, tuple(fractions), seed), "group_split")
    _check_covers(parts, len(groups), label)
    idx = [p.astype(np.int64) for p in parts]
    owners: dict[Any, set] = {}
    for name, part in zip(PARTS, idx, strict=True):
        for gid in np.unique(groups[part]):
            owners.setdefault(gid.item(), set()).add(name)
    split_groups = {k: v for k, v in owners.items() if len(v) > 1}
    if split_groups:
        gid, where = next(iter(split_groups.items()))
        g.check_true(False, f"{label}: group {gid!r} has examples in {sorted(where)} ({len(split_groups)} groups "
                     "are cut in two like this); expected each group whole in one part: otherwise the model "
                     "meets that learner, patient or document in training and is then judged on it as if it "
                     "were new. Shuffle the distinct groups "
                     "(np.unique(groups)), cut THEM into three, and give each example its group's part.")
    n_groups = len(np.unique(groups))
    _check_shares([len(np.unique(groups[p])) for p in idx], n_groups, fractions, "groups", label)
    return idx


@check()
def group_split(group_split: Callable) -> None:
    """Ten groups of three examples, shuffled, split (0.6, 0.2, 0.2): 6, 2 and 2 whole groups."""
    groups = g.seeded(0).permutation(np.repeat(np.arange(10), 3))
    _group_parts(group_split, groups, (0.6, 0.2, 0.2), seed=0)
    first = [tuple(sorted(p.tolist())) for p in _group_parts(group_split, groups, (0.6, 0.2, 0.2), seed=0)]
    again = [tuple(sorted(p.tolist())) for p in _group_parts(group_split, groups, (0.6, 0.2, 0.2), seed=0)]
    g.check_true(first == again, "group_split with the same seed gave two different splits; expected the same "
                 "split for the same seed: draw the shuffle "
                 "from np.random.default_rng(seed) so the same seed gives the same split.")
    others = {tuple(tuple(sorted(p.tolist())) for p in _group_parts(group_split, groups, (0.6, 0.2, 0.2), seed=s))
              for s in range(1, 6)}
    g.check_true(len(others) > 1, "group_split gave the same split for seeds 1 to 5; expected another split "
                 "for another seed: shuffle the groups with "
                 "np.random.default_rng(seed), so that another seed gives another split.")
    g.passed("group_split keeps every group whole, in parts of the right sizes")


@check()
def group_split_random(group_split: Callable, *, seed: int, cases: Sequence[tuple[int, int]]) -> None:
    """For each (number of groups, largest group size): groups of random sizes and random
    string or integer ids, random fractions."""
    rng = g.seeded(seed)
    for k, (n_groups, biggest) in enumerate(cases):
        sizes = rng.integers(1, biggest + 1, size=n_groups)
        ids = np.array([f"learner-{i}" for i in range(n_groups)]) if k % 2 else rng.permutation(1000)[:n_groups]
        groups = rng.permutation(np.repeat(ids, sizes))
        f = tuple(float(v) for v in rng.dirichlet([4.0, 1.5, 1.5]))
        _group_parts(group_split, groups, f, seed=int(rng.integers(1000)))
    g.passed("group_split keeps every group whole, for groups of random sizes")


def _check_kfold(kfold_indices: Callable, n: int, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    label = f"kfold_indices({n}, k={k}, seed={seed})"
    folds = g.items(g.call(kfold_indices, n, k, seed), k, f"{label} should return a list of k (train_idx, val_idx) pairs")
    pairs = []
    for i, fold in enumerate(folds):
        train, val = (g.to_float64(p, "an index array").ravel().astype(np.int64)
                      for p in g.items(fold, 2, f"{label}: fold {i} should be a pair (train_idx, val_idx)"))
        pairs.append((train, val))
    _check_covers([val for _, val in pairs], n, f"{label}, the validation folds")
    sizes = sorted(val.size for _, val in pairs)
    g.check_true(sizes[-1] - sizes[0] <= 1, f"{label}: validation folds of sizes {sizes}; expected sizes that "
                 f"differ by at most one ({n // k} or {n // k + 1}). np.array_split cuts that way.")
    for i, (train, val) in enumerate(pairs):
        rest = np.setdiff1d(np.arange(n), val)
        g.check_true(np.array_equal(np.sort(train), rest),
                     f"{label}: in fold {i} the training indices are expected to be exactly the {n - val.size} "
                     "examples outside its validation fold, and are not" + (" (some validation examples are in training too: the "
                     "fold would be scored on examples it trained on)" if np.intersect1d(train, val).size else "")
                     + ". Train on every other fold.")
    return pairs


@check()
def kfold(kfold_indices: Callable) -> None:
    """10 examples in 3 folds: validation folds of 4, 3 and 3 that cover everything once."""
    first = _check_kfold(kfold_indices, 10, 3, seed=0)
    again = _check_kfold(kfold_indices, 10, 3, seed=0)
    same = all(np.array_equal(np.sort(a[1]), np.sort(b[1])) for a, b in zip(first, again, strict=True))
    g.check_true(same, "kfold_indices with the same seed gave different folds; expected the same folds: shuffle with "
                 "np.random.default_rng(seed).")
    other = _check_kfold(kfold_indices, 10, 3, seed=1)
    g.check_true(not all(np.array_equal(np.sort(a[1]), np.sort(b[1])) for a, b in zip(first, other, strict=True)),
                 "kfold_indices gave the same folds for seeds 0 and 1; expected other folds for another seed: "
                 "shuffle the indices with "
                 "np.random.default_rng(seed) before cutting them into k folds, so that sorted data do not "
                 "make one fold all of one kind.")
    g.passed("kfold_indices: every example validates once, and trains in the other k - 1 folds")


@check()
def kfold_random(kfold_indices: Callable, *, seed: int, cases: Sequence[tuple[int, int]]) -> None:
    """Each (n, k), with a random seed."""
    rng = g.seeded(seed)
    for n, k in cases:
        _check_kfold(kfold_indices, n, k, seed=int(rng.integers(1000)))
    g.passed("kfold_indices covers every example once, for random n and k")


# ---- Prediction: how much one group-split validation score wobbles ----------------------------------

PATIENTS, VISITS = 40, 8                       # the notebook's patients: 40 of them, 8 visits each
VAL_PATIENTS = round(PATIENTS * 0.85) - round(PATIENTS * 0.7)     # 6 validate in a (0.7, 0.15, 0.15) group split
SPREAD = float(np.sqrt(0.5 * 0.5 / VAL_PATIENTS))                 # 6 coin flips: standard error 0.204


@check()
def spread_prediction(predicted_spread: Any) -> None:
    """The learner's predicted standard deviation of the memoriser's group-split validation accuracy,
    against sqrt(0.5 * 0.5 / 6), to within 0.02."""
    got = g.predicted(predicted_spread, "predicted_spread")
    if abs(got - SPREAD) <= 0.02:
        g.passed(f"one accuracy over {VAL_PATIENTS} independent coin flips spreads by about {SPREAD:.2f}")
        return
    slips = [(np.sqrt(0.25 / (VAL_PATIENTS * VISITS)),
              f"you counted the {VAL_PATIENTS * VISITS} validation visits as independent; the visits of one patient "
              "share its label and, nearly always, its nearest neighbour, so they are right or wrong together."),
             (np.sqrt(0.25 / PATIENTS), f"that counts all {PATIENTS} patients; only the validation part's are scored."),
             (np.sqrt(0.25 / round(PATIENTS * 0.7)), "that counts the training patients; the score is measured on "
                                                     "the validation patients."),
             (0.25 / VAL_PATIENTS, "that is the variance of the average; its standard deviation is the square root."),
             (0.5, "that is the standard deviation of ONE coin flip; averaging m independent flips divides it by "
                   "sqrt(m)."),
             (0.25, "that is the variance of one coin flip; averaging m independent flips divides the standard "
                    "deviation, sqrt(0.25), by sqrt(m).")]
    mistake = next((words for value, words in slips if abs(got - value) <= 0.004), None)
    g.check_true(False, f"`predicted_spread` is {got:.4g}; expected the standard deviation of the memoriser's "
                        f"validation accuracy under a (0.7, 0.15, 0.15) group split of {PATIENTS} patients, "
                        "from one fresh draw of patients to the next, to within 0.02."
                 + (f"\nlikely mistake: {mistake}" if mistake else "")
                 + "\nhint: how many patients does the group split validate on, how many independent right-or-wrong "
                   "outcomes do they give, and how likely is each to be right?")


def _patient_draw(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """40 fresh patients by the notebook's recipe: a point each, a coin-flip label, 8 visits near the point."""
    patients = np.repeat(np.arange(PATIENTS), VISITS)
    point, label = 3.0 * rng.normal(size=(PATIENTS, 2)), rng.integers(0, 2, size=PATIENTS)
    return patients, point[patients] + 0.3 * rng.normal(size=(patients.size, 2)), label[patients]


@check()
def spread_measured(predicted_spread: Any, *, seed: int, draws: int) -> None:
    """The run that settles it: ``draws`` fresh draws of 40 patients, each split by group (0.7, 0.15,
    0.15) and scored with the nearest-neighbour memoriser on its validation visits; the prediction must
    lie within 0.07 of the measured standard deviation of those accuracies."""
    got = g.predicted(predicted_spread, "predicted_spread")
    rng = g.seeded(seed)
    scores = []
    for _ in range(draws):
        patients, X, y = _patient_draw(rng)
        order = rng.permutation(PATIENTS)
        train = np.isin(patients, order[:round(PATIENTS * 0.7)])
        val = np.isin(patients, order[round(PATIENTS * 0.7):round(PATIENTS * 0.85)])
        distances = ((X[val][:, None, :] - X[train][None, :, :]) ** 2).sum(axis=-1)
        scores.append(np.mean(y[train][distances.argmin(axis=1)] == y[val]))
    measured = float(np.std(scores))
    g.check_true(abs(got - measured) <= 0.07,
                 f"`predicted_spread` is {got:.4g}; over {draws} fresh draws of {PATIENTS} patients, the memoriser's "
                 f"group-split validation accuracy had a standard deviation of {measured:.3f}, more than 0.07 away."
                 "\nhint: count the independent right-or-wrong outcomes behind one validation score.")
    g.passed(f"the prediction agrees with {draws} fresh draws of patients (measured spread {measured:.3f})")
