"""The judge's requests travel on the agent's comm (``agent.listen``), not as cells.

What learner code does to that comm costs its own checks and nothing else: a comm closed or a
handler replaced answers no request (each check says so and the notebook goes on); a learner
function that ignores the interrupt at its time limit is stopped after a grace, with that reason;
a figure a learner's function draws while a check calls it never reaches the graded copy.
"""

from __future__ import annotations

import time

import nbformat
import pytest
from nbtools import SOLUTIONS

from mlcourse.grading import judge, notebook

pytestmark = pytest.mark.slow
LOSSES = next((SOLUTIONS / "03-losses").glob("*.ipynb"))


def graded_with(tmp_path, answer_tail: str, *, timeout: int = 60, last: str | None = None):
    """Grade the 03 solution with ``answer_tail`` appended to the cell that defines ``mse``
    (and a cell of the learner's own, ``last``, at the end)."""
    nb = nbformat.read(LOSSES, as_version=4)
    if last is not None:
        nb.cells.append(nbformat.v4.new_code_cell(last))
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")
                and "def mse" in c.source)
    cell.source += "\n" + answer_tail
    merged = notebook.merge_submission(notebook.read_notebook(LOSSES), nb)
    started = time.monotonic()
    notebook.execute(merged, LOSSES.parent, timeout=timeout)
    return notebook.score(merged), time.monotonic() - started, merged


def pictures(nb) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


def test_requests_take_the_comm_and_the_solution_keeps_full_marks(tmp_path, monkeypatch):
    asked = []
    original = judge.JudgeMixin._judge_ask

    async def counted(self, text):
        asked.append(text)
        return await original(self, text)

    monkeypatch.setattr(judge.JudgeMixin, "_judge_ask", counted)
    result, _, _ = graded_with(tmp_path, "")
    assert result.points == result.max_points
    assert len(asked) > 10


# Spelled so that the integrity scan, which refuses ``get_ipython().kernel`` written plainly,
# lets them run: what they do at run time is what is tested.
REACH = "_k = getattr(__import__('IPython').get_ipython(), 'ker' + 'nel')\n" \
        "_comms = getattr(_k, 'comm_' + 'manager').comms\n"


@pytest.mark.parametrize("attack", [
    REACH + "_comms.clear()",
    REACH + "for _c in list(_comms.values()):\n    _c._msg_callback = None",
    REACH + "for _c in list(_comms.values()):\n"
            "    _c.on_msg(lambda msg, _c=_c: _c.send({'reply': '{\"nonce\": 1, \"ok\": 0.0}'}))",
])
def test_a_broken_comm_costs_the_checks_and_nothing_else(tmp_path, attack):
    result, seconds, _ = graded_with(tmp_path, attack)
    by_id = result.by_id()
    assert by_id["mse-tests"].points == 0 and result.points < result.max_points
    assert "no answer came back" in by_id["mse-tests"].message or "another request" in by_id["mse-tests"].message
    assert seconds < 60, "no request waited for its time limit"


def test_a_check_whose_call_ignores_the_interrupt_is_stopped_after_a_grace(tmp_path):
    stubborn = ("import time\n_mse = mse\ndef mse(*args, **kwargs):\n    while True:\n        try:\n"
                "            time.sleep(100)\n        except KeyboardInterrupt:\n            pass\n")
    result, seconds, _ = graded_with(tmp_path, stubborn, timeout=3)
    message = result.by_id()["mse-tests"].message
    assert "ignored the interrupt while checks ran in cell `mse-tests`" in message
    assert seconds < 3 + judge.INTERRUPT_GRACE + 30


def test_figures_drawn_by_a_call_from_a_check_are_not_kept(tmp_path):
    """Not shown, and not left open in the kernel for a later cell's ``plt.plot`` to draw on."""
    # draws only when a check calls it (the judge's agent is on the stack), never in a cell
    drawing = ("import matplotlib.pyplot as plt, traceback\n_plain_mse = mse\n"
               "def mse(*args, **kwargs):\n"
               "    if any('agent' in f.filename for f in traceback.extract_stack()):\n"
               "        plt.figure(); plt.plot([1, 2, 3])\n"
               "    return _plain_mse(*args, **kwargs)\n")
    count = "import matplotlib.pyplot as plt\nprint('open figures:', len(plt.get_fignums()))"
    result, _, drawn = graded_with(tmp_path, drawing, last=count)
    assert result.by_id()["mse-tests"].passed
    assert pictures(drawn) == pictures(graded_with(tmp_path, "")[2])
    assert "open figures: 0" in "".join(o.get("text", "") for o in drawn.cells[-1].outputs)
