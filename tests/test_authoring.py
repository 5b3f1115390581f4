"""solutions/README.md's "Add an exercise", followed literally in a scratch copy of the course.

The guide marks the blocks an author writes with ``<!-- authoring-test: NAME -->``; this
test reads those blocks and nothing else: the answer cell, the check functions, the test
cell, the code that puts both cells into the notebook, the wrong answers and the shell
commands that release and grade.

How the new checks reach every process. A test cell names its check module
``mlcourse.grading.exercises.nb03``, and three processes import it: the judge (in
``mlcourse grade`` or nbgrader), the learner's kernel and nbgrader. The scratch course holds
a full copy of the ``mlcourse`` package (and of ``grader/``) and every command runs with
``PYTHONPATH`` set to the scratch folder. ``mlcourse`` is installed in editable mode through
a meta-path finder that Python consults after ``PYTHONPATH``, so each of those processes,
the kernel included (``notebook.kernel_env`` passes the environment on), imports the copy
with the appended checks, and the repository's files are never touched. No module is
added to the installed package and nothing needs cleaning up but the scratch folder.
One exception: the grading sandbox hands its kernel a clean environment without
``PYTHONPATH``, so the class commands (``grader.pipeline grade``, ``nbgrader autograde``) run
here with the sandbox off (``UNSANDBOXED``); the round-trip tests on the repository cover
the sandbox itself.

Grades are checked through ``mlcourse grade`` (``mlcourse.grading.notebook.grade``: the
solution at full marks, the untouched release at zero on every cell, each wrong answer at
zero on the new cell only), then through ``python -m grader.pipeline grade`` (gradebook and
grades.csv) and plain ``nbgrader autograde`` (gradebook).
"""

from __future__ import annotations

import ast
import csv
import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbtools import REPO
from test_roundtrip import scores, submit

from grader.course import Course

GUIDE = REPO / "solutions" / "README.md"
NAME = "03-losses"
BLOCK = re.compile(r"<!-- authoring-test: ([\w-]+) -->\s*\n```(\w*)\n(.*?)^```", re.S | re.M)
CELL_LINE = re.compile(r"^([✓✗]) (\S+)\s+([0-9.]+)/([0-9.]+)$", re.M)
NEW_ANSWER, NEW_TESTS = "accuracy-answer", "accuracy-tests"
# The class commands run here with the sandbox off: the sandbox hands the kernel a clean
# environment (grader/sandbox.py ENV_KEEP, no PYTHONPATH), so inside it the kernel finds only
# the installed package, not this scratch copy with the new checks. In the repository the
# installed package is the edited one and the guide's commands run sandboxed as written.
UNSANDBOXED = {"pipeline": " --no-sandbox", "autograde": " --SandboxedKernelManager.enabled=False"}


def guide_blocks() -> dict[str, str]:
    blocks = {name: body for name, _, body in BLOCK.findall(GUIDE.read_text(encoding="utf-8"))}
    expected = {"answer", "answer-metadata", "checks", "tests", "tests-metadata", "insert", "wrong",
                "commands", "class"}
    assert expected <= set(blocks), f"the guide lost blocks: {sorted(expected - set(blocks))}"
    return blocks


def scratch_course(where: Path) -> Path:
    """The package, the grader, 03-losses's source and its wrong answers, copied."""
    junk = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "gradebook.db", "release",
                                  "submitted", "autograded", "feedback", ".work", "*.csv", "report*.html")
    for folder in ("mlcourse", "grader", f"solutions/{NAME}", "tests/wrong_answers"):
        shutil.copytree(REPO / folder, where / folder, ignore=junk)
    return where


def env_for(root: Path, course_env: dict) -> dict:
    return {**course_env, "PYTHONPATH": str(root)}


