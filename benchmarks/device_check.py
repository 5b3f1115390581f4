"""Everything a GPU must show, in one run: ``python -m benchmarks.device_check``.

Made for a borrowed machine with an NVIDIA GPU that has torch, numpy, matplotlib
and pytest but no Jupyter or nbgrader (run from the repository root with
``PYTHONPATH=.``). In order:

1. ``python -m benchmarks --device all --batch-size 128 1024`` -- ``fit`` / hand
   loop on the CPU and on CUDA, side by side;
2. ``pytest -m gpu`` on the training and benchmark tests (divergence included);
3. every solution notebook top to bottom, as a script: the code cells in order
   in one fresh interpreter per notebook, with ``%`` lines dropped, figures on
   the Agg backend and the final ``grade_me()`` cell left out (it needs a saved
   notebook and nbgrader). The learner's test cells run as they do in Lab.

It prints one line per step and per notebook and exits 1 if anything failed.
``--only notebooks`` (or ``bench``, ``tests``) runs one step; it runs on a CPU
too, where the notebooks take their CPU path.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

from benchmarks.notebooks import is_grade_me

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
STEPS = ("bench", "tests", "notebooks")


def notebook_cells(path: Path) -> list[str]:
    """The code cells a script run executes: magics dropped, the grade-me cell left out."""
    cells = json.loads(path.read_text())["cells"]
    sources = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if is_grade_me(source):
            continue
        sources.append("\n".join(line for line in source.splitlines()
                                 if not line.lstrip().startswith(("%", "!"))))
    return sources


def run_notebook_here(path: Path) -> int:
    """Execute one notebook's cells in this interpreter; print each failing cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    namespace = {"__name__": "__main__", "display": lambda *a, **k: None}
    failures, cwd = 0, os.getcwd()
    os.chdir(path.parent)  # a notebook's relative paths start at its folder
    try:
        for number, source in enumerate(notebook_cells(path), start=1):
            try:
                exec(compile(source, f"<{path.stem} code cell {number}>", "exec"), namespace)
            except Exception:  # carry on, as Run All with errors allowed would
                failures += 1
                print(f"  code cell {number} failed:\n" + traceback.format_exc(limit=3),
                      flush=True)
            plt.close("all")
    finally:
        os.chdir(cwd)
    return 1 if failures else 0


def check_notebooks(names: list[str] | None) -> bool:
    paths = sorted(SOLUTIONS.glob("*/*.ipynb"))
    if names:
        paths = [p for p in paths if any(p.stem.startswith(n) for n in names)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    env.pop("MLCOURSE_GRADING", None)
    ok = True
    for path in paths:
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "benchmarks.device_check", "--run-notebook",
                              str(path)], cwd=ROOT, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        verdict = "ok" if run.returncode == 0 else "FAILED"
        print(f"notebook {path.stem:<28} {seconds:6.1f} s  {verdict}", flush=True)
        if run.returncode != 0:
            ok = False
            print((run.stdout + run.stderr)[-3000:], flush=True)
    return ok


def check_step(step: str) -> bool:
    commands = {
        "bench": [sys.executable, "-m", "benchmarks", "--device", "all",
                  "--batch-size", "128", "1024"],
        "tests": [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "gpu",
                  "tests/test_train.py", "tests/test_benchmarks.py", "tests/test_device.py"],
    }
    print(f"== {step}: {' '.join(commands[step][1:])}", flush=True)
    return subprocess.run(commands[step], cwd=ROOT).returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=STEPS, action="append",
                        help="run only this step (repeatable)")
    parser.add_argument("--notebooks", nargs="*", metavar="PREFIX",
                        help="only the notebooks whose names start so, e.g. 06 08")
    parser.add_argument("--run-notebook", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_notebook:
        return run_notebook_here(args.run_notebook.resolve())
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(f"torch {torch.__version__}, CUDA GPU: {gpu}", flush=True)
    results = {}
    for step in args.only or STEPS:
        if step == "notebooks":
            print("== notebooks, as scripts", flush=True)
            results[step] = check_notebooks(args.notebooks)
        else:
            results[step] = check_step(step)
    print("summary: " + ", ".join(f"{s} {'ok' if r else 'FAILED'}" for s, r in results.items()))
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
