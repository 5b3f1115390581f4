"""Tests for mlcourse.optim, with torch.optim in float64 as the oracle.

The property tests feed the same gradients to our optimizer and to torch's at
every step (random ones, or those of a real objective that depend on the
parameters) and compare the whole trajectory, step by step, for every
combination of the options.
"""

from __future__ import annotations

import doctest
import itertools
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlcourse import optim
from mlcourse.optim import SGD, Adam, AdamW

torch = pytest.importorskip("torch")

STEPS = 30
RTOL = 1e-10
# Absolute slack, relative to the largest |θ| of the run: an update θ − u that
# cancels to near zero keeps the rounding error of θ and u, ~1e-16·|θ|.
ATOL_PER_SCALE = 1e-12
PROPERTY = settings(max_examples=30, deadline=None, derandomize=True)


class Param:
    """The smallest parameter the optimizers accept: numpy .data and .grad."""

    def __init__(self, data):
        self.data = np.array(data, dtype=np.float64)
        self.grad = np.zeros_like(self.data)


def torch_twins(params):
    return [torch.nn.Parameter(torch.tensor(p.data.copy())) for p in params]


def assert_same_as_torch(ours, theirs, scale, where):
    """Every parameter equal to torch's to RTOL; a message that says where and by how much."""
    for i, (p, q) in enumerate(zip(ours, theirs, strict=True)):
        expected = q.detach().numpy()
        actual = p.data
        assert actual.shape == expected.shape, f"{where}: parameter {i} changed shape"
        tol = RTOL * np.abs(expected) + ATOL_PER_SCALE * scale
        err = np.abs(actual - expected)
        if not np.all(err <= tol):
            worst = np.unravel_index(np.argmax(err - tol), err.shape)
            raise AssertionError(
                f"{where}: parameter {i} differs from torch.optim; worst element {worst}: "
                f"ours {actual[worst]!r}, torch {expected[worst]!r}, "
                f"|diff| {err[worst]:.3e} > tolerance {tol[worst]:.3e}"
            )


def run_against_torch(make_ours, make_theirs, shapes, seed, *, grad_scale=1.0, lrs=None,
                      steps=STEPS, label=""):
    """Random gradients at every step, the same for both; compare after each step.

    ``lrs``, if given, is the learning rate to set before each step (one per step).
    """
    rng = np.random.default_rng(seed)
    ours = [Param(rng.standard_normal(shape)) for shape in shapes]
    theirs = torch_twins(ours)
    opt, topt = make_ours(ours), make_theirs(theirs)
    lrs = lrs if lrs is not None else [None] * steps
    scale = 1.0
    for t, lr in enumerate(lrs, start=1):
        if lr is not None:
            opt.lr = lr
            topt.param_groups[0]["lr"] = lr
        for p, q in zip(ours, theirs, strict=True):
            g = grad_scale * rng.standard_normal(p.data.shape)
            p.grad = g.copy()
            q.grad = torch.tensor(g)
            scale = max(scale, float(np.max(np.abs(p.data), initial=0.0)))
        opt.step()
        topt.step()
        scale = max(scale, *(float(np.max(np.abs(p.data), initial=0.0)) for p in ours))
        assert_same_as_torch(ours, theirs, scale, f"{label} step {t}")


shapes_st = st.lists(
    st.lists(st.integers(1, 4), max_size=3).map(tuple), min_size=1, max_size=3
)
seed_st = st.integers(0, 2**32 - 1)
grad_scale_st = st.sampled_from([1e-3, 1.0, 1e2])


# -- SGD: every combination of the options ---------------------------------------------
# (momentum, dampening, nesterov, weight_decay, maximize) switched on or off;
# nesterov is only valid with momentum on and dampening off.
SGD_FLAGS = [
    f for f in itertools.product([False, True], repeat=5)
    if not f[2] or (f[0] and not f[1])
]


def flags_id(names, flags):
    return "+".join(n for n, on in zip(names, flags, strict=True) if on) or "plain"


