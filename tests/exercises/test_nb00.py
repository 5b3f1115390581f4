"""00-loop-at-a-glance's checks without a kernel: the reference passes, each wrong answer fails its own cells."""

from __future__ import annotations

import pytest
from nbtools import SOLUTIONS, run_in_process
from test_wrong_answers import WRONG

NB = SOLUTIONS / "00-loop-at-a-glance" / "00-loop-at-a-glance.ipynb"
SKIP = {"setup-check", "data", "loop-run", "figure"}


def test_the_reference_passes_every_check():
    verdicts = run_in_process(NB, skip=SKIP)
    failed = {gid: v.message for gid, v in verdicts.items() if not v.passed}
    assert verdicts and not failed, failed


@pytest.mark.parametrize("answer, code, expected", WRONG["00-loop-at-a-glance"],
                         ids=[f"{a}:{i}" for i, (a, _, _) in enumerate(WRONG["00-loop-at-a-glance"])])
def test_a_wrong_answer_fails_exactly_its_own_cells(answer, code, expected):
    verdicts = run_in_process(NB, replace={answer: code}, skip=SKIP)
    failed = {gid for gid, v in verdicts.items() if not v.passed}
    assert failed == expected, {gid: verdicts[gid].message for gid in failed ^ expected}
    for gid in expected:
        assert "expected" in verdicts[gid].message or "likely mistake" in verdicts[gid].message, (
            f"{gid}: the message should say what was expected: {verdicts[gid].message}")
