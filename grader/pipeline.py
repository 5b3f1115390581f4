"""The instructor's pipeline around nbgrader: ``python -m grader.pipeline COMMAND``.

    release    regenerate notebooks/ from solutions/ (nbgrader generate_assignment)
    grade      autograde grader/submitted/<student>/<assignment>/ and write grader/grades.csv
    feedback   feedback HTML in grader/feedback/ (hidden tests removed)
    export     rewrite grader/grades.csv from the gradebook, without grading again
    strip      remove outputs and execution counts from solutions/ in place
    cells      replace cells of a source notebook by grade_id from a blocks file

``grade`` runs each submission as a task on Dask (``batch.py``), its kernel in a
sandbox (``sandbox.py``): one broken, foreign or hostile notebook costs that
submission (zero, with the reason) and never the batch or another learner. ``--course DIR`` points at another copy of ``grader/``
(the tests use a temporary one); its ``solutions/`` is the folder next to it.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import functools
import json
import logging
import os
import platform
import re
import shutil
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from sqlalchemy.exc import SAWarning

# What notebooks run with: the same as local grading (`mlcourse grade`) and the tests.
from mlcourse.grading.limits import KERNEL_ENV

GRADER = Path(__file__).resolve().parent
REPO = GRADER.parent
# The files that make a course folder: copy these to build another one.
COURSE_FILES = ("nbgrader_config.py", "feedback_filter.py", "judged_execute.py", "sandbox.py")
CSV_FIELDS = ("student", "assignment", "score", "max_score", "failed_cells", "error")

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


class PipelineError(Exception):
    """A problem the instructor must fix before the command can go on."""


# ---- the course ----------------------------------------------------------------------


@dataclass(frozen=True)
class Course:
    """An nbgrader course folder (``grader/``) and the ``solutions/`` beside it."""

    root: Path = GRADER
    # A scratch course keeps its own gradebook, whatever MLCOURSE_DB_URL says.
    db_url_override: str | None = None

    @property
    def solutions(self) -> Path:
        return self.root.parent / "solutions"

    @property
    def submitted(self) -> Path:
        return self.root / "submitted"

    @property
    def release_dir(self) -> Path:
        return self.root / "release"

    @property
    def feedback_dir(self) -> Path:
        return self.root / "feedback"

    @property
    def grades_csv(self) -> Path:
        return self.root / "grades.csv"

    @property
    def failures_file(self) -> Path:
        return self.root / ".work" / "failures.json"

    def assignments(self) -> list[str]:
        """Every ``solutions/NAME/`` that holds ``NAME.ipynb``, sorted."""
        if not self.solutions.is_dir():
            return []
        return sorted(
            d.name for d in self.solutions.iterdir() if (d / f"{d.name}.ipynb").is_file()
        )

    def source_notebook(self, assignment: str) -> Path:
        return self.solutions / assignment / f"{assignment}.ipynb"

    def config(self):
        from traitlets.config.loader import PyFileConfigLoader

        if not (self.root / "nbgrader_config.py").is_file():
            raise PipelineError(f"{self.root} has no nbgrader_config.py: is it the course folder?")
        config = PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config()
        if self.db_url_override:
            config.CourseDirectory.db_url = self.db_url_override
        return config

    def db_url(self) -> str:
        return self._coursedir().db_url

    def _coursedir(self, **attrs):
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(config=self.config())
        for name, value in attrs.items():
            setattr(coursedir, name, value)
        return coursedir

    def gradebook(self):
        from nbgrader.api import Gradebook

        coursedir = self._coursedir()
        return Gradebook(coursedir.db_url, coursedir.course_id)

    def run(self, converter: str, **coursedir_attrs) -> dict:
        """Run one nbgrader converter (GenerateAssignment, Autograde, GenerateFeedback).

        Returns nbgrader's own ``{"success", "log", "error"}`` dictionary.
        """
        from nbgrader import converters
        from nbgrader.utils import capture_log

        _quiet_nbgrader_logs()
        config = self.config()
        coursedir = self._coursedir(**coursedir_attrs)
        app = getattr(converters, converter)(coursedir=coursedir, config=config)
        app.force = True
        if converter == "GenerateFeedback":
            # As nbgrader's own API does: the feedback template, whatever else is configured.
            app.config.HTMLExporter.template_name = "feedback"
        with kernel_environment(), warnings.catch_warnings():
            # nbgrader's gradebook code trips SQLAlchemy's autoflush warnings: not ours to fix.
            warnings.simplefilter("ignore", SAWarning)
            return capture_log(app)


def _quiet_nbgrader_logs() -> None:
    """nbgrader logs through the 'traitlets' logger; we report results ourselves.

    Also: nbgrader stamps every new gradebook with the output of ``alembic heads`` run as
    a subprocess (2-3 s each; a batch makes one scratch gradebook per assignment). The
    same answer comes from alembic's own API, once per process."""
    import nbgrader.api

    if not getattr(nbgrader.api.get_alembic_version, "from_alembic_api", False):
        def head() -> str:
            return _alembic_head()

        head.from_alembic_api = True
        nbgrader.api.get_alembic_version = head
    logger = logging.getLogger("traitlets")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())