@pytest.mark.parametrize(
    "flags", SGD_FLAGS,
    ids=[flags_id(("mom", "damp", "nest", "wd", "max"), f) for f in SGD_FLAGS],
)
@PROPERTY
@given(data=st.data())
def test_sgd_trajectory_equals_torch(flags, data):
    use_momentum, use_dampening, nesterov, use_wd, maximize = flags
    kwargs = dict(
        lr=data.draw(st.floats(1e-3, 0.5), label="lr"),
        momentum=data.draw(st.floats(0.1, 0.99), label="momentum") if use_momentum else 0.0,
        dampening=data.draw(st.floats(0.05, 0.9), label="dampening") if use_dampening else 0.0,
        nesterov=nesterov,
        weight_decay=data.draw(st.floats(1e-4, 0.5), label="weight_decay") if use_wd else 0.0,
        maximize=maximize,
    )
    run_against_torch(
        lambda ps: SGD(ps, **kwargs),
        lambda ps: torch.optim.SGD(ps, foreach=False, **kwargs),
        data.draw(shapes_st, label="shapes"),
        data.draw(seed_st, label="seed"),
        grad_scale=data.draw(grad_scale_st, label="grad_scale"),
        label=f"SGD({kwargs})",
    )


# -- Adam and AdamW: every combination of the options ----------------------------------
ADAM_CASES = [
    (name, *flags)
    for name in ("Adam", "AdamW")
    for flags in itertools.product([False, True], repeat=3)
]
OURS = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW}
THEIRS = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}


@pytest.mark.parametrize(
    "name, use_wd, amsgrad, maximize", ADAM_CASES,
    ids=[c[0] + "-" + flags_id(("wd", "amsgrad", "max"), c[1:]) for c in ADAM_CASES],
)
@PROPERTY
@given(data=st.data())
def test_adam_trajectory_equals_torch(name, use_wd, amsgrad, maximize, data):
    kwargs = dict(
        lr=data.draw(st.floats(1e-4, 0.3), label="lr"),
        # Well-conditioned ranges: with β₂ near 0 and ε near 0, Adam becomes sign
        # descent, whose trajectory amplifies torch's last-bit rounding (its kernels use
        # fused multiply-adds) beyond any fixed tolerance; see the edge test below.
        betas=(
            data.draw(st.floats(0.0, 0.99), label="beta1"),
            data.draw(st.floats(0.5, 0.9999), label="beta2"),
        ),
        eps=data.draw(st.sampled_from([1e-8, 1e-6, 1e-3, 0.1]), label="eps"),
        weight_decay=data.draw(st.floats(1e-4, 0.5), label="weight_decay") if use_wd else 0.0,
        amsgrad=amsgrad,
        maximize=maximize,
    )
    run_against_torch(
        lambda ps: OURS[name](ps, **kwargs),
        lambda ps: THEIRS[name](ps, foreach=False, **kwargs),
        data.draw(shapes_st, label="shapes"),
        data.draw(seed_st, label="seed"),
        grad_scale=data.draw(grad_scale_st, label="grad_scale"),
        label=f"{name}({kwargs})",
    )


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_edge_betas_and_zero_eps_equal_torch_over_a_few_steps(name, amsgrad):
    # β = (0, 0), ε = 0: sign descent, m = g and v = g². Only a few steps are compared:
    # this regime amplifies last-bit rounding differences, not real mistakes, over time.
    kwargs = dict(lr=0.1, betas=(0.0, 0.0), eps=0.0, weight_decay=0.1, amsgrad=amsgrad)
    run_against_torch(
        lambda ps: OURS[name](ps, **kwargs),
        lambda ps: THEIRS[name](ps, foreach=False, **kwargs),
        [(2, 3), ()], seed=11, steps=5, label=f"{name}({kwargs})",
    )


# -- a real objective: gradients that depend on the parameters ------------------------
OBJECTIVE_CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=1e-2)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, maximize=True)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.05, betas=(0.8, 0.99), weight_decay=1e-2, amsgrad=True)),
    ("Adam", dict(lr=0.05, maximize=True)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1)),
    ("AdamW", dict(lr=0.05, weight_decay=0.1, amsgrad=True, maximize=True)),
]


