"""The figures the notebooks share; each function returns a matplotlib ``Figure``.

Figures are built with ``matplotlib.figure.Figure`` directly, not pyplot: no
global state, nothing shown twice, nothing left open. In a notebook, a figure
returned as a cell's last value is drawn once; elsewhere, save it with
``fig.savefig("name.png")``. Every figure has a title and labelled axes.

- ``loss_curves``: training and validation loss per epoch, best epoch marked.
- ``decision_boundary``: a classifier's regions over 2-D inputs.
- ``complexity_curve``: error against model capacity, under- and overfitting.
- ``gradcheck_report``: analytic against numerical gradients, relative errors.
- ``lr_comparison``: loss curves for several learning rates.
- ``loss_surface_paths``: the contours of a 2-D loss and optimizer paths on them.
- ``perplexity_vs_floor``: a language model's perplexity against the entropy floor.
"""

from __future__ import annotations

import io
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap, LogNorm
from matplotlib.figure import Figure

from mlcourse.device import eval_mode

__all__ = [
    "loss_curves", "decision_boundary", "complexity_curve", "gradcheck_report",
    "lr_comparison", "loss_surface_paths", "perplexity_vs_floor",
]

_TRAIN, _VAL, _BEST = "#1f77b4", "#ff7f0e", "#2ca02c"


class CourseFigure(Figure):
    """A ``Figure`` that draws itself as a PNG when a notebook displays it."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def _axes(ax: Axes | None, width: float = 6.4, height: float = 4.2) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax
    fig = CourseFigure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def _values(seq: Any, name: str) -> np.ndarray:
    """A 1-D float array, with infinities turned into NaN (gaps in a line plot)."""
    if hasattr(seq, "detach"):
        seq = seq.detach().cpu().numpy()
    values = np.asarray(seq, dtype=np.float64).ravel()
    return np.where(np.isfinite(values), values, np.nan)


def _auto_log(ax: Axes, *arrays: np.ndarray, axis: str = "y", ratio: float = 50.0) -> None:
    finite = np.concatenate([a[np.isfinite(a)] for a in arrays]) if arrays else np.array([])
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > ratio:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")


# --------------------------------------------------------------------------- #
def loss_curves(
    history: Any,
    val_loss: Sequence[float] | None = None,
    best_epoch: int | None = None,
    *,
    title: str = "Loss per epoch",
    ylabel: str = "loss",
    logy: bool | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Training (and validation) loss against the epoch, the best epoch marked.

    Parameters
    ----------
    history : mlcourse.train.History, or a sequence of training losses per epoch
    val_loss : sequence of float, optional (taken from ``history`` when it is one)
    best_epoch : int, optional
        0-based index of the epoch to mark; by default ``history.best_epoch``,
        or the epoch of the lowest validation loss.
    logy : bool or None
        Log-scale loss axis; None picks it when the loss spans a large range.

    Example
    -------
    >>> fig = loss_curves([1.0, 0.5, 0.3, 0.35], [1.1, 0.6, 0.4, 0.5])
    >>> fig.axes[0].get_xlabel()
    'epoch'
    """
    if hasattr(history, "train_loss"):
        train = _values(history.train_loss, "train_loss")
        val = _values(history.val_loss if val_loss is None else val_loss, "val_loss")
        if best_epoch is None:
            best_epoch = getattr(history, "best_epoch", None)
    else:
        train = _values(history, "train_loss")
        val = _values([] if val_loss is None else val_loss, "val_loss")
    if train.size == 0 and val.size == 0:
        raise ValueError("loss_curves: no losses to plot; pass a History or a list of losses")
    fig, ax = _axes(ax)
    ax.plot(np.arange(1, train.size + 1), train, "-", color=_TRAIN, lw=2, label="training")
    if val.size:
        ax.plot(np.arange(1, val.size + 1), val, "-", color=_VAL, lw=2, label="validation")
    reference = val if val.size else train
    if best_epoch is None and np.isfinite(reference).any():
        best_epoch = int(np.nanargmin(reference))
    if best_epoch is not None and 0 <= best_epoch < reference.size:
        x, y = best_epoch + 1, reference[best_epoch]
        ax.axvline(x, color=_BEST, ls="--", lw=1.2)
        ax.plot([x], [y], "o", ms=9, mfc="none", mew=2, color=_BEST,
                label=f"best epoch {x} (loss {y:.3g})")
    if logy:
        ax.set_yscale("log")
    elif logy is None:
        _auto_log(ax, train, val)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if max(train.size, val.size) <= 20:  # few epochs: whole-number ticks only
        ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    return fig


