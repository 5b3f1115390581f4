"""The nbgrader course: its folder, its configuration, its gradebook, and running one of
nbgrader's converters in it.

Every other module of ``grader/`` takes a ``Course``; nothing here knows of a batch, a
submission or a CSV. ``build_course`` makes a scratch copy (tests, benchmarks, a worker's
own course) that keeps its own sqlite gradebook.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import SAWarning

# What notebooks run with: the same as local grading (`mlcourse grade`) and the tests.
from mlcourse.grading.limits import KERNEL_ENV

GRADER = Path(__file__).resolve().parent
REPO = GRADER.parent
# The files that make a course folder: copy these to build another one.
COURSE_FILES = ("nbgrader_config.py", "feedback_filter.py", "judged_execute.py", "sandbox.py",
                "provisioner.py", "capabilities.py")


class PipelineError(Exception):
    """A problem the instructor must fix before the command can go on."""


@dataclass(frozen=True)
class Course:
    """An nbgrader course folder (``grader/``) and the ``solutions/`` beside it."""

    root: Path = GRADER
    # A scratch course keeps its own gradebook, whatever MLCOURSE_DB_URL says.
    db_url_override: str | None = None

    @property
    def solutions(self) -> Path:
        return self.root.parent / "solutions"

    @property
    def submitted(self) -> Path:
        return self.root / "submitted"

    @property
    def release_dir(self) -> Path:
        return self.root / "release"

    @property
    def feedback_dir(self) -> Path:
        return self.root / "feedback"

    @property
    def grades_csv(self) -> Path:
        return self.root / "grades.csv"

    @property
    def work_dir(self) -> Path:
        """The batch's own records: ledgers, failures, the last summary."""
        return self.root / ".work"

    @property
    def failures_file(self) -> Path:
        return self.work_dir / "failures.json"

    def assignments(self) -> list[str]:
        """Every ``solutions/NAME/`` that holds ``NAME.ipynb``, sorted."""
        if not self.solutions.is_dir():
            return []
        return sorted(
            d.name for d in self.solutions.iterdir() if (d / f"{d.name}.ipynb").is_file()
        )

    def check_assignments(self, chosen: Sequence[str] | None) -> list[str]:
        """``chosen`` (all assignments when empty), after checking that each has a source."""
        known = self.assignments()
        chosen = list(chosen) if chosen else known
        unknown = sorted(set(chosen) - set(known))
        if unknown:
            raise PipelineError(f"no source notebook for {unknown}; assignments are {known}")
        return chosen

    def source_notebook(self, assignment: str) -> Path:
        return self.solutions / assignment / f"{assignment}.ipynb"

    def config(self):
        from traitlets.config.loader import PyFileConfigLoader

        if not (self.root / "nbgrader_config.py").is_file():
            raise PipelineError(f"{self.root} has no nbgrader_config.py: is it the course folder?")
        config = PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config()
        if self.db_url_override:
            config.CourseDirectory.db_url = self.db_url_override
        return config

    def db_url(self) -> str:
        return self.coursedir().db_url

    def coursedir(self, **attrs):
        """nbgrader's ``CourseDirectory`` of this course, with ``attrs`` set on it."""
        from nbgrader.coursedir import CourseDirectory

        coursedir = CourseDirectory(config=self.config())
        for name, value in attrs.items():
            setattr(coursedir, name, value)
        return coursedir

    def gradebook(self):
        from nbgrader.api import Gradebook

        coursedir = self.coursedir()
        return Gradebook(coursedir.db_url, coursedir.course_id)

    def run(self, converter: str, **coursedir_attrs) -> dict:
        """Run one nbgrader converter (GenerateAssignment, Autograde, GenerateFeedback).

        Returns nbgrader's own ``{"success", "log", "error"}`` dictionary.
        """
        from nbgrader import converters
        from nbgrader.utils import capture_log

        quiet_nbgrader_logs()
        config = self.config()
        coursedir = self.coursedir(**coursedir_attrs)
        app = getattr(converters, converter)(coursedir=coursedir, config=config)
        app.force = True
        if converter == "GenerateFeedback":
            # As nbgrader's own API does: the feedback template, whatever else is configured.
            app.config.HTMLExporter.template_name = "feedback"
        with kernel_environment(), warnings.catch_warnings():
            # nbgrader's gradebook code trips SQLAlchemy's autoflush warnings: not ours to fix.
            warnings.simplefilter("ignore", SAWarning)
            return capture_log(app)


def build_course(where: Path, sources: Sequence[Path]) -> Course:
    """A scratch course at ``where``: this course's config files and the given
    assignment folders (``.../NN-name/``) as its ``solutions/``. It keeps its own
    sqlite gradebook, whatever MLCOURSE_DB_URL says."""
    root = Path(where).resolve() / "grader"
    course = Course(root, db_url_override="sqlite:///" + str(root / "gradebook.db"))
    root.mkdir(parents=True, exist_ok=True)
    for name in COURSE_FILES:
        shutil.copy(GRADER / name, root / name)
    for src in sources:
        shutil.copytree(
            src,
            course.solutions / Path(src).name,
            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
        )
    return course


def quiet_nbgrader_logs() -> None:
    """nbgrader logs through the 'traitlets' logger; we report results ourselves.

    Also: nbgrader stamps every new gradebook with the output of ``alembic heads`` run as
    a subprocess (2-3 s each; a batch makes one scratch gradebook per assignment). The
    same answer comes from alembic's own API, once per process."""
    import nbgrader.api

    if not getattr(nbgrader.api.get_alembic_version, "from_alembic_api", False):
        def head() -> str:
            return _alembic_head()

        head.from_alembic_api = True
        nbgrader.api.get_alembic_version = head
    logger = logging.getLogger("traitlets")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())


@functools.lru_cache(maxsize=1)
def _alembic_head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader.dbutil import ALEMBIC_DIR

    config = Config()
    config.set_main_option("script_location", ALEMBIC_DIR)
    return ScriptDirectory.from_config(config).get_current_head()


@contextlib.contextmanager
def kernel_environment() -> Iterator[None]:
    """Kernels inherit this: warnings silenced, no GUI backend, our venv first on PATH.

    nbgrader runs ``alembic`` from PATH when it creates a gradebook.
    """
    bin_dir = str(Path(sys.executable).parent)
    saved = {k: os.environ.get(k) for k in (*KERNEL_ENV, "PATH")}
    os.environ.update(KERNEL_ENV)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def log_reason(result: dict) -> str:
    """The most telling line of a failed nbgrader run (``Course.run``'s result)."""
    lines = (result.get("error") or "").strip().splitlines()
    errors = [
        line.split("] ", 1)[-1]
        for line in (result.get("log") or "").splitlines()
        if line.startswith("[ERROR]")
    ]
    useful = [e for e in errors if not e.startswith("There was an error processing")]
    if useful:
        return useful[0]
    return lines[-1] if lines else "nbgrader failed without a message"
