"""The instructor's pipeline around nbgrader: ``python -m grader.pipeline COMMAND``
(or ``python -m grader COMMAND``).

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

SIGTERM and SIGHUP (a scheduler, a container stop, a closed terminal) end a ``grade`` as
Ctrl-C does: every grade finished is kept, the CSV written, every sandbox and cgroup removed;
a second signal while that happens waits for it.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from grader.course import GRADER, Course, PipelineError
from grader.jobs import Settings
from mlcourse.grading.limits import (
    CELL_FLOOR_SECONDS,
    CELL_SECONDS,
    NOTEBOOK_FLOOR_SECONDS,
    NOTEBOOK_SECONDS,
    TIME_MULTIPLE,
    parse_size,
)


def parser() -> argparse.ArgumentParser:
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
    p.add_argument("--time-limit", type=int, default=None,
                   help=f"seconds a whole notebook may run (default: {TIME_MULTIPLE}x the source "
                        f"notebook's time in the canary, at least {NOTEBOOK_FLOOR_SECONDS}, at most "
                        f"{NOTEBOOK_SECONDS})")
    p.add_argument("--cell-time-limit", type=int, default=None,
                   help=f"seconds one cell may run (default: {TIME_MULTIPLE}x the source notebook's "
                        f"slowest cell, at least {CELL_FLOOR_SECONDS}, at most {CELL_SECONDS})")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    course = Course(args.course.resolve())
    try:
        return run(args, course)
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace, course: Course) -> int:
    """One command; the modules that do it are imported here, so each command loads only
    what it needs."""
    if args.command == "release":
        from grader.release import release

        out = args.out or course.root.parent / "notebooks"
        written = release(course, out, args.assignments)
        print(f"released {len(written)} files into {out}")
    elif args.command == "grade":
        from grader.autograde import grade
        from grader.batch import stopped_like_ctrl_c

        try:
            parse_size(args.memory)  # a clear error before anything starts
        except ValueError as exc:
            raise PipelineError(f"--memory: {exc}") from None
        settings = Settings(memory=args.memory, time_limit=args.time_limit,
                            cell_time_limit=args.cell_time_limit, sandbox=not args.no_sandbox)
        with stopped_like_ctrl_c() as stop:
            try:
                rows = grade(course, args.assignments, args.student, args.out,
                             workers=args.workers, scheduler=args.scheduler, force=args.force,
                             settings=settings)
            except KeyboardInterrupt:
                from grader.sandbox import cleanup_all

                cleanup_all()  # a kernel this process was grading in: killed, its cgroups gone
                name = signal.Signals(stop[0]).name if stop else "SIGINT"
                print(f"stopped ({name}): every grade finished before it is in the gradebook",
                      file=sys.stderr)
                return 130 if name == "SIGINT" else 128 + stop[0]
        return 1 if any(r.error for r in rows) else 0
    elif args.command == "feedback":
        from grader.release import feedback

        feedback(course, args.assignments)
    elif args.command == "report":
        from grader import report

        for path in report.write(course, args.out):
            print(f"wrote {path}")
    elif args.command == "export":
        from grader.gradebook import export

        rows = export(course, args.out)
        print(f"wrote {len(rows)} rows to {args.out or course.grades_csv}")
    elif args.command == "strip":
        from grader.release import strip_solutions

        changed = strip_solutions(course)
        print(f"stripped {len(changed)} notebooks" + "".join(f"\n  {p}" for p in changed))
    elif args.command == "cells":
        from grader.release import set_cells

        print(f"{args.notebook}: replaced {', '.join(set_cells(args.notebook, args.blocks))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
