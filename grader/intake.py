"""From the submission folders to ``Job``s: what the coordinator reads before anything runs.

``collect`` walks ``submitted/<student>/<assignment>/``, reads each folder (regular files
only, capped in bytes, files and depth: ``read_folder``), fingerprints it with everything
its grade depends on (``fingerprint``, ``assignment_fingerprint``), skips what the ledger
says is graded from the same inputs already, refuses what cannot be graded with the reason
(``check_submission``), and makes a ``Job`` of the rest.

Everything here reads what a learner handed in, so nothing may raise, recurse or run
without a bound on it: a refusal (the submission scores 0, with the reason) costs that
submission only, and the caps (``limits``) are far above what an honest folder holds.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import nbformat

from grader import gradebook
from grader.course import COURSE_FILES, Course
from grader.jobs import Assignment, Job, Settings
from mlcourse.grading import limits
from mlcourse.grading.limits import MAX_SUBMISSION_BYTES, MiB
from mlcourse.grading.rules import grade_id, is_answer, nbgrader_meta

SKIPPED_FOLDERS = (".ipynb_checkpoints", "__pycache__")
# A JSON string, its escapes included (written unrolled: no backtracking on a long one).
JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class Refused(NamedTuple):
    """A submission that cannot be graded, and why (it scores 0)."""

    assignment: str
    student: str
    why: str
    fingerprint: str


def submissions(course: Course, assignments: Sequence[str], students: Sequence[str] | None,
                ) -> Iterator[tuple[str, str]]:
    """``(assignment, student)`` of every submission folder, assignment by assignment (and of
    anything else handed in under that name, a file or a link, for ``collect`` to refuse).
    A student folder whose name is not text (not UTF-8) cannot be recorded, and is skipped."""
    for assignment in assignments:
        if not course.submitted.is_dir():
            return
        for student_dir in sorted(course.submitted.iterdir()):
            if not os.path.lexists(student_dir / assignment):
                continue
            if students and student_dir.name not in students:
                continue
            if not is_text(student_dir.name):
                continue
            yield assignment, student_dir.name


def is_text(name: str) -> bool:
    """Can ``name`` (a file name as the OS gave it) be written as UTF-8 text?"""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_folder(folder: Path) -> tuple[dict, str]:
    """A folder's regular files (links and ``SKIPPED_FOLDERS`` left out), or "" and the reason
    it cannot be graded: the folder is a link or a file; its files are more than
    ``MAX_SUBMISSION_BYTES``, or it holds more than ``MAX_SUBMISSION_FILES`` entries, or
    folders nested deeper than ``MAX_SUBMISSION_DEPTH``; a name is not UTF-8 text.

    Walked with a stack, not recursion, and never past a cap: a folder chain thousands
    deep or a million files cost no more than the caps."""
    if folder.is_symlink():
        return {}, f"{folder.name} is a link, not a folder: hand in the folder itself"
    if not folder.is_dir():
        return {}, f"{folder.name} is a file, not a folder: hand in the folder the notebook is in"
    files, total, entries = {}, 0, 0
    stack: list[tuple[Path, tuple[str, ...]]] = [(folder, ())]
    while stack:
        where, parts = stack.pop()
        try:
            listing = os.scandir(where)
        except OSError as exc:
            return {}, f"the folder {'/'.join(parts) or '.'} cannot be read ({exc.strerror})"
        with listing:
            for entry in listing:
                entries += 1
                if entries > limits.MAX_SUBMISSION_FILES:
                    return {}, (f"the submission folder holds more than "
                                f"{limits.MAX_SUBMISSION_FILES} files and folders: hand in the "
                                f"notebook and the few files it reads")
                rel = (*parts, entry.name)
                if not is_text(entry.name):
                    return {}, (f"a file name is not UTF-8 text ({os.fsencode(entry.name)!r} in "
                                f"{'/'.join(parts) or 'the folder'}): rename it")
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                mode = info.st_mode
                if stat.S_ISDIR(mode):
                    if entry.name in SKIPPED_FOLDERS:
                        continue
                    if len(rel) > limits.MAX_SUBMISSION_DEPTH:
                        return {}, (f"folders nested more than {limits.MAX_SUBMISSION_DEPTH} "
                                    f"deep in the submission folder ({'/'.join(rel[:3])}/...): "
                                    f"hand in the notebook and the few files it reads")
                    stack.append((Path(entry.path), rel))
                elif stat.S_ISREG(mode):  # never a link (out of the learner's folder) or a fifo
                    total += info.st_size
                    if total > MAX_SUBMISSION_BYTES:
                        return {}, (f"the submission folder holds more than "
                                    f"{MAX_SUBMISSION_BYTES // MiB} MB: remove data files and outputs")
                    try:
                        files["/".join(rel)] = Path(entry.path).read_bytes()
                    except OSError as exc:
                        return {}, f"{'/'.join(rel)} cannot be read ({exc.strerror})"
    return dict(sorted(files.items())), ""


def read_submission(course: Course, assignment: str, student: str) -> tuple[dict, str]:
    """``read_folder`` of ``submitted/<student>/<assignment>``, refused when the student's
    folder is a link (it would hand in another folder's files under this name)."""
    if (course.submitted / student).is_symlink():
        return {}, f"the student folder {student} is a link: hand in a folder of your own"
    return read_folder(course.submitted / student / assignment)


def expected_cell_ids(source: Path) -> set[str]:
    """grade_ids of the graded and answer cells of a source notebook."""
    nb = nbformat.read(source, as_version=4)
    return {grade_id(cell) for cell in nb.cells
            if nbgrader_meta(cell).get("grade") or is_answer(cell)}


def json_depth(data: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest, counted without parsing it
    (``json.loads`` recurses, and raises ``RecursionError`` on a deep enough text)."""
    import numpy as np

    brackets = JSON_STRING.sub(b"", data).translate(None, NOT_BRACKETS)
    if not brackets:
        return 0
    steps = np.frombuffer(brackets.translate(bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")),
                          dtype=np.int8)
    return int(np.cumsum(steps, dtype=np.int64).max())


def read_notebook(data: bytes, name: str):
    """The notebook in ``data`` (nbformat 4), or why it is not one that can be graded: too
    large, not UTF-8, nested too deep, not JSON, not a valid notebook, too many cells."""
    if len(data) > limits.MAX_NOTEBOOK_BYTES:
        return None, (f"{name} is {len(data) / MiB:.0f} MB, more than the "
                      f"{limits.MAX_NOTEBOOK_BYTES // MiB} MB a notebook may be: clear its outputs")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"{name} is not UTF-8 text (byte {exc.start}): save it again from Jupyter"
    if json_depth(data) > limits.MAX_JSON_DEPTH:
        return None, (f"{name} nests lists and objects more than {limits.MAX_JSON_DEPTH} deep "
                      f"(in its metadata or outputs): no notebook saved by Jupyter does")
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises several kinds for unreadable JSON
        return None, f"not a readable notebook ({type(exc).__name__}: {first_line(exc)})"
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        return None, f"not a valid notebook: {str(exc.message)[:200]}"
    except Exception as exc:  # the validator on odd input: refuse it, never stop the batch
        return None, f"not a valid notebook ({type(exc).__name__}: {first_line(exc)})"
    if len(nb.cells) > limits.MAX_CELLS:
        return None, (f"{name} has {len(nb.cells)} cells, more than the {limits.MAX_CELLS} a "
                      f"notebook may have: delete the scratch cells")
    return nb, ""


def first_line(exc: BaseException) -> str:
    lines = str(exc).splitlines()
    return lines[0][:200] if lines else ""


def source_problem(nb) -> str:
    """Why the cells' sources are too long to grade ("" when they are not): a cell of
    megabytes costs its worker gigabytes, and the integrity scan refuses it anyway."""
    total = 0
    for index, cell in enumerate(nb.cells, 1):
        size = len(cell.get("source") or "")
        total += size
        if size > limits.MAX_CELL_SOURCE:
            return (f"cell {index} ({cell.get('cell_type')}) holds {size / 1024:.0f} KB of text, "
                    f"more than the {limits.MAX_CELL_SOURCE // 1024} KB a cell may hold: keep data "
                    f"in files, not in cells")
        if total > limits.MAX_NOTEBOOK_SOURCE:
            return (f"the cells hold more than {limits.MAX_NOTEBOOK_SOURCE // MiB} MB of text "
                    f"together: keep data in files, not in cells")
    return ""


def metadata_problem(nb, known: set[str]) -> str:
    """Why the nbgrader metadata of one of the assignment's own cells (a grade_id in
    ``known``) is not what nbgrader can grade ("" when all are): nbgrader stops on a type
    its schema does not allow (points that are not a number, a flag that is not true or
    false...). Cells of the learner's own are nbgrader's to ignore, whatever they carry."""
    for index, cell in enumerate(nb.cells, 1):
        gid = grade_id(cell)
        if gid not in known:
            continue
        meta = nbgrader_meta(cell)
        problem = ""
        for key in ("schema_version", "grade", "locked", "solution"):
            if key not in meta:
                problem = problem or f"{key} is missing"
        for key in ("grade", "locked", "solution", "task"):
            if key in meta and not isinstance(meta[key], bool):
                problem = problem or f"{key} is {meta[key]!r:.40}, not true or false"
        version = meta.get("schema_version", 3)
        if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= 3:
            problem = problem or f"schema_version is {version!r:.40}, not 1 to 3"
        value = meta.get("points", 0)
        if not isinstance(value, int | float) or isinstance(value, bool) \
                or not math.isfinite(value) or value < 0:
            problem = problem or f"points is {value!r:.40}, not a number of points"
        for key, kind in (("checksum", str), ("cell_type", str)):
            if key in meta and not isinstance(meta[key], kind):
                problem = problem or f"{key} is {meta[key]!r:.40}, not text"
        if meta.get("cell_type", "code") not in ("code", "markdown", "raw"):
            problem = problem or f"cell_type is {meta['cell_type']!r:.40}"
        if problem:
            return (f"cell {index} (`{gid}`) has nbgrader metadata that was edited ({problem}): "
                    f"nbgrader cannot grade it; copy your answers into a fresh copy of the "
                    f"released notebook")
    return ""


def check_submission(course: Course, assignment: str, student: str,
                     files: dict | None = None) -> str:
    """Why this submission cannot be graded, or "" when it can.

    ``files``: the folder as ``read_folder`` read it (what the worker is given; read again
    when None). nbgrader itself skips misnamed notebooks silently and grades a notebook of
    another assignment as if the learner had deleted every answer; say so instead.
    """
    folder = course.submitted / student / assignment
    name = f"{assignment}.ipynb"
    if files is None:
        files, why = read_folder(folder)
        if why:
            return why
    if name not in files:
        path = folder / name
        if path.is_symlink():
            return f"{name} is a link, not a notebook: hand in the notebook file itself"
        if path.is_dir():
            return f"{name} is a folder, not a notebook: hand in the notebook file itself"
        others = sorted(rel for rel in files if rel.endswith(".ipynb") and "/" not in rel)
        if others:
            return f"expected {name}, found {', '.join(others)}: rename the notebook"
        return f"no notebook submitted (expected {folder.name}/{name})"
    nb, why = read_notebook(files[name], name)
    if why:
        return why
    why = source_problem(nb)
    if why:
        return why
    source = nbformat.read(course.source_notebook(assignment), as_version=4)
    why = metadata_problem(nb, {gid for cell in source.cells if (gid := grade_id(cell))})
    if why:
        return why
    found = {grade_id(cell) for cell in nb.cells if "nbgrader" in cell.metadata}
    expected = expected_cell_ids(course.source_notebook(assignment))
    # A learner may delete a cell or two (nbgrader adds graded ones back); a notebook
    # holding fewer than half of this assignment's answer and test cells is another one.
    present = found & expected
    if expected and len(present) * 2 < len(expected):
        return (
            f"foreign notebook: only {len(present)} of {assignment}'s {len(expected)} answer "
            f"and test cells are in it (expected e.g. {sorted(expected)[:3]}); "
            f"was another notebook submitted?"
        )
    return ""


def fingerprint(files: dict, base: str) -> str:
    """What a grade was computed from: the submission's files, and ``base``, its
    assignment's ``assignment_fingerprint``. Any change means grading again."""
    h = hashlib.sha256(base.encode())
    for rel in sorted(files):
        h.update(rel.encode() + b"\0" + hashlib.sha256(files[rel]).digest())
    return h.hexdigest()


def assignment_fingerprint(assignment: Assignment, settings: Settings | None = None) -> str:
    """What every grade of an assignment shares: its source folder, the course's grading
    files and code, the due date, the caps (computed once per assignment and batch)."""
    h = hashlib.sha256()
    for rel in sorted(assignment.source_files):
        h.update(rel.encode() + b"\0" + hashlib.sha256(assignment.source_files[rel]).digest())
    for name in sorted(assignment.course_files):
        h.update(name.encode() + assignment.course_files[name].encode())
    h.update(str(assignment.duedate).encode())
    h.update(code_digest().encode())
    h.update(json.dumps((settings or Settings()).as_dict(), sort_keys=True).encode())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """A digest of the ``mlcourse`` package: the checks every grade ran."""
    import mlcourse

    h = hashlib.sha256()
    for path in sorted(Path(mlcourse.__file__).parent.rglob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()


def collect(course: Course, todo: Iterable[tuple[str, str]], settings: Settings, force: bool,
            ) -> tuple[list[Job], dict[str, Assignment], list[Refused], int]:
    """Jobs for every submission that needs grading, and their assignments; submissions
    that cannot be graded (with why); how many were already graded from the same inputs."""
    course_files = {name: (course.root / name).read_text(encoding="utf-8") for name in COURSE_FILES}
    ledger = gradebook.Ledger(course.work_dir / gradebook.LEDGER)
    graded = gradebook.graded_keys(course)
    failures = gradebook.load_failures(course)
    duedates = gradebook.duedates(course)
    assignments: dict[str, Assignment] = {}
    bases: dict[str, str] = {}
    jobs, bad, current = [], [], 0
    for name, student in todo:
        if name not in assignments:
            source, _ = read_folder(course.solutions / name)
            assignments[name] = Assignment(name, source, course_files, duedates.get(name))
            bases[name] = assignment_fingerprint(assignments[name], settings)
        key = f"{student}/{name}"
        files, why = read_submission(course, name, student)
        fp = fingerprint(files, bases[name])
        if not force and ledger.current(key, fp) and (key in graded or key in failures):
            current += 1
            continue
        why = why or check_submission(course, name, student, files)
        if why:
            bad.append(Refused(name, student, why, fp))
            continue
        jobs.append(Job(student, name, files, settings, fp))
    return jobs, assignments, bad, current
