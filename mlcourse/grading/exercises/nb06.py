"""Checks of 06-training-loop: shuffled mini-batches, a predicted count of steps, the loop in
numpy, the loop in PyTorch. (The cost of a run, data-parallel workers and scale, once part of
this notebook, are 06b-compute-and-scale's: ``nb06b``.)

The learner's functions take a random generator, a numpy model or a torch model.
Those are built on the learner's side with ``grading.make`` from the factories of
``kernelside.nb06``, trained there by the learner's code, and read back as
plain arrays with ``parameter_values``. Expected losses and weights come from
``mlcourse.train.fit`` run here, and held-out data never leaves the check: the
trained weights are loaded into a model of our own, which is scored here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from mlcourse.models import TorchMLP

from .. import checks as g
from ..errors import GradingError
from ..kernelside.nb06 import ParkedMLP as ParkedMLP  # noqa: F401 - read by tests as nb06.ParkedMLP
from ..kernelside.nb06 import make_torch_mlp, parameter_values
from ..remote import make, value
from . import check

# Built on the learner's side (grading.make), from kernelside.nb06.
TORCH_MLP = "mlcourse.grading.kernelside.nb06.make_torch_mlp"
PARAMETER_VALUES = "mlcourse.grading.kernelside.nb06.parameter_values"
PARKED_MLP = "mlcourse.grading.kernelside.nb06.ParkedMLP"
GENERATORS = "mlcourse.grading.kernelside.nb06.generators"
CALLS = "mlcourse.grading.kernelside.calls.Caller"   # many calls of one function in few requests
LOOP = ["mlcourse.train.fit"]   # the packaged loop: an answer that calls it writes no loop

# torch.optim's first optimizer imports torch._dynamo (a second or so): in the judge's process,
# loaded while the notebook's cells run, not when the first reference loop builds its SGD.
g.preload("torch._dynamo")


# ---- built on the learner's side with grading.make ------------------------------------------


# ---- shared helpers ---------------------------------------------------------------------------


def _weights(like: Any, model: Any) -> list[np.ndarray]:
    """The trained parameters of a model made on the learner's side, as float64 arrays."""
    values = value(make(like, PARAMETER_VALUES, model))
    return [g.to_float64(v, f"parameter {k} after training") for k, v in enumerate(values)]


def _load(model: Any, weights: list[np.ndarray]) -> Any:
    """``model`` (ours, numpy or torch) with the learner's trained ``weights`` copied in."""
    params = list(model.parameters())
    shapes = [tuple(p.shape) for p in params]
    got = [w.shape for w in weights]
    if got != shapes:
        raise GradingError(f"after training the model's parameters have shapes {got}; expected {shapes}: "
                           "train the parameters in place, without replacing or reshaping them.")
    for p, w in zip(params, weights, strict=True):
        if isinstance(p, torch.Tensor):
            with torch.no_grad():
                p.copy_(torch.as_tensor(w, dtype=p.dtype))
        else:
            p.data = w
    return model


def _moons(n: int, noise: float, seed: int, n_train: int = 400):
    """Two moons, standardised with the training part's statistics: (X_train, y_train, X_test, y_test)."""
    from mlcourse.data import Standardizer, make_classification

    X, y = make_classification(n, kind="moons", noise=noise, seed=seed)
    X = Standardizer().fit(X[:n_train]).transform(X)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


# ---- exercise 1: minibatch_indices -------------------------------------------------------------


def _batch_list(got: Any, n: int, batch_size: int) -> list:
    """The batches one call returned, as a list (a generator is read to its end)."""
    if got is None:
        raise GradingError(f"minibatch_indices({n}, {batch_size}, rng) returned None: "
                           "return the list of batches.")
    try:
        return list(got)
    except Exception:   # in grading, a kernel-side TypeError arrives as a RemoteError
        raise GradingError(f"minibatch_indices({n}, {batch_size}, rng) should return a list of "
                           "1-D index arrays, one per batch.") from None


def _epochs(minibatch_indices, cases: Sequence[tuple[int, int, Any]]) -> Iterator[list]:
    """The batches of ``minibatch_indices(n, batch_size, rng)`` for each ``(n, batch_size, rng)``, in
    turn: the calls run several to a request (their arguments are fixed in advance; the rng they
    share changes between calls as it would call by call), each compared before the next is read."""
    calls = g.calls(CALLS, minibatch_indices, [((n, batch_size, rng), {}) for n, batch_size, rng in cases])
    for (n, batch_size, _), got in zip(cases, calls, strict=True):
        yield _batch_list(got, n, batch_size)


