"""The class hub on one machine (``make hub``): JupyterHub for the learners and the
instructor of ``hub/roster.csv``.

- Logins: PAM, i.e. the machine's own accounts and passwords (``hub/setup.sh`` makes them).
  Only the roster's names may log in; its instructor is the hub's admin.
- Servers: each person's Jupyter server runs as their own system user (LocalProcessSpawner),
  in their home (0700: no one reads another's work). Learners get the learner's Lab
  (``hub/learner/``: Assignment List and Validate, no instructor tools); the instructor gets
  formgrader on the course (``hub/instructor/``), in a Lab rooted at the course's parent
  folder (formgrader works only on a course inside its server's root).
- Caps: each learner's server and everything it starts (kernels included) shares one memory
  cgroup and one CPU quota (``MLCOURSE_HUB_MEMORY``, ``MLCOURSE_HUB_CPUS``) where the machine
  lets root make cgroups; where it does not, the hub says so at each spawn and runs uncapped.
  Idle servers are stopped by jupyterhub-idle-culler (``MLCOURSE_HUB_IDLE`` seconds).
- nbgrader's exchange: ``MLCOURSE_EXCHANGE`` (``/srv/nbgrader/exchange``), one course id,
  ``MLCOURSE_COURSE_ID`` (``mlcourse``), the same that ``grader/nbgrader_config.py`` reads.

Every knob is an environment variable, so a test (``tests/test_hub.py``) runs this very
file on its own port, roster, exchange and state folder.
"""

import csv
import os
import sys
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner

HUB = Path(__file__).resolve().parent
REPO = HUB.parent
BIN = Path(sys.executable).parent

ROSTER = Path(os.environ.get("MLCOURSE_HUB_ROSTER") or HUB / "roster.csv")
STATE = Path(os.environ.get("MLCOURSE_HUB_STATE") or "/srv/mlcourse-hub")
EXCHANGE = os.environ.get("MLCOURSE_EXCHANGE") or "/srv/nbgrader/exchange"
COURSE_ID = os.environ.get("MLCOURSE_COURSE_ID") or "mlcourse"
COURSE_ROOT = os.environ.get("MLCOURSE_COURSE_ROOT") or str(REPO / "grader")
MEMORY = os.environ.get("MLCOURSE_HUB_MEMORY") or "2G"
CPUS = float(os.environ.get("MLCOURSE_HUB_CPUS") or 1.0)
IDLE_SECONDS = int(os.environ.get("MLCOURSE_HUB_IDLE") or 3600)
CGROUP_PARENT = "mlcourse-hub"


def read_roster(path: Path) -> dict[str, str]:
    """``{username: role}`` from the roster (columns ``username,role[,password]``)."""
    with open(path, newline="") as fh:
        rows = {r["username"].strip(): r["role"].strip() for r in csv.DictReader(fh)
                if r.get("username", "").strip()}
    bad = {u: r for u, r in rows.items() if r not in ("learner", "instructor")}
    if bad:
        raise ValueError(f"{path}: role must be 'learner' or 'instructor', got {bad}")
    return rows


ROLES = read_roster(ROSTER)


def _bytes(size: str) -> int:
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    size = size.strip().upper().removesuffix("B").removesuffix("I")
    return int(float(size[:-1]) * units[size[-1]]) if size[-1] in units else int(size)


def _cgroup_dirs(name: str) -> dict[str, Path]:
    """Where this user's memory and CPU cgroups are (v2: one folder; v1: one per controller)."""
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.controllers").exists():
        return {"v2": root / CGROUP_PARENT / name}
    return {c: root / c / CGROUP_PARENT / name for c in ("memory", "cpu")
            if (root / c).is_dir()}


