"""The canary: each assignment's source notebook, graded as a submission before any learner's
grade is recorded.

A locked cell that fails in the grading environment (``mlcourse`` not importable in the
sandbox, a data file missing, a library that changed) would otherwise grade a whole class
zero. So ``autograde.grade`` hands each assignment's source notebook to the same workers,
sandbox and settings first (``jobs``, with a higher priority than any submission); an
assignment's submissions start once its canary has earned full marks, and no grade is
recorded until every canary has (``Gate``). A canary short of full marks stops the batch with
the cell and its error. A passed canary is kept in ``.work/canary.json`` under a key of
everything its result depends on (``canary_key``), and not run again while that key holds.

Its times set each submission's limits (``limits_for``): ``limits.TIME_MULTIPLE`` times the
reference's slowest cell and whole notebook.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from pathlib import Path

from grader import intake
from grader.course import Course, PipelineError
from grader.jobs import Assignment, Job, Result, Settings
from mlcourse.grading import limits

STUDENT = "mlcourse-canary"
KEPT = "canary.json"   # in .work/: assignment -> the key and times of its last passed canary


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


def kept(course: Course) -> dict:
    """The passed canaries kept in ``.work/``: assignment -> its key and times."""
    path = course.work_dir / KEPT
    try:
        found = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


class Gate:
    """The canaries of one batch: which passed (kept, or run now), which are still running,
    and why any failed. ``times`` holds each passed assignment's times."""

    def __init__(self, course: Course, names: list[str], assignments: dict[str, Assignment],
                 settings: Settings, force: bool):
        self.course, self.failed = course, []
        self.kept = kept(course)
        keys = {name: canary_key(course, assignments[name], settings) for name in names}
        self.times = {n: self.kept[n] for n in names if not force and isinstance(self.kept.get(n), dict)
                      and self.kept[n].get("key") == keys[n]}
        self.jobs = [Job(STUDENT, name, intake.read_folder(course.solutions / name)[0], settings,
                         f"canary-{keys[name]}") for name in names if name not in self.times]
        self.running = {id(job): job for job in self.jobs}
        self.keys = keys

    @property
    def open(self) -> bool:
        """Every canary has passed: grades may be recorded."""
        return not self.running and not self.failed

    def is_canary(self, job: Job) -> bool:
        return id(job) in self.running

    def decide(self, job: Job, result: Result) -> bool:
        """Take a canary's result; True when it passed."""
        del self.running[id(job)]
        why, timing = canary_verdict(job.assignment, result)
        if why:
            self.failed.append(f"{job.assignment}: {why}")
            return False
        self.times[job.assignment] = self.kept[job.assignment] = {
            "key": self.keys[job.assignment], **timing}
        if not self.running and not self.failed:
            path = self.course.work_dir / KEPT
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(self.kept, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        return True

    def error(self) -> PipelineError:
        return PipelineError("the canary failed, nothing was graded: the source notebook of each "
                             "assignment must earn full marks in this environment and sandbox "
                             "before any submission is graded.\n  " + "\n  ".join(self.failed))