@pytest.mark.parametrize(
    "name, kwargs", OBJECTIVE_CASES, ids=[f"{n}-{k}" for n, k in OBJECTIVE_CASES]
)
@settings(max_examples=10, deadline=None, derandomize=True)
@given(seed=seed_st, n=st.integers(5, 40), d=st.integers(1, 5))
def test_linear_regression_trajectory_equals_torch(name, kwargs, seed, n, d):
    # Minimise the MSE of y ≈ X w + b (maximize=True climbs −MSE instead).
    sign = -1.0 if kwargs.get("maximize") else 1.0
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.5 + 0.1 * rng.standard_normal(n)
    w, b = Param(rng.standard_normal(d)), Param(0.0)
    tw, tb = torch_twins([w, b])
    opt, topt = OURS[name]([w, b], **kwargs), THEIRS[name]([tw, tb], foreach=False, **kwargs)
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def mse():
        return float(np.mean((X @ w.data + b.data - y) ** 2))

    first = mse()
    for t in range(1, 2 * STEPS + 1):
        residual = X @ w.data + b.data - y
        w.grad = sign * 2.0 / n * (X.T @ residual)
        b.grad = np.asarray(sign * 2.0 * residual.mean())
        opt.step()

        topt.zero_grad()
        (sign * ((Xt @ tw + tb - yt) ** 2).mean()).backward()
        topt.step()
        assert_same_as_torch([w, b], [tw, tb], 10.0, f"{name}({kwargs}) on MSE, step {t}")
    assert mse() < first, f"{name}({kwargs}) did not reduce the MSE: {first} -> {mse()}"


# -- the edge cases the formulas make a point of ---------------------------------------
def test_first_momentum_step_uses_the_raw_gradient():
    p = Param([1.0, -2.0, 3.0])
    opt = SGD([p], lr=0.1, momentum=0.9, dampening=0.5)
    g1, g2 = np.array([0.5, -1.0, 2.0]), np.array([1.0, 1.0, -1.0])

    p.grad[...] = g1
    opt.step()
    np.testing.assert_array_equal(
        opt.state[0]["momentum_buffer"], g1,
        err_msg="at the first step the momentum buffer must be the gradient itself (undamped)",
    )
    after_one = np.array([1.0, -2.0, 3.0]) - 0.1 * g1
    np.testing.assert_allclose(p.data, after_one, rtol=1e-15,
                               err_msg="first momentum step must be θ − lr·g")

    p.grad[...] = g2
    opt.step()
    buf = 0.9 * g1 + (1 - 0.5) * g2
    np.testing.assert_allclose(opt.state[0]["momentum_buffer"], buf, rtol=1e-15,
                               err_msg="from step 2 on, buf = μ·buf + (1 − τ)·g")
    np.testing.assert_allclose(p.data, after_one - 0.1 * buf, rtol=1e-15)


@pytest.mark.parametrize("cls", [Adam, AdamW])
@pytest.mark.parametrize("maximize", [False, True])
def test_first_adam_step_moves_each_coordinate_by_about_lr(cls, maximize):
    # At t = 1 the bias corrections make m̂ = g and v̂ = g², so Δθ = −lr·g/(|g| + ε).
    theta0 = np.array([1.0, -1.0, 0.5, 2.0])
    p = Param(theta0)
    opt = cls([p], lr=0.01, weight_decay=0.0, maximize=maximize)
    g = np.array([1e-3, -5.0, 1e4, -1e-2])
    p.grad[...] = g
    opt.step()
    direction = 1.0 if maximize else -1.0
    np.testing.assert_allclose(
        p.data - theta0, direction * 0.01 * np.sign(g), rtol=1e-4,
        err_msg="the first Adam step must move each coordinate by ~lr, whatever the "
                "gradient's size (bias correction from t = 1)",
    )


def test_adamw_decays_the_parameter_not_the_gradient():
    # With a zero gradient Adam's moments stay 0; AdamW still shrinks θ by (1 − lr·λ).
    p, q = Param([2.0, -4.0]), Param([2.0, -4.0])
    AdamW([p], lr=0.1, weight_decay=0.5).step()
    Adam([q], lr=0.1, weight_decay=0.5).step()
    np.testing.assert_allclose(p.data, [2.0 * 0.95, -4.0 * 0.95], rtol=1e-15,
                               err_msg="AdamW: θ ← θ·(1 − lr·λ) with zero gradient")
    np.testing.assert_allclose(np.abs(q.data - [2.0, -4.0]), [0.1, 0.1], rtol=1e-6,
                               err_msg="Adam: λ·θ enters the gradient, so θ moves by ~lr")


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.1, weight_decay=0.1)),
])
def test_changing_lr_between_steps_matches_torch_param_groups(name, kwargs):
    lrs = [0.1 * 0.8**t for t in range(STEPS)]
    lrs[5] = 0.0  # a zero learning rate is allowed and must freeze θ (not the state)
    run_against_torch(
        lambda ps: OURS[name](ps, **kwargs),
        lambda ps: THEIRS[name](ps, foreach=False, **kwargs),
        [(3, 2), (4,)], seed=7, lrs=lrs, label=f"{name} with an lr schedule",
    )


