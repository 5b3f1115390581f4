"""The `mlcourse` command: the setup check, and local grading that scores like nbgrader."""

from __future__ import annotations

import json
import shutil

import nbformat
import pytest
from nbgrader.utils import determine_grade
from nbtools import FIXTURES

from mlcourse import cli
from mlcourse.grading import notebook as gnb

FIXTURE = FIXTURES / "99-fixture" / "99-fixture.ipynb"


def test_check_reports_versions(capsys):
    assert cli.main(["check"]) == 0
    out = capsys.readouterr().out
    assert "numpy" in out and "torch" in out and "Ready" in out, out


def test_find_source_walks_up_to_solutions(tmp_path):
    source = tmp_path / "solutions" / "03-losses" / "03-losses.ipynb"
    source.parent.mkdir(parents=True)
    source.write_text("{}")
    mine = tmp_path / "notebooks" / "03-losses" / "03-losses.ipynb"
    mine.parent.mkdir(parents=True)
    assert cli.find_source(mine) == source


@pytest.mark.slow
def test_local_grading_scores_each_cell_as_nbgrader_does(tmp_path, capsys):
    """Solution: full marks. Released stub: zero. Scores equal nbgrader's determine_grade."""
    source = nbformat.read(FIXTURE, as_version=4)
    released = gnb.merge(source, {})  # every answer cell back to `raise NotImplementedError()`
    for name, nb in (("solved", source), ("untouched", released)):
        path = tmp_path / f"{name}.ipynb"
        nbformat.write(nb, path)
        merged = gnb.merge_submission(source, nbformat.read(path, as_version=4))
        gnb.execute(merged, FIXTURE.parent)
        ours = {c.grade_id: c.points for c in gnb.score(merged).cells}
        theirs = {c.metadata.nbgrader["grade_id"]: float(determine_grade(c)[0])
                  for c in merged.cells if gnb.is_graded_test(c)}
        assert ours == theirs, f"{name}: local scores {ours} differ from nbgrader's {theirs}"
        total, maximum = sum(ours.values()), sum(c.max_points for c in gnb.score(merged).cells)
        assert total == (maximum if name == "solved" else 0.0), f"{name}: {total}/{maximum}"

    code = cli.main(["grade", str(tmp_path / "untouched.ipynb"), "--source", str(FIXTURE)])
    out = capsys.readouterr().out
    assert code == 1 and "NotImplementedError" in out and "total: 0 / 3" in out, out


def test_grade_names_a_corrupt_notebook(tmp_path, capsys):
    broken = tmp_path / "99-fixture.ipynb"
    broken.write_text(json.dumps({"cells": []})[:-3], encoding="utf-8")
    shutil.copy(FIXTURE, tmp_path / "source.ipynb")
    code = cli.main(["grade", str(broken), "--source", str(tmp_path / "source.ipynb")])
    assert code == 2
    assert "not a notebook" in capsys.readouterr().err


@pytest.mark.slow
def test_without_solutions_the_visible_tests_grade_and_it_says_so(tmp_path, capsys):
    """A class handed only notebooks/: `mlcourse grade` (and grade_me) grade the visible tests."""
    source = nbformat.read(FIXTURE, as_version=4)
    released = gnb.merge(source, {"double-answer": "def double(x):\n    return 2 * x\n"})
    for cell in released.cells:  # what a released notebook holds: no hidden tests
        cell.source = cell.source.split("### BEGIN HIDDEN TESTS")[0]
    path = tmp_path / "notebooks" / "99-fixture" / "99-fixture.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(released, path)
    assert cli.main(["grade", str(path)]) == 0
    out = capsys.readouterr().out
    assert "visible tests only" in out and "total: 3 / 3" in out, out
    assert "hidden-canary" not in out


def test_grade_me_says_which_notebook_it_needs(monkeypatch):
    import mlcourse

    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    with pytest.raises(ValueError, match="pass its path"):
        mlcourse.grade_me()
