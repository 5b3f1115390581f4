"""nbgrader end to end in a scratch course: release, submit, autograde, feedback.

The repository's grader/ is never touched: each assignment gets a temporary course
made of grader/'s config files and that assignment's source folder.
"""

from __future__ import annotations

import contextlib
import csv
import html
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from nbtools import FIXTURES, REPO, SOLUTIONS, source_notebooks
from test_wrong_answers import FIXTURE_WRONG, WRONG

import mlcourse
from grader import release
from grader.autograde import grade as grade_class
from grader.course import Course, build_course
from mlcourse.grading.notebook import grade as grade_locally

# The fixture proves the machinery while solutions/ is still empty.
ASSIGNMENT_DIRS = [FIXTURES / "99-fixture"] + [p.parent for p in source_notebooks(SOLUTIONS)]
HIDDEN = re.compile(r"BEGIN HIDDEN TESTS[^\n]*\n(.*?)^[ \t]*#+ *END HIDDEN TESTS", re.S | re.M)


def nbgrader(args: list[str], course: Course, env: dict) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "nbgrader"
    proc = subprocess.run(
        [str(exe), *args, "--force"], cwd=course.root, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stderr[-3000:]}"
    return proc


def submit(course: Course, student: str, assignment: str, notebook: Path | None,
           text: str | None = None) -> None:
    folder = course.submitted / student / assignment
    folder.mkdir(parents=True)
    target = folder / f"{assignment}.ipynb"
    if notebook is not None:
        shutil.copy(notebook, target)
    else:
        target.write_text(text, encoding="utf-8")


def scores(course: Course, name: str, student: str) -> dict[str, tuple[float, float]]:
    """grade_id -> (score, max_score) from the gradebook."""
    with course.gradebook() as gb:
        submission = gb.find_submission(name, student)
        return {
            g.cell.name: (g.score or 0.0, g.max_score)
            for nb in submission.notebooks
            for g in nb.grades
        }


