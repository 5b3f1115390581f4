"""mlcourse.train.fit: one loop over the numpy and torch engines."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mlcourse import train
from mlcourse.data import iterate_minibatches, make_classification, make_regression
from mlcourse.losses import cross_entropy, mse
from mlcourse.models import TorchMLP
from mlcourse.nn import MLP, Linear, to_torch
from mlcourse.optim import SGD
from mlcourse.train import DivergenceError, EarlyStopping, History, fit
from mlcourse.train.checks import torch_loss
from mlcourse.train.torch_engine import TorchEngine

QUIET = {"progress": False}


@pytest.fixture(scope="module")
def blobs():
    X, y = make_classification(240, kind="blobs", n_classes=3, seed=0)
    Xv, yv = make_classification(90, kind="blobs", n_classes=3, seed=1)
    return (X, y), (Xv, yv)


def sloped(slope: float, n: int = 64, seed: int = 0):
    """y = slope * x on x uniform in [-1, 1]: targets a 1-weight linear model can fit."""
    X = np.random.default_rng(seed).uniform(-1, 1, size=(n, 1))
    return X, slope * X[:, 0]


def zero_line() -> Linear:
    return Linear(1, 1, init="zeros")


# --------------------------------------------------------------------------- learning
def test_numpy_mlp_reaches_low_loss(blobs):
    train_set, val_set = blobs
    model = MLP([2, 32, 3], seed=0)
    h = fit(model, cross_entropy, SGD(model.parameters(), lr=0.1, momentum=0.9), train_set,
            val_set, epochs=15, batch_size=32, metrics={"accuracy": train.accuracy}, **QUIET)
    assert h.engine == "numpy" and h.epochs_run == 15
    assert h.train_loss[-1] < 0.15, f"numpy MLP should fit blobs, train loss {h.train_loss}"
    assert h.val_loss[-1] < 0.2, f"val loss {h.val_loss}"
    assert h.metrics["val_accuracy"][-1] > 0.9, h.metrics
    assert set(h.metrics) == {"train_accuracy", "val_accuracy"}


def test_torch_mlp_reaches_low_loss(blobs):
    train_set, val_set = blobs
    model = TorchMLP([2, 32, 3], seed=0)
    h = fit(model, F.cross_entropy, torch.optim.Adam(model.parameters(), lr=0.01), train_set,
            val_set, epochs=15, batch_size=32, device="cpu", **QUIET)
    assert h.engine == "torch" and h.device == "cpu"
    assert h.train_loss[-1] < 0.15, f"torch MLP should fit blobs, train loss {h.train_loss}"
    assert h.val_loss[-1] < 0.2, f"val loss {h.val_loss}"


def test_regression_targets_of_shape_n_work_with_n_by_1_outputs():
    X, y = make_regression(120, kind="linear", noise=0.05, seed=0)
    numpy_model = MLP([1, 16, 1], seed=0)
    torch_model = TorchMLP([1, 16, 1], seed=0)
    h1 = fit(numpy_model, mse, SGD(numpy_model.parameters(), lr=0.05), (X, y), epochs=20,
             batch_size=16, **QUIET)
    h2 = fit(torch_model, mse, torch.optim.SGD(torch_model.parameters(), lr=0.05), (X, y),
             epochs=20, batch_size=16, **QUIET)
    assert h1.train_loss[-1] < 0.05 and h2.train_loss[-1] < 0.05, (h1.train_loss, h2.train_loss)


# --------------------------------------------------------------------------- two engines
def test_numpy_and_torch_engines_follow_the_same_trajectory(blobs):
    train_set, val_set = blobs
    numpy_model = MLP([2, 16, 3], seed=3)
    torch_model = to_torch(numpy_model)  # float64, same weights
    options = dict(epochs=5, batch_size=20, seed=7, **QUIET)
    h_np = fit(numpy_model, cross_entropy, SGD(numpy_model.parameters(), lr=0.2, momentum=0.9),
               train_set, val_set, **options)
    h_t = fit(torch_model, cross_entropy, torch.optim.SGD(torch_model.parameters(), lr=0.2,
                                                          momentum=0.9),
              train_set, val_set, device="cpu", **options)
    np.testing.assert_allclose(h_np.train_loss, h_t.train_loss, rtol=0, atol=1e-10,
                               err_msg="train loss per epoch differs between the engines")
    np.testing.assert_allclose(h_np.val_loss, h_t.val_loss, rtol=0, atol=1e-10,
                               err_msg="val loss per epoch differs between the engines")
    W_np = numpy_model.layers[0].W.data
    W_t = torch_model[0].weight.detach().numpy().T
    np.testing.assert_allclose(W_np, W_t, rtol=0, atol=1e-10, err_msg="final weights differ")


class RecordingLinear(Linear):
    """A Linear layer that remembers every training batch it was shown."""

    def __init__(self) -> None:
        super().__init__(2, 3, seed=0)
        self.seen: list[np.ndarray] = []

    def forward(self, X):
        self.seen.append(np.array(X))
        return super().forward(X)


def test_batches_are_those_of_iterate_minibatches(blobs):
    (X, y), _ = blobs
    model = RecordingLinear()
    fit(model, cross_entropy, SGD(model.parameters(), lr=0.01), (X, y), epochs=3,
        batch_size=50, seed=11, **QUIET)
    training_batches = [b for b in model.seen if len(b) != 2]  # drop the 2-row shape check
    expected = [Xb for e in range(3) for Xb, _ in iterate_minibatches(X, y, 50, seed=11 + e)]
    assert len(training_batches) == len(expected) == 3 * 5
    for i, (got, want) in enumerate(zip(training_batches, expected, strict=True)):
        np.testing.assert_array_equal(got, want, err_msg=f"batch {i} differs")


def test_same_seed_repeats_and_other_seed_differs(blobs):
    train_set, _ = blobs

    def run(seed):
        model = TorchMLP([2, 8, 3], seed=0)
        return fit(model, cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1),
                   train_set, epochs=3, batch_size=16, seed=seed, **QUIET).train_loss

    assert run(5) == run(5), "the same seed must give the same losses"
    assert run(5) != run(6), "another seed must shuffle differently"


# --------------------------------------------------------------------------- early stopping
def _slope_run(make_model, make_opt, **kwargs):
    """Train towards slope 2 while validation wants slope 1: val loss falls, then rises."""
    model = make_model()
    h = fit(model, mse, make_opt(model), sloped(2.0), sloped(1.0, seed=1), epochs=40,
            batch_size=16, seed=0, **QUIET, **kwargs)
    return model, h


def test_early_stopping_stops_at_the_val_minimum_and_restores_numpy():
    opt = lambda m: SGD(m.parameters(), lr=0.05)  # noqa: E731
    model, h = _slope_run(zero_line, opt, early_stopping=EarlyStopping(patience=3))
    best = int(np.argmin(h.val_loss))
    assert 0 < best < len(h.val_loss) - 1, f"the val loss should fall then rise: {h.val_loss}"
    assert h.best_epoch == best and h.best_val_loss == h.val_loss[best]
    assert h.stopped_epoch == best + 3 and h.epochs_run == best + 4, h
    assert h.restored_best
    # The restored weights are those after epoch `best`: retrain that long and compare.
    reference = zero_line()
    fit(reference, mse, opt(reference), sloped(2.0), epochs=best + 1, batch_size=16, seed=0,
        **QUIET)
    np.testing.assert_array_equal(model.W.data, reference.W.data)
    np.testing.assert_array_equal(model.b.data, reference.b.data)


def test_early_stopping_restores_torch_weights():
    def make():
        return to_torch(zero_line())

    def opt(m):
        return torch.optim.SGD(m.parameters(), lr=0.05)

    model, h = _slope_run(make, opt, early_stopping={"patience": 2})
    best = int(np.argmin(h.val_loss))
    assert h.best_epoch == best and h.stopped_epoch == best + 2, h
    reference = make()
    fit(reference, mse, opt(reference), sloped(2.0), epochs=best + 1, batch_size=16, seed=0,
        **QUIET)
    assert torch.equal(model.weight, reference.weight) and torch.equal(model.bias, reference.bias)


def test_early_stopping_without_restore_keeps_last_weights():
    model, h = _slope_run(zero_line, lambda m: SGD(m.parameters(), lr=0.05),
                          early_stopping=EarlyStopping(patience=2, restore_best=False))
    assert not h.restored_best and h.stopped_early
    assert h.best_epoch < h.epochs_run - 1


def test_early_stopping_needs_validation_data(blobs):
    train_set, _ = blobs
    model = MLP([2, 4, 3])
    with pytest.raises(ValueError, match=r"val=\(X_val, y_val\)"):
        fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), train_set, epochs=2,
            batch_size=8, early_stopping=EarlyStopping(), **QUIET)


# --------------------------------------------------------------------------- divergence
def test_nan_loss_stops_with_epoch_batch_and_smaller_lr(capfd):
    X, y = make_regression(64, seed=0)
    model = MLP([1, 32, 1], seed=0)
    with pytest.raises(FloatingPointError) as info:
        fit(model, mse, SGD(model.parameters(), lr=1e3), (X, y), epochs=5, batch_size=8,
            **QUIET)
    err = info.value
    message = str(err)
    assert isinstance(err, DivergenceError)
    assert f"epoch {err.epoch + 1}/5" in message and f"batch {err.batch + 1}/8" in message, message
    assert "lr=1000" in message and "smaller" in message, message
    assert err.history is not None and not np.isfinite(err.history.train_loss[-1])
    assert all(np.isfinite(p.data).all() for p in model.parameters()), \
        "the step that would make the weights NaN must not be taken"
    out, errors = capfd.readouterr()
    assert out == "" and errors == "", f"divergence should only raise, wrote {out!r} {errors!r}"


def _devices():
    """Every device present; the accelerators carry the ``gpu`` mark."""
    names = ["cpu"]
    if torch.cuda.is_available():
        names.append(pytest.param("cuda", marks=pytest.mark.gpu))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        names.append(pytest.param("mps", marks=pytest.mark.gpu))
    return names


def _diverging_run(device, sync_every, *, lr=1e3, early_stopping=None, val=False):
    """A regression MLP whose loss overflows within a few epochs; its error and final weights."""
    X, y = make_regression(64, seed=0)
    model = TorchMLP([1, 32, 1], seed=0)
    with pytest.raises(DivergenceError) as info:
        fit(model, mse, torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9), (X, y),
            (X, y) if val else None, epochs=5, batch_size=8, device=device,
            sync_every=sync_every, early_stopping=early_stopping, **QUIET)
    return info.value, [p.detach().cpu().double().numpy() for p in model.parameters()]


def _one_step_at_a_time(lr, epoch, batch):
    """The oracle: a hand loop on the CPU that stops before the step of (epoch, batch)."""
    X, y = make_regression(64, seed=0)
    model = TorchMLP([1, 32, 1], seed=0)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    Xt, yt = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
    for e in range(epoch + 1):
        batches = [b for _, b in iterate_minibatches(np.arange(64), np.arange(64), 8,
                                                     shuffle=True, seed=e)]
        for b, rows in enumerate(batches):
            if (e, b) == (epoch, batch):
                return [p.detach().double().numpy() for p in model.parameters()]
            opt.zero_grad()
            F.mse_loss(model(Xt[rows]), yt[rows].reshape(-1, 1)).backward()
            opt.step()
    raise AssertionError("the oracle never reached the bad batch")


@pytest.mark.parametrize("device", _devices())
def test_divergence_leaves_the_same_finite_weights_whatever_the_sync_policy(device):
    """The contract: the weights from before the bad step, on every device and policy."""
    runs = {sync: _diverging_run(device, sync) for sync in (1, 3, 10**6)}
    (err, weights), *others = runs.values()
    assert isinstance(err, FloatingPointError) and err.restored == "last finite"
    assert re.search(r"epoch \d+/5, batch \d+/8.*lr=1000.*smaller", str(err)), str(err)
    assert all(np.isfinite(w).all() for w in weights), "the bad step must not stay taken"
    for other_err, other_weights in others:
        assert (other_err.epoch, other_err.batch) == (err.epoch, err.batch)
        for a, b in zip(weights, other_weights, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    expected = _one_step_at_a_time(1e3, err.epoch, err.batch)
    for a, b in zip(weights, expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert not np.isfinite(err.history.train_loss[-1]) and err.history.epochs_run == err.epoch + 1


@pytest.mark.parametrize("device", _devices())
def test_divergence_with_restore_best_leaves_the_best_epoch(device):
    runs = [_diverging_run(device, sync, lr=0.2, val=True,
                           early_stopping=EarlyStopping(patience=50)) for sync in (1, 10**6)]
    for err, _ in runs:
        assert err.restored == "best" and err.history.restored_best
        assert err.epoch >= 1 and err.history.best_epoch is not None
    for a, b in zip(runs[0][1], runs[1][1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # The oracle: the same run, stopped after the best epoch.
    X, y = make_regression(64, seed=0)
    model = TorchMLP([1, 32, 1], seed=0)
    fit(model, mse, torch.optim.SGD(model.parameters(), lr=0.2, momentum=0.9), (X, y),
        epochs=runs[0][0].history.best_epoch + 1, batch_size=8, device=device, **QUIET)
    for a, p in zip(runs[0][1], model.parameters(), strict=True):
        np.testing.assert_allclose(a, p.detach().cpu().double().numpy(), rtol=1e-5, atol=1e-6)


def test_a_step_that_overflows_the_weights_is_undone():
    """Every loss finite, yet one step sends a weight to inf: the step before it is kept."""
    X = np.ones((8, 1), np.float32)
    y = np.zeros(8, np.float32)
    for sync in (1, 10**6):
        model = torch.nn.Linear(1, 1)
        with torch.no_grad():
            model.weight.fill_(1.0)
            model.bias.fill_(0.0)
        # The gradient is finite (2 w), but lr x gradient overflows float32.
        opt = torch.optim.SGD(model.parameters(), lr=3e38)
        with pytest.raises(DivergenceError, match=r"made a weight infinite or NaN") as info:
            fit(model, mse, opt, (X, y), epochs=2, batch_size=8, sync_every=sync, **QUIET)
        assert (info.value.epoch, info.value.batch) == (0, 0)
        assert model.weight.item() == 1.0 and model.bias.item() == 0.0


def test_numpy_engine_undoes_a_step_that_overflows_the_weights():
    # Outputs near 1e100 give a finite loss (1e200) and gradient (2e200), but lr x gradient
    # overflows float64: the first step sends the weights to infinity.
    X, y = np.full((8, 1), 1e100), np.zeros(8)
    model = Linear(1, 1, seed=0)
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(DivergenceError, match=r"epoch 1/2, batch 1/1 made a weight"):
        fit(model, mse, SGD(model.parameters(), lr=1e200), (X, y), epochs=2, batch_size=8,
            **QUIET)
    for p, b in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.data, b)


# --------------------------------------------------------------------------- quiet and output
def test_progress_false_writes_nothing(blobs, capfd):
    train_set, val_set = blobs
    numpy_model, torch_model = MLP([2, 8, 3]), TorchMLP([2, 8, 3], seed=0)
    fit(numpy_model, cross_entropy, SGD(numpy_model.parameters(), lr=0.1), train_set, val_set,
        epochs=2, batch_size=32, **QUIET)
    fit(torch_model, cross_entropy, torch.optim.SGD(torch_model.parameters(), lr=0.1),
        train_set, val_set, epochs=2, batch_size=32, early_stopping=EarlyStopping(), **QUIET)
    out, err = capfd.readouterr()
    assert out == "" and err == "", f"progress=False must write nothing; got {out!r}, {err!r}"


def test_progress_bar_shows_loss(blobs, capfd):
    train_set, _ = blobs
    model = MLP([2, 8, 3])
    fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), train_set, epochs=2,
        batch_size=64, progress=True)
    _, err = capfd.readouterr()
    assert "train_loss" in err and "2/2" in err, err


def test_history_summary_and_plot(blobs, tmp_path):
    train_set, val_set = blobs
    model = MLP([2, 8, 3])
    h = fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), train_set, val_set,
            epochs=3, batch_size=32, **QUIET)
    assert isinstance(h, History)
    assert len(h.train_loss) == len(h.val_loss) == 3 == h.epochs_run
    assert h.best_epoch == int(np.argmin(h.val_loss)) and h.best_val_loss == min(h.val_loss)
    assert h.wall_time > 0 and h.examples_per_second > 0 and h.stopped_epoch is None
    assert "3 epochs" in repr(h) and "val_loss" in repr(h)
    fig = h.plot()
    fig.savefig(tmp_path / "history.png")
    assert fig.axes[0].get_title()


def test_history_without_validation_uses_train_loss(blobs):
    train_set, _ = blobs
    model = MLP([2, 8, 3])
    h = fit(model, cross_entropy, SGD(model.parameters(), lr=0.1), train_set, epochs=3,
            batch_size=32, **QUIET)
    assert h.val_loss == [] and h.best_val_loss is None
    assert h.best_epoch == int(np.argmin(h.train_loss))


# --------------------------------------------------------------------------- data handling
def test_torch_engine_converts_dtypes_once(blobs):
    (X, y), _ = blobs
    model = TorchMLP([2, 8, 3], seed=0)  # float32 parameters
    h = fit(model, cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1),
            (X.astype(np.float64), y.astype(np.int32)), epochs=1, batch_size=32, **QUIET)
    assert np.isfinite(h.train_loss[0])
    h = fit(model, F.cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1),
            (torch.from_numpy(X), torch.from_numpy(y)), epochs=1, batch_size=32, **QUIET)
    assert np.isfinite(h.train_loss[0])


def test_numpy_losses_resolve_to_torch_functions():
    assert torch_loss(mse) is F.mse_loss
    assert torch_loss(cross_entropy) is F.cross_entropy
    assert torch_loss(F.cross_entropy) is F.cross_entropy


# --------------------------------------------------------------------------- bad input
def _numpy_setup():
    model = MLP([2, 4, 3])
    return model, SGD(model.parameters(), lr=0.1)


def test_lengths_that_differ_are_named(blobs):
    (X, y), _ = blobs
    model, opt = _numpy_setup()
    with pytest.raises(ValueError, match=r"X has 240 rows but y has 239"):
        fit(model, cross_entropy, opt, (X, y[:-1]), epochs=1, batch_size=8, **QUIET)
    with pytest.raises(ValueError, match=r"val: X has 240 rows but y has 10"):
        fit(model, cross_entropy, opt, (X, y), (X, y[:10]), epochs=1, batch_size=8, **QUIET)
    with pytest.raises(TypeError, match=r"train must be a tuple \(X, y\)"):
        fit(model, cross_entropy, opt, X, epochs=1, batch_size=8, **QUIET)


@pytest.mark.parametrize(("name", "value"), [("epochs", 0), ("epochs", 2.5),
                                             ("batch_size", -4), ("batch_size", True)])
def test_epochs_and_batch_size_must_be_positive_ints(blobs, name, value):
    (X, y), _ = blobs
    model, opt = _numpy_setup()
    options = {"epochs": 1, "batch_size": 8, name: value}
    with pytest.raises(ValueError, match=rf"{name}={value!r} must be a positive int"):
        fit(model, cross_entropy, opt, (X, y), **options, **QUIET)


def test_optimizer_of_another_model_is_refused(blobs):
    (X, y), _ = blobs
    model, _ = _numpy_setup()
    other = MLP([2, 4, 3])
    with pytest.raises(ValueError, match=r"does not own 4 of the model's 4 parameters"):
        fit(model, cross_entropy, SGD(other.parameters(), lr=0.1), (X, y), epochs=1,
            batch_size=8, **QUIET)
    torch_model, torch_other = TorchMLP([2, 4, 3]), TorchMLP([2, 4, 3])
    with pytest.raises(ValueError, match=r"owns none of the model's 4 trainable parameters"):
        fit(torch_model, cross_entropy, torch.optim.SGD(torch_other.parameters(), lr=0.1),
            (X, y), epochs=1, batch_size=8, **QUIET)


def test_engine_mismatches_are_explained(blobs):
    (X, y), _ = blobs
    model, opt = _numpy_setup()
    with pytest.raises(TypeError, match=r"PyTorch loss.*mlcourse.losses"):
        fit(model, F.cross_entropy, opt, (X, y), epochs=1, batch_size=8, **QUIET)
    with pytest.raises(TypeError, match=r"use mlcourse.optim"):
        fit(model, cross_entropy, torch.optim.SGD(to_torch(model).parameters(), lr=0.1),
            (X, y), epochs=1, batch_size=8, **QUIET)
    with pytest.raises(ValueError, match=r"numpy engine runs on the CPU only"):
        fit(model, cross_entropy, opt, (X, y), epochs=1, batch_size=8, device="cuda", **QUIET)
    torch_model = TorchMLP([2, 4, 3])
    with pytest.raises(TypeError, match=r"use torch.optim"):
        fit(torch_model, cross_entropy, opt, (X, y), epochs=1, batch_size=8, **QUIET)


def test_bad_data_is_refused_before_training(blobs):
    (X, y), _ = blobs
    model, opt = _numpy_setup()
    X_nan = X.copy()
    X_nan[5, 1] = np.nan
    with pytest.raises(ValueError, match=r"train X contains 1 NaN"):
        fit(model, cross_entropy, opt, (X_nan, y), epochs=1, batch_size=8, **QUIET)
    wide = MLP([3, 4, 3])
    with pytest.raises(ValueError, match=r"shape \(2, 2\).*input size match"):
        fit(wide, cross_entropy, SGD(wide.parameters(), lr=0.1), (X, y), epochs=1,
            batch_size=8, **QUIET)
    with pytest.raises(ValueError, match=r"mean squared error needs the same shape"):
        torch_model = TorchMLP([2, 4, 3])
        fit(torch_model, mse, torch.optim.SGD(torch_model.parameters(), lr=0.1),
            (X, X[:, :1] * 0), epochs=1, batch_size=8, **QUIET)


# --------------------------------------------------------------------------- GPU
@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_engine_trains_and_reports_divergence(blobs):
    train_set, val_set = blobs
    model = TorchMLP([2, 32, 3], seed=0)
    h = fit(model, cross_entropy, torch.optim.Adam(model.parameters(), lr=0.01), train_set,
            val_set, epochs=10, batch_size=32, device="cuda", metrics={"acc": train.accuracy},
            **QUIET)
    assert h.device.startswith("cuda") and next(model.parameters()).is_cuda
    assert h.val_loss[-1] < 0.3 and h.metrics["val_acc"][-1] > 0.9, h
    X, y = make_regression(64, seed=0)
    model = TorchMLP([1, 32, 1], seed=0)
    with pytest.raises(DivergenceError, match=r"epoch \d+/5, batch \d+/8"):
        fit(model, mse, torch.optim.SGD(model.parameters(), lr=1e3), (X, y), epochs=5,
            batch_size=8, device="cuda", **QUIET)


def test_sync_policy_changes_when_the_host_looks_never_the_results(blobs, monkeypatch):
    """The accelerator's policy (one look per epoch) exercised on the CPU."""
    train_set, val_set = blobs
    looks = []
    original = TorchEngine.host_values

    def counting(self, losses):
        looks.append(len(losses))
        return original(self, losses)

    monkeypatch.setattr(TorchEngine, "host_values", counting)

    def run(sync_every):
        looks.clear()
        model = TorchMLP([2, 8, 3], seed=0)
        h = fit(model, cross_entropy, torch.optim.SGD(model.parameters(), lr=0.1),
                train_set, val_set, epochs=3, batch_size=50, sync_every=sync_every, **QUIET)
        return h, list(looks)

    per_batch, batch_looks = run(None)  # a CPU looks at every batch
    per_epoch, epoch_looks = run(10**6)
    n_batches = -(-len(train_set[0]) // 50)
    assert batch_looks == [1] * (3 * n_batches) and epoch_looks == [n_batches] * 3
    np.testing.assert_allclose(per_epoch.train_loss, per_batch.train_loss, rtol=1e-12)
    assert per_epoch.val_loss == per_batch.val_loss
    with pytest.raises(ValueError, match=r"sync_every=0 must be a positive int"):
        fit(TorchMLP([2, 8, 3]), cross_entropy, torch.optim.SGD(TorchMLP([2, 8, 3]).parameters(),
            lr=0.1), train_set, epochs=1, batch_size=50, sync_every=0, **QUIET)


def test_engines_declare_the_interface():
    from mlcourse.train import Engine
    from mlcourse.train.engines import NumpyEngine

    model = MLP([2, 3])
    numpy_engine = NumpyEngine(model, cross_entropy, SGD(model.parameters(), lr=0.1), "cpu")
    net = TorchMLP([2, 3])
    torch_engine = TorchEngine(net, cross_entropy, torch.optim.SGD(net.parameters(), lr=0.1),
                               "cpu")
    assert isinstance(numpy_engine, Engine) and isinstance(torch_engine, Engine)
    assert not isinstance(object(), Engine)


def test_no_function_in_the_train_package_is_longer_than_sixty_lines():
    """The loop stays readable: every function in mlcourse/train/ fits on a screen."""
    import ast
    from pathlib import Path

    package = Path(train.__file__).parent
    too_long = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                span = node.end_lineno - node.lineno + 1
                if span > 60:
                    too_long.append(f"{path.name}:{node.lineno} {node.name} ({span} lines)")
    assert len(list(package.glob("*.py"))) >= 5, "mlcourse/train/ should be a package of modules"
    assert not too_long, "split these functions: " + ", ".join(too_long)
