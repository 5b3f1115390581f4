"""Checks of 05-optimizers: gradient descent, SGD with momentum, Adam, the largest stable learning rate.

The optimizers change parameters in place, so the parameters are built on the
learner's side (``kernelside.nb05.Bench``, through ``grading.make``) and read back after every
step. Each race runs the learner's optimizer and ``torch.optim``'s (float64) on
the same made-up loss, a bumpy bowl, from the same start, and compares every
parameter after every step: the first step where they part ways is the one
reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from .. import checks as g
from ..remote import RemoteError, is_remote, make, remote_error
from . import GradingError, check, refused

# An optimizer written by hand: torch.optim's and the course's own optimizers (their __init__,
# step and update rule) are refused to the answer while it is graded (grading.shortcuts).
OPTIMIZER_SHORTCUTS = ["torch.optim", "mlcourse.optim"]

g.preload("torch")   # the races compare with torch.optim: loaded while the cells run

BENCH = "mlcourse.grading.kernelside.nb05.Bench"   # the parameters, on the learner's side
SHAPES = ((3,), (2, 4))

SGD_HINT = "move p.data itself, in place, by -lr * p.grad (a minus: downhill)."
MOMENTUM_HINT = "b = g at the first step, then b = momentum * b + g; theta -= lr * b."
DAMPENING_HINT = ("at the first step the buffer is the gradient itself, with no dampening; "
                  "dampening scales the new gradient only from the second step on.")
ADAM_FIRST_STEP_HINT = ("v averages the SQUARED gradient (g**2), so at t = 1 v_hat = g**2 and sqrt(v_hat) = |g|. "
                        "Count steps from t = 1: at the first step divide m by (1 - beta1**1) and v by "
                        "(1 - beta2**1). eps goes after the square root: sqrt(v_hat) + eps.")
ADAM_HINT = ("increase self.t once per step, before the bias corrections; one m and one v per "
             "parameter; theta -= lr * m_hat / (sqrt(v_hat) + eps).")
ADAM_EPS_HINT = "eps is added after the square root: sqrt(v_hat) + eps, not sqrt(v_hat + eps)."


# ---- the bench: the learner's optimizer and torch's, side by side ----------------------------


class _Step(NamedTuple):
    """One step of the learner's optimizer: ``fn(*args, **kwargs)``, named ``name`` in messages
    (``None``: ``fn``'s own name, as ``grading.call`` finds it)."""
    fn: Any
    args: tuple = ()
    kwargs: dict = {}
    name: str | None = None


def _bench(like: Any, values: Sequence[np.ndarray]) -> tuple[Any, Any]:
    """The parameters made on the learner's side (``kernelside.nb05.Bench``), and the list of
    them the learner's optimizer gets."""
    bench = make(like, BENCH, [np.array(v, dtype=np.float64) for v in values])
    return bench, bench.params


def _read(got: Any, n: int) -> list[np.ndarray]:
    """The ``n`` parameters' values, as the bench read them, as fresh float64 arrays."""
    return [g.to_float64(got[i], f"parameter {i}'s .data") for i in range(n)]


def _steps(bench: Any, step: _Step, n: int, num_steps: int,
           grads: Callable[[int, int, bool], list], bowl: list | None = None) -> Iterator[list[np.ndarray]]:
    """The values of the ``n`` parameters after each of ``num_steps`` steps of the learner's ``step``.

    The steps run on the learner's side a run at a time (``Bench.run``: 1 step, then 2, 4, ...
    in one request each, so that a wrong first step still costs one step, and a wrong later one
    at most as many again as came before it). Before the first step of a run the gradients are
    ``grads(t, count, known)`` (the judge's, for steps t, t + 1, ...; ``known``: the values
    before step t are the last ones yielded); for any step it leaves out they are ``bowl``'s at
    the values after the step before. A step that leaves work to the kernel's event loop or to a
    thread ends its run, and the next run first reads the values it left, after that work, as
    separate requests always did. Every value is the judge's to compare: this yields them one
    step at a time, and a step that failed on the learner's side fails here once the steps
    before it are yielded, as ``grading.call`` reports a failed call of the step (a failure to
    set the gradients or to read the values back is raised as it comes, as such a request's
    failure always was)."""
    if not callable(step.fn):
        g.call(step.fn, *step.args, name=step.name, **step.kwargs)
    run = bench.run
    t, size, pending = 0, 1, False
    while t < num_steps:
        count = min(size, num_steps - t - pending)
        size *= 2
        given = grads(t + pending, count, not pending) if count else []
        values, failure, deferred = _run(bench, run, step, given, count, bowl, pending)
        for got in values:
            yield _read(got, n)
        t += len(values)
        pending = deferred
        if failure is not None:
            phase, exc = failure
            if phase == "step":
                g.failed_call(step.fn, exc, *step.args, name=step.name, **step.kwargs)
            raise exc


def _run(bench: Any, run: Any, step: _Step, grads: list, count: int, bowl: list | None,
         read_first: bool) -> tuple[list, tuple[str, BaseException] | None, bool]:
    """One ``Bench.run`` request: the values read, the phase and exception of the step that did
    not finish (``None`` when each did, or when the bowl ended a run early: the next run starts
    there with the judge's own gradients), and whether the last step's values are left unread."""
    try:
        record = run(step.fn, list(step.args), dict(step.kwargs), grads, count, bowl, read_first)
        failed = None
    except RemoteError as exc:   # the request as a whole: a refused shortcut, a dead kernel...
        failed = exc
        try:
            record = bench.last()
        except Exception:  # the kernel is gone: the failure is the request's first errand's
            return [], ("values" if read_first else "step", exc), False
    if type(record) is not dict or type(record.get("values")) is not list \
            or type(record.get("stop", {})) not in (dict, type(None)) or type(record.get("deferred")) is not bool:
        raise remote_error("BadReply", "the bench's record is not a record")
    values, stop, deferred = record["values"], record.get("stop"), record["deferred"]
    most = count + read_first
    if len(values) > most or (stop is None and failed is None and not deferred and len(values) < most) \
            or (deferred and (stop is not None or len(values) >= most)):
        raise remote_error("BadReply", "the bench's record does not match the steps asked for")
    if failed is not None:
        if stop is not None:
            return values, (str(stop.get("phase")), failed), False
        if deferred:                 # reported before the last step's values could be read
            return values, ("values", failed), False
        if len(values) == most:      # reported after the request's last errand: that one failed
            return values[:-1], ("step" if count else "values", failed), False
        return values, ("values" if read_first and not values else "step", failed), False
    if stop is None or stop.get("phase") == "bowl":
        if not values and not deferred:
            raise remote_error("BadReply", "the bench took no step")
        return values, None, deferred
    if is_remote(bench):
        exc = remote_error(str(stop.get("type")), str(stop.get("message")))
    else:
        exc = bench.exception
    return values, (str(stop.get("phase")), exc), False


def _step_of(optimizer: Any, label: str) -> _Step:
    """The learner optimizer's bound ``step``, called through ``grading.call`` with its name."""
    try:
        step = optimizer.step
    except Exception as exc:
        refused(exc)
        raise GradingError(f"`{label}` has no `step` method: write `def step(self):` inside the class, "
                           "indented like `__init__`.") from None
    return _Step(step, name=f"{label}.step")


def _constructed(cls: Any, label: str, **hyper: Any) -> Callable[[Any], _Step]:
    """``params -> step``: builds the learner's optimizer on ``params`` with ``hyper``."""
    return lambda params: _step_of(g.call(cls, params, **hyper), label)


def _bumpy_bowl(seed: int, shapes: Sequence[tuple[int, ...]], grad_scale: float) \
        -> tuple[list[np.ndarray], Callable[[int, np.ndarray], np.ndarray], list]:
    """Start values and the gradient of a bowl whose curvature changes from step to step, and the
    bowl as plain data (``[curvature, centre, scale]``, for ``Bench.run``)."""
    rng = g.seeded(seed)
    start = [rng.normal(size=shape) for shape in shapes]
    curvature = [rng.uniform(0.5, 3.0, size=shape) for shape in shapes]
    centre = [rng.normal(size=shape) for shape in shapes]

    def gradient(i: int, theta: np.ndarray) -> np.ndarray:
        return grad_scale * (curvature[i] * (theta - centre[i]) + 0.5 * np.sin(3.0 * theta))

    return start, gradient, [curvature, centre, grad_scale]


def _race(like: Any, start_ours: Callable[[Any], _Step], torch_optimizer: str,
          hyper: dict, *, name: str, seed: int, shapes: Sequence[tuple[int, ...]], num_steps: int,
          grad_scale: float = 1.0, hint: str | None = None) -> None:
    """Run the learner's optimizer and ``torch.optim.<torch_optimizer>(**hyper)`` for ``num_steps``
    steps; compare every parameter (and its change) after every step."""
    import torch

    shapes = [tuple(s) for s in shapes]
    start, gradient, bowl = _bumpy_bowl(seed, shapes, grad_scale)
    bench, params = _bench(like, start)
    theirs = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in start]
    our_step = start_ours(params)
    their_step = getattr(torch.optim, torch_optimizer)(theirs, **hyper).step
    current = [x.copy() for x in start]
    # each side's gradient at its own parameters, as a real loss would give: ours at the values
    # the judge last read back (the bowl's, the same formula, between two of its reads)
    ours = _steps(bench, our_step, len(start), num_steps,
                  lambda t, count, known: [[gradient(i, theta) for i, theta in enumerate(current)]] if known else [],
                  bowl)
    for t in range(1, num_steps + 1):
        for i, q in enumerate(theirs):
            q.grad = torch.from_numpy(gradient(i, q.detach().numpy()))
        values = next(ours)
        their_step()
        case = f"{name}, step {t} of {num_steps}"
        for i, (got, q) in enumerate(zip(values, theirs, strict=True)):
            expected = q.detach().numpy().copy()
            label = f"parameter {i} (shape {shapes[i]})"
            # the change is checked first: it names a wrong step even when theta is large
            g.check_array(f"the change of {label}", _change(got, current[i]), expected - current[i],
                          rtol=1e-8, atol=1e-12, case=case, hint=_unmoved(got, current[i], expected, i) or hint)
            g.check_array(label, got, expected, rtol=1e-9, atol=1e-12, case=case, hint=hint)
            current[i] = got


