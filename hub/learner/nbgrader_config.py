"""nbgrader as a learner's Lab on the class hub sees it: the exchange, the course id and
Validate. The hub's spawner sets both environment variables (hub/jupyterhub_config.py)."""

import os

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

c.CourseDirectory.course_id = os.environ.get("MLCOURSE_COURSE_ID") or "mlcourse"
c.Exchange.root = os.environ.get("MLCOURSE_EXCHANGE") or "/srv/nbgrader/exchange"
# Validate runs notebooks the way grading does (as lab/nbgrader_config.py for `make lab`).
c.Execute.timeout = 120
c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"]