class CappedSpawner(LocalProcessSpawner):
    """LocalProcessSpawner whose learner servers start inside their own cgroups: memory
    (the whole server, kernels included, OOM-killed past the cap) and a CPU quota."""

    def _make_cgroups(self) -> list[Path]:
        """Make the cgroups (as root, in the hub) and return the folders to join."""
        period = 100_000
        files = {"memory": {"memory.limit_in_bytes": str(_bytes(MEMORY))},
                 "cpu": {"cpu.cfs_period_us": str(period),
                         "cpu.cfs_quota_us": str(int(CPUS * period))},
                 "v2": {"memory.max": str(_bytes(MEMORY)),
                        "cpu.max": f"{int(CPUS * period)} {period}"}}
        made = []
        for kind, folder in _cgroup_dirs(self.user.name).items():
            try:
                if kind == "v2":
                    (folder.parent / "cgroup.subtree_control").write_text("+memory +cpu")
                folder.mkdir(parents=True, exist_ok=True)
                for fname, value in files[kind].items():
                    (folder / fname).write_text(value)
                made.append(folder)
            except OSError as e:
                self.log.warning("no %s cap for %s: %s", kind, self.user.name, e)
        return made

    def make_preexec_fn(self, name):
        drop = super().make_preexec_fn(name)
        if ROLES.get(name) != "learner":
            return drop
        groups = self._make_cgroups()

        def preexec():
            for g in groups:  # still root here: join first, then become the learner
                (g / "cgroup.procs").write_text(str(os.getpid()))
            drop()

        return preexec


def configure_server(spawner) -> None:
    """Per person: which Lab, which nbgrader configuration, what caps."""
    role = ROLES.get(spawner.user.name)
    if role is None:
        raise ValueError(f"{spawner.user.name} is not on the roster {ROSTER}")
    spawner.environment = {
        **spawner.environment,
        "JUPYTER_CONFIG_PATH": str(HUB / role),
        "MLCOURSE_COURSE_ID": COURSE_ID,
        "MLCOURSE_EXCHANGE": EXCHANGE,
        "MPLBACKEND": "Agg",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
        **({"MLCOURSE_COURSE_ROOT": COURSE_ROOT} if role == "instructor" else {}),
    }
    if role == "instructor":
        # Formgrader refuses a course outside the server's root folder ("The course directory
        # root is not a subdirectory of the notebook server root", an error page in its
        # frame): the instructor's Lab opens on the folder that holds grader/ and solutions/.
        spawner.notebook_dir = str(Path(COURSE_ROOT).resolve().parent)
    if role == "learner":
        # LocalProcessSpawner only passes these on (as MEM_LIMIT, CPU_LIMIT); the cgroups
        # of CappedSpawner enforce them.
        spawner.mem_limit = MEMORY
        spawner.cpu_limit = CPUS


c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

c.JupyterHub.ip = os.environ.get("MLCOURSE_HUB_IP") or "127.0.0.1"
c.JupyterHub.port = int(os.environ.get("MLCOURSE_HUB_PORT") or 8000)
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("MLCOURSE_HUB_API_PORT") or 8081)
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops everyone's server
c.ConfigurableHTTPProxy.command = [str(HUB / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
c.ConfigurableHTTPProxy.api_url = (
    f"http://127.0.0.1:{int(os.environ.get('MLCOURSE_HUB_PROXY_PORT') or 8001)}")

c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = set(ROLES)
c.Authenticator.admin_users = {u for u, r in ROLES.items() if r == "instructor"}

c.JupyterHub.spawner_class = CappedSpawner
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
# A server (or the culler) that ignores SIGINT gets SIGTERM after 3 s, not 10.
c.LocalProcessSpawner.interrupt_timeout = 3
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.pre_spawn_hook = configure_server
# Extra options for every Jupyter server, e.g. "--LabApp.expose_app_in_browser=True" (tests).
c.Spawner.args = (os.environ.get("MLCOURSE_HUB_SERVER_ARGS") or "").split()
# The venv first on PATH: kernels, nbgrader and alembic are there.
c.Spawner.environment = {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin"}

c.JupyterHub.services = [{
    "name": "idle-culler",
    "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={IDLE_SECONDS}"],
}]
c.JupyterHub.load_roles = [{
    "name": "idle-culler",
    "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
    "services": ["idle-culler"],
}]