def html_text(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def hidden_only_lines(nb) -> set[str]:
    """Lines found only inside hidden test regions: anything else may be shown."""
    public = HIDDEN.sub("", "\n".join(c.source for c in nb.cells))
    return {
        line.strip()
        for cell in nb.cells
        for region in HIDDEN.findall(cell.source)
        for line in region.splitlines()
        if line.strip() and line.strip() not in public
    }


def feedback_leaks(course: Course, name: str, student: str, secret: set[str]) -> list:
    # Control: autograde keeps the hidden tests, so the feedback filter is what removes them.
    kept = nbformat.read(course.root / "autograded" / student / name / f"{name}.ipynb", 4)
    kept_source = "\n".join(c.source for c in kept.cells)
    assert all(s in kept_source for s in secret), "control: autograde dropped hidden tests"
    page = course.feedback_dir / student / name / f"{name}.html"
    assert page.is_file(), f"no feedback for {student}"
    text = html_text(page)
    return sorted(s for s in secret if s in text) + (["HIDDEN TESTS"] if "HIDDEN TESTS" in text else [])


def with_answer(notebook: Path, grade_id: str, code: str) -> str:
    """The notebook's JSON with one answer cell's source replaced."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = code
    return nbformat.writes(nb)


def released_course(tmp_path: Path, source: Path, env: dict):
    """A scratch course for one assignment (``source``: its solution notebook), released;
    returns the course, the assignment's name and a function that gives a fresh copy of
    the released notebook."""
    name = source.parent.name
    course = build_course(tmp_path, [source.parent])
    nbgrader(["generate_assignment", name], course, env)
    text = (course.release_dir / name / f"{name}.ipynb").read_text(encoding="utf-8")
    return course, name, lambda: nbformat.reads(text, as_version=4)


def autograde(course: Course, name: str, env: dict) -> subprocess.CompletedProcess:
    """Plain ``nbgrader autograde`` in the course folder (it exits 1 when one submission fails)."""
    return subprocess.run([str(Path(sys.executable).parent / "nbgrader"), "autograde", name, "--force"],
                          cwd=course.root, env=env, capture_output=True, text=True)


def local_scores(course: Course, name: str, student: str) -> dict[str, tuple[float, float]]:
    """What `mlcourse grade` gives the same submitted file."""
    path = course.submitted / student / name / f"{name}.ipynb"
    result = grade_locally(path, course.source_notebook(name))
    return {c.grade_id: (c.points, c.max_points) for c in result.cells}


@pytest.mark.slow
@pytest.mark.parametrize("source_dir", ASSIGNMENT_DIRS, ids=lambda p: p.name)
def test_round_trip(source_dir: Path, tmp_path: Path):
    """Release; submit the solution, the untouched release and the release with one
    plausible wrong answer; grade them as `make grade` does (each one a sandboxed job,
    here run in this process rather than on Dask workers: plain `nbgrader autograde` is run
    by test_integrity.py); feedback. The solution
    scores full marks, the untouched release zero on every graded cell, the wrong answer
    loses exactly its cells; `mlcourse grade` gives the release and the wrong answer the
    gradebook's score, cell by cell; feedback shows no hidden test source."""
    name = source_dir.name
    course = build_course(tmp_path, [source_dir])
    release.generate(course, name)
    released = course.release_dir / name / f"{name}.ipynb"
    submit(course, "solution", name, course.source_notebook(name))
    submit(course, "untouched", name, released)
    wrong = (WRONG.get(name) or FIXTURE_WRONG.get(name))[0]
    solved = nbformat.reads(with_answer(course.source_notebook(name), wrong[0], wrong[1]), 4)
    submit(course, "wrong", name, None, text=nbformat.writes(solved))
    quiet = lambda *args, **kwargs: None  # noqa: E731
    grade_class(course, [name], echo=quiet, workers=0)  # the Dask path: test_class_grading
    release.feedback(course, [name], echo=quiet)

    problems = []
    full, zero = scores(course, name, "solution"), scores(course, name, "untouched")
    assert full and zero, "no graded cells found in the gradebook"
    short = {gid: s for gid, s in full.items() if s[0] != s[1]}
    if short:
        problems.append(f"the solution loses points on {short}")
    earned = {gid: s for gid, s in zero.items() if s[0] != 0}
    if earned:
        problems.append(f"the untouched release earns points on {earned}")
    lost = {gid for gid, s in scores(course, name, "wrong").items() if s[0] != s[1]}
    if lost != wrong[2]:
        problems.append(f"the wrong answer to {wrong[0]} lost {sorted(lost)}, not {sorted(wrong[2])}")
    for student in ("untouched", "wrong"):
        book, local = scores(course, name, student), local_scores(course, name, student)
        if book != local:
            problems.append(f"{student}: nbgrader gives {book}, mlcourse grade {local}")
    # mlcourse.grade_me(), as a cell at the end of the notebook calls it.
    book = scores(course, name, "wrong")
    total = (sum(s[0] for s in book.values()), sum(s[1] for s in book.values()))
    with contextlib.redirect_stdout(io.StringIO()):
        mine = mlcourse.grade_me(course.submitted / "wrong" / name / f"{name}.ipynb")
    if mine != total:
        problems.append(f"grade_me gives {mine}, the gradebook {total}")
    secret = hidden_only_lines(nbformat.read(course.source_notebook(name), as_version=4))
    assert secret, f"{name} has no hidden tests (### BEGIN HIDDEN TESTS in its test cells)"
    for student in ("solution", "untouched"):
        leaked = feedback_leaks(course, name, student, secret)
        if leaked:
            problems.append(f"feedback for {student} shows hidden tests: {leaked}")
    assert not problems, f"{name}:\n" + "\n".join(problems)


@pytest.mark.slow
def test_bad_submissions_do_not_stop_the_batch(tmp_path: Path, course_env):
    name = "99-fixture"
    course = build_course(tmp_path, [FIXTURES / name])
    submit(course, "good", name, course.source_notebook(name))
    submit(course, "corrupt", name, None, text='{"cells": [ this is not json')
    foreign = new_notebook(cells=[new_code_cell(
        "def answer():\n    return 42",
        metadata={"nbgrader": {"grade": False, "grade_id": "other-answer", "locked": False,
                               "schema_version": 3, "solution": True, "task": False}},
    )])
    submit(course, "foreign", name, None, text=nbformat.writes(foreign))

    proc = subprocess.run(
        [sys.executable, "-m", "grader.pipeline", "--course", str(course.root), "grade"],
        cwd=REPO, env=course_env, capture_output=True, text=True,
    )
    report = proc.stdout + proc.stderr
    assert proc.returncode == 1, f"a failed submission must make grade exit 1:\n{report}"
    assert "corrupt/99-fixture" in report and "foreign/99-fixture" in report, report

    with open(course.grades_csv, newline="", encoding="utf-8") as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {"good", "corrupt", "foreign"}
    assert rows["good"]["score"] == rows["good"]["max_score"] == "3", rows["good"]
    assert rows["good"]["error"] == "" and rows["good"]["failed_cells"] == ""
    for student, word in (("corrupt", "JSON"), ("foreign", "foreign")):
        assert rows[student]["score"] == "0" and rows[student]["max_score"] == "3", rows[student]
        assert word in rows[student]["error"], rows[student]
    assert not (course.root / "autograded" / "corrupt").exists()
