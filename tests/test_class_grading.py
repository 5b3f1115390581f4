"""Grading a class: hostile submissions in one batch on Dask, each in its sandbox.

One scratch course (grader/'s config files and the 99-fixture assignment), one batch of
honest and hostile submissions graded by ``autograde.grade`` on a two-worker
LocalCluster, under small caps (512 MiB, 64 processes, 6 s a cell, 40 s a notebook).
Every hostile kind must leave the batch running, change nothing of the course or of
another learner, read nothing outside its own folder and earn only what it solved.

The fixture: ``double`` (answer), ``double-visible`` (1 point), ``double-hidden``
(2 points, holds the canary ``hidden-canary-7f3a``). Hostile code goes in a cell of
the learner's own after ``double-visible``, so a kernel that dies there keeps 1 point.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell
from nbtools import FIXTURES
from test_clean_exit import Watch, alive

from grader import autograde, gradebook, release, sandbox
from grader.course import REPO as GRADER_REPO
from grader.course import Course, build_course
from grader.jobs import Settings

NAME = "99-fixture"
CANARY = "hidden-canary-7f3a"
SETTINGS = Settings(memory="512MiB", time_limit=40, cell_time_limit=6, processes=64)
WRONG = "def double(x):\n    return x + 2\n"  # right on 2 only: the visible case

pytestmark = pytest.mark.slow


def needs(part: str):
    """Skip where the machine lacks a sandbox part, except in CI, which must have them all."""
    caps = sandbox.probe()
    have = {"namespaces": caps.bwrap, "cgroups": caps.memory_cgroup, "root": caps.root}[part]
    if not have and os.environ.get("MLCOURSE_REQUIRE_SANDBOX"):
        pytest.fail(f"this machine must have {part} for the sandbox: {caps.why_not}")
    return pytest.mark.skipif(not have, reason=f"no {part} here: {caps.why_not}")


class Listener:
    """A TCP server on 127.0.0.1 that counts connections (a submission must make none)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


def released(course: Course):
    return nbformat.read(course.release_dir / NAME / f"{NAME}.ipynb", as_version=4)


def cell(nb, gid):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


def answered(course, answer: str = "def double(x):\n    return 2 * x\n", extra: str | None = None,
             edit=None):
    nb = released(course)
    cell(nb, "double-answer").source = answer
    if extra is not None:
        at = nb.cells.index(cell(nb, "double-visible")) + 1
        nb.cells.insert(at, new_code_cell(extra))
    if edit is not None:
        edit(nb)
    return nbformat.writes(nb)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


def sandbox_processes() -> list[int]:
    """Processes of the sandbox's users still alive."""
    low, high = sandbox.UID_BASE, sandbox.UID_BASE + sandbox.UID_SLOTS
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                uid = proc.stat().st_uid
            except OSError:
                continue
            if low <= uid < high:
                found.append(int(proc.name))
    return found


