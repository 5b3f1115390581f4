"""The gradebook on a real PostgreSQL server, with two grading batches writing at once.

A class keeps its gradebook in PostgreSQL (nbgrader's ``db_url``; the course config
reads ``MLCOURSE_DB_URL``). Here a throwaway server (``tests/postgres.py``) takes two
``grade`` commands run at the same time, one per assignment, each on its own Dask
worker, writing the same students' grades as they are decided.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import postgres
import pytest
from nbtools import FIXTURES

from grader import gradebook
from grader.course import REPO as GRADER_REPO
from grader.course import Course, build_course, kernel_environment

REPO = GRADER_REPO
RIGHT = "def double(x):\n    return 2 * x\n"
WRONG = "def double(x):\n    return x + 2\n"  # right on the visible case only

pytestmark = pytest.mark.slow


def _require() -> None:
    why = postgres.why_unavailable()
    if why and os.environ.get("MLCOURSE_REQUIRE_POSTGRES"):
        pytest.fail(f"this machine must run the PostgreSQL test: {why}")
    if why:
        pytest.skip(why)


def _two_assignments(where: Path) -> list[Path]:
    """The fixture, and a copy of it under another name."""
    copy = where / "sources" / "98-fixture"
    copy.mkdir(parents=True)
    shutil.copy(FIXTURES / "99-fixture" / "99-fixture.ipynb", copy / "98-fixture.ipynb")
    return [FIXTURES / "99-fixture", copy]


def test_two_batches_write_one_postgres_gradebook_at_once(tmp_path, course_env):
    _require()
    with postgres.server() as url:
        env = {**course_env, "MLCOURSE_DB_URL": url}
        course = build_course(tmp_path, _two_assignments(tmp_path))
        course = Course(course.root)  # the config's db_url: MLCOURSE_DB_URL
        names = ["98-fixture", "99-fixture"]
        students = {"ana": RIGHT, "ben": WRONG, "chen": RIGHT, "dara": WRONG}
        for name in names:
            proc = subprocess.run([sys.executable, "-m", "grader.pipeline", "--course",
                                   str(course.root), "release", name, "--out", str(tmp_path / "nb")],
                                  env=env, cwd=REPO, capture_output=True, text=True, timeout=300)
            assert proc.returncode == 0, proc.stderr
            for student, answer in students.items():
                nb = nbformat.read(tmp_path / "nb" / name / f"{name}.ipynb", as_version=4)
                next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")).source = answer
                folder = course.submitted / student / name
                folder.mkdir(parents=True)
                nbformat.write(nb, folder / f"{name}.ipynb")
        batches = [subprocess.Popen(
            [sys.executable, "-m", "grader.pipeline", "--course", str(course.root), "grade", name,
             "--workers", "1", "--out", str(tmp_path / f"{name}.csv")],
            env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for name in names]
        outputs = [b.communicate(timeout=600)[0] for b in batches]
        assert [b.returncode for b in batches] == [0, 0], outputs
        assert url.startswith("postgresql") and not (course.root / "gradebook.db").exists()
        with kernel_environment():
            os.environ["MLCOURSE_DB_URL"] = url
            try:
                rows = gradebook.export(course, out=tmp_path / "all.csv")
            finally:
                os.environ.pop("MLCOURSE_DB_URL")
        got = {(r.student, r.assignment): (r.score, r.max_score) for r in rows}
        want = {(s, n): (3.0 if a == RIGHT else 1.0, 3.0) for s, a in students.items() for n in names}
        assert got == want, outputs
