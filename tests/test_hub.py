"""A class on the hub of ``make hub``, in a real browser: a term of one assignment.

The hub is started from the project's files (``hub/setup.sh``, ``hub/jupyterhub_config.py``)
on free 127.0.0.1 ports, with its own roster of system users (``mlc-hub-test-<random>-*``),
exchange, state folder and copy of the course, all removed at the end, even on failure.
Three learners and an instructor log in through the hub's login page. Each learner fetches
03-losses in the Assignment List; one hands in the solution, one half of it, one the release
untouched (the notebook is written into the learner's home as the learner) and each submits
in the Assignment List. The instructor collects and grades from the command line (nbgrader's
collect, then the project's pipeline: sandboxed, on Dask) and releases feedback; each learner
fetches it in the Assignment List and sees their own score, and nobody else's. A learner can
read neither another learner's home, nor the exchange's inbound submissions, nor solutions/,
grader/, the gradebook, the roster, the hub's state, nor the checkout's .git (no `git show`
of a solution), tests/ or .ci/: of the checkout's top level only what hub/setup.sh leaves open
(LEARNERS_READ below), which includes what they run (the venv, the mlcourse package).

Needs root (it makes system users), Chromium and npm's configurable-http-proxy (hub/setup.sh
installs it). Screenshots go to ``.ci/artifacts/screenshots/hub-*.png``.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import browser as B
import nbformat
import pytest
from nbgrader.api import Gradebook
from nbgrader.utils import parse_utc
from nbtools import SOLUTIONS

REPO = Path(__file__).resolve().parents[1]
HUB = REPO / "hub"
SHOTS = REPO / ".ci" / "artifacts" / "screenshots"
BIN = Path(sys.executable).parent
ASSIGNMENT = "03-losses"
COURSE_ID = "mlcourse"

pytestmark = [pytest.mark.slow]

# The checkout's top-level entries a learner may read (hub/setup.sh's LEARNERS_READ).
LEARNERS_READ = {".venv", "mlcourse", "mlcourse.egg-info", "hub", "lab", "notebooks", "README.md",
                 "pyproject.toml", "environment.yml", "Makefile", ".gitignore"}


def _why_unavailable() -> str:
    why = B.why_unavailable()
    if why:
        return why
    if os.geteuid() != 0:
        return "the hub test makes system users and spawns servers as them: it must run as root"
    for tool in ("useradd", "userdel", "chpasswd", "runuser"):
        if shutil.which(tool) is None:
            return f"{tool} is missing (Debian: passwd, util-linux)"
    if not (HUB / "node_modules" / ".bin" / "configurable-http-proxy").exists() and not shutil.which("npm"):
        return "npm is missing for configurable-http-proxy (Debian: apt-get install npm; see .ci/system-deps)"
    return ""


def _as(user: str, *cmd: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["runuser", "-u", user, "--", *cmd], input=stdin,
                          capture_output=True, timeout=60)


def _processes_of(uid: int) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError):
                if d.stat().st_uid == uid:
                    pids.append(int(d.name))
    return pids


def _remove_user(name: str) -> None:
    """Kill the user's processes (by pid), remove the user, its home and its cgroups."""
    try:
        uid = int(subprocess.run(["id", "-u", name], capture_output=True, text=True,
                                 check=True).stdout)
    except subprocess.CalledProcessError:
        return
    for _ in range(3):
        pids = _processes_of(uid)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if not pids:
            break
        time.sleep(0.5)
    subprocess.run(["userdel", "--remove", name], capture_output=True)
    for controller in ("memory", "cpu", ""):
        with contextlib.suppress(OSError):
            (Path("/sys/fs/cgroup") / controller / "mlcourse-hub" / name).rmdir()


def _wait_http(url: str, seconds: float, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"the hub did not answer at {url}:\n{log.read_text()[-4000:]}")


