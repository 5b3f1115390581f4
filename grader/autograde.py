"""Grading a class, from the submission folders to grades.csv: ``grade``.

One submission walks a straight line, each step in its own module:

1. ``intake.collect`` reads its folder and makes a ``Job`` of plain data (or refuses
   it, with the reason, or skips it: graded from the same inputs already);
2. the gradebook learns its assignment (``release.generate``, only when the
   assignment is new or changed) and ``gradebook.template`` copies that record into
   the small gradebook a worker grades against;
3. ``batch.Runner`` hands the job to a worker, in this process or on Dask;
4. ``worker.grade_job`` grades it in a scratch course and returns a ``Result``;
5. ``gradebook.record`` writes the result into the gradebook the moment it comes
   back, and the ledger notes what the grade was computed from;
6. ``gradebook.export`` writes the CSVs once the batch is over (or interrupted).

Each assignment's source notebook goes the same way first, on the same workers (the canary,
``canary.py``): it must earn full marks in this environment and sandbox, or the batch stops
with the reason and records nothing. An assignment's submissions start as soon as its own
canary has passed, under limits its times set; grades are recorded once every canary has. A submission the
judge finds ungradable through the course's fault is "not graded: course error", never a
learner's zero, and is tried again next run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path

from grader import batch, canary, gradebook, intake, release
from grader.capabilities import probe
from grader.course import Course, kernel_environment, quiet_nbgrader_logs
from grader.gradebook import GradeRow
from grader.jobs import COURSE_ERROR, Assignment, Job, Result, Settings
from mlcourse.grading.limits import format_size


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
    gate = canary.Gate(course, list(templates), assignments_of, settings, force)
    by_assignment: dict[str, list[Job]] = {}
    for job in jobs:
        by_assignment.setdefault(job.assignment, []).append(job)

    def limited(name: str) -> list[Job]:
        """``name``'s submissions, under the limits its canary's times set."""
        chosen = canary.limits_for(course, name, settings, gate.times)
        echo(f"{name}: {chosen.time_limit} s a notebook, {chosen.cell_time_limit} s a cell "
             f"(the reference: {gate.times[name].get('notebook', 0):.1f} s, slowest cell "
             f"{gate.times[name].get('slowest', 0):.1f} s)")
        return [dataclasses.replace(j, settings=chosen) for j in by_assignment.pop(name, [])]

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

    def record_one(job: Job, result: Result, gb) -> None:
        warnings.update(result.warnings or [])
        seconds.append(result.seconds or 0.0)
        if result.peak_memory:
            peaks.append((result.peak_memory, job.key))
        why = result.course_error() if result.ok else None
        if why:   # the course's fault: no grade, and no zero
            result = Result(ok=False, error=why, seconds=result.seconds, warnings=result.warnings)
        if result.ok:
            row = gradebook.record(course, gb, job, result)
        else:
            gradebook.remove_stale(course, job.assignment, job.student)
            row = gradebook.failed_row(course, job.assignment, job.student, result.error)
        # A worker that failed for its own reasons is tried again next run.
        done(row, None if result.worker_failed else job.fingerprint, progress.line)
        progress.step()

    held: list[tuple[Job, Result]] = []   # finished before every canary had passed
    try:
        with kernel_environment(), contextlib.ExitStack() as stack:
            runner = stack.enter_context(batch.Runner(assignments_of, templates, workers, scheduler))
            runner.submit(gate.jobs, priority=1)
            for name in list(gate.times):
                runner.submit(limited(name))
            if gate.open:
                record_refused()
            gb = None  # one gradebook session for the whole batch, from the first result on
            for job, result in runner.results():
                if gate.is_canary(job):
                    if gate.decide(job, result):
                        if not gate.failed:
                            runner.submit(limited(job.assignment))
                    else:   # no more submissions: the batch stops once the canaries are in
                        runner.cancel(lambda j: not gate.is_canary(j))
                    if gate.running:
                        continue
                    if gate.failed:   # nothing recorded, no CSV written
                        raise gate.error()
                    echo(f"canary: {', '.join(j.assignment for j in gate.jobs)} earned full marks "
                         f"from the source notebook ({time.perf_counter() - started:.1f} s)")
                    record_refused()
                    finished, held = held, []
                elif not gate.open:
                    held.append((job, result))
                    continue
                else:
                    finished = [(job, result)]
                for job, result in finished:
                    if gb is None:
                        gb = stack.enter_context(course.gradebook())
                    record_one(job, result, gb)
    finally:
        progress.close()
        if not gate.failed:
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
