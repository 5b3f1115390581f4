"""A class batch against submissions built to stop, hang or exhaust it (issue 21).

Each hostile case is handed in beside honest ones and graded through the real batch
(``autograde.grade``, in this process: ``workers=0``): the batch must finish, each
hostile case costs only itself (0 and a reason that names the problem, or the grade
nbgrader gives when the oddity is harmless), and the honest submissions keep full marks.

The fixture is 99-fixture (``double``: 1 visible point, 2 hidden). Cases are small: a
cap is exceeded by a little, never by gigabytes.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell
from nbtools import FIXTURES

from grader import autograde, intake, release, worker
from grader.course import Course, build_course
from grader.jobs import Settings
from mlcourse.grading import integrity, limits

NAME = "99-fixture"
NB = f"{NAME}.ipynb"
SETTINGS = Settings(memory="512MiB", time_limit=40, cell_time_limit=6, processes=64)
RIGHT = "def double(x):\n    return 2 * x\n"

pytestmark = pytest.mark.slow


# ---- building submissions ----------------------------------------------------------------


def released(course: Course) -> dict:
    """The released notebook with the right answer, as plain JSON."""
    nb = json.loads((course.release_dir / NAME / NB).read_text(encoding="utf-8"))
    cell(nb, "double-answer")["source"] = RIGHT
    return nb


def cell(nb: dict, gid: str) -> dict:
    return next(c for c in nb["cells"] if isinstance(c.get("metadata", {}).get("nbgrader"), dict)
                and c["metadata"]["nbgrader"].get("grade_id") == gid)


def nested(depth: int):
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def brackets(depth: int) -> str:
    return "[" * depth + "]" * depth


def deep_chain(top: Path, depth: int, name: str = "d") -> None:
    """``depth`` folders, one inside the next (``os.makedirs`` recurses: a loop here)."""
    top.mkdir(parents=True, exist_ok=True)
    fd = os.open(top, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=fd)
            inner = os.open(name, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)


def edited(course: Course, edit) -> str:
    nb = released(course)
    edit(nb)
    return json.dumps(nb)


def set_meta(gid: str, key: str, value):
    return lambda nb: cell(nb, gid)["metadata"]["nbgrader"].__setitem__(key, value)


def corpus(course: Course) -> dict:
    """student -> (how to hand it in, expected score, words its reason must hold or None).

    How to hand it in: notebook text (str), or a function of the submission folder."""
    honest = json.dumps(released(course))

    def with_files(make):
        def hand_in(folder: Path):
            folder.mkdir(parents=True)
            (folder / NB).write_text(honest, encoding="utf-8")
            make(folder)
        return hand_in

    def with_notebook(write):
        def hand_in(folder: Path):
            folder.mkdir(parents=True)
            write(folder / NB)
        return hand_in

    def data_files(folder: Path):
        (folder / "data" / "raw" / "2024").mkdir(parents=True)
        (folder / "data" / "raw" / "2024" / "points.csv").write_text("x,y\n1,2\n")
        for i in range(20):
            (folder / f"note-{i}.txt").write_text(str(i))
        (folder / "odd name [*]? é\nnewline.txt").write_text("fine")
        os.mkfifo(folder / "pipe")
        (folder / ".ipynb_checkpoints").mkdir()
        (folder / ".ipynb_checkpoints" / NB).write_text("{}")

    def deep_metadata(nb):
        nb["cells"].append(new_markdown_cell("mine", metadata={"deep": nested(limits.MAX_JSON_DEPTH - 5)}))

    def many_files(folder: Path):
        for i in range(limits.MAX_SUBMISSION_FILES + 5):
            (folder / f"f{i}").write_bytes(b"x")

    def no_metadata(nb):
        del cell(nb, "double-hidden")["metadata"]

    def odd_type(nb):
        cell(nb, "double-visible")["cell_type"] = "banana"

    def big_cell(nb):
        nb["cells"].append(new_code_cell("x = 1  # " + "y" * (limits.MAX_CELL_SOURCE + 10)))

    def many_cells(nb):
        nb["cells"] += [new_code_cell(f"n = {i}") for i in range(limits.MAX_CELLS)]

    def deep_json(depth):
        # written as text: Python's own JSON and nbformat recurse on a value this deep
        return edited(course, lambda nb: nb["cells"].append(
            new_code_cell("1", metadata={"deep": "DEEP"}))).replace('"DEEP"', brackets(depth))

    def deep_output(nb):
        c = new_code_cell("1")
        c["outputs"] = [{"output_type": "display_data", "metadata": {},
                         "data": {"application/json": {"a": "DEEP"}}}]
        c["execution_count"] = None
        nb["cells"].append(c)

    def planted_link(target: Path):
        return with_notebook(lambda path: path.symlink_to(target))

    source = course.source_notebook(NAME)
    latin = released(course)
    latin["cells"].append(new_markdown_cell("caf\u00e9 cr\u00e8me"))
    latin1 = json.dumps(latin, ensure_ascii=False).encode("latin-1")
    return {
        # honest: full marks, whatever they carry beside the notebook
        "honest": (honest, 3, None),
        "honest-with-files": (with_files(data_files), 3, None),
        "honest-deep-metadata": (edited(course, deep_metadata), 3, None),
        "odd [name]*? é": (honest, 3, None),
        # metadata nbgrader can grade around: graded as nbgrader grades them
        "meta-reviewed": (edited(course, lambda nb: nb["cells"].append(
            new_markdown_cell("looked at it", metadata={"nbgrader": "reviewed"}))), 3, None),
        "meta-list": (edited(course, lambda nb: nb["cells"].append(
            new_code_cell("1", metadata={"nbgrader": [1, {"grade": True}]}))), 3, None),
        "meta-null": (edited(course, lambda nb: nb["cells"].append(
            new_code_cell("1", metadata={"nbgrader": None}))), 3, None),
        "meta-id-number": (edited(course, set_meta("double-hidden", "grade_id", 7)), 3, None),
        "meta-id-dict": (edited(course, lambda nb: nb["cells"].append(new_code_cell("1", metadata={
            "nbgrader": {"grade_id": {"a": 1}, "grade": True, "points": 9, "schema_version": 3,
                         "solution": False, "locked": False}}))), 3, None),
        # metadata nbgrader stops on: refused, naming the cell and the key
        "meta-points-text": (edited(course, set_meta("double-visible", "points", "lots")), 0,
                             ["double-visible", "points"]),
        "meta-flag-text": (edited(course, set_meta("double-answer", "solution", "no")), 0,
                           ["double-answer", "solution"]),
        "meta-schema-new": (edited(course, set_meta("intro", "schema_version", 99)), 0,
                            ["intro", "schema_version"]),
        "meta-missing": (edited(course, no_metadata), 0, ["metadata"]),
        "cell-type-odd": (edited(course, odd_type), 0, ["not a valid notebook"]),
        # the folder: too deep, too many files, links, a file for a folder
        "deep-folders": (with_files(lambda f: deep_chain(f / "chain", 1100)), 0, ["nested"]),
        "many-files": (with_files(many_files), 0, [str(limits.MAX_SUBMISSION_FILES), "files"]),
        "name-not-utf8": (with_files(lambda f: (f / os.fsdecode(b"data-\xff.csv")).write_text("1")),
                          0, ["UTF-8", "rename"]),
        "notebook-folder": (with_notebook(lambda path: path.mkdir()), 0, ["is a folder"]),
        "notebook-link": (planted_link(source), 0, ["is a link"]),
        "folder-is-file": (lambda folder: folder.write_text(honest), 0, ["is a file"]),
        "folder-link": (lambda folder: folder.symlink_to(source.parent), 0, ["is a link"]),
        # the notebook: too large a cell, too many cells, too deep, not text
        "big-cell": (edited(course, big_cell), 0, ["KB a cell"]),
        "many-cells": (edited(course, many_cells), 0, [str(limits.MAX_CELLS), "cells"]),
        "deep-json": (deep_json(5000), 0, ["nests", str(limits.MAX_JSON_DEPTH)]),
        "deep-json-parsable": (deep_json(limits.MAX_JSON_DEPTH + 50), 0, ["nests"]),
        "deep-output": (edited(course, deep_output).replace('"DEEP"', brackets(3000)), 0, ["nests"]),
        "not-utf8": (with_notebook(lambda path: path.write_bytes(latin1)), 0, ["UTF-8"]),
        "timestamp-garbage": (with_files(lambda f: (f / "timestamp.txt").write_text("x" * 100_000)),
                              None, None),
    }


def hand_in(course: Course, student: str, how) -> None:
    folder = course.submitted / student / NAME
    if isinstance(how, str):
        folder.mkdir(parents=True)
        (folder / NB).write_text(how, encoding="utf-8")
    else:
        folder.parent.mkdir(parents=True, exist_ok=True)
        how(folder)


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory):
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    where = tmp_path_factory.mktemp("hostile")
    course = build_course(where, [FIXTURES / NAME])
    release.generate(course, NAME)
    yield course
    worker.remove_tree(where)  # the folder chains: pytest's own cleanup recurses


@pytest.fixture(scope="module")
def graded(course_dir):
    course = course_dir
    cases = corpus(course)
    for student, (how, _, _) in cases.items():
        hand_in(course, student, how)
    # A student folder that is a link to another's: never graded as this student.
    (course.submitted / "student-link").symlink_to(course.submitted / "honest")
    cases["student-link"] = (None, 0, ["is a link"])
    rows = autograde.grade(course, workers=0, settings=SETTINGS, echo=lambda line: None)
    return {"course": course, "cases": cases, "rows": {r.student: r for r in rows}}


def test_the_batch_reaches_every_case_and_each_costs_only_itself(graded):
    rows, cases = graded["rows"], graded["cases"]
    assert set(rows) == set(cases), f"missing from the batch: {set(cases) - set(rows)}"
    wrong: dict[str, list[str]] = {}
    for student, (_, score, words) in cases.items():
        row, said = rows[student], wrong.setdefault(student, [])
        if score is not None and row.score != score:
            said.append(f"scored {row.score:g}, expected {score}: {row.error!r}")
        if words is None and score and row.error:
            said.append(f"an error for an honest case: {row.error}")
        elif words is not None:
            missing = [w for w in words if w.lower() not in row.error.lower()]
            if missing or not row.error:
                said.append(f"reason {row.error!r} lacks {missing}")
    wrong = {k: v for k, v in wrong.items() if v}
    assert not wrong, json.dumps(wrong, indent=1)


def test_reasons_are_short_plain_text(graded):
    for row in graded["rows"].values():
        assert len(row.error) <= limits.ERROR_CHARS + 10
        assert "Traceback" not in row.error, row.error
        row.error.encode("utf-8")


def test_every_refusal_is_in_the_csv_with_its_reason(graded):
    import csv

    course = graded["course"]
    with open(course.grades_csv, newline="", encoding="utf-8") as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}
    for student in ("deep-folders", "many-files", "big-cell", "deep-json", "meta-points-text"):
        assert rows[student]["score"] == "0" and rows[student]["error"], rows[student]


def test_a_kernel_that_leaves_a_folder_chain_is_graded_and_its_scratch_removed(tmp_path, monkeypatch):
    """Without the sandbox (its tmpfs would take the chain away), the chain lands in the
    scratch course, thousands deep: removing it must not stop or hang the batch."""
    course = build_course(tmp_path / "course", [FIXTURES / NAME])
    release.generate(course, NAME)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    chain = ("import os\nfd = os.open('.', os.O_RDONLY)\nfor _ in range(1200):\n"
             "    os.mkdir('d', dir_fd=fd)\n    inner = os.open('d', os.O_RDONLY, dir_fd=fd)\n"
             "    os.close(fd)\n    fd = inner\nos.close(fd)\nprint('built')")

    def add_chain(nb):
        at = nb["cells"].index(cell(nb, "double-visible")) + 1
        nb["cells"].insert(at, new_code_cell(chain))

    hand_in(course, "chain", edited(course, add_chain))
    hand_in(course, "honest", json.dumps(released(course)))
    rows = autograde.grade(course, workers=0, settings=Settings(**{**SETTINGS.as_dict(),
                                                                    "sandbox": False}),
                           echo=lambda line: None)
    by_student = {r.student: r for r in rows}
    assert set(by_student) == {"chain", "honest"} and by_student["honest"].score == 3, rows
    # nbgrader walks the graded folder recursively (its permissions, its cleanup): the chain
    # costs this submission, with the reason, and nothing else.
    chained = by_student["chain"]
    assert chained.score == 3 or "nests too deep" in chained.error, chained
    assert not [p for p in scratch.iterdir() if p.name.startswith("mlcg-")], "scratch left behind"


# ---- the parts, without a batch ----------------------------------------------------------


def test_remove_tree_removes_a_chain_deeper_than_python_recurses(tmp_path):
    deep_chain(tmp_path / "top", sys.getrecursionlimit() + 200)
    worker.remove_tree(tmp_path / "top")
    assert not (tmp_path / "top").exists()


def test_run_returns_plain_data_whatever_grade_job_raises(monkeypatch):
    def explode(*args):
        def recurse(n):
            return recurse(n + 1)
        recurse(0)

    monkeypatch.setattr(worker, "grade_job", explode)
    job = {"student": "s", "assignment": NAME, "files": {}, "settings": Settings().as_dict(),
           "fingerprint": "x"}
    out = worker.run(job, {"name": NAME, "source_files": {}, "course_files": {}}, b"")
    assert out["ok"] is False and "RecursionError" in out["error"]
    json.dumps(out)  # plain data, nothing to pickle


def test_json_depth_counts_brackets_outside_strings():
    assert intake.json_depth(b'{"a": [1, {"b": "[[[[{{{"}]}') == 3
    assert intake.json_depth(b'"\\"[[[["') == 0
    assert intake.json_depth(brackets(5000).encode()) == 5000


def test_the_read_folder_walk_is_capped_without_recursion(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_SUBMISSION_FILES", 10)
    folder = tmp_path / "sub"
    folder.mkdir()
    for i in range(11):
        (folder / f"f{i}").write_bytes(b"x")
    files, why = intake.read_folder(folder)
    assert not files and "more than 10 files" in why
    (folder / "f10").unlink()
    files, why = intake.read_folder(folder)
    assert len(files) == 10 and not why


def test_the_cell_cap_is_within_what_the_scan_reads():
    assert limits.MAX_CELL_SOURCE <= integrity.MAX_CELL_BYTES
    assert limits.MAX_NOTEBOOK_SOURCE <= integrity.MAX_TOTAL_BYTES


def test_odd_metadata_never_raises_in_intake(course_dir):
    """Every shape a cell's nbgrader metadata may take in valid nbformat: a reason or "",
    never an exception."""
    course = course_dir
    base = released(course)
    for value in ["reviewed", [1], 3, None, {"grade_id": {"x": 1}}, {"grade_id": "double-visible"},
                  {"grade_id": "double-visible", "points": float("nan")}, True]:
        nb = copy.deepcopy(base)
        nb["cells"].append(new_code_cell("1", metadata={"nbgrader": value}))
        cell(nb, "double-answer")["metadata"]["nbgrader"]["points"] = [value]
        files = {NB: json.dumps(nb).encode()}
        assert isinstance(intake.check_submission(course, NAME, "x", files), str)
    nbformat.validate(nbformat.reads(json.dumps(base), as_version=4))


FLOOD_GRADER = """
import sys
from pathlib import Path
from grader import autograde
from grader.course import Course
import torch, nbclient  # what a grading process holds anyway

