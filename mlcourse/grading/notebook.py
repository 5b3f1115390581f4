"""Grade a whole notebook locally, hidden tests included, the way nbgrader would.

For self-study learners ("grade my notebook") and for the project's own tests.
The learner's answer cells are put into the source notebook (which carries the
hidden tests), the result is executed top to bottom in a fresh kernel, and each
graded cell is scored with nbgrader's rule: an error, or anything written to
stderr, scores zero; otherwise full points. nbgrader itself is not imported.
"""

from __future__ import annotations

import copy
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from . import limits
from .rules import is_answer, is_graded_test, nbgrader_meta, score_cell, stub_answer


def read_notebook(path: str | os.PathLike):
    """Read a notebook, or raise ``ValueError`` that says what is wrong with the file."""
    import nbformat

    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    if size > limits.MAX_NOTEBOOK_BYTES:
        raise ValueError(
            f"{path} is {size / 2**20:.0f} MB, more than the {limits.MAX_NOTEBOOK_BYTES // 2**20} MB a "
            "notebook may be for grading: clear its outputs (Edit → Clear Outputs of All Cells), "
            "keep data in files rather than cells, save and try again.")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path} is not a notebook: its JSON is broken at line {exc.lineno} "
            f"({exc.msg}). Re-download it or restore it from a checkpoint."
        ) from None
    if not isinstance(raw, dict) or "cells" not in raw:
        raise ValueError(f"{path} is JSON but not a Jupyter notebook (no 'cells').")
    return nbformat.reads(text, as_version=4)


def merge(source_nb, answers: dict[str, str]):
    """The source notebook with each answer cell's code replaced by ``answers[grade_id]``.

    Answer cells not in ``answers`` get the released stub (unanswered).
    """
    nb = copy.deepcopy(source_nb)
    for cell in nb.cells:
        if is_answer(cell):
            gid = nbgrader_meta(cell).get("grade_id")
            cell.source = answers[gid] if gid in answers else stub_answer(cell.source)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def answers_of(submission_nb) -> dict[str, str]:
    """The learner's code in each answer cell, keyed by grade_id."""
    return {
        nbgrader_meta(c)["grade_id"]: c.source
        for c in submission_nb.cells
        if is_answer(c) and "grade_id" in nbgrader_meta(c)
    }


def kernel_env(extra: dict | None = None) -> dict:
    """The environment of a grading kernel: ours, with ipykernel's one-name-for-every-cell
    override removed (the judge tells the notebook's own cells apart by their names)."""
    env = {**os.environ, **limits.KERNEL_ENV, **(extra or {})}
    env.pop("IPYKERNEL_CELL_NAME", None)
    return env


def execute(nb, cwd: str | os.PathLike, *, timeout: int = limits.CELL_SECONDS, env: dict | None = None,
            judged: bool = True):
    """Run the notebook in a fresh kernel as the instructor's autograder does: every
    cell in order, carrying on past errors, interrupting a cell stuck longer than
    ``timeout`` seconds; graded test cells are decided by the judge (``judge``).
    With ``judged=False`` the test cells run in the kernel, as in the learner's Lab."""
    from nbclient import NotebookClient

    from .judge import judged_client

    client = (judged_client if judged else NotebookClient)(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                           interrupt_on_timeout=True, extra_arguments=list(limits.KERNEL_ARGS),
                           resources={"metadata": {"path": str(cwd)}})
    client.execute(env=kernel_env(env))
    return nb


@dataclass
class CellScore:
    grade_id: str
    points: float
    max_points: float
    message: str = ""

    @property
    def passed(self) -> bool:
        return self.points == self.max_points


@dataclass
class NotebookScore:
    cells: list[CellScore] = field(default_factory=list)

    @property
    def points(self) -> float:
        return sum(c.points for c in self.cells)

    @property
    def max_points(self) -> float:
        return sum(c.max_points for c in self.cells)

    def by_id(self) -> dict[str, CellScore]:
        return {c.grade_id: c for c in self.cells}

    def report(self) -> str:
        width = max((len(c.grade_id) for c in self.cells), default=10)
        lines = []
        for c in self.cells:
            mark = "✓" if c.passed else "✗"
            lines.append(f"{mark} {c.grade_id:<{width}}  {c.points:g}/{c.max_points:g}")
            if not c.passed and c.message:
                lines += ["      " + line for line in c.message.splitlines()]
        lines.append(f"total: {self.points:g} / {self.max_points:g}")
        return "\n".join(lines)


