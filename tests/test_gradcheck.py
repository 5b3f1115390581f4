"""mlcourse.gradcheck: central differences, relative error, and the diagnoses of wrong gradients."""

from __future__ import annotations

import numpy as np
import pytest

from mlcourse.gradcheck import (
    GradCheckResult,
    check_gradient,
    check_module_gradients,
    numerical_gradient,
    rel_error,
)
from mlcourse.losses import cross_entropy, mse
from mlcourse.nn import MLP, Linear, Sequential, Tanh

torch = pytest.importorskip("torch")

RNG_SEED = 0


def _regression(n: int = 8, d: int = 4, k: int = 3, seed: int = RNG_SEED):
    """A least-squares loss of W: (d, k) with its correct gradient."""
    rng = np.random.default_rng(seed)
    X, Y, W = rng.standard_normal((n, d)), rng.standard_normal((n, k)), rng.standard_normal((d, k))

    def f(W):
        return np.mean((X @ W - Y) ** 2)

    def grad(W):
        return 2 * X.T @ (X @ W - Y) / Y.size

    return f, grad, W


# --------------------------------------------------------------------------- numerical_gradient
def test_numerical_gradient_matches_torch_autograd():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4))

    def f(x):
        return np.sum(np.tanh(x) ** 3) + np.log1p(np.sum(x ** 2))

    xt = torch.tensor(x, requires_grad=True)
    (torch.tanh(xt) ** 3).sum().add(torch.log1p((xt ** 2).sum())).backward()
    got = numerical_gradient(f, x)
    err = rel_error(got, xt.grad.numpy())
    assert err < 1e-7, f"central differences vs autograd: rel error {err:.1e}"


def test_numerical_gradient_restores_x_bit_for_bit():
    x = np.random.default_rng(2).standard_normal(7) * 1e3 + 0.1
    before = x.copy()
    numerical_gradient(lambda x: np.sum(np.sin(x)), x)
    assert np.array_equal(x, before), "x must be restored exactly after each perturbation"

    def boom(x):
        raise ZeroDivisionError("inside f")

    with pytest.raises(ZeroDivisionError):
        numerical_gradient(boom, x)
    assert np.array_equal(x, before), "x must be restored even when f raises"


def test_numerical_gradient_on_a_few_indices():
    x = np.arange(12.0).reshape(3, 4)
    grad = numerical_gradient(lambda x: np.sum(x ** 2), x, indices=[(0, 1), (2, 3)])
    assert np.isclose(grad[0, 1], 2.0) and np.isclose(grad[2, 3], 22.0), grad
    assert np.isnan(grad).sum() == 10, "coordinates not checked should be NaN"
    sampled = numerical_gradient(lambda x: np.sum(x ** 2), x, indices=5, seed=3)
    assert np.isfinite(sampled).sum() == 5, "indices=5 should check five coordinates"


def test_numerical_gradient_input_errors():
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda x: x.sum(), np.zeros(3, dtype=np.float32))
    with pytest.raises(TypeError, match="float64"):
        numerical_gradient(lambda x: x.sum(), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match=r"scalar.*\.sum\(\)"):
        numerical_gradient(lambda x: x ** 2, np.zeros(3))


# --------------------------------------------------------------------------- rel_error
def test_rel_error():
    a = np.array([1.0, -2.0, 0.0])
    assert rel_error(a, a) == 0.0, "identical arrays (zeros included) have relative error 0"
    assert np.isclose(rel_error([1.0, 2.0], [1.0, 4.0]), 1 / 3), "2 vs 4 gives 2/6"
    assert rel_error(a, -a) == 1.0, "opposite signs give 1"
    with pytest.raises(ValueError, match=r"\(3,\).*\(1, 3\)"):
        rel_error(a, a[None])


# --------------------------------------------------------------------------- check_gradient
def test_correct_gradient_passes():
    f, grad, W = _regression()
    result = check_gradient(f, grad, W, name="W")
    assert isinstance(result, GradCheckResult) and result.passed and bool(result), str(result)
    assert result.max_rel_error < 1e-7, f"a correct gradient: {result.max_rel_error:.1e}"
    assert "matches" in result.diagnosis, result.diagnosis


def test_passing_survives_rounding_noise_on_zero_elements():
    # grad is exactly 0 in the second half; central differences give rounding noise there
    x = np.random.default_rng(4).standard_normal(20) * 50

    def f(x):
        return np.sum(x[:10] ** 2) + 1e6

    grad = np.concatenate([2 * x[:10], np.zeros(10)])
    assert check_gradient(f, grad, x), str(check_gradient(f, grad, x))


def _check(mistake):
    f, grad, W = _regression()
    return check_gradient(f, mistake(grad(W)), W, name="W", sizes={8: "the batch size"})


def test_factor_two_is_named():
    result = _check(lambda g: 2 * g)
    assert not result, "twice the gradient must fail"
    assert "2x" in result.diagnosis and "1/2" in result.diagnosis, result.diagnosis


def test_missing_mean_is_named():
    result = _check(lambda g: 8 * g)
    assert not result and "8x" in result.diagnosis, result.diagnosis
    assert "1/N" in result.diagnosis and "batch size" in result.diagnosis, result.diagnosis


