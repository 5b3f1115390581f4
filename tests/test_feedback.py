"""The feedback page a learner receives, opened in Chromium with the network blocked.

A scratch course of 03-losses (the notebook with the most formulas of the early ones),
one submission with a wrong ``mse``, graded and given feedback by the pipeline. The page
must make no request at all, draw every formula of the notebook (MathML, no MathJax),
show each exercise's points and message in its table, and hold no hidden test.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import browser as B
import nbformat
import pytest
from nbtools import SOLUTIONS
from test_roundtrip import feedback_leaks, hidden_only_lines
from test_wrong_answers import WRONG

from grader import autograde, release
from grader.course import build_course

NAME = "03-losses"
SHOTS = Path(__file__).resolve().parents[1] / ".ci" / "artifacts" / "screenshots"
MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$", re.S)

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def feedback_page(tmp_path_factory, course_env):
    os.environ["PATH"] = course_env["PATH"]
    course = build_course(tmp_path_factory.mktemp("feedback"), [SOLUTIONS / NAME])
    release.generate(course, NAME)
    source = nbformat.read(SOLUTIONS / NAME / f"{NAME}.ipynb", as_version=4)
    grade_id, wrong, failing = WRONG[NAME][0]
    nb = nbformat.read(SOLUTIONS / NAME / f"{NAME}.ipynb", as_version=4)
    next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id).source = wrong
    folder = course.submitted / "ada" / NAME
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{NAME}.ipynb")
    autograde.grade(course, workers=0, echo=lambda line: None)
    pages = release.feedback(course, echo=lambda line: None)
    assert len(pages) == 1, pages
    return {"course": course, "page": pages[0], "source": source, "failing": failing}


def test_feedback_holds_no_hidden_test(feedback_page):
    secret = hidden_only_lines(feedback_page["source"])
    assert secret, "control: 03-losses has hidden tests"
    assert feedback_leaks(feedback_page["course"], NAME, "ada", secret) == []
    page = feedback_page["page"].read_text(encoding="utf-8")
    assert "<script" not in page.lower(), "the page runs no script"
    assert "mathjax.js" not in page.lower() and "cdnjs" not in page


def test_feedback_renders_its_maths_offline_with_no_request(feedback_page):
    why = B.why_unavailable()
    if why:
        if os.environ.get("MLCOURSE_REQUIRE_BROWSER"):
            pytest.fail(f"this machine must run the browser tests: {why}")
        pytest.skip(why)
    formulas = sum(len(MATH.findall(c.source)) for c in feedback_page["source"].cells
                   if c.cell_type == "markdown")
    assert formulas >= 20, "control: the notebook has formulas to draw"
    with B.browser() as chromium, B.offline_page(chromium) as (tab, outside):
        tab.goto(feedback_page["page"].as_uri())
        tab.wait_for_load_state("load")
        boxes = tab.evaluate("[...document.querySelectorAll('math')].map(m => {"
                             "const r = m.getBoundingClientRect(); return [r.width, r.height]; })")
        text = tab.evaluate("document.body.innerText")
        rows = tab.evaluate("[...document.querySelectorAll('table.mlcourse-exercises tr')].slice(1)"
                            ".map(r => [r.className, r.innerText])")
        SHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SHOTS / f"feedback-{NAME}.png"))
    assert outside == [], f"the feedback page reached out: {outside}"
    assert len(boxes) >= formulas, f"{len(boxes)} formulas drawn of {formulas}"
    assert all(w > 0 and h > 0 for w, h in boxes), "a formula has no size: not rendered"
    leftovers = re.findall(r"\\(?:frac|sum|hat|log|mathbb|partial)\b", text)
    assert not leftovers, f"raw LaTeX shown to the learner: {leftovers[:5]}"
    tests = [c.metadata["nbgrader"]["grade_id"] for c in feedback_page["source"].cells
             if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata["nbgrader"].get("solution")]
    assert [r[1].split()[0] for r in rows] == tests, "one row per graded test cell, in order"
    for css, row in rows:
        gid = row.split()[0]
        if gid in feedback_page["failing"]:
            assert css == "danger" and "0 / " in row and "wrong" in row, row
        else:
            assert css == "success" and "passed" in row, row
