"""Before a class is graded, its source notebooks are (issue 21, parts 1 to 3).

``autograde.grade`` first grades each assignment's source notebook through the same worker
path (the canary): in an environment whose kernel cannot import ``mlcourse`` it stops before
anyone is graded, says why, and ``python -m grader.pipeline grade`` exits non-zero. A passed
canary is kept in .work/ and not run again until what it depends on changes (or ``--force``).
Its times set a submission's limits: a 03 submission whose functions sleep is stopped by
them, not by the 120 s cap.

The broken environment is made as the observed one was: the grading process imports one copy
of ``mlcourse`` and the sandbox exposes only that copy to the kernel, while the kernel's own
Python finds ``mlcourse`` somewhere else (here: the sandbox is not told where ``mlcourse``
lives, so the venv's editable-install hook points the kernel at a folder it cannot see).
"""

from __future__ import annotations

import ast
import csv
import json
import os
import shutil
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbtools import FIXTURES

import mlcourse
from grader import autograde, batch, canary, pipeline, release, sandbox
from grader.course import Course, PipelineError, build_course
from grader.jobs import COURSE_ERROR, Result, Settings
from mlcourse.grading import limits

REPO = Path(__file__).resolve().parents[1]
NAME = "99-fixture"

pytestmark = pytest.mark.slow


@pytest.fixture
def fixture_course(tmp_path) -> Course:
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    course = build_course(tmp_path, [FIXTURES / NAME])
    release.generate(course, NAME)
    folder = course.submitted / "alice" / NAME
    folder.mkdir(parents=True)
    shutil.copy(course.source_notebook(NAME), folder / f"{NAME}.ipynb")
    return course


def without_mlcourse(monkeypatch) -> None:
    """The kernel's sandbox shows every folder it would, except the one ``mlcourse`` is in."""
    if not sandbox.probe().bwrap:
        pytest.skip("no namespaces here: a kernel sees every folder")
    package = Path(mlcourse.__file__).resolve().parent
    roots = sandbox._readable_roots
    monkeypatch.setattr(sandbox, "_readable_roots", lambda: [r for r in roots() if r != package])


def test_a_kernel_without_mlcourse_stops_the_batch_before_anyone_is_graded(
        fixture_course, monkeypatch, capsys):
    course = fixture_course
    without_mlcourse(monkeypatch)
    rc = pipeline.main(["--course", str(course.root), "grade", "--workers", "0"])
    err = capsys.readouterr().err
    assert rc != 0
    assert "canary failed" in err and NAME in err, err
    assert "No module named 'mlcourse'" in err and COURSE_ERROR in err, err
    with course.gradebook() as gb:
        assert [s for a in gb.assignments for s in a.submissions] == []
    rows = list(csv.DictReader(course.grades_csv.open())) if course.grades_csv.is_file() else []
    assert rows == []
    assert not (course.work_dir / canary.KEPT).is_file()


def test_a_passed_canary_is_kept_and_run_again_only_when_forced(fixture_course):
    course = fixture_course
    lines: list[str] = []
    rows = autograde.grade(course, workers=0, echo=lines.append)
    assert [(r.student, r.score, r.error) for r in rows] == [("alice", 3, "")]
    assert any(line.startswith("canary: 99-fixture earned full marks") for line in lines), lines
    kept = json.loads((course.work_dir / canary.KEPT).read_text())[NAME]
    assert kept["notebook"] > 0 and kept["cell"]
    # a new submission: the canary is not run again
    (course.submitted / "bob" / NAME).mkdir(parents=True)
    shutil.copy(course.source_notebook(NAME), course.submitted / "bob" / NAME / f"{NAME}.ipynb")
    lines.clear()
    autograde.grade(course, workers=0, echo=lines.append)
    assert not any(line.startswith("canary:") for line in lines), lines
    lines.clear()
    autograde.grade(course, workers=0, echo=lines.append, force=True)
    assert any(line.startswith("canary:") for line in lines), lines
    # another setting is another canary
    assert canary.canary_key(course, _assignment(course), Settings(memory="1GiB")) != kept["key"]


