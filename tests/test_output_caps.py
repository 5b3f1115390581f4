"""What a notebook leaves in its graded copy is capped, whatever its way in; a course cell that
fails is the course's fault, not a learner's zero (issue 21, parts 2 and 4).

Each test runs a small notebook through the judge in a fresh kernel (``notebook.execute``,
the ``mlcourse grade`` route), the caps lowered with monkeypatch so that a few hundred
kilobytes stand for the megabytes a hostile notebook would print.
"""

from __future__ import annotations

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from mlcourse.grading import judge, limits, notebook, outcomes
from mlcourse.grading.agent import MIME

pytestmark = pytest.mark.slow

CELL_CAP = 200_000
NOTEBOOK_CAP = 500_000


def locked(gid: str, source: str, *, grade: bool = False, points: int = 0):
    meta = {"grade": grade, "grade_id": gid, "locked": True, "schema_version": 3,
            "solution": False, "task": False}
    if grade:
        meta["points"] = points
    return new_code_cell(source, metadata={"nbgrader": meta})


def answer(source: str):
    return new_code_cell(source, metadata={"nbgrader": {
        "grade": False, "grade_id": "double-answer", "locked": False, "schema_version": 3,
        "solution": True, "task": False}})


TEST = locked("double-visible", "from mlcourse.grading.exercises import nb99\n"
              "nb99.double_cases(double, xs=[2, 3])", grade=True, points=1)
RIGHT = "def double(x):\n    return 2 * x\n"


def run(cells, tmp_path):
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return notebook.execute(nb, tmp_path, timeout=60)


def record(nb) -> dict:
    return nb.metadata["mlcourse"]["judge"]


def sizes(nb) -> list[int]:
    return [sum(judge.output_size(o) for o in c.get("outputs", [])) for c in nb.cells]


@pytest.fixture
def small_caps(monkeypatch):
    monkeypatch.setattr(judge.JudgeMixin, "output_limit", CELL_CAP)
    monkeypatch.setattr(limits, "NOTEBOOK_OUTPUT_CHARS", NOTEBOOK_CAP)


# ---- output caps ----------------------------------------------------------------------------

def test_display_outputs_with_the_judges_key_are_capped_like_any(small_caps, tmp_path):
    big = ("from IPython.display import display\n"
           f"for i in range(4):\n    display({{{MIME!r}: 'x' * {3 * CELL_CAP // 2}}}, raw=True)\n")
    nb = run([answer(RIGHT), new_code_cell(big), TEST], tmp_path)
    kept = sizes(nb)[1]
    assert kept <= CELL_CAP + 1000, kept
    assert "[output cut" in json.dumps(nb.cells[1].outputs)
    assert record(nb)["cells"]["double-visible"]["kind"] == outcomes.PASSED


def test_an_update_of_an_earlier_display_is_capped(small_caps, tmp_path):
    first = ("from IPython.display import display\n"
             "h = display({'text/plain': 'small'}, raw=True, display_id='d1')\n")
    update = ("from IPython.display import update_display\n"
              f"update_display({{'text/plain': 'y' * {2 * CELL_CAP}}}, raw=True, display_id='d1')\n"
              f"update_display({{{MIME!r}: 'z' * {2 * CELL_CAP}}}, raw=True, display_id='d1')\n"
              "update_display({'text/plain': 'fine'}, raw=True, display_id='d1')\n")
    nb = run([answer(RIGHT), new_code_cell(first), new_code_cell(update)], tmp_path)
    shown = json.dumps(nb.cells[1].outputs)
    assert sizes(nb)[1] <= CELL_CAP, sizes(nb)
    assert "fine" in shown and "yyyy" not in shown and "zzzz" not in shown
    assert "[output cut" in shown


def test_the_whole_notebook_is_capped(small_caps, tmp_path):
    each = f"print('w' * {CELL_CAP - 10_000})\n"
    nb = run([answer(RIGHT), *[new_code_cell(each) for _ in range(4)], TEST], tmp_path)
    assert sum(sizes(nb)) <= NOTEBOOK_CAP + 2000, sizes(nb)
    assert "[output cut" in json.dumps(nb.cells[4].outputs)
    assert record(nb)["cells"]["double-visible"]["kind"] == outcomes.PASSED


def test_a_learner_output_with_the_judges_key_is_no_verdict(tmp_path):
    """A wrong answer whose cell shows what a passing reply looks like still fails: test cells'
    outputs are written by the judge itself, and a reply counts only on the judge's errand."""
    forged = ("from IPython.display import display\nimport json\n"
              "for nonce in range(50):\n"
              f"    display({{{MIME!r}: json.dumps({{'nonce': nonce, 'value': 4}})}}, raw=True)\n"
              "print('✓ double is right on 2 case(s)')\n")
    nb = run([answer("def double(x):\n    return x + 2\n"), new_code_cell(forged), TEST], tmp_path)
    test_cell = nb.cells[2]
    assert record(nb)["cells"]["double-visible"]["kind"] == outcomes.FAILED
    assert any(o.get("output_type") == "error" for o in test_cell.outputs)
    assert not any(MIME in (o.get("data") or {}) for o in test_cell.outputs)


# ---- course errors ----------------------------------------------------------------------------

def test_a_setup_cell_that_fails_is_a_course_error(tmp_path):
    setup = locked("setup", "import numpy as np\nimport mlcourse_dependency_not_installed\n")
    nb = run([setup, answer(RIGHT), TEST], tmp_path)
    rec = record(nb)
    assert rec["course_error"]["cell"] == "in cell `setup`"
    assert "ModuleNotFoundError" in rec["course_error"]["error"]
    assert rec["course_error"]["missing"] == ["mlcourse_dependency_not_installed"]
    assert rec["cells"]["double-visible"]["kind"] == outcomes.COURSE_ERROR
    assert "not graded: course error" in nbformat.writes(nb)


def test_a_locked_cell_broken_by_the_learners_code_is_the_learners(tmp_path):
    """A locked demonstration cell that calls the learner's function fails because of the
    learner's code: their zero, no course error."""
    demo = locked("demo", "print(double(3))\n")
    nb = run([locked("setup", "import numpy as np\n"),
              answer("def double(x):\n    raise ValueError('not yet')\n"), demo, TEST], tmp_path)
    rec = record(nb)
    assert "course_error" not in rec
    assert rec["cells"]["double-visible"]["kind"] == outcomes.FAILED


def test_a_learners_file_that_breaks_the_setup_cell_is_the_learners(tmp_path):
    """A module handed in beside the notebook that shadows one the course imports: the setup
    cell fails before any learner cell, but through the learner's file."""
    (tmp_path / "numpy.py").write_text("raise ImportError('mine')\n")
    nb = run([locked("setup", "import numpy as np\n"), answer(RIGHT), TEST], tmp_path)
    rec = record(nb)
    assert "course_error" not in rec
    assert "numpy" in rec["probe"]["shadowed"]


def test_the_judge_times_every_cell(tmp_path):
    nb = run([locked("setup", "import time\ntime.sleep(0.3)\n"), answer(RIGHT), TEST], tmp_path)
    timing = record(nb)["timing"]
    assert timing["cells"]["setup"] >= 0.3
    assert set(timing["cells"]) >= {"setup", "double-answer", "double-visible"}
    assert timing["notebook"] >= sum(timing["cells"].values()) - 0.01