def _change(got: np.ndarray, before: np.ndarray) -> np.ndarray:
    """How far a step moved a parameter (``got`` itself when its shape changed: a wrong-shape message)."""
    return got - before if got.shape == before.shape else got


def _unmoved(got: np.ndarray, before: np.ndarray, expected: np.ndarray, i: int) -> str | None:
    """The hint for a parameter that did not move while torch's did."""
    if got.shape == before.shape and bool((got == before).all()) and not bool((expected == before).all()):
        return (f"parameter {i} did not move at all. Update p.data in place (p.data -= ...), for every "
                "parameter in the list; `p = p.data - ...` only rebinds a local name.")
    return None


def _hand_steps(like: Any, start: list[float], step: Callable[[Any], _Step],
                grads: Sequence[list[float]], changes: Sequence[list[float]], *, name: str,
                case: str, hint: str) -> None:
    """Steps on one parameter with given gradients; each change of theta against a hand computation."""
    bench, params = _bench(like, [start])
    one_step = step(params)
    (before,) = _read(bench.values(), 1)
    ours = _steps(bench, one_step, 1, len(grads),
                  lambda t, count, known: [[np.asarray(grad, dtype=np.float64)] for grad in grads[t:t + count]])
    for t, change in enumerate(changes, start=1):
        (got,) = next(ours)
        g.check_array(name, _change(got, before), change, case=case.format(t=t), hint=hint)
        before = got