# -- the loop's contract: in place, grads untouched, zero_grad -------------------------
OPTIMIZERS = [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda ps: Adam(ps, lr=0.1, weight_decay=0.1),
    lambda ps: AdamW(ps, lr=0.1),
]


@pytest.mark.parametrize("make", OPTIMIZERS, ids=["SGD", "Adam", "AdamW"])
def test_step_updates_data_in_place_and_leaves_grad_alone(make):
    rng = np.random.default_rng(0)
    p = Param(rng.standard_normal((3, 2)))
    data, row = p.data, p.data[0]  # `row` is a view, like a model holding the array
    before = p.data.copy()
    p.grad = rng.standard_normal((3, 2))
    grad_before = p.grad.copy()
    make([p]).step()
    assert p.data is data, "step() must update .data in place, not rebind it"
    assert not np.array_equal(row, before[0]), "a view of .data must see the update"
    np.testing.assert_array_equal(p.grad, grad_before, err_msg="step() must not modify .grad")


@pytest.mark.parametrize("make", OPTIMIZERS, ids=["SGD", "Adam", "AdamW"])
def test_zero_grad_zeroes_in_place(make):
    rng = np.random.default_rng(1)
    p, q = Param(rng.standard_normal(4)), Param(rng.standard_normal((2, 2)))
    p.grad, q.grad = rng.standard_normal(4), None
    grad, data = p.grad, p.data.copy()
    make([p, q]).zero_grad()
    assert p.grad is grad, "zero_grad() must zero the existing array, not replace it"
    np.testing.assert_array_equal(p.grad, 0.0, err_msg="zero_grad() left nonzero gradients")
    np.testing.assert_array_equal(p.data, data, err_msg="zero_grad() must not touch .data")
    assert q.grad is not None and q.grad.shape == (2, 2) and not q.grad.any(), (
        "zero_grad() must give a parameter without a gradient zeros of its shape"
    )


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("Adam", dict(lr=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.1)),
])
def test_state_dict_resumes_the_same_trajectory(name, kwargs):
    rng = np.random.default_rng(3)
    grads = rng.standard_normal((10, 3))
    straight = Param([1.0, 2.0, 3.0])
    opt = OURS[name]([straight], **kwargs)
    resumed = Param([1.0, 2.0, 3.0])
    first = OURS[name]([resumed], **kwargs)
    for g in grads[:5]:
        straight.grad, resumed.grad = g.copy(), g.copy()
        opt.step()
        first.step()
    saved = first.state_dict()
    second = OURS[name]([resumed], **{**kwargs, "lr": 0.5})
    second.load_state_dict(saved)
    for array in saved["state"][0].values():  # the checkpoint is a copy, not a view
        if isinstance(array, np.ndarray):
            array += 100.0
    assert second.lr == kwargs["lr"], "load_state_dict must restore the learning rate"
    for g in grads[5:]:
        straight.grad, resumed.grad = g.copy(), g.copy()
        opt.step()
        second.step()
    np.testing.assert_array_equal(resumed.data, straight.data,
                                  err_msg="resuming from state_dict changed the trajectory")


def test_lr_is_a_settable_attribute():
    opt = SGD([Param([1.0])], lr=0.1)
    opt.lr = 0.01
    assert opt.lr == 0.01 and opt.hyperparameters["lr"] == 0.01


# -- bad input: clear errors that name the value, and nothing moves ------------------
EMPTY = re.escape(
    "optimizer got an empty parameter list — did you pass model.parameters() "
    "of a model with no layers?"
)


@pytest.mark.parametrize("cls", [SGD, Adam, AdamW])
@pytest.mark.parametrize("empty", [[], (), iter([])], ids=["list", "tuple", "iterator"])
def test_empty_parameter_list_is_explained(cls, empty):
    with pytest.raises(ValueError, match=EMPTY):
        cls(empty, lr=0.1)


