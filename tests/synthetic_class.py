"""A synthetic class to grade and report on: learners, their submissions, a few who did not
submit, and a few submissions that go wrong the ways real ones do.

Each submission is one of
- ``solution``: the source notebook as it is (every exercise right);
- ``release``: the released notebook, unanswered;
- ``wrong``: the source notebook with one or two plausible wrong answers of
  ``tests/wrong_answers/`` in place of the right ones;
- ``reference``: an answer that imports the course's own implementation;
- ``tamper``: a cell that reaches into the interpreter (``import gc``);
- ``memory``: a cell that allocates 1 GiB (graded under a smaller cap, it is killed);
- ``stubborn``: a cell that loops and swallows the interrupt (killed at its time limit);
- ``corrupt`` / ``empty``: a file that is not a notebook.

    python tests/synthetic_class.py /tmp/class --learners 110 --grade --report

builds the class at /tmp/class/grader (a course of its own, with its own gradebook), grades
it under the caps of ``DEMO`` and writes the class report. The mix is drawn from one seed,
so the same command gives the same class.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from nbtools import SOLUTIONS  # noqa: E402
from test_wrong_answers import WRONG  # noqa: E402

from grader import autograde, release  # noqa: E402
from grader.course import Course, build_course  # noqa: E402
from grader.jobs import Settings  # noqa: E402

ASSIGNMENTS = ("00-loop-at-a-glance", "03-losses", "04-gradients")
# Answers that reach the course's reference instead of being written.
REFERENCE_ANSWERS = {
    "00-loop-at-a-glance": ("mse-answer", "from mlcourse.losses import mse\n"),
    "03-losses": ("mse-answer", "from mlcourse.losses import mse\n"),
}
# kind -> weight: about what a class hands in.
MIX = {"solution": 40, "release": 8, "wrong": 38, "reference": 3, "tamper": 2, "memory": 2,
       "stubborn": 2, "corrupt": 2, "empty": 1}
NO_SUBMISSION = 0.07   # the chance that a learner hands nothing in for an assignment
# Caps for the demonstration: small enough that the memory and time kills come quickly.
DEMO = Settings(memory="768MiB", time_limit=180, cell_time_limit=8)

MEMORY_CELL = "import numpy as np\nhog = np.ones(1 << 27)  # 1 GiB\nhog.sum()\n"
STUBBORN_CELL = ("import time\nwhile True:\n    try:\n        time.sleep(0.05)\n"
                 "    except KeyboardInterrupt:\n        pass\n")


def _cell(nb, grade_id: str):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _extra_cell(nb, source: str) -> None:
    """A learner's own cell, after the first answer cell."""
    answers = [i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution")]
    nb.cells.insert((answers[0] if answers else 0) + 1, new_code_cell(source))


def submission(kind: str, course: Course, assignment: str, rng: random.Random) -> bytes:
    """The file a learner of this ``kind`` hands in for ``assignment``."""
    if kind == "corrupt":
        return b'{"cells": [ {"cell_type": "code", "source": "def mse('
    if kind == "empty":
        return b""
    if kind == "release":
        return (course.release_dir / assignment / f"{assignment}.ipynb").read_bytes()
    nb = nbformat.read(SOLUTIONS / assignment / f"{assignment}.ipynb", as_version=4)
    if kind == "wrong":
        wrong = WRONG[assignment]
        by_cell: dict[str, list[str]] = {}
        for grade_id, code, _ in wrong:
            by_cell.setdefault(grade_id, []).append(code)
        for grade_id in rng.sample(sorted(by_cell), k=min(len(by_cell), rng.choice((1, 1, 2)))):
            _cell(nb, grade_id).source = rng.choice(by_cell[grade_id])
    elif kind == "reference":
        grade_id, code = REFERENCE_ANSWERS[assignment]
        _cell(nb, grade_id).source = code
    elif kind == "tamper":
        _extra_cell(nb, "import gc\ngc.collect()\n")
    elif kind == "memory":
        _extra_cell(nb, MEMORY_CELL)
    elif kind == "stubborn":
        _extra_cell(nb, STUBBORN_CELL)
    return nbformat.writes(nb).encode()


def build(where: Path, learners: int, assignments=ASSIGNMENTS, seed: int = 2026) -> tuple[Course, dict]:
    """A course at ``where/grader`` with ``learners`` learners in its gradebook and their
    submissions in ``submitted/``. Returns the course and {(student, assignment): kind}."""
    course = build_course(where, [SOLUTIONS / a for a in assignments])
    for assignment in assignments:
        release.generate(course, assignment)
    rng = random.Random(seed)
    kinds, weights = list(MIX), list(MIX.values())
    drawn: dict[tuple[str, str], str] = {}
    students = [f"learner-{i:03d}" for i in range(1, learners + 1)]
    with course.gradebook() as gb:
        for student in students:
            gb.update_or_create_student(student)
    for student in students:
        for assignment in assignments:
            if rng.random() < NO_SUBMISSION:
                continue
            kind = rng.choices(kinds, weights)[0]
            if kind == "reference" and assignment not in REFERENCE_ANSWERS:
                kind = "wrong"
            folder = course.submitted / student / assignment
            folder.mkdir(parents=True)
            (folder / f"{assignment}.ipynb").write_bytes(submission(kind, course, assignment, rng))
            drawn[student, assignment] = kind
    return course, drawn


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python tests/synthetic_class.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("where", type=Path)
    parser.add_argument("--learners", type=int, default=110)
    parser.add_argument("--assignments", nargs="*", default=list(ASSIGNMENTS))
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--grade", action="store_true", help="grade the class (Dask, sandboxed)")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--report", action="store_true", help="write the class report")
    args = parser.parse_args(argv)
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    course, drawn = build(args.where, args.learners, args.assignments, args.seed)
    counts: dict[str, int] = {}
    for kind in drawn.values():
        counts[kind] = counts.get(kind, 0) + 1
    print(f"{len(drawn)} submissions from {args.learners} learners at {course.submitted}: "
          + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])))
    if args.grade:
        autograde.grade(course, workers=args.workers, settings=DEMO)
    if args.report:
        from grader import report

        for path in report.write(course):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
