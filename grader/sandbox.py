"""The sandbox every submission's kernel runs in while it is graded: the mechanics.

A learner's kernel gets, where the machine allows each one:

- **a memory cap** (``limits.MEMORY`` unless configured): a memory cgroup (v1 or v2),
  else an address-space rlimit; a kernel killed for memory is reported as such;
- **a cap on processes** (a pids cgroup, and ``RLIMIT_NPROC`` for its own user) and on
  the size of any file it writes (``RLIMIT_FSIZE``); no core dumps;
- **no network** and **its own process tree** (bubblewrap: new network, pid, IPC and
  UTS namespaces): the grader's processes are invisible to it, so it cannot signal them,
  and every process it starts, detached or not, dies with the namespace;
- **a filesystem of its own**: the system, Python and the ``mlcourse`` package read-only,
  a private ``/tmp``, and its own working folder, the only place it may write: a tmpfs of
  ``limits.WORK_FOLDER`` bytes holding a copy of the handed-in files (also read-only at
  ``/handed-in``), gone with the kernel, never on the host's disk (nbgrader keeps the
  notebook in the grader's process); a full one is ENOSPC in the cell that filled it.
  Nothing of the course (solutions, gradebook, config, other submissions) is mounted;
- **another user** (when grading runs as root): an unprivileged uid, so the kernel holds
  no capability and owns nothing of the grader's;
- **a clean environment**: only the variables a kernel needs (never a database URL).

``Sandbox`` wraps a kernel's command and environment and cleans up after it;
``provisioner.py`` is the jupyter_client kernel provisioner that launches kernels in one.
``probe()`` finds out once per process which of these the machine grants; what it
refuses is graded without and reported (``Capabilities.why_not``).

Nothing outlives the grader: a sandbox's cgroups are named after the process that made them
(``mlcourse-<pid>-…``), every sandbox still open is emptied at the process's exit
(``cleanup_all``, run by ``atexit``; ``batch.py`` runs it on SIGTERM in a Dask worker), and
``probe()`` removes the empty groups of graders that died anyway (SIGKILL).
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from mlcourse.grading.limits import (
    FILE_SIZE,
    KERNEL_ENV,
    MEMORY,
    PROCESSES,
    WORK_FOLDER,
    parse_size,
)

try:  # the repository's grader package (grading workers, the tests, `make grade`)
    from grader.capabilities import Capabilities, probe
except ModuleNotFoundError:  # a course folder's own copy, next to this file
    from capabilities import Capabilities, probe

# Unprivileged uids for sandboxed kernels when grading runs as root: one per worker
# slot, so RLIMIT_NPROC counts one kernel's processes only.
UID_BASE = 61000
UID_SLOTS = 1000
# A kernel holding this share of its memory cap or more is "at its cap": a 1 GiB
# allocation under a 512 MiB cgroup v1 cap was seen crawling at 96 % for seconds.
CAP_SHARE = 0.9
# What a kernel needs of the grader's environment; nothing else goes in. (Never
# JPY_PARENT_PID, which jupyter_client adds at launch: in its own pid namespace the kernel
# would take its parent for dead. bubblewrap's --die-with-parent ties it to us.)
ENV_KEEP = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "OPENBLAS_NUM_THREADS", "JPY_SESSION_NAME",
            "PYDEVD_DISABLE_FILE_VALIDATION", "NBGRADER_EXECUTION", *KERNEL_ENV)
# Where the handed-in files are, read-only, in the sandbox (copied into its working folder).
HANDED_IN = "/handed-in"
# Every sandbox of this process not yet cleaned up (id -> Sandbox): ``cleanup_all``.
LIVE: dict[int, Sandbox] = {}


# ---- one sandbox ---------------------------------------------------------------------


@dataclass
class Limits:
    """The caps of one submission's kernel (``make grade --memory ...`` sets them)."""

    memory: int | str = MEMORY
    processes: int = PROCESSES
    file_size: int = FILE_SIZE
    open_files: int = 1024
    disk: int | str = WORK_FOLDER  # the working folder's size (with namespaces)

    def __post_init__(self):
        self.memory = parse_size(self.memory)
        self.file_size = parse_size(self.file_size)
        self.disk = parse_size(self.disk)


