"""The learner's JupyterLab in a real browser (headless Chromium driven by Playwright).

One Lab server, started as ``make lab`` starts it (``lab/`` on JUPYTER_CONFIG_PATH), on a
copy of ``notebooks/``. For every released notebook, as a learner who has solved
nothing: opening it changes nothing, Run All reaches the last cell, every figure
renders, and the only errors are the unsolved exercises' own messages. Validate says
"Success!" on a solved notebook and shows each failing exercise's message, without a
traceback of the grading code, on an untouched one. The learning-rate slider redraws
its figure; training in 06 shows a progress bar. Screenshots of each go to
``.ci/artifacts/screenshots/`` (kept by CI, ignored by git): look at them.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import browser as B
import nbformat
import pytest
from nbtools import NOTEBOOKS, SOLUTIONS

from mlcourse.grading.rules import is_answer

SHOTS = Path(__file__).resolve().parents[1] / ".ci" / "artifacts" / "screenshots"
NAMES = sorted(p.name for p in NOTEBOOKS.iterdir() if (p / f"{p.name}.ipynb").is_file())
# What an unsolved exercise may say when Run All reaches its test cell or a figure that uses it.
EXPECTED = re.compile(r"^(GradingError|NotImplementedError)\b")

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    why = B.why_unavailable()
    if why and os.environ.get("MLCOURSE_REQUIRE_BROWSER"):
        pytest.fail(f"this machine must run the browser tests: {why}")
    if why:
        pytest.skip(why)
    SHOTS.mkdir(parents=True, exist_ok=True)
    work = tmp_path_factory.mktemp("lab")
    # The repository's layout: solutions/ beside notebooks/ (outside Lab's root), which
    # grade_me() finds to include the hidden tests.
    shutil.copytree(SOLUTIONS, work / "solutions")
    with B.lab_server(NOTEBOOKS, work) as server, B.browser() as chromium:
        server.chromium = chromium
        yield server


@pytest.fixture
def page(lab):
    page = lab.chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.console_errors = []
    page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text[:300]))
    page.on("pageerror", lambda e: page.console_errors.append(str(e)[:300]))
    yield page
    page.close()


def _shutdown_kernel(page) -> None:
    """Once the kernel has finished (a kernel shut down mid-cell logs its own tracebacks)."""
    try:
        B.wait_idle(page, timeout=60_000)
    except Exception:
        B.command(page, "notebook:interrupt-kernel")
        page.wait_for_timeout(1000)
    B.command(page, "kernelmenu:shutdown")
    page.wait_for_timeout(300)


@pytest.mark.parametrize("name", NAMES)
def test_run_all_on_an_untouched_notebook_reaches_the_end(lab, page, name):
    path = lab.root / name / f"{name}.ipynb"
    before = path.read_bytes()
    B.open_notebook(page, lab, f"{name}/{name}.ipynb")
    page.wait_for_timeout(2000)  # the kernel's language_info arrives after it is idle
    assert not page.evaluate("() => window.jupyterapp.shell.currentWidget.context.model.dirty"), (
        "opening the notebook changed it (its kernelspec or language_info differ from the kernel's)")
    report = B.run_all(page)
    page.screenshot(path=str(SHOTS / f"{name}-run-all.png"), full_page=False)
    try:
        assert report["ran"] == report["code"], f"Run All stopped: {report}"
        unexpected = [(i, e) for i, errors in report["errors"] for e in errors if not EXPECTED.match(e)]
        assert not unexpected, f"errors other than unsolved exercises: {unexpected}"
        images = page.evaluate(
            "() => [...window.jupyterapp.shell.currentWidget.node"
            ".querySelectorAll('.jp-RenderedImage img')].map(i => i.naturalWidth)")
        assert all(w > 0 for w in images), f"a figure did not render: widths {images}"
        assert not page.console_errors, page.console_errors
        assert path.read_bytes() == before, "Run All saved changes to the notebook by itself"
        # The last cell, mlcourse.grade_me(), graded the saved notebook: nothing is solved.
        last = page.evaluate(
            "() => { const cells = window.jupyterapp.shell.currentWidget.content.widgets;"
            " return JSON.stringify(cells[cells.length - 1].model.outputs.toJSON()); }")
        assert re.search(r"total: 0 / [1-9]", last), last[:2000]
    finally:
        _shutdown_kernel(page)


def _solved(name: str) -> str:
    """The released notebook with every answer cell replaced by the solution's."""
    source = nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4)
    answers = {c.metadata.nbgrader["grade_id"]: c.source for c in source.cells if is_answer(c)}
    nb = nbformat.read(NOTEBOOKS / name / f"{name}.ipynb", as_version=4)
    for cell in nb.cells:
        if is_answer(cell):
            cell.source = answers[cell.metadata.nbgrader["grade_id"]]
    return nbformat.writes(nb)


