"""What the course knows of its grades: the gradebook, and the files kept beside it.

The coordinator writes each worker's ``Result`` into nbgrader's gradebook (``record``)
the moment it comes back, and the submissions that could not be graded into
``.work/failures.json`` (``save_failures``); ``.work/ledger.json`` (``Ledger``) says
what each grade was computed from. ``export`` turns all of it into ``grades.csv``, the
same grades per question and the layout Canvas imports; ``grade_row`` is one
submission's line of it. Every CSV the project writes passes its rows through
``csv_safe_row``.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from grader.course import Course, quiet_nbgrader_logs
from grader.jobs import Job, Result

CSV_FIELDS = ("student", "assignment", "score", "max_score", "failed_cells", "error")
QUESTION_FIELDS = ("student", "assignment", "notebook", "question", "score", "max_score")
# Canvas's gradebook CSV: these identity columns, then one column per assignment; the
# second row gives each assignment's points possible.
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_POINTS = "    Points Possible"
LEDGER = "ledger.json"            # student/assignment -> what its grade was computed from
REGISTERED = "assignments.json"   # assignment -> what the gradebook's record of it came from

# A cell that a spreadsheet would read as a formula: "=HYPERLINK(...)" from a learner's
# exception message must open as text. Numbers, negative ones included, stay numbers.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_PLAIN_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def csv_safe(value):
    """``value`` as a CSV cell that no spreadsheet runs: a string that starts like a
    formula and is not a plain number gets a leading apostrophe (a spreadsheet's mark
    for text); numbers and every other string are left as they are."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    return value if _PLAIN_NUMBER.fullmatch(value) else "'" + value


def csv_safe_row(row):
    """A CSV row (a dict for ``csv.DictWriter``, else a sequence) through ``csv_safe``:
    every CSV the project writes passes its rows through here."""
    if isinstance(row, dict):
        return {key: csv_safe(value) for key, value in row.items()}
    return [csv_safe(value) for value in row]


@dataclass
class GradeRow:
    """One submission's result: a line of grades.csv."""

    student: str
    assignment: str
    score: float = 0.0
    max_score: float = 0.0
    failed_cells: list[str] = field(default_factory=list)
    error: str = ""

    def as_csv(self) -> dict:
        return {
            "student": self.student,
            "assignment": self.assignment,
            "score": f"{self.score:g}",
            "max_score": f"{self.max_score:g}",
            "failed_cells": ";".join(self.failed_cells),
            "error": self.error,
        }


# ---- reading ----------------------------------------------------------------------------


def grade_row(course: Course, assignment: str, student: str, gb=None) -> GradeRow:
    """One submission's line of the CSV, read from the gradebook (``gb``: one already open).

    The scores are nbgrader's (a manual grade or extra credit counts as nbgrader counts
    it), less the late penalty."""
    if gb is None:
        with course.gradebook() as gb:
            return grade_row(course, assignment, student, gb)
    row = GradeRow(student, assignment)
    submission = gb.find_submission(assignment, student)
    for notebook in submission.notebooks:
        for g in sorted(notebook.grades, key=lambda g: g.cell.name):
            score = g.score or 0.0
            row.score += score
            row.max_score += g.max_score
            if score < g.max_score:
                row.failed_cells.append(g.cell.name)
        # nbgrader keeps a late penalty beside the grades (c.LateSubmissionPlugin).
        row.score = max(0.0, row.score - (notebook.late_submission_penalty or 0.0))
    return row


def failed_row(course: Course, assignment: str, student: str, why: str) -> GradeRow:
    """The line of a submission that could not be graded: zero, and why."""
    return GradeRow(student, assignment, 0.0, max_score(course, assignment), [], why)


def max_score(course: Course, assignment: str) -> float:
    """The points an assignment is worth (0 when the gradebook does not know it)."""
    from nbgrader.api import MissingEntry

    with course.gradebook() as gb:
        try:
            return float(gb.find_assignment(assignment).max_score)
        except MissingEntry:
            return 0.0