def score(executed_nb) -> NotebookScore:
    """Score each graded test cell with nbgrader's rule (error or stderr → 0)."""
    result, seen = NotebookScore(), set()
    for cell in executed_nb.cells:
        if not is_graded_test(cell):
            continue
        meta = nbgrader_meta(cell)
        if meta.get("grade_id") in seen:  # a copy of a test cell counts once, as in nbgrader
            continue
        seen.add(meta.get("grade_id"))
        points, max_points, message = score_cell(cell)
        result.cells.append(CellScore(meta.get("grade_id", "?"), points, max_points, message))
    return result


def merge_submission(source_nb, submission_nb):
    """What nbgrader's autograde runs: the learner's notebook with every locked or
    graded cell restored from the source (hidden tests included), cells the
    learner deleted put back, and the learner's own extra cells kept in place."""
    source_by_id = {nbgrader_meta(c)["grade_id"]: c for c in source_nb.cells if "grade_id" in nbgrader_meta(c)}
    nb = copy.deepcopy(submission_nb)
    cells, seen = [], set()
    for cell in submission_nb.cells:
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in source_by_id and gid in seen:
            # a learner's copy of a graded cell: kept as their own cell, as nbgrader keeps one
            # cell per grade_id (the judge does not run a copy of a test cell)
            copied = copy.deepcopy(cell)
            copied.metadata.pop("nbgrader", None)
            cells.append(copied)
        elif gid in source_by_id:
            seen.add(gid)
            restored = copy.deepcopy(source_by_id[gid])
            if is_answer(restored):
                restored.source = cell.source
            cells.append(restored)
        elif not nbgrader_meta(cell):
            cells.append(copy.deepcopy(cell))  # the learner's own scratch cell
    previous = None
    for cell in source_nb.cells:  # put back what the learner deleted, after its neighbour
        gid = nbgrader_meta(cell).get("grade_id")
        if gid is None:
            continue
        if gid not in seen:
            at = 0 if previous is None else 1 + next(
                i for i, c in enumerate(cells) if nbgrader_meta(c).get("grade_id") == previous)
            restored = copy.deepcopy(cell)
            if is_answer(restored):
                restored.source = stub_answer(restored.source)
            cells.insert(at, restored)
            seen.add(gid)
        previous = gid
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.cells = cells
    nb.metadata = copy.deepcopy(source_nb.metadata)
    return nb


def grade(submission: str | os.PathLike, source: str | os.PathLike, *, timeout: int = limits.CELL_SECONDS) -> NotebookScore:
    """Grade ``submission`` against the source notebook ``source`` (hidden tests included)."""
    source_nb = read_notebook(source)
    submission_nb = read_notebook(submission)
    ids = {nbgrader_meta(c).get("grade_id") for c in source_nb.cells if is_answer(c)}
    if ids and not ids & set(answers_of(submission_nb)):
        raise ValueError(
            f"{submission} has none of the answer cells of {Path(source).name} "
            f"({', '.join(sorted(ids))}): is it the right notebook?"
        )
    nb = merge_submission(source_nb, submission_nb)
    execute(nb, Path(source).parent, timeout=timeout)
    return score(nb)


def grade_me(notebook=None, *, timeout: int | None = None):
    """``mlcourse.grade_me()``: ``mlcourse grade`` on the notebook this kernel runs, in a
    process of its own (a fresh kernel cannot be driven from inside this one's loop).
    Returns ``(points, max_points)``."""
    import re
    import subprocess
    import sys
    import time

    if os.environ.get("MLCOURSE_GRADING") or os.environ.get("NBGRADER_EXECUTION"):
        print("(This notebook is being graded or validated: grade_me() does nothing here.)")
        return None
    path = notebook or os.environ.get("JPY_SESSION_NAME")
    if not path or not str(path).endswith(".ipynb") or not Path(path).is_file():
        raise ValueError("grade_me() cannot tell which notebook this is: pass its path, e.g. "
                         "mlcourse.grade_me('03-losses.ipynb')")
    path = Path(path).resolve()
    saved = time.strftime("%H:%M:%S", time.localtime(path.stat().st_mtime))
    print(f"Grading {path.name} as saved at {saved} (save first to grade your latest edits)…",
          flush=True)
    env = {k: v for k, v in kernel_env().items() if not k.startswith("JPY_")}
    env.pop("MLCOURSE_GRADING", None)  # the grading process starts its own kernel with it
    run = subprocess.run([sys.executable, "-m", "mlcourse.cli", "grade", str(path),
                          "--timeout", str(timeout or limits.CELL_SECONDS)], capture_output=True, text=True, env=env)
    report = [line for line in run.stdout.splitlines() if not line.startswith("Grading ")]
    print("\n".join(report))
    if run.returncode == 2:
        raise ValueError(run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "grading failed")
    found = re.search(r"^total: ([0-9.]+) / ([0-9.]+)$", run.stdout, re.M)
    return (float(found.group(1)), float(found.group(2))) if found else None
