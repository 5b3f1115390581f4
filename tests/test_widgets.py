"""mlcourse.widgets: the learning-rate slider, and its static fallback."""

from __future__ import annotations

import subprocess
import sys
import types

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mlcourse import widgets  # noqa: E402


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    monkeypatch.delenv("MLCOURSE_WIDGETS", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    yield
    plt.close("all")


def _fake_kernel_shell(monkeypatch):
    """Pretend to run inside an IPython kernel (get_ipython() with a .kernel)."""
    import IPython

    shell = types.SimpleNamespace(kernel=object(), user_ns={})
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    return shell


# --------------------------------------------------------------------------- #
# the static figure
# --------------------------------------------------------------------------- #
def test_static_figure_shows_three_learning_rates_with_titles_and_labels():
    fig = widgets.lr_explorer(interactive=False, show=False)
    assert isinstance(fig, Figure), f"expected a matplotlib Figure, got {type(fig).__name__}"
    ax_path, ax_loss = fig.axes[:2]
    for ax in (ax_path, ax_loss):
        assert ax.get_title(), "every panel needs a title"
        assert ax.get_xlabel() and ax.get_ylabel(), "every panel needs labelled axes"
    assert len(ax_loss.get_lines()) == 3, "one loss curve per learning rate"
    legend = " ".join(t.get_text() for t in ax_loss.get_legend().get_texts())
    for word in ("too small", "about right", "too large"):
        assert word in legend, f"the legend should name {word!r}: {legend!r}"
    assert ax_loss.get_yscale() == "log", "losses spanning decades need a log axis"


def test_static_figure_losses_tell_the_story():
    """Too small barely moves, about right converges, too large diverges."""
    loss, grad = widgets.quadratic(np.diag([1.0, 10.0]))
    finals = []
    for lr in (0.01, 0.15, 0.21):
        path = widgets.gd_path(grad, (-4.0, 1.5), lr, 50)
        finals.append(loss(path[-1]))
    start = loss(np.array([-4.0, 1.5]))
    assert start / 100 < finals[0] < start, f"lr=0.01 should be slow: {finals[0]}"
    assert finals[1] < 1e-5 * start, f"lr=0.15 should converge: {finals[1]}"
    assert finals[2] > 100 * start, f"lr=0.21 > 2/10 should diverge: {finals[2]}"


def test_auto_mode_outside_a_kernel_draws_the_static_figure():
    assert widgets.widgets_available() is False, "pytest runs no widget front end"
    fig = widgets.lr_explorer(show=False)
    assert isinstance(fig, Figure)


def test_show_without_ipython_returns_the_figure():
    fig = widgets.lr_explorer(interactive=False, show=True)
    assert isinstance(fig, Figure), "outside IPython there is nowhere to display: hand it back"


def test_missing_ipywidgets_falls_back_to_the_static_figure(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # `import ipywidgets` now fails
    monkeypatch.setenv("MLCOURSE_WIDGETS", "1")
    _fake_kernel_shell(monkeypatch)
    assert widgets.widgets_available() is False
    fig = widgets.lr_explorer(interactive=True, show=False)
    assert isinstance(fig, Figure), "asking for the slider without ipywidgets must not raise"


def test_custom_surface_and_single_lr_title():
    loss = lambda w: float((1 - w[0]) ** 2 + 5 * (w[1] - w[0] ** 2) ** 2)  # noqa: E731

    def grad(w):
        return np.array([-2 * (1 - w[0]) - 20 * w[0] * (w[1] - w[0] ** 2),
                         10 * (w[1] - w[0] ** 2)])

    fig = widgets.lr_figure([0.01], loss=loss, grad=grad, x0=(-1.0, 1.0),
                            bounds=((-2, 2), (-1, 3)))
    assert "lr = 0.01" in fig._suptitle.get_text()
    assert fig.axes[0].get_xlim() == (-2.0, 2.0)


# --------------------------------------------------------------------------- #
# the slider
# --------------------------------------------------------------------------- #
def test_slider_widget_redraws_when_the_learning_rate_moves(monkeypatch):
    ipywidgets = pytest.importorskip("ipywidgets")
    drawn = []
    real_draw = widgets._draw

    def spy(loss, x0, lrs, runs, labels, bounds, title):
        drawn.append((list(lrs), title))
        return real_draw(loss, x0, lrs, runs, labels, bounds, title)

    monkeypatch.setattr(widgets, "_draw", spy)
    box = widgets.lr_explorer(interactive=True, show=False, lr=0.05, lr_range=(1e-3, 1.0))
    assert isinstance(box, ipywidgets.VBox)
    slider = box.children[0]
    assert isinstance(slider, ipywidgets.FloatLogSlider)
    assert slider.min == pytest.approx(-3.0) and slider.max == pytest.approx(0.0)
    assert slider.value == pytest.approx(0.05)
    assert drawn and drawn[-1][0] == [pytest.approx(0.05)], "the first figure is drawn at once"
    slider.value = 0.5
    assert drawn[-1][0] == [pytest.approx(0.5)]
    assert "diverges" in drawn[-1][1], f"lr=0.5 > 0.2 diverges on the default bowl: {drawn[-1][1]}"


def test_front_end_detection(monkeypatch):
    shell = _fake_kernel_shell(monkeypatch)
    assert widgets.widgets_available() is False, "a kernel run by nbconvert: no front end"
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/05-optimizers.ipynb")
    assert widgets.widgets_available() is True, "JupyterLab sets JPY_SESSION_NAME"
    monkeypatch.setenv("MLCOURSE_WIDGETS", "0")
    assert widgets.widgets_available() is False, "MLCOURSE_WIDGETS=0 forces the static figure"
    monkeypatch.delenv("JPY_SESSION_NAME")
    monkeypatch.setenv("MLCOURSE_WIDGETS", "1")
    assert widgets.widgets_available() is True
    monkeypatch.delenv("MLCOURSE_WIDGETS")
    shell.user_ns["__vsc_ipynb_file__"] = "/x.ipynb"
    assert widgets.widgets_available() is True, "VS Code's notebooks render widgets"


def test_terminal_ipython_is_not_a_front_end(monkeypatch):
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: types.SimpleNamespace(user_ns={}))
    monkeypatch.setenv("MLCOURSE_WIDGETS", "1")
    assert widgets.widgets_available() is False


# --------------------------------------------------------------------------- #
# helpers and bad input
# --------------------------------------------------------------------------- #
def test_gd_path_follows_the_update_rule_and_stops_when_it_runs_off():
    path = widgets.gd_path(lambda w: 2 * w, [1.0, -1.0], lr=0.25, num_steps=3)
    np.testing.assert_allclose(path, [[1, -1], [0.5, -0.5], [0.25, -0.25], [0.125, -0.125]])
    path = widgets.gd_path(lambda w: 10 * w, [1.0, 1.0], lr=1.0, num_steps=40)
    assert np.isnan(path[-1]).all(), "a diverged path ends in NaN rows"
    assert np.isfinite(path[:5]).all()


@pytest.mark.parametrize("kwargs, words", [
    ({"lr": 0.0}, "positive finite"),
    ({"lr": float("nan")}, "positive finite"),
    ({"lr_range": (0.5, 0.1)}, "low < high"),
    ({"lr_range": 0.1}, "pair"),
    ({"loss": lambda w: 0.0}, "both loss and grad"),
    ({"x0": (1.0, 2.0, 3.0)}, "2 finite numbers"),
    ({"num_steps": 0}, "positive int"),
])
def test_bad_input_is_named(kwargs, words):
    with pytest.raises(ValueError, match=words):
        widgets.lr_explorer(interactive=False, show=False, **kwargs)


def test_import_is_light():
    code = ("import sys, mlcourse.widgets; "
            "print(sorted(m for m in ('torch', 'ipywidgets', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"importing mlcourse.widgets loaded {out.stdout.strip()}"


@pytest.mark.slow
def test_executed_by_nbclient_gives_a_static_image(tmp_path):
    """What nbconvert and nbgrader see: a PNG, no widget, nothing on stderr."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "%matplotlib inline\nfrom mlcourse.widgets import lr_explorer\nlr_explorer()")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    kinds = [o.get("output_type") for o in outputs]
    assert "error" not in kinds, outputs
    assert not any(o.get("name") == "stderr" for o in outputs), outputs
    data = [o["data"] for o in outputs if o.get("output_type") == "display_data"]
    assert sum("image/png" in d for d in data) == 1, f"one static figure expected, got {outputs}"
    assert not any("application/vnd.jupyter.widget-view+json" in d for d in data)


def test_one_learning_rate_is_titled_in_a_sentence():
    import matplotlib.pyplot as plt

    from mlcourse.widgets import lr_figure

    fig = lr_figure([0.001])
    try:
        assert fig._suptitle.get_text() == "lr = 0.001: the loss falls, but slowly (50 steps)"
    finally:
        plt.close(fig)
