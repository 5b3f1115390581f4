"""nbgrader as the instructor's Lab on the class hub sees it: the course's own
configuration (grader/nbgrader_config.py, or the copy MLCOURSE_COURSE_ROOT names) and the
hub's exchange. Formgrader and the command line then agree on every path."""

import os

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

ROOT = os.environ.get("MLCOURSE_COURSE_ROOT") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "grader")
load_subconfig(os.path.join(ROOT, "nbgrader_config.py"))  # noqa: F821
c.CourseDirectory.root = ROOT
c.Exchange.root = os.environ.get("MLCOURSE_EXCHANGE") or "/srv/nbgrader/exchange"