def hostile_corpus(course: Course, listener: Listener, marker: Path) -> dict:
    """student -> (notebook text, expected score or None for "an error row", checks)."""
    root, sol = course.root, course.solutions / NAME / f"{NAME}.ipynb"
    other = course.submitted / "honest" / NAME / f"{NAME}.ipynb"
    targets = [root / "gradebook.db", root / "nbgrader_config.py", sol, other,
               root / "judged_execute.py"]
    # pathlib, not open(): the integrity scan refuses open() outright, and these must
    # meet the sandbox, which is what stops an attacker who avoids the scan.
    reads = "import pathlib\n" + "\n".join(
        f"try:\n    print({str(t)!r}, pathlib.Path({str(t)!r}).read_bytes()[:80])\n"
        f"except OSError as e:\n    print('refused', type(e).__name__)" for t in [*targets, "leak.txt"])
    writes = "import pathlib\n" + "\n".join(
        f"try:\n    pathlib.Path({str(t)!r}).write_text('raise SystemExit(\"owned\")')\n"
        f"except OSError as e:\n    print('refused', type(e).__name__)" for t in targets)
    later = (f"import os, time, pathlib\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
             f"        time.sleep(4)\n        pathlib.Path({str(marker)!r}).write_text('I outlived grading')\n"
             f"        pathlib.Path({str(root / 'gradebook.db')!r}).write_bytes(b'x')\n    os._exit(0)\n")
    ran_by_grader = (f"import pathlib\nfor name in ('nbgrader_config.py', 'sitecustomize.py', "
                     f"'judged_execute.py', 'sandbox.py'):\n"
                     f"    pathlib.Path(name).write_text('import pathlib; pathlib.Path({str(marker)!r})"
                     f".write_text(\"ran\")')\n")

    def drop(gid):
        return lambda nb: nb.cells.remove(cell(nb, gid))

    def retype(nb):
        c = cell(nb, "double-hidden")
        nb.cells[nb.cells.index(c)] = new_markdown_cell(c.source, metadata=c.metadata)

    def regrade(nb):
        meta = cell(nb, "double-hidden").metadata.nbgrader
        meta["grade_id"], meta["points"] = "free-points", 100
        cell(nb, "double-visible").metadata.nbgrader["points"] = 50

    def edit_tests(nb):
        for gid in ("double-visible", "double-hidden"):
            cell(nb, gid).source = "print('all good')"

    def duplicate(nb):
        c = cell(nb, "double-visible")
        nb.cells.insert(nb.cells.index(c) + 1, nbformat.from_dict(json.loads(json.dumps(c))))

    def reorder(nb):
        a = cell(nb, "double-answer")
        nb.cells.remove(a)
        nb.cells.append(a)

    foreign = nbformat.v4.new_notebook(cells=[new_code_cell("print('another course')")])
    return {
        # honest learners: their grades must come out exactly right
        "honest": (answered(course), 3),
        "honest-wrong": (answered(course, WRONG), 1),
        "honest-duplicate": (answered(course, edit=duplicate), 3),
        "honest-reordered": (answered(course, edit=reorder), 3),
        # kernels that die midway keep what was graded before
        "exit": (answered(course, extra="import os\nos._exit(3)"), 1),
        "kill9": (answered(course, extra="import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"), 1),
        # IPython's exit() in a kernel under nbclient asks the front end to close: the kernel
        # goes on, so the answer still counts.
        "ipython-exit": (answered(course, extra="exit()"), 3),
        "memory-bomb": (answered(course, extra="import numpy as np\na = np.ones(2**30 // 8)\nprint(a.sum())"), 1),
        "fork-bomb": (answered(course, extra=(
            "import os, time\nn = 0\nfor i in range(300):\n    try:\n        pid = os.fork()\n"
            "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(300)\n"
            "        os._exit(0)\n    n += 1\nprint('forked', n)")), 3),
        "infinite-loop": (answered(course, extra="while True:\n    pass"), 3),
        "stubborn-loop": (answered(course, extra=(
            "import time\nwhile True:\n    try:\n        time.sleep(100)\n"
            "    except KeyboardInterrupt:\n        pass")), 1),
        "flood": (answered(course, extra="for _ in range(60):\n    print('x' * 1_000_000)"), 3),
        "kill-the-grader": (answered(course, extra=(
            "import os, signal\nfor pid in range(2, 5000):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
            "    except OSError:\n        pass\nos.kill(-1, signal.SIGKILL)")), 1),
        "detached": (answered(course, extra=later), 3),
        "network": (answered(course, extra=(
            f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {listener.port}), timeout=2)\n"
            f"    print('connected')\nexcept OSError as e:\n    print('refused', e)")), 3),
        "reads": (answered(course, extra=reads), 3),
        "writes": (answered(course, WRONG, extra=writes), 1),
        "deletes-own-files": (answered(course, extra=(
            "import os\nfor f in os.listdir('.'):\n    os.remove(f)\nprint(os.listdir('.'))")), 3),
        "planted-files": (answered(course, extra=ran_by_grader), 3),
        # Links left where nbgrader then writes the graded notebook and reads the timestamp
        # (as the grader's user): they must aim nowhere.
        "planted-links": (answered(course, extra=(
            f"import os\nfor f in os.listdir('.'):\n    os.remove(f)\n"
            f"os.symlink({str(root / 'nbgrader_config.py')!r}, '{NAME}.ipynb')\n"
            f"os.symlink('/etc/shadow', 'timestamp.txt')\nos.mkfifo('pipe')")), 3),
        "deleted-tests": (answered(course, WRONG, edit=drop("double-hidden")), 1),
        "edited-tests": (answered(course, WRONG, edit=edit_tests), 1),
        "retyped-test": (answered(course, WRONG, edit=retype), 1),
        "changed-ids-points": (answered(course, WRONG, edit=regrade), 1),
        "tamper": (answered(course, extra="import gc\nfound = gc.get_objects()"), 0),
        "empty-file": ("", None),
        "corrupt-json": ('{"cells": [', None),
        "foreign-notebook": (nbformat.writes(foreign), None),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    where = tmp_path_factory.mktemp("class")
    course = build_course(where, [FIXTURES / NAME])
    release.generate(course, NAME)
    marker = where / "marker.txt"
    with course.gradebook() as gb:
        gb.update_or_create_student("absent")  # on the roster, hands nothing in
    listener = Listener()
    corpus = hostile_corpus(course, listener, marker)
    for student, (text, _) in corpus.items():
        folder = course.submitted / student / NAME
        folder.mkdir(parents=True)
        (folder / f"{NAME}.ipynb").write_text(text, encoding="utf-8")
    # A link out of the learner's folder is never followed.
    (course.submitted / "reads" / NAME / "leak.txt").symlink_to(course.source_notebook(NAME))
    watched = {p: digest(p) for p in [course.root / "nbgrader_config.py", course.root / "judged_execute.py",
                                       course.source_notebook(NAME),
                                       course.submitted / "honest" / NAME / f"{NAME}.ipynb"]}
    started = time.perf_counter()
    with Watch(os.getpid()) as watch:  # this batch's processes and groups, no one else's
        rows = autograde.grade(course, workers=2, settings=SETTINGS, echo=lambda line: None)
    seconds = time.perf_counter() - started
    time.sleep(6)  # longer than the detached process waits before it acts
    left_processes = [p for p in sandbox_processes() if p in watch.seen and alive(p, watch.seen[p])]
    left_cgroups = watch.owned_groups()
    listener.close()
    yield {"course": course, "rows": {r.student: r for r in rows}, "corpus": corpus,
           "marker": marker, "listener": listener, "watched": watched, "seconds": seconds,
           "left_processes": left_processes, "left_cgroups": left_cgroups}


