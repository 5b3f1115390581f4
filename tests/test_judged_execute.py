"""What ``grader/judged_execute.py`` adds to nbgrader's preprocessors, beside the judge: a
metadata check that gives nbgrader's verdicts without re-checking the schema for every cell,
and kernels that are killed after the last cell rather than waited for.
"""

from __future__ import annotations

import copy

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader.nbgraderformat import MetadataValidator, ValidationError
from nbgrader.preprocessors import CheckCellMetadata

from grader.judged_execute import CheckCellMetadataOnce, JudgedExecute, SchemaOnceValidator
from mlcourse.grading import notebook


def graded(name: str, **changes) -> dict:
    meta = {"grade": True, "solution": False, "locked": True, "points": 1, "grade_id": name,
            "schema_version": 3}
    meta.update(changes)
    return {k: v for k, v in meta.items() if v is not ...}


# nbgrader metadata an honest or a broken notebook may carry; each one alone in a notebook.
CASES = [
    graded("a"),
    graded("a", points=2.5),
    graded("a", points=-1),                       # negative points: the schema refuses
    graded("a", points="1"),                      # a string for a number
    graded("a", grade_id=7),
    graded("a", grade_id=...),                    # no grade_id
    graded("a", locked=...),                      # a required key missing
    graded("a", schema_version=2),                # too old: nbgrader's own error
    graded("a", schema_version=4),                # too new
    graded("a", extra="kept?"),                   # an unknown key
    {"grade": False, "solution": True, "locked": False, "grade_id": "b", "schema_version": 3},
    {"grade": False, "solution": False, "locked": False, "schema_version": 3},
    {"task": True, "grade": False, "solution": False, "locked": True, "points": 3, "grade_id": "t",
     "schema_version": 3},
    {},
]


def verdict(validator, cell_meta, cell_type="code"):
    cell = (new_code_cell if cell_type == "code" else new_markdown_cell)("x = 1")
    cell.metadata["nbgrader"] = copy.deepcopy(cell_meta)
    nb = new_notebook(cells=[cell])
    try:
        validator.validate_nb(nb)
    except ValidationError as exc:
        return "invalid", type(exc).__name__
    except Exception as exc:  # nbgrader's own failure on odd metadata: the same either way
        return "error", type(exc).__name__
    return "valid", None


@pytest.mark.parametrize("cell_type", ["code", "markdown"])
@pytest.mark.parametrize("meta", CASES, ids=[str(i) for i in range(len(CASES))])
def test_the_schema_checked_once_gives_nbgraders_verdict(meta, cell_type):
    assert verdict(SchemaOnceValidator(), meta, cell_type) == verdict(MetadataValidator(), meta, cell_type), meta


def test_some_cases_are_refused_so_the_comparison_means_something():
    verdicts = {verdict(MetadataValidator(), m)[0] for m in CASES}
    assert verdicts >= {"valid", "invalid"}, verdicts


def test_a_duplicated_grade_id_fails_the_notebook_as_in_nbgrader():
    cells = [new_code_cell("x = 1"), new_code_cell("y = 2")]
    for cell in cells:
        cell.metadata["nbgrader"] = graded("same")
    nb = new_notebook(cells=cells)
    for check in (CheckCellMetadata(), CheckCellMetadataOnce()):
        with pytest.raises(ValidationError, match="may be corrupted"):
            check.preprocess(copy.deepcopy(nb), {})


def test_a_graded_kernel_is_killed_not_waited_for(tmp_path):
    """Its atexit hooks never run: the judge does not wait for them (nbclient's graceful end
    waits for them, about a second a kernel and up to 5 s for one that lingers)."""
    marker = tmp_path / "atexit-ran"
    nb = new_notebook(cells=[new_code_cell(
        f"import atexit\n_ = atexit.register(lambda: open({str(marker)!r}, 'w').write('ran'))")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.execute(nb, tmp_path, timeout=60)
    assert nb.cells[0].outputs == [] and not marker.exists(), "the kernel was left to run its atexit hooks"


def test_nbgraders_route_kills_its_kernels_too():
    assert JudgedExecute().shutdown_kernel == "immediate"