def _assignment(course):
    from grader import intake

    _, assignments, _, _ = intake.collect(course, [(NAME, "alice")], Settings(), True)
    return assignments[NAME]


def test_a_course_error_is_no_grade_and_is_tried_again():
    record = {"course_error": {"cell": "in cell `setup`", "error": "ModuleNotFoundError: x",
                               "why": "a cell of the course failed before any cell of the "
                                      "learner's ran"}}
    nb = {"cells": [], "metadata": {"mlcourse": {"judge": record}}}
    result = Result(ok=True, autograded={"a.ipynb": json.dumps(nb)})
    why = result.course_error()
    assert why.startswith(COURSE_ERROR) and "setup" in why and "ModuleNotFoundError" in why
    failed = Result(ok=False, error=why)
    assert failed.worker_failed and failed.course_failed


def test_limits_are_a_multiple_of_the_references_within_floors_and_caps(fixture_course):
    course = fixture_course
    times = {NAME: {"notebook": 3.0, "slowest": 0.4}}
    got = canary.limits_for(course, NAME, Settings(), times)
    assert (got.time_limit, got.cell_time_limit) == (limits.NOTEBOOK_FLOOR_SECONDS,
                                                      limits.CELL_FLOOR_SECONDS)
    slow = canary.limits_for(course, NAME, Settings(), {NAME: {"notebook": 500.0, "slowest": 30.0}})
    assert (slow.time_limit, slow.cell_time_limit) == (limits.NOTEBOOK_SECONDS, limits.CELL_SECONDS)
    flags = canary.limits_for(course, NAME, Settings(time_limit=40, cell_time_limit=6), times)
    assert (flags.time_limit, flags.cell_time_limit) == (40, 6)
    nb = nbformat.read(course.source_notebook(NAME), as_version=4)
    nb.metadata["mlcourse"] = {"time_limits": {"cell": 30, "notebook": 5000}}
    nbformat.write(nb, course.source_notebook(NAME))
    own = canary.limits_for(course, NAME, Settings(), times)
    assert (own.time_limit, own.cell_time_limit) == (limits.NOTEBOOK_SECONDS, 30)


SLEEP = 20


def sleepy(source: str) -> str:
    """Every top-level function of an answer cell sleeps ``SLEEP`` seconds first."""
    lines = source.splitlines()
    tree = ast.parse(source)
    for node in sorted((n for n in tree.body if isinstance(n, ast.FunctionDef)),
                       key=lambda n: n.body[0].lineno, reverse=True):
        first = node.body[0]
        lines.insert(first.lineno - 1, " " * first.col_offset + f"time.sleep({SLEEP})")
    return "import time\n" + "\n".join(lines) + "\n"


def test_a_slow_submission_is_stopped_by_limits_from_the_references_times(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "CELL_FLOOR_SECONDS", 2)
    monkeypatch.setattr(limits, "NOTEBOOK_FLOOR_SECONDS", 12)
    name = "03-losses"
    course = build_course(tmp_path, [REPO / "solutions" / name])
    release.generate(course, name)
    source = nbformat.read(course.source_notebook(name), as_version=4)
    for student, edit in (("honest", False), ("sleepy", True)):
        nb = nbformat.read(course.source_notebook(name), as_version=4)
        if edit:
            for cell in nb.cells:
                if cell.metadata.get("nbgrader", {}).get("solution"):
                    cell.source = sleepy(cell.source)
        (course.submitted / student / name).mkdir(parents=True)
        nbformat.write(nb, course.submitted / student / name / f"{name}.ipynb")
    held: dict[str, float] = {}
    grade_job = batch.worker.grade_job

    def timed(job, *args):
        started = time.perf_counter()
        try:
            return grade_job(job, *args)
        finally:
            held[job.key] = time.perf_counter() - started

    monkeypatch.setattr(batch.worker, "grade_job", timed)
    rows = {r.student: r for r in autograde.grade(course, workers=0, echo=lambda line: None)}
    times = json.loads((course.work_dir / canary.KEPT).read_text())
    derived = canary.limits_for(course, name, Settings(), times)
    assert SLEEP > limits.TIME_MULTIPLE * times[name]["slowest"] and SLEEP > derived.cell_time_limit
    assert derived.time_limit < 60 and derived.cell_time_limit < SLEEP
    assert rows["honest"].score == rows["honest"].max_score == sum(
        c.metadata.nbgrader.get("points", 0) for c in source.cells if "nbgrader" in c.metadata)
    assert rows["sleepy"].score < rows["sleepy"].max_score and not rows["sleepy"].error
    text = (course.root / "autograded" / "sleepy" / name / f"{name}.ipynb").read_text()
    assert "time limit" in text or "KeyboardInterrupt" in text
    # the kernel's start and nbgrader's own steps on top of the notebook's limit
    assert held[f"sleepy/{name}"] < derived.time_limit + 15, (held, derived)


