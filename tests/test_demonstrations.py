"""Demonstrations that start processes earn no points: under any grading or validation they
skip themselves, in every route (issue 21): the course's own grading sets MLCOURSE_GRADING,
nbgrader's autograde and Validate set NBGRADER_EXECUTION. In a sandbox with no network,
torchrun would otherwise wait for the cell's time limit."""

from __future__ import annotations

import subprocess

import nbformat
import pytest
from nbtools import SOLUTIONS, nbgrader_meta, source_notebooks

from mlcourse.grading.rules import is_answer

STARTS_PROCESSES = ("subprocess", "torchrun", "multiprocessing", "os.system", "Popen")


def demonstrations():
    for path in source_notebooks():
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code" and not is_answer(cell) \
                    and any(word in cell.source for word in STARTS_PROCESSES):
                yield pytest.param(cell.source, id=f"{path.stem}:{nbgrader_meta(cell).get('grade_id', '?')}")


DEMOS = list(demonstrations())


def test_the_course_has_a_demonstration_that_starts_processes():
    assert DEMOS, f"no cell of {SOLUTIONS} starts a process: update STARTS_PROCESSES"


@pytest.mark.parametrize("flag", [("MLCOURSE_GRADING", "1"), ("NBGRADER_EXECUTION", "autograde"),
                                  ("NBGRADER_EXECUTION", "validate")], ids=lambda f: f"{f[0]}={f[1]}")
@pytest.mark.parametrize("source", DEMOS)
def test_a_demonstration_skips_itself_under_grading(source, flag, monkeypatch, capsys):
    monkeypatch.delenv("MLCOURSE_GRADING", raising=False)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.setenv(*flag)
    started = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: started.append(a))
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: started.append(a))
    exec(compile(source, "<demonstration>", "exec"), {})
    assert not started, "the demonstration started a process while being graded"
    assert "not run while grading" in capsys.readouterr().out
