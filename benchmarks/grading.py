"""Grading a class, side by side: ``python -m benchmarks.grading``.

Two classes, each graded twice from identical copies of the course, one after the other:

- **light**: 01-04, 10 learners each (40 submissions), two in three solved and one in three
  the untouched release;
- **heavy**: 06-08, 4 learners each (12 submissions), all solved.

The two sides:

- **stock**: what an instructor runs without this project: ``nbgrader generate_assignment``
  then ``nbgrader autograde`` for each assignment, one submission after another, with
  nbgrader's default preprocessors (a config that names only the course's folders): the
  test cells run their checks inside the learner's kernel, as in the notebook; no sandbox;
- **make grade**: ``python -m grader.pipeline grade`` as ``make grade`` runs it: the canary
  (each assignment's source notebook graded first), then the class on a Dask LocalCluster
  with one worker per core, every kernel in the sandbox, every test cell decided by the judge.

Both must give the same scores (checked, printed). Then, per assignment, one solved
submission is graded in this process with the sandbox on and off, alternately, and its
notebook run plainly (nbclient, no judge, no nbgrader): the sandbox's own cost, and
grading's overhead above the notebook's own execution time.

Printed, never asserted; the figures of the last run go to ``benchmarks/results/grading.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# name -> (assignments, learners, which learners solve it: i % 3 != 2, or everyone)
CLASSES = {
    "light": (("01-data", "02-models", "03-losses", "04-gradients"), 10, "two in three"),
    "heavy": (("06-training-loop", "07-generalization", "08-language-modelling"), 4, "all"),
}
TARGET = 1.9
# nbgrader with nothing of this project's: only where the course's folders are.
STOCK_CONFIG = """import os
HERE = os.path.dirname(os.path.abspath(__file__))
c = get_config()
c.CourseDirectory.root = HERE
c.CourseDirectory.source_directory = os.path.join(os.pardir, "solutions")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")
c.CourseDirectory.course_id = "mlcourse"
"""


def make_class(where: Path, assignments, learners: int, solved: str = "two in three"):
    """A course at ``where`` with ``learners`` submissions of each assignment."""
    import nbformat

    from grader import release
    from grader.course import build_course, kernel_environment
    from mlcourse.grading.rules import is_answer

    course = build_course(where, [ROOT / "solutions" / a for a in assignments])
    with kernel_environment():
        for name in assignments:
            release.generate(course, name)
    for name in assignments:
        source = nbformat.read(course.source_notebook(name), as_version=4)
        answers = {c.metadata.nbgrader["grade_id"]: c.source for c in source.cells if is_answer(c)}
        for i in range(learners):
            nb = nbformat.read(course.release_dir / name / f"{name}.ipynb", as_version=4)
            if solved == "all" or i % 3 != 2:
                for cell in nb.cells:
                    if is_answer(cell):
                        cell.source = answers[cell.metadata.nbgrader["grade_id"]]
            folder = course.submitted / f"learner-{i:02d}" / name
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{name}.ipynb")
    # Each side starts from a course that has graded nothing.
    for leftover in ("gradebook.db", "release"):
        path = course.root / leftover
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    return course


def run(cmd: list[str], cwd: Path, env: dict, ok=(0, 1)) -> tuple[float, str]:
    """(seconds, stdout); an exit status outside ``ok`` (nbgrader's autograde exits 1 when a
    notebook fails) is an error."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if proc.returncode not in ok:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return took, proc.stdout


def cpu_ticks() -> tuple[int, int]:
    """(all, idle) jiffies of the machine since boot, from /proc/stat ((0, 0) elsewhere)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    return sum(fields), fields[3] + fields[4]   # idle + iowait


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    """The share of the machine's cores that were busy between two ``cpu_ticks``: the side
    whose share is short of 100 % leaves cores idle (waits), not only work undone."""
    total, idle = after[0] - before[0], after[1] - before[1]
    return None if total <= 0 else 1 - idle / total


def scores(course) -> dict:
    from grader import gradebook

    return {(r.student, r.assignment): r.score for r in gradebook.export(course, out=course.root / "x.csv")}


def stock(course, assignments, env) -> float:
    """nbgrader generate_assignment + autograde per assignment, nbgrader's defaults."""
    (course.root / "nbgrader_config.py").write_text(STOCK_CONFIG)
    nbgrader = str(Path(sys.executable).parent / "nbgrader")
    total = 0.0
    for name in assignments:
        total += run([nbgrader, "generate_assignment", name, "--force"], course.root, env)[0]
        total += run([nbgrader, "autograde", name, "--force"], course.root, env)[0]
    return total


def ours(course, env, workers: int | None) -> tuple[float, float]:
    """make grade's wall time, and the part of it its canary took (as it printed it)."""
    cmd = [sys.executable, "-m", "grader.pipeline", "--course", str(course.root), "grade"]
    if workers is not None:
        cmd += ["--workers", str(workers)]
    took, out = run(cmd, ROOT, env, ok=(0,))
    canary = re.search(r"^canary: .*\(([\d.]+) s\)$", out, re.M)
    return took, float(canary.group(1)) if canary else 0.0