def _notebooks(release: Path) -> dict[str, nbformat.NotebookNode]:
    """What each learner hands in: all answers, half of them, none."""
    source = nbformat.read(SOLUTIONS / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    out = {}
    for kind, share in (("full", 1.0), ("half", 0.5)):
        nb = nbformat.read(release, as_version=4)
        ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
               if c.metadata.get("nbgrader", {}).get("solution")]
        keep = set(ids[: round(len(ids) * share)])
        for c in nb.cells:
            if c.metadata.get("nbgrader", {}).get("grade_id") in keep:
                c.source = answers[c.metadata["nbgrader"]["grade_id"]]
        out[kind] = nb
    return out


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    why = _why_unavailable()
    if why and os.environ.get("MLCOURSE_REQUIRE_BROWSER"):
        pytest.fail(f"this machine must run the hub test: {why}")
    if why:
        pytest.skip(why)
    SHOTS.mkdir(parents=True, exist_ok=True)
    tag = f"mlc-hub-test-{secrets.token_hex(2)}"
    # "absent" is on the roster and never logs in, fetches or submits.
    people = {"teacher": f"{tag}-t", "full": f"{tag}-a", "half": f"{tag}-b", "none": f"{tag}-c",
              "absent": f"{tag}-d"}
    passwords = {u: secrets.token_urlsafe(12) for u in people.values()}
    # Learners must reach the exchange inside it: /tmp/pytest-of-root is closed to them.
    work = Path(tempfile.mkdtemp(prefix=f"{tag}-"))
    work.chmod(0o755)
    course = work / "course"
    course.mkdir(mode=0o755)  # the instructor's Lab opens here; grader/ and solutions/ are closed
    shutil.copytree(REPO / "grader", course / "grader", ignore=shutil.ignore_patterns(
        "gradebook.db", "submitted", "autograded", "feedback", "release", ".work",
        "grades*.csv", "report.*", "__pycache__"))
    shutil.copytree(SOLUTIONS, course / "solutions")
    roster = work / "roster.csv"
    with open(roster, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["username", "role", "password"])
        for kind, user in people.items():
            w.writerow([user, "instructor" if kind == "teacher" else "learner", passwords[user]])
    ports = [B._free_port() for _ in range(3)]
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
           "MLCOURSE_HUB_ROSTER": str(roster), "MLCOURSE_HUB_STATE": str(work / "state"),
           "MLCOURSE_EXCHANGE": str(work / "exchange"), "MLCOURSE_COURSE_ID": COURSE_ID,
           "MLCOURSE_COURSE_ROOT": str(course / "grader"), "MLCOURSE_HUB_IP": "127.0.0.1",
           "MLCOURSE_HUB_PORT": str(ports[0]), "MLCOURSE_HUB_API_PORT": str(ports[1]),
           "MLCOURSE_HUB_PROXY_PORT": str(ports[2]), "MLCOURSE_HUB_MEMORY": "1G",
           "MLCOURSE_HUB_SERVER_ARGS": "--LabApp.expose_app_in_browser=True",
           "PYTHONWARNINGS": "ignore", "MPLBACKEND": "Agg"}
    env.pop("MLCOURSE_DB_URL", None)
    proc = None
    log = work / "hub.log"
    try:
        setup = subprocess.run(["bash", str(HUB / "setup.sh")], env=env, capture_output=True,
                               text=True, timeout=600)
        assert setup.returncode == 0, f"hub/setup.sh failed:\n{setup.stdout}\n{setup.stderr}"
        grader = course / "grader"
        for cmd in ([str(BIN / "python"), "-m", "grader.pipeline", "--course", str(grader),
                     "release", ASSIGNMENT, "--out", str(work / "notebooks")],
                    [str(BIN / "nbgrader"), "release_assignment", ASSIGNMENT,
                     f"--Exchange.root={work / 'exchange'}"]):
            r = subprocess.run(cmd, env=env, cwd=grader if "nbgrader" in cmd[0] else REPO,
                               capture_output=True, text=True, timeout=300)
            assert r.returncode == 0, f"{cmd} failed:\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
        # The instructor puts the class on the gradebook's roster (nbgrader db student add),
        # so the report knows who did not submit.
        for kind, user in people.items():
            if kind != "teacher":
                r = subprocess.run([str(BIN / "nbgrader"), "db", "student", "add", user],
                                   env=env, cwd=grader, capture_output=True, text=True, timeout=120)
                assert r.returncode == 0, f"db student add {user}:\n{r.stdout}\n{r.stderr}"
        with open(log, "w") as fh:
            proc = subprocess.Popen([str(BIN / "jupyterhub"), "-f", str(HUB / "jupyterhub_config.py")],
                                    env=env, cwd=work / "state", stdout=fh,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{ports[0]}"
        _wait_http(f"{url}/hub/api", 90, log)
        with B.browser() as chromium:
            yield {"url": url, "people": people, "passwords": passwords, "work": work,
                   "course": course, "env": env, "chromium": chromium, "log": log}
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(45)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the proxy and the culler, if left
        for user in people.values():
            _remove_user(user)
        if log.exists():
            shutil.copy(log, SHOTS / "hub.log")
        shutil.rmtree(work, ignore_errors=True)


def _login(hub, user: str, shot: str):
    context = hub["chromium"].new_context(viewport={"width": 1300, "height": 850})
    page = context.new_page()
    page.goto(f"{hub['url']}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", hub["passwords"][user])
    page.screenshot(path=str(SHOTS / f"hub-{shot}-1-login.png"))
    page.click("#login_submit")
    page.wait_for_url(re.compile(r"/(user|hub/spawn)"), timeout=60_000)  # a wrong password stays
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands"
                           ".hasCommand('nbgrader:open-assignment-list')", timeout=180_000)
    assert f"/user/{user}/lab" in page.url, page.url
    return page