@needs("namespaces")
@needs("cgroups")
def test_every_submission_earns_what_it_solved_and_no_more(graded):
    rows, corpus = graded["rows"], graded["corpus"]
    assert set(rows) == set(corpus), "the batch did not reach every submission"
    wrong = {}
    for student, (_, expected) in corpus.items():
        row = rows[student]
        got = None if row.error else row.score
        if got != expected or row.max_score != 3:
            wrong[student] = (got, row.max_score, row.error or row.failed_cells)
    assert not wrong, f"student: (score, max, why) where another was due: {wrong}"


@needs("namespaces")
def test_nothing_of_the_course_or_another_learner_was_read_or_changed(graded):
    for path, before in graded["watched"].items():
        assert digest(path) == before, f"{path} changed during grading"
    out = autograded_text(graded, "reads")
    assert CANARY not in out and "BEGIN SOLUTION" not in out and "SQLite" not in out
    assert out.count("refused") == 6, out[:2000]
    assert graded["listener"].connections == 0
    assert "refused" in autograded_text(graded, "network")
    assert not graded["marker"].exists(), graded["marker"].read_text()
    linked = graded["course"].root / "autograded" / "planted-links" / NAME
    assert not any(p.is_symlink() for p in linked.iterdir())
    assert "root:" not in "".join(p.read_text() for p in linked.iterdir())


@needs("namespaces")
def test_every_process_is_gone_after_grading(graded):
    """Nothing the batch started outlives it: no process it started, no cgroup made by it or
    its workers (named after them). Another test's sandboxes, or a group some other grader
    left on the machine, are not the batch's and never counted."""
    left = set(graded["left_processes"])
    groups = set(graded["left_cgroups"])
    deadline = time.monotonic() + 30
    while (left or groups) and time.monotonic() < deadline:
        time.sleep(2)
        left &= set(sandbox_processes())
        groups = {p for p in groups if p.exists()}
    assert not left, f"sandbox processes {sorted(left)} outlived the batch"
    assert not groups, f"cgroups {sorted(map(str, groups))} outlived the batch"