@functools.lru_cache(maxsize=1)
def _alembic_head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    config = Config()
    config.set_main_option("script_location", ALEMBIC_DIR)
    return ScriptDirectory.from_config(config).get_current_head()


@contextlib.contextmanager
def kernel_environment() -> Iterator[None]:
    """Kernels inherit this: warnings silenced, no GUI backend, our venv first on PATH.

    nbgrader runs ``alembic`` from PATH when it creates a gradebook.
    """
    bin_dir = str(Path(sys.executable).parent)
    saved = {k: os.environ.get(k) for k in (*KERNEL_ENV, "PATH")}
    os.environ.update(KERNEL_ENV)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _log_reason(result: dict) -> str:
    """The most telling line of a failed nbgrader run."""
    lines = (result.get("error") or "").strip().splitlines()
    errors = [
        line.split("] ", 1)[-1]
        for line in (result.get("log") or "").splitlines()
        if line.startswith("[ERROR]")
    ]
    useful = [e for e in errors if not e.startswith("There was an error processing")]
    if useful:
        return useful[0]
    return lines[-1] if lines else "nbgrader failed without a message"


# ---- notebooks -------------------------------------------------------------------------


# The kernel `make` installs (Makefile: ipykernel install --name python3 --display-name ...).
# Notebooks carry exactly this, so JupyterLab has nothing to rewrite when one is opened.
KERNELSPEC = {"display_name": "Python 3 (mlcourse)", "language": "python", "name": "python3"}


def language_info() -> dict:
    """What ipykernel reports and JupyterLab writes into a notebook when its kernel starts
    (the Python version is this interpreter's: the one `make` installs the kernel with)."""
    return {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
            "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
            "pygments_lexer": "ipython3", "version": platform.python_version()}


def normalise(nb: nbformat.NotebookNode) -> str:
    """The notebook as canonical JSON: no outputs, no execution counts, no run metadata,
    the course's kernelspec.

    Writing the result twice gives the same bytes.
    """
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = language_info()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)  # timestamps written by JupyterLab
    nb.metadata.pop("widgets", None)  # saved widget state
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def generate(course: Course, assignment: str) -> None:
    """nbgrader generate_assignment --force, which also records the assignment in the gradebook."""
    result = course.run("GenerateAssignment", assignment_id=assignment)
    if not result["success"]:
        raise PipelineError(
            f"nbgrader generate_assignment failed for {assignment}: {_log_reason(result)}\n"
            f"(source: {course.source_notebook(assignment)})"
        )


def release(
    course: Course | None = None,
    out_dir: Path | None = None,
    assignments: Sequence[str] | None = None,
) -> list[Path]:
    """Regenerate the student notebooks of every assignment into ``out_dir``.

    Each ``out_dir/<assignment>/`` is replaced by nbgrader's release of it, notebooks
    normalised; assignment folders without a source any more are removed.
    """
    course = course or Course()
    out_dir = Path(out_dir) if out_dir is not None else REPO / "notebooks"
    known = course.assignments()
    if not known:
        raise PipelineError(f"no assignments in {course.solutions} (expected NN-name/NN-name.ipynb)")
    chosen = list(assignments) if assignments else known
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise PipelineError(f"no source notebook for {unknown}; assignments are {known}")
    written = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for assignment in chosen:
        generate(course, assignment)
        written += _copy_release(course.release_dir / assignment, out_dir / assignment)
    if not assignments:
        for stale in sorted(out_dir.iterdir()):
            if stale.is_dir() and stale.name not in known and stale.name[:2].isdigit():
                print(f"removing {stale}: no solutions/{stale.name}/ any more")
                shutil.rmtree(stale)
    return written