def graded_keys(course: Course) -> set[str]:
    """``student/assignment`` of every submission the gradebook holds grades of."""
    with course.gradebook() as gb:
        return {f"{s.student.id}/{a.name}" for a in gb.assignments for s in a.submissions}


def duedates(course: Course) -> dict[str, str]:
    """Assignment -> ISO due date, for those that have one (set with
    ``nbgrader db assignment add --duedate``)."""
    with course.gradebook() as gb:
        return {a.name: a.duedate.isoformat() for a in gb.assignments if a.duedate}


def load_failures(course: Course) -> dict[str, str]:
    """``student/assignment`` -> why it could not be graded."""
    if course.failures_file.is_file():
        return json.loads(course.failures_file.read_text(encoding="utf-8"))
    return {}


def save_failures(course: Course, failures: dict[str, str]) -> None:
    course.failures_file.parent.mkdir(parents=True, exist_ok=True)
    course.failures_file.write_text(json.dumps(failures, indent=1, sort_keys=True) + "\n")


class Ledger:
    """Which fingerprint each recorded grade was computed from (one JSON file, rewritten
    atomically after every grade, so a crash loses at most the grade being written)."""

    def __init__(self, path: Path):
        self.path = path
        try:
            self.entries = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.entries = {}

    def current(self, key: str, fp: str) -> bool:
        return self.entries.get(key) == fp

    def set(self, key: str, fp: str | None) -> None:
        if fp is None:
            self.entries.pop(key, None)
        else:
            self.entries[key] = fp
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.entries, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


# ---- writing ----------------------------------------------------------------------------


def record(course: Course, gb, job: Job, result: Result, attempts: int = 5) -> GradeRow:
    """Write one worker's grades into the course's gradebook (``gb``, open for the whole
    batch) and autograded/ folder; return the submission's line of the CSV, as nbgrader
    now scores it.

    Another batch writing the same PostgreSQL gradebook may create the same student a
    moment earlier: a write that collides is rolled back and tried again."""
    from nbgrader.api import InvalidEntry
    from sqlalchemy.exc import SQLAlchemyError

    for attempt in range(attempts):
        try:
            _record_grades(gb, job, result)
            break
        except (InvalidEntry, SQLAlchemyError):
            gb.db.rollback()
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    folder = course.root / "autograded" / job.student / job.assignment
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, text in result.autograded.items():
        (folder / Path(name).name).write_text(text, encoding="utf-8")
    return grade_row(course, job.assignment, job.student, gb)


def _record_grades(gb, job: Job, result: Result) -> None:
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        # nbgrader's own gradebook code trips SQLAlchemy's autoflush warnings.
        warnings.simplefilter("ignore", SAWarning)
        gb.update_or_create_student(job.student)
        kwargs = {"timestamp": datetime.fromisoformat(result.timestamp)} if result.timestamp else {}
        submission = gb.update_or_create_submission(job.assignment, job.student, **kwargs)
        for nb in submission.notebooks:
            got = result.notebooks.get(nb.name, {})
            grades, comments = got.get("grades", {}), got.get("comments", {})
            for grade in nb.grades:
                mine = grades.get(grade.name)
                # A graded cell the worker did not report (it cannot happen with nbgrader's
                # add_missing_cells) scores 0 rather than keeping an older score.
                grade.auto_score = mine["auto_score"] if mine else 0.0
                grade.needs_manual_grade = mine["needs_manual_grade"] if mine else False
            for comment in nb.comments:
                comment.auto_comment = comments.get(comment.name)
            nb.late_submission_penalty = got.get("late_penalty")
            nb.flagged = bool(got.get("flagged"))
        gb.db.commit()


def remove_stale(course: Course, assignment: str, student: str) -> None:
    """A submission that could not be graded must not keep an older score."""
    from nbgrader.api import MissingEntry

    with course.gradebook() as gb:
        try:
            gb.remove_submission(assignment, student)
        except MissingEntry:
            pass
    autograded = course.root / "autograded" / student / assignment
    if autograded.exists():
        shutil.rmtree(autograded)


