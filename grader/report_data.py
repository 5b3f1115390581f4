"""What the class report is made of: plain data, read by ``report`` (which gathers it),
``report_page`` (which draws it) and ``report_similar``."""

from __future__ import annotations

from dataclasses import dataclass, field

from mlcourse.grading import outcomes


@dataclass
class Submission:
    """One learner's graded (or rejected) submission of one assignment."""

    student: str
    assignment: str
    score: float = 0.0
    max_score: float = 0.0
    error: str = ""                                           # why it could not be graded
    points: dict[str, tuple[float, float]] = field(default_factory=dict)  # exercise -> (score, max)
    messages: dict[str, str] = field(default_factory=dict)    # failed exercise -> message
    flags: list[tuple[str, str]] = field(default_factory=list)  # (kind, reason)
    kind: str = ""                                            # outcomes.REJECTED, else ""
    kinds: dict[str, str] = field(default_factory=dict)       # exercise -> outcomes kind (judged)

    @property
    def rejected(self) -> bool:
        """Never graded (``.work/failures.json``): it counts as 0."""
        return self.kind == outcomes.REJECTED


@dataclass
class ClassData:
    students: list[str]
    max_score: dict[str, float]                  # assignment -> points possible
    waiting: set[tuple[str, str]]                # (student, assignment) submitted, not graded yet
    exercises: dict[str, dict[str, float]]       # assignment -> exercise -> points
    submissions: list[Submission]
    # assignment -> answers that are near-copies (mlcourse.grading.similarity.ClassSimilarity)
    similar: dict = field(default_factory=dict)


@dataclass
class ExerciseStats:
    name: str
    points: float
    graded: int
    passed: int
    mean: float
    # ((headline with numbers as #, the likely mistake as most often written), count)
    top: list[tuple[tuple[str, str], int]]
    # what became of the cell in the judged submissions: outcomes kind -> count
    kinds: dict[str, int] = field(default_factory=dict)

    @property
    def pass_rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0
