"""Grading a class: one task per submission, each in a sandbox, in parallel on Dask.

The instructor's process (the *coordinator*) is the only one that touches the course:
it reads each submission folder (regular files only, size-capped), hands a worker a
``Job`` of plain data, and writes each result into the gradebook the moment it comes
back. A worker never sees the course folder, the real gradebook or another
submission: it grades one ``Job`` with nbgrader's ``Autograde`` in a scratch course
of its own (the course's config files and a gradebook that holds this one assignment)
whose kernel runs in ``sandbox.py``'s sandbox, and returns plain data. So

- a Dask cluster elsewhere (``--scheduler tcp://HOST:8786``) needs this repository
  and its Python environment on the workers, nothing of the course;
- an interrupted batch (Ctrl-C, a crash) keeps every grade recorded before it; a
  ledger of what each grade was computed from (``.work/ledger.json``) lets the next
  run grade only what is missing or changed (``force=True`` grades everything).

Workers: ``workers=None`` starts a ``LocalCluster`` with one worker per core;
``workers=0`` grades in this process, one submission after another (tests, debugging).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

# The largest submission folder we read (notebook and data files together).
MAX_SUBMISSION_BYTES = 50 * 1024**2
LEDGER = "ledger.json"            # student/assignment -> what its grade was computed from
REGISTERED = "assignments.json"   # assignment -> what the gradebook's record of it came from


@dataclass(frozen=True)
class Settings:
    """The caps every submission is graded under (``make grade`` flags)."""

    memory: str = "2GiB"
    time_limit: int = 900        # seconds for the whole notebook
    cell_time_limit: int = 120   # seconds for one cell
    processes: int = 256
    sandbox: bool = True

    def config_lines(self) -> str:
        """Appended to a worker's scratch nbgrader_config.py (values we wrote, not a learner)."""
        return (
            "\n# ---- this batch (grader/batch.py) ----\n"
            f"c.SandboxedKernelManager.memory_limit = {self.memory!r}\n"
            f"c.SandboxedKernelManager.process_limit = {int(self.processes)!r}\n"
            f"c.SandboxedKernelManager.enabled = {bool(self.sandbox)!r}\n"
            f"c.JudgedExecute.submission_timeout = {int(self.time_limit)!r}\n"
            f"c.Execute.timeout = {int(self.cell_time_limit)!r}\n"
        )


@dataclass(frozen=True)
class Assignment:
    """What a worker needs to know of one assignment, as plain data."""

    name: str
    source_files: dict     # the source folder (solutions/NAME/): path -> bytes
    course_files: dict     # name -> text (nbgrader_config.py, judged_execute.py, ...)
    duedate: str | None = None  # ISO time, from the course's gradebook (late penalties)


@dataclass(frozen=True)
class Job:
    """Everything a worker needs to grade one submission (with its assignment's
    template gradebook), as plain data."""

    student: str
    assignment: str
    files: dict            # path inside the submission folder -> bytes
    settings: Settings
    fingerprint: str

    @property
    def key(self) -> str:
        return f"{self.student}/{self.assignment}"


# ---- on a worker ----------------------------------------------------------------------


def _scratch_course(where: Path, assignment: Assignment, settings: Settings | None = None):
    """A course folder of our own at ``where``: the course's files and one assignment."""
    from grader.pipeline import Course

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


def make_template(assignment: Assignment) -> bytes:
    """A SQLite gradebook that knows this one assignment (nbgrader generate_assignment in a
    scratch course). Runs once per assignment and batch, on a worker."""
    from grader.pipeline import generate, kernel_environment

    with tempfile.TemporaryDirectory(prefix="mlcg-template-") as tmp, kernel_environment():
        course = _scratch_course(Path(tmp), assignment)
        generate(course, assignment.name)
        return (course.root / "gradebook.db").read_bytes()


