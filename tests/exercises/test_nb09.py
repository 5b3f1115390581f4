"""09-fine-tuning's checks without a kernel: the reference passes, each wrong answer fails its own cells."""

from __future__ import annotations

import nbformat
import pytest
from nbtools import SOLUTIONS, run_in_process
from test_wrong_answers import WRONG

from mlcourse.grading.notebook import nbgrader_meta

NB = SOLUTIONS / "09-fine-tuning" / "09-fine-tuning.ipynb"
# The checks need only the setup, the answers and the test cells: every figure and experiment is skipped.
NEEDED = {"setup", "memorised-answer", "freeze-answer", "finetune-answer", "evaluate-answer"}
SKIP = {gid for cell in nbformat.read(NB, as_version=4).cells
        if cell.cell_type == "code" and (gid := nbgrader_meta(cell).get("grade_id"))
        and gid not in NEEDED and not gid.endswith("-tests")}


def test_the_reference_passes_every_check():
    verdicts = run_in_process(NB, skip=SKIP)
    failed = {gid: v.message for gid, v in verdicts.items() if not v.passed}
    assert len(verdicts) == 7 and not failed, failed


@pytest.mark.parametrize("answer, code, expected", WRONG["09-fine-tuning"],
                         ids=[f"{a}:{i}" for i, (a, _, _) in enumerate(WRONG["09-fine-tuning"])])
def test_a_wrong_answer_fails_exactly_its_own_cells(answer, code, expected):
    verdicts = run_in_process(NB, replace={answer: code}, skip=SKIP)
    failed = {gid for gid, v in verdicts.items() if not v.passed}
    assert failed == expected, {gid: verdicts[gid].message for gid in failed ^ expected}
    for gid in expected:
        # check_in_band's message states the passing band and the reference's result instead
        assert any(word in verdicts[gid].message for word in ("expected", "likely mistake", "passing band")), (
            f"{gid}: the message should say what was expected: {verdicts[gid].message}")