# --------------------------------------------------------------------------- #
def _labels(out: Any) -> np.ndarray:
    """Class labels from what a predict function returned."""
    if hasattr(out, "detach"):
        out = out.detach().cpu().numpy()
    out = np.asarray(out)
    if out.ndim == 2 and out.shape[1] > 1:
        return out.argmax(axis=1)
    out = out.reshape(len(out))
    if np.issubdtype(out.dtype, np.integer) or np.issubdtype(out.dtype, np.bool_):
        return out.astype(np.int64)
    if np.all(out == np.round(out)):
        return out.astype(np.int64)
    threshold = 0.5 if (out.min() >= 0 and out.max() <= 1) else 0.0
    return (out > threshold).astype(np.int64)


def _as_predict(predict_fn: Any) -> Callable[[np.ndarray], Any]:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(predict_fn, torch.nn.Module):
        param = next(predict_fn.parameters(), None)
        dtype = param.dtype if param is not None else torch.float32
        device = param.device if param is not None else "cpu"

        def predict(G: np.ndarray) -> Any:
            with eval_mode(predict_fn):
                return predict_fn(torch.as_tensor(G, dtype=dtype, device=device))

        return predict
    if not callable(predict_fn):
        raise TypeError(f"decision_boundary: predict_fn={predict_fn!r} is not callable; pass "
                        "a function of an (m, 2) array, or a model")
    return predict_fn