def test_divided_twice_is_named():
    result = _check(lambda g: g / 4)  # 4 = axis 0 of W
    assert not result and "1/4" in result.diagnosis, result.diagnosis
    assert "twice" in result.diagnosis and "axis 0 of W" in result.diagnosis, result.diagnosis


def test_sign_flip_is_named():
    result = _check(lambda g: -g)
    assert not result and "sign" in result.diagnosis, result.diagnosis
    assert "ascent" in result.diagnosis, result.diagnosis


def test_transposed_shape_is_named():
    result = _check(lambda g: g.T)
    assert not result and "transpose" in result.diagnosis, result.diagnosis
    assert "(3, 4)" in result.diagnosis and "(4, 3)" in result.diagnosis, result.diagnosis


def test_transposed_square_gradient_is_named():
    f, grad, W = _regression(d=4, k=4)
    result = check_gradient(f, grad(W).T, W, name="W")
    assert not result and "transpose" in result.diagnosis, result.diagnosis


def test_single_wrong_element_is_named():
    f, grad, W = _regression()
    wrong = grad(W)
    wrong[2, 1] += 0.05
    result = check_gradient(f, wrong, W, name="W")
    assert not result and "except the element" in result.diagnosis, result.diagnosis
    assert "W[2, 1]" in result.diagnosis and result.worst_index == (2, 1), str(result)
    assert np.isclose(result.analytic_value - result.numeric_value, 0.05, atol=1e-6), str(result)


def test_zero_nan_and_shape_mismatch_are_named():
    f, grad, W = _regression()
    zero = check_gradient(f, np.zeros_like(W), W)
    assert not zero and "forget" in zero.diagnosis, zero.diagnosis
    with_nan = grad(W)
    with_nan[1, 1] = np.nan
    nan = check_gradient(f, with_nan, W, name="W")
    assert not nan and "NaN" in nan.diagnosis and "W[1, 1]" in nan.diagnosis, nan.diagnosis
    shape = check_gradient(f, grad(W)[:2], W)
    assert not shape and "(2, 3)" in shape.diagnosis and "(4, 3)" in shape.diagnosis, shape
    none = check_gradient(f, lambda W: None, W)
    assert not none and "return" in none.diagnosis, none.diagnosis


def test_f_that_ignores_x_is_named():
    f, grad, W = _regression()
    result = check_gradient(lambda W_: f(W.copy() * 0 + 1), grad, W.copy())
    assert not result and "does not change" in result.diagnosis, result.diagnosis


def test_message_explains_the_scale_and_the_worst_element():
    result = _check(lambda g: 2 * g)
    text = str(result)
    assert text == result.message, "str(result) should be its message"
    for words in ("1e-7", "1e-2", "Worst element W[", "analytic", "central differences", "2x"):
        assert words in text, f"the message should mention {words!r}:\n{text}"


def test_indices_check_only_some_coordinates():
    f, grad, W = _regression(d=30, k=20)
    assert check_gradient(f, grad, W, indices=10), "a correct gradient passes on a sample"
    result = check_gradient(f, lambda W: 2 * grad(W), W, indices=10)
    assert not result and "2x" in result.diagnosis, result.diagnosis
    assert np.isfinite(result.numeric).sum() == 10, "only ten coordinates should be computed"


# --------------------------------------------------------------------------- modules
def test_module_gradients_pass_for_mlp_and_softmax():
    rng = np.random.default_rng(5)
    X, y = rng.standard_normal((6, 3)), rng.integers(0, 4, size=6)
    results = check_module_gradients(MLP([3, 5, 4], activation="tanh", seed=1), X, y,
                                     cross_entropy, check_input=True)
    assert list(results) == ["layers.0.W", "layers.0.b", "layers.2.W", "layers.2.b", "X"]
    failed = [str(r) for r in results.values() if not r]
    assert not failed, "\n\n".join(failed)


class _SumInsteadOfMean(Linear):
    """A plausible learner mistake: dW summed over the batch where the loss takes a mean."""

    def backward(self, grad_out):
        grad_in = super().backward(grad_out)
        self.W.grad *= self._X.shape[0]
        return grad_in


def test_module_gradients_name_the_broken_parameter():
    rng = np.random.default_rng(6)
    X, y = rng.standard_normal((7, 2)), rng.standard_normal((7, 1))
    model = Sequential(Linear(2, 3, seed=0), Tanh(), _SumInsteadOfMean(3, 1, seed=1))
    results = check_module_gradients(model, X, y, mse)
    assert results["layers.0.W"] and results["layers.2.b"], "the healthy parameters pass"
    broken = results["layers.2.W"]
    assert not broken and "7x" in broken.diagnosis and "batch size" in broken.diagnosis, broken
    assert "layers.2.W" in str(broken), str(broken)


def test_module_gradients_need_a_loss_grad():
    with pytest.raises(TypeError, match="loss_grad"):
        check_module_gradients(Linear(2, 1), np.zeros((3, 2)), np.zeros((3, 1)),
                               lambda a, b: float(np.mean((a - b) ** 2)))
