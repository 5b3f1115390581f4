"""06-training-loop's checks without a kernel: the reference passes, each wrong answer fails its own cells."""

from __future__ import annotations

import pytest
from nbtools import SOLUTIONS, run_in_process
from test_wrong_answers import WRONG

NB = SOLUTIONS / "06-training-loop" / "06-training-loop.ipynb"
# Figures, demonstrations and the throughput measurement: no check needs them.
SKIP = {"batches-figure", "numpy-run", "torch-run", "curves", "fit", "fit-figure",
        "throughput-def", "throughput-run", "throughput-figure", "gpu"}


def test_the_reference_passes_every_check():
    verdicts = run_in_process(NB, skip=SKIP)
    failed = {gid: v.message for gid, v in verdicts.items() if not v.passed}
    assert verdicts and not failed, failed


@pytest.mark.parametrize("answer, code, expected", WRONG["06-training-loop"],
                         ids=[f"{a}:{i}" for i, (a, _, _) in enumerate(WRONG["06-training-loop"])])
def test_a_wrong_answer_fails_exactly_its_own_cells(answer, code, expected):
    verdicts = run_in_process(NB, replace={answer: code}, skip=SKIP)
    failed = {gid for gid, v in verdicts.items() if not v.passed}
    assert failed == expected, {gid: verdicts[gid].message for gid in failed ^ expected}
    for gid in expected:
        # check_in_band states the passing band it expected
        assert any(w in verdicts[gid].message for w in ("expected", "likely mistake", "passing band")), (
            f"{gid}: the message should say what was expected: {verdicts[gid].message}")