# ---- exercise 1: gradient descent ----------------------------------------------------------


def _sgd(sgd_step: Any, lr: float) -> Callable[[Any], _Step]:
    return lambda params: _Step(sgd_step, (params, lr))


@check(references=["mlcourse.optim.SGD"], shortcuts=OPTIMIZER_SHORTCUTS)
def sgd_step(sgd_step: Any) -> None:
    """By hand: one step on theta = [1, -2]; then 25 steps against torch.optim.SGD."""
    # theta = [1, -2], grad = [0.5, 0.5], lr = 0.1: each coordinate moves by -0.1 * 0.5 = -0.05
    _hand_steps(sgd_step, [1.0, -2.0], _sgd(sgd_step, 0.1), [[0.5, 0.5]], [[-0.05, -0.05]],
                name="the change of p.data in one sgd_step", case="theta = [1, -2], grad = [0.5, 0.5], lr = 0.1",
                hint=SGD_HINT)
    g.passed("one sgd_step moves p.data by -lr * p.grad")
    _race(sgd_step, _sgd(sgd_step, 0.1), "SGD", {"lr": 0.1}, name="sgd_step(params, lr=0.1)",
          seed=0, shapes=SHAPES, num_steps=25, hint=SGD_HINT)
    g.passed("sgd_step matches torch.optim.SGD step for step")


