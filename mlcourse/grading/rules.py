"""What a notebook's cells are to grading, and how a graded cell scores: written once.

nbgrader keeps these rules in its ``utils``; the course reads them from here (the judge,
local grading, similarity, and ``grader/``'s intake, feedback and report). A submission may
carry anything in a cell's metadata, so every predicate takes whatever it is given and
never raises. Nothing here imports anything of the course.

>>> cell = {"cell_type": "code", "source": "", "outputs": [],
...         "metadata": {"nbgrader": {"grade": True, "grade_id": "t", "points": 2}}}
>>> is_graded_test(cell), score_cell(cell)
(True, (2.0, 2.0, ''))
>>> nbgrader_meta({"metadata": {"nbgrader": "reviewed"}})
{}
"""

from __future__ import annotations

SOLUTION_BEGIN = "### BEGIN SOLUTION"
SOLUTION_END = "### END SOLUTION"
HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"


def nbgrader_meta(cell) -> dict:
    """The cell's nbgrader metadata ({} for an ordinary cell, and for metadata that is not
    a mapping: a submission may carry anything there)."""
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    return meta if isinstance(meta, dict) else {}


def grade_id(cell) -> str | None:
    """The cell's grade_id when it has a usable one (a string), else None."""
    gid = nbgrader_meta(cell).get("grade_id")
    return gid if isinstance(gid, str) else None


def is_answer(cell) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_graded_test(cell) -> bool:
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and cell.get("cell_type") == "code"


def points(cell) -> float:
    """The points a graded cell is worth (0 for a value that is not a number)."""
    value = nbgrader_meta(cell).get("points", 0)
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def score_cell(cell) -> tuple[float, float, str]:
    """nbgrader's rule for a graded test cell: an error output, or anything written to
    stderr, scores 0; otherwise full points. Returns ``(points, max_points, message)``."""
    max_points = points(cell)
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return 0.0, max_points, f"{out.get('ename')}: {out.get('evalue')}"
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            text = "".join(out.get("text", ""))[:500]
            return 0.0, max_points, "wrote to stderr (nbgrader scores that zero): " + text
    return max_points, max_points, ""


def stub_answer(source: str) -> str:
    """What the released notebook shows in place of a solution region."""
    lines, out, inside = source.splitlines(), [], False
    for line in lines:
        stripped = line.strip()
        if stripped == SOLUTION_BEGIN:
            indent = line[: len(line) - len(line.lstrip())]
            out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]
            inside = True
        elif stripped == SOLUTION_END:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)
