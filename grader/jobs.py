"""What travels between the coordinator and a grading worker, as plain data.

``Settings`` (the caps of a batch), ``Assignment`` (what a worker needs of one
assignment), ``Job`` (one submission to grade) go out; ``Result`` (one submission's
grades, or why it has none) comes back. Each turns into a dict of plain values
(``as_dict``) and back (``from_dict``): that dict is what crosses to a Dask worker, so a
worker elsewhere needs this repository and its environment, nothing of the course.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from mlcourse.grading.limits import CELL_SECONDS, MEMORY, NOTEBOOK_SECONDS, PROCESSES, format_size


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
    """The caps every submission is graded under (``make grade`` flags)."""

    memory: str = format_size(MEMORY).replace(" ", "")   # "2GiB"
    time_limit: int = NOTEBOOK_SECONDS   # seconds for the whole notebook
    cell_time_limit: int = CELL_SECONDS  # seconds for one cell
    processes: int = PROCESSES
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
        """The worker failed for its own reasons (not the submission's): try again next run."""
        return self.error.startswith("the grading worker failed")