@needs("cgroups")
def test_a_kernel_death_names_its_cause_and_the_cell(graded):
    memory = autograded_text(graded, "memory-bomb")
    # Killed by the OOM killer, or crawling near its cap when its time ran out (under load).
    assert re.search(r"kernel killed: memory(?: above 512 MiB|: it neared its cap of 512 MiB, "
                     r"where work crawls, and ran out of time) in cell 3 \(your own cell\)", memory)
    assert "not run: kernel killed" in memory
    assert "kernel killed: it exited with status 3" in autograded_text(graded, "exit")
    assert "killed by signal SIGKILL" in autograded_text(graded, "kill9")
    assert "ignored the interrupt" in autograded_text(graded, "stubborn-loop")


def test_output_is_capped_and_errors_say_why(graded):
    flood = graded["course"].root / "autograded" / "flood" / NAME / f"{NAME}.ipynb"
    assert flood.stat().st_size < 3_000_000
    assert "[output cut" in flood.read_text()
    errors = {s: graded["rows"][s].error for s in ("empty-file", "corrupt-json", "foreign-notebook")}
    assert "not a readable notebook" in errors["empty-file"]
    assert "not a readable notebook" in errors["corrupt-json"]
    assert "foreign notebook" in errors["foreign-notebook"]


def test_fork_bomb_is_capped(graded):
    text = autograded_text(graded, "fork-bomb")
    forked = int(re.search(r"forked (\d+)", text).group(1))
    assert forked < SETTINGS.processes, text


def test_rerun_grades_nothing_unchanged_and_force_gives_identical_scores(graded):
    course = graded["course"]
    lines = []
    again = autograde.grade(course, workers=0, settings=SETTINGS, echo=lines.append)
    assert again == [] and any("already graded" in line for line in lines), lines
    # Change one submission: only that one is graded again.
    path = course.submitted / "honest-wrong" / NAME / f"{NAME}.ipynb"
    path.write_text(answered(course), encoding="utf-8")
    changed = autograde.grade(course, workers=0, settings=SETTINGS, echo=lines.append)
    assert [(r.student, r.score) for r in changed] == [("honest-wrong", 3)]
    honest = autograde.grade(course, students=["honest", "exit"], workers=0, settings=SETTINGS,
                            force=True, echo=lines.append)
    assert {r.student: r.score for r in honest} == {"honest": 3, "exit": 1}


def autograded_text(graded, student: str) -> str:
    path = graded["course"].root / "autograded" / student / NAME / f"{NAME}.ipynb"
    nb = nbformat.read(path, as_version=4)
    return json.dumps([c.get("outputs", []) for c in nb.cells])


# ---- an interrupted batch ------------------------------------------------------------------


