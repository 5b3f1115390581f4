"""Checks of 06b-compute-and-scale: the cost of a run (a step's overhead and cost per example, a
run's time), data-parallel workers, and scale (parameters, training FLOPs, a predicted ratio).

The learner's functions take plain numbers and lists of arrays, except ``data_parallel_step``,
which takes a numpy model and an all-reduce: both built on the learner's side with
``grading.make`` from the factories of ``kernelside.nb06b``, the step run there by the
learner's code, and the model's weights read back as plain arrays with ``parameter_values``.
Every expected value is computed here: least squares, the count of steps and examples, the
full-batch step, torch's own parameter count and FLOP counter.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from mlcourse.models import TorchMLP

from .. import checks as g
from ..errors import GradingError
from ..kernelside.nb06b import CourseAverage, reference_average
from ..remote import is_remote, make, remote_error, value
from . import check

# Built on the learner's side (grading.make), from kernelside.nb06b.
PARAMETER_VALUES = "mlcourse.grading.kernelside.nb06b.parameter_values"
DP_PROBLEMS = "mlcourse.grading.kernelside.nb06b.dp_problems"
STEPPER = "mlcourse.grading.kernelside.nb06b.Stepper"
CALLS = "mlcourse.grading.kernelside.calls.Caller"   # many calls of one function in few requests


def _weights(like: Any, model: Any) -> list[np.ndarray]:
    """The parameters of a model made on the learner's side, after its step, as float64 arrays."""
    values = value(make(like, PARAMETER_VALUES, model))
    return [g.to_float64(v, f"parameter {k} after the step") for k, v in enumerate(values)]


# ---- section 1, exercises 1 and 2: what a step costs, and what a run will cost ---------------------


def _reference_cost(batch_sizes: Sequence[float], seconds: Sequence[float]) -> tuple[float, float]:
    B = np.asarray(batch_sizes, dtype=np.float64)
    (t0, c), *_ = np.linalg.lstsq(np.column_stack([np.ones_like(B), B]), np.asarray(seconds, dtype=np.float64),
                                  rcond=None)
    return float(t0), float(c)


def _check_costs(fit_step_cost, cases: Sequence[tuple[list, list, str]]) -> None:
    """fit_step_cost on each ``(batch_sizes, seconds, case)``, the calls several to a request."""
    calls = g.calls(CALLS, fit_step_cost, [((list(b), list(t)), {}) for b, t, _ in cases])
    for (batch_sizes, seconds, case), got in zip(cases, calls, strict=True):
        _check_cost(got, batch_sizes, seconds, case)


def _check_cost(got: Any, batch_sizes: list, seconds: list, case: str) -> None:
    t0, c = _reference_cost(batch_sizes, seconds)
    pair = g.to_float64(got, "(t0, c)").ravel()
    g.check_true(pair.size == 2, f"fit_step_cost({case}) should return two numbers (t0, c); got {pair.size}.")
    hint = None
    through_origin = float(np.dot(batch_sizes, seconds) / np.dot(batch_sizes, batch_sizes))
    if np.allclose(pair, [0.0, through_origin], rtol=1e-6, atol=1e-15) or np.isclose(pair[0], through_origin, rtol=1e-6):
        hint = "a line through the origin has no overhead: fit t0 too (a column of ones beside B)."
    elif np.allclose(pair[::-1], [t0, c], rtol=1e-6, atol=1e-15):
        hint = "return (t0, c) in that order: the overhead first, then the cost per example."
    g.check_array(f"fit_step_cost({case})", pair, [t0, c], rtol=1e-6, atol=1e-12,
                  hint=hint or "least squares of t = t0 + c * B: one equation t0 * 1 + c * B_i = t_i per "
                  "measurement, solved for the two unknowns with the smallest sum of squared misses.")


@check()
def step_cost(fit_step_cost) -> None:
    """Three exact points on t = 0.002 + 0.0001 B, then four noisy ones."""
    # 0.0021 s at B = 1, 0.0026 s at B = 6, 0.0042 s at B = 22: exactly t0 = 0.002 s, c = 0.0001 s per example.
    _check_costs(fit_step_cost, [([1, 6, 22], [0.0021, 0.0026, 0.0042], "[1, 6, 22], exact"),
                                 ([8, 32, 128, 512], [0.0011, 0.0013, 0.0022, 0.0061], "[8, 32, 128, 512]")])
    g.passed("fit_step_cost finds the overhead and the cost per example")