def _copy_release(src: Path, dest: Path) -> list[Path]:
    if dest.exists():
        shutil.rmtree(dest)
    written = []
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if path.is_dir() or any(p in (".ipynb_checkpoints", "__pycache__") for p in rel.parts):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".ipynb":
            nb = nbformat.read(path, as_version=4)
            target.write_text(normalise(nb), encoding="utf-8")
        else:
            shutil.copyfile(path, target)
        written.append(target)
    return written


def strip_solutions(course: Course | None = None) -> list[Path]:
    """Normalise every source notebook in place; returns the ones that changed."""
    course = course or Course()
    changed = []
    for assignment in course.assignments():
        path = course.source_notebook(assignment)
        before = path.read_text(encoding="utf-8")
        after = normalise(nbformat.reads(before, as_version=4))
        if after != before:
            path.write_text(after, encoding="utf-8")
            changed.append(path)
    return changed


# ---- grading ----------------------------------------------------------------------------


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


def expected_cell_ids(source: Path) -> set[str]:
    """grade_ids of the graded and answer cells of a source notebook."""
    nb = nbformat.read(source, as_version=4)
    ids = set()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") or meta.get("solution"):
            ids.add(meta.get("grade_id"))
    return ids


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
    found = {
        cell.metadata.get("nbgrader", {}).get("grade_id")
        for cell in nb.cells
        if "nbgrader" in cell.metadata
    }
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


def _remove_stale(course: Course, assignment: str, student: str) -> None:
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


def _submissions(course: Course, assignments: Sequence[str], students: Sequence[str] | None):
    for assignment in assignments:
        if not course.submitted.is_dir():
            return
        for student_dir in sorted(course.submitted.iterdir()):
            if not (student_dir / assignment).is_dir():
                continue
            if students and student_dir.name not in students:
                continue
            yield assignment, student_dir.name