def peak():
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("VmHWM"))

course = Course(Path(sys.argv[1]), db_url_override="sqlite:///" + sys.argv[1] + "/gradebook.db")
before = peak()
rows = autograde.grade(course, workers=0, echo=lambda line: None)
print({r.student: r.score for r in rows}, peak() - before)
"""


def test_floods_of_output_are_bounded_in_the_grading_process(tmp_path):
    """Outputs far past the caps, the judge's own key included, and one message past the
    largest the grader takes: each submission is graded, its graded copy stays within the
    output caps, and the grading process's peak memory grows by less than the stated bound."""
    from mlcourse.grading.agent import MIME

    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    course = build_course(tmp_path, [FIXTURES / NAME])
    release.generate(course, NAME)
    size = limits.MAX_MESSAGE // 2
    floods = {
        "displays": f"from IPython.display import display\nfor i in range(3):\n"
                    f"    display({{{MIME!r}: 'x' * {size}}}, raw=True)\n",
        "update": "from IPython.display import display, update_display\n"
                  "h = display({'text/plain': 's'}, raw=True, display_id='d')\n"
                  f"update_display({{'text/plain': 'z' * {size}}}, raw=True, display_id='d')\n",
        "stdout": f"import sys\nfor i in range(8):\n    sys.stdout.write('y' * {size // 8})\n",
        "too-big": f"from IPython.display import display\ndisplay({{'text/plain': 'w' * "
                   f"{limits.MAX_MESSAGE + 1024}}}, raw=True)\n",
    }
    for student, code in floods.items():
        nb = nbformat.read(course.source_notebook(NAME), as_version=4)
        nb.cells.insert(2, new_code_cell(code))
        (course.submitted / student / NAME).mkdir(parents=True)
        nbformat.write(nb, course.submitted / student / NAME / NB)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.run([sys.executable, "-c", FLOOD_GRADER, str(course.root)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    scores, growth = proc.stdout.strip().splitlines()[-1].rsplit(" ", 1)
    scores = ast.literal_eval(scores)
    assert set(scores) == set(floods)
    for student in ("displays", "update", "stdout"):
        assert scores[student] == 3, scores
    for graded in (course.root / "autograded").glob(f"*/{NAME}/{NB}"):
        assert graded.stat().st_size < limits.NOTEBOOK_OUTPUT_CHARS + 1_000_000, graded
    assert int(growth) < limits.GRADER_MEMORY_GROWTH, (
        f"the grading process grew by {int(growth) >> 20} MiB")
