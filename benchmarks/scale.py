"""A large class, graded and reported: ``python -m benchmarks.scale``.

Builds the synthetic class of ``tests/synthetic_class.py`` (00, 03 and 04; solutions, wrong
answers, untouched releases, answers that import the reference, cells that tamper, exhaust
memory or ignore interrupts, corrupt and empty files, learners who hand nothing in) at about
``--submissions`` submissions, then, as an instructor would:

1. ``python -m grader.pipeline grade`` on a Dask LocalCluster (one worker per core), the
   sandbox on, under the class's demonstration caps;
2. with ``--scheduler``, the same class again (a fresh copy) on a cluster started separately:
   ``dask scheduler`` and two ``dask worker`` processes of one thread each, graded with
   ``grade --scheduler tcp://127.0.0.1:PORT``;
3. ``python -m grader.pipeline report`` on the graded class.

Printed: submissions per minute, the coordinator's peak memory (the grading command's own
process, its resident set's high-water mark, read from /proc while it runs), the gradebook's
size, the report's time. Printed, never asserted; the figures go to
``benchmarks/results/scale.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"


def high_water(pid: int) -> int:
    """The process's peak resident set so far (bytes), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def timed(cmd: list[str], env: dict, log: Path) -> tuple[float, int, int]:
    """Run ``cmd``: (seconds, its own peak resident bytes, exit status)."""
    start = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, high_water(proc.pid))
            time.sleep(0.5)
    return time.perf_counter() - start, peak, proc.returncode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def separate_cluster(env: dict, workers: int, stack: list) -> str:
    """``dask scheduler`` and ``workers`` ``dask worker`` processes on 127.0.0.1."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(sys.executable).parent / "dask")
    stack.append(subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                   "--dashboard-address", ":0"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for _ in range(workers):
        stack.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1",
                                       "--memory-limit", "0", "--dashboard-address", ":0"],
                                      cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
    from dask.distributed import Client

    with Client(address, timeout="60s") as client:   # waits for the scheduler, then the workers
        client.wait_for_workers(workers, timeout=120)
    return address


def grade(course_root: Path, env: dict, log: Path, extra: list[str]) -> dict:
    from synthetic_class import DEMO

    cmd = [sys.executable, "-m", "grader.pipeline", "--course", str(course_root), "grade",
           "--memory", str(DEMO.memory), "--time-limit", str(DEMO.time_limit),
           "--cell-time-limit", str(DEMO.cell_time_limit), *extra]
    seconds, peak, rc = timed(cmd, env, log)
    return {"seconds": round(seconds, 1), "coordinator_peak_bytes": peak, "exit_status": rc}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=2000)
    parser.add_argument("--scheduler", action=argparse.BooleanOptionalAction, default=True,
                        help="also grade the class on a separately started two-worker cluster")
    parser.add_argument("--keep", type=Path, default=None, help="build the class here and keep it")
    args = parser.parse_args(argv)
    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    from synthetic_class import ASSIGNMENTS, NO_SUBMISSION, build

    from mlcourse.grading.limits import format_size

    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("MLCOURSE_DB_URL", None)
    learners = max(1, round(args.submissions / (len(ASSIGNMENTS) * (1 - NO_SUBMISSION))))
    where = args.keep or Path(tempfile.mkdtemp(prefix="mlcourse-scale-"))
    figures: dict = {"cores": os.cpu_count(), "learners": learners}
    try:
        started = time.perf_counter()
        os.environ["PATH"] = env["PATH"]
        course, drawn = build(where / "local", learners)
        figures["submissions"] = n = len(drawn)
        figures["build_s"] = round(time.perf_counter() - started, 1)
        print(f"a class of {n} submissions from {learners} learners ({', '.join(ASSIGNMENTS)}), "
              f"built in {figures['build_s']} s; {os.cpu_count()} cores", flush=True)
        if args.scheduler:
            shutil.copytree(where / "local", where / "cluster", symlinks=True)
        runs = [("LocalCluster", where / "local", [])]
        if args.scheduler:
            runs.append(("separate scheduler + 2 workers", where / "cluster", None))
        for label, folder, extra in runs:
            cluster: list = []
            try:
                if extra is None:
                    extra = ["--scheduler", separate_cluster(env, 2, cluster)]
                run = grade(folder / "grader", env, where / f"{folder.name}-grade.log", extra)
            finally:
                for proc in reversed(cluster):
                    proc.terminate()
                for proc in reversed(cluster):
                    try:
                        proc.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        proc.kill()
            db = folder / "grader" / "gradebook.db"
            run["per_minute"] = round(60 * n / run["seconds"], 1)
            run["gradebook_bytes"] = db.stat().st_size if db.is_file() else 0
            figures[label] = run
            print(f"{label:32} {run['seconds']:8.1f} s  {run['per_minute']:6.1f} submissions/min  "
                  f"coordinator peak {format_size(run['coordinator_peak_bytes'])}  gradebook "
                  f"{format_size(run['gradebook_bytes'])}  exit {run['exit_status']}", flush=True)
        report_s, report_peak, rc = timed(
            [sys.executable, "-m", "grader.pipeline", "--course", str(where / "local" / "grader"),
             "report"], env, where / "report.log")
        figures["report"] = {"seconds": round(report_s, 1), "peak_bytes": report_peak, "exit_status": rc}
        print(f"{'report':32} {report_s:8.1f} s  peak {format_size(report_peak)}  exit {rc}")
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "scale.json").write_text(json.dumps(figures, indent=1))
    finally:
        if args.keep is None:
            shutil.rmtree(where, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
