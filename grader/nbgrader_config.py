"""nbgrader configuration of the course.

Paths are relative to this file, so a copy of ``grader/`` next to a copy of
``solutions/`` (as the tests make in a temporary folder) is a complete course.

    <repo>/solutions/NN-name/NN-name.ipynb   source (solutions, visible + hidden tests)
    <repo>/grader/release/NN-name/           nbgrader's release (`make release` copies it to notebooks/)
    <repo>/grader/submitted/<student>/NN-name/NN-name.ipynb
    <repo>/grader/autograded/, feedback/, gradebook.db
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# The feedback filter lives next to this file; nbgrader runs this file with `exec`.
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from feedback_filter import (  # noqa: E402
    FeedbackExporter,
    FeedbackSummary,
    HideHiddenTestsInFeedback,
)
from judged_execute import CheckCellMetadataOnce, CleanCellIds, JudgedExecute  # noqa: E402
from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties,
    ClearOutput,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    OverwriteCells,
    OverwriteKernelspec,
    SaveAutoGrades,
)

from mlcourse.grading.limits import (  # noqa: E402
    CELL_SECONDS,
    KERNEL_ARGS,
    MEMORY,
    NOTEBOOK_SECONDS,
    PROCESSES,
)

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

# ---- where things are -------------------------------------------------------------
c.CourseDirectory.root = HERE
c.CourseDirectory.source_directory = os.path.join(os.pardir, "solutions")
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".DS_Store"]
# A class on JupyterHub sets MLCOURSE_DB_URL=postgresql://user@host/mlcourse
c.CourseDirectory.db_url = os.environ.get("MLCOURSE_DB_URL") or (
    "sqlite:///" + os.path.join(HERE, "gradebook.db")
)
# The exchange (JupyterHub) needs a course id; set MLCOURSE_COURSE_ID there. Never empty:
# nbgrader creates no course row for "", which PostgreSQL's foreign keys then refuse.
c.CourseDirectory.course_id = os.environ.get("MLCOURSE_COURSE_ID") or "mlcourse"

# ---- release -----------------------------------------------------------------------
c.ClearOutput.enabled = True
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# ---- autograde ---------------------------------------------------------------------
# A cell that runs longer is interrupted and scores zero; the rest still runs.
# Graded test cells are decided by the judge in the grading process, never in the
# learner's kernel (judged_execute.py); the rest is nbgrader's own list.
# Before that, nbgrader's own sanitizing, with its DeduplicateIds replaced (an honest
# duplicated cell made it fail the whole submission).
c.Autograde.sanitize_preprocessors = [
    ClearOutput,
    CleanCellIds,
    OverwriteKernelspec,
    OverwriteCells,
    CheckCellMetadataOnce,
]
c.Autograde.autograde_preprocessors = [
    JudgedExecute,
    IgnorePattern,
    ClearMetadataPreprocessor,
    LimitOutput,
    SaveAutoGrades,
    AssignLatePenalties,
    CheckCellMetadataOnce,
]
# Every cap is declared once, in mlcourse/grading/limits.py.
c.Execute.timeout = CELL_SECONDS
c.Execute.interrupt_on_timeout = True
# The kernel runs in a sandbox (sandbox.py, launched by provisioner.py): these caps, no
# network, only its own folder. `make grade --memory 4GiB --time-limit 1800` overrides
# them for one batch.
c.JudgedExecute.submission_timeout = NOTEBOOK_SECONDS
c.SandboxedKernelManager.memory_limit = MEMORY
c.SandboxedKernelManager.process_limit = PROCESSES
c.Execute.kernel_name = "python3"
# No history file; no kernel start-up chatter on the instructor's terminal.
c.Execute.extra_arguments = list(KERNEL_ARGS)
# A learner who deleted a test cell gets it back (and is graded on it).
c.OverwriteCells.add_missing_cells = True
c.Autograde.create_student = True

# ---- feedback ----------------------------------------------------------------------
# Stock feedback shows every cell of the autograded notebook, hidden tests included
# (source, and the source lines quoted in tracebacks). Remove them after the scores
# are read.
c.GenerateFeedback.preprocessors = [
    GetGrades,
    HideHiddenTestsInFeedback,
    FeedbackSummary,
    CSSHTMLHeaderPreprocessor,
]
# A table of exercises at the top; formulas as MathML and no MathJax from a CDN, so the
# page needs no network (feedback_filter.py).
c.GenerateFeedback.exporter_class = FeedbackExporter