@check(references=["mlcourse.optim.SGD"], shortcuts=OPTIMIZER_SHORTCUTS)
def sgd_step_vs_torch(sgd_step: Any, *, seed: int, lr: float, shapes: Sequence[tuple[int, ...]] = SHAPES,
                      num_steps: int = 25) -> None:
    """``num_steps`` steps against torch.optim.SGD(lr) on a bumpy bowl drawn from ``seed``."""
    _race(sgd_step, _sgd(sgd_step, lr), "SGD", {"lr": lr}, name=f"sgd_step(params, lr={lr})",
          seed=seed, shapes=shapes, num_steps=num_steps, hint=SGD_HINT)
    g.passed(f"sgd_step(params, lr={lr}) matches torch.optim.SGD for {num_steps} steps")


# ---- exercise 2: momentum ------------------------------------------------------------------


def _momentum_hyper(lr: float, momentum: float, dampening: float) -> dict:
    return {"lr": lr, "momentum": momentum, **({"dampening": dampening} if dampening else {})}


def _signature(label: str, hyper: dict) -> str:
    return f"{label}({', '.join(f'{k}={v}' for k, v in hyper.items())})"


@check(references=["mlcourse.optim.SGD"], shortcuts=OPTIMIZER_SHORTCUTS)
def momentum(SGDMomentum: Any) -> None:
    """By hand: a constant gradient for three steps; then 25 steps against torch.optim.SGD(momentum=0.9)."""
    # theta = 1, constant gradient 1, lr = 0.1, momentum = 0.9:
    # buffers 1, 0.9 * 1 + 1 = 1.9, 0.9 * 1.9 + 1 = 2.71, so theta changes by -0.1, -0.19, -0.271
    _hand_steps(SGDMomentum, [1.0], _constructed(SGDMomentum, "SGDMomentum", lr=0.1, momentum=0.9),
                [[1.0]] * 3, [[-0.1], [-0.19], [-0.271]], name="the change of theta",
                case="constant gradient 1, step {t}", hint=MOMENTUM_HINT)
    g.passed("SGDMomentum's buffer starts at the gradient and adds up a constant gradient")
    hyper = _momentum_hyper(0.05, 0.9, 0.0)
    _race(SGDMomentum, _constructed(SGDMomentum, "SGDMomentum", **hyper), "SGD", hyper,
          name=_signature("SGDMomentum", hyper), seed=0, shapes=SHAPES, num_steps=25, hint=MOMENTUM_HINT)
    g.passed("SGDMomentum matches torch.optim.SGD(momentum=...) step for step")


