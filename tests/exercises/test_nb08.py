"""08-language-modelling's checks without a kernel: the reference passes, each wrong answer fails its own cells."""

from __future__ import annotations

import pytest
from nbtools import SOLUTIONS, run_in_process
from test_wrong_answers import WRONG

NB = SOLUTIONS / "08-language-modelling" / "08-language-modelling.ipynb"
# Figures and experiments no check needs (the neural bigram's training, the context sweep, the samples).
SKIP = {"bigram-figure", "bigram-heldout", "neural", "neural-figure", "sweep", "sweep-figure",
        "samples", "samples-figure"}

# How a message says what was expected: outright, as a band, as central differences, or as what it should be.
SAYS_WHAT_WAS_EXPECTED = ("expected", "likely mistake", "passing band", "central differences give", "should")


def skip_for(answer: str) -> set[str]:
    """Training is the slow check, and no other answer cell changes what train_context_model does."""
    return SKIP if answer == "context-answer" else SKIP | {"context-tests"}


def test_the_reference_passes_every_check():
    verdicts = run_in_process(NB, skip=SKIP)
    failed = {gid: v.message for gid, v in verdicts.items() if not v.passed}
    assert verdicts and not failed, failed


@pytest.mark.parametrize("answer, code, expected", WRONG["08-language-modelling"],
                         ids=[f"{a}:{i}" for i, (a, _, _) in enumerate(WRONG["08-language-modelling"])])
def test_a_wrong_answer_fails_exactly_its_own_cells(answer, code, expected):
    verdicts = run_in_process(NB, replace={answer: code}, skip=skip_for(answer))
    failed = {gid for gid, v in verdicts.items() if not v.passed}
    assert failed == expected, {gid: verdicts[gid].message for gid in failed ^ expected}
    for gid in expected:
        assert any(words in verdicts[gid].message for words in SAYS_WHAT_WAS_EXPECTED), (
            f"{gid}: the message should say what was expected: {verdicts[gid].message}")