def plain_nbgrader(where: Path, env, name: str = "06-training-loop") -> dict:
    """One solved submission of ``name`` graded by plain ``nbgrader autograde`` inside the
    course's own folder (its nbgrader_config.py: judge and sandbox, no canary, no Dask), and by
    ``make grade``, from identical copies. DESIGN's promise: plain nbgrader is no slower."""
    from grader.course import Course

    base = make_class(where / "base", (name,), 1, "all")
    sides = {}
    for side in ("plain", "ours"):
        shutil.copytree(base.root.parent, where / side)
        sides[side] = Course(where / side / "grader",
                             db_url_override=f"sqlite:///{where}/{side}/grader/gradebook.db")
    nbgrader = str(Path(sys.executable).parent / "nbgrader")
    plain = run([nbgrader, "generate_assignment", name, "--force"], sides["plain"].root, env)[0]
    plain += run([nbgrader, "autograde", name, "--force"], sides["plain"].root, env)[0]
    took, canary = ours(sides["ours"], env, None)
    return {"assignment": name, "plain_nbgrader_s": plain, "make_grade_s": took, "canary_s": canary,
            "same_scores": scores(sides["plain"]) == scores(sides["ours"])}


def plain_seconds(path: Path) -> float:
    """The notebook's own run: a fresh kernel, every cell, nothing else."""
    import nbformat
    from nbclient import NotebookClient

    from mlcourse.grading.limits import KERNEL_ARGS, KERNEL_ENV

    nb = nbformat.read(path, as_version=4)
    os.environ.update(KERNEL_ENV)
    start = time.perf_counter()
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}},
                   extra_arguments=list(KERNEL_ARGS)).execute()
    return time.perf_counter() - start


def overheads(course, assignments, repeats: int) -> list[dict]:
    """Per assignment: plain run, grading with the sandbox, grading without."""
    from dataclasses import replace

    from grader import autograde, gradebook, intake, worker
    from grader.jobs import Settings

    rows = []
    todo = [(name, "learner-00") for name in assignments]
    jobs, infos, _, _ = intake.collect(course, todo, Settings(), force=True)
    autograde.register(course, sorted(infos), infos)
    for job in jobs:
        info = infos[job.assignment]
        template = gradebook.template(course, job.assignment)
        off = replace(job, settings=replace(job.settings, sandbox=False))
        timings = {"sandbox": [], "no sandbox": [], "plain": []}
        path = course.submitted / job.student / job.assignment / f"{job.assignment}.ipynb"
        for _ in range(repeats):
            for label, which in (("sandbox", job), ("no sandbox", off)):
                result = worker.grade_job(which, info, template)
                assert result.ok, result.error
                timings[label].append(result.seconds)
            timings["plain"].append(plain_seconds(path))
        rows.append({"assignment": job.assignment,
                     **{k: statistics.median(v) for k, v in timings.items()}})
    return rows