@dataclass
class Sandbox:
    """The jail of one kernel: its working folder, its socket folder, its cgroups."""

    workdir: Path
    limits: Limits = field(default_factory=Limits)
    caps: Capabilities = field(default_factory=probe)
    uid: int | None = None
    # The owner's pid in the name: a group whose owner died is known stale (capabilities).
    name: str = field(default_factory=lambda: f"mlcourse-{os.getpid()}-{uuid.uuid4().hex[:12]}")
    runtime: Path | None = None
    _cgroups: list[Path] = field(default_factory=list)
    _after: tuple[bool, int | None] | None = None  # (memory exceeded, peak) at cleanup

    def __post_init__(self):
        self.workdir = Path(self.workdir).resolve()
        if self.uid is None and self.caps.root:
            self.uid = UID_BASE + (os.getpid() % UID_SLOTS)
        # Short: Unix socket paths stop at 107 characters.
        self.runtime = Path(tempfile.mkdtemp(prefix="mlk-", dir="/tmp"))
        if self.uid is not None:
            os.chown(self.runtime, self.uid, self.uid)
            self._give(self.workdir)
        self.runtime.chmod(0o700)
        LIVE[id(self)] = self

    def _give(self, folder: Path) -> None:
        """The kernel's user owns its working folder (and nothing else)."""
        for path in [folder, *folder.rglob("*")]:
            if not path.is_symlink():
                os.chown(path, self.uid, self.uid)

    # -- cgroups
    def _make_cgroups(self) -> list[Path]:
        made = []
        for base, files in ((self.caps.memory_cgroup, self._memory_files()),
                            (self.caps.pids_cgroup, self._pids_files())):
            if base is None:
                continue
            group = base / self.name
            try:
                group.mkdir(exist_ok=True)
                for fname, value in files:  # v1 and v2 names: the group has one set
                    target = group / fname
                    if target.exists():
                        target.write_text(str(value))
                made.append(group)
            except OSError:
                continue
        self._cgroups = list(dict.fromkeys(made))
        return self._cgroups

    def _memory_files(self):
        # v1 wants memsw after limit_in_bytes (it may not be lower); v2 has max and swap.max.
        return [("memory.limit_in_bytes", self.limits.memory),
                ("memory.memsw.limit_in_bytes", self.limits.memory),
                ("memory.max", self.limits.memory), ("memory.swap.max", 0)]

    def _pids_files(self):
        return [("pids.max", self.limits.processes)]

    # -- the command
    def command(self, kernel_cmd: list[str]) -> list[str]:
        """``kernel_cmd`` wrapped: join the cgroups, set rlimits, enter the namespaces,
        drop to the sandbox user, then exec the kernel."""
        cmd = list(kernel_cmd)
        if self.caps.bwrap:
            # The working folder is a fresh tmpfs: the handed-in files first (not '.' itself,
            # which belongs to root and keeps its times).
            cmd = ["/bin/sh", "-c", f"find {HANDED_IN} -mindepth 1 -maxdepth 1 -exec cp -R "
                   f'--preserve=mode,timestamps -t . {{}} + && exec "$@"', "handed-in", *cmd]
        if self.uid is not None:
            cmd = ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                   "--inh-caps=-all", "--no-new-privs", "--", *cmd]
        if self.caps.bwrap:
            cmd = [self.caps.bwrap, *self._bwrap_args(), "--", *cmd]
        rlimits = [f"--nproc={self._nproc()}", f"--fsize={self.limits.file_size}",
                   f"--nofile={self.limits.open_files}", "--core=0"]
        if self.caps.memory_cgroup is None:
            rlimits.append(f"--as={self.limits.memory}")
        cmd = ["prlimit", *rlimits, "--", *cmd]
        groups = self._make_cgroups()
        if groups:
            joins = "".join(f'echo $$ > "{g}/cgroup.procs" && ' for g in groups)
            cmd = ["/bin/sh", "-c", joins + 'exec "$@"', "sandbox", *cmd]
        return cmd

    def _nproc(self) -> int:
        if self.uid is not None:
            return self.limits.processes
        # Our own uid: RLIMIT_NPROC counts every process of this user.
        mine = sum(1 for p in Path("/proc").iterdir()
                   if p.name.isdigit() and _owner(p) == os.getuid())
        return mine + self.limits.processes

    def _bwrap_args(self) -> list[str]:
        args = ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try", "--die-with-parent", "--new-session",
                "--hostname", "sandbox", "--unsetenv", "JPY_PARENT_PID"]
        for top in ("bin", "lib", "lib32", "lib64", "libx32", "sbin"):
            path = Path("/") / top
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                args += ["--ro-bind", str(path), str(path)]
        args += ["--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc",
                 "--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
        # bwrap makes missing parent folders of a mount point root-only: make them 0755
        # (those inside /tmp too: it is a fresh tmpfs, not the host's /tmp).
        made, bound = {Path("/"), Path("/tmp")}, [Path("/usr"), Path("/etc")]
        for source, writable in [(p, False) for p in _readable_roots()] + [
                (self.runtime, True), (self.workdir, True)]:
            for parent in reversed(source.parents):
                if parent not in made and not _under(parent, bound):
                    args += ["--perms", "0755", "--dir", str(parent)]
                    made.add(parent)
            if source == self.workdir:  # a tmpfs of its size over the handed-in files
                args += ["--ro-bind", str(source), HANDED_IN, "--perms", "0777",
                         "--size", str(self.limits.disk), "--tmpfs", str(source)]
            else:
                args += ["--bind" if writable else "--ro-bind", str(source), str(source)]
            bound.append(source)
        return args + ["--chdir", str(self.workdir)]

    def environment(self, env: dict[str, str]) -> dict[str, str]:
        """The kernel's environment: the variables it needs and nothing else of ours."""
        kept = {k: v for k, v in env.items() if k in ENV_KEEP}
        kept.update({
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin",
                                     "/usr/bin", "/bin"]),
            "HOME": "/tmp", "USER": "learner", "LOGNAME": "learner",
            "TMPDIR": "/tmp", "MPLCONFIGDIR": "/tmp/matplotlib", "IPYTHONDIR": "/tmp/ipython",
            "JUPYTER_RUNTIME_DIR": "/tmp/jupyter", "PYTHONDONTWRITEBYTECODE": "1",
        })
        if not self.caps.bwrap:
            # Without a private /tmp, keep the kernel's scratch files in its own folder.
            scratch = self.runtime / "home"
            scratch.mkdir(exist_ok=True)
            if self.uid is not None:
                os.chown(scratch, self.uid, self.uid)
            for key in ("HOME", "TMPDIR"):
                kept[key] = str(scratch)
            for key, sub in (("MPLCONFIGDIR", "matplotlib"), ("IPYTHONDIR", "ipython"),
                             ("JUPYTER_RUNTIME_DIR", "jupyter")):
                kept[key] = str(scratch / sub)
        return kept

    # -- after
    def memory_exceeded(self) -> bool:
        """Did the kernel hit its memory cap (the kernel's OOM killer fired)? Answered from
        the cgroups while they exist, then from what ``cleanup`` read last."""
        if self._after is not None:
            return self._after[0]
        for group in self._cgroups:
            for fname in ("memory.events", "memory.oom_control", "memory.failcnt"):
                try:
                    text = (group / fname).read_text()
                except OSError:
                    continue
                if fname == "memory.failcnt":
                    if int(text.strip() or 0) > 0:
                        return True
                    continue
                counts = dict(line.split() for line in text.splitlines() if len(line.split()) == 2)
                if int(counts.get("oom_kill", 0)) > 0:
                    return True
        return False

    def at_memory_cap(self) -> bool:
        """Is the kernel holding (nearly) all its memory now? Near its cap a kernel can
        crawl, the system reclaiming and re-reading its pages, until its time runs out
        before the OOM killer fires: the cap, not the time, is then what stopped it."""
        usage = self._memory_counter("memory.usage_in_bytes", "memory.current")
        return usage is not None and usage >= self.limits.memory * CAP_SHARE

    def peak_memory(self) -> int | None:
        """The most memory the kernel and its processes held at once, if a cgroup counted it
        (after ``cleanup``: what it counted last)."""
        if self._after is not None:
            return self._after[1]
        return self._memory_counter("memory.max_usage_in_bytes", "memory.peak")

    def _memory_counter(self, v1: str, v2: str) -> int | None:
        """A byte count of the kernel's memory cgroup (its v1 or v2 file), if there is one."""
        for group in self._cgroups:
            for fname in (v1, v2):
                path = group / fname
                if path.exists():
                    try:
                        return int(path.read_text().strip())
                    except (OSError, ValueError):
                        return None
        return None

    def kill(self) -> None:
        """SIGKILL every process of the kernel: its user's, and its cgroups' members."""
        if self.uid is not None:
            # Every process of the sandbox's own uid: what a cgroup catches, without one.
            _kill_all(lambda: [int(p.name) for p in Path("/proc").iterdir()
                               if p.name.isdigit() and _owner(p) == self.uid])
        for group in self._cgroups:
            _kill_all(functools.partial(_members, group / "cgroup.procs"))

    def cleanup(self) -> None:
        """Kill every process the kernel left, remove its cgroups and socket folder, and
        leave only plain files and folders in its working folder (again when asked again).

        The last step matters: nbgrader (as the grader's user) writes the graded notebook
        into that folder, and a link the kernel left there would aim that write, or a
        later read, at a file of the grader's choosing, not the kernel's."""
        self.kill()
        if self._after is None:
            self._after = (self.memory_exceeded(), self.peak_memory())
        for group in self._cgroups:
            try:
                group.rmdir()
            except OSError:
                pass
        self._cgroups = []
        if self.runtime is not None:
            shutil.rmtree(self.runtime, ignore_errors=True)
        _only_plain_files(self.workdir)
        LIVE.pop(id(self), None)