def grade(
    course: Course | None = None,
    assignments: Sequence[str] | None = None,
    students: Sequence[str] | None = None,
    out: Path | None = None,
    echo=print,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    settings=None,
) -> list[GradeRow]:
    """Autograde the class: every submission that is new or changed since it was last
    graded (all of them with ``force``), each in a sandbox, in parallel on Dask
    (``grader/batch.py``); each grade reaches the gradebook as it is decided. Then write
    the grades CSV.

    Returns this run's results; the CSV holds every submission the gradebook knows.
    Ctrl-C stops the batch and keeps every grade recorded so far (``KeyboardInterrupt``
    is raised again after the CSV is written).
    """
    from grader import batch

    course = course or Course()
    settings = settings or batch.Settings()
    known = course.assignments()
    chosen = list(assignments) if assignments else known
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise PipelineError(f"no source notebook for {unknown}; assignments are {known}")
    todo = list(_submissions(course, chosen, students))
    if course.submitted.is_dir() and not assignments:
        for folder in sorted(course.submitted.glob("*/*")):
            if folder.is_dir() and folder.name not in known:
                echo(f"  skipped {folder}: no assignment {folder.name!r} (known: {', '.join(known)})")
    if not todo:
        echo(
            f"nothing to grade: put each submission at "
            f"{course.submitted}/<student>/<assignment>/<assignment>.ipynb"
        )
    _quiet_nbgrader_logs()
    jobs, assignments_of, bad, current = batch.collect(course, todo, settings, force)

    def register() -> None:
        """The gradebook learns each assignment and its points (while workers grade), unless
        it already holds them from the same source."""
        with course.gradebook() as gb:
            known_here = {a.name for a in gb.assignments}
        registered = batch.Ledger(course.root / ".work" / batch.REGISTERED)
        with kernel_environment():
            for assignment in sorted({j.assignment for j in jobs} | {b[0] for b in bad}):
                fp = batch.assignment_fingerprint(assignments_of[assignment])
                if assignment in known_here and registered.current(assignment, fp):
                    continue
                generate(course, assignment)
                registered.set(assignment, fp)

    if current:
        echo(f"{current} submission(s) already graded from the same files "
             f"(grade them again with --force)")
    failures = _load_failures(course)
    ledger = batch.Ledger(course.root / ".work" / batch.LEDGER)
    results: list[GradeRow] = []

    def done(row: GradeRow, fp: str | None, line=echo) -> None:
        key = f"{row.student}/{row.assignment}"
        if row.error:
            failures[key] = row.error
            line(f"  {row.student:<16} {row.assignment:<28} ERROR {row.error} (scored 0)")
        else:
            failures.pop(key, None)
            mark = f"failed: {', '.join(row.failed_cells)}" if row.failed_cells else "all passed"
            line(f"  {row.student:<16} {row.assignment:<28} {row.score:g}/{row.max_score:g}  {mark}")
        _save_failures(course, failures)
        ledger.set(key, fp)
        results.append(row)

    def record_bad() -> None:
        register()
        for assignment, student, why, fp in bad:
            _remove_stale(course, assignment, student)
            done(GradeRow(student, assignment, 0.0, _max_score(course, assignment), [], why), fp)

    warnings: set[str] = set()
    seconds: list[float] = []
    peaks: list[tuple[int, str]] = []
    progress = batch.Progress(len(jobs), echo)
    started = time.perf_counter()
    try:
        with kernel_environment(), contextlib.ExitStack() as stack:
            gb = None  # one gradebook session for the whole batch, from the first result on
            for job, result in batch.run_jobs(jobs, assignments_of, workers, scheduler,
                                              on_start=record_bad):
                if gb is None:
                    gb = stack.enter_context(course.gradebook())
                warnings.update(result.get("warnings") or [])
                seconds.append(result.get("seconds") or 0.0)
                if result.get("peak_memory"):
                    peaks.append((result["peak_memory"], job.key))
                if result["ok"]:
                    batch.record(course, gb, job, result)
                    row = _row_from_gradebook(course, job.assignment, job.student, gb)
                else:
                    _remove_stale(course, job.assignment, job.student)
                    row = GradeRow(job.student, job.assignment, 0.0,
                                   _max_score(course, job.assignment), [], result["error"])
                # A worker that failed for its own reasons is tried again next run.
                keep = not result.get("error", "").startswith("the grading worker failed")
                done(row, job.fingerprint if keep else None, progress.line)
                progress.step()
    finally:
        progress.close()
        export(course, out=out)
        _summary(course, results, jobs, warnings, seconds, time.perf_counter() - started,
                 out, echo, max(peaks) if peaks else None, settings)
    return results


def _summary(course, results, jobs, warnings, seconds, wall, out, echo, peak, settings) -> None:
    """What the instructor reads at the end of a batch (also kept in .work/last-batch.txt)."""
    from grader import sandbox

    bad = [r for r in results if r.error]
    lines = [f"graded {len(results) - len(bad)} of {len(results)} submissions; "
             f"wrote {out or course.grades_csv}"]
    finished = {(r.student, r.assignment) for r in results}
    left = sum(1 for j in jobs if (j.student, j.assignment) not in finished)
    if left > 0:
        lines.append(f"interrupted: {left} submission(s) not graded yet; run again to grade "
                     f"only those (every grade above is in the gradebook)")
    if seconds:
        lines.append(f"{len(seconds)} graded in {wall:.1f} s "
                     f"({sum(seconds) / len(seconds):.1f} s each on a worker)")
    if jobs:
        lines.append("sandbox: " + sandbox.probe().describe())
    if peak:
        lines.append(f"largest kernel memory: {sandbox.format_size(peak[0])} ({peak[1]}; "
                     f"the cap is {settings.memory})")
    for warning in sorted(warnings):
        lines.append(f"WARNING: {warning}")
    if bad:
        lines.append(f"{len(bad)} could not be graded and scored 0:")
        lines += [f"  {r.student}/{r.assignment}: {r.error}" for r in bad]
    for line in lines:
        echo(line)
    course.failures_file.parent.mkdir(parents=True, exist_ok=True)
    (course.failures_file.parent / "last-batch.txt").write_text("\n".join(lines) + "\n")