def reference_solutions(where: Path) -> list[dict]:
    """Every solution notebook graded as a submission under the default caps (limits.py):
    its score, time and the kernel's peak memory."""
    import nbformat

    from grader import autograde, batch, gradebook, intake
    from grader.course import build_course
    from grader.jobs import Settings

    names = sorted(p.name for p in (ROOT / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file())
    course = build_course(where, [ROOT / "solutions" / n for n in names])
    for name in names:
        folder = course.submitted / "reference" / name
        folder.mkdir(parents=True)
        nbformat.write(nbformat.read(course.source_notebook(name), as_version=4),
                       folder / f"{name}.ipynb")
    todo = [(name, "reference") for name in names]
    jobs, infos, bad, _ = intake.collect(course, todo, Settings(), force=True)
    assert not bad, bad
    autograde.register(course, names, infos)
    templates = {name: gradebook.template(course, name) for name in names}
    rows = []
    for job, result in batch.run_jobs(jobs, infos, templates):
        grades = [g for nb in result.notebooks.values() for g in nb["grades"].values()]
        rows.append({"assignment": job.assignment, "ok": result.ok,
                     "full_marks": bool(grades) and all(
                         g["auto_score"] == g["max_score"] for g in grades),
                     "seconds": result.seconds, "peak_memory": result.peak_memory})
    return sorted(rows, key=lambda r: r["assignment"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=1,
                        help="multiply each class's learners (light: 10, heavy: 4)")
    parser.add_argument("--classes", nargs="*", choices=list(CLASSES), default=list(CLASSES))
    parser.add_argument("--workers", type=int, default=None, help="as make grade --workers")
    parser.add_argument("--repeats", type=int, default=2, help="runs per overhead measurement")
    parser.add_argument("--class-only", action="store_true", help="only the side-by-side class run")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env.pop("MLCOURSE_DB_URL", None)

    with tempfile.TemporaryDirectory(prefix="mlcourse-bench-") as tmp:
        from grader.course import Course

        classes, copies = [], {}
        print(f"{os.cpu_count()} cores; stock = serial nbgrader, its default preprocessors, "
              "no sandbox; make grade = canary + Dask + sandbox + judge")
        load = os.getloadavg()[0]
        if load > 0.5:
            print(f"WARNING: load average {load:.1f} before the run: other work shares the cores, "
                  "and these figures measure it too")
        print(f"{'class':38}{'stock s':>9}{'make grade s':>14}{'of it canary s':>16}"
              f"{'speed-up':>10}{'same scores':>13}")
        for label in args.classes:
            assignments, learners, solved = CLASSES[label]
            where = Path(tmp) / label
            base = make_class(where / "base", assignments, learners * args.scale, solved)
            sides = {}
            for side in ("stock", "ours"):
                shutil.copytree(base.root.parent, where / side)
                sides[side] = Course(where / side / "grader",
                                     db_url_override=f"sqlite:///{where}/{side}/grader/gradebook.db")
            n = learners * args.scale * len(assignments)
            start = cpu_ticks()
            t_stock = stock(sides["stock"], assignments, env)
            middle = cpu_ticks()
            t_ours, t_canary = ours(sides["ours"], env, args.workers)
            busy_stock, busy_ours = busy_share(start, middle), busy_share(middle, cpu_ticks())
            same = scores(sides["stock"]) == scores(sides["ours"])
            speedup = t_stock / t_ours
            name = f"{label}: {n} of {assignments[0][:2]}-{assignments[-1][:2]} ({solved} solved)"
            print(f"{name:38}{t_stock:9.1f}{t_ours:14.1f}{t_canary:16.1f}{speedup:9.2f}x"
                  f"{str(same):>13}")
            if busy_stock is not None and busy_ours is not None:
                print(f"{'':38}cores busy: stock {busy_stock:.0%}, make grade {busy_ours:.0%}")
            classes.append({"class": label, "assignments": assignments, "submissions": n,
                            "stock_s": t_stock, "make_grade_s": t_ours, "canary_s": t_canary,
                            "speedup": speedup, "same_scores": same,
                            "busy_stock": busy_stock, "busy_make_grade": busy_ours})
            if label == "light":
                copies = sides
        worst = min(c["speedup"] for c in classes)
        print(f"speed-up, the smaller of the two: {worst:.2f}x (target >= {TARGET}x: "
              f"{'OK' if worst >= TARGET else 'MISSED'})")
        results = ROOT / "benchmarks" / "results"
        results.mkdir(exist_ok=True)
        figures = {"cores": os.cpu_count(), "classes": classes}
        (results / "grading.json").write_text(json.dumps(figures, indent=1))
        if args.class_only:
            return 0
        one = plain_nbgrader(Path(tmp) / "plain", env)
        print(f"\none solved {one['assignment']}: plain `nbgrader autograde` in the course folder "
              f"{one['plain_nbgrader_s']:.1f} s, make grade {one['make_grade_s']:.1f} s (canary "
              f"{one['canary_s']:.1f} s of it); same scores: {one['same_scores']}")
        figures["plain_nbgrader"] = one
        (results / "grading.json").write_text(json.dumps(figures, indent=1))
        if not copies:
            return 0
        print("\nper submission, in this process (median of "
              f"{args.repeats}): the notebook alone, graded without and with the sandbox")
        print(f"{'assignment':16}{'notebook s':>11}{'graded s':>10}{'sandboxed s':>12}"
              f"{'sandbox cost s':>15}{'grading overhead s':>19}")
        rows = overheads(copies["ours"], CLASSES["light"][0], args.repeats)
        for r in rows:
            print(f"{r['assignment']:16}{r['plain']:11.2f}{r['no sandbox']:10.2f}{r['sandbox']:12.2f}"
                  f"{r['sandbox'] - r['no sandbox']:15.2f}{r['sandbox'] - r['plain']:19.2f}")
        cost = statistics.mean(r["sandbox"] - r["no sandbox"] for r in rows)
        print(f"mean sandbox cost per submission: {cost:.2f} s")

        from mlcourse.grading.limits import CELL_SECONDS, MEMORY, NOTEBOOK_SECONDS, format_size

        print("\nthe reference solutions, graded as submissions under the default caps "
              f"({format_size(MEMORY)}, {CELL_SECONDS} s a cell, {NOTEBOOK_SECONDS} s a notebook; "
              "two Dask workers at once):")

        refs = reference_solutions(Path(tmp) / "reference")
        for r in refs:
            peak = format_size(r["peak_memory"]) if r["peak_memory"] else "not measured"
            print(f"  {r['assignment']:24} {'every graded cell passed' if r['full_marks'] else 'LOST POINTS':26}"
                  f"{r['seconds']:6.1f} s   peak memory {peak}")
        (results / "grading.json").write_text(json.dumps(
            {**figures, "per_submission": rows, "sandbox_cost_s": cost,
             "reference_solutions": refs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
