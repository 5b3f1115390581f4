"""What goes out to learners, made by nbgrader from ``solutions/``: the released
notebooks (``generate``, ``release``), feedback pages (``feedback``); and the author's
tools that keep the sources tidy (``strip_solutions``, ``set_cells``).

Every notebook written here is ``normalise``d: no outputs, no run metadata, the
course's kernelspec, so writing it twice gives the same bytes.
"""

from __future__ import annotations

import platform
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import nbformat

from grader.course import REPO, Course, PipelineError, log_reason
from mlcourse.grading.rules import grade_id

# The kernel `make` installs (Makefile: ipykernel install --name python3 --display-name ...).
# Notebooks carry exactly this, so JupyterLab has nothing to rewrite when one is opened.
KERNELSPEC = {"display_name": "Python 3 (mlcourse)", "language": "python", "name": "python3"}


def language_info() -> dict:
    """What ipykernel reports and JupyterLab writes into a notebook when its kernel starts
    (the Python version is this interpreter's: the one `make` installs the kernel with)."""
    return {"codemirror_mode": {"name": "ipython", "version": 3}, "file_extension": ".py",
            "mimetype": "text/x-python", "name": "python", "nbconvert_exporter": "python",
            "pygments_lexer": "ipython3", "version": platform.python_version()}


def normalise(nb: nbformat.NotebookNode) -> str:
    """The notebook as canonical JSON: no outputs, no execution counts, no run metadata,
    the course's kernelspec.

    Writing the result twice gives the same bytes.
    """
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = language_info()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)  # timestamps written by JupyterLab
    nb.metadata.pop("widgets", None)  # saved widget state
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"


def generate(course: Course, assignment: str) -> None:
    """nbgrader generate_assignment --force, which also records the assignment in the gradebook."""
    result = course.run("GenerateAssignment", assignment_id=assignment)
    if not result["success"]:
        raise PipelineError(
            f"nbgrader generate_assignment failed for {assignment}: {log_reason(result)}\n"
            f"(source: {course.source_notebook(assignment)})"
        )


def release(
    course: Course | None = None,
    out_dir: Path | None = None,
    assignments: Sequence[str] | None = None,
) -> list[Path]:
    """Regenerate the student notebooks of every assignment into ``out_dir``.

    Each ``out_dir/<assignment>/`` is replaced by nbgrader's release of it, notebooks
    normalised; assignment folders without a source any more are removed.
    """
    course = course or Course()
    out_dir = Path(out_dir) if out_dir is not None else REPO / "notebooks"
    known = course.assignments()
    if not known:
        raise PipelineError(f"no assignments in {course.solutions} (expected NN-name/NN-name.ipynb)")
    chosen = course.check_assignments(assignments)
    written = []
    out_dir.mkdir(parents=True, exist_ok=True)
    for assignment in chosen:
        generate(course, assignment)
        written += _copy_release(course.release_dir / assignment, out_dir / assignment)
    if not assignments:
        for stale in sorted(out_dir.iterdir()):
            if stale.is_dir() and stale.name not in known and stale.name[:2].isdigit():
                print(f"removing {stale}: no solutions/{stale.name}/ any more")
                shutil.rmtree(stale)
    return written


def _copy_release(src: Path, dest: Path) -> list[Path]:
    if dest.exists():
        shutil.rmtree(dest)
    written = []
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if path.is_dir() or any(p in (".ipynb_checkpoints", "__pycache__") for p in rel.parts):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".ipynb":
            nb = nbformat.read(path, as_version=4)
            target.write_text(normalise(nb), encoding="utf-8")
        else:
            shutil.copyfile(path, target)
        written.append(target)
    return written


def feedback(
    course: Course | None = None, assignments: Sequence[str] | None = None, echo=print
) -> list[Path]:
    """Feedback HTML for every autograded submission, hidden tests removed."""
    course = course or Course()
    autograded = course.root / "autograded"
    chosen = list(assignments) if assignments else course.assignments()
    written = []
    for assignment in chosen:
        if not list(autograded.glob(f"*/{assignment}")):
            continue
        result = course.run("GenerateFeedback", assignment_id=assignment)
        if not result["success"]:
            echo(f"  {assignment}: feedback failed: {log_reason(result)}")
        written += sorted(course.feedback_dir.glob(f"*/{assignment}/*.html"))
    echo(f"wrote {len(written)} feedback files under {course.feedback_dir}")
    return written


# ---- the author's tools -------------------------------------------------------------------


def strip_solutions(course: Course | None = None) -> list[Path]:
    """Normalise every source notebook in place; returns the ones that changed."""
    course = course or Course()
    changed = []
    for assignment in course.assignments():
        path = course.source_notebook(assignment)
        before = path.read_text(encoding="utf-8")
        after = normalise(nbformat.reads(before, as_version=4))
        if after != before:
            path.write_text(after, encoding="utf-8")
            changed.append(path)
    return changed


def set_cells(notebook: Path, blocks_file: Path) -> list[str]:
    """Replace cells of a source notebook by grade_id (an author's tool for solutions/).

    ``blocks_file`` holds blocks that start with a line ``#%% <grade_id>``; each block
    becomes the whole source of the cell with that grade_id. Metadata and every other
    cell are kept. Returns the grade_ids replaced.
    """
    parts = re.split(r"^#%% (\S+)\n", blocks_file.read_text(encoding="utf-8"), flags=re.M)
    blocks = {parts[i]: parts[i + 1].strip("\n") for i in range(1, len(parts), 2)}
    nb = nbformat.read(notebook, as_version=4)
    found = []
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid in blocks:
            cell.source = blocks[gid]
            found.append(gid)
    missing = sorted(set(blocks) - set(found))
    if missing:
        raise PipelineError(f"no cells with grade_id {missing} in {notebook}")
    notebook.write_text(normalise(nb), encoding="utf-8")
    return found