class Scripted:
    """A ``batch.Runner`` that grades in this process in the order a test chooses (Dask's order
    depends on the workers): ``script`` names each result in turn as (assignment, canary?), and
    a canary named in ``fail`` comes back failed."""

    def __init__(self, script, fail=()):
        self.script, self.fail, self.submitted, self.cancelled = list(script), set(fail), [], []

    def __call__(self, assignments, templates, workers=None, scheduler=None):
        self.assignments, self.templates = assignments, templates
        return self

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def submit(self, jobs, priority=0):
        self.submitted += [(job, priority) for job in jobs]

    def cancel(self, which=lambda job: True):
        self.cancelled += [job for job, _ in self.submitted if which(job)]
        self.submitted = [(job, p) for job, p in self.submitted if not which(job)]

    def results(self):
        for name, is_canary in self.script:
            job = next(j for j, p in self.submitted if j.assignment == name and (p > 0) == is_canary)
            self.submitted = [(j, p) for j, p in self.submitted if j is not job]
            if is_canary and name in self.fail:
                yield job, Result(ok=False, error="the locked cell failed")
                continue
            yield job, batch.worker.grade_job(job, self.assignments[name], self.templates[name])


@pytest.fixture
def two_assignments(tmp_path) -> Course:
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    other = tmp_path / "src" / "98-other"
    other.mkdir(parents=True)
    shutil.copy(FIXTURES / NAME / f"{NAME}.ipynb", other / "98-other.ipynb")
    course = build_course(tmp_path / "class", [FIXTURES / NAME, other])
    for name in (NAME, "98-other"):
        release.generate(course, name)
        folder = course.submitted / "alice" / name
        folder.mkdir(parents=True)
        shutil.copy(course.source_notebook(name), folder / f"{name}.ipynb")
    return course


def test_submissions_start_once_their_canary_passed_and_are_recorded_once_all_have(
        two_assignments, monkeypatch):
    """A submission of an assignment whose canary passed is graded while another canary still
    runs; a canary that then fails stops the batch with nothing recorded and no CSV."""
    course = two_assignments
    order = [(NAME, True), (NAME, False), ("98-other", True)]
    runner = Scripted(order, fail={"98-other"})
    monkeypatch.setattr(batch, "Runner", runner)
    with pytest.raises(PipelineError, match="98-other: the locked cell failed"):
        autograde.grade(course, echo=lambda line: None)
    with course.gradebook() as gb:
        assert [s for a in gb.assignments for s in a.submissions] == []
    assert not course.grades_csv.is_file()
    assert [job.assignment for job in runner.cancelled] == []   # 98-other's never started
    assert ("98-other", 0) not in [(j.assignment, p) for j, p in runner.submitted]

    runner = Scripted(order + [("98-other", False)])
    monkeypatch.setattr(batch, "Runner", runner)
    rows = autograde.grade(course, echo=lambda line: None)
    assert sorted((r.assignment, r.score) for r in rows) == [("98-other", 3), (NAME, 3)]
    assert runner.submitted == []