def template(course: Course, assignment: str) -> bytes:
    """A SQLite gradebook that knows this one assignment as the course's gradebook does
    (its notebooks and their grade, solution, task and source cells) and nothing of any
    learner: what a worker grades a submission against.

    Copied from the record ``generate_assignment`` made, so nbgrader's generate runs once
    per assignment, in the course, and only when the assignment changed."""
    from nbgrader.api import Gradebook

    quiet_nbgrader_logs()  # a new gradebook is stamped without running `alembic`
    with course.gradebook() as gb, tempfile.TemporaryDirectory(prefix="mlcg-template-") as tmp:
        source = gb.find_assignment(assignment)
        path = Path(tmp) / "gradebook.db"
        with Gradebook("sqlite:///" + str(path), gb.course_id) as out:
            out.add_assignment(assignment)  # the worker sets the due date
            for nb in source.notebooks:
                out.add_notebook(nb.name, assignment, kernelspec=nb.kernelspec)
                for cell in nb.grade_cells:
                    out.add_grade_cell(cell.name, nb.name, assignment,
                                       max_score=cell.max_score, cell_type=cell.cell_type)
                for cell in nb.solution_cells:
                    out.add_solution_cell(cell.name, nb.name, assignment)
                for cell in nb.task_cells:
                    out.add_task_cell(cell.name, nb.name, assignment,
                                      max_score=cell.max_score, cell_type=cell.cell_type)
                for cell in nb.source_cells:
                    out.add_source_cell(cell.name, nb.name, assignment, cell_type=cell.cell_type,
                                        locked=cell.locked, source=cell.source,
                                        checksum=cell.checksum)
        return path.read_bytes()


# ---- the CSVs ---------------------------------------------------------------------------


def export(course: Course | None = None, out: Path | None = None) -> list[GradeRow]:
    """Write the grades CSV from the gradebook plus the submissions that failed to grade;
    beside it, the same grades per question and in the layout Canvas imports."""
    course = course or Course()
    rows: dict[tuple[str, str], GradeRow] = {}
    questions: list[dict] = []
    with course.gradebook() as gb:
        possible = {a.name: float(a.max_score) for a in gb.assignments}
        students = sorted(s.id for s in gb.students)
        for a in gb.assignments:
            for s in a.submissions:
                rows[a.name, s.student.id] = grade_row(course, a.name, s.student.id, gb)
                for nb in s.notebooks:
                    questions += [{"student": s.student.id, "assignment": a.name, "notebook": nb.name,
                                   "question": g.name, "score": f"{g.score or 0.0:g}",
                                   "max_score": f"{g.max_score:g}"}
                                  for g in sorted(nb.grades, key=lambda g: g.name)]
    for key, reason in load_failures(course).items():
        student, assignment = key.split("/", 1)
        if (course.submitted / student / assignment).is_dir():
            rows[assignment, student] = failed_row(course, assignment, student, reason)
    ordered = [rows[k] for k in sorted(rows)]
    target = Path(out) if out is not None else course.grades_csv
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(csv_safe_row(r.as_csv()) for r in ordered)
    with open(target.with_name(target.stem + "-by-question.csv"), "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=QUESTION_FIELDS)
        writer.writeheader()
        writer.writerows(csv_safe_row(q) for q in
                         sorted(questions, key=lambda q: (q["student"], q["assignment"], q["question"])))
    write_canvas(target.with_name(target.stem + "-canvas.csv"), ordered, possible,
                 sorted(set(students) | {r.student for r in ordered}))
    return ordered


def write_canvas(path: Path, rows: list[GradeRow], possible: dict[str, float],
                 students: list[str]) -> None:
    """Canvas's gradebook import: a row per learner (the nbgrader id as SIS Login ID),
    a column per assignment; blank where nothing was submitted."""
    names = sorted(possible)
    score = {(r.student, r.assignment): r.score for r in rows}
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(csv_safe_row([*CANVAS_COLUMNS, *names]))
        writer.writerow(csv_safe_row([CANVAS_POINTS, "", "", "", "", *(f"{possible[n]:g}" for n in names)]))
        for student in students:
            writer.writerow(csv_safe_row([student, "", "", student, "",
                                          *(f"{score[student, n]:g}" if (student, n) in score else ""
                                            for n in names)]))