def _validate(page, lab, relpath: str, shot: str) -> str:
    B.open_notebook(page, lab, relpath)
    page.get_by_role("button", name="Validate").first.click()
    dialog = page.locator(".jp-Dialog-content")
    dialog.wait_for(timeout=240_000)
    page.wait_for_function(
        "() => !document.querySelector('.jp-Dialog-content').innerText.includes('Validating')",
        timeout=240_000)
    text = dialog.inner_text()
    page.screenshot(path=str(SHOTS / shot))
    page.keyboard.press("Escape")
    return text


def test_validate_says_success_on_a_solved_notebook(lab, page):
    name = "03-losses"
    (lab.root / name / "solved.ipynb").write_text(_solved(name), encoding="utf-8")
    text = _validate(page, lab, f"{name}/solved.ipynb", "validate-solved.png")
    assert "Success" in text, text[:2000]


def test_validate_on_an_untouched_notebook_shows_messages_not_tracebacks(lab, page):
    name = "03-losses"
    text = _validate(page, lab, f"{name}/{name}.ipynb", "validate-untouched.png")
    assert "is not written yet" in text, text[:2000]
    for noise in ("Traceback", "checks.py", 'File "', "site-packages", "mlcourse/grading"):
        assert noise not in text, f"{noise!r} in Validate's dialog:\n{text[:3000]}"
    assert len(text) < 8000, f"{len(text)} characters in Validate's dialog"


def test_the_learning_rate_slider_redraws_its_figure(lab, page):
    name = "05-optimizers"
    solved = lab.root / name / "slider.ipynb"
    solved.write_text(_solved(name), encoding="utf-8")
    B.open_notebook(page, lab, f"{name}/slider.ipynb")
    B.run_all(page)
    slider = page.locator(".widget-slider .noUi-handle, .widget-hslider .ui-slider-handle, "
                          ".jupyter-widgets.widget-slider input").first
    slider.scroll_into_view_if_needed()
    image = page.locator(".jp-OutputArea-output img").last
    before = image.get_attribute("src")
    slider.focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("(b) => { const imgs = document.querySelectorAll('.jp-OutputArea-output img');"
                           " return imgs.length && imgs[imgs.length - 1].src !== b; }", arg=before,
                           timeout=30_000)
    cell = image.locator("xpath=ancestor::div[contains(@class, 'jp-Cell ')][1]")
    cell.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    cell.screenshot(path=str(SHOTS / "05-slider.png"))
    _shutdown_kernel(page)


def test_training_in_06_shows_a_progress_bar(lab, page):
    name = "06-training-loop"
    (lab.root / name / "progress.ipynb").write_text(_solved(name), encoding="utf-8")
    B.open_notebook(page, lab, f"{name}/progress.ipynb")
    B.run_all(page)
    bars = page.locator(".jp-OutputArea-output .widget-hprogress, .jp-OutputArea-output progress")
    assert bars.count() >= 1, "no progress bar in 06's outputs"
    cell = bars.first.locator("xpath=ancestor::div[contains(@class, 'jp-Cell ')][1]")
    cell.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    cell.screenshot(path=str(SHOTS / "06-progress.png"))
    _shutdown_kernel(page)


def test_instructor_tools_are_hidden_and_the_server_log_is_clean(lab, page):
    B.open_notebook(page, lab, "00-loop-at-a-glance/00-loop-at-a-glance.ipynb")
    plugins = page.evaluate(
        "() => ['@jupyter/nbgrader:formgrader', '@jupyter/nbgrader:create-assignment',"
        " '@jupyter/nbgrader:assignment-list', '@jupyter/nbgrader:course-list',"
        " '@jupyter/nbgrader:validate-assignment']"
        ".map(p => [p, window.jupyterapp.isPluginActivated(p)])")
    active = dict(plugins)
    assert active.pop("@jupyter/nbgrader:validate-assignment"), "Validate is missing"
    assert not any(active.values()), f"instructor tools shown to the learner: {active}"
    page.screenshot(path=str(SHOTS / "lab.png"))
    _shutdown_kernel(page)
    log = lab.server_log()
    bad = [line for line in log.splitlines()
           if line.startswith("[E ") or "Traceback" in line or "nbgrader_config.py" in line
           or "exchange" in line.lower()]
    assert not bad, "\n".join(bad[:20])