def grade_job(job: Job, assignment: Assignment, template: bytes) -> dict:
    """Grade one submission in a scratch course; return its grades as plain data.

    Runs on a Dask worker (or in this process). Never raises for anything the
    submission does: the result says ``ok: False`` and why.
    """
    from grader.pipeline import _log_reason, kernel_environment

    started = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix="mlcg-"))
    try:
        course = _scratch_course(scratch, assignment, job.settings)
        root = course.root
        (root / "gradebook.db").write_bytes(template)
        if assignment.duedate:
            from datetime import datetime

            with course.gradebook() as gb:
                gb.update_or_create_assignment(assignment.name,
                                               duedate=datetime.fromisoformat(assignment.duedate))
        folder = root / "submitted" / job.student / job.assignment
        for rel, data in job.files.items():
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        from grader import sandbox

        del sandbox.PEAKS[:]
        with kernel_environment():
            run = course.run("Autograde", assignment_id=job.assignment, student_id=job.student)
        if not run["success"]:
            return _failed(job, f"autograde failed: {_log_reason(run)}", started)
        result = _read_scratch(course, job)
        peaks = [p for p in sandbox.PEAKS if p is not None]
        result.update(ok=True, seconds=time.perf_counter() - started, warnings=_warnings(job),
                      peak_memory=max(peaks) if peaks else None)
        return result
    except Exception as exc:  # whatever one submission does, the batch goes on
        return _failed(job, f"grading failed: {type(exc).__name__}: {exc}", started)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _failed(job: Job, reason: str, started: float) -> dict:
    return {"ok": False, "error": reason, "seconds": time.perf_counter() - started,
            "warnings": _warnings(job)}


def _warnings(job: Job) -> list[str]:
    from grader.sandbox import probe

    if not job.settings.sandbox:
        return ["sandbox turned off for this batch: learner code ran with the grader's rights"]
    return list(probe().why_not)


def _read_scratch(course, job: Job) -> dict:
    """The scratch gradebook's scores and the autograded notebooks, as plain data."""
    notebooks, autograded = {}, {}
    with course.gradebook() as gb:
        submission = gb.find_submission(job.assignment, job.student)
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
    folder = course.root / "autograded" / job.student / job.assignment
    for name in [f"{nb}.ipynb" for nb in notebooks] + ["timestamp.txt"]:
        path = folder / name
        if path.is_file() and not path.is_symlink():
            autograded[name] = path.read_text(encoding="utf-8")
    return {"notebooks": notebooks, "autograded": autograded, "timestamp": timestamp}


