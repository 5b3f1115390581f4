"""nbgrader as a learner's JupyterLab sees it (``make lab``): only Validate.

The instructor's course configuration is ``grader/nbgrader_config.py``; this one exists
so that the Validate button finds a configuration (nbgrader warns on every start when
none is found) and runs notebooks the way grading does: warnings silenced, no GUI
backend, a cell that runs past two minutes interrupted.
"""

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

c.Execute.timeout = 120
c.Execute.extra_arguments = ["--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR"]
