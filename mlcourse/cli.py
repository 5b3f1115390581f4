"""The ``mlcourse`` command.

    mlcourse check                      is this machine ready for the course?
    mlcourse grade NOTEBOOK [--source]  grade one notebook locally, hidden tests included
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def find_source(notebook: Path) -> Path | None:
    """``solutions/NN-name/NN-name.ipynb`` for a notebook named ``NN-name.ipynb``,
    looked for in the folders above it."""
    name = notebook.stem
    for folder in [notebook.resolve().parent, *notebook.resolve().parents, Path.cwd()]:
        candidate = folder / "solutions" / name / f"{name}.ipynb"
        if candidate.is_file():
            return candidate
    return None


def cmd_check(_: argparse.Namespace) -> int:
    import platform

    import numpy as np

    print(f"python     {platform.python_version()}")
    print(f"numpy      {np.__version__}")
    try:
        import torch

        from mlcourse.device import available_devices

        print(f"torch      {torch.__version__}  devices: {', '.join(available_devices())}")
    except ImportError:
        print("torch      missing: run `make lab` (or `pip install -e .`) in the course folder")
        return 1
    import matplotlib

    print(f"matplotlib {matplotlib.__version__}")
    print("Ready: open notebooks/00-loop-at-a-glance first.")
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    from mlcourse.grading.notebook import grade

    notebook = Path(args.notebook)
    source = Path(args.source) if args.source else find_source(notebook)
    if source is None:
        # A class handed only notebooks/: the released notebook's own (visible) tests.
        print(f"No source notebook (solutions/{notebook.stem}/{notebook.stem}.ipynb) here: "
              f"graded on the visible tests only; the instructor's grade adds hidden tests.")
        source = notebook
    else:
        print(f"Grading {notebook} against {source} (hidden tests included)…", flush=True)
    try:
        result = grade(notebook, source, timeout=args.timeout)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result.report())
    return 0 if result.points == result.max_points else 1


def main(argv: list[str] | None = None) -> int:
    from mlcourse.grading.limits import CELL_SECONDS

    parser = argparse.ArgumentParser(prog="mlcourse", description="How Models Learn: course tools.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="check that this machine is ready for the course").set_defaults(run=cmd_check)
    g = sub.add_parser("grade", help="grade one notebook locally, hidden tests included")
    g.add_argument("notebook", help="your notebook, e.g. notebooks/03-losses/03-losses.ipynb")
    g.add_argument("--source", help="the source notebook with hidden tests (found in solutions/ by default)")
    g.add_argument("--timeout", type=int, default=CELL_SECONDS,
                   help=f"seconds per cell (default {CELL_SECONDS})")
    g.set_defaults(run=cmd_grade)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
