"""A grading process that is stopped leaves nothing behind (issue 21).

SIGTERM (a scheduler, a container stop) and SIGHUP end ``python -m grader.pipeline grade``
as Ctrl-C does: the grades finished are kept, the CSV is written, no kernel process and no
cgroup of it remains, and the next run grades exactly what is missing. Each cgroup is named
after the grader process that made it; a grader starting removes the empty groups of dead
ones and never those of a living one.

``Watch`` is how a test knows what is its own: it follows a process's descendants while it
runs, so another test's sandboxes, or a group left on the machine by another grader, never
count against it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import nbformat
import pytest
from nbtools import FIXTURES

from grader import capabilities, gradebook, release, sandbox
from grader.course import REPO as GRADER_REPO
from grader.course import build_course

NAME = "99-fixture"
pytestmark = pytest.mark.slow


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, start time) of a process, or None when it is gone (a zombie is: it runs
    nothing, and where PID 1 reaps no orphan, an orphan's stays)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return None if fields[0] == "Z" else (int(fields[1]), fields[19])


def _groups_of(pid: int) -> set[str]:
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return set()
    return {part for line in lines for part in line.split(":")[-1].split("/")
            if part.startswith("mlcourse-")}


def alive(pid: int, start: str) -> bool:
    """The very process seen before (not another that got its pid since) still runs."""
    now = _stat(pid)
    return now is not None and now[1] == start


class Watch:
    """While inside: every descendant of ``root`` (pid -> start time) and every ``mlcourse-``
    cgroup one of them was in, sampled every few hundredths of a second."""

    def __init__(self, root: int):
        self.root, self.seen, self.groups = root, {}, set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sample()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(0.05)

    def sample(self) -> None:
        children: dict[int, list[tuple[int, str]]] = {}
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit() and (info := _stat(int(proc.name))) is not None:
                children.setdefault(info[0], []).append((int(proc.name), info[1]))
        todo = [self.root]
        while todo:
            for pid, start in children.get(todo.pop(), []):
                if pid not in self.seen:
                    self.seen[pid] = start
                    self.groups |= _groups_of(pid)
                todo.append(pid)

    def kernels(self) -> list[int]:
        """Descendants seen in a sandbox's cgroup or running as a sandbox user, alive now."""
        return [pid for pid, start in self.seen.items() if alive(pid, start)
                and (_groups_of(pid) or _sandbox_uid(pid))]

    def owned_groups(self) -> list[Path]:
        """Every cgroup, existing now, made by ``root`` or a descendant, or holding one."""
        caps = capabilities.probe()
        owners = {self.root, *self.seen}
        found = []
        for base in dict.fromkeys([caps.memory_cgroup, caps.pids_cgroup]):
            if base is None:
                continue
            for group in base.glob("mlcourse-*"):
                if capabilities.group_owner(group.name) in owners or group.name in self.groups:
                    found.append(group)
        return found


def _sandbox_uid(pid: int) -> bool:
    try:
        uid = Path(f"/proc/{pid}").stat().st_uid
    except OSError:
        return False
    return sandbox.UID_BASE <= uid < sandbox.UID_BASE + sandbox.UID_SLOTS


def class_of(tmp_path: Path, students: list[str], extra: str):
    """A course with the 99 fixture and one right submission per student, each with a cell
    of its own (``extra``) after the visible test."""
    course = build_course(tmp_path, [FIXTURES / NAME])
    release.generate(course, NAME)
    nb = nbformat.read(course.release_dir / NAME / f"{NAME}.ipynb", as_version=4)
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    by_id["double-answer"].source = "def double(x):\n    return 2 * x\n"
    nb.cells.insert(nb.cells.index(by_id["double-visible"]) + 1, nbformat.v4.new_code_cell(extra))
    for student in students:
        folder = course.submitted / student / NAME
        folder.mkdir(parents=True)
        (folder / f"{NAME}.ipynb").write_text(nbformat.writes(nb), encoding="utf-8")
    return course


def csv_scores(path: Path) -> dict[str, str]:
    import csv

    with open(path, newline="", encoding="utf-8") as fh:
        return {row["student"]: row["score"] for row in csv.DictReader(fh)}


@pytest.mark.parametrize("workers,whole_group", [(0, False), (1, False), (1, True)],
                         ids=["in-process", "dask", "dask-process-group"])
