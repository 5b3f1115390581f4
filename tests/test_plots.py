"""mlcourse.plots: every figure comes back as a Figure with a title and labelled axes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from mlcourse import plots
from mlcourse.train import History


def check_figure(fig, path) -> None:
    """A Figure, titled, every axes labelled, and it renders to a PNG."""
    assert isinstance(fig, Figure), f"expected a matplotlib Figure, got {type(fig).__name__}"
    main_axes = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert main_axes, "the figure has no axes"
    title = fig.get_suptitle() if hasattr(fig, "get_suptitle") else ""
    assert title or all(ax.get_title() for ax in main_axes), "every figure needs a title"
    for ax in main_axes:
        assert ax.get_xlabel() and ax.get_ylabel(), f"unlabelled axes: {ax.get_title()!r}"
    fig.savefig(path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_loss_curves_from_history_and_lists(tmp_path):
    h = History(train_loss=[1.0, 0.6, 0.4, 0.3], val_loss=[1.1, 0.7, 0.5, 0.6], best_epoch=2)
    fig = plots.loss_curves(h)
    check_figure(fig, tmp_path / "history.png")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "best epoch 3 (loss 0.5)" in legend, legend
    check_figure(plots.loss_curves([3.0, 1.0, 0.1, 0.01], best_epoch=3), tmp_path / "lists.png")
    with pytest.raises(ValueError, match="no losses"):
        plots.loss_curves([])


def test_decision_boundary(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    scores = lambda G: np.column_stack([-(G.sum(axis=1)), G.sum(axis=1)])  # noqa: E731
    fig = plots.decision_boundary(scores, X, y)
    check_figure(fig, tmp_path / "boundary.png")
    assert "training error 0.0%" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        plots.decision_boundary(scores, np.zeros((5, 3)), np.zeros(5))


def test_decision_boundary_accepts_models(tmp_path):
    torch = pytest.importorskip("torch")
    from mlcourse.nn import MLP

    X = np.random.default_rng(1).normal(size=(40, 2))
    y = (X[:, 0] > 0).astype(int)
    check_figure(plots.decision_boundary(MLP([2, 4, 2]), X, y), tmp_path / "numpy.png")
    net = torch.nn.Linear(2, 2)
    check_figure(plots.decision_boundary(net, X, y), tmp_path / "torch.png")


def test_complexity_curve_labels_both_regions(tmp_path):
    fig = plots.complexity_curve([1, 2, 4, 8, 16], [0.5, 0.3, 0.2, 0.1, 0.02],
                                 [0.55, 0.35, 0.25, 0.3, 0.4], xlabel="hidden units")
    check_figure(fig, tmp_path / "complexity.png")
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"underfitting", "overfitting"} <= texts, texts
    with pytest.raises(ValueError, match="same non-zero length"):
        plots.complexity_curve([1, 2], [0.1], [0.2, 0.3])


def test_gradcheck_report(tmp_path):
    g = np.linspace(-1, 1, 20)
    numeric = g + 1e-10
    numeric[3] = 0.5  # one wrong element
    fig = plots.gradcheck_report(g, numeric)
    check_figure(fig, tmp_path / "gradcheck.png")
    assert "WRONG" in fig.axes[1].get_title()
    assert "looks right" in plots.gradcheck_report(g, g).axes[1].get_title()
    with pytest.raises(ValueError, match="same shape"):
        plots.gradcheck_report(g, g[:-1])


def test_lr_comparison_marks_divergence(tmp_path):
    curves = {0.01: [1.0, 0.9, 0.8], 0.1: [1.0, 0.4, 0.2], 10.0: [1.0, 1e6, math.inf]}
    fig = plots.lr_comparison(curves)
    check_figure(fig, tmp_path / "lr.png")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "lr = 10 (diverged)" in legend, legend
    h = History(train_loss=[1.0, 0.5], val_loss=[1.1, 0.6])
    check_figure(plots.lr_comparison({0.1: h}, which="val"), tmp_path / "lr_val.png")


def test_loss_surface_paths(tmp_path):
    path = np.array([[2.0, 1.0], [1.0, 0.3], [0.3, 0.05], [0.0, 0.0]])
    fig = plots.loss_surface_paths(lambda w: w[0] ** 2 + 10 * w[1] ** 2, {"GD": path},
                                   minimum=(0, 0))
    check_figure(fig, tmp_path / "surface.png")
    not_vectorised = lambda w: float(w[0] ** 2 + abs(w[1]))  # noqa: E731
    check_figure(plots.loss_surface_paths(not_vectorised, path, resolution=20),
                 tmp_path / "surface_loop.png")
    with pytest.raises(ValueError, match=r"shape \(k, 2\)"):
        plots.loss_surface_paths(lambda w: w[0], {"bad": np.zeros((3, 3))})


def test_perplexity_vs_floor(tmp_path):
    fig = plots.perplexity_vs_floor({"training": [20, 9, 6], "validation": [21, 10, 7]},
                                    floor=5.0, uniform=29)
    check_figure(fig, tmp_path / "perplexity.png")
    assert any("above the floor" in t.get_text() for t in fig.axes[0].texts)
    with pytest.raises(ValueError, match="floor"):
        plots.perplexity_vs_floor([3.0, 2.0], floor=0.5)


def test_figures_render_themselves_in_a_notebook():
    fig = plots.loss_curves([1.0, 0.5])
    assert fig._repr_png_()[:4] == b"\x89PNG"