@check(references=["mlcourse.optim.SGD"], shortcuts=OPTIMIZER_SHORTCUTS)
def momentum_dampening(SGDMomentum: Any) -> None:
    """By hand: dampening 0.5 on a constant gradient; then 25 steps against torch with dampening 0.3."""
    # dampening 0.5, constant gradient 1, lr = 0.1, momentum = 0.9. The first buffer is the gradient
    # itself (1, not 0.5); later ones add (1 - 0.5) * g: buffers 1, 0.9 + 0.5 = 1.4, changes -0.1, -0.14
    _hand_steps(SGDMomentum, [1.0], _constructed(SGDMomentum, "SGDMomentum", lr=0.1, momentum=0.9, dampening=0.5),
                [[1.0]] * 2, [[-0.1], [-0.14]], name="the change of theta", case="dampening 0.5, step {t}",
                hint=DAMPENING_HINT)
    hyper = _momentum_hyper(0.05, 0.9, 0.3)
    _race(SGDMomentum, _constructed(SGDMomentum, "SGDMomentum", **hyper), "SGD", hyper,
          name=_signature("SGDMomentum", hyper), seed=0, shapes=SHAPES, num_steps=25, hint=DAMPENING_HINT)
    g.passed("SGDMomentum's first step and dampening match torch")


@check(references=["mlcourse.optim.SGD"], shortcuts=OPTIMIZER_SHORTCUTS)
def momentum_vs_torch(SGDMomentum: Any, *, seed: int, lr: float, momentum: float, dampening: float = 0.0,
                      shapes: Sequence[tuple[int, ...]] = SHAPES, num_steps: int = 25) -> None:
    """``num_steps`` steps against torch.optim.SGD(lr, momentum, dampening) on a bowl drawn from ``seed``."""
    hyper = _momentum_hyper(lr, momentum, dampening)
    name = _signature("SGDMomentum", hyper)
    _race(SGDMomentum, _constructed(SGDMomentum, "SGDMomentum", **hyper), "SGD", hyper, name=name,
          seed=seed, shapes=shapes, num_steps=num_steps, hint=DAMPENING_HINT if dampening else MOMENTUM_HINT)
    g.passed(f"{name} matches torch.optim.SGD for {num_steps} steps")


# ---- exercise 3: Adam ----------------------------------------------------------------------


@check(references=["mlcourse.optim.Adam"], shortcuts=OPTIMIZER_SHORTCUTS)
def adam_first_step(Adam: Any) -> None:
    """By hand: the bias-corrected first step moves a big and a tiny gradient's coordinate by about lr."""
    # At t = 1, m_hat = g and v_hat = g**2, so each coordinate moves by lr * g / (|g| + eps):
    # almost exactly lr, for a big gradient (5) and a tiny one (-0.01) alike.
    _hand_steps(Adam, [1.0, 1.0], _constructed(Adam, "Adam", lr=0.1), [[5.0, -0.01]],
                [[-0.1 * 5 / (5 + 1e-8), 0.1 * 0.01 / (0.01 + 1e-8)]],
                name="the change of theta in Adam's first step", case="Adam(lr=0.1), gradient [5, -0.01]",
                hint=ADAM_FIRST_STEP_HINT)
    g.passed("Adam's first step is bias-corrected: each coordinate moves by about lr")


@check(references=["mlcourse.optim.Adam"], shortcuts=OPTIMIZER_SHORTCUTS)
def adam(Adam: Any) -> None:
    """25 steps against torch.optim.Adam with the default betas and eps, then with a large eps."""
    _race(Adam, _constructed(Adam, "Adam", lr=0.05), "Adam", {"lr": 0.05}, name="Adam(lr=0.05)",
          seed=0, shapes=SHAPES, num_steps=25, hint=ADAM_HINT)
    g.passed("Adam(lr=0.05) matches torch.optim.Adam step for step")
    # gradients of size about 0.01 make sqrt(v_hat) comparable to eps = 0.01: where eps goes shows
    hyper = {"lr": 0.05, "eps": 1e-2}
    _race(Adam, _constructed(Adam, "Adam", **hyper), "Adam", hyper, name="Adam(lr=0.05, eps=0.01)",
          seed=1, shapes=SHAPES, num_steps=25, grad_scale=1e-2, hint=ADAM_EPS_HINT)
    g.passed("Adam matches torch.optim.Adam step for step")