def test_sigterm_ends_a_batch_like_ctrl_c_and_leaves_nothing(tmp_path, course_env, workers,
                                                             whole_group):
    """SIGTERM while a submission is being graded: to the grader alone, or (a container stop)
    to its whole process group, Dask workers included."""
    students = [f"s{i}" for i in range(4)]
    course = class_of(tmp_path, students, "import time\ntime.sleep(3)")
    command = [sys.executable, "-m", "grader.pipeline", "--course", str(course.root), "grade",
               "--workers", str(workers)]
    ledger = course.root / ".work" / gradebook.LEDGER
    proc = subprocess.Popen(command, env=course_env, cwd=GRADER_REPO, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with Watch(proc.pid) as watch:
            deadline = time.monotonic() + 180
            # One grade finished, and a kernel grading the next one.
            while time.monotonic() < deadline and proc.poll() is None and not (
                    ledger.is_file() and json.loads(ledger.read_text()) and watch.kernels()):
                time.sleep(0.1)
            assert proc.poll() is None, proc.communicate()[0]
            assert watch.kernels(), "no kernel was running when the signal was sent"
            if whole_group:
                os.killpg(proc.pid, signal.SIGTERM)
            else:
                proc.send_signal(signal.SIGTERM)
            out = proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM, out
    assert "stopped (SIGTERM)" in out, out
    assert watch.groups, "the watch saw no sandbox cgroup: nothing was tested"
    # A Dask worker signalled with its grader (the whole group) empties its sandboxes and
    # ends on its own clock: give it a few seconds, not forever.
    settle = time.monotonic() + 15
    while (left := [pid for pid, start in watch.seen.items() if alive(pid, start)]) \
            and time.monotonic() < settle:
        time.sleep(0.2)
    assert not left, f"processes of the stopped grader still run 15 s after it: {left}\n{out}"
    assert not watch.owned_groups(), f"cgroups outlived the grader: {watch.owned_groups()}"
    done = {key.split("/")[0] for key in json.loads(ledger.read_text())}
    assert 1 <= len(done) < len(students), out
    assert {s: csv_scores(course.grades_csv).get(s) for s in done} == dict.fromkeys(done, "3")

    rerun = subprocess.run(command, env=course_env, cwd=GRADER_REPO, capture_output=True,
                           text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    missing = len(students) - len(done)
    assert f"{len(done)} submission(s) already graded" in rerun.stdout, rerun.stdout
    assert f"graded {missing} of {missing}" in rerun.stdout, rerun.stdout
    assert csv_scores(course.grades_csv) == dict.fromkeys(students, "3")


def test_sighup_and_a_second_signal_end_it_once(tmp_path, course_env):
    """SIGHUP (a closed terminal) stops it too; a second signal while it finishes is ignored,
    so the CSV is still written."""
    course = class_of(tmp_path, ["a", "b"], "import time\ntime.sleep(30)")
    command = [sys.executable, "-m", "grader.pipeline", "--course", str(course.root), "grade",
               "--workers", "0"]
    proc = subprocess.Popen(command, env=course_env, cwd=GRADER_REPO, start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        with Watch(proc.pid) as watch:
            deadline = time.monotonic() + 120
            # A learner's kernel: the second sandbox (the first grades the source notebook).
            while time.monotonic() < deadline and proc.poll() is None and not (
                    len(watch.groups) >= 2 and watch.kernels()):
                time.sleep(0.1)
            assert watch.kernels(), proc.communicate()[0] if proc.poll() is not None else ""
            proc.send_signal(signal.SIGHUP)
            time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)
            out = proc.communicate(timeout=120)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 128 + signal.SIGHUP, out
    assert course.grades_csv.is_file(), out
    assert not [pid for pid, start in watch.seen.items() if alive(pid, start)]
    assert not watch.owned_groups()


@pytest.mark.skipif(capabilities.probe().memory_cgroup is None and
                    capabilities.probe().pids_cgroup is None, reason="no writable cgroup here")
def test_a_grader_starting_removes_only_empty_groups_of_dead_graders():
    caps = capabilities.probe()
    bases = [b for b in dict.fromkeys([caps.memory_cgroup, caps.pids_cgroup]) if b is not None]
    dead = subprocess.Popen(["true"])
    dead.wait()
    living = subprocess.Popen(["sleep", "60"])
    busy = subprocess.Popen(["sleep", "60"])  # a process still in a dead grader's group
    tag = uuid.uuid4().hex[:8]
    made = {
        "dead": [b / f"mlcourse-{dead.pid}-{tag}" for b in bases],
        "probe-dead": [b / f"mlcourse-probe-{dead.pid}" for b in bases],
        "living": [b / f"mlcourse-{living.pid}-{tag}" for b in bases],
        "dead-busy": [b / f"mlcourse-{dead.pid}-busy{tag}" for b in bases],
    }
    try:
        for groups in made.values():
            for group in groups:
                group.mkdir()
        for group in made["dead-busy"]:
            (group / "cgroup.procs").write_text(str(busy.pid))
        start = subprocess.run([sys.executable, "-c", "from grader.capabilities import probe; probe()"],
                               cwd=GRADER_REPO, capture_output=True, text=True, timeout=60)
        assert start.returncode == 0, start.stderr
        assert not any(g.exists() for g in made["dead"] + made["probe-dead"])
        assert all(g.exists() for g in made["living"]), "a living grader's group was removed"
        assert all(g.exists() for g in made["dead-busy"]), "a group with a process was removed"
        assert capabilities.group_owner(f"mlcourse-{dead.pid}-{tag}") == dead.pid
        assert capabilities.group_owner("mlcourse-abcdef012345") is None  # no owner: kept
    finally:
        living.kill()
        busy.kill()
        living.wait()
        busy.wait()
        for groups in made.values():
            for group in groups:
                for _ in range(50):
                    try:
                        group.rmdir()
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.05)


def test_a_sandbox_names_its_groups_after_its_process_and_exit_empties_it(tmp_path):
    box = sandbox.Sandbox(tmp_path)
    assert capabilities.group_owner(box.name) == os.getpid()
    assert sandbox.LIVE.get(id(box)) is box
    sandbox.cleanup_all()
    assert id(box) not in sandbox.LIVE and not box.runtime.exists()
