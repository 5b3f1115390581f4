"""Grading a class, from the submission folders to grades.csv: ``grade``.

One submission walks a straight line, each step in its own module:

1. ``intake.collect`` reads its folder and makes a ``Job`` of plain data (or refuses
   it, with the reason, or skips it: graded from the same inputs already);
2. the gradebook learns its assignment (``release.generate``, only when the
   assignment is new or changed) and ``gradebook.template`` copies that record into
   the small gradebook a worker grades against;
3. ``batch.run_jobs`` hands the job to a worker, in this process or on Dask;
4. ``worker.grade_job`` grades it in a scratch course and returns a ``Result``;
5. ``gradebook.record`` writes the result into the gradebook the moment it comes
   back, and the ledger notes what the grade was computed from;
6. ``gradebook.export`` writes the CSVs once the batch is over (or interrupted).

Before anyone is graded, each assignment's source notebook goes the same way (the canary:
``canaries``): it must earn full marks in this environment and sandbox, or the batch stops
with the reason. Its times set each submission's limits (``limits_for``). A submission the
judge finds ungradable through the course's fault is "not graded: course error", never a
learner's zero, and is tried again next run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from grader import batch, gradebook, intake, release
from grader.capabilities import probe
from grader.course import Course, PipelineError, kernel_environment, quiet_nbgrader_logs
from grader.gradebook import GradeRow
from grader.jobs import COURSE_ERROR, Assignment, Job, Result, Settings
from mlcourse.grading import limits
from mlcourse.grading.limits import format_size

CANARY_STUDENT = "mlcourse-canary"
CANARIES = "canary.json"   # in .work/: assignment -> the key and times of its last passed canary


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
    settings: Settings | None = None,
) -> list[GradeRow]:
    """Autograde the class: every submission that is new or changed since it was last
    graded (all of them with ``force``), each in a sandbox, in parallel on Dask; each
    grade reaches the gradebook as it is decided. Then write the grades CSV.

    Returns this run's results; the CSV holds every submission the gradebook knows.
    Ctrl-C stops the batch and keeps every grade recorded so far (``KeyboardInterrupt``
    is raised again after the CSV is written).
    """
    course = course or Course()
    settings = settings or Settings()
    known = course.assignments()
    chosen = course.check_assignments(assignments)
    todo = list(intake.submissions(course, chosen, students))
    if course.submitted.is_dir() and not assignments:
        for folder in sorted(course.submitted.glob("*/*")):
            if folder.is_dir() and folder.name not in known:
                echo(f"  skipped {folder}: no assignment {folder.name!r} (known: {', '.join(known)})")
    if not todo:
        echo(
            f"nothing to grade: put each submission at "
            f"{course.submitted}/<student>/<assignment>/<assignment>.ipynb"
        )
    quiet_nbgrader_logs()
    jobs, assignments_of, bad, current = intake.collect(course, todo, settings, force)
    if current:
        echo(f"{current} submission(s) already graded from the same files "
             f"(grade them again with --force)")
    register(course, sorted({j.assignment for j in jobs} | {b.assignment for b in bad}),
             assignments_of)
    with kernel_environment():
        templates = {name: gradebook.template(course, name)
                     for name in dict.fromkeys(j.assignment for j in jobs)}
    times = canaries(course, list(templates), assignments_of, templates, settings, workers,
                     scheduler, force, echo)
    chosen_limits = {name: limits_for(course, name, settings, times) for name in times}
    for name, limited in chosen_limits.items():
        echo(f"{name}: {limited.time_limit} s a notebook, {limited.cell_time_limit} s a cell "
             f"(the reference: {times[name].get('notebook', 0):.1f} s, slowest cell "
             f"{times[name].get('slowest', 0):.1f} s)")
    jobs = [dataclasses.replace(j, settings=chosen_limits[j.assignment]) for j in jobs]
    failures = gradebook.load_failures(course)
    ledger = gradebook.Ledger(course.work_dir / gradebook.LEDGER)
    results: list[GradeRow] = []

    def done(row: GradeRow, fp: str | None, line=echo) -> None:
        key = f"{row.student}/{row.assignment}"
        if row.error:
            failures[key] = row.error
            cost = "graded again next run" if row.error.startswith(COURSE_ERROR) else "scored 0"
            line(f"  {row.student:<16} {row.assignment:<28} ERROR {row.error} ({cost})")
        else:
            failures.pop(key, None)
            mark = f"failed: {', '.join(row.failed_cells)}" if row.failed_cells else "all passed"
            line(f"  {row.student:<16} {row.assignment:<28} {row.score:g}/{row.max_score:g}  {mark}")
        gradebook.save_failures(course, failures)
        ledger.set(key, fp)
        results.append(row)

    def record_refused() -> None:
        for refused in bad:
            gradebook.remove_stale(course, refused.assignment, refused.student)
            done(gradebook.failed_row(course, refused.assignment, refused.student, refused.why),
                 refused.fingerprint)

    warnings: set[str] = set()
    seconds: list[float] = []
    peaks: list[tuple[int, str]] = []
    progress = batch.Progress(len(jobs), echo)
    started = time.perf_counter()
    try:
        with kernel_environment(), contextlib.ExitStack() as stack:
            gb = None  # one gradebook session for the whole batch, from the first result on
            for job, result in batch.run_jobs(jobs, assignments_of, templates, workers, scheduler,
                                              on_start=record_refused):
                if gb is None:
                    gb = stack.enter_context(course.gradebook())
                warnings.update(result.warnings or [])
                seconds.append(result.seconds or 0.0)
                if result.peak_memory:
                    peaks.append((result.peak_memory, job.key))
                why = result.course_error() if result.ok else None
                if why:   # the course's fault: no grade, and no zero
                    result = Result(ok=False, error=why, seconds=result.seconds,
                                    warnings=result.warnings)
                if result.ok:
                    row = gradebook.record(course, gb, job, result)
                else:
                    gradebook.remove_stale(course, job.assignment, job.student)
                    row = gradebook.failed_row(course, job.assignment, job.student, result.error)
                # A worker that failed for its own reasons is tried again next run.
                done(row, None if result.worker_failed else job.fingerprint, progress.line)
                progress.step()
    finally:
        progress.close()
        gradebook.export(course, out=out)
        summary(course, results, jobs, warnings, seconds, time.perf_counter() - started,
                out, echo, max(peaks) if peaks else None, settings)
    return results


def register(course: Course, names: Sequence[str], assignments: dict[str, Assignment]) -> None:
    """The gradebook learns each assignment and its points (nbgrader generate_assignment),
    unless it holds them already from the same source."""
    with course.gradebook() as gb:
        known_here = {a.name for a in gb.assignments}
    registered = gradebook.Ledger(course.work_dir / gradebook.REGISTERED)
    with kernel_environment():
        for name in names:
            fp = intake.assignment_fingerprint(assignments[name])
            if name in known_here and registered.current(name, fp):
                continue
            release.generate(course, name)
            registered.set(name, fp)


def summary(course, results, jobs, warnings, seconds, wall, out, echo, peak, settings) -> None:
    """What the instructor reads at the end of a batch (also kept in .work/last-batch.txt)."""
    bad = [r for r in results if r.error and not r.error.startswith(COURSE_ERROR)]
    course_errors = [r for r in results if r.error.startswith(COURSE_ERROR)]
    lines = [f"graded {len(results) - len(bad) - len(course_errors)} of {len(results)} submissions; "
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
        lines.append("sandbox: " + probe().describe())
    if peak:
        lines.append(f"largest kernel memory: {format_size(peak[0])} ({peak[1]}; "
                     f"the cap is {settings.memory})")
    for warning in sorted(warnings):
        lines.append(f"WARNING: {warning}")
    if bad:
        lines.append(f"{len(bad)} could not be graded and scored 0:")
        lines += [f"  {r.student}/{r.assignment}: {r.error}" for r in bad]
    if course_errors:
        lines.append(f"{len(course_errors)} not graded because of a course error (the course's "
                     f"fault, not the learners'; they are graded again next run, once it is fixed):")
        lines += [f"  {r.student}/{r.assignment}: {r.error}" for r in course_errors]
    for line in lines:
        echo(line)
    course.work_dir.mkdir(parents=True, exist_ok=True)
    (course.work_dir / "last-batch.txt").write_text("\n".join(lines) + "\n")


# ---- the canary: the source notebook, graded first ------------------------------------------


def canary_key(course: Course, assignment: Assignment, settings: Settings) -> str:
    """Everything a canary's result depends on: the assignment and the course's code and
    settings (``intake.assignment_fingerprint``), the Python that runs the kernels, where
    ``mlcourse`` is imported from here, and the import hooks of the environment's site folders
    (an editable install's ``.pth``: where a kernel finds ``mlcourse``)."""
    import mlcourse

    h = hashlib.sha256()
    for part in (intake.assignment_fingerprint(assignment, settings), sys.executable,
                 os.path.realpath(sys.executable), str(Path(mlcourse.__file__).resolve()),
                 json.dumps(limits.KERNEL_ENV, sort_keys=True)):
        h.update(part.encode() + b"\0")
    for entry in sorted({p for p in sys.path if p.endswith("site-packages") and os.path.isdir(p)}):
        for path in sorted(Path(entry).glob("*.pth")) + sorted(Path(entry).glob("__editable__*.py")):
            h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def canaries(course: Course, names: list[str], assignments: dict[str, Assignment],
             templates: dict[str, bytes], settings: Settings, workers: int | None,
             scheduler: str | None, force: bool, echo=print) -> dict[str, dict]:
    """Grade each assignment's source notebook as a submission (same worker path, sandbox and
    settings; never recorded), unless a passed canary with the same key is kept in .work/.
    Returns assignment -> its times (``notebook``, ``slowest``, ``cell``); raises
    ``PipelineError`` with the reason when one earns less than full marks."""
    path = course.work_dir / CANARIES
    try:
        kept = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except ValueError:
        kept = {}
    keys = {name: canary_key(course, assignments[name], settings) for name in names}
    times = {n: kept[n] for n in names if not force and isinstance(kept.get(n), dict)
             and kept[n].get("key") == keys[n]}
    todo = [n for n in names if n not in times]
    if not todo:
        return times
    jobs = [Job(CANARY_STUDENT, name, intake.read_folder(course.solutions / name)[0], settings,
                f"canary-{keys[name]}") for name in todo]
    started = time.perf_counter()
    n = workers if workers == 0 or scheduler else min(workers or batch.default_workers(), len(jobs))
    failed = []
    with kernel_environment():
        for job, result in batch.run_jobs(jobs, assignments, templates, n, scheduler):
            why, timing = canary_verdict(job.assignment, result)
            if why:
                failed.append(f"{job.assignment}: {why}")
            else:
                times[job.assignment] = kept[job.assignment] = {"key": keys[job.assignment], **timing}
    if failed:
        raise PipelineError("the canary failed, nothing was graded: the source notebook of each "
                            "assignment must earn full marks in this environment and sandbox "
                            "before any submission is graded.\n  " + "\n  ".join(failed))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(kept, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    echo(f"canary: {', '.join(todo)} earned full marks from the source notebook "
         f"({time.perf_counter() - started:.1f} s)")
    return times


def canary_verdict(name: str, result: Result) -> tuple[str, dict]:
    """Why a canary's result is short of full marks ("" when it is not), and its times."""
    if not result.ok:
        return result.error, {}
    if result.course_error():
        return result.course_error(), {}
    short = [(cell, g) for nb in result.notebooks.values() for cell, g in sorted(nb["grades"].items())
             if not g.get("needs_manual_grade") and (g.get("auto_score") or 0) < (g.get("max_score") or 0)]
    records = result.judge_records()
    if short:
        cell, g = short[0]
        return (f"cell `{cell}` scored {g.get('auto_score') or 0:g} of {g.get('max_score'):g}: "
                f"{cell_error(result, cell)}" + (f" (and {len(short) - 1} more cell(s))"
                                                 if len(short) > 1 else "")), {}
    cells: dict = {}
    notebook = 0.0
    for record in records.values():
        timing = record.get("timing") or {}
        cells.update(timing.get("cells") or {})
        notebook += float(timing.get("notebook") or 0.0)
    slowest = max(cells.items(), key=lambda kv: kv[1], default=("", 0.0))
    return "", {"notebook": round(notebook, 3), "slowest": slowest[1], "cell": slowest[0],
                "seconds": round(result.seconds, 1)}


def cell_error(result: Result, grade_id: str) -> str:
    """The error a graded cell of the autograded copy shows (its first line or two)."""
    for text in result.autograded.values():
        try:
            nb = json.loads(text)
        except ValueError:
            continue
        for cell in nb.get("cells", []) if isinstance(nb, dict) else []:
            if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") != grade_id:
                continue
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    words = " ".join(str(out.get("evalue", "")).split())
                    return f"{out.get('ename')}: {words[:400]}"
    return "no error shown"


def limits_for(course: Course, name: str, settings: Settings, times: dict[str, dict]) -> Settings:
    """The settings a submission of ``name`` is graded under: each time limit
    ``limits.TIME_MULTIPLE`` times its reference's (the canary's slowest cell, its whole
    notebook), no less than the floors, no more than the caps; an assignment's own
    ``mlcourse.time_limits`` in its source notebook's metadata, or a flag that is not its
    default, wins."""
    timing = times.get(name) or {}
    cell = max(limits.CELL_FLOOR_SECONDS, math.ceil(limits.TIME_MULTIPLE * timing.get("slowest", 0.0)))
    notebook = max(limits.NOTEBOOK_FLOOR_SECONDS,
                   math.ceil(limits.TIME_MULTIPLE * timing.get("notebook", 0.0)))
    own = own_time_limits(course, name)
    cell = min(limits.CELL_SECONDS, own.get("cell", cell))
    notebook = min(limits.NOTEBOOK_SECONDS, own.get("notebook", notebook))
    if settings.explicit_cell_time_limit:
        cell = settings.cell_time_limit
    if settings.explicit_time_limit:
        notebook = settings.time_limit
    return settings.with_times(notebook, cell)


def own_time_limits(course: Course, name: str) -> dict[str, int]:
    """An assignment's own limits, ``{"cell": s, "notebook": s}`` in its source notebook's
    metadata (``mlcourse.time_limits``)."""
    try:
        meta = json.loads(course.source_notebook(name).read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return {}
    own = (meta.get("mlcourse") or {}).get("time_limits") if isinstance(meta, dict) else None
    if not isinstance(own, dict):
        return {}
    return {k: int(v) for k, v in own.items() if k in ("cell", "notebook")
            and isinstance(v, int | float) and not isinstance(v, bool) and v > 0}