def test_ctrl_c_keeps_every_finished_grade_and_the_rerun_grades_the_rest(tmp_path, course_env):
    course = build_course(tmp_path, [FIXTURES / NAME])
    release.generate(course, NAME)
    text = answered(course)
    students = [f"s{i}" for i in range(5)]
    for student in students:
        folder = course.submitted / student / NAME
        folder.mkdir(parents=True)
        (folder / f"{NAME}.ipynb").write_text(text, encoding="utf-8")
    command = [sys.executable, "-m", "grader.pipeline", "--course", str(course.root), "grade",
               "--workers", "1"]
    ledger = course.root / ".work" / gradebook.LEDGER
    proc = subprocess.Popen(command, env=course_env, cwd=GRADER_REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (ledger.is_file() and json.loads(ledger.read_text())):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, out
    done = json.loads(ledger.read_text())
    assert 1 <= len(done) < len(students), out
    with course.gradebook() as gb:
        recorded = {s.student.id for s in gb.find_assignment(NAME).submissions}
    assert {k.split("/")[0] for k in done} <= recorded
    rerun = subprocess.run(command, env=course_env, cwd=GRADER_REPO,
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"{len(done)} submission(s) already graded" in rerun.stdout
    assert f"graded {len(students) - len(done)} of {len(students) - len(done)}" in rerun.stdout
    rows = list(csv_rows(course.grades_csv))
    assert [(r["student"], r["score"]) for r in rows] == [(s, "3") for s in students]


def csv_rows(path: Path):
    import csv

    with open(path, newline="", encoding="utf-8") as fh:
        yield from csv.DictReader(fh)


def test_without_namespaces_grading_goes_on_and_says_so(tmp_path, course_env):
    course = build_course(tmp_path, [FIXTURES / NAME])
    release.generate(course, NAME)
    folder = course.submitted / "alone" / NAME
    folder.mkdir(parents=True)
    (folder / f"{NAME}.ipynb").write_text(answered(course), encoding="utf-8")
    from grader.capabilities import WITHOUT

    env = {**course_env, WITHOUT: "namespaces,cgroups"}
    proc = subprocess.Popen([sys.executable, "-m", "grader.pipeline", "--course", str(course.root),
                             "grade", "--workers", "0"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=GRADER_REPO)
    with Watch(proc.pid) as watch:
        out, err = proc.communicate(timeout=300)
    run = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    assert run.returncode == 0, run.stdout + run.stderr
    # Only what this run made is looked at: it made no group, and left no process.
    assert not watch.owned_groups() and not watch.groups
    assert not [p for p, start in watch.seen.items() if alive(p, start)]
    assert "alone" in run.stdout and "3/3" in run.stdout
    assert "WARNING: namespaces turned off" in run.stdout
    assert "memory is capped by address space" in run.stdout
    assert "WARNING" in (course.root / ".work" / "last-batch.txt").read_text()


def test_a_running_dask_cluster_grades_the_same_tasks(tmp_path):
    """--scheduler tcp://HOST:PORT: the batch goes to a cluster that is already running."""
    from dask.distributed import LocalCluster

    course = build_course(tmp_path, [FIXTURES / NAME])
    release.generate(course, NAME)
    for student, answer in (("right", "def double(x):\n    return 2 * x\n"), ("wrong", WRONG)):
        folder = course.submitted / student / NAME
        folder.mkdir(parents=True)
        (folder / f"{NAME}.ipynb").write_text(answered(course, answer), encoding="utf-8")
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        rows = autograde.grade(course, scheduler=cluster.scheduler_address, settings=SETTINGS,
                              echo=lambda line: None)
    assert {r.student: r.score for r in rows} == {"right": 3, "wrong": 1}


@needs("namespaces")
def test_the_kernel_reaches_its_folder_and_python_by_absolute_paths(tmp_path):
    """Folders bubblewrap makes on the way to a mount point inside the sandbox's fresh /tmp
    must be traversable by the sandbox's user (a venv or a folder under /tmp broke CI)."""
    work = tmp_path / "deep" / "er" / "work"
    work.mkdir(parents=True)
    box = sandbox.Sandbox(work)
    try:
        script = (f"import os, sys, mlcourse, ipykernel_launcher\n"
                  f"print(sorted(os.listdir({str(work)!r})), os.listdir({str(tmp_path)!r}))")
        run = subprocess.run(box.command([sys.executable, "-c", script]), env=box.environment({}),
                             capture_output=True, text=True, timeout=60)
    finally:
        box.cleanup()
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[] ['deep']"


GROW = """
import sys, time
cap, chunks = int(sys.argv[1]), []
while True:  # 1 MiB at a time, slowly near the cap, every page written
    rss = int(open("/proc/self/statm").read().split()[1]) * 4096
    chunks.append(b"\\x01" * 2**20)
    time.sleep(0.05 if rss > 0.8 * cap else 0.002)
"""


@needs("cgroups")
def test_a_kernel_held_at_its_memory_cap_is_stopped_by_memory_not_time(tmp_path):
    """Near its cap a kernel can crawl (the system reclaiming and re-reading its pages) past
    its time limit before the OOM killer fires: the judge asks the provisioner before
    killing it for time, and a kernel that holds its whole cap is reported as stopped by
    memory. A kernel far below its cap is not."""
    from grader.provisioner import SandboxProvisioner
    from mlcourse.grading.limits import MiB
    from mlcourse.grading.outcomes import MEMORY, Death

    cap = 96 * MiB
    for script, at_cap in ((GROW, True), ("import time\ntime.sleep(60)", False)):
        work = tmp_path / f"w{int(at_cap)}"
        work.mkdir()
        box = sandbox.Sandbox(work, sandbox.Limits(memory=cap))
        witness = SandboxProvisioner()
        witness.sandbox = box
        proc = subprocess.Popen(box.command([sys.executable, "-c", script, str(cap)]),
                                env=box.environment({}))
        try:
            seen, deadline = False, time.monotonic() + (30 if at_cap else 2)
            while not seen and proc.poll() is None and time.monotonic() < deadline:
                seen = box.at_memory_cap()
                time.sleep(0.005)
            assert seen is at_cap
            if at_cap:
                assert witness.at_memory_cap() == Death(
                    MEMORY, "memory: it neared its cap of 96 MiB, where work crawls, and ran "
                    "out of time")
                proc.wait(30)  # then the OOM killer, which death() names too
                assert witness.death() == Death(MEMORY, "memory above 96 MiB")
            else:
                assert witness.at_memory_cap() is None and witness.death() is None
        finally:
            proc.kill()
            proc.wait()
            box.cleanup()


def test_a_cell_killed_for_time_names_memory_only_when_the_provisioner_finds_it():
    from grader.provisioner import SandboxProvisioner
    from mlcourse.grading.judge import JudgeMixin
    from mlcourse.grading.outcomes import MEMORY, TIME, Death

    at_cap = Death(MEMORY, "memory above 2 GiB")

    class AtCap(SandboxProvisioner):
        def at_memory_cap(self):
            return at_cap

    class Km:
        provisioner = AtCap()

    judge, late = JudgeMixin(), "it ran past its time limit"
    judge.km = Km()
    assert judge._judge_time_death(late) == at_cap
    Km.provisioner = SandboxProvisioner()  # no kernel at its cap: its time stopped it
    assert judge._judge_time_death(late) == Death(TIME, late)
    judge.km = object()  # a stock kernel manager: no provisioner to ask
    assert judge._judge_time_death(late) == Death(TIME, late)


def test_exports_per_question_and_for_canvas(graded):
    """Canvas's gradebook CSV: Student, ID, SIS User ID, SIS Login ID, Section, then one
    column per assignment; row 2 "Points Possible"; a row per learner."""
    import csv

    course = graded["course"]
    gradebook.export(course)
    with open(course.grades_csv.with_name("grades-canvas.csv"), newline="", encoding="utf-8") as fh:
        table = list(csv.reader(fh))
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", NAME]
    assert table[1][0].strip() == "Points Possible" and table[1][1:5] == [""] * 4
    assert table[1][5] == "3"
    by_student = {row[0]: row for row in table[2:]}
    assert set(by_student) == set(graded["rows"]) | {"absent"}, "a learner is missing from the Canvas file"
    assert by_student["absent"][5] == "", "nothing submitted must stay blank, not 0"
    assert by_student["honest"][3] == "honest" and by_student["honest"][5] == "3"
    assert by_student["honest-wrong"][5] in ("1", "3")  # 3 once another test regraded it
    assert by_student["corrupt-json"][5] == "0"
    with open(course.grades_csv.with_name("grades-by-question.csv"), newline="", encoding="utf-8") as fh:
        questions = list(csv.DictReader(fh))
    honest = {q["question"]: q["score"] for q in questions if q["student"] == "exit"}
    assert honest == {"double-visible": "1", "double-hidden": "0"}


@pytest.mark.parametrize("penalty_method", ["zero", None])
def test_late_work_is_flagged_in_the_report_and_charged_only_under_a_penalty(tmp_path, penalty_method):
    """A due date in the gradebook. With `c.LateSubmissionPlugin.penalty_method = "zero"` in
    the course config a submission stamped after the due date scores 0, one before keeps its
    points; under nbgrader's default ("none") both keep their points. Either way the report
    flags the late one as late (nbgrader records the lateness), saying what it cost, and
    not the one on time."""
    from datetime import datetime

    from grader import report

    course = build_course(tmp_path, [FIXTURES / NAME])
    if penalty_method:
        config = course.root / "nbgrader_config.py"
        config.write_text(config.read_text() + f'\nc.LateSubmissionPlugin.penalty_method = "{penalty_method}"\n')
    release.generate(course, NAME)
    with course.gradebook() as gb:
        gb.update_or_create_assignment(NAME, duedate=datetime(2026, 12, 15, 23, 59))
    for student, stamp in (("on-time", "2026-12-15 12:00:00.000000 UTC"),
                           ("late", "2026-12-16 08:00:00.000000 UTC")):
        folder = course.submitted / student / NAME
        folder.mkdir(parents=True)
        (folder / f"{NAME}.ipynb").write_text(answered(course), encoding="utf-8")
        (folder / "timestamp.txt").write_text(stamp, encoding="utf-8")
    rows = autograde.grade(course, workers=0, settings=SETTINGS, echo=lambda line: None)
    late_score = 0 if penalty_method == "zero" else 3
    assert {r.student: r.score for r in rows} == {"on-time": 3, "late": late_score}
    flags = {s.student: [r for kind, r in s.flags if kind == "late"]
             for s in report.collect(course).submissions}
    assert flags["on-time"] == [], flags
    charged = "penalty 3 points" if penalty_method == "zero" else "no penalty taken"
    assert flags["late"] == [f"late by 8.0 h; {charged}"], flags


def test_class_report_shows_scores_exercises_messages_missing_and_flags(graded, tmp_path):
    """The report's numbers agree with the gradebook, the flags name what happened to each
    hostile submission, and the page loads nothing from anywhere."""
    import csv

    from grader import report

    course = graded["course"]
    html_path, csv_path = report.write(course, tmp_path)
    data = report.collect(course)
    by_student = {s.student: s for s in data.submissions}
    # Pass rates, from the gradebook by another road (the per-question export).
    gradebook.export(course)
    with open(course.grades_csv.with_name("grades-by-question.csv"), newline="", encoding="utf-8") as fh:
        questions = list(csv.DictReader(fh))
    stats = {e.name: e for e in report.exercise_stats(data, NAME)}
    for gid in ("double-visible", "double-hidden"):
        mine = [q for q in questions if q["question"] == gid]
        passed = sum(1 for q in mine if float(q["score"]) >= float(q["max_score"]))
        assert (stats[gid].graded, stats[gid].passed) == (len(mine), passed), gid
    assert 0 < stats["double-hidden"].pass_rate < 1
    # The wrong answer's message is among the top ones, its numbers grouped away.
    heads = [head for (head, _), _ in stats["double-hidden"].top]
    assert any("wrong value" in h or "wrong" in h for h in heads), heads
    assert not any(re.search(r"(?<![\w.])\d", h) for h in heads), f"numbers left in {heads}"
    flags = {s.student: {kind for kind, _ in s.flags} for s in data.submissions}
    reasons = {s.student: " ".join(r for _, r in s.flags) for s in data.submissions}
    assert "killed" in flags["memory-bomb"] and "memory" in reasons["memory-bomb"]
    assert "512 MiB" in reasons["memory-bomb"]
    assert "timeout" in flags["stubborn-loop"]
    assert "tampering" in flags["tamper"] and "gc.get_objects" in reasons["tamper"]
    assert {"rejected"} <= flags["corrupt-json"] and {"rejected"} <= flags["empty-file"]
    assert flags["honest"] == set() and flags["honest-wrong"] == set()
    assert by_student["honest"].score == 3
    page = html_path.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 1  # one histogram per assignment
    assert "absent" in page.split("Did not submit")[1].split("Flagged")[0]
    assert "<script" not in page and not re.search(r"(src|href)=.(https?:)?//", page)
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = {(r["assignment"], r["exercise"]): r for r in csv.DictReader(fh)}
    assert rows[NAME, "double-hidden"]["passed"] == str(stats["double-hidden"].passed)
    assert int(rows[NAME, "double-hidden"]["count_1"]) >= 1

    import browser as B

    why = B.why_unavailable()
    if why:
        if os.environ.get("MLCOURSE_REQUIRE_BROWSER"):
            pytest.fail(f"this machine must run the browser tests: {why}")
        return
    with B.browser() as chromium, B.offline_page(chromium) as (tab, outside):
        tab.goto(html_path.as_uri())
        tab.wait_for_load_state("load")
        widths = tab.evaluate("[...document.images].map(i => i.naturalWidth)")
        assert widths and all(w > 0 for w in widths), f"a figure did not load offline: {widths}"
        assert outside == [], f"the report reached out: {outside}"


def test_failure_messages_group_without_their_numbers():
    from grader import report

    a = report.normalise("GradingError: `mse([1, 2, 3], [1, 3, 5])`: wrong value.\n  expected: 1.66667\n"
                         "likely mistake: a missing 1/N with N = 3")
    b = report.normalise("`mse([4, -5, 6], [1, 0.5, 2e-3])`: wrong value.\n  expected: 7.25\n"
                         "likely mistake: a missing 1/N with N = 3")
    assert a == b == ("`mse([#, #, #], [#, #, #])`: wrong value.", "a missing #/N with N = #")
    # Names with digits stay whole; a sentence's full stop is not part of a number.
    assert report.normalise("nb03 in cell 9. Look")[0] == "nb03 in cell #. Look"
    assert report.normalise("") == ("(no message)", "")
