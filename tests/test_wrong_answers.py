"""Plausible wrong answers lose their exercise's points and no other; solutions run clean.

Each case runs the source notebook as the autograder would (solutions and hidden
tests in place) with one answer cell replaced, then scores every graded test cell
by nbgrader's rule (an error or any stderr output scores zero). See tests/nbtools.py.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbtools import (
    FIXTURES,
    SOLUTIONS,
    answer_cell_ids,
    graded_test_ids,
    is_test_cell,
    nbgrader_meta,
    run_source,
    run_with_replacement,
    source_notebooks,
)

# ---- notebook authors: fill this in ----------------------------------------------------
# WRONG maps an assignment to its plausible wrong answers. Each notebook keeps its own
# list in tests/wrong_answers/NN_name.py (for solutions/NN-name; see the README there):
#
#     WRONG = [
#         ("<grade_id of the answer cell>",
#          "<the whole new source of that cell>",
#          {"<grade_id of each test cell that must fail>", ...}),
#     ]
#
# Every exercise (a code cell with nbgrader `solution: true, grade: false`) needs at least
# one entry: a missing 1/N, a wrong sign, a wrong axis, test-set leakage, an off-by-one
# step count ... The listed test cells (`grade: true, locked: true, points: N`) must fail
# and every other graded test cell must still pass: a wrong answer costs its own
# exercise's points and no other.
WRONG_DIR = Path(__file__).resolve().parent / "wrong_answers"


def load_wrong_answers(folder: Path = WRONG_DIR) -> dict[str, list[tuple[str, str, set[str]]]]:
    table = {}
    for path in sorted(folder.glob("[0-9]*.py")):
        spec = importlib.util.spec_from_file_location(f"wrong_answers_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        table[path.stem.replace("_", "-")] = list(module.WRONG)
    return table


WRONG = load_wrong_answers()

# The harness proved on the fixture (tests/fixtures/99-fixture): not a course notebook.
FIXTURE_WRONG: dict[str, list[tuple[str, str, set[str]]]] = {
    "99-fixture": [
        ("double-answer", "def double(x):\n    return x + x + 1", {"double-visible", "double-hidden"}),
        # Right on the visible case only: the hidden tests catch it.
        ("double-answer", "def double(x):\n    return 4 if x == 2 else 0", {"double-hidden"}),
    ],
}

SOURCES = {p.parent.name: p for p in source_notebooks(SOLUTIONS)}
FIXTURE_SOURCES = {"99-fixture": FIXTURES / "99-fixture" / "99-fixture.ipynb"}
TIMEOUT = 120


def _cases(table, sources):
    return [
        pytest.param(sources.get(name), name, answer, code, expected, id=f"{name}:{answer}:{i}")
        for name, entries in table.items()
        for i, (answer, code, expected) in enumerate(entries)
    ]


def test_every_exercise_has_a_wrong_answer():
    if not SOURCES:
        pytest.skip("solutions/ is empty: no exercises yet")
    missing = []
    for name, path in SOURCES.items():
        covered = {answer for answer, _, _ in WRONG.get(name, [])}
        missing += [f"{name}:{a}" for a in answer_cell_ids(nbformat.read(path, as_version=4))
                    if a not in covered]
    assert not missing, (
        f"exercises without a plausible wrong answer in tests/wrong_answers/: {missing}"
    )


def test_wrong_answer_table_names_real_cells():
    problems = []
    for name, entries in {**WRONG, **FIXTURE_WRONG}.items():
        path = SOURCES.get(name) or FIXTURE_SOURCES.get(name)
        if path is None:
            problems.append(f"{name}: no solutions/{name}/{name}.ipynb for its wrong answers")
            continue
        nb = nbformat.read(path, as_version=4)
        answers, tests = set(answer_cell_ids(nb)), set(graded_test_ids(nb))
        for answer, code, expected in entries:
            if answer not in answers:
                problems.append(f"{name}: {answer!r} is not an answer cell ({sorted(answers)})")
            if not expected or not expected <= tests:
                problems.append(f"{name}: {sorted(expected - tests) or 'empty set'} not test "
                                f"cells ({sorted(tests)})")
            if not isinstance(code, str) or not code.strip():
                problems.append(f"{name}: {answer!r} has no replacement source")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize(
    "path, name, answer, code, expected",
    _cases(WRONG, SOURCES) + _cases(FIXTURE_WRONG, FIXTURE_SOURCES),
)
def test_wrong_answer_loses_only_its_points(path: Path, name, answer, code, expected):
    assert path is not None, f"{name}: no such notebook in solutions/"
    results = run_with_replacement(path, answer, code, timeout=TIMEOUT)
    failed = {gid for gid, r in results.items() if not r.passed}
    wrongly_passed = sorted(expected - failed)
    collateral = {gid: results[gid].error or "stderr output" for gid in sorted(failed - expected)}
    assert not wrongly_passed, f"{name}: the wrong answer to {answer!r} still passes {wrongly_passed}"
    assert not collateral, f"{name}: the wrong answer to {answer!r} also fails {collateral}"


@pytest.mark.slow
@pytest.mark.parametrize(
    "path", list(SOURCES.values()) + list(FIXTURE_SOURCES.values()), ids=lambda p: p.parent.name
)
def test_solution_runs_top_to_bottom_cleanly(path: Path):
    nb = run_source(path, timeout=TIMEOUT)
    errors = [
        f"cell {i} ({nbgrader_meta(c).get('grade_id', 'ungraded')}): {o.ename}: {o.evalue}"
        for i, c in enumerate(nb.cells) if c.cell_type == "code"
        for o in c.outputs if o.output_type == "error"
    ]
    assert not errors, f"{path.parent.name} raises:\n" + "\n".join(errors)
    noisy = [
        nbgrader_meta(c)["grade_id"] for c in nb.cells if is_test_cell(c)
        if any(o.output_type == "stream" and o.name == "stderr" for o in c.outputs)
    ]
    assert not noisy, f"{path.parent.name}: test cells write to stderr (nbgrader scores 0): {noisy}"