@check(references=["mlcourse.optim.Adam"], shortcuts=OPTIMIZER_SHORTCUTS)
def adam_vs_torch(Adam: Any, *, seed: int, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                  eps: float = 1e-8, grad_scale: float = 1.0, shapes: Sequence[tuple[int, ...]] = SHAPES,
                  num_steps: int = 25) -> None:
    """``num_steps`` steps against torch.optim.Adam(lr, betas, eps), gradients scaled by ``grad_scale``."""
    hyper = {"lr": lr, "betas": tuple(betas), "eps": eps}
    name = _signature("Adam", hyper)
    _race(Adam, _constructed(Adam, "Adam", **hyper), "Adam", hyper, name=name, seed=seed, shapes=shapes,
          num_steps=num_steps, grad_scale=grad_scale, hint=ADAM_FIRST_STEP_HINT if num_steps == 1 else ADAM_HINT)
    steps = "its first step" if num_steps == 1 else f"{num_steps} steps"
    g.passed(f"{name} matches torch.optim.Adam for {steps}, gradients of scale {grad_scale:g}")


# ---- exercise 5: the largest stable learning rate ------------------------------------------


@check(references=[])
def largest_stable_lr(largest_stable_lr: Any) -> None:
    """A diagonal bowl and a rotated one with the same eigenvalues as the off-diagonal matrix."""
    # The bowl of the explorer: curvatures 1 and 10, so gradient descent is stable for lr < 2 / 10 = 0.2.
    got = g.call(largest_stable_lr, np.diag([1.0, 10.0]))
    g.check_array("largest_stable_lr(diag([1, 10]))", got, 0.2,
                  hint="every direction must shrink: along which eigenvector does |1 - lr * lambda| reach 1 first?")
    # A rotated bowl has the same eigenvalues as its matrix (3 and 1), so the limit is 2 / 3.
    got = g.call(largest_stable_lr, np.array([[2.0, 1.0], [1.0, 2.0]]))
    g.check_array("largest_stable_lr([[2, 1], [1, 2]])", got, 2 / 3,
                  hint="a rotated bowl's curvatures are the eigenvalues of H, not its diagonal entries.")
    g.passed("largest_stable_lr = 2 / lambda_max: the steepest direction sets the limit")


@check(references=[])
def largest_stable_lr_random(largest_stable_lr: Any, *, seed: int, dims: Sequence[int]) -> None:
    """Random positive definite H of each size; just below the answer gradient descent shrinks,
    just above it explodes."""
    rng = g.seeded(seed)
    for d in dims:
        A = rng.normal(size=(d, d))
        H = A @ A.T + 0.1 * np.eye(d)
        lr = g.to_float64(g.call(largest_stable_lr, H.copy()), "largest_stable_lr(H)")
        g.check_array(f"largest_stable_lr on a random {d}x{d} H", lr, 2.0 / np.linalg.eigvalsh(H).max(),
                      hint="the edge is set by the steepest direction of H, its largest eigenvalue.")
        # and it really is the edge: 300 steps just below it shrink w, just above it blow w up
        for factor, shrinks in ((0.98, True), (1.02, False)):
            w = rng.normal(size=d)
            start = np.linalg.norm(w)
            with np.errstate(all="ignore"):
                for _ in range(300):
                    w = w - factor * float(lr) * (H @ w)
            g.check_true(bool(np.linalg.norm(w) < start) == shrinks,
                         f"gradient descent with {factor} x your largest_stable_lr should "
                         f"{'converge' if shrinks else 'diverge'} on a random {d}x{d} H.")
    g.passed("largest_stable_lr is the edge of stability on random bowls")


# ---- exercise 4, predicted: which learning rate diverges first ------------------------------------

# The rotated bowl of Exercise 5's visible check: eigenvalues 3 (along (1, 1)) and 1 (along (1, -1)).
PREDICTION_H = ((2.0, 1.0), (1.0, 2.0))
PREDICTION_LRS = (0.3, 0.5, 0.6, 0.7, 0.9, 1.1)


