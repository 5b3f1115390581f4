"""Only correct answers earn points: cheats score zero in every course notebook.

Two cheats per notebook, in the first exercise's answer cell:
- an answer whose every return value claims to equal anything (``__eq__`` always
  True, truthy, ``__bool__`` True);
- a plausible wrong answer that also patches numpy's and torch's comparison and
  testing functions to always agree.
Each must lose all of that exercise's points. (A patch may cost later exercises
their points too: grading refuses to run once comparisons were tampered with.)
"""

from __future__ import annotations

import re

import nbformat
import pytest
from nbtools import answer_cell_ids, nbgrader_meta, run_with_replacement, source_notebooks
from test_wrong_answers import WRONG

ALWAYS_EQUAL = '''
class _ClaimsEverything:
    """Equal to anything, true, never less or greater: a cheat, not an answer."""
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __bool__(self): return True
    def __len__(self): return 1
    def __iter__(self): return iter([self, self])
    def __getitem__(self, key): return self
    def __getattr__(self, name): return lambda *args, **kwargs: self
    def __call__(self, *args, **kwargs): return self
'''

PATCH_COMPARISONS = '''
import numpy as _np
import numpy.testing as _npt
import torch as _torch
_np.allclose = lambda *args, **kwargs: True
_np.isclose = lambda a, b, *args, **kwargs: _np.ones(_np.shape(a), dtype=bool)
_np.array_equal = lambda *args, **kwargs: True
_npt.assert_allclose = lambda *args, **kwargs: None
_npt.assert_array_equal = lambda *args, **kwargs: None
_torch.allclose = lambda *args, **kwargs: True
_torch.testing.assert_close = lambda *args, **kwargs: None
'''


def _cheat_source(answer_source: str) -> str:
    """The answer cell with every function and class replaced by a cheat of the same name."""
    lines = [ALWAYS_EQUAL]
    for kind, name in re.findall(r"^(def|class)\s+(\w+)", answer_source, flags=re.MULTILINE):
        if kind == "def":
            lines.append(f"def {name}(*args, **kwargs):\n    return _ClaimsEverything()\n")
        else:
            lines.append(f"class {name}(_ClaimsEverything):\n"
                         "    def __init__(self, *args, **kwargs): pass\n")
    return "\n".join(lines)


def _first_exercise(path):
    nb = nbformat.read(path, as_version=4)
    first = answer_cell_ids(nb)[0]
    source = next(c.source for c in nb.cells if nbgrader_meta(c).get("grade_id") == first)
    return first, source


def _its_test_cells(assignment: str, answer: str) -> set[str]:
    cells = set().union(*(expected for gid, _, expected in WRONG[assignment] if gid == answer))
    assert cells, f"{assignment}: no wrong answer names the test cells of {answer}"
    return cells


COURSE = source_notebooks()


@pytest.mark.slow
@pytest.mark.parametrize("path", COURSE, ids=[p.parent.name for p in COURSE])
def test_an_answer_that_claims_to_equal_everything_scores_zero(path):
    assignment = path.parent.name
    answer, source = _first_exercise(path)
    results = run_with_replacement(path, answer, _cheat_source(source))
    earned = {gid: r.score for gid, r in results.items()
              if gid in _its_test_cells(assignment, answer) and r.score > 0}
    assert not earned, f"{assignment}: an always-equal cheat in {answer} earned {earned}"


@pytest.mark.slow
@pytest.mark.parametrize("path", COURSE, ids=[p.parent.name for p in COURSE])
def test_patching_comparisons_does_not_rescue_a_wrong_answer(path):
    assignment = path.parent.name
    answer, wrong_code, expected = WRONG[assignment][0]
    results = run_with_replacement(path, answer, wrong_code + "\n" + PATCH_COMPARISONS)
    earned = {gid: r.score for gid, r in results.items() if gid in expected and r.score > 0}
    assert not earned, f"{assignment}: patched comparisons let {answer}'s wrong answer earn {earned}"
    told = [r.output for gid, r in results.items() if gid in expected]
    assert any("replaced" in text for text in told), (
        f"{assignment}: the failure should say that comparison functions were replaced")