@atexit.register
def cleanup_all() -> None:
    """Clean up every sandbox of this process still open (at exit; on a signal that ends
    it): their kernels killed, their cgroups removed."""
    for box in list(LIVE.values()):
        try:
            box.cleanup()
        except Exception:  # one that fails must not keep the others
            LIVE.pop(id(box), None)


def _members(procs: Path) -> list[int]:
    return [int(p) for p in procs.read_text().split()] if procs.exists() else []


def _kill_all(find, rounds: int = 50) -> None:
    """SIGKILL whatever ``find()`` lists until it lists nothing (forks race the kills)."""
    for _ in range(rounds):
        pids = find()
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.02)


def _only_plain_files(folder: Path) -> None:
    """Remove every symlink, fifo, socket or device under ``folder`` (never following one),
    walking with a stack of its own: a kernel may leave folders nested thousands deep."""
    stack = [str(folder)]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif not entry.is_file(follow_symlinks=False):
                try:
                    os.unlink(entry.path)
                except OSError:
                    pass


def _owner(proc: Path) -> int:
    try:
        return proc.stat().st_uid
    except OSError:
        return -1


def _under(path: Path, roots) -> bool:
    return any(path == r or r in path.parents for r in roots)


def _readable_roots() -> list[Path]:
    """What a kernel must read: Python (the venv and its base), and the mlcourse package
    wherever it is installed; never the course around it."""
    import mlcourse

    roots = [Path(sys.prefix), Path(sys.base_prefix), Path(os.path.realpath(sys.base_prefix)),
             Path(mlcourse.__file__).resolve().parent]
    for entry in sys.path:
        # Other site-packages folders (a user site, a conda base) hold the kernel's imports.
        if entry.endswith("site-packages") and os.path.isdir(entry):
            roots.append(Path(entry).resolve())
    system = (Path("/usr"), Path("/etc"))
    kept: list[Path] = []
    for root in sorted(set(roots), key=lambda p: len(p.parts)):
        if root == Path("/") or _under(root, system) or _under(root, kept):
            continue
        kept.append(root)
    return kept