def decision_boundary(
    predict_fn: Any,
    X: Any,
    y: Any,
    *,
    resolution: int = 200,
    title: str = "Decision boundary",
    xlabel: str = "$x_1$",
    ylabel: str = "$x_2$",
    ax: Axes | None = None,
) -> Figure:
    """The regions a classifier assigns to each class, with the data on top.

    Parameters
    ----------
    predict_fn : callable or model
        Maps an (m, 2) float64 array to class labels (m,) or class scores
        (m, C) (the largest wins); a single score per point is thresholded.
        A ``torch.nn.Module`` or ``mlcourse.nn.Module`` can be passed as is.
    X : (n, 2) inputs
    y : (n,) integer labels

    Example
    -------
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0]]); y = np.array([0, 1])
    >>> fig = decision_boundary(lambda G: (G.sum(axis=1) > 1).astype(int), X, y)
    """
    X = np.asarray(X.detach().cpu() if hasattr(X, "detach") else X, dtype=np.float64)
    y = np.asarray(y.detach().cpu() if hasattr(y, "detach") else y).ravel()
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_boundary draws 2-D inputs: X must have shape (n, 2), got "
                         f"{X.shape}")
    if len(y) != len(X):
        raise ValueError(f"decision_boundary: X has {len(X)} rows but y has {len(y)}")
    predict = _as_predict(predict_fn)
    pad = 0.1 * (X.max(axis=0) - X.min(axis=0)) + 1e-9
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    g1, g2 = np.meshgrid(np.linspace(lo[0], hi[0], resolution),
                         np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([g1.ravel(), g2.ravel()])
    Z = _labels(predict(grid)).reshape(g1.shape)

    n_classes = int(max(Z.max(), y.max())) + 1
    base = [f"C{i}" for i in range(10)]
    cmap = ListedColormap([base[i % 10] for i in range(n_classes)])
    norm = BoundaryNorm(np.arange(n_classes + 1) - 0.5, n_classes)
    fig, ax = _axes(ax, 5.6, 4.8)
    ax.contourf(g1, g2, Z, levels=np.arange(n_classes + 1) - 0.5, cmap=cmap, norm=norm,
                alpha=0.25)
    ax.contour(g1, g2, Z, levels=np.arange(n_classes) + 0.5, colors="k", linewidths=0.8,
               alpha=0.6)
    for c in np.unique(y):
        mask = y == c
        ax.scatter(X[mask, 0], X[mask, 1], s=18, color=base[int(c) % 10], edgecolors="k",
                   linewidths=0.4, label=f"class {int(c)}")
    errors = float(np.mean(_labels(predict(X)) != y))
    ax.set_title(f"{title} (training error {errors:.1%})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.legend(loc="best", fontsize="small", framealpha=0.8)
    return fig


# --------------------------------------------------------------------------- #
def complexity_curve(
    capacities: Sequence[float],
    train_err: Sequence[float],
    val_err: Sequence[float],
    best: float | None = None,
    *,
    xlabel: str = "model capacity",
    ylabel: str = "error",
    title: str = "Error against model capacity",
    logx: bool | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Training and validation error against capacity; under- and overfitting shaded.

    Parameters
    ----------
    capacities : sequence of numbers (hidden units, polynomial degree, epochs, ...)
    train_err, val_err : sequences of the same length
    best : the capacity to mark; by default the one with the lowest validation error.
        Left of it the model underfits (both errors high); right of it it
        overfits (training error keeps falling, validation error rises).

    Example
    -------
    >>> fig = complexity_curve([1, 2, 4, 8], [0.5, 0.3, 0.1, 0.02], [0.55, 0.35, 0.25, 0.4])
    """
    c = _values(capacities, "capacities")
    tr, va = _values(train_err, "train_err"), _values(val_err, "val_err")
    if not (c.size == tr.size == va.size) or c.size == 0:
        raise ValueError(f"complexity_curve: capacities, train_err and val_err need the same "
                         f"non-zero length, got {c.size}, {tr.size} and {va.size}")
    order = np.argsort(c)
    c, tr, va = c[order], tr[order], va[order]
    if best is None:
        best = float(c[int(np.nanargmin(va))])
    fig, ax = _axes(ax, 6.8, 4.4)
    if logx or (logx is None and c.min() > 0 and c.max() / c.min() >= 50):
        ax.set_xscale("log")
    ax.plot(c, tr, "o-", color=_TRAIN, lw=2, label="training error")
    ax.plot(c, va, "s-", color=_VAL, lw=2, label="validation error")
    if c.size > 1:
        ax.set_xlim(c.min(), c.max())
    left, right = ax.get_xlim()
    if best > left:
        ax.axvspan(left, best, color="tab:blue", alpha=0.07, lw=0)
        ax.text(_midpoint(ax, left, best), 0.96, "underfitting", transform=ax.get_xaxis_transform(),
                ha="center", va="top", color="tab:blue", fontsize="medium")
    if best < right:
        ax.axvspan(best, right, color="tab:red", alpha=0.07, lw=0)
        ax.text(_midpoint(ax, best, right), 0.96, "overfitting", transform=ax.get_xaxis_transform(),
                ha="center", va="top", color="tab:red", fontsize="medium")
    ax.axvline(best, color=_BEST, ls="--", lw=1.5, label=f"best capacity ({best:g})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, loc="center right")
    return fig


def _midpoint(ax: Axes, a: float, b: float) -> float:
    if ax.get_xscale() == "log" and a > 0 and b > 0:
        return math.sqrt(a * b)
    return (a + b) / 2


# --------------------------------------------------------------------------- #
def gradcheck_report(
    analytic: Any,
    numeric: Any,
    *,
    title: str = "Gradient check: analytic vs numerical",
) -> Figure:
    """Two panels: analytic against numerical gradient, and each element's relative error.

    The relative error of an element is ``|a - n| / (|a| + |n|)``. Rules of thumb
    (float64, central differences): below 1e-7 the gradient is right; above
    1e-2 it is almost surely wrong; in between, look for kinks (ReLU at 0).

    Parameters
    ----------
    analytic, numeric : arrays of the same shape (flattened for the plot)

    Example
    -------
    >>> g = np.array([1.0, -2.0, 3.0])
    >>> fig = gradcheck_report(g, g + 1e-9)
    """
    a = _values(analytic, "analytic")
    n = _values(numeric, "numeric")
    if a.shape != n.shape:
        raise ValueError(f"gradcheck_report: analytic has {a.size} elements but numeric has "
                         f"{n.size}; pass gradients of the same shape")
    rel = np.abs(a - n) / np.maximum(np.abs(a) + np.abs(n), np.finfo(float).tiny)
    worst = float(np.nanmax(rel)) if rel.size else 0.0
    verdict = "looks right" if worst < 1e-7 else ("check kinks" if worst < 1e-2 else "WRONG")
    fig = CourseFigure(figsize=(10.5, 4.4), layout="constrained")
    left, right = fig.subplots(1, 2)

    span = np.nanmax(np.abs(np.concatenate([a, n]))) if a.size else 1.0
    span = 1.0 if not np.isfinite(span) or span == 0 else 1.05 * span
    # Three verdicts, three colours: right (< 1e-7), suspicious, wrong (> 1e-2).
    groups = [(rel < 1e-7, _BEST, "right (< 1e-7)"),
              ((rel >= 1e-7) & (rel <= 1e-2), "#ff7f0e", "suspicious"),
              (rel > 1e-2, "#d62728", "wrong (> 1e-2)")]
    left.plot([-span, span], [-span, span], "--", color="grey", lw=1, label="y = x (perfect)")
    index = np.arange(rel.size)
    for mask, color, label in groups:
        if mask.any():
            left.scatter(n[mask], a[mask], s=22, color=color, edgecolors="k", linewidths=0.3,
                         label=f"{label}: {int(mask.sum())}")
            right.scatter(index[mask], np.clip(rel[mask], 1e-16, None), s=22, color=color,
                          edgecolors="k", linewidths=0.3)
    left.set_xlabel("numerical gradient (central differences)")
    left.set_ylabel("analytic gradient")
    left.set_title("each element: analytic vs numerical")
    left.legend(frameon=False, loc="upper left")
    left.grid(alpha=0.3)

    right.set_yscale("log")
    right.axhline(1e-7, color=_BEST, ls="--", lw=1.2, label="1e-7: below is right")
    right.axhline(1e-2, color="#d62728", ls="--", lw=1.2, label="1e-2: above is wrong")
    right.set_ylim(1e-17, 10)
    right.set_xlabel("element index (flattened)")
    right.set_ylabel("relative error |a - n| / (|a| + |n|)")
    right.set_title(f"max relative error {worst:.2e}: {verdict}")
    right.legend(frameon=False, loc="lower right")
    right.grid(alpha=0.3, which="major")
    fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- #
def lr_comparison(
    histories_by_lr: Mapping[float, Any],
    *,
    which: str = "train",
    title: str = "Loss per epoch for several learning rates",
    logy: bool | None = None,
    ax: Axes | None = None,
) -> Figure:
    """One loss curve per learning rate; runs that diverged are marked with an x.

    Parameters
    ----------
    histories_by_lr : dict lr -> History or sequence of losses per epoch
        A curve stops at its first NaN or infinite value, marked "diverged".
    which : "train" or "val"
        Which loss of a History to draw.

    Example
    -------
    >>> fig = lr_comparison({0.01: [1.0, 0.9, 0.8], 0.1: [1.0, 0.5, 0.2], 10: [1.0, 50, np.inf]})
    """
    if which not in ("train", "val"):
        raise ValueError(f"lr_comparison: which={which!r}; use 'train' or 'val'")
    if not histories_by_lr:
        raise ValueError("lr_comparison: histories_by_lr is empty; pass {lr: history, ...}")
    fig, ax = _axes(ax, 6.8, 4.4)
    lrs = sorted(histories_by_lr)
    runs = []
    for lr in lrs:
        h = histories_by_lr[lr]
        values = np.asarray(_raw_floats(getattr(h, f"{which}_loss") if hasattr(h, "train_loss")
                                        else h))
        bad = ~np.isfinite(values)
        runs.append((lr, values[: int(np.argmax(bad)) if bad.any() else values.size], bad.any()))
    # A run that explodes would squash the others flat: cap the axis at 10x a typical start.
    starts = [v[0] for _, v, _ in runs if v.size and v[0] > 0]
    top = 10 * float(np.median(starts)) if starts else None
    finite = [v for _, v, _ in runs if v.size]
    if logy:
        ax.set_yscale("log")
    elif logy is None:
        _auto_log(ax, *[np.minimum(v, top or np.inf) for v in finite], ratio=20.0)
    capped = top is not None and any(d or (v > top).any() for _, v, d in runs)
    for (lr, shown, diverged), color in zip(runs, _colors(len(runs)), strict=True):
        off_chart = top is not None and bool((shown > top).any())
        label = f"lr = {lr:g}" + (" (diverged)" if diverged else
                                  " (off the chart)" if off_chart else "")
        ax.plot(np.arange(1, shown.size + 1), shown, "-", color=color, lw=2, label=label)
        if diverged:  # an x where the loss became inf/NaN, on the top edge
            y_mark = top if capped else (shown[-1] if shown.size else 1.0)
            ax.plot([shown.size + 1], [y_mark], "x", color=color, ms=11, mew=2.5,
                    clip_on=False)
    if capped:
        low = min((float(np.min(v)) for v in finite), default=top / 100)
        ax.set_ylim(low * 0.8 if ax.get_yscale() == "log" else min(0.0, low), top)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{'training' if which == 'train' else 'validation'} loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    return fig


def _raw_floats(seq: Any) -> list[float]:
    if hasattr(seq, "detach"):
        seq = seq.detach().cpu().numpy()
    return [float(v) for v in np.asarray(seq, dtype=np.float64).ravel()]


def _colors(k: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(0.9 * i / max(k - 1, 1)) for i in range(k)]


# --------------------------------------------------------------------------- #
def _surface(f: Callable, W1: np.ndarray, W2: np.ndarray) -> np.ndarray:
    """f on a grid: vectorised as ``f(np.stack([W1, W2]))`` if it can, else point by point."""
    try:
        Z = np.asarray(f(np.stack([W1, W2])), dtype=np.float64)
        if Z.shape == W1.shape:
            return Z
    except Exception:  # a non-vectorised f: fall back to a loop
        pass
    flat = [float(f(np.array([u, v]))) for u, v in zip(W1.ravel(), W2.ravel(), strict=True)]
    return np.asarray(flat).reshape(W1.shape)


def loss_surface_paths(
    f: Callable,
    paths: Mapping[str, Any] | Any,
    *,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    minimum: Sequence[float] | None = None,
    levels: int = 25,
    resolution: int = 200,
    title: str = "Loss surface and optimizer paths",
    ax: Axes | None = None,
) -> Figure:
    """Contours of a loss of two parameters, with the path each optimizer took.

    Parameters
    ----------
    f : callable ``f(w) -> loss`` with ``w[0], w[1]`` the two parameters
        Called once on a (2, H, W) grid when it is vectorised (it usually is:
        ``lambda w: w[0]**2 + 10 * w[1]**2``), else point by point.
    paths : dict name -> (k, 2) array of the parameters after each step, or one array
    xlim, ylim : the window; by default the paths with a margin
    minimum : (2,), optional; marked with a star

    Example
    -------
    >>> path = np.array([[2.0, 1.0], [1.0, 0.2], [0.2, 0.0]])
    >>> fig = loss_surface_paths(lambda w: w[0]**2 + 5 * w[1]**2, {"gradient descent": path})
    """
    if not isinstance(paths, Mapping):
        paths = {"path": paths}
    arrays = {}
    for name, path in paths.items():
        p = np.asarray(path.detach().cpu() if hasattr(path, "detach") else path, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError(f"loss_surface_paths: path {name!r} must have shape (k, 2), one row "
                             f"per step, got {p.shape}")
        arrays[name] = p
    points = np.concatenate([*arrays.values(), *([np.asarray(minimum, float)[None]]
                                                 if minimum is not None else [])])
    finite = points[np.isfinite(points).all(axis=1)]
    if finite.size == 0:
        finite = np.zeros((1, 2))
    lo, hi = finite.min(axis=0), finite.max(axis=0)
    margin = 0.15 * np.maximum(hi - lo, 1e-3) + 0.1
    xlim = xlim or (lo[0] - margin[0], hi[0] + margin[0])
    ylim = ylim or (lo[1] - margin[1], hi[1] + margin[1])
    W1, W2 = np.meshgrid(np.linspace(*xlim, resolution), np.linspace(*ylim, resolution))
    Z = _surface(f, W1, W2)

    fig, ax = _axes(ax, 6.6, 5.0)
    zmin, zmax = np.nanmin(Z), np.nanmax(Z)
    if zmin > 0 and zmax / zmin > 100:  # a wide range: space the levels geometrically
        lv = np.geomspace(zmin, zmax, levels)
        filled = ax.contourf(W1, W2, Z, levels=lv, norm=LogNorm(zmin, zmax), cmap="Blues_r",
                             alpha=0.8)
        bar = fig.colorbar(filled, ax=ax, label="loss (log scale)")
        ticks = 10.0 ** np.arange(math.ceil(math.log10(zmin)), math.floor(math.log10(zmax)) + 1)
        bar.set_ticks(ticks, labels=[f"{t:g}" for t in ticks])
    else:
        lv = np.linspace(zmin, zmax, levels)
        filled = ax.contourf(W1, W2, Z, levels=lv, cmap="Blues_r", alpha=0.8)
        fig.colorbar(filled, ax=ax, label="loss")
    ax.contour(W1, W2, Z, levels=lv, colors="white", linewidths=0.4, alpha=0.6)
    for (name, p), color in zip(arrays.items(), _path_colors(len(arrays)), strict=True):
        ax.plot(p[:, 0], p[:, 1], "-o", color=color, ms=3, lw=1.6,
                label=f"{name} ({len(p) - 1} steps)")
        ax.plot(p[0, 0], p[0, 1], "s", color=color, ms=8, mec="k")
    ax.plot([], [], "s", color="grey", ms=8, mec="k", label="start")
    if minimum is not None:
        ax.plot(*np.asarray(minimum, float), "*", color="gold", ms=16, mec="k", label="minimum")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel("$w_1$")
    ax.set_ylabel("$w_2$")
    ax.set_title(title)
    ax.legend(fontsize="small", loc="best", framealpha=0.9)
    return fig


def _path_colors(k: int) -> list[str]:
    palette = ["#d62728", "#ff7f0e", "#9467bd", "#2ca02c", "#e377c2", "#8c564b", "#17becf"]
    return [palette[i % len(palette)] for i in range(k)]


# --------------------------------------------------------------------------- #
def perplexity_vs_floor(
    perplexity: Mapping[str, Sequence[float]] | Sequence[float],
    floor: float,
    *,
    uniform: float | None = None,
    x: Sequence[float] | None = None,
    xlabel: str = "epoch",
    title: str = "Perplexity against the entropy floor",
    ax: Axes | None = None,
) -> Figure:
    """Perplexity during training, with the lowest any model can reach.

    Parameters
    ----------
    perplexity : sequence, or dict name -> sequence (e.g. {"training": ..., "validation": ...})
        ``exp(mean next-token cross-entropy in nats)`` after each epoch (or step).
    floor : float
        The floor: ``exp(H)`` with H the source's entropy rate in nats
        (``math.exp(source.entropy_rate())``); no model's expected perplexity is lower.
    uniform : float, optional
        The perplexity of guessing uniformly, the vocabulary size V.
    x : the x positions (default 1, 2, ...)

    Example
    -------
    >>> fig = perplexity_vs_floor({"validation": [20.0, 8.0, 5.5, 5.1]}, floor=4.8, uniform=29)
    """
    if not isinstance(perplexity, Mapping):
        perplexity = {"model": perplexity}
    if not (isinstance(floor, (int, float, np.floating)) and floor >= 1):
        raise ValueError(f"perplexity_vs_floor: floor={floor!r} must be a perplexity >= 1 "
                         "(exp of the entropy rate in nats)")
    fig, ax = _axes(ax, 6.8, 4.4)
    curves = []
    last = None
    for (name, values), color in zip(perplexity.items(), [_TRAIN, _VAL, "C2", "C4", "C5"] * 4,
                                     strict=False):
        v = _values(values, name)
        xs = np.arange(1, v.size + 1) if x is None else _values(x, "x")[: v.size]
        ax.plot(xs, v, "-", color=color, lw=2, label=name)
        curves.append(v)
        last = (xs[-1], v[-1], name) if v.size else last
    ax.axhline(floor, color="k", ls="--", lw=1.5, label=f"entropy floor ({floor:.3g})")
    if uniform is not None:
        ax.axhline(uniform, color="grey", ls=":", lw=1.5, label=f"uniform guess ({uniform:g})")
    if last is not None and np.isfinite(last[1]):
        gap = last[1] / floor - 1
        ax.annotate(f"{last[2]}: {last[1]:.3g}\n{gap:+.1%} above the floor", (last[0], last[1]),
                    textcoords="offset points", xytext=(-10, 18), ha="right", fontsize="small",
                    arrowprops={"arrowstyle": "->", "color": "grey"})
    extra = [np.array([floor] + ([uniform] if uniform is not None else []), dtype=float)]
    _auto_log(ax, *curves, *extra, ratio=8.0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("perplexity")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(frameon=False)
    return fig
