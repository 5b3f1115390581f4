"""What can become of a graded exercise, and of a kernel, as data.

A verdict's kind travels from the judge (the graded notebook's ``mlcourse.judge``
record, one entry per graded test cell) to the gradebook, the class report and the
feedback page. Those read the kind, never the message: messages are for people, and
rewording one changes no count. Nothing here imports anything of the course.

>>> killed("memory")
'killed: memory'
>>> sorted(KILLED) == sorted(killed(c) for c in DEATH_CAUSES)
True
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

# ---- a graded test cell
PASSED = "passed"
FAILED = "failed"                  # a check said no (or the learner's code raised)
NOT_RUN = "not run"                # the kernel was gone before the cell's turn
REFERENCE_USE = "reference use"    # the course's reference answered instead of the learner
TAMPERING = "tampering"            # code that reached into the grading: every exercise 0
ERROR = "error"                    # the check itself could not run (the course's fault)
# The notebook could not be graded at all through no fault of the learner's: a locked cell of
# the course failed before any learner cell ran (the setup cell), or the grading kernel lacks
# ``mlcourse`` or a module the course imports. The submission is "not graded: course error",
# never a zero; the judge's record says which cell and error (``course_error``).
COURSE_ERROR = "course error"

# ---- a kernel's death: why it is gone
MEMORY, TIME, SIGNAL, EXIT, STOPPED = "memory", "time", "signal", "exit", "stopped"
DEATH_CAUSES = (MEMORY, TIME, SIGNAL, EXIT, STOPPED)


def killed(cause: str) -> str:
    """The kind of a cell decided by its kernel's death (``killed: memory`` ...)."""
    if cause not in DEATH_CAUSES:
        raise ValueError(f"not a cause of death: {cause!r} (one of {', '.join(DEATH_CAUSES)})")
    return f"killed: {cause}"


KILLED = tuple(killed(c) for c in DEATH_CAUSES)


def cause_of(kind: str) -> str | None:
    """The cause of a ``killed(cause)`` kind, None for any other kind.

    >>> cause_of(killed("time")), cause_of(PASSED)
    ('time', None)
    """
    return dict(zip(KILLED, DEATH_CAUSES, strict=True)).get(kind)


# ---- a whole submission
REJECTED = "rejected"   # never graded: not a notebook, too large, foreign, ... (with a reason)

CELL_KINDS = (PASSED, FAILED, NOT_RUN, REFERENCE_USE, TAMPERING, ERROR, COURSE_ERROR, *KILLED)


@dataclass(frozen=True)
class Death:
    """Why a kernel is gone: ``cause`` (one of ``DEATH_CAUSES``) and, for people, ``reason``
    ("memory above 2 GiB", "it was killed by signal SIGKILL")."""

    cause: str
    reason: str

    def __post_init__(self):
        if self.cause not in DEATH_CAUSES:
            raise ValueError(f"not a cause of death: {self.cause!r}")


def death_from_status(code: int | None) -> Death:
    """A kernel's death as its exit status tells it: ``SIGNAL`` (a negative status, or one
    above 128 as a shell reports a signal), ``EXIT`` (any other status) or ``STOPPED`` (no
    status: the process is still there and no longer answers).

    >>> death_from_status(-9)
    Death(cause='signal', reason='it was killed by signal SIGKILL')
    >>> death_from_status(3).cause, death_from_status(None).cause
    ('exit', 'stopped')
    """
    if code is None:
        return Death(STOPPED, "it stopped answering")
    if code < 0 or code > 128:
        number = -code if code < 0 else code - 128
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = str(number)
        return Death(SIGNAL, f"it was killed by signal {name}")
    return Death(EXIT, f"it exited with status {code}")


@runtime_checkable
class KernelWitness(Protocol):
    """What the judge asks of whatever runs a kernel: the sandbox's kernel provisioner
    (``grader/sandbox.py``) answers; a stock provisioner does not, and the judge then goes
    by the kernel's exit status alone."""

    def death(self) -> Death | None:
        """Why the kernel died, when the runner knows better than its exit status (its
        memory cap was hit), else None."""

    def at_memory_cap(self) -> Death | None:
        """A ``MEMORY`` death to report instead of its time when the kernel sits at its memory
        cap now (where work crawls), else None. Asked before killing a kernel for its time."""

    def peak_memory(self) -> int | None:
        """The most memory the kernel and its processes held, in bytes, where measured."""
