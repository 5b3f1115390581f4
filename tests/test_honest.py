"""Fair before strict: ordinary notebook habits never cost a point, on any grading route.

``honest_habits.HABITS`` is a corpus of extra cells a learner might add (exploring,
printing to stderr, saving with pickle, ``!pip``, ``setattr`` in their own
``nn.Module``, ``%%time``, threads, logging...). Fast tests show the scan refuses
none of them in any notebook; slow tests add them all to solved notebooks and grade
them as ``mlcourse grade`` does (every notebook), as plain ``nbgrader autograde`` in
the course folder does, and as ``make grade`` does (sandboxed, on Dask): full marks.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from honest_habits import HABITS
from nbtools import SOLUTIONS, cell_result, is_test_cell, nbgrader_meta, source_notebooks

from mlcourse.grading import integrity, limits, notebook, rules
from mlcourse.grading.judge import JudgeMixin, is_learner_cell

COURSE = source_notebooks(SOLUTIONS)
NB03 = SOLUTIONS / "03-losses" / "03-losses.ipynb"


def test_the_corpus_is_wide():
    assert len(HABITS) >= 40


@pytest.mark.parametrize("path", COURSE, ids=[p.parent.name for p in COURSE])
def test_no_habit_is_refused_in_any_notebook(path):
    nb = nbformat.read(path, as_version=4)
    trusted = [c.source for c in nb.cells if c.cell_type == "code" and not is_learner_cell(c)]
    learner = {nbgrader_meta(c)["grade_id"]: c.source for c in nb.cells if is_learner_cell(c)}
    refs = [r for c in nb.cells if is_test_cell(c) for r in JudgeMixin._judge_references(c.source)]
    flagged = {}
    for key, code in HABITS.items():
        found = integrity.scan({**learner, "cell 99 (your own cell)": code}, trusted, refs)
        if found.tampering or found.references:
            flagged[key] = found.tampering or found.references
    assert not flagged, flagged


def test_a_helper_module_handed_in_is_read_not_run(tmp_path):
    """Files beside the notebook are scanned as text: a planted module never runs here."""
    marker = tmp_path / "ran.txt"
    (tmp_path / "planted_xyz.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    found = integrity.scan({"cell 3 (your own cell)": "import planted_xyz\nfrom planted_xyz import s\n"
                                                      "from this import s"},
                           [], ["mlcourse.losses.mse"],
                           {"file planted_xyz.py": (tmp_path / "planted_xyz.py").read_text()})
    assert not marker.exists() and not found.tampering
    evil = integrity.scan({}, [], [], {"file course_utils.py": "import gc\nobjs = gc.get_objects()\n"})
    assert evil.rules == ["gc"] and "course_utils.py" in evil.tampering[0]


def test_a_huge_cell_is_refused_quickly():
    import time

    started = time.perf_counter()
    found = integrity.scan({"cell 5 (your own cell)": "x = 1  # padding\n" * 500_000}, [], [])
    assert time.perf_counter() - started < 2.0
    assert found.rules == ["unreadable"] and "KB of code" in found.tampering[0]


def with_habits(source: Path):
    """The solved notebook with every habit in a cell of its own after the first answer."""
    nb = nbformat.read(source, as_version=4)
    first = next(i for i, c in enumerate(nb.cells) if rules.is_answer(c))
    for offset, code in enumerate(HABITS.values(), start=1):
        nb.cells.insert(first + offset, nbformat.v4.new_code_cell(code))
    return nb


def _full_marks(nb) -> dict:
    results = {nbgrader_meta(c)["grade_id"]: cell_result(c) for c in nb.cells if is_test_cell(c)}
    assert results, "no graded cells"
    return {gid: r.output[-600:] for gid, r in results.items() if not r.passed}


@pytest.mark.slow
@pytest.mark.parametrize("path", COURSE, ids=[p.parent.name for p in COURSE])
def test_habits_keep_full_marks_through_mlcourse_grade(path, tmp_path):
    folder = tmp_path / path.parent.name
    shutil.copytree(path.parent, folder)
    submission = folder / "submitted.ipynb"
    nbformat.write(with_habits(path), submission)
    result = notebook.grade(submission, folder / path.name, timeout=120)
    lost = {c.grade_id: c.message[:400] for c in result.cells if not c.passed}
    assert not lost, lost


@pytest.mark.slow
def test_habits_keep_full_marks_through_nbgrader_and_make_grade(tmp_path, course_env):
    from test_roundtrip import autograde, released_course, scores, submit

    from grader import sandbox
    from grader.autograde import grade as grade_class
    from grader.jobs import Settings

    course, name, released = released_course(tmp_path, NB03, course_env)
    solved = {nbgrader_meta(c)["grade_id"]: c.source for c in nbformat.read(NB03, 4).cells
              if nbgrader_meta(c).get("solution")}
    nb = released()
    for cell in nb.cells:
        if nbgrader_meta(cell).get("grade_id") in solved:
            cell.source = solved[nbgrader_meta(cell)["grade_id"]]
    first = next(i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("solution"))
    for offset, code in enumerate(HABITS.values(), start=1):
        nb.cells.insert(first + offset, nbformat.v4.new_code_cell(code))
    submit(course, "habits", name, None, text=nbformat.writes(nb))

    proc = autograde(course, name, course_env)
    book = scores(course, name, "habits")
    assert book and all(s == m for s, m in book.values()), (book, proc.stderr[-2000:])

    caps = sandbox.probe()
    if not (caps.bwrap and caps.memory_cgroup) and not os.environ.get("MLCOURSE_REQUIRE_SANDBOX"):
        pytest.skip(f"no sandbox here for the make grade route: {caps.why_not}")
    rows = grade_class(course, workers=0, force=True, echo=lambda line: None,
                          settings=Settings(memory="2GiB", time_limit=300, cell_time_limit=120))
    (row,) = [r for r in rows if r.student == "habits"]
    assert row.score == row.max_score > 0, (row.failed_cells, row.error)


# ---- any submission costs the grading process little, and never crashes it -------------------


def _solved_03():
    return nbformat.read(NB03, as_version=4)


@pytest.mark.slow
def test_metadata_that_is_not_a_mapping_and_a_duplicated_test_cell(tmp_path):
    """A markdown cell whose nbgrader metadata is a string is an ordinary cell; a test cell the
    learner duplicated counts once (10 / 10, as in nbgrader), not twice."""
    nb = _solved_03()
    note = nbformat.v4.new_markdown_cell("my notes")
    note.metadata["nbgrader"] = "reviewed"
    nb.cells.insert(1, note)
    test = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "mse-tests")
    nb.cells.insert(nb.cells.index(test) + 1, nbformat.v4.new_code_cell(test.source, metadata=dict(test.metadata)))
    nbformat.write(nb, tmp_path / "sub.ipynb")
    result = notebook.grade(tmp_path / "sub.ipynb", NB03)
    ids = [c.grade_id for c in result.cells]
    assert len(ids) == len(set(ids)) and result.points == result.max_points == 10, result.report()


def test_a_huge_notebook_file_is_refused_before_it_is_parsed(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_NOTEBOOK_BYTES", 1000)
    path = tmp_path / "big.ipynb"
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": "x = 1\n" * 500}]}))
    with pytest.raises(ValueError, match="MB a notebook may be for grading"):
        notebook.read_notebook(path)


@pytest.mark.slow
def test_a_refused_notebook_runs_nothing(tmp_path):
    """Refused as a whole (here: an 8 MB cell), no cell runs in the kernel: seconds, not minutes."""
    import time

    nb = _solved_03()
    nb.cells.insert(3, nbformat.v4.new_code_cell("x = 1  # padding\n" * 500_000 + "print('RAN')"))
    nbformat.write(nb, tmp_path / "sub.ipynb")
    started = time.perf_counter()
    result = notebook.grade(tmp_path / "sub.ipynb", NB03)
    assert result.points == 0 and "KB of code" in result.cells[0].message
    assert time.perf_counter() - started < 30


def test_the_scan_imports_nothing_a_cell_names(capsys):
    """`from this import s` printed the Zen of Python in the grading process when the scan
    resolved names by importing them; only the course package is looked up now."""
    sys.modules.pop("this", None)
    integrity.scan({"cell 3 (your own cell)": "from this import s\nimport antigravity\n"
                                              "from planted_xyz import helper"},
                   ["import numpy as np"], ["mlcourse.losses.mse"])
    assert "this" not in sys.modules and "antigravity" not in sys.modules
    assert "Zen of Python" not in capsys.readouterr().out


@pytest.mark.slow
def test_a_planted_module_runs_only_in_the_kernel(tmp_path):
    """A module beside the notebook, named in a cell: it runs in the learner's kernel (where
    their code runs), never in the grading process."""
    folder = tmp_path / "03-losses"
    shutil.copytree(NB03.parent, folder)
    marker = tmp_path / "ran-in.txt"
    (folder / "planted_xyz.py").write_text(
        f"import os\nopen({str(marker)!r}, 'a').write(str(os.getpid()) + '\\n')\nhelper = 1\n")
    nb = _solved_03()
    nb.cells.insert(3, nbformat.v4.new_code_cell("import planted_xyz\nfrom planted_xyz import helper"))
    nbformat.write(nb, folder / "sub.ipynb")
    result = notebook.grade(folder / "sub.ipynb", folder / NB03.name)
    assert result.points == result.max_points, result.report()
    pids = marker.read_text().split()
    assert pids and str(os.getpid()) not in pids, pids


def test_the_cheats_table_names_real_tests():
    """CHEATS.md: every rule of the scan has its row, and every test it names exists."""
    import re

    table = (Path(integrity.__file__).parent / "CHEATS.md").read_text(encoding="utf-8")
    rows = {m.group(1) for m in re.finditer(r"^\| `([a-z-]+)` \|", table, re.M)}
    assert rows == set(integrity.RULES), rows ^ set(integrity.RULES)
    named = set(re.findall(r"`(tests/\w+\.py)::(\w+)`", table))
    assert len(named) >= 15
    root = Path(__file__).resolve().parents[1]
    missing = [f"{f}::{t}" for f, t in named
               if not re.search(rf"^def {t}\(", (root / f).read_text(encoding="utf-8"), re.M)]
    assert not missing, missing


@pytest.mark.slow
def test_a_shortcut_refused_while_checks_run_is_in_the_judges_record_and_the_report():
    """Outcomes travel as data: the guard's refusal reaches the judge's record by its kind,
    and the report flags it from there (no message is parsed)."""
    from grader import report

    nb = _solved_03()
    answer = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "mse-answer")
    answer.source = ("import torch\nimport torch.nn.functional as F\n"
                     "def mse(y_hat, y, reduction='mean'):\n"
                     "    return F.mse_loss(torch.as_tensor(y_hat), torch.as_tensor(y), reduction=reduction).numpy()\n")
    nb = notebook.execute(notebook.merge_submission(nbformat.read(NB03, 4), nb), NB03.parent)
    record = nb.metadata["mlcourse"]["judge"]
    cells = {u["cell"] for u in record["reference_use"]}
    assert "mse-tests" in cells and not record["references"] and not record["refused"], record
    assert all(not c.startswith("ce") for c in cells), cells
    sub = report.Submission("ann", "03-losses")
    report._flags_from_record(nb, sub)
    assert [k for k, _ in sub.flags] == ["reference use"] and "mse-tests" in sub.flags[0][1], sub.flags


@pytest.mark.slow
def test_comparing_with_the_reference_in_a_scratch_cell_costs_nothing():
    """The course invites it ("the reference is there to compare with after you are done"):
    importing the reference function in a cell of one's own, under another name, keeps full
    marks; the answer itself is still the learner's."""
    nb = _solved_03()
    test = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "mse-tests")
    nb.cells.insert(nb.cells.index(test) + 1, nbformat.v4.new_code_cell(
        "import numpy as np\nfrom mlcourse.losses import mse as reference_mse\n"
        "import mlcourse.losses as L\nprint(mse(np.ones(3), np.zeros(3)))\n"
        "print(reference_mse(np.ones(3), np.zeros(3)), L.cross_entropy)"))
    result = notebook.score(notebook.execute(notebook.merge_submission(nbformat.read(NB03, 4), nb),
                                             NB03.parent))
    assert result.points == result.max_points == 10, result.report()


@pytest.mark.slow
def test_the_reference_bound_in_a_scratch_cell_still_earns_nothing():
    nb = _solved_03()
    test = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "mse-tests")
    nb.cells.insert(nb.cells.index(test), nbformat.v4.new_code_cell(
        "import operator\nimport mlcourse.losses as L\nmse = operator.attrgetter('m' + 'se')(L)"))
    result = notebook.score(notebook.execute(notebook.merge_submission(nbformat.read(NB03, 4), nb),
                                             NB03.parent))
    lost = {c.grade_id for c in result.cells if not c.passed}
    assert lost == {"mse-tests", "mse-reduction-tests", "mse-shape-tests"}, result.report()
