"""Time every solution notebook top to bottom: ``python -m benchmarks.notebooks``.

Each notebook runs in a fresh kernel, as a learner's "Restart and run all"
would, on the CPU (CUDA hidden), its final ``grade_me()`` cell left out: its
wall time against the budget. Then twice more as grading runs it (the grading
kernel's environment, one thread, a cell time limit): with the test cells' checks
in the kernel (as Lab runs them, and stock nbgrader), and with the judge deciding
them outside the kernel; the ratio judged / in-kernel is the judge's cost
(budget 1.15). Budgets (DESIGN.md): ≤ 30 s a
notebook, ≤ 4 minutes for the whole course. Printed, never asserted: timings on a shared
machine are noisy, so re-run on a quiet one before drawing conclusions.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

NOTEBOOK_BUDGET_S = 30.0
JUDGE_BUDGET = 1.15
COURSE_BUDGET_S = 240.0
ROOT = Path(__file__).resolve().parents[1]


def is_grade_me(source: str) -> bool:
    """The notebook's final cell, which grades the saved notebook (Lab knows its path)."""
    return "grade_me(" in source


def time_notebook(path: Path, timeout: int) -> tuple[float, float, list[str]]:
    """(wall seconds including kernel start, seconds inside cells, errors)."""
    import nbformat
    from nbclient import NotebookClient

    from mlcourse.grading.limits import KERNEL_ARGS  # quiet kernel start-up, no history file

    nb = nbformat.read(path, as_version=4)
    # The last cell, grade_me(), grades the saved notebook in a fresh kernel: that is the
    # "judged" column, not part of running the notebook (and it needs Lab's session name).
    nb.cells = [c for c in nb.cells if not (c.cell_type == "code" and is_grade_me(c.source))]
    start = time.perf_counter()
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}},
                            record_timing=True, extra_arguments=list(KERNEL_ARGS))
    client.execute()
    wall = time.perf_counter() - start
    in_cells, errors = 0.0, []
    for cell in nb.cells:
        timing = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            from datetime import datetime

            t0 = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
            t1 = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
            in_cells += (t1 - t0).total_seconds()
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                errors.append(f"{out.get('ename')}: {out.get('evalue')}"[:200])
    return wall, in_cells, errors


def time_judged(path: Path, timeout: int, judged: bool = True) -> float:
    """Wall seconds to grade the solution as ``mlcourse grade`` / the autograder do (the
    checks in the kernel instead with ``judged=False``)."""
    import nbformat

    from mlcourse.grading.notebook import execute

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    execute(nb, path.parent, timeout=timeout, judged=judged)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="notebooks to time (default: all in solutions/)")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per cell")
    args = parser.parse_args(argv)
    os.environ.update(MPLBACKEND="Agg", PYTHONWARNINGS="ignore", CUDA_VISIBLE_DEVICES="")
    paths = sorted((ROOT / "solutions").glob("*/*.ipynb"))
    if args.names:
        paths = [p for p in paths if any(n in p.stem for n in args.names)]
    if not paths:
        print("no notebooks found in solutions/", file=sys.stderr)
        return 1
    total, worst = 0.0, 0.0
    print(f"{'notebook':<28} {'wall s':>7} {'in cells s':>10} {'in-kernel s':>11} {'judged s':>9}"
          f" {'judged/in-kernel':>16}  budgets {NOTEBOOK_BUDGET_S:.0f} s, {JUDGE_BUDGET}")
    for path in paths:
        wall, in_cells, errors = time_notebook(path, args.timeout)
        in_kernel = time_judged(path, args.timeout, judged=False)
        judged = time_judged(path, args.timeout)
        total += wall
        worst = max(worst, wall)
        flag = "OK" if wall <= NOTEBOOK_BUDGET_S else "OVER"
        ratio = judged / in_kernel
        flag += ", judge OK" if ratio <= JUDGE_BUDGET else ", judge OVER"
        print(f"{path.stem:<28} {wall:7.1f} {in_cells:10.1f} {in_kernel:11.1f} {judged:9.1f}"
              f" {ratio:16.2f}  {flag}", flush=True)
        for error in errors:
            print(f"    error: {error}")
    flag = "OK" if total <= COURSE_BUDGET_S else "OVER"
    print(f"{'whole course':<28} {total:7.1f} {'':>10}  {flag} (budget {COURSE_BUDGET_S:.0f} s)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average during the run: {load:.1f} on {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
