"""Checks of the test fixture (tests/fixtures/99-fixture): one exercise, ``double(x) = 2 * x``.

Not a course notebook: the smallest assignment that carries every part of the
grading machinery (answer, visible and hidden tests) through nbgrader and the judge.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import checks as g
from . import check


@check()
def double_cases(double, *, xs: Sequence[float]):
    """``double(x) == 2 * x`` exactly, for each x."""
    for x in xs:
        g.check_equal(f"double({x!r})", g.call(double, x), 2 * x)
    g.passed(f"double is right on {len(xs)} case(s)")
