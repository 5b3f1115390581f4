"""Grading one submission, on a worker: ``Job`` in, ``Result`` out.

A worker never sees the course folder, the real gradebook or another submission. It
builds a scratch course of its own (the course's config files with this batch's caps,
the assignment's source, and the template gradebook that knows this one assignment),
writes the submission into it, runs nbgrader's ``Autograde`` there (each kernel in
``sandbox.py``'s sandbox, judged by ``judged_execute.py``), and returns the scratch
gradebook's scores and the autograded notebook as plain data. Whatever the submission
does, ``grade_job`` returns: a failure is a ``Result`` with ``ok=False`` and why, in plain
text (never an exception, whose traceback Dask may fail to pickle), and the scratch course
is removed however deep a tree the kernel left in it (``remove_tree``).

In the scratch course the learner is ``SCRATCH_STUDENT``: nbgrader globs the paths it
builds from a student id, and a folder name of ``[`` or ``*`` would match nothing there.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path

from grader.capabilities import probe
from grader.course import Course, kernel_environment, log_reason
from grader.jobs import Assignment, Job, Result, Settings
from mlcourse.grading.limits import CLEANUP_SECONDS, ERROR_CHARS

SCRATCH_STUDENT = "learner"
# The last line of a Python traceback: "ValueError: could not convert string to float: 'x'".
EXCEPTION_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception)): (.+)$")


def run(job: dict, assignment: dict, template: bytes) -> dict:
    """``grade_job`` on plain dicts: the task a Dask worker runs. It always returns a dict
    of plain data: whatever goes wrong comes back as a failed ``Result``."""
    started = time.perf_counter()
    try:
        return grade_job(Job.from_dict(job), Assignment.from_dict(assignment), template).as_dict()
    except Exception as exc:
        return Result(ok=False, error=plain(f"grading failed: {type(exc).__name__}: {exc}"),
                      seconds=time.perf_counter() - started).as_dict()


def grade_job(job: Job, assignment: Assignment, template: bytes) -> Result:
    """Grade one submission in a scratch course against ``template`` (its assignment's
    gradebook, ``gradebook.template``); return its grades as plain data."""
    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="mlcg-"))
    try:
        return graded_in(scratch, job, assignment, template, started)
    except Exception as exc:  # whatever one submission does, the batch goes on
        return failed(job, f"grading failed: {type(exc).__name__}: {exc}", started)
    finally:
        remove_tree(scratch)


def graded_in(scratch: Path, job: Job, assignment: Assignment, template: bytes,
              started: float) -> Result:
    course = scratch_course(scratch, assignment, job.settings)
    (course.root / "gradebook.db").write_bytes(template)
    if assignment.duedate:
        with course.gradebook() as gb:
            gb.update_or_create_assignment(assignment.name,
                                           duedate=datetime.fromisoformat(assignment.duedate))
    folder = (course.submitted / SCRATCH_STUDENT / job.assignment).resolve()
    for rel, data in job.files.items():
        target = (folder / rel).resolve()
        if not target.is_relative_to(folder) or target == folder:
            return failed(job, f"a file name that leaves the submission folder: {rel!r}", started)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    with kernel_environment():
        outcome = course.run("Autograde", assignment_id=job.assignment, student_id=SCRATCH_STUDENT)
    if not outcome["success"]:
        return failed(job, f"autograde failed: {nbgrader_reason(outcome)}", started)
    result = read_scratch(course, job)
    result.ok = True
    result.seconds = time.perf_counter() - started
    result.warnings = sandbox_warnings(job.settings)
    result.peak_memory = peak_memory(result.autograded)
    return result


def nbgrader_reason(outcome: dict) -> str:
    """Why nbgrader failed, in a line: the exception its traceback ends with (a notebook
    nbgrader's own preprocessors choke on), else its most telling log line."""
    found = ""
    for line in (outcome.get("log") or "").splitlines():
        match = EXCEPTION_LINE.match(line)
        if match and not match.group(1).endswith("NbGraderException"):
            found = f"{match.group(1).rsplit('.', 1)[-1]}: {match.group(2).strip()}"
    if found.startswith("RecursionError"):
        found += (" (something in the submission nests too deep for nbgrader: folders the "
                  "notebook made in its working folder, or its data)")
    return found or log_reason(outcome)


def remove_tree(path: Path) -> None:
    """Remove ``path`` and everything under it, however deep (``shutil.rmtree`` recurses, and
    a kernel can leave a folder chain thousands deep): ``rm -rf`` does what it could not."""
    try:
        shutil.rmtree(path, ignore_errors=True)
    except RecursionError:
        pass
    if os.path.lexists(path):
        try:
            subprocess.run(["rm", "-rf", "--", str(path)], capture_output=True,
                           timeout=CLEANUP_SECONDS, check=False)
        except (OSError, subprocess.SubprocessError):
            pass


def plain(reason: str) -> str:
    """A reason fit for the gradebook, the CSV and Dask: at most ``ERROR_CHARS``, and text
    that encodes (a name that is not UTF-8 shows as escapes)."""
    if len(reason) > ERROR_CHARS:
        reason = reason[:ERROR_CHARS] + " [...]"
    return reason.encode("utf-8", "backslashreplace").decode("utf-8")


def scratch_course(where: Path, assignment: Assignment, settings: Settings | None = None) -> Course:
    """A course folder of our own at ``where``: the course's files and one assignment."""
    root = where / "grader"
    root.mkdir(parents=True)
    for name, text in assignment.course_files.items():
        (root / name).write_text(text, encoding="utf-8")
    if settings is not None:
        config = root / "nbgrader_config.py"
        config.write_text(config.read_text(encoding="utf-8") + settings.config_lines(),
                          encoding="utf-8")
    source = where / "solutions" / assignment.name
    for rel, data in assignment.source_files.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_bytes(data)
    return Course(root, db_url_override="sqlite:///" + str(root / "gradebook.db"))


def failed(job: Job, reason: str, started: float) -> Result:
    return Result(ok=False, error=plain(reason), seconds=time.perf_counter() - started,
                  warnings=sandbox_warnings(job.settings))


def sandbox_warnings(settings: Settings) -> list[str]:
    """What the instructor must know of the sandbox these grades ran in."""
    if not settings.sandbox:
        return ["sandbox turned off for this batch: learner code ran with the grader's rights"]
    return list(probe().why_not)


def read_scratch(course: Course, job: Job) -> Result:
    """The scratch gradebook's scores and the autograded notebooks, as plain data."""
    notebooks, autograded = {}, {}
    with course.gradebook() as gb:
        submission = gb.find_submission(job.assignment, SCRATCH_STUDENT)
        timestamp = submission.timestamp.isoformat() if submission.timestamp else None
        for nb in submission.notebooks:
            notebooks[nb.name] = {
                "grades": {g.name: {"auto_score": g.auto_score, "max_score": g.max_score,
                                    "needs_manual_grade": bool(g.needs_manual_grade)}
                           for g in nb.grades},
                "comments": {c.name: c.auto_comment for c in nb.comments},
                "late_penalty": nb.late_submission_penalty,
                "flagged": bool(nb.flagged),
            }
    folder = course.root / "autograded" / SCRATCH_STUDENT / job.assignment
    # submission_secret.txt (nbgrader's exchange writes it on submit) goes on to feedback/;
    # `nbgrader release_feedback` needs it to name the feedback the learner may fetch.
    for name in [f"{nb}.ipynb" for nb in notebooks] + ["timestamp.txt", "submission_secret.txt"]:
        path = folder / name
        if path.is_file() and not path.is_symlink():
            autograded[name] = path.read_text(encoding="utf-8")
    return Result(ok=False, notebooks=notebooks, autograded=autograded, timestamp=timestamp)


def peak_memory(autograded: dict) -> int | None:
    """The kernel's largest footprint in bytes, as the judge wrote it into the graded
    notebook (``metadata.mlcourse.judge.peak_memory``, asked of the sandbox's provisioner)."""
    found = []
    for name, text in autograded.items():
        if not name.endswith(".ipynb"):
            continue
        try:
            judge = json.loads(text).get("metadata", {}).get("mlcourse", {}).get("judge", {})
            value = judge.get("peak_memory") if isinstance(judge, dict) else None
        except (ValueError, AttributeError):
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            found.append(value)
    return max(found) if found else None
