"""What travels between the coordinator and a grading worker, as plain data.

``Settings`` (the caps of a batch), ``Assignment`` (what a worker needs of one
assignment), ``Job`` (one submission to grade) go out; ``Result`` (one submission's
grades, or why it has none) comes back. Each turns into a dict of plain values
(``as_dict``) and back (``from_dict``): that dict is what crosses to a Dask worker, so a
worker elsewhere needs this repository and its environment, nothing of the course.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace

from mlcourse.grading.limits import CELL_SECONDS, MEMORY, NOTEBOOK_SECONDS, PROCESSES, format_size

# The error of a submission that a course error kept from being graded (the judge's record
# says which cell and error): never a learner's zero, graded again next run.
COURSE_ERROR = "not graded: course error"
WORKER_FAILED = "the grading worker failed"


class _Plain:
    """``as_dict`` / ``from_dict`` for a dataclass of plain values."""

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict):
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class Settings(_Plain):
    """The caps every submission is graded under (``make grade`` flags).

    A time limit left unset (None) is derived, assignment by assignment, from the canary's
    run of the source notebook (``autograde``), never above the cap in ``limits``; one that is
    set is used as it is. Each ``Job`` carries the settings it is graded under."""

    memory: str = format_size(MEMORY).replace(" ", "")   # "2GiB"
    time_limit: int | None = None        # seconds for the whole notebook (None: derived)
    cell_time_limit: int | None = None   # seconds for one cell (None: derived)
    processes: int = PROCESSES
    sandbox: bool = True

    def config_lines(self) -> str:
        """Appended to a worker's scratch nbgrader_config.py (values we wrote, not a learner)."""
        return (
            "\n# ---- this batch (grader/batch.py) ----\n"
            f"c.SandboxedKernelManager.memory_limit = {self.memory!r}\n"
            f"c.SandboxedKernelManager.process_limit = {int(self.processes)!r}\n"
            f"c.SandboxedKernelManager.enabled = {bool(self.sandbox)!r}\n"
            f"c.JudgedExecute.submission_timeout = {int(self.time_limit or NOTEBOOK_SECONDS)!r}\n"
            f"c.Execute.timeout = {int(self.cell_time_limit or CELL_SECONDS)!r}\n"
        )

    @property
    def explicit_time_limit(self) -> bool:
        return self.time_limit is not None

    @property
    def explicit_cell_time_limit(self) -> bool:
        return self.cell_time_limit is not None

    def with_times(self, notebook: int, cell: int) -> Settings:
        return replace(self, time_limit=int(notebook), cell_time_limit=int(cell))


@dataclass(frozen=True)
class Assignment(_Plain):
    """What a worker needs to know of one assignment."""

    name: str
    source_files: dict     # the source folder (solutions/NAME/): path -> bytes
    course_files: dict     # name -> text (nbgrader_config.py, judged_execute.py, ...)
    duedate: str | None = None  # ISO time, from the course's gradebook (late penalties)


@dataclass(frozen=True)
class Job(_Plain):
    """Everything a worker needs to grade one submission (with its assignment and the
    assignment's template gradebook)."""

    student: str
    assignment: str
    files: dict            # path inside the submission folder -> bytes
    settings: Settings
    fingerprint: str

    @property
    def key(self) -> str:
        return f"{self.student}/{self.assignment}"

    @classmethod
    def from_dict(cls, data: dict) -> Job:
        return cls(**{**data, "settings": Settings.from_dict(data["settings"])})


@dataclass
class Result(_Plain):
    """One submission as graded by a worker: its grades, or why it has none (``error``).

    ``notebooks``: notebook name -> ``{"grades": {cell: {"auto_score", "max_score",
    "needs_manual_grade"}}, "comments": {cell: text}, "late_penalty", "flagged"}``;
    ``autograded``: file name -> text of the autograded folder; ``timestamp``: ISO time.
    """

    ok: bool
    error: str = ""
    seconds: float = 0.0
    warnings: list = field(default_factory=list)
    peak_memory: int | None = None  # bytes: the kernel's largest footprint
    notebooks: dict = field(default_factory=dict)
    autograded: dict = field(default_factory=dict)
    timestamp: str | None = None

    @property
    def worker_failed(self) -> bool:
        """The worker, or the course, failed for its own reasons (not the submission's): try
        again next run."""
        return self.error.startswith((WORKER_FAILED, COURSE_ERROR))

    @property
    def course_failed(self) -> bool:
        return self.error.startswith(COURSE_ERROR)

    def judge_records(self) -> dict:
        """Notebook file name -> the judge's record in its autograded copy (``mlcourse.judge``)."""
        found = {}
        for name, text in self.autograded.items():
            if not name.endswith(".ipynb"):
                continue
            try:
                record = json.loads(text).get("metadata", {}).get("mlcourse", {}).get("judge")
            except (ValueError, AttributeError):
                continue
            if isinstance(record, dict):
                found[name] = record
        return found

    def course_error(self) -> str | None:
        """Why the judge found this notebook ungradable through the course's fault (which cell,
        which error), or None."""
        for name, record in sorted(self.judge_records().items()):
            err = record.get("course_error")
            if isinstance(err, dict):
                return (f"{COURSE_ERROR} in {name} {err.get('cell')} ({err.get('why')}): "
                        f"{str(err.get('error'))[:300]}")
        return None