def _diverges(H: np.ndarray, lr: float, w: np.ndarray, num_steps: int = 100) -> bool:
    """Whether gradient descent on 0.5 * w @ H @ w at ``lr`` moves away from the minimum."""
    start = float(np.linalg.norm(w))
    with np.errstate(all="ignore"):
        for _ in range(num_steps):
            w = w - lr * (H @ w)
    return not bool(np.linalg.norm(w) < start)


def _chosen_lr(first_diverging_lr: Any) -> float:
    got = g.predicted(first_diverging_lr, "first_diverging_lr", f"one of the learning rates {list(PREDICTION_LRS)}")
    g.check_true(any(abs(got - lr) < 1e-9 for lr in PREDICTION_LRS),
                 f"`first_diverging_lr` is {got:g}; choose one of the learning rates {list(PREDICTION_LRS)}.")
    return got


@check()
def first_diverging_lr(first_diverging_lr: Any) -> None:
    """The learner's smallest diverging learning rate on H = [[2, 1], [1, 2]], worked out by hand."""
    got = _chosen_lr(first_diverging_lr)
    # H (1, 1) = 3 (1, 1) and H (1, -1) = (1, -1): along (1, 1) a step multiplies the distance by
    # 1 - 3 lr, whose size passes 1 at lr = 2 / 3; along (1, -1) only at lr = 2. First above 2 / 3: 0.7.
    expected = min(lr for lr in PREDICTION_LRS if lr * 3.0 > 2.0)
    if abs(got - expected) < 1e-9:
        g.passed(f"gradient descent on [[2, 1], [1, 2]] first diverges at lr = {expected}: along (1, 1) the "
                 "curvature is 3, and |1 - 3 lr| > 1 once lr > 2/3")
        return
    words = {0.5: "you put the edge at 1/3, where 1 - 3 lr turns negative: past it the steps zigzag, but the "
                  "distance still shrinks while |1 - 3 lr| < 1.",
             0.6: "0.6 zigzags but converges: |1 - 3 x 0.6| = 0.8 < 1. (0.5 = 2 / (3 + 1) is the fastest "
                  "learning rate, not the edge.)",
             1.1: "you read the curvature off the diagonal (2, edge at 1); the curvatures of a rotated bowl are "
                  "the eigenvalues of H: what does H do to (1, 1)?",
             0.3: "0.3 converges in both directions: |1 - 3 x 0.3| = 0.1.",
             0.9: "0.9 does diverge, but a smaller learning rate in the list diverges too."}
    mistake = next((w for lr, w in words.items() if abs(got - lr) < 1e-9), None)
    g.check_true(False, f"`first_diverging_lr` is {got:g}; on H = [[2, 1], [1, 2]] another learning rate of the "
                        "list is the smallest at which gradient descent diverges."
                 + (f"\nlikely mistake: {mistake}" if mistake else "")
                 + "\nhint: find what H does to (1, 1) and to (1, -1); along each, a step multiplies the distance "
                   "to the minimum by 1 - lr * (that curvature).")


@check()
def first_diverging_lr_measured(first_diverging_lr: Any, *, seed: int, count: int) -> None:
    """The run that settles it: gradient descent at every learning rate of the list from ``count`` random
    starts (drawn from ``seed``); the first one that moves away from the minimum must be the prediction."""
    got = _chosen_lr(first_diverging_lr)
    H = np.array(PREDICTION_H)
    rng = g.seeded(seed)
    for _ in range(count):
        start = rng.normal(size=2)
        diverged = [lr for lr in PREDICTION_LRS if _diverges(H, lr, start.copy())]
        measured = diverged[0] if diverged else None
        g.check_true(measured is not None and abs(got - measured) < 1e-9,
                     f"`first_diverging_lr` is {got:g}; from the start {np.round(start, 3).tolist()}, 100 steps of "
                     f"gradient descent on [[2, 1], [1, 2]] first diverged at lr = {measured}.")
    g.passed(f"the prediction agrees with gradient descent run from {count} random starts")