def _generators(like: Any, seeds: Sequence[int]) -> list:
    """``numpy.random.default_rng(seed)`` for each of ``seeds``, on the learner's side (one request)."""
    return list(make(like, GENERATORS, [int(s) for s in seeds]))


def _check_epoch(batches: list, n: int, batch_size: int, reference_sizes: list[int] | None = None) -> None:
    """Every index 0..n-1 exactly once, in ceil(n / batch_size) batches, only the last one smaller."""
    case = f"n={n}, batch_size={batch_size}"
    full, rest = divmod(n, batch_size)
    expected = reference_sizes or [batch_size] * full + ([rest] if rest else [])
    hint = ""
    if rest and len(batches) == full:
        hint = (f" The last, partial batch ({n} % {batch_size} = {rest} examples) is missing: keep it, "
                "so every example is seen once per epoch.")
    elif len(batches) == len(expected) + 1:
        hint = " Is the extra batch empty? Stop cutting once all n indices are used."
    g.check_true(len(batches) == len(expected),
                 f"minibatch_indices({case}) returned {len(batches)} batches; "
                 f"expected ceil({n} / {batch_size}) = {len(expected)}.{hint}")
    arrays = [g.to_float64(b, f"batch {i} ({case})") for i, b in enumerate(batches)]
    g.check_true(all(a.ndim == 1 for a in arrays), f"each batch should be a 1-D array of indices ({case}).")
    g.check_equal(f"the batch sizes, largest first ({case})",
                  sorted((a.size for a in arrays), reverse=True), expected,
                  hint="all batches hold batch_size indices, except one (the last), which holds what is left.")
    every = np.concatenate(arrays)
    g.check_true(bool(np.all(every == np.round(every)) and every.min() >= 0 and every.max() < n),
                 f"the batches should hold whole-number indices between 0 and {n - 1} ({case}).")
    counts = np.bincount(every.astype(np.int64), minlength=n)
    first_bad = int(np.argmax(counts != 1))
    g.check_true(bool(np.all(counts == 1)),
                 f"every index should appear exactly once per epoch ({case}), but index {first_bad} "
                 f"appears {int(counts[first_bad])} times. Cut one permutation of 0..n-1 into consecutive slices.")


def _check_epochs(minibatch_indices, cases: Sequence[tuple[int, int, int, list[int] | None]]) -> None:
    """``_check_epoch`` on one epoch of each ``(n, batch_size, seed, reference_sizes)``, each with a
    fresh generator seeded ``seed``."""
    rngs = _generators(minibatch_indices, [seed for _, _, seed, _ in cases])
    epochs = _epochs(minibatch_indices, [(n, b, rng) for (n, b, _, _), rng in zip(cases, rngs, strict=True)])
    for (n, batch_size, _, sizes), batches in zip(cases, epochs, strict=True):
        _check_epoch(batches, n, batch_size, sizes)


def _order(batches: list) -> np.ndarray:
    """The indices of one epoch in the order the batches visit them."""
    arrays = [g.to_float64(b, "a batch").ravel() for b in batches]
    return np.concatenate(arrays) if arrays else np.zeros(0)


@check()
def batches_cover(minibatch_indices) -> None:
    """An uneven split, an even split and fewer examples than one batch."""
    _check_epochs(minibatch_indices, [
        (10, 4, 0, None),   # 10 = 4 + 4 + 2: three batches, the last one short
        (8, 4, 0, None),    # 8 = 4 + 4: exactly two batches, no empty third one
        (3, 5, 0, None),    # fewer examples than batch_size: a single batch of 3
    ])
    g.passed("one epoch: every index exactly once, the last partial batch kept")


@check()
def batches_cover_random(minibatch_indices, *, seed: int, cases: Sequence[tuple[int, int]],
                         random_cases: int = 0) -> None:
    """The (n, batch_size) ``cases`` and ``random_cases`` random ones, against iterate_minibatches's sizes."""
    from mlcourse.data import iterate_minibatches

    rng = g.seeded(seed)
    cases = [tuple(c) for c in cases]
    cases += [(int(rng.integers(1, 500)), int(rng.integers(1, 70))) for _ in range(random_cases)]
    epochs = []
    for n, batch_size in cases:
        rows = np.arange(n)
        sizes = [len(yb) for _, yb in iterate_minibatches(rows, rows, batch_size, seed=0)]
        epochs.append((n, batch_size, int(rng.integers(10_000)), sizes))
    _check_epochs(minibatch_indices, epochs)
    g.passed(f"one epoch: every index exactly once on {len(cases)} more sizes, the last partial batch kept")