def test_a_generator_of_parameters_is_read_once_into_a_list():
    ps = [Param([1.0]), Param([2.0])]
    opt = SGD((p for p in ps), lr=0.1)
    assert opt.params == ps, "the optimizer must keep every parameter of the generator"


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=0.1, nesterov=True), r"nesterov=True needs momentum > 0.*momentum=0"),
    (dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
     r"nesterov=True needs .*dampening == 0.*dampening=0\.1"),
    (dict(lr=-0.1), r"lr must be a finite number >= 0, got -0\.1"),
    (dict(lr=float("nan")), r"lr must be a finite number >= 0, got nan"),
    (dict(lr=0.1, momentum=-0.5), r"momentum must be .*>= 0, got -0\.5"),
    (dict(lr=0.1, weight_decay=-1e-3), r"weight_decay must be .*>= 0, got -0\.001"),
])
def test_sgd_rejects_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SGD([Param([1.0])], **kwargs)


@pytest.mark.parametrize("cls", [Adam, AdamW])
@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=-1e-3), r"lr must be a finite number >= 0, got -0\.001"),
    (dict(betas=(1.0, 0.999)), r"betas\[0\] must be in \[0, 1\), got 1\.0"),
    (dict(betas=(0.9, -0.1)), r"betas\[1\] must be in \[0, 1\), got -0\.1"),
    (dict(betas=(0.9,)), r"betas must be a pair"),
    (dict(eps=-1e-8), r"eps must be .*>= 0, got -1e-08"),
    (dict(weight_decay=-0.1), r"weight_decay must be .*>= 0, got -0\.1"),
])
def test_adam_rejects_bad_hyperparameters(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls([Param([1.0])], **kwargs)


def test_setting_a_negative_lr_is_refused_and_keeps_the_old_one():
    opt = Adam([Param([1.0])], lr=1e-3)
    with pytest.raises(ValueError, match=r"lr must be a finite number >= 0, got -0\.5"):
        opt.lr = -0.5
    assert opt.lr == 1e-3, "a refused lr must leave the previous one in place"


@pytest.mark.parametrize("params, match", [
    ([np.zeros(3)], r"parameter 0 is a ndarray, not a parameter"),
    ([Param([1.0]), 3.0], r"parameter 1 is a float, not a parameter"),
    (np.zeros(3), r"got a numpy array"),
    (Param([1.0]), r"got a single Param; wrap it in a list"),
    ([{"params": []}], r"parameter groups are not supported"),
    (None, r"expects an iterable of parameters"),
])
def test_non_parameters_are_refused(params, match):
    with pytest.raises(TypeError, match=match):
        SGD(params, lr=0.1)


def test_integer_parameters_and_duplicates_are_refused():
    p = Param([1.0])
    p.data = np.array([1, 2])
    with pytest.raises(TypeError, match=r"parameter 0 has \.data of dtype int64"):
        SGD([p], lr=0.1)
    q = Param([1.0])
    with pytest.raises(ValueError, match=r"parameter 1 is the same object as parameter 0"):
        Adam([q, q])


@pytest.mark.parametrize("cls", [SGD, Adam, AdamW])
def test_bad_gradients_are_named_and_nothing_moves(cls):
    a, b = Param(np.ones((2, 3))), Param(np.ones(4))
    a.grad = np.ones((2, 3))
    opt = cls([a, b], lr=0.1)

    b.grad = None
    with pytest.raises(ValueError, match=r"parameter 1 has no gradient \(\.grad is None\)"):
        opt.step()
    b.grad = np.ones((4, 1))
    with pytest.raises(ValueError, match=r"parameter 1 has shape \(4,\) but its gradient "
                                         r"has shape \(4, 1\)"):
        opt.step()
    a.grad = np.ones((3, 2))
    b.grad = np.ones(4)
    with pytest.raises(ValueError, match=r"parameter 0 has shape \(2, 3\) but its gradient "
                                         r"has shape \(3, 2\)"):
        opt.step()
    np.testing.assert_array_equal(a.data, 1.0, err_msg="a refused step moved parameter 0")
    np.testing.assert_array_equal(b.data, 1.0, err_msg="a refused step moved parameter 1")
    assert all(not s for s in opt.state.values()), "a refused step must not touch the state"


# -- the module itself -----------------------------------------------------------------
def test_docstring_examples_run():
    result = doctest.testmod(optim, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, "the optimizers' docstrings should carry examples"
    assert result.failed == 0, f"{result.failed} docstring example(s) of mlcourse.optim failed"


def test_importing_optim_does_not_import_torch():
    code = "import sys, mlcourse.optim; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False", "mlcourse.optim must not import torch"
