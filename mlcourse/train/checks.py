"""Everything ``fit`` checks before the first step, each with an error that says the fix.

torch is never imported here: a torch object is recognised through
``sys.modules`` (no torch imported means it cannot be a torch object).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from mlcourse import arguments
from mlcourse.train.stopping import EarlyStopping


def options(epochs: Any, batch_size: Any, metrics: Mapping[str, Callable] | None,
            stopper: EarlyStopping | None, has_val: bool, sync_every: Any
            ) -> tuple[int, int, dict[str, Callable]]:
    """``fit``'s scalar options, checked together: ``(epochs, batch_size, metrics)``."""
    epochs = arguments.count(epochs, "epochs", example=20)
    batch_size = arguments.count(batch_size, "batch_size", example=32)
    if sync_every is not None:
        arguments.count(sync_every, "sync_every", example=1)
    metrics = dict(metrics or {})
    for name, fn in metrics.items():
        if not callable(fn):
            raise TypeError(f"metrics[{name!r}] is {fn!r}; pass a function fn(y_hat, y) -> float")
    if stopper is not None and stopper.monitor.startswith("val_") and not has_val:
        raise ValueError(
            f"early_stopping monitors {stopper.monitor!r} but no validation data was given; "
            "pass val=(X_val, y_val) to fit, or EarlyStopping(monitor='train_loss')"
        )
    if stopper is not None and stopper.monitor not in ("val_loss", "train_loss"):
        if stopper.monitor.split("_", 1)[1] not in metrics:
            raise ValueError(
                f"early_stopping monitors {stopper.monitor!r} but metrics={sorted(metrics)}; "
                f"pass metrics={{{stopper.monitor.split('_', 1)[1]!r}: fn}} as well"
            )
    return epochs, batch_size, metrics


def pair(split: str, value: Any) -> tuple[Any, Any]:
    """``(X, y)`` with one row per example in each, or an error that says which is off."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"{split} must be a tuple (X, y), got {type(value).__name__}; "
                        f"e.g. fit(..., {split}=(X_{split}, y_{split}))")
    X, y = value
    n_X, n_y = rows(X), rows(y)
    if n_X != n_y:
        raise ValueError(f"{split}: X has {n_X} rows but y has {n_y}; they must have one row "
                         "per example. Did you pair the right X with the right y?")
    if n_X == 0:
        raise ValueError(f"{split} has no examples; pass at least one row")
    return X, y


def rows(a: Any) -> int:
    shape = getattr(a, "shape", None)
    if shape is None:
        shape = np.asarray(a).shape
    if len(shape) == 0:
        raise ValueError("X and y need one row per example, got a scalar")
    return int(shape[0])


def finite(split: str, X: np.ndarray, y: np.ndarray) -> None:
    """Refuse NaN or infinite inputs before they become a NaN loss."""
    for name, a in ((f"{split} X", X), (f"{split} y", y)):
        if np.issubdtype(a.dtype, np.floating) and not np.isfinite(a).all():
            bad = np.argwhere(~np.isfinite(a))[0]
            raise ValueError(f"{name} contains {int((~np.isfinite(a)).sum())} NaN or infinite "
                             f"values (the first at index {tuple(int(i) for i in bad)}); "
                             "remove or impute them before training")


def run_model(forward: Callable, X_small: Any) -> Any:
    """The model's output on two rows; its failure re-raised with the shapes that explain it."""
    try:
        return forward(X_small)
    except Exception as err:
        raise ValueError(
            f"the model could not run on a batch of X with shape {tuple(X_small.shape)}: "
            f"{err}. Does the model's input size match X's last axis?"
        ) from err


def is_mse(loss_fn: Any) -> bool:
    name = getattr(loss_fn, "torch_name", None) or getattr(loss_fn, "__name__", "")
    return name in ("mse_loss", "mse") or type(loss_fn).__name__ == "MSELoss"


def target_shape(y_hat: Any, y: Any, loss_fn: Any) -> tuple[int, ...] | None:
    """The per-example shape y must take for ``loss_fn`` (None: keep y as it is).

    Only MSE is reshaped: targets ``(n,)`` against outputs ``(n, 1)`` become
    ``(n, 1)``, one target per example. Any other mismatch is refused, because
    broadcasting would compare every prediction with every target.
    """
    if not is_mse(loss_fn) or tuple(y_hat.shape) == tuple(y.shape):
        return None
    if y.ndim == 1 and tuple(y_hat.shape) == (len(y), 1):
        return (1,)
    raise ValueError(
        f"the model's output has shape {tuple(y_hat.shape)} but y has shape "
        f"{tuple(y.shape)} (per 2 examples); mean squared error needs the same shape, "
        "otherwise broadcasting compares every prediction with every target. Reshape y "
        "or change the model's output size."
    )


def to_numpy(a: Any) -> np.ndarray:
    if hasattr(a, "detach") and hasattr(a, "cpu"):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def name_of(obj: Any) -> str:
    return getattr(obj, "__qualname__", None) or type(obj).__name__