@check()
def batches_shuffle(minibatch_indices) -> None:
    """20 examples in batches of 5: shuffled, a new order each epoch, the same order for the same seed."""
    rng, fresh = _generators(minibatch_indices, [0, 0])
    # Two epochs from the same rng, then one from a fresh generator with the same seed.
    epochs = _epochs(minibatch_indices, [(20, 5, rng), (20, 5, rng), (20, 5, fresh)])
    first, second = _order(next(epochs)), _order(next(epochs))
    g.check_true(not (first.size == 20 and bool(np.all(first == np.arange(20)))),
                 "the epoch visits the examples in their stored order 0, 1, 2, ...; expected a shuffled order: "
                 "shuffle them first with rng.permutation(n). Data often arrives sorted (by class, by date), and batches cut from a "
                 "sorted list give biased gradients.")
    # The same rng, called again for the next epoch, must give a new order.
    g.check_true(not (first.size == second.size and bool(np.all(first == second))),
                 "two epochs drawn from the same rng came out in the same order; expected a new order every epoch. "
                 "Draw the permutation from the rng you are given; creating a new generator inside the function (np.random.default_rng(0)) "
                 "repeats the same order every epoch.")
    # A fresh generator with the same seed must repeat the run exactly.
    again = _order(next(epochs))
    g.check_true(again.size == first.size and bool(np.all(again == first)),
                 "the same seed gave two different orders: take all randomness from `rng` (rng.permutation(n)), "
                 "not from np.random.permutation or another generator, so a training run can be repeated exactly.")
    g.passed("epochs are shuffled by rng: a new order every epoch, the same run for the same seed")


