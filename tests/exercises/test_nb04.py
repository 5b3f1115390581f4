"""04-gradients's checks without a kernel: the reference passes, each wrong answer fails its own cells."""

from __future__ import annotations

import pytest
from nbtools import SOLUTIONS, run_in_process
from test_wrong_answers import WRONG

NB = SOLUTIONS / "04-gradients" / "04-gradients.ipynb"
# The error curve, the habit check on the learner's own code and its figures: no check reads them.
SKIP = {"relerr-compute", "relerr-figure", "habit-check", "habit-figure", "bug-figure", "torch-check"}


def test_the_reference_passes_every_check():
    verdicts = run_in_process(NB, skip=SKIP)
    failed = {gid: v.message for gid, v in verdicts.items() if not v.passed}
    assert verdicts and not failed, failed


@pytest.mark.parametrize("answer, code, expected", WRONG["04-gradients"],
                         ids=[f"{a}:{i}" for i, (a, _, _) in enumerate(WRONG["04-gradients"])])
def test_a_wrong_answer_fails_exactly_its_own_cells(answer, code, expected):
    verdicts = run_in_process(NB, replace={answer: code}, skip=SKIP)
    failed = {gid for gid, v in verdicts.items() if not v.passed}
    assert failed == expected, {gid: verdicts[gid].message for gid in failed ^ expected}
    for gid in expected:
        # a failed gradient check says what central differences give, and its diagnosis
        assert any(word in verdicts[gid].message for word in ("expected", "likely mistake", "Diagnosis:")), (
            f"{gid}: the message should say what was expected: {verdicts[gid].message}")
