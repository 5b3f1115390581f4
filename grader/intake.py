"""From the submission folders to ``Job``s: what the coordinator reads before anything runs.

``collect`` walks ``submitted/<student>/<assignment>/``, reads each folder (regular files
only, size-capped: ``read_folder``), fingerprints it with everything its grade depends
on (``fingerprint``, ``assignment_fingerprint``), skips what the ledger says is graded
from the same inputs already, refuses what cannot be graded with the reason
(``check_submission``), and makes a ``Job`` of the rest.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import nbformat

from grader import gradebook
from grader.course import COURSE_FILES, Course
from grader.jobs import Assignment, Job, Settings
from mlcourse.grading.limits import MAX_SUBMISSION_BYTES, MiB
from mlcourse.grading.rules import grade_id, is_answer, nbgrader_meta


class Refused(NamedTuple):
    """A submission that cannot be graded, and why (it scores 0)."""

    assignment: str
    student: str
    why: str
    fingerprint: str


def submissions(course: Course, assignments: Sequence[str], students: Sequence[str] | None,
                ) -> Iterator[tuple[str, str]]:
    """``(assignment, student)`` of every submission folder, assignment by assignment."""
    for assignment in assignments:
        if not course.submitted.is_dir():
            return
        for student_dir in sorted(course.submitted.iterdir()):
            if not (student_dir / assignment).is_dir():
                continue
            if students and student_dir.name not in students:
                continue
            yield assignment, student_dir.name


def read_folder(folder: Path) -> tuple[dict, str]:
    """A folder's regular files (links skipped, oversized folders refused), or a reason."""
    files, total = {}, 0
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part in (".ipynb_checkpoints", "__pycache__") for part in rel.parts):
            continue
        if path.is_symlink():
            continue  # never follow a link out of the learner's folder
        if not path.is_file():
            continue
        total += path.stat().st_size
        if total > MAX_SUBMISSION_BYTES:
            return {}, (f"the submission folder holds more than "
                        f"{MAX_SUBMISSION_BYTES // MiB} MB: remove data files and outputs")
        files[rel.as_posix()] = path.read_bytes()
    return files, ""


def expected_cell_ids(source: Path) -> set[str]:
    """grade_ids of the graded and answer cells of a source notebook."""
    nb = nbformat.read(source, as_version=4)
    return {grade_id(cell) for cell in nb.cells
            if nbgrader_meta(cell).get("grade") or is_answer(cell)}


def check_submission(course: Course, assignment: str, student: str) -> str:
    """Why this submission cannot be graded, or "" when it can.

    nbgrader itself skips misnamed notebooks silently and grades a notebook of another
    assignment as if the learner had deleted every answer; say so instead.
    """
    folder = course.submitted / student / assignment
    name = f"{assignment}.ipynb"
    path = folder / name
    if not path.is_file():
        others = sorted(p.name for p in folder.glob("*.ipynb"))
        if others:
            return f"expected {name}, found {', '.join(others)}: rename the notebook"
        return f"no notebook submitted (expected {folder.name}/{name})"
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several kinds for unreadable JSON
        return f"not a readable notebook ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        return f"not a valid notebook: {exc.message[:200]}"
    found = {grade_id(cell) for cell in nb.cells if "nbgrader" in cell.metadata}
    expected = expected_cell_ids(course.source_notebook(assignment))
    # A learner may delete a cell or two (nbgrader adds graded ones back); a notebook
    # holding fewer than half of this assignment's answer and test cells is another one.
    present = found & expected
    if expected and len(present) * 2 < len(expected):
        return (
            f"foreign notebook: only {len(present)} of {assignment}'s {len(expected)} answer "
            f"and test cells are in it (expected e.g. {sorted(expected)[:3]}); "
            f"was another notebook submitted?"
        )
    return ""


def fingerprint(files: dict, base: str) -> str:
    """What a grade was computed from: the submission's files, and ``base``, its
    assignment's ``assignment_fingerprint``. Any change means grading again."""
    h = hashlib.sha256(base.encode())
    for rel in sorted(files):
        h.update(rel.encode() + b"\0" + hashlib.sha256(files[rel]).digest())
    return h.hexdigest()


def assignment_fingerprint(assignment: Assignment, settings: Settings | None = None) -> str:
    """What every grade of an assignment shares: its source folder, the course's grading
    files and code, the due date, the caps (computed once per assignment and batch)."""
    h = hashlib.sha256()
    for rel in sorted(assignment.source_files):
        h.update(rel.encode() + b"\0" + hashlib.sha256(assignment.source_files[rel]).digest())
    for name in sorted(assignment.course_files):
        h.update(name.encode() + assignment.course_files[name].encode())
    h.update(str(assignment.duedate).encode())
    h.update(code_digest().encode())
    h.update(json.dumps((settings or Settings()).as_dict(), sort_keys=True).encode())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """A digest of the ``mlcourse`` package: the checks every grade ran."""
    import mlcourse

    h = hashlib.sha256()
    for path in sorted(Path(mlcourse.__file__).parent.rglob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()


def collect(course: Course, todo: Iterable[tuple[str, str]], settings: Settings, force: bool,
            ) -> tuple[list[Job], dict[str, Assignment], list[Refused], int]:
    """Jobs for every submission that needs grading, and their assignments; submissions
    that cannot be graded (with why); how many were already graded from the same inputs."""
    course_files = {name: (course.root / name).read_text(encoding="utf-8") for name in COURSE_FILES}
    ledger = gradebook.Ledger(course.work_dir / gradebook.LEDGER)
    graded = gradebook.graded_keys(course)
    failures = gradebook.load_failures(course)
    duedates = gradebook.duedates(course)
    assignments: dict[str, Assignment] = {}
    bases: dict[str, str] = {}
    jobs, bad, current = [], [], 0
    for name, student in todo:
        if name not in assignments:
            source, _ = read_folder(course.solutions / name)
            assignments[name] = Assignment(name, source, course_files, duedates.get(name))
            bases[name] = assignment_fingerprint(assignments[name], settings)
        key = f"{student}/{name}"
        files, why = read_folder(course.submitted / student / name)
        fp = fingerprint(files, bases[name])
        if not force and ledger.current(key, fp) and (key in graded or key in failures):
            current += 1
            continue
        why = why or check_submission(course, name, student)
        if why:
            bad.append(Refused(name, student, why, fp))
            continue
        jobs.append(Job(student, name, files, settings, fp))
    return jobs, assignments, bad, current