def is_torch_module(obj: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)


def is_torch_optimizer(obj: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.optim.Optimizer)


def is_torch_loss(fn: Any) -> bool:
    if is_torch_module(fn):
        return True
    module = getattr(fn, "__module__", None) or ""
    return module.split(".")[0] == "torch"


def torch_loss(loss_fn: Any) -> Callable:
    """A torch loss as is; an mlcourse.losses loss as its torch twin.

    ``mse`` and ``cross_entropy`` become ``torch.nn.functional.<torch_name>``
    itself; a loss whose twin needs reshaping (``next_token_cross_entropy``)
    uses its ``torch_fn``.
    """
    import torch.nn.functional as F

    if not callable(loss_fn):
        raise TypeError(f"loss_fn={loss_fn!r} is not callable; pass e.g. "
                        "torch.nn.functional.cross_entropy")
    torch_name = getattr(loss_fn, "torch_name", None)
    if torch_name is None or is_torch_loss(loss_fn):
        return loss_fn
    twin = getattr(F, torch_name, None)
    same_function = getattr(loss_fn, "__name__", "") in (torch_name,
                                                         torch_name.removesuffix("_loss"))
    if twin is not None and same_function:
        return twin
    torch_fn = getattr(loss_fn, "torch_fn", None)
    if callable(torch_fn):
        return torch_fn
    if twin is None:
        raise ValueError(f"loss_fn.torch_name={torch_name!r} is not a function of "
                         "torch.nn.functional; pass a torch loss instead")
    return twin


def numpy_parts(model: Any, loss_fn: Any, optimizer: Any, device: Any) -> None:
    """The numpy engine's model, loss, optimizer and device, or the fix for each."""
    if not (callable(getattr(model, "forward", None))
            and callable(getattr(model, "backward", None))
            and callable(getattr(model, "parameters", None))):
        raise TypeError(
            f"model is a {type(model).__name__}; fit trains an mlcourse.nn.Module (numpy: "
            "forward, backward, parameters) or a torch.nn.Module"
        )
    if device not in ("auto", "cpu", None):
        raise ValueError(
            f"device={device!r}: the numpy engine runs on the CPU only; use device='auto' "
            "or 'cpu', or convert the model with mlcourse.nn.to_torch(model) to use a GPU"
        )
    if is_torch_loss(loss_fn):
        raise TypeError(
            f"loss_fn={name_of(loss_fn)} is a PyTorch loss, but the model is a numpy "
            f"{type(model).__name__}; use a loss from mlcourse.losses (e.g. "
            "mlcourse.losses.cross_entropy), or train mlcourse.nn.to_torch(model) instead"
        )
    if not callable(getattr(loss_fn, "grad", None)):
        raise TypeError(
            f"loss_fn={name_of(loss_fn)} has no .grad: the numpy engine needs the loss's "
            "gradient w.r.t. y_hat. Use a loss from mlcourse.losses, or attach yours: "
            "my_loss.grad = my_loss_grad"
        )
    if is_torch_optimizer(optimizer):
        raise TypeError(
            f"optimizer is a torch {type(optimizer).__name__}, but the model is numpy; use "
            "mlcourse.optim, e.g. SGD(model.parameters(), lr=0.1)"
        )
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(f"optimizer={optimizer!r} has no step(); use mlcourse.optim, e.g. "
                        "SGD(model.parameters(), lr=0.1)")
    owned = getattr(optimizer, "params", None)
    if owned is None:
        return
    params = list(model.parameters())
    owned_ids = {id(p) for p in owned}
    missing = [i for i, p in enumerate(params) if id(p) not in owned_ids]
    if missing:
        raise ValueError(
            f"the optimizer does not own {len(missing)} of the model's {len(params)} "
            f"parameters (positions {missing[:5]}{'...' if len(missing) > 5 else ''}), so "
            "training would not change them. " + _RECREATE.format("SGD")
        )


def torch_parts(model: Any, optimizer: Any) -> None:
    """The torch engine's optimizer: a torch.optim one that owns this model's parameters."""
    if not is_torch_optimizer(optimizer):
        raise TypeError(
            f"optimizer is a {type(optimizer).__name__}, but the model is a torch "
            f"{type(model).__name__}; use torch.optim, e.g. "
            "torch.optim.SGD(model.parameters(), lr=0.1)"
        )
    owned = {id(p) for group in optimizer.param_groups for p in group["params"]}
    trainable = [p for p in model.parameters() if p.requires_grad]
    if trainable and not any(id(p) in owned for p in trainable):
        raise ValueError(
            f"the optimizer owns none of the model's {len(trainable)} trainable parameters, "
            "so training would not change it. " + _RECREATE.format("torch.optim.SGD")
        )


_RECREATE = ("Create the optimizer from this model: optimizer = {}(model.parameters(), "
             "lr=...) -- a common cause is re-creating the model after the optimizer.")