def run(line: str, root: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", line], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)


def cell_scores(output: str) -> dict[str, tuple[float, float]]:
    """``mlcourse grade``'s report: grade_id -> (points, max_points)."""
    return {gid: (float(p), float(m)) for _, gid, p, m in CELL_LINE.findall(output)}


def add_wrong_answers(path: Path, entries: str) -> list[tuple[str, str, set[str]]]:
    """Paste the guide's entries at the end of the file's ``WRONG`` list, then load the file."""
    text = path.read_text(encoding="utf-8")
    end = text.rindex("]")
    path.write_text(text[:end] + entries + text[end:], encoding="utf-8")
    spec = importlib.util.spec_from_file_location("authoring_wrong_answers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [w for w in module.WRONG if w[0] == NEW_ANSWER]


def with_answer(source: Path, grade_id: str, code: str, target: Path) -> Path:
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = code
    nbformat.write(nb, target)
    return target


def test_guide_blocks_are_what_the_judge_accepts():
    """Fast half: the guide's test cell parses into check calls, its checks and answer compile,
    its metadata says what the insert code writes."""
    from mlcourse.grading.cells import parse

    blocks = guide_blocks()
    calls = parse(blocks["tests"])
    assert [(c.module, c.check) for c in calls] == [("nb03", "accuracy"), ("nb03", "accuracy_random")]
    assert "### BEGIN HIDDEN TESTS" in blocks["tests"] and "### BEGIN SOLUTION" in blocks["answer"]
    for name in ("answer", "checks", "insert"):
        ast.parse(blocks[name])
    assert json.loads(blocks["answer-metadata"])["grade_id"] == NEW_ANSWER
    assert json.loads(blocks["tests-metadata"])["points"] == 1
    entries = ast.literal_eval("[" + blocks["wrong"] + "]")
    assert entries and all(a == NEW_ANSWER and t == {NEW_TESTS} for a, _, t in entries)


@pytest.mark.slow
def test_adding_an_exercise_by_the_guide(tmp_path: Path, course_env: dict, monkeypatch):
    blocks = guide_blocks()
    root = scratch_course(tmp_path / "course")
    env = env_for(root, course_env)

    # 2. the check functions, appended to the copy of the check module
    module = root / "mlcourse" / "grading" / "exercises" / "nb03.py"
    module.write_text(module.read_text(encoding="utf-8") + "\n\n" + blocks["checks"], encoding="utf-8")
    probe = run("python -c 'import mlcourse.grading.exercises.nb03 as m; print(m.__file__, m.accuracy.is_check)'",
                root, env)
    assert probe.returncode == 0 and probe.stdout.startswith(str(root)) and "True" in probe.stdout, (
        probe.stdout + probe.stderr)

    # 1 and 3. the answer cell and the test cell, put into the copy of the source notebook
    monkeypatch.chdir(root)
    exec(compile(blocks["insert"], "solutions/README.md: insert", "exec"),
         {"ANSWER_SOURCE": blocks["answer"].rstrip("\n"), "TEST_SOURCE": blocks["tests"].rstrip("\n")})
    source = root / "solutions" / NAME / f"{NAME}.ipynb"
    meta = {c.metadata["nbgrader"]["grade_id"]: dict(c.metadata["nbgrader"])
            for c in nbformat.read(source, as_version=4).cells if "nbgrader" in c.metadata}
    assert meta[NEW_ANSWER] == json.loads(blocks["answer-metadata"])
    assert meta[NEW_TESTS] == json.loads(blocks["tests-metadata"])

    # 5. the wrong answers, pasted into the copy of tests/wrong_answers/03_losses.py
    wrong = add_wrong_answers(root / "tests" / "wrong_answers" / "03_losses.py", blocks["wrong"])
    assert len(wrong) == 2

    # 6. the guide's commands, one by one: release, grade the solution, grade the release
    commands = [line for line in blocks["commands"].splitlines() if line.strip()]
    release, grade_solution, grade_release = commands
    done = run(release, root, env)
    assert done.returncode == 0, done.stdout + done.stderr
    released = root / "notebooks" / NAME / f"{NAME}.ipynb"
    released_nb = nbformat.read(released, as_version=4)
    answer = next(c for c in released_nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == NEW_ANSWER)
    assert "NotImplementedError" in answer.source and "np.argmax" not in answer.source
    tests = next(c for c in released_nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == NEW_TESTS)
    assert "nb03.accuracy(accuracy)" in tests.source and "accuracy_random" not in tests.source

    done = run(grade_solution, root, env)
    full = cell_scores(done.stdout)
    assert done.returncode == 0 and full.get(NEW_TESTS) == (1.0, 1.0), done.stdout + done.stderr
    assert all(p == m for p, m in full.values()), full

    done = run(grade_release, root, env)
    zero = cell_scores(done.stdout)
    assert done.returncode == 1 and set(zero) == set(full), done.stdout + done.stderr
    assert all(p == 0 for p, _ in zero.values()), zero
    assert "`accuracy` is not written yet" in done.stdout

    # each wrong answer, in the solution otherwise: its own cell at zero, every other cell full
    for i, (answer_id, code, failing) in enumerate(wrong):
        path = with_answer(source, answer_id, code, root / f"wrong-{i}.ipynb")
        done = run(f"mlcourse grade {path.name} --source solutions/{NAME}/{NAME}.ipynb", root, env)
        got = cell_scores(done.stdout)
        assert set(got) == set(full), done.stdout + done.stderr
        lost = {gid for gid, (p, m) in got.items() if p != m}
        assert lost == failing, done.stdout
        assert all(got[gid][0] == 0 for gid in failing), got
        assert "expected" in done.stdout.split(NEW_TESTS, 1)[1], done.stdout

    # the class route: the solution, the release and the first wrong answer as submissions,
    # graded by `python -m grader.pipeline grade` (sandboxed) and by plain nbgrader autograde
    course = Course(root / "grader", db_url_override=f"sqlite:///{root / 'grader' / 'gradebook.db'}")
    submit(course, "solution", NAME, source)
    submit(course, "untouched", NAME, released)
    submit(course, "wrong", NAME, with_answer(source, wrong[0][0], wrong[0][1], tmp_path / "wrong.ipynb"))
    total = sum(m for _, m in full.values())
    by_pipeline, by_nbgrader = [line for line in blocks["class"].splitlines() if line.strip()]
    autograded = root / "grader" / "autograded"
    for line in (by_pipeline, by_nbgrader):
        before = {p: p.stat().st_mtime_ns for p in autograded.rglob("*.ipynb")}
        done = run(line + UNSANDBOXED["pipeline" if "grader.pipeline" in line else "autograde"], root, env)
        assert done.returncode == 0, f"{line}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
        after = {p: p.stat().st_mtime_ns for p in autograded.rglob("*.ipynb")}
        assert len(after) == 3 and all(before.get(p) != t for p, t in after.items()), f"{line} graded nothing"
        book = {student: scores(course, NAME, student) for student in ("solution", "untouched", "wrong")}
        assert book["solution"] == full, (line, book["solution"])
        assert book["untouched"] == {gid: (0.0, m) for gid, (_, m) in full.items()}, (line, book["untouched"])
        assert {gid for gid, (p, m) in book["wrong"].items() if p != m} == wrong[0][2], (line, book["wrong"])
        if line == by_pipeline:
            with open(course.grades_csv, newline="", encoding="utf-8") as fh:
                rows = {r["student"]: r for r in csv.DictReader(fh)}
            assert float(rows["solution"]["score"]) == total and rows["solution"]["failed_cells"] == "", rows
            assert float(rows["untouched"]["score"]) == 0, rows
            assert rows["wrong"]["failed_cells"] == NEW_TESTS, rows