# ---- on the coordinator -----------------------------------------------------------------


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
                        f"{MAX_SUBMISSION_BYTES // 1024**2} MB: remove data files and outputs")
        files[rel.as_posix()] = path.read_bytes()
    return files, ""


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
    h.update(_code_digest().encode())
    h.update(json.dumps(asdict(settings or Settings()), sort_keys=True).encode())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def _code_digest() -> str:
    import mlcourse

    h = hashlib.sha256()
    for path in sorted(Path(mlcourse.__file__).parent.rglob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()


def record(course, gb, job: Job, result: dict, attempts: int = 5) -> None:
    """Write one worker's result into the course's gradebook (``gb``, open for the whole
    batch) and autograded/ folder.

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
    for name, text in result.get("autograded", {}).items():
        (folder / Path(name).name).write_text(text, encoding="utf-8")


def _record_grades(gb, job: Job, result: dict) -> None:
    import warnings
    from datetime import datetime

    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        # nbgrader's own gradebook code trips SQLAlchemy's autoflush warnings.
        warnings.simplefilter("ignore", SAWarning)
        gb.update_or_create_student(job.student)
        stamp = result.get("timestamp")
        kwargs = {"timestamp": datetime.fromisoformat(stamp)} if stamp else {}
        submission = gb.update_or_create_submission(job.assignment, job.student, **kwargs)
        for nb in submission.notebooks:
            got = result["notebooks"].get(nb.name, {})
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


# ---- running the jobs -------------------------------------------------------------------


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def run_jobs(jobs: list[Job], assignments: dict[str, Assignment], workers: int | None = None,
             scheduler: str | None = None, on_start: Callable[[], None] = lambda: None,
             ) -> Iterator[tuple[Job, dict]]:
    """Yield ``(job, result)`` as each job finishes: in this process when ``workers == 0``,
    else on Dask (a LocalCluster of ``workers`` processes, or the cluster at ``scheduler``).

    Each assignment's template gradebook is made once, as a task the grading tasks of
    that assignment wait for; the coordinator goes on meanwhile (``on_start``)."""
    if not jobs:
        on_start()
        return
    if workers == 0 and not scheduler:
        on_start()
        templates: dict[str, bytes] = {}
        for job in jobs:
            if job.assignment not in templates:
                templates[job.assignment] = make_template(assignments[job.assignment])
            yield job, grade_job(job, assignments[job.assignment], templates[job.assignment])
        return
    from dask.distributed import Client, LocalCluster, as_completed

    with contextlib.ExitStack() as stack:
        if scheduler:
            client = stack.enter_context(Client(scheduler, timeout="30s"))
        else:
            n = workers or default_workers()
            cluster = stack.enter_context(LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                memory_limit=0,  # a kernel's memory is capped by its sandbox, not by Dask
                silence_logs=logging.ERROR, worker_dashboard_address=None))
            client = stack.enter_context(Client(cluster))
        remote: dict = {}
        for name in dict.fromkeys(j.assignment for j in jobs):
            info = client.scatter(assignments[name], broadcast=True)
            remote[name] = (info, client.submit(make_template, info, pure=False,
                                                key=f"template-{name}-{os.urandom(4).hex()}"))
        futures = {}
        for job in interleaved(jobs):
            info, template = remote[job.assignment]
            future = client.submit(grade_job, job, info, template, pure=False,
                                   key=f"grade-{job.key}-{job.fingerprint[:12]}")
            futures[future] = job
        try:
            on_start()
            for future in as_completed(futures):
                job = futures.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # a worker that died three times, a lost connection
                    result = {"ok": False, "error": f"the grading worker failed: "
                              f"{type(exc).__name__}: {exc}", "seconds": 0.0, "warnings": []}
                yield job, result
        finally:
            for future in futures:
                future.cancel()


def interleaved(jobs: list[Job]) -> list[Job]:
    """One job of each assignment in turn: the batch's last tasks are then a mix of long
    and short notebooks, not all of the slowest assignment (workers finish together)."""
    queues: dict[str, list[Job]] = {}
    for job in jobs:
        queues.setdefault(job.assignment, []).append(job)
    out = []
    while any(queues.values()):
        for queue in queues.values():
            if queue:
                out.append(queue.pop(0))
    return out


# ---- progress ------------------------------------------------------------------------------


class Progress:
    """A progress bar with an ETA on a terminal (tqdm); plain lines elsewhere."""

    def __init__(self, total: int, echo: Callable[[str], None]):
        self.echo, self.total = echo, total
        self.bar = None
        if total and sys.stderr.isatty() and echo is print:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="submission", dynamic_ncols=True)

    def line(self, text: str) -> None:
        if self.bar is not None:
            self.bar.write(text)
        else:
            self.echo(text)

    def step(self) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def collect(course, todo: Iterable[tuple[str, str]], settings: Settings, force: bool,
            ) -> tuple[list[Job], dict[str, Assignment], list[tuple[str, str, str, str]], int]:
    """Jobs for every submission that needs grading, and their assignments; submissions
    that cannot be graded (with why); how many were already graded from the same inputs."""
    from grader.pipeline import COURSE_FILES, check_submission

    course_files = {name: (course.root / name).read_text(encoding="utf-8") for name in COURSE_FILES}
    ledger = Ledger(course.root / ".work" / LEDGER)
    graded = _graded_keys(course)
    failures = _failures(course)
    with course.gradebook() as gb:  # due dates set with `nbgrader db assignment add --duedate`
        duedates = {a.name: a.duedate.isoformat() for a in gb.assignments if a.duedate}
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
            bad.append((name, student, why, fp))
            continue
        jobs.append(Job(student, name, files, settings, fp))
    return jobs, assignments, bad, current


def _graded_keys(course) -> set[str]:
    with course.gradebook() as gb:
        return {f"{s.student.id}/{a.name}" for a in gb.assignments for s in a.submissions}


def _failures(course) -> dict:
    from grader.pipeline import _load_failures

    return _load_failures(course)