def _assignment_list(page):
    """(Re)open the Assignment List and wait until it has loaded the course's lists."""
    page.evaluate("() => window.jupyterapp.commands.execute('nbgrader:open-assignment-list')")
    page.wait_for_selector("#released_assignments_list, #fetched_assignments_list", timeout=60_000)
    page.wait_for_function("() => [...document.querySelectorAll('.list_loading')]"
                           ".every(e => e.hidden)", timeout=60_000)


def _nbgrader(hub, *args: str) -> str:
    """An instructor's nbgrader command in the course folder; its output."""
    r = subprocess.run([str(BIN / "nbgrader"), *args], env=hub["env"],
                       cwd=hub["course"] / "grader", capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"nbgrader {args} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout + r.stderr


def _submit(page, shot: str, submissions: int = 1) -> None:
    """Submit in the Assignment List; the screenshot once the list shows ``submissions``
    timestamps under the assignment and the Submit button is back (not "submitting...")."""
    page.click(f"#fetched_assignments_list .list_item:has-text('{ASSIGNMENT}') button:has-text('Submit')")
    page.wait_for_function(
        """n => document.querySelectorAll('#submitted_assignments_list .nested_list_item').length >= n
               && [...document.querySelectorAll('#fetched_assignments_list button')]
                  .some(b => b.innerText.trim() === 'Submit')""", arg=submissions, timeout=60_000)
    page.screenshot(path=str(SHOTS / f"hub-{shot}.png"))


def _submissions(exchange: Path, user: str) -> list[Path]:
    return sorted((exchange / COURSE_ID / "inbound").glob(f"{user}+{ASSIGNMENT}+*"))


def test_a_term_on_the_hub(hub):
    people, work, course = hub["people"], hub["work"], hub["course"]
    absent = people["absent"]
    learners = {k: u for k, u in people.items() if k not in ("teacher", "absent")}
    pages = {k: _login(hub, u, k) for k, u in people.items() if k != "absent"}

    # The learner's Lab has no instructor tools; the instructor's has formgrader.
    for kind, page in pages.items():
        has = page.evaluate("() => window.jupyterapp.commands.hasCommand('nbgrader:open-formgrader')")
        assert has == (kind == "teacher"), f"{kind}: formgrader command present = {has}"
    # Formgrader opens in a frame of the instructor's Lab (the singleuser server's default
    # CSP, frame-ancestors 'none', would refuse it) and lists the released assignment.
    teacher = pages["teacher"]
    teacher.evaluate("() => window.jupyterapp.commands.execute('nbgrader:open-formgrader')")
    frame = teacher.frame_locator("iframe[src*='formgrader']")
    try:
        frame.locator(f"text={ASSIGNMENT}").first.wait_for(timeout=60_000)
        frame.locator(f"text={ASSIGNMENT}").first.scroll_into_view_if_needed()
    finally:
        teacher.screenshot(path=str(SHOTS / "hub-teacher-2-formgrader.png"))
    assert "Manage Assignments" in frame.locator("body").inner_text()

    # Fetch in the Assignment List.
    for kind, page in pages.items():
        if kind == "teacher":
            continue
        _assignment_list(page)
        page.click(f"#released_assignments_list .list_item:has-text('{ASSIGNMENT}') button:has-text('Fetch')")
        page.wait_for_selector(f"#fetched_assignments_list .list_item:has-text('{ASSIGNMENT}')",
                               timeout=60_000)
        # The file browser shows the fetched folder in the learner's home (it polls; ask now).
        page.evaluate("() => { const c = window.jupyterapp.commands;"
                      " if (c.hasCommand('filebrowser:refresh')) return c.execute('filebrowser:refresh'); }")
        page.wait_for_selector(f".jp-DirListing-item:has-text('{ASSIGNMENT}')", timeout=60_000)
        page.screenshot(path=str(SHOTS / f"hub-{kind}-2-fetched.png"))
        mine = Path(f"/home/{learners[kind]}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb")
        assert mine.exists() and mine.stat().st_uid == int(
            subprocess.run(["id", "-u", learners[kind]], capture_output=True, text=True).stdout), (
            f"{kind}: the fetched notebook is not in the learner's home, owned by them")

    # Work: written into each home as its learner; the untouched one keeps the release.
    # "full" first hands in the release untouched, on time.
    handed_in = _notebooks(Path(f"/home/{learners['none']}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"))

    def write(kind: str) -> None:
        r = _as(learners[kind], "tee", f"/home/{learners[kind]}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb",
                stdin=nbformat.writes(handed_in[kind]).encode())
        assert r.returncode == 0, r.stderr.decode()

    write("half")
    for kind in learners:
        _submit(pages[kind], f"{kind}-3-submitted")

    # The due date passes: the instructor sets it to now, in the gradebook (nbgrader db).
    exchange = work / "exchange"
    due = datetime.now(timezone.utc)
    _nbgrader(hub, "db", "assignment", "add", ASSIGNMENT, f"--duedate={due.isoformat()}")
    # "full" then solves it and submits again, late: two submissions, the later one counts.
    write("full")
    _submit(pages["full"], "full-3b-resubmitted-late", submissions=2)
    for _ in range(60):
        if len(_submissions(exchange, learners["full"])) == 2:
            break
        pages["full"].wait_for_timeout(500)
    assert len(_submissions(exchange, learners["full"])) == 2, _submissions(exchange, learners["full"])
    assert not _submissions(exchange, absent)

    # A learner reads neither a classmate's home, nor others' submissions, nor the answers.
    ex = work / "exchange" / COURSE_ID
    full, half = learners["full"], learners["half"]
    solution = f"solutions/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
    git_show = ["git", "-c", "safe.directory=*", "-C", str(REPO), "show", f"HEAD:{solution}"]
    shown = subprocess.run(git_show, capture_output=True, timeout=60)
    assert shown.returncode == 0 and b"nbgrader" in shown.stdout, (
        f"root cannot git show {solution}, so the learner's check below proves nothing: "
        f"{shown.stderr[-500:]!r}")
    for what, cmd in {
        "a classmate's notebook": ["cat", f"/home/{half}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"],
        "a classmate's home": ["ls", f"/home/{half}"],
        "the exchange's inbound": ["ls", str(ex / "inbound")],
        "the course's solutions/": ["ls", str(course / "solutions")],
        "the course's solution": ["cat", str(course / solution)],
        "the course's gradebook folder": ["ls", str(course / "grader")],
        "the gradebook": ["cat", str(course / "grader" / "gradebook.db")],
        "the roster (passwords)": ["cat", str(work / "roster.csv")],
        "the hub's state": ["ls", str(work / "state")],
        "the repository's solutions/": ["ls", str(REPO / "solutions")],
        "the repository's grader/": ["ls", str(REPO / "grader")],
        "the repository's tests/": ["ls", str(REPO / "tests")],
        "the repository's .ci/artifacts": ["ls", str(REPO / ".ci" / "artifacts")],
        "the repository's .git": ["ls", str(REPO / ".git")],
        "the repository's .git/HEAD": ["cat", str(REPO / ".git" / "HEAD")],
        "a solution from git's objects": git_show,
    }.items():
        r = _as(full, *cmd)
        assert r.returncode != 0, f"a learner could read {what}: {r.stdout[:200]!r}"
    # Of the checkout's top level, only what setup.sh leaves open is readable or passable.
    top = _as(full, "find", str(REPO), "-mindepth", "1", "-maxdepth", "1",
              "(", "-readable", "-o", "-executable", ")", "-printf", "%f\\n")
    assert top.returncode == 0, top.stderr
    reachable = set(top.stdout.decode().split())
    assert reachable <= LEARNERS_READ and {".venv", "mlcourse", "hub"} <= reachable, reachable
    # What a learner needs stays readable: their own work, the notebooks, the venv, the package.
    for what, cmd in {
        "their own notebook": ["cat", f"/home/{full}/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"],
        "the repository's notebooks/": ["ls", str(REPO / "notebooks")],
        "their Lab's settings": ["cat", str(HUB / "learner" / "jupyter_server_config.json")],
        "the venv and the package": [str(BIN / "python"), "-c", "import mlcourse.losses, nbgrader"],
    }.items():
        r = _as(full, *cmd)
        assert r.returncode == 0, f"a learner cannot read {what}: {r.stderr[-500:]!r}"

    # The instructor: collect, grade (sandboxed, on Dask), feedback, release it.
    env, grader = hub["env"], course / "grader"
    collected = _nbgrader(hub, "collect", ASSIGNMENT, f"--Exchange.root={exchange}")
    assert absent not in collected and not (grader / "submitted" / absent).exists(), collected
    stamps = {k: parse_utc((grader / "submitted" / u / ASSIGNMENT / "timestamp.txt").read_text())
              for k, u in learners.items()}
    due_naive = due.replace(tzinfo=None)
    assert stamps["full"] > due_naive and all(stamps[k] <= due_naive for k in ("half", "none")), (
        f"collect took the latest submission of each: {stamps}, due {due_naive}")
    for cmd, cwd in (
        ([str(BIN / "python"), "-m", "grader.pipeline", "--course", str(grader), "grade", ASSIGNMENT],
         REPO),
        ([str(BIN / "python"), "-m", "grader.pipeline", "--course", str(grader), "feedback",
          ASSIGNMENT], REPO),
        ([str(BIN / "nbgrader"), "release_feedback", ASSIGNMENT,
          f"--Exchange.root={work / 'exchange'}"], grader),
    ):
        r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, f"{cmd[1:4]} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    with open(grader / "grades.csv", newline="") as fh:
        grades = {row["student"]: row for row in csv.DictReader(fh)
                  if row["assignment"] == ASSIGNMENT}
    assert set(grades) == set(learners.values()), grades
    score = {k: float(grades[u]["score"]) for k, u in learners.items()}
    top = float(grades[full]["max_score"])
    # The latest (late, solved) submission of "full" is the one graded, not its first.
    assert score["full"] == top and score["none"] == 0 and 0 < score["half"] < top, score
    # nbgrader records lateness; the course's policy (nbgrader's default, penalty_method
    # "none", hub/README.md) takes nothing for it.
    with Gradebook(f"sqlite:///{grader / 'gradebook.db'}", COURSE_ID) as gb:
        late = {k: (gb.find_submission(ASSIGNMENT, u).total_seconds_late,
                    gb.find_submission(ASSIGNMENT, u).late_submission_penalty)
                for k, u in learners.items()}
        assert absent in {s.id for s in gb.students}
    assert late["full"][0] > 0 and late["full"][1] == 0, late
    assert all(late[k][0] == 0 for k in ("half", "none")), late

    # The learner who never fetched: no grade row, a blank in Canvas's CSV, named in the
    # report's "Did not submit".
    assert absent not in grades
    with open(grader / "grades-canvas.csv", newline="") as fh:
        canvas = {row[3]: row for row in csv.reader(fh)}
    assert canvas[absent][5:] == [""], canvas[absent]
    assert canvas[learners["full"]][5:] == [f"{top:g}"], canvas[learners["full"]]
    r = subprocess.run([str(BIN / "python"), "-m", "grader.pipeline", "--course", str(grader),
                        "report"], env=env, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"report failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    page_text = (grader / "report.html").read_text()
    missing = page_text.split("id='missing'", 1)[1].split("<h2", 1)[0]
    assert absent in missing and not any(u in missing for u in learners.values()), missing
    # The late resubmission is flagged late in the report, though nothing was taken for it.
    flagged = page_text.split("id='flagged'", 1)[1].split("<h2", 1)[0]
    late_rows = {u for u in learners.values()
                 if f"<td class='name'>{u}</td><td class='name'>{ASSIGNMENT}</td>"
                    f"<td class='flag'>late</td>" in flagged}
    assert late_rows == {learners["full"]} and "no penalty taken" in flagged, flagged

    # Each learner fetches feedback in the Assignment List and sees their own score only.
    for kind, user in learners.items():
        page = pages[kind]
        page.reload()
        page.wait_for_function("() => window.jupyterapp && window.jupyterapp.commands"
                               ".hasCommand('nbgrader:open-assignment-list')", timeout=120_000)
        _assignment_list(page)
        item = f"#submitted_assignments_list .list_item:has-text('{ASSIGNMENT}')"
        page.click(f"{item} button:has-text('Fetch Feedback')")
        feedback = Path(f"/home/{user}/{ASSIGNMENT}/feedback")
        for _ in range(60):
            if list(feedback.glob("*/*.html")):
                break
            page.wait_for_timeout(1000)
        page.wait_for_timeout(1000)
        page.screenshot(path=str(SHOTS / f"hub-{kind}-4-feedback-fetched.png"))
        pages_here = sorted(feedback.glob("*/*.html"))
        assert len(pages_here) == 1, f"{kind}: feedback pages {pages_here}"
        rel = pages_here[0].relative_to(f"/home/{user}")
        response = page.goto(f"{hub['url']}/user/{user}/files/{rel}")
        assert response is not None and response.status == 200
        text = page.inner_text("body")
        page.screenshot(path=str(SHOTS / f"hub-{kind}-5-feedback.png"), full_page=False)
        mine = f"{ASSIGNMENT}: {score[kind]:g} of {top:g} points"
        assert mine in re.sub(r"\s+", " ", text), f"{kind}: '{mine}' not on their page:\n{text[:1500]}"
        for other, theirs in learners.items():
            if other != kind:
                assert theirs not in text, f"{kind}'s feedback names {other}"
        # Another learner's server is closed to this learner's login.
        other = learners["half" if kind != "half" else "full"]
        r = page.request.get(f"{hub['url']}/user/{other}/api/contents/{ASSIGNMENT}")
        assert r.status >= 400, f"{kind} reached {other}'s server: {r.status} {r.text()[:300]}"
