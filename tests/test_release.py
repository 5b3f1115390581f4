"""The committed notebooks: stripped, released from solutions/, and graded the course's way."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import nbformat
import pytest
from nbtools import (
    FIXTURES,
    NOTEBOOKS,
    REPO,
    SOLUTIONS,
    graded_test_ids,
    is_test_cell,
    nbgrader_meta,
    source_notebooks,
)

from grader import release
from grader.course import build_course

SOURCES = source_notebooks(SOLUTIONS)
RELEASED = source_notebooks(NOTEBOOKS)
FIXTURE = FIXTURES / "99-fixture" / "99-fixture.ipynb"
# Text that must never reach a learner.
SECRET_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
HOW_TO_FIX = "run `make release` and commit notebooks/"


def _ids(paths):
    return [p.parent.name for p in paths]


def output_problems(nb) -> list[str]:
    return [
        f"cell {i} has outputs or an execution count"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]


def grading_problems(nb, min_tests: int = 3) -> list[str]:
    """What a source notebook gets wrong about nbgrader metadata."""
    problems = []
    tests = [c for c in nb.cells if is_test_cell(c)]
    if len(tests) < min_tests:
        problems.append(f"{len(tests)} graded test cells; at least {min_tests} are needed")
    ids = [nbgrader_meta(c).get("grade_id") for c in nb.cells if nbgrader_meta(c)]
    dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
    if dupes:
        problems.append(f"grade_ids used twice: {dupes}")
    for cell in tests:
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id")
        points = meta.get("points")
        if not isinstance(points, (int, float)) or points <= 0:
            problems.append(f"test cell {gid!r} has points={points!r}; give it a positive number")
        if meta.get("locked") is not True:
            problems.append(f"test cell {gid!r} is not locked (metadata nbgrader.locked: true)")
    for i, cell in enumerate(nb.cells):
        if "BEGIN HIDDEN TESTS" in cell.source and not is_test_cell(cell):
            problems.append(f"cell {i} has hidden tests but is not a graded test cell")
    return problems


@pytest.mark.parametrize(
    "path", SOURCES + RELEASED + [FIXTURE], ids=lambda p: p.relative_to(REPO).as_posix()
)
def test_committed_notebooks_carry_no_outputs(path: Path):
    problems = output_problems(nbformat.read(path, as_version=4))
    assert not problems, (
        f"{path}: {problems}. Strip it: `python -m grader.pipeline strip` (solutions/) "
        f"or `make release` (notebooks/)."
    )


def test_every_source_is_released():
    sources, released = set(_ids(SOURCES)), set(_ids(RELEASED))
    assert not sources - released, f"not released: {sorted(sources - released)}; {HOW_TO_FIX}"
    assert not released - sources, f"no source for {sorted(released - sources)} in solutions/"


@pytest.mark.parametrize("path", RELEASED, ids=_ids(RELEASED))
def test_released_notebook_has_no_solutions_or_hidden_tests(path: Path):
    text = path.read_text(encoding="utf-8")
    leaked = [m for m in SECRET_MARKERS if m in text]
    assert not leaked, f"{path} contains {leaked}; {HOW_TO_FIX}"


@pytest.mark.parametrize("path", SOURCES, ids=_ids(SOURCES))
def test_source_notebook_grading_metadata(path: Path):
    problems = grading_problems(nbformat.read(path, as_version=4))
    assert not problems, f"{path}: " + "; ".join(problems)


def test_grading_metadata_check_on_fixture():
    nb = nbformat.read(FIXTURE, as_version=4)
    assert grading_problems(nb, min_tests=2) == []
    assert grading_problems(nb, min_tests=3) != [], "the fixture has only two test cells"
    nbgrader_meta(nb.cells[2])["locked"] = False
    assert any("not locked" in p for p in grading_problems(nb, min_tests=2))


def _tree(root: Path) -> dict[str, object]:
    """Every file under root: parsed JSON for notebooks, bytes otherwise."""
    out = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        out[rel] = json.loads(path.read_text("utf-8")) if path.suffix == ".ipynb" else path.read_bytes()
    return out


@pytest.mark.slow
def test_notebooks_equal_a_fresh_release(tmp_path: Path):
    if not SOURCES:
        pytest.skip("solutions/ is empty: nothing is released yet")
    course = build_course(tmp_path, [p.parent for p in SOURCES])
    release.release(course, tmp_path / "notebooks")
    fresh = _tree(tmp_path / "notebooks")
    # Assignment folders only: notebooks/ may hold other files (a README) beside them.
    committed = {k: v for k, v in _tree(NOTEBOOKS).items() if "/" in k}
    assert sorted(fresh) == sorted(committed), f"file lists differ; {HOW_TO_FIX}"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"out of date: {stale}; {HOW_TO_FIX}"


@pytest.mark.slow
def test_release_is_clean_and_byte_stable(tmp_path: Path):
    """Proved on the fixture: only the notebook comes out, with no secrets, the same twice."""
    course = build_course(tmp_path / "course", [FIXTURES / "99-fixture"])
    junk = course.solutions / "99-fixture" / ".ipynb_checkpoints"
    junk.mkdir()
    (junk / "99-fixture-checkpoint.ipynb").write_text("{}")
    first, second = tmp_path / "first", tmp_path / "second"
    release.release(course, first)
    release.release(course, second)

    files = sorted(p.relative_to(first).as_posix() for p in first.rglob("*") if p.is_file())
    assert files == ["99-fixture/99-fixture.ipynb"], f"release left extra files: {files}"
    a, b = (d / "99-fixture" / "99-fixture.ipynb" for d in (first, second))
    assert a.read_bytes() == b.read_bytes(), "two releases of the same source differ"

    text = a.read_text(encoding="utf-8")
    assert not [m for m in SECRET_MARKERS if m in text]
    assert "hidden-canary" not in text and "return 2 * x" not in text
    nb = nbformat.read(a, as_version=4)
    assert output_problems(nb) == []
    assert graded_test_ids(nb) == ["double-visible", "double-hidden"]