@check()
def step_cost_random(fit_step_cost, *, seed: int, count: int) -> None:
    """Random overheads and costs, with 5 % timing noise, on 4 to 8 batch sizes."""
    rng = g.seeded(seed)
    cases = []
    for _ in range(count):
        B = sorted(int(v) for v in rng.choice(2 ** np.arange(12), size=int(rng.integers(4, 9)), replace=False))
        t0, c = rng.uniform(1e-4, 1e-2), rng.uniform(1e-7, 1e-4)
        seconds = [(t0 + c * b) * rng.uniform(0.95, 1.05) for b in B]
        cases.append((B, seconds, f"{len(B)} random batch sizes"))
    _check_costs(fit_step_cost, cases)
    g.passed("fit_step_cost agrees on random timings")


def _reference_run_time(t0: float, c: float, n_examples: int, batch_size: int, epochs: int) -> float:
    steps = -(-n_examples // batch_size)
    return epochs * (steps * t0 + c * n_examples)


def _check_run_times(predict_run_time, cases: Sequence[tuple[float, float, int, int, int]]) -> None:
    """predict_run_time on each ``(t0, c, n_examples, batch_size, epochs)``, the calls several to a request."""
    for args, got in zip(cases, g.calls(CALLS, predict_run_time, [(tuple(a), {}) for a in cases]), strict=True):
        _check_run_time(got, *args)


def _check_run_time(got: Any, t0: float, c: float, n: int, B: int, epochs: int) -> None:
    case = f"predict_run_time(t0={t0:g}, c={c:g}, n_examples={n}, batch_size={B}, epochs={epochs})"
    got = g.to_float64(got, "a time in seconds").ravel()
    expected = _reference_run_time(t0, c, n, B, epochs)
    g.check_true(got.size == 1, f"{case} should return one number, the seconds; got {got.size} values.")
    slips = [(epochs * (n / B) * (t0 + c * B),
              f"{n} examples in batches of {B} are {-(-n // B)} steps, the last one short: every step pays "
              f"t0, and the examples cost c each, {n} of them per epoch (ceil, not n / B)."),
             (epochs * (-(-n // B)) * (t0 + c * B),
              "the last batch holds only n % batch_size examples: it pays t0 but only c per example it holds.")]
    g.check_array(case, got[0], expected, rtol=1e-9, slips=slips if n % B else (),
                  hint="every step of every epoch pays t0 once (count the steps as in notebook 06, the short last one "
                       "included), and every example pays c once per epoch.")


@check()
def run_time(predict_run_time) -> None:
    """10 examples in batches of 4 for 3 epochs: 3 steps an epoch, the last of 2 examples."""
    # Per epoch: 3 steps * 0.01 s + 0.001 s * 10 examples = 0.04 s; three epochs: 0.12 s.
    _check_run_times(predict_run_time, [(0.01, 0.001, 10, 4, 3), (0.002, 1e-5, 4096, 256, 5)])
    g.passed("predict_run_time counts every step and every example")


@check()
def run_time_random(predict_run_time, *, seed: int, count: int) -> None:
    """Random costs, data sizes, batch sizes and epochs."""
    rng = g.seeded(seed)
    _check_run_times(predict_run_time, [
        (float(rng.uniform(1e-4, 1e-2)), float(rng.uniform(1e-7, 1e-4)), int(rng.integers(1, 100_000)),
         int(rng.choice([1, 7, 32, 100, 256, 1000])), int(rng.integers(1, 20))) for _ in range(count)])
    g.passed("predict_run_time agrees on random runs")


# ---- section 2, exercises 3 and 4: beyond one device, k simulated workers ----------------------


def _average_hint(got: list[np.ndarray], grads: list[list[np.ndarray]], rows: list[int]) -> str | None:
    """The likely slip behind a wrong average, recognised by recomputing it."""
    k = len(grads)
    plain = [sum(worker[j] for worker in grads) / k for j in range(len(grads[0]))]
    summed = [sum(worker[j] for worker in grads) for j in range(len(grads[0]))]
    return g.slip(got, [
        (plain, f"that is the plain mean over the {k} workers, but they hold {rows} rows: each worker's gradient "
                "is the mean over ITS rows, so weight it by its share of the batch, n_r / sum(n).")
        if len(set(rows)) > 1 else None,
        (summed, f"that is the sum of the {k} gradients: average them (weights n_r / sum(n) add up to 1).")])


def _check_averages(average_gradients, problems: Sequence[tuple[list[list[np.ndarray]], list[int]]]) -> None:
    """average_gradients on each ``(worker gradients, rows)`` against the weighted average: the
    calls run several to a request (their arguments are fixed in advance), each compared in turn."""
    cases = [(([[w.copy() for w in worker] for worker in grads], list(rows)), {}) for grads, rows in problems]
    for (grads, rows), got in zip(problems, g.calls(CALLS, average_gradients, cases), strict=True):
        _check_average(got, grads, rows)


def _check_average(got: Any, grads: list[list[np.ndarray]], rows: list[int]) -> None:
    case = f"{len(grads)} workers holding {rows} rows, {len(grads[0])} parameters"
    got = g.items(got, len(grads[0]),
                  "average_gradients should return one averaged gradient per parameter, as a list")
    got = [g.to_float64(a, f"averaged gradient {j}") for j, a in enumerate(got)]
    expected = reference_average(grads, rows)
    hint = _average_hint(got, grads, rows)
    for j, (a, e) in enumerate(zip(got, expected, strict=True)):
        g.check_array(f"average_gradients: parameter {j}", a, e, rtol=1e-12, case=case, hint=hint or
                      "for each parameter j: sum over workers r of (n_r / sum(n)) * worker_grads[r][j].",
                      explain=hint is None)  # a recognised slip needs no generic guess beside it


def _worker_grads(rng: np.random.Generator, k: int, shapes: Sequence[tuple[int, ...]]) -> list[list[np.ndarray]]:
    return [[rng.standard_normal(s) for s in shapes] for _ in range(k)]


@check()
def dp_average(average_gradients) -> None:
    """Equal chunks: 2 workers of 5 rows, 4 workers of 3 rows; the weights are 1/k."""
    rng = g.seeded(0)
    _check_averages(average_gradients, [(_worker_grads(rng, k, [(2, 3), (3,)]), [n] * k) for k, n in ((2, 5), (4, 3))])
    g.passed("average_gradients averages equal workers' gradients")


@check()
def dp_average_random(average_gradients, *, seed: int, count: int) -> None:
    """Random equal chunks: k workers of n rows each, random parameter shapes."""
    rng = g.seeded(seed)
    problems = []
    for _ in range(count):
        k, n = int(rng.integers(1, 9)), int(rng.integers(1, 33))
        shapes = [tuple(int(d) for d in rng.integers(1, 6, size=int(rng.integers(0, 3)))) for _ in range(2)]
        problems.append((_worker_grads(rng, k, shapes), [n] * k))
    _check_averages(average_gradients, problems)
    g.passed("average_gradients averages equal workers' gradients of any shape")


@check()
def dp_weighted(average_gradients, *, seed: int, count: int) -> None:
    """Unequal chunks (10 rows on 3 workers: 4, 3, 3, and random ones): weighted by share."""
    rng = g.seeded(seed)
    problems = [(_worker_grads(rng, 3, [(2, 4), (4,), (4, 3), (3,)]), [4, 3, 3])]
    for _ in range(count):
        k = int(rng.integers(2, 7))
        rows = [int(r) for r in rng.integers(1, 40, size=k)]
        shapes = [tuple(int(d) for d in rng.integers(1, 6, size=int(rng.integers(1, 3)))) for _ in range(3)]
        problems.append((_worker_grads(rng, k, shapes), rows))
    _check_averages(average_gradients, problems)
    g.passed("average_gradients weights each worker by its share of the batch")


def _full_batch_step(sizes: list[int], model_seed: int, X: np.ndarray, y: np.ndarray, lr: float):
    """One step of gradient descent on the whole batch: (loss, weights after the step)."""
    from mlcourse.losses import cross_entropy, cross_entropy_grad
    from mlcourse.nn import MLP

    model = MLP(sizes, seed=model_seed)
    model.zero_grad()
    logits = model.forward(X)
    loss = float(cross_entropy(logits, y))
    model.backward(cross_entropy_grad(logits, y))
    for p in model.parameters():
        p.data = p.data - lr * p.grad
    return loss, [p.data for p in model.parameters()]


def _chunk_grads(sizes: list[int], model_seed: int, X: np.ndarray, y: np.ndarray,
                 k: int) -> list[list[np.ndarray]]:
    """What each of k honest workers sends: the gradient of its np.array_split chunk's mean loss."""
    from mlcourse.losses import cross_entropy_grad
    from mlcourse.nn import MLP

    model, grads = MLP(sizes, seed=model_seed), []
    for rows in np.array_split(np.arange(len(X)), k):
        model.zero_grad()
        model.backward(cross_entropy_grad(model.forward(X[rows]), y[rows]))
        grads.append([p.grad.copy() for p in model.parameters()])
    return grads


def _step_with(sizes: list[int], model_seed: int, grads: list[list[np.ndarray]], rows: list[int], lr: float,
               factors: Sequence[float] | None) -> list[np.ndarray]:
    """The weights after one step of ``MLP(sizes, seed=model_seed)`` with ``CourseAverage(factors)(grads, rows)``."""
    from mlcourse.nn import MLP

    averaged = CourseAverage(factors)(grads, rows)
    return [p.data - lr * a for p, a in zip(MLP(sizes, seed=model_seed).parameters(), averaged, strict=True)]


def _same(got: list[np.ndarray], expected: list[np.ndarray]) -> bool:
    return len(got) == len(expected) and all(
        a.shape == e.shape and np.allclose(a, e, rtol=1e-9, atol=1e-12) for a, e in zip(got, expected, strict=True))


def _dp_slip(weights: list[np.ndarray], sizes: list[int], model_seed: int, chunks: list[list[np.ndarray]],
             rows: list[int], full: list[np.ndarray], lr: float, factors: Sequence[float] | None) -> str | None:
    """The likely slip behind wrong weights after data_parallel_step, recognised by recomputing it
    from the honest chunk gradients (``chunks``) and the full batch's (``full``)."""
    from mlcourse.nn import MLP

    k = len(chunks)
    start = [p.data for p in MLP(sizes, seed=model_seed).parameters()]
    summed = [[sum(chunks[s][j] for s in range(r + 1)) for j in range(len(full))] for r in range(k)]
    candidates = [
        (factors is not None, [w - lr * gr for w, gr in zip(start, full, strict=True)],
         "your step did not use what `average` returned: call average(worker_grads, worker_rows) (the function "
         "data_parallel_step is given, not your own average_gradients, nor a full-batch gradient) and step with "
         "its result."),
        (factors is not None, _step_with(sizes, model_seed, [full] * k, rows, lr, factors),
         "every worker handed `average` the gradient of the WHOLE batch: each worker should compute the gradient "
         "of its own chunk of np.array_split(np.arange(len(X)), k) only."),
        (k > 1, _step_with(sizes, model_seed, [chunks[-1]] * k, rows, lr, factors),
         f"all {k} workers handed `average` the same gradients, the last chunk's: keep a copy of each worker's "
         "gradients (p.grad.copy()); the next worker's zero_grad and backward reuse the same arrays."),
        (k > 1, _step_with(sizes, model_seed, summed, rows, lr, factors),
         "worker r's gradients hold the sum of every worker's up to r: call model.zero_grad() before each "
         "worker's backward (gradients ADD up otherwise)."),
        (k > 1, [w - lr * gr for w, gr in zip(start, chunks[-1], strict=True)],
         "the step used the last worker's gradient, left in p.grad, instead of what `average` returned."),
    ]
    return g.slip(weights, [(alternative, why) for applies, alternative, why in candidates if applies])


def _dp_runs(data_parallel_step, runs: Sequence[tuple]) -> Iterator[tuple[np.ndarray, list[np.ndarray]]]:
    """(the loss it returned, the weights after the step) of data_parallel_step for each run
    ``(sizes, model_seed, factors, X, y, k, lr)``, in turn: each on a fresh ``MLP(sizes, seed=model_seed)``
    with ``CourseAverage(factors)``, both built on the learner's side. The steps run several to a
    request (``kernelside.nb06.Stepper``), each model's weights read there as soon as its step
    returns; each run is compared before the next one's result is read."""
    built = list(make(data_parallel_step, DP_PROBLEMS, [[sizes, seed, factors] for sizes, seed, factors, *_ in runs]))
    cases = [((model, X.copy(), y.copy(), k, lr), {"average": average})
             for (model, average), (*_, X, y, k, lr) in zip(built, runs, strict=True)]
    if not is_remote(data_parallel_step):
        for args, kwargs in cases:
            loss = g.to_float64(g.call(data_parallel_step, *args, **kwargs), "the batch loss")
            yield loss, _weights(data_parallel_step, args[0])
        return
    for entry in g.calls(STEPPER, data_parallel_step, cases):
        if type(entry) is not dict or "returned" not in entry or not (
                type(entry.get("values")) is list or type(entry.get("unread")) is dict):
            raise remote_error("BadReply", "the helper's record is not a record")
        loss = g.to_float64(entry["returned"], "the batch loss")
        if "values" not in entry:   # reading the parameters failed there, as its own request would have
            raise remote_error(str(entry["unread"].get("type")), str(entry["unread"].get("message")))
        yield loss, [g.to_float64(v, f"parameter {k} after training") for k, v in enumerate(entry["values"])]


STEP_HINT = ("one step with the averaged gradient must equal one full-batch step: zero the gradients before each "
             "worker's backward (they ADD up otherwise), copy each worker's p.grad, average them with `average` "
             "(the course's average_gradients here), then p.data -= lr * average.")


def _dp_problem(n: int, k: int, sizes: list[int], model_seed: int, lr: float, data_seed: int) -> tuple:
    """A batch of ``n`` examples of ``sizes[-1]`` blobs, and the factors that mark its workers' shares:
    ``(n, k, sizes, model_seed, lr, X, y, factors)``."""
    from mlcourse.data import make_classification

    X, y = make_classification(n, kind="blobs", n_classes=sizes[-1], seed=data_seed)
    factors = np.round(g.seeded([n, k, model_seed, data_seed]).uniform(0.5, 1.5, k), 3).tolist()
    return n, k, sizes, model_seed, lr, X, y, factors


def _check_dp_steps(data_parallel_step, problems: Sequence[tuple]) -> None:
    """``_check_dp_step`` on each problem of ``_dp_problem``; the steps run several to a request."""
    runs = [(sizes, model_seed, marks, X, y, k, lr)
            for _, k, sizes, model_seed, lr, X, y, factors in problems for marks in (None, factors)]
    results = _dp_runs(data_parallel_step, runs)
    for problem in problems:
        _check_dp_step(results, *problem)


def _check_dp_step(results: Iterator[tuple[np.ndarray, list[np.ndarray]]], n: int, k: int, sizes: list[int],
                   model_seed: int, lr: float, X: np.ndarray, y: np.ndarray, factors: list[float]) -> None:
    """The step with the course's average (the next of ``results``) equals the full-batch step; then,
    with an average that scales each worker's share by a factor of the check's choosing (the one
    after), the step taken is the one those k workers' own chunk gradients give, and no other."""
    case = f"{n} examples on k={k} workers, MLP({sizes}), lr={lr:g}"
    chunks = _chunk_grads(sizes, model_seed, X, y, k)
    rows = [len(c) for c in np.array_split(np.arange(n), k)]
    full = _chunk_grads(sizes, model_seed, X, y, 1)[0]
    loss, weights = next(results)
    expected_loss, expected = _full_batch_step(sizes, model_seed, X, y, lr)
    g.check_true(loss.size == 1, f"data_parallel_step ({case}) should return one number, the batch's loss.")
    g.check_array("data_parallel_step: the loss of the whole batch", loss.ravel()[0], expected_loss, rtol=1e-10,
                  case=case, hint="the batch's loss is the mean over all its examples: weight each worker's "
                  "mean loss by its share of the rows, as for the gradients.")
    g.check_true(len(weights) == len(expected), f"data_parallel_step ({case}): the model should keep its "
                 f"{len(expected)} parameters; it has {len(weights)}.")
    slip = _dp_slip(weights, sizes, model_seed, chunks, rows, full, lr, None)
    for j, (w, e) in enumerate(zip(weights, expected, strict=True)):
        g.check_array(f"data_parallel_step: parameter {j} after the step", w, e, rtol=1e-9, atol=1e-12,
                      case=case, hint=slip or STEP_HINT, explain=slip is None)
    _, marked = next(results)
    if _same(marked, _step_with(sizes, model_seed, chunks, rows, lr, factors)):
        return
    slip = _dp_slip(marked, sizes, model_seed, chunks, rows, full, lr, factors)
    right = _step_with(sizes, model_seed, chunks, rows, lr, factors)
    gap = max((float(np.max(np.abs(a - e))) for a, e in zip(marked, right, strict=False) if a.shape == e.shape),
              default=float("nan"))
    raise GradingError(
        f"data_parallel_step ({case}), handed an `average` that scales worker r's share n_r / B by a factor of the "
        f"check's choosing (here {factors}) so that the step shows which gradients reached it: expected the "
        "weights of one step with what `average` returns for the k workers' own gradients (each of its "
        f"np.array_split chunk); got other weights (largest difference {gap:.3g}).\nhint: "
        + (slip or "hand `average` all k workers' gradients and the rows they held, once, and step with exactly "
                   "what it returns: p.data -= lr * averaged[j]."))


@check()
def dp_step(data_parallel_step) -> None:
    """A batch of 10 on 1, 2, 3 and 4 workers (chunks 10; 5+5; 4+3+3; 3+3+2+2) equals one full-batch step."""
    _check_dp_steps(data_parallel_step, [_dp_problem(10, k, [2, 8, 3], 1, 0.5, 3) for k in (1, 2, 3, 4)])
    g.passed("k workers with averaged gradients take exactly the full-batch step")


@check()
def dp_step_random(data_parallel_step, *, seed: int, count: int) -> None:
    """Random batches, worker counts, widths and learning rates."""
    rng = g.seeded(seed)
    problems = []
    for _ in range(count):
        n = int(rng.integers(6, 60))
        problems.append(_dp_problem(n, int(rng.integers(1, 7)), [2, int(rng.integers(3, 12)), 3],
                                    int(rng.integers(10_000)), float(rng.uniform(0.05, 1.0)), int(rng.integers(10_000))))
    _check_dp_steps(data_parallel_step, problems)
    g.passed("data_parallel_step equals the full-batch step on random problems")


# ---- section 3, exercises 5 to 7: parameters, training FLOPs, and a predicted ratio -------------


def _torch_count(sizes: Sequence[int]) -> int:
    """torch's own count of the parameters of ``TorchMLP(sizes)``: every element of every tensor."""
    return int(sum(p.numel() for p in TorchMLP(list(sizes), seed=0).parameters()))


def _check_counts(count_parameters, cases: Sequence[tuple[list[int], str]]) -> None:
    """count_parameters on each ``(sizes, case)`` against torch's count, the calls several to a request."""
    calls = g.calls(CALLS, count_parameters, [((list(sizes),), {}) for sizes, _ in cases])
    for (sizes, case), got in zip(cases, calls, strict=True):
        pairs = list(zip(sizes[:-1], sizes[1:], strict=False))
        got = g.to_float64(got, f"count_parameters({sizes})")
        g.check_true(got.size == 1, f"count_parameters({sizes}) should return one number; got {got.size} values.")
        g.check_array(f"count_parameters({sizes})", got.ravel()[0], _torch_count(sizes), rtol=0.0, atol=0.0,
                      case=case, explain=False, slips=[
                          (sum(a * b for a, b in pairs), "that counts the weight matrices only: every layer also "
                                                         "has a bias, one number per output."),
                          (sum(a * b + a for a, b in pairs), "each layer's bias has one number per OUTPUT, not per "
                                                             "input."),
                          (sum(sizes), "that is the number of units (neurons); a parameter is a weight between two "
                                       "units, or a unit's bias."),
                          (sum((a + 1) * b for a, b in pairs[:-1]), "the last layer is missing: count every pair of "
                                                                    "consecutive sizes."),
                          (sum((a + 1) * b for a, b in pairs[1:]), "the first layer is missing: count every pair of "
                                                                   "consecutive sizes.")],
                      hint="a layer from a units to b units holds an (a, b) weight matrix and b biases; add up "
                           "every layer's.")


@check()
def params_count(count_parameters) -> None:
    """The moons MLP, the wide MLP of section 1, and the smallest model there is."""
    _check_counts(count_parameters, [
        ([2, 32, 2], "the moons MLP: (2*32 + 32) + (32*2 + 2) = 162"),
        ([64, 256, 256, 10], "the wide MLP: 16,640 + 65,792 + 2,570 = 85,002"),
        ([3, 1], "one layer: 3 weights and 1 bias"),
    ])
    g.passed("count_parameters agrees with torch's count on three architectures")


@check()
def params_count_random(count_parameters, *, seed: int, count: int) -> None:
    """Random depths (one to five layers) and widths (1 to 300), against torch's count."""
    rng = g.seeded(seed)
    cases = []
    for _ in range(count):
        sizes = [int(s) for s in rng.integers(1, 301, size=int(rng.integers(2, 7)))]
        cases.append((sizes, f"a random MLP of {len(sizes) - 1} layers"))
    _check_counts(count_parameters, cases)
    g.passed(f"count_parameters agrees with torch's count on {count} random architectures")


def _check_flops(train_flops, cases: Sequence[tuple[float, float, str]]) -> None:
    """train_flops on each ``(n_params, n_tokens, case)`` against 6 N D, the calls several to a request."""
    calls = g.calls(CALLS, train_flops, [((n, d), {}) for n, d, _ in cases])
    for (n, d, case), got in zip(cases, calls, strict=True):
        got = g.to_float64(got, f"train_flops({n:g}, {d:g})")
        g.check_true(got.size == 1, f"train_flops({n:g}, {d:g}) should return one number; got {got.size} values.")
        g.check_array(f"train_flops({n:g}, {d:g})", got.ravel()[0], 6.0 * n * d, rtol=1e-9, atol=0.0, case=case,
                      explain=False, slips=[
                          (2.0 * n * d, "that is the forward pass alone: training also runs the backward pass, "
                                        "which costs about twice the forward."),
                          (1.0 * n * d, "that counts one FLOP per parameter per token: a multiply-add is two "
                                        "FLOPs, and training runs backward as well as forward."),
                          (4.0 * n * d, "that is the backward pass alone: each training token also goes forward."),
                          (3.0 * n * d, "forward and backward, but a multiply-add counted as ONE FLOP: it is two, "
                                        "a multiplication and an addition."),
                          (6.0 * n, "that is the cost of ONE token: multiply by the number of training tokens."),
                          (12.0 * n * d, "the backward pass counted twice over, or the forward twice: forward about "
                                         "2 FLOPs per parameter per token, backward about 4.")],
                      hint="per parameter and per token: the forward pass does one multiply-add (2 FLOPs); the "
                           "backward pass two (the gradient for the input and the gradient for the weight).")


@check()
def flops(train_flops) -> None:
    """The moons MLP's run of notebook 06 (section 2) and GPT-3's published size."""
    _check_flops(train_flops, [
        (162, 16_000, "the moons MLP: 162 parameters, 400 examples x 40 epochs"),
        (175e9, 300e9, "GPT-3: 175 billion parameters, 300 billion tokens"),
    ])
    g.passed("train_flops counts forward and backward, per parameter and per token")


@check()
def flops_random(train_flops, *, seed: int, count: int) -> None:
    """Random sizes from a hundred parameters to a trillion, and from one token to ten trillion."""
    rng = g.seeded(seed)
    _check_flops(train_flops, [(float(np.round(10 ** rng.uniform(2, 12))), float(np.round(10 ** rng.uniform(0, 13))),
                                "random sizes") for _ in range(count)])
    g.passed(f"train_flops agrees on {count} random sizes")


# The prediction: widening the wide MLP's two hidden layers from 256 to 512 units.
NARROW, WIDE = [64, 256, 256, 10], [64, 512, 512, 10]
RATIO_TOLERANCE = 0.15
# Against torch's counter, which reads about 0.12 above the parameter ratio (it skips the first layer's input
# gradient and the biases): 0.3 takes in every prediction the visible check accepts, and neither 4 nor 2.
MEASURED_TOLERANCE = 0.3


def _step_flops(sizes: Sequence[int], batch_size: int, seed: int = 0) -> int:
    """The FLOPs torch counts (``torch.utils.flop_counter``) in one training step of ``TorchMLP(sizes)``
    on a random batch: the forward pass, the loss and the backward pass."""
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    gen = torch.Generator().manual_seed(int(seed))
    model = TorchMLP(list(sizes), seed=int(seed))
    X = torch.randn(batch_size, sizes[0], generator=gen)
    y = torch.randint(0, sizes[-1], (batch_size,), generator=gen)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(X), y).backward()
    return int(counter.get_total_flops())


RATIO_HINT = ("count each layer's parameters before and after (inputs x outputs, plus a bias per output): the FLOPs of "
              "a step grow like the parameters, and only a layer with BOTH sides widened grows fourfold.")


@check()
def flops_ratio_prediction(predicted_flops_ratio) -> None:
    """The learner's predicted growth of a step's FLOPs, against the ratio of the two parameter counts."""
    got = g.predicted(predicted_flops_ratio, "predicted_flops_ratio")
    expected = _torch_count(WIDE) / _torch_count(NARROW)
    if abs(got - expected) <= RATIO_TOLERANCE:
        g.passed(f"widening 256 -> 512 multiplies a step's FLOPs by about {expected:.2f}")
        return
    slips = [(2.0, "that is true of a layer with ONE side widened (the first: 64 inputs; the last: 10 outputs); the "
                   "256 x 256 layer in the middle has both sides widened."),
             (4.0, "that is true of the middle layer, whose inputs and outputs both double; the first layer keeps its "
                   "64 inputs and the last its 10 outputs, so they only double."),
             (8.0, "a layer's cost is inputs x outputs: doubling both sides makes it 4 times, not 8."),
             (1 / expected, "that is the ratio upside down: the wider model costs more."),
             (1.0, "the batch is the same, but every example now goes through larger weight matrices.")]
    mistake = next((words for value, words in slips if abs(got - value) <= RATIO_TOLERANCE), None)
    g.check_true(False, f"`predicted_flops_ratio` is {got:.4g}; expected the factor by which one training step's "
                        f"FLOPs grow from TorchMLP({NARROW}) to TorchMLP({WIDE}), to within {RATIO_TOLERANCE}."
                 + (f"\nlikely mistake: {mistake}" if mistake else "") + f"\nhint: {RATIO_HINT}")


@check()
def flops_ratio_measured(predicted_flops_ratio, *, seed: int, count: int) -> None:
    """The run that settles the prediction: torch's FLOP counter on one training step of each model, on
    ``count`` fresh random batches of random sizes drawn from ``seed``; the prediction must lie within
    ``MEASURED_TOLERANCE`` of each measured ratio."""
    got = g.predicted(predicted_flops_ratio, "predicted_flops_ratio")
    rng = g.seeded(seed)
    with g.one_thread():
        for _ in range(count):
            batch, init = int(rng.integers(1, 65)), int(rng.integers(10_000))
            measured = _step_flops(WIDE, batch, init) / _step_flops(NARROW, batch, init)
            g.check_true(abs(got - measured) <= MEASURED_TOLERANCE,
                         f"`predicted_flops_ratio` is {got:.4g}; torch's FLOP counter measured a ratio of "
                         f"{measured:.4f} between one training step of TorchMLP({WIDE}) and of TorchMLP({NARROW}) "
                         f"on a batch of {batch}, more than {MEASURED_TOLERANCE} away.\nhint: {RATIO_HINT}")
    g.passed(f"the prediction agrees with torch's FLOP counter on {count} fresh batches")
