"""Interactive explorers for the notebooks; each degrades to a static figure.

``lr_explorer()`` runs gradient descent on a 2-D loss surface and puts the
learning rate on a logarithmic slider: move it and the path and the loss curve
are drawn again. Where no front end renders widgets -- ipywidgets is missing,
the code runs outside a Jupyter kernel, or the notebook is executed by
nbconvert / nbgrader -- it draws one static figure with three learning rates
(too small, about right, too large) instead, and never raises for that reason.

Whether widgets can be shown is decided by ``widgets_available()``; set the
environment variable ``MLCOURSE_WIDGETS=0`` (or ``1``) to force the static
figure (or the slider).

Only numpy is imported at module level: matplotlib, IPython and ipywidgets are
imported when a figure or a widget is made, and torch never.

Example
-------
>>> fig = lr_explorer(interactive=False, show=False)   # the static figure
>>> [ax.get_title() for ax in fig.axes][:1]
['Gradient descent paths on the loss surface']
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mlcourse import arguments

__all__ = ["lr_explorer", "lr_figure", "gd_path", "widgets_available", "quadratic"]

# The default surface: an ill-conditioned bowl, curvature 1 along w1 and 10 along w2.
# Gradient descent on it is stable for lr < 2 / 10 = 0.2.
_DEFAULT_H = np.diag([1.0, 10.0])
_DEFAULT_X0 = (-4.0, 1.5)
_DEFAULT_LRS = (0.01, 0.15, 0.21)
_DEFAULT_LABELS = ("too small", "about right", "too large")
_COLORS = ("tab:blue", "tab:green", "tab:red", "tab:purple", "tab:orange")
_BLOW_UP = 1e6  # a path this far from its start has diverged: stop drawing it


def quadratic(H: Any) -> tuple[Callable[[np.ndarray], float], Callable[[np.ndarray], np.ndarray]]:
    """The loss ``0.5 * w @ H @ w`` and its gradient ``H @ w``, for a symmetric (2, 2) H.

    Example
    -------
    >>> loss, grad = quadratic(np.diag([1.0, 10.0]))
    >>> loss(np.array([1.0, 1.0])), grad(np.array([1.0, 1.0])).tolist()
    (5.5, [1.0, 10.0])
    """
    H = np.asarray(H, dtype=np.float64)
    if H.shape != (2, 2) or not np.allclose(H, H.T):
        raise ValueError(f"quadratic: H must be a symmetric (2, 2) matrix, got shape {H.shape}")
    return (lambda w: 0.5 * float(w @ H @ w)), (lambda w: H @ w)


def gd_path(grad: Callable[[np.ndarray], np.ndarray], x0: Sequence[float], lr: float,
            num_steps: int) -> np.ndarray:
    """Positions of gradient descent ``w <- w - lr * grad(w)``, shape ``(num_steps + 1, 2)``.

    Once the path runs off (farther than 1e6 from its start, or non-finite) the
    remaining rows are NaN, so a plot simply stops there.

    Example
    -------
    >>> gd_path(lambda w: w, [1.0, 2.0], lr=0.5, num_steps=2).tolist()
    [[1.0, 2.0], [0.5, 1.0], [0.25, 0.5]]
    """
    lr = _check_lr(lr)
    w = np.array(x0, dtype=np.float64)
    if w.shape != (2,):
        raise ValueError(f"gd_path: x0 must hold 2 numbers (a point on the surface), got shape {w.shape}")
    path = np.full((int(num_steps) + 1, 2), np.nan)
    path[0] = w
    scale = _BLOW_UP * max(1.0, float(np.abs(w).max()))
    with np.errstate(all="ignore"):
        for t in range(1, int(num_steps) + 1):
            w = w - lr * np.asarray(grad(w), dtype=np.float64)
            if not np.all(np.isfinite(w)) or np.abs(w).max() > scale:
                break
            path[t] = w
    return path


def widgets_available() -> bool:
    """True when a slider would be rendered: ipywidgets imports and a widget front end is attached.

    A front end is recognised by the kernel environment JupyterLab / Jupyter
    Notebook set (``JPY_SESSION_NAME``), by VS Code's notebook variable, or by
    Colab. nbconvert and nbgrader run kernels without them, so they get the
    static figure. ``MLCOURSE_WIDGETS=0`` / ``1`` overrides the guess.
    """
    forced = os.environ.get("MLCOURSE_WIDGETS", "").strip().lower()
    if forced in ("0", "false", "no", "off", "static"):
        return False
    try:
        import ipywidgets  # noqa: F401
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return False  # plain Python, a script or terminal IPython: nothing renders a widget
    if forced in ("1", "true", "yes", "on", "widgets"):
        return True
    return bool(os.environ.get("JPY_SESSION_NAME")
                or "__vsc_ipynb_file__" in getattr(shell, "user_ns", {})
                or "google.colab" in sys.modules)


def lr_figure(lrs: Sequence[float] = _DEFAULT_LRS, *, loss: Callable | None = None,
              grad: Callable | None = None, x0: Sequence[float] | None = None,
              num_steps: int = 50, labels: Sequence[str] | None = None,
              bounds: Sequence[Sequence[float]] | None = None):
    """A figure of gradient descent with each learning rate in ``lrs``.

    Left: the paths on the loss surface's contours. Right: the loss against the
    step (log scale). Without ``loss``/``grad`` the surface is the bowl
    ``0.5 * (w1**2 + 10 * w2**2)`` (stable for lr < 0.2) started at (-4, 1.5).

    Parameters
    ----------
    lrs : sequence of float
        One path per learning rate (at most 5).
    loss, grad : callables on a (2,) array, optional
        The surface and its gradient; give both or neither.
    x0 : 2 numbers, optional
        The starting point.
    num_steps : int, default 50
    labels : sequence of str, optional
        A word for each learning rate in the legend; by default "too small",
        "about right", "too large" for the default three, otherwise a verdict
        read off the loss curve ("diverges", "slow", "converges").
    bounds : ((w1_min, w1_max), (w2_min, w2_max)), optional
        The window of the contour plot; by default a box around the start.

    Returns
    -------
    matplotlib.figure.Figure (not shown; display or close it)
    """
    loss, grad, x0 = _surface(loss, grad, x0)
    lrs = [_check_lr(lr) for lr in lrs]
    if not 1 <= len(lrs) <= len(_COLORS):
        raise ValueError(f"lr_figure: give 1 to {len(_COLORS)} learning rates, got {len(lrs)}")
    if labels is None:
        labels = (_DEFAULT_LABELS if tuple(lrs) == _DEFAULT_LRS and _is_default(loss)
                  else [None] * len(lrs))
    if len(labels) != len(lrs):
        raise ValueError(f"lr_figure: {len(labels)} labels for {len(lrs)} learning rates")
    num_steps = _check_steps(num_steps)
    runs = [_run(loss, grad, x0, lr, num_steps) for lr in lrs]
    title = ("Learning rate too small, about right, too large" if len(lrs) > 1
             else _verdict_title(lrs[0], runs[0][1], num_steps))
    return _draw(loss, x0, lrs, runs, labels, bounds, title)


def lr_explorer(*, loss: Callable | None = None, grad: Callable | None = None,
                x0: Sequence[float] | None = None, lr: float = 0.15,
                lr_range: tuple[float, float] = (1e-3, 0.3), num_steps: int = 50,
                lrs: Sequence[float] = _DEFAULT_LRS, interactive: bool | None = None,
                show: bool = True):
    """Gradient descent on a 2-D surface, with the learning rate on a slider.

    With a widget front end: a ``FloatLogSlider`` for ``lr`` (from
    ``lr_range[0]`` to ``lr_range[1]``) above a figure of the path and the loss
    curve, redrawn when the slider moves. Without one (see
    ``widgets_available``): the static ``lr_figure(lrs)``.

    Parameters
    ----------
    loss, grad, x0, num_steps :
        The surface, its gradient, the start and the number of steps, as in
        ``lr_figure`` (the default bowl when omitted).
    lr : float, default 0.15
        Where the slider starts.
    lr_range : (low, high), default (1e-3, 0.3)
        The slider's range; it moves on a log scale.
    lrs : sequence of float, default (0.01, 0.15, 0.21)
        The learning rates of the static figure.
    interactive : bool or None, default None
        None decides with ``widgets_available()``; True asks for the slider
        (and still falls back to the static figure when ipywidgets is missing);
        False always draws the static figure.
    show : bool, default True
        Display the result (in IPython) and return None; False returns it undisplayed.

    Returns
    -------
    None when shown; otherwise the ipywidgets ``VBox`` or the matplotlib ``Figure``.

    Example
    -------
    >>> fig = lr_explorer(interactive=False, show=False)
    >>> len(fig.axes[1].get_lines())
    3
    """
    loss, grad, x0 = _surface(loss, grad, x0)
    low, high = _check_range(lr_range)
    lr = min(max(_check_lr(lr), low), high)
    num_steps = _check_steps(num_steps)
    use_widgets = widgets_available() if interactive is None else bool(interactive)
    widget = _slider_widget(loss, grad, x0, lr, low, high, num_steps) if use_widgets else None
    if widget is not None:
        return _show_widget(widget) if show else widget
    fig = lr_figure(lrs, loss=loss, grad=grad, x0=x0, num_steps=num_steps)
    return _show_figure(fig) if show else fig


# --------------------------------------------------------------------------- #
# internals
# --------------------------------------------------------------------------- #
def _is_default(loss: Callable) -> bool:
    return getattr(loss, "_mlcourse_default", False)


def _surface(loss, grad, x0):
    if (loss is None) != (grad is None):
        raise ValueError("give both loss and grad (the surface and its gradient), or neither "
                         "for the default bowl 0.5 * (w1**2 + 10 * w2**2)")
    if loss is None:
        loss, grad = quadratic(_DEFAULT_H)
        loss._mlcourse_default = True  # type: ignore[attr-defined]
    x0 = np.array(_DEFAULT_X0 if x0 is None else x0, dtype=np.float64)
    if x0.shape != (2,) or not np.all(np.isfinite(x0)):
        raise ValueError(f"x0 must be 2 finite numbers (a point on the surface), got {x0.tolist()}")
    return loss, grad, x0


def _check_lr(lr: Any) -> float:
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating, np.integer)) \
            or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"a learning rate must be a positive finite number, got {lr!r} "
                         "(typical values: 1e-3 to 1)")
    return float(lr)


def _check_range(lr_range: Any) -> tuple[float, float]:
    try:
        low, high = lr_range
    except (TypeError, ValueError):
        raise ValueError(f"lr_range must be a pair (low, high), got {lr_range!r}") from None
    low, high = _check_lr(low), _check_lr(high)
    if not low < high:
        raise ValueError(f"lr_range=({low:g}, {high:g}) needs low < high, e.g. (1e-3, 0.3)")
    return low, high


def _check_steps(num_steps: Any) -> int:
    return arguments.count(num_steps, "num_steps", example=50)


def _run(loss, grad, x0, lr, num_steps) -> tuple[np.ndarray, np.ndarray]:
    path = gd_path(grad, x0, lr, num_steps)
    with np.errstate(all="ignore"):
        losses = np.array([loss(w) if np.all(np.isfinite(w)) else np.nan for w in path])
    return path, losses


def _verdict(losses: np.ndarray) -> str:
    finite = losses[np.isfinite(losses)]
    if len(finite) < len(losses) or finite[-1] > finite[0]:
        return "diverges"
    floor = max(abs(float(finite[0])), 1e-300)
    return "converges" if abs(float(finite[-1])) < 1e-3 * floor else "slow"


# A verdict as the end of a sentence that starts "the loss ...".
_VERDICT_PHRASE = {"diverges": "diverges", "converges": "converges",
                   "slow": "falls, but slowly"}


def _verdict_title(lr: float, losses: np.ndarray, num_steps: int) -> str:
    return f"lr = {lr:.3g}: the loss {_VERDICT_PHRASE[_verdict(losses)]} ({num_steps} steps)"


def _draw(loss, x0, lrs, runs, labels, bounds, title):
    import matplotlib.pyplot as plt

    fig, (ax_path, ax_loss) = plt.subplots(1, 2, figsize=(11, 4.2))
    (x_lo, x_hi), (y_lo, y_hi) = _bounds(x0, bounds)
    gx, gy = np.meshgrid(np.linspace(x_lo, x_hi, 121), np.linspace(y_lo, y_hi, 121))
    gz = np.vectorize(lambda a, b: loss(np.array([a, b])))(gx, gy)
    positive = gz[gz > 0]
    if positive.size and gz.min() >= 0:
        levels = np.geomspace(max(positive.min(), positive.max() * 1e-4), positive.max(), 14)
    else:
        levels = 14
    ax_path.contour(gx, gy, gz, levels=levels, colors="0.7", linewidths=0.8)
    ax_path.plot(*x0, "ko", ms=6, label="start")
    for k, (lr, (path, losses), word) in enumerate(zip(lrs, runs, labels, strict=True)):
        color = _COLORS[k]
        name = f"lr = {lr:.3g} ({word or _verdict(losses)})"
        shown = _inside(path, (x_lo, x_hi), (y_lo, y_hi))
        ax_path.plot(shown[:, 0], shown[:, 1], "-o", color=color, ms=2.5, lw=1.2, label=name)
        steps = np.arange(len(losses))
        ax_loss.plot(steps, np.clip(losses, 1e-16, None), color=color, lw=1.8, label=name)
    ax_path.set_xlim(x_lo, x_hi)
    ax_path.set_ylim(y_lo, y_hi)
    ax_path.set_xlabel("$w_1$")
    ax_path.set_ylabel("$w_2$")
    ax_path.set_title("Gradient descent paths on the loss surface")
    ax_path.legend(loc="lower right", fontsize=8)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss (log scale)")
    ax_loss.set_title("Loss during training")
    ax_loss.grid(True, which="major", alpha=0.3)
    ax_loss.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _inside(path, xs, ys):
    """The path up to and including its first point outside the window: a diverging
    path is drawn until it leaves, not as a fan of lines across the whole plot."""
    out = ((path[:, 0] < xs[0]) | (path[:, 0] > xs[1]) | (path[:, 1] < ys[0])
           | (path[:, 1] > ys[1]) | ~np.isfinite(path).all(axis=1))
    return path if not out.any() else path[: int(np.argmax(out)) + 1]


def _bounds(x0, bounds):
    if bounds is not None:
        (a, b), (c, d) = bounds
        return (float(a), float(b)), (float(c), float(d))
    r0, r1 = 1.25 * max(abs(x0[0]), 1.0), 1.6 * max(abs(x0[1]), 1.0)
    return (-r0, r0), (-r1, r1)


def _show_figure(fig):
    import matplotlib.pyplot as plt

    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return fig  # no IPython: hand the figure back to the caller
    if get_ipython() is None:
        return fig
    display(fig)
    plt.close(fig)  # shown once, not again by the inline backend at the end of the cell
    return None


def _slider_widget(loss, grad, x0, lr, low, high, num_steps):
    """The slider and its figure, or None when ipywidgets cannot be imported."""
    try:
        import ipywidgets as widgets
    except ImportError:
        return None
    import matplotlib.pyplot as plt

    slider = widgets.FloatLogSlider(
        value=lr, base=10, min=math.log10(low), max=math.log10(high), step=0.02,
        description="lr", readout_format=".3g", continuous_update=False,
        layout=widgets.Layout(width="60%"),
    )
    out = widgets.Output()

    def redraw(change: Any = None) -> None:
        with out:
            out.clear_output(wait=True)
            value = float(slider.value)
            path, losses = _run(loss, grad, x0, value, num_steps)
            fig = _draw(loss, x0, [value], [(path, losses)], [None], None,
                        _verdict_title(value, losses, num_steps))
            try:
                from IPython.display import display
                display(fig)
            finally:
                plt.close(fig)

    slider.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([slider, out])
    box.redraw = redraw  # for tests and for callers who change the surface
    return box


def _show_widget(widget):
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - ipywidgets depends on IPython
        return widget
    display(widget)
    return None
