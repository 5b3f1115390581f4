"""Graded test cells are short calls of package checks that the judge can run.

Mirrors ``mlcourse/grading/cells.py``: what a test cell may say (``parse``), and
the course's own cells held to it: at most 15 lines of code each, a median of at
most 8, no function or class defined, every call a registered check.
"""

from __future__ import annotations

import ast
import statistics

import nbformat
import pytest
from nbtools import SOLUTIONS, is_test_cell, nbgrader_meta, source_notebooks

from mlcourse.grading import cells

COURSE = source_notebooks(SOLUTIONS)


def _code_lines(source: str) -> int:
    return sum(1 for line in source.splitlines() if line.strip() and not line.strip().startswith("#"))


def _test_cells():
    for path in COURSE:
        for cell in nbformat.read(path, as_version=4).cells:
            if is_test_cell(cell):
                yield path.parent.name, nbgrader_meta(cell)["grade_id"], cell.source


def test_every_graded_cell_is_short_and_defines_nothing():
    found = list(_test_cells())
    assert len(found) >= 60, f"only {len(found)} graded test cells found"
    long = {f"{nb}:{gid}": _code_lines(src) for nb, gid, src in found if _code_lines(src) > 15}
    assert not long, f"test cells over 15 lines of code: {long}"
    median = statistics.median(_code_lines(src) for _, _, src in found)
    assert median <= 8, f"median test cell has {median} lines of code"
    defining = [f"{nb}:{gid}" for nb, gid, src in found
                if any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef))
                       for node in ast.walk(ast.parse(src)))]
    assert not defining, f"test cells define functions or classes: {defining}"


@pytest.mark.parametrize("path", COURSE, ids=[p.parent.name for p in COURSE])
def test_every_graded_cell_is_judged_by_registered_checks_with_hidden_cases(path):
    for cell in nbformat.read(path, as_version=4).cells:
        if not is_test_cell(cell):
            continue
        gid = nbgrader_meta(cell)["grade_id"]
        calls = cells.parse(cell.source)
        assert calls, f"{gid}: no check calls"
        for call in calls:
            fn = cells.check_function(call)
            assert fn.__doc__, f"{gid}: {call.label()} has no docstring"
        assert "### BEGIN HIDDEN TESTS" in cell.source, f"{gid}: no hidden cases"


@pytest.mark.parametrize("source, problem", [
    ("x = 1", "only check calls"),
    ("nb03.mse(mse, seed=1 + 1)", "literal"),
    ("nb03.mse(*args)", r"\*args"),
    ("nb03.mse(mse.__globals__)", "literal"),
    ("import os", "only check calls"),
    ("from mlcourse.grading.exercises import nb03 as x", "only check calls"),
    ("def f():\n    pass", "only check calls"),
    ("nb03.mse(mse", "does not parse"),
])
def test_anything_but_check_calls_is_refused(source, problem):
    with pytest.raises(cells.TestCellError, match=problem):
        cells.parse(source)


def test_a_check_call_is_parsed_into_names_and_literals():
    (call,) = cells.parse("# why\nnb03.mse_random(mse, seed=60_606, shapes=[(7,), (1,)], n=range(2))")
    assert (call.module, call.check) == ("nb03", "mse_random")
    assert call.args == (("name", "mse"),)
    assert dict(call.kwargs) == {"seed": ("value", 60606), "shapes": ("value", [(7,), (1,)]),
                                 "n": ("value", range(2))}
    assert cells.learner_names([call]) == ["mse"]


def test_only_registered_checks_run():
    (call,) = cells.parse("nb03.np(mse)")
    with pytest.raises(cells.TestCellError, match="not a check"):
        cells.check_function(call)


def test_a_verdict_says_what_passed_and_why_it_failed():
    calls = cells.parse("nb99.double_cases(double, xs=[1, 2])\nnb99.double_cases(double, xs=[-3])")
    ok = cells.run(calls, {"double": lambda x: 2 * x}.__getitem__)
    assert ok.passed and len(ok.lines) == 2 and all(line.startswith("✓") for line in ok.lines)
    bad = cells.run(calls, {"double": lambda x: abs(2 * x)}.__getitem__)
    assert not bad.passed and "double(-3)" in bad.message and "expected" in bad.message
    assert bad.outputs()[-1]["output_type"] == "error" and bad.outputs()[-1]["ename"] == "GradingError"
    missing = cells.run(calls, {}.__getitem__)
    assert not missing.passed and "`double` is not defined" in missing.message
