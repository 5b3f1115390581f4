"""The nbgrader course of "How Models Learn" and the instructor's pipeline around it.

Modules by responsibility, each importing only those above it:

    course.py     the nbgrader course folder, its config and gradebook, running a converter
    jobs.py       plain data between coordinator and worker: Settings, Assignment, Job, Result
    release.py    what goes out: released notebooks, feedback; the author's tools
    gradebook.py  what the course knows of its grades: record, ledger, failures, the CSVs
    intake.py     reading submission folders into Jobs (or refusals, with the reason)
    worker.py     grading one Job in a scratch course, its kernel sandboxed
    batch.py      running the Jobs, in this process or on Dask; the progress bar
    autograde.py  grading a class, start to end
    pipeline.py   the command line (``python -m grader.pipeline`` or ``python -m grader``)

nbgrader's side of one notebook: nbgrader_config.py, judged_execute.py (the judge in front
of nbgrader's Execute), sandbox.py, provisioner.py (the sandbox as a kernel provisioner, the
judge's witness of a kernel's death), capabilities.py. What people read: feedback_filter.py,
report.py (with report_data.py, report_page.py, report_similar.py).

One submission's way from ``grade`` to the gradebook is a straight line:
pipeline -> autograde.grade -> intake.collect (Job) -> batch.Runner (after canary.Gate) ->
worker.grade_job (Result) -> gradebook.record -> gradebook.export (grades.csv).
"""