@check()
def batches_shuffle_random(minibatch_indices, *, seed: int, seeds: Sequence[int]) -> None:
    """Examples, not fixed batches, are shuffled; each of ``seeds`` repeats its 200-example epoch."""
    # 12 examples in batches of 4 over 200 epochs: examples 0 and 1 should share a batch about
    # (4 - 1) / (12 - 1) = 27% of the time, some 55 epochs; shuffling only the order of fixed
    # batches keeps them together in every epoch.
    rng, *fresh = _generators(minibatch_indices, [seed] + [s for s in seeds for _ in range(2)])
    epochs = _epochs(minibatch_indices, [(12, 4, rng)] * 200 + [(200, 25, r) for r in fresh])
    together = 0
    for _ in range(200):
        order = _order(next(epochs))
        position = {int(v): i // 4 for i, v in enumerate(order)}
        together += position.get(0, -1) == position.get(1, -2)
    g.check_true(together < 120,
                 f"examples 0 and 1 landed in the same batch in {together} of 200 epochs; expected about 55, as a real "
                 "shuffle gives. "
                 "Shuffle the indices themselves (rng.permutation(n)), then cut them into batches.")
    for _ in seeds:
        orders = [_order(next(epochs)) for _ in range(2)]
        g.check_true(orders[0].shape == orders[1].shape and bool(np.all(orders[0] == orders[1])),
                     "the same seed gave two different orders; expected the same order: take all randomness from `rng`.")
        g.check_true(not (orders[0].size == 200 and bool(np.all(orders[0] == np.arange(200)))),
                     "a 200-example epoch came out unshuffled; expected a shuffled order (rng.permutation(n)).")
    g.passed("epochs are shuffled by rng: examples mix across batches, the same run for the same seed")


# ---- exercise 2: a predicted count of steps -----------------------------------------------------

# The prediction: optimizer steps of a run of 15 epochs over 1,000 examples in batches of 64.
STEPS_RUN = (1_000, 64, 15)   # (n, batch_size, num_epochs)

STEPS_HINT = ("count one epoch first: how many batches of 64 does it take to hold all 1,000 examples, the last one "
              "short? Then every epoch takes that many steps.")


def _predicted_steps(predicted_steps) -> float:
    got = g.predicted(predicted_steps, "predicted_steps")
    g.check_true(float(got).is_integer(), f"`predicted_steps` is {got:g}; a count of optimizer steps is a whole "
                                          f"number.\nhint: {STEPS_HINT}")
    return got


@check()
def steps_prediction(predicted_steps) -> None:
    """The learner's count of the steps of 15 epochs over 1,000 examples in batches of 64."""
    n, batch_size, num_epochs = STEPS_RUN
    per_epoch = -(-n // batch_size)
    expected = num_epochs * per_epoch
    got = g.predicted(predicted_steps, "predicted_steps")
    if got == expected:
        g.passed(f"{num_epochs} epochs of {per_epoch} steps: {expected} parameter updates")
        return
    slips = [(num_epochs * n / batch_size, f"that is {num_epochs} x {n} / {batch_size}: a step takes a whole batch, "
                                           "so an epoch's steps are a whole number, the short last batch included."),
             (round(num_epochs * n / batch_size), f"that is {num_epochs} x {n} / {batch_size}, rounded: an epoch's "
                                                  "steps are rounded UP (the short last batch is a step too), and "
                                                  "before multiplying by the epochs."),
             (-(-num_epochs * n // batch_size), f"that is {num_epochs} x {n} / {batch_size}, rounded up once for "
                                                "the whole run: every epoch ends with its own short batch, so round "
                                                "up each epoch's steps, then multiply by the epochs."),
             (num_epochs * (n // batch_size), f"that drops the last, short batch of {n % batch_size} examples: it is "
                                              "kept, one step of its own, every epoch."),
             (per_epoch, f"that is ONE epoch's steps; the run takes {num_epochs} epochs."),
             (float(n * num_epochs), "that is the number of examples the run sees; a step takes a whole batch.")]
    mistake = next((words for value, words in slips if abs(got - value) < 1e-9), None)
    g.check_true(False, f"`predicted_steps` is {got:g}; expected the number of optimizer steps (one per mini-batch) "
                        f"of {num_epochs} epochs over {n} examples in batches of {batch_size}."
                 + (f"\nlikely mistake: {mistake}" if mistake else "") + f"\nhint: {STEPS_HINT}")


@check()
def steps_counted(predicted_steps, *, seed: int, count: int) -> None:
    """The run that settles the prediction: the batches ``mlcourse.data.iterate_minibatches`` yields
    over the 15 epochs of 1,000 examples in batches of 64, counted ``count`` times on data and
    shuffles drawn from ``seed``; the prediction must equal each count."""
    from mlcourse.data import iterate_minibatches

    got = _predicted_steps(predicted_steps)
    n, batch_size, num_epochs = STEPS_RUN
    rng = g.seeded(seed)
    for _ in range(count):
        X, y = rng.normal(size=(n, 2)), rng.integers(0, 2, size=n)
        shuffle = np.random.default_rng(int(rng.integers(1 << 31)))
        counted = sum(1 for _ in range(num_epochs) for _ in iterate_minibatches(X, y, batch_size, seed=shuffle))
        g.check_true(got == counted, f"`predicted_steps` is {got:g}; iterate_minibatches yielded {counted} batches "
                                     f"over {num_epochs} epochs of {n} examples in batches of {batch_size}: one "
                                     f"optimizer step each.\nhint: {STEPS_HINT}")
    g.passed(f"the prediction agrees with the steps counted on {count} shuffled runs")


# ---- exercise 3: train_numpy -------------------------------------------------------------------


def _check_step_count(losses: np.ndarray, n: int, batch_size: int, num_epochs: int,
                      name: str = "train_numpy") -> None:
    """One loss per optimizer step: num_epochs * ceil(n / batch_size) of them."""
    per_epoch = -(-n // batch_size)
    expected = num_epochs * per_epoch
    g.check_true(losses.ndim == 1,
                 f"{name} should return a flat list of losses, one float per step; got shape {losses.shape}.")
    hint = ""
    if n % batch_size and losses.size == num_epochs * (n // batch_size):
        hint = f" One step per epoch is missing: the last, partial batch ({n % batch_size} examples) is skipped."
    elif losses.size == num_epochs:
        hint = " That is one loss per epoch: record the loss of every batch (one per step)."
    elif losses.size == (num_epochs - 1) * per_epoch:
        hint = " One epoch is missing: loop over range(num_epochs)."
    g.check_true(losses.size == expected,
                 f"{name} with n={n}, batch_size={batch_size}, num_epochs={num_epochs} returned {losses.size} "
                 f"losses; expected {num_epochs} epochs x ceil({n} / {batch_size}) = {per_epoch} steps = "
                 f"{expected}.{hint}")


def _numpy_losses(train_numpy, sizes: list[int], model_seed: int, X: np.ndarray, y: np.ndarray,
                  **kwargs: Any) -> tuple[np.ndarray, Any]:
    """Train a fresh ``MLP(sizes, seed=model_seed)`` with the learner's loop: (losses, the model)."""
    model = make(train_numpy, "mlcourse.nn.MLP", sizes, seed=model_seed)
    losses = g.to_float64(g.call(train_numpy, model, X, y, **kwargs), "train_numpy(...)")
    return losses, model


@check(references=LOOP)
def numpy_steps(train_numpy) -> None:
    """50 examples in batches of 16 (a partial last batch) and 48 (an even split), two epochs each."""
    from mlcourse.data import make_classification

    X, y = make_classification(50, kind="moons", noise=0.2, seed=3)
    # 50 = 16 + 16 + 16 + 2: four steps per epoch, so two epochs are 8 steps.
    losses, _ = _numpy_losses(train_numpy, [2, 8, 2], 0, X, y, lr=0.1, num_epochs=2, batch_size=16)
    _check_step_count(losses, 50, 16, 2)
    # 48 examples in batches of 16 divide evenly: three steps per epoch.
    losses, _ = _numpy_losses(train_numpy, [2, 8, 2], 0, X[:48], y[:48], lr=0.1, num_epochs=2, batch_size=16)
    _check_step_count(losses, 48, 16, 2)
    g.passed("train_numpy takes one step per mini-batch, the last partial batch included")


@check(references=LOOP)
def numpy_steps_random(train_numpy, *, seed: int, cases: Sequence[tuple[int, int, int]]) -> None:
    """Each (n, batch_size, num_epochs) case on 3-class blobs with a freshly seeded MLP([2, 6, 3])."""
    from mlcourse.data import make_classification

    rng = g.seeded(seed)
    for n, batch_size, num_epochs in cases:
        X, y = make_classification(n, kind="blobs", n_classes=3, seed=int(rng.integers(10_000)))
        losses, _ = _numpy_losses(train_numpy, [2, 6, 3], int(rng.integers(10_000)), X, y, lr=0.05,
                                  num_epochs=num_epochs, batch_size=batch_size)
        _check_step_count(losses, n, batch_size, num_epochs)
    g.passed("train_numpy takes one step per mini-batch on more sizes, the last partial batch included")


def _check_trajectory(name: str, losses: np.ndarray, reference_losses: Any, params: list[np.ndarray],
                      reference_params: list[Any], optimizer: str = "SGD") -> None:
    """Loss by loss, then parameter by parameter, against the reference loop."""
    expected = g.to_float64(reference_losses, "the reference losses")
    g.check_true(losses.shape == expected.shape,
                 f"{name} returned {losses.size} losses for {expected.size} full-batch steps; "
                 "expected one loss per step.")
    off = np.flatnonzero(~(np.abs(losses - expected) <= 1e-10 + 1e-7 * np.abs(expected)))
    hint = None
    if off.size and off[0] == 0:
        hint = ("the very first loss is off: it should be cross_entropy(model(X_batch), y_batch) of the "
                "untrained model, measured before the first optimizer.step().")
    elif off.size and off[0] == 1:
        hint = ("the first loss is right but the second is not, so the first step moved the parameters wrongly "
                f"(or not at all): create optimizer = {optimizer}(model.parameters(), lr=lr) once, and call "
                "optimizer.step() after each backward.")
    elif off.size:
        hint = (f"the first {off[0]} losses are right, then they drift off: the gradients are piling up from "
                "step to step. backward() ADDS into p.grad, so call optimizer.zero_grad() before each backward.")
    g.check_array(f"{name}: the loss at each full-batch step", losses, expected, hint=hint)
    g.check_true(len(params) == len(reference_params),
                 f"{name}: the model has {len(params)} parameters after training; expected {len(reference_params)}.")
    for k, (p, p_ref) in enumerate(zip(params, reference_params, strict=True)):
        g.check_array(f"{name}: parameter {k} after training", p, p_ref,
                      hint="the losses match but the final parameters do not: is the last step taken?")


def _gd_cases(seed: int, runs: int):
    """``runs`` random full-batch cases: (X, y, sizes, model seed, lr, epochs, train seed)."""
    from mlcourse.data import make_classification

    rng = g.seeded(seed)
    for _ in range(runs):
        n, width = int(rng.integers(20, 80)), int(rng.integers(4, 16))
        lr, epochs = float(rng.uniform(0.05, 1.0)), int(rng.integers(4, 9))
        s = int(rng.integers(10_000))
        X, y = make_classification(n, kind="blobs", n_classes=3, seed=s)
        yield X, y, [2, width, 3], s, lr, epochs, s


def _numpy_gd(train_numpy, X: np.ndarray, y: np.ndarray, sizes: list[int], model_seed: int, lr: float,
              epochs: int, seed: int | None) -> None:
    """train_numpy with batch_size = n against fit on the same model, loss by loss and weight by weight."""
    from mlcourse.losses import cross_entropy
    from mlcourse.nn import MLP
    from mlcourse.optim import SGD
    from mlcourse.train import fit

    extra = {} if seed is None else {"seed": seed}
    losses, model = _numpy_losses(train_numpy, sizes, model_seed, X, y, lr=lr, num_epochs=epochs,
                                  batch_size=len(X), **extra)
    reference = MLP(sizes, seed=model_seed)
    history = fit(reference, cross_entropy, SGD(reference.parameters(), lr=lr), (X, y), epochs=epochs,
                  batch_size=len(X), progress=False)
    _check_trajectory("train_numpy", losses, history.train_loss, _weights(train_numpy, model),
                      [p.data for p in reference.parameters()])


@check(references=LOOP)
def numpy_gd(train_numpy) -> None:
    """Six full-batch steps of MLP([2, 8, 2]) on 40 moons against mlcourse.train.fit."""
    from mlcourse.data import make_classification

    X, y = make_classification(40, kind="moons", noise=0.2, seed=5)
    _numpy_gd(train_numpy, X, y, [2, 8, 2], 1, lr=0.5, epochs=6, seed=None)
    g.passed("train_numpy reproduces full-batch gradient descent step by step")


@check(references=LOOP)
def numpy_gd_random(train_numpy, *, seed: int, runs: int = 2) -> None:
    """``runs`` random full-batch runs (sizes, widths, learning rates, epochs drawn from ``seed``)."""
    for X, y, sizes, model_seed, lr, epochs, train_seed in _gd_cases(seed, runs):
        _numpy_gd(train_numpy, X, y, sizes, model_seed, lr, epochs, train_seed)
    g.passed("train_numpy reproduces full-batch gradient descent on random problems")


NUMPY_TARGET_HINT = ("an untrained model scores about ln 2 = 0.69. Far above the reference? Check that "
                     "optimizer.zero_grad() comes before each backward and optimizer.step() after it, and that "
                     "every epoch loops over all the batches.")


def _numpy_held_out(train_numpy, data, seed: int) -> tuple[float, float]:
    """MLP([2, 32, 2]) trained 40 epochs (batch_size 80, lr 0.5) by the learner's loop and by fit:
    their cross-entropy on the test part, computed here."""
    from mlcourse.losses import cross_entropy
    from mlcourse.nn import MLP
    from mlcourse.optim import SGD
    from mlcourse.train import fit

    X_train, y_train, X_test, y_test = data
    _, model = _numpy_losses(train_numpy, [2, 32, 2], seed, X_train, y_train, lr=0.5, num_epochs=40,
                             batch_size=80, seed=seed)
    trained = _load(MLP([2, 32, 2], seed=seed), _weights(train_numpy, model))
    reference = MLP([2, 32, 2], seed=seed)
    fit(reference, cross_entropy, SGD(reference.parameters(), lr=0.5), (X_train, y_train), epochs=40,
        batch_size=80, seed=seed, progress=False)
    with np.errstate(all="ignore"):
        return cross_entropy(trained(X_test), y_test), cross_entropy(reference(X_test), y_test)


@check(references=LOOP)
def numpy_target(train_numpy) -> None:
    """Trained on the notebook's moons (X, y), scored on (X_val, y_val): at most the reference + 0.05."""
    got, reference = _numpy_held_out(train_numpy, _moons(600, 0.15, seed=0), seed=0)
    g.check_in_band("held-out cross-entropy after train_numpy", got, low=0.0, high=reference + 0.05,
                    reference=reference, what="on (X_val, y_val)", hint=NUMPY_TARGET_HINT)
    g.passed("train_numpy reaches the reference's held-out loss")


@check(references=LOOP)
def numpy_target_fresh(train_numpy, *, datasets: Sequence[tuple[int, float]]) -> None:
    """For each (seed, noise): 400 fresh moons to train on, 1000 to score; at most the reference + 0.05."""
    for seed, noise in datasets:
        got, reference = _numpy_held_out(train_numpy, _moons(1400, noise, seed), seed=seed)
        g.check_in_band("held-out cross-entropy after train_numpy", got, low=0.0, high=reference + 0.05,
                        reference=reference, what="on 1000 fresh examples (hidden data set)",
                        hint=NUMPY_TARGET_HINT)
    g.passed("train_numpy reaches the reference's held-out loss on fresh data")


# ---- exercise 4: train_torch -------------------------------------------------------------------


def _torch_losses(train_torch, model: Any, X: np.ndarray, y: np.ndarray, *, dtype_hint: bool = False,
                  **kwargs: Any) -> np.ndarray:
    """The learner's losses on the CPU; a dtype error on a float64 model gets a hint."""
    device = make(train_torch, "torch.device", "cpu")
    try:
        return g.to_float64(g.call(train_torch, model, X, y, device=device, **kwargs), "train_torch(...)")
    except GradingError as err:
        if not dtype_hint or "dtype" not in str(err):
            raise
        raise GradingError(f"{err}\nhint: this model is float64 (a to_torch copy), so X is expected in float64 too. "
                           "Convert X with the model's dtype, dtype=next(model.parameters()).dtype, rather than a fixed float32.") from None


def _torch_gd(train_torch, X: np.ndarray, y: np.ndarray, sizes: list[int], model_seed: int, lr: float,
              epochs: int, seed: int | None) -> None:
    """train_torch with batch_size = n against fit on the same float64 model, loss by loss, weight by weight."""
    import torch.nn.functional as F

    from mlcourse.train import fit

    extra = {} if seed is None else {"seed": seed}
    model = make(train_torch, TORCH_MLP, sizes, seed=model_seed)
    losses = _torch_losses(train_torch, model, X, y, dtype_hint=True, lr=lr, num_epochs=epochs,
                           batch_size=len(X), **extra)
    reference = make_torch_mlp(sizes, model_seed)
    with g.one_thread():
        history = fit(reference, F.cross_entropy, torch.optim.SGD(reference.parameters(), lr=lr), (X, y),
                      epochs=epochs, batch_size=len(X), device="cpu", progress=False)
    _check_trajectory("train_torch", losses, history.train_loss, _weights(train_torch, model),
                      parameter_values(reference), "torch.optim.SGD")


@check(references=LOOP)
def torch_gd(train_torch) -> None:
    """Six full-batch steps of a float64 MLP([2, 8, 2]) on 40 moons against mlcourse.train.fit."""
    from mlcourse.data import make_classification

    X, y = make_classification(40, kind="moons", noise=0.2, seed=5)
    _torch_gd(train_torch, X, y, [2, 8, 2], 1, lr=0.5, epochs=6, seed=None)
    g.passed("train_torch reproduces full-batch gradient descent step by step")


@check(references=LOOP)
def torch_gd_random(train_torch, *, seed: int, runs: int = 2) -> None:
    """``runs`` random full-batch runs of a float64 model (sizes, widths, learning rates from ``seed``)."""
    for X, y, sizes, model_seed, lr, epochs, train_seed in _gd_cases(seed, runs):
        _torch_gd(train_torch, X, y, sizes, model_seed, lr, epochs, train_seed)
    g.passed("train_torch reproduces full-batch gradient descent on random problems")


TORCH_TARGET_HINT = ("an untrained model scores about ln 2 = 0.69. Far above the reference? Check that "
                     "optimizer.zero_grad() comes before loss.backward() and optimizer.step() after it.")


def _torch_held_out(train_torch, data, seed: int) -> tuple[float, float]:
    """A float32 TorchMLP([2, 32, 2]) trained on the CPU 40 epochs (batch_size 80, lr 0.5) by the
    learner's loop and by fit: their cross-entropy on the test part, computed here."""
    import torch.nn.functional as F

    from mlcourse.train import fit

    X_train, y_train, X_test, y_test = data
    model = make(train_torch, "mlcourse.models.TorchMLP", [2, 32, 2], seed=seed)
    _torch_losses(train_torch, model, X_train, y_train, lr=0.5, num_epochs=40, batch_size=80, seed=seed)
    trained = _load(TorchMLP([2, 32, 2], seed=seed), _weights(train_torch, model))
    reference = TorchMLP([2, 32, 2], seed=seed)
    X_test, y_test = torch.as_tensor(X_test, dtype=torch.float32), torch.as_tensor(y_test)
    with g.one_thread():
        fit(reference, F.cross_entropy, torch.optim.SGD(reference.parameters(), lr=0.5), (X_train, y_train),
            epochs=40, batch_size=80, device="cpu", seed=seed, progress=False)
        with torch.no_grad():
            return tuple(F.cross_entropy(m(X_test), y_test).item() for m in (trained, reference))


@check(references=LOOP)
def torch_target(train_torch) -> None:
    """A float32 TorchMLP trained on the notebook's moons, scored on (X_val, y_val): at most the reference + 0.05."""
    got, reference = _torch_held_out(train_torch, _moons(600, 0.15, seed=0), seed=0)
    g.check_in_band("held-out cross-entropy after train_torch", got, low=0.0, high=reference + 0.05,
                    reference=reference, what="on (X_val, y_val)", hint=TORCH_TARGET_HINT)
    g.passed("train_torch reaches the reference's held-out loss")


@check(references=LOOP)
def torch_target_fresh(train_torch, *, datasets: Sequence[tuple[int, float]]) -> None:
    """For each (seed, noise): 400 fresh moons to train on, 1000 to score; at most the reference + 0.05."""
    for seed, noise in datasets:
        got, reference = _torch_held_out(train_torch, _moons(1400, noise, seed), seed=seed)
        g.check_in_band("held-out cross-entropy after train_torch", got, low=0.0, high=reference + 0.05,
                        reference=reference, what="on 1000 fresh examples (hidden data set)",
                        hint=TORCH_TARGET_HINT)
    g.passed("train_torch reaches the reference's held-out loss on fresh data")


def _kernel_has(like: Any, device: str) -> bool:
    """Whether the learner's side has ``device`` ("cpu" always; "cuda" or "mps" when present there)."""
    probe = {"cuda": "torch.cuda.is_available", "mps": "torch.backends.mps.is_available"}.get(device)
    return device == "cpu" or (probe is not None and value(make(like, probe)) is True)


NOT_MOVED = ("Move the model once, before the loop, with model.to(device), and create X and y on the device "
             "(torch.as_tensor(..., device=device)). This check's model gets its weights only when it is moved to "
             "the device it is given, so a loop that never moves it trains NaN weights.")


@check(references=LOOP)
def torch_device(train_torch, *, devices: Sequence[str] = ("cpu",)) -> None:
    """The model and every batch end up on each of ``devices`` that the learner's machine has: a model
    whose weights exist only once moved there, trained 2 epochs, its losses and weights finite."""
    from mlcourse.data import make_classification

    X, y = make_classification(60, kind="moons", noise=0.2, seed=7)
    for name in devices:
        if not _kernel_has(train_torch, name):
            continue
        model = make(train_torch, PARKED_MLP, [2, 8, 2], 0, name)
        device = make(train_torch, "torch.device", name)
        try:
            losses = g.to_float64(g.call(train_torch, model, X, y, device=device, lr=0.1, num_epochs=2,
                                         batch_size=16), "train_torch(...)")
        except GradingError as err:
            if "device" not in str(err):
                raise
            raise GradingError(f"{err}\nhint: {NOT_MOVED}") from None
        g.check_true(losses.size == 8, f"train_torch should return 8 losses (2 epochs x 4 batches of 60 "
                                       f"examples), got {losses.size}.")
        weights = _weights(train_torch, model)
        g.check_true(bool(np.all(np.isfinite(losses))) and all(bool(np.all(np.isfinite(w))) for w in weights),
                     f"with device={name}, train_torch returned the losses {np.round(losses, 4).tolist()}: "
                     f"expected 8 finite losses and finite weights. {NOT_MOVED}")
    g.passed("train_torch puts the model and every batch on the given device")
