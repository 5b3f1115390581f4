"""nbgrader's Execute preprocessor with the course's judge in front.

``nbgrader autograde`` (through ``nbgrader_config.py``, so plain ``nbgrader
autograde`` in this folder and ``make grade`` alike) runs every cell of a
submission in its kernel except the graded test cells, which the judge decides
in this process (``mlcourse.grading.judge``). nbgrader then scores the judge's
outputs as usual: the gradebook, feedback, export and formgrader all show the
judge's verdicts.
"""

from __future__ import annotations

import os

from nbgrader.preprocessors import Execute

from mlcourse.grading.judge import JudgeMixin


class JudgedExecute(JudgeMixin, Execute):
    """Execute, with graded test cells decided by the judge outside the kernel."""

    def preprocess(self, nb, resources=None, km=None):
        # ipykernel names every cell alike when this is set; the judge needs the real names.
        os.environ.pop("IPYKERNEL_CELL_NAME", None)
        return super().preprocess(nb, resources, km)
