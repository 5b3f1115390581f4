"""Every cap of grading, declared once: what a submission may be, use and take.

Read by the judge (``judge``), local grading (``notebook``, ``mlcourse grade``), the
sandbox (``grader/sandbox.py``), the class batch (``grader/``) and nbgrader's
configuration (``grader/nbgrader_config.py``); ``make grade --memory … --time-limit …``
overrides the resource caps for one batch. Nothing here imports anything of the course.

>>> CELL_SECONDS < NOTEBOOK_SECONDS
True
>>> format_size(MEMORY)
'2 GiB'
"""

from __future__ import annotations

GiB = 1024**3
MiB = 1024**2

# ---- time: a cell stuck longer is interrupted and scores 0; a notebook past its time has
# its kernel killed, the cells not yet run score 0 (the cells before keep their points)
CELL_SECONDS = 120
NOTEBOOK_SECONDS = 900
# A class batch first grades each assignment's source notebook (the canary, grader/autograde.py)
# and times it; a submission then gets this multiple of the reference's slowest cell and of its
# whole notebook, never less than the floors (a loaded worker, a kernel's start) and never more
# than CELL_SECONDS / NOTEBOOK_SECONDS. An explicit --time-limit / --cell-time-limit, or an
# assignment's own ``mlcourse.time_limits`` ({"cell": s, "notebook": s}) in its source
# notebook's metadata, replaces the derived value.
TIME_MULTIPLE = 10
CELL_FLOOR_SECONDS = 10
NOTEBOOK_FLOOR_SECONDS = 60

# ---- a kernel's resources, in the sandbox
MEMORY = 2 * GiB          # the kernel and everything it starts
PROCESSES = 256           # processes and threads of the kernel's user
FILE_SIZE = 512 * MiB     # any one file the kernel writes
# everything the kernel writes in its working folder, together: a tmpfs of this size in
# the sandbox (never the host's disk); its pages count against MEMORY too, so a full folder
# is a clear "No space left on device" in the cell that filled it, well before the cap
WORK_FOLDER = 512 * MiB

# ---- what is handed in and what comes back
MAX_NOTEBOOK_BYTES = 48 * MiB     # a notebook file read for grading
MAX_SUBMISSION_BYTES = 50 * MiB   # everything in one submission folder
MAX_SIDE_FILES = 50               # Python files beside a notebook read by the scan
# What intake (grader/intake.py) reads of a submission folder before any worker is spent on
# it; beyond each, the submission is refused with the reason (it scores 0). The course's
# notebooks have at most 66 cells, 3 KB in a cell and 50 KB of source in all; an honest
# folder holds a notebook and a few data files.
MAX_SUBMISSION_FILES = 300        # files, folders and links in one submission folder
MAX_SUBMISSION_DEPTH = 12         # folders nested inside one submission folder
MAX_CELLS = 1000                  # cells of a submitted notebook
MAX_CELL_SOURCE = 256 * 1024      # characters of one cell's source (the scan's own cap,
                                  # integrity.MAX_CELL_BYTES: a longer cell it refuses anyway)
MAX_NOTEBOOK_SOURCE = 4 * MiB     # characters of all cells' sources (integrity.MAX_TOTAL_BYTES)
MAX_JSON_DEPTH = 100              # nesting of the notebook's JSON (Python's parsers recurse)
ERROR_CHARS = 2000                # a reason kept in the gradebook's failures and the CSV
CLEANUP_SECONDS = 300             # removing a worker's scratch course (``rm -rf``, last resort)
OUTPUT_CHARS = 1_000_000          # output a cell may leave in the graded copy
NOTEBOOK_OUTPUT_CHARS = 4_000_000  # output all cells together may leave in the graded copy
# One reply of the kernel to a check's request (``wire``): the course's largest is 6 MB
# (08's, hidden cases included, measured on the solutions).
MAX_REPLY_BYTES = 64 * MiB
# The largest message the grader takes from a kernel: above the judge's largest reply; a
# larger one drops the connection instead (the cell's output is lost, nothing else).
MAX_MESSAGE = 80 * MiB
# What one submission may add to its grading process's peak memory, whatever it prints,
# displays or replies: a message in flight is held in a few copies (bytes, text, parsed),
# measured 3-5x its size; everything kept afterwards is capped by the output caps above.
GRADER_MEMORY_GROWTH = 6 * MAX_MESSAGE

# ---- how a grading kernel runs: no warnings, figures drawn off-screen, one math thread
# (the course's models are tiny, and kernels grading side by side on a few cores stall
# each other's threads: torch steps measured 5-40x slower on a loaded 2-core CPU)
KERNEL_ENV = {"PYTHONWARNINGS": "ignore", "MPLBACKEND": "Agg",
              "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              # a notebook being graded: its last cell's grade_me() does nothing then
              "MLCOURSE_GRADING": "1"}
# No history file; no kernel start-up chatter on the instructor's terminal.
KERNEL_ARGS = ("--HistoryManager.hist_file=:memory:", "--IPKernelApp.log_level=ERROR")


def parse_size(text: str | int) -> int:
    """``"2GiB"``, ``"512M"``, ``"1.5g"`` or a number of bytes -> bytes.

    >>> parse_size("512MiB") == 512 * MiB
    True
    """
    import re

    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*([0-9.]+)\s*([kmgt]?)(i?b?)\s*", str(text), re.I)
    if not match:
        raise ValueError(f"not a size: {text!r} (write e.g. 2GiB, 512MiB or a number of bytes)")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * 1024 ** "_kmgt".index(unit or "_"))


def format_size(n: int) -> str:
    """Bytes in words, as the sandbox reports a cap."""
    for unit, size in (("GiB", GiB), ("MiB", MiB)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"
