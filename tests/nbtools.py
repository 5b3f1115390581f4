"""Notebook helpers for the tests: read nbgrader metadata, execute as the autograder does.

``run_with_replacement`` is the plausible-wrong-answer harness: it runs a source
notebook (solutions and hidden tests in place) with one answer cell swapped for
other code, and reports every graded test cell by nbgrader's own scoring rule
(``nbgrader.utils.determine_grade``): an error output or anything written to
stderr scores zero; a final value that reads as a number is partial credit.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbgrader.utils import determine_grade

from mlcourse.grading.notebook import execute
from mlcourse.grading.rules import is_answer, is_graded_test, nbgrader_meta

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"
NOTEBOOKS = REPO / "notebooks"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
# nbgrader's own marker for autograding, on top of mlcourse.grading.limits.KERNEL_ENV.
AUTOGRADE_ENV = {"NBGRADER_EXECUTION": "autograde"}


def source_notebooks(root: Path = SOLUTIONS) -> list[Path]:
    """``root/NAME/NAME.ipynb`` for every assignment folder, sorted."""
    if not root.is_dir():
        return []
    return sorted(p / f"{p.name}.ipynb" for p in root.iterdir() if (p / f"{p.name}.ipynb").is_file())


# A graded cell that the autograder scores (code, not an answer).
is_test_cell = is_graded_test


def is_answer_cell(cell) -> bool:
    """An autograded exercise's answer: a code solution cell without points of its own."""
    return cell.cell_type == "code" and is_answer(cell) and not nbgrader_meta(cell).get("grade")


def graded_test_ids(nb) -> list[str]:
    return [nbgrader_meta(c)["grade_id"] for c in nb.cells if is_test_cell(c)]


def answer_cell_ids(nb) -> list[str]:
    return [nbgrader_meta(c)["grade_id"] for c in nb.cells if is_answer_cell(c)]


@dataclass
class CellResult:
    """What the autograder would make of one graded test cell."""

    passed: bool
    score: float
    max_score: float
    output: str  # everything the cell printed, tracebacks included
    stderr: bool  # the cell wrote to stderr (nbgrader scores that zero)
    error: str  # "ExceptionName: message", or ""


def _output_text(output) -> str:
    kind = output.get("output_type")
    if kind == "stream":
        return output.get("text", "")
    if kind == "error":
        return "\n".join(output.get("traceback", [])) + "\n"
    if kind in ("execute_result", "display_data"):
        return output.get("data", {}).get("text/plain", "") + "\n"
    return ""


def cell_result(cell) -> CellResult:
    score, max_score = determine_grade(cell)
    outputs = cell.get("outputs", [])
    errors = [o for o in outputs if o.get("output_type") == "error"]
    return CellResult(
        passed=score == max_score,
        score=float(score or 0.0),
        max_score=float(max_score),
        output="".join(_output_text(o) for o in outputs),
        stderr=any(o.get("output_type") == "stream" and o.get("name") == "stderr" for o in outputs),
        error=f"{errors[0].get('ename')}: {errors[0].get('evalue')}" if errors else "",
    )


def run_with_replacement(
    source_nb_path: Path | str,
    grade_id_of_answer_cell: str | None,
    new_source: str | None,
    timeout: int = 120,
) -> dict[str, CellResult]:
    """Execute the autograde view of a source notebook with one answer replaced.

    The view is the source as nbgrader's autograder sees a perfect submission
    (solution regions and hidden tests in place), except that the cell whose
    ``grade_id`` is ``grade_id_of_answer_cell`` holds ``new_source``. With
    ``None`` for both, the source runs unchanged. Returns ``grade_id -> CellResult``
    for every graded test cell, in notebook order.

    Example::

        results = run_with_replacement("solutions/01-data/01-data.ipynb",
                                       "split-answer", "def split(X, y): return X, y")
        assert not results["split-tests"].passed
    """
    path = Path(source_nb_path).resolve()
    nb = nbformat.read(path, as_version=4)
    if grade_id_of_answer_cell is not None:
        cells = [c for c in nb.cells if nbgrader_meta(c).get("grade_id") == grade_id_of_answer_cell]
        if not cells:
            raise KeyError(
                f"{path.name} has no cell with grade_id {grade_id_of_answer_cell!r}; "
                f"its answer cells are {answer_cell_ids(nb)}"
            )
        cells[0].source = new_source
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    execute(nb, path.parent, timeout=timeout, env=AUTOGRADE_ENV)
    return {nbgrader_meta(c)["grade_id"]: cell_result(c) for c in nb.cells if is_test_cell(c)}


def run_source(source_nb_path: Path | str, timeout: int = 120, judged: bool = True):
    """Execute a source notebook unchanged; returns the executed notebook. ``judged=False``
    runs its test cells in the kernel, as the learner's Lab does."""
    path = Path(source_nb_path).resolve()
    nb = nbformat.read(path, as_version=4)
    return execute(nb, path.parent, timeout=timeout, env=AUTOGRADE_ENV, judged=judged)


# ---- the checks without a kernel -------------------------------------------------------------


def _python_only(source: str) -> str:
    """A cell's code with IPython magics and shell lines dropped (`%matplotlib inline`)."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def run_in_process(source_nb_path: Path | str, replace: dict[str, str] | None = None,
                   skip: set[str] = frozenset(), loopback: bool = True):
    """Grade a source notebook in this process, with no kernel: ``grade_id -> Verdict``.

    Every code cell that is not a graded test runs with ``exec`` in one fresh
    namespace, in order (an error is kept and the next cell runs, as Run All
    with errors allowed would); ``replace`` swaps answer cells' sources and
    ``skip`` names cells (figures, experiments) that no check needs. Each graded
    test cell is judged by ``mlcourse.grading.cells`` with the namespace as the
    learner's side: the same parse and checks the judge runs in grading. With
    ``loopback`` (the default) every learner object reaches the checks through
    ``mlcourse.grading.remote.Loopback``, the judge's encoding without a kernel, so
    a check that would not work in grading fails here too.
    """
    import matplotlib

    from mlcourse.grading import cells
    from mlcourse.grading.remote import Loopback

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(source_nb_path).resolve()
    nb = nbformat.read(path, as_version=4)
    replace = dict(replace or {})
    namespace: dict = {"__name__": "__main__"}
    lookup = Loopback(namespace).lookup if loopback else namespace.__getitem__
    verdicts = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        gid = nbgrader_meta(cell).get("grade_id")
        if gid in skip:
            continue
        source = replace.pop(gid, cell.source)
        if is_test_cell(cell):
            verdicts[gid] = cells.run(cells.parse(source), lookup)
            continue
        try:
            exec(compile(_python_only(source), f"<cell {gid}>", "exec"), namespace)
        except Exception:
            pass
        plt.close("all")
    if replace:
        raise KeyError(f"{path.name} has no cells {sorted(replace)}")
    return verdicts