def _row_from_gradebook(course: Course, assignment: str, student: str, gb=None) -> GradeRow:
    """One submission's line of the CSV, read from the gradebook (``gb``: one already open)."""
    if gb is None:
        with course.gradebook() as gb:
            return _row_from_gradebook(course, assignment, student, gb)
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


def _max_score(course: Course, assignment: str) -> float:
    from nbgrader.api import MissingEntry

    with course.gradebook() as gb:
        try:
            return float(gb.find_assignment(assignment).max_score)
        except MissingEntry:
            return 0.0


def _load_failures(course: Course) -> dict[str, str]:
    if course.failures_file.is_file():
        return json.loads(course.failures_file.read_text(encoding="utf-8"))
    return {}


def _save_failures(course: Course, failures: dict[str, str]) -> None:
    course.failures_file.parent.mkdir(parents=True, exist_ok=True)
    course.failures_file.write_text(json.dumps(failures, indent=1, sort_keys=True) + "\n")


# Canvas's gradebook CSV: these identity columns, then one column per assignment; the
# second row gives each assignment's points possible.
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
CANVAS_POINTS = "    Points Possible"
QUESTION_FIELDS = ("student", "assignment", "notebook", "question", "score", "max_score")


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
                rows[a.name, s.student.id] = _row_from_gradebook(course, a.name, s.student.id, gb)
                for nb in s.notebooks:
                    questions += [{"student": s.student.id, "assignment": a.name, "notebook": nb.name,
                                   "question": g.name, "score": f"{g.score or 0.0:g}",
                                   "max_score": f"{g.max_score:g}"}
                                  for g in sorted(nb.grades, key=lambda g: g.name)]
    for key, reason in _load_failures(course).items():
        student, assignment = key.split("/", 1)
        if (course.submitted / student / assignment).is_dir():
            rows[assignment, student] = GradeRow(
                student, assignment, 0.0, _max_score(course, assignment), [], reason
            )
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
    _write_canvas(target.with_name(target.stem + "-canvas.csv"), ordered, possible,
                  sorted(set(students) | {r.student for r in ordered}))
    return ordered


def _write_canvas(path: Path, rows: list[GradeRow], possible: dict[str, float],
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


def feedback(
    course: Course | None = None, assignments: Sequence[str] | None = None, echo=print
) -> list[Path]:
    """Feedback HTML for every autograded submission, hidden tests removed."""
    course = course or Course()
    autograded = course.root / "autograded"
    chosen = list(assignments) if assignments else course.assignments()
    written = []
    for assignment in chosen:
        if not list(autograded.glob(f"*/{assignment}")):
            continue
        result = course.run("GenerateFeedback", assignment_id=assignment)
        if not result["success"]:
            echo(f"  {assignment}: feedback failed: {_log_reason(result)}")
        written += sorted(course.feedback_dir.glob(f"*/{assignment}/*.html"))
    echo(f"wrote {len(written)} feedback files under {course.feedback_dir}")
    return written


# ---- self-study ------------------------------------------------------------------------


def build_course(where: Path, sources: Sequence[Path]) -> Course:
    """A scratch course at ``where``: this course's config files and the given
    assignment folders (``.../NN-name/``) as its ``solutions/``. It keeps its own
    sqlite gradebook, whatever MLCOURSE_DB_URL says."""
    root = Path(where).resolve() / "grader"
    course = Course(root, db_url_override="sqlite:///" + str(root / "gradebook.db"))
    root.mkdir(parents=True, exist_ok=True)
    for name in COURSE_FILES:
        shutil.copy(GRADER / name, root / name)
    for src in sources:
        shutil.copytree(
            src,
            course.solutions / Path(src).name,
            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
        )
    return course


# ---- command line ------------------------------------------------------------------------


def set_cells(notebook: Path, blocks_file: Path) -> list[str]:
    """Replace cells of a source notebook by grade_id (an author's tool for solutions/).

    ``blocks_file`` holds blocks that start with a line ``#%% <grade_id>``; each block
    becomes the whole source of the cell with that grade_id. Metadata and every other
    cell are kept. Returns the grade_ids replaced.
    """
    import re

    parts = re.split(r"^#%% (\S+)\n", blocks_file.read_text(encoding="utf-8"), flags=re.M)
    blocks = {parts[i]: parts[i + 1].strip("\n") for i in range(1, len(parts), 2)}
    nb = nbformat.read(notebook, as_version=4)
    found = []
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in blocks:
            cell.source = blocks[gid]
            found.append(gid)
    missing = sorted(set(blocks) - set(found))
    if missing:
        raise PipelineError(f"no cells with grade_id {missing} in {notebook}")
    notebook.write_text(normalise(nb), encoding="utf-8")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    from grader.batch import Settings

    parser = argparse.ArgumentParser(prog="python -m grader.pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course", type=Path, default=GRADER, help="the course folder (grader/)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="regenerate notebooks/ from solutions/")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--out", type=Path, default=None, help="instead of <repo>/notebooks")
    p = sub.add_parser("grade", help="autograde submitted/ and write grades.csv")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument("--out", type=Path, default=None, help="instead of grader/grades.csv")
    p.add_argument("--workers", type=int, default=None,
                   help="Dask workers on this machine (default: one per core; 0: no Dask, "
                        "one submission after another in this process)")
    p.add_argument("--scheduler", default=None,
                   help="a running Dask scheduler, e.g. tcp://HOST:8786, instead of a local cluster")
    p.add_argument("--force", action="store_true",
                   help="grade every submission again, not only the new or changed ones")
    caps = Settings()
    p.add_argument("--memory", default=caps.memory,
                   help=f"memory cap of each kernel (default {caps.memory})")
    p.add_argument("--time-limit", type=int, default=caps.time_limit,
                   help=f"seconds a whole notebook may run (default {caps.time_limit})")
    p.add_argument("--cell-time-limit", type=int, default=caps.cell_time_limit,
                   help=f"seconds one cell may run (default {caps.cell_time_limit})")
    p.add_argument("--no-sandbox", action="store_true",
                   help="run learner code with the grader's own rights (never for a class)")
    p = sub.add_parser("feedback", help="feedback HTML for autograded submissions")
    p.add_argument("assignments", nargs="*")
    p = sub.add_parser("report", help="the class report: report.html and report.csv beside grades.csv")
    p.add_argument("--out", type=Path, default=None, help="another folder for the two files")
    p = sub.add_parser("export", help="grades CSV from the gradebook")
    p.add_argument("--out", type=Path, default=None, help="instead of grader/grades.csv")
    sub.add_parser("strip", help="remove outputs from solutions/ in place")
    p = sub.add_parser("cells", help="replace cells of a source notebook by grade_id")
    p.add_argument("notebook", type=Path)
    p.add_argument("blocks", type=Path, help="a file of '#%%%% <grade_id>' blocks")
    args = parser.parse_args(argv)
    course = Course(args.course.resolve())

    try:
        if args.command == "release":
            out = args.out or course.root.parent / "notebooks"
            written = release(course, out, args.assignments)
            print(f"released {len(written)} files into {out}")
        elif args.command == "grade":
            from grader.sandbox import parse_size

            try:
                parse_size(args.memory)  # a clear error before anything starts
            except ValueError as exc:
                raise PipelineError(f"--memory: {exc}") from None
            settings = Settings(memory=args.memory, time_limit=args.time_limit,
                                cell_time_limit=args.cell_time_limit, sandbox=not args.no_sandbox)
            try:
                rows = grade(course, args.assignments, args.student, args.out,
                             workers=args.workers, scheduler=args.scheduler, force=args.force,
                             settings=settings)
            except KeyboardInterrupt:
                print("stopped: every grade finished before Ctrl-C is in the gradebook", file=sys.stderr)
                return 130
            return 1 if any(r.error for r in rows) else 0
        elif args.command == "feedback":
            feedback(course, args.assignments)
        elif args.command == "report":
            from grader import report

            for path in report.write(course, args.out):
                print(f"wrote {path}")
        elif args.command == "export":
            rows = export(course, args.out)
            print(f"wrote {len(rows)} rows to {args.out or course.grades_csv}")
        elif args.command == "strip":
            changed = strip_solutions(course)
            print(f"stripped {len(changed)} notebooks" + "".join(f"\n  {p}" for p in changed))
        elif args.command == "cells":
            print(f"{args.notebook}: replaced {', '.join(set_cells(args.notebook, args.blocks))}")
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
