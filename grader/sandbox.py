"""The sandbox every submission's kernel runs in while it is graded.

A learner's kernel gets, where the machine allows each one:

- **a memory cap** (default 2 GiB): a memory cgroup (v1 or v2), else an address-space
  rlimit; a kernel killed for memory is reported as such;
- **a cap on processes** (a pids cgroup, and ``RLIMIT_NPROC`` for its own user) and on
  the size of any file it writes (``RLIMIT_FSIZE``); no core dumps;
- **no network** and **its own process tree** (bubblewrap: new network, pid, IPC and
  UTS namespaces): the grader's processes are invisible to it, so it cannot signal them,
  and every process it starts, detached or not, dies with the namespace;
- **a filesystem of its own**: the system, Python and the ``mlcourse`` package read-only,
  a private ``/tmp``, and its own working folder, the only place it may write. Nothing of
  the course (``solutions/``, the gradebook, ``nbgrader_config.py``, other submissions)
  is mounted at all;
- **another user** (when grading runs as root): an unprivileged uid, so the kernel holds
  no capability and owns nothing of the grader's;
- **a clean environment**: only the variables a kernel needs (never a database URL).

The kernel talks to the grader over Unix sockets in a folder of its own (ZeroMQ's
``ipc`` transport), since it has no network. ``SandboxedKernelManager`` is a
jupyter_client kernel manager, so nbclient, nbconvert and nbgrader use it unchanged;
``nbgrader_config.py`` selects it for autograding.

``probe()`` finds out once per process which of these the machine grants; what it
refuses is graded without and reported (``Capabilities.why_not``).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Integer, Unicode

from mlcourse.grading.judge import exit_cause

GiB = 1024**3
MiB = 1024**2
CGROUP_ROOT = Path("/sys/fs/cgroup")
# The largest message the grader takes from a kernel: above the judge's largest reply
# (mlcourse.grading.wire.MAX_BYTES), far below the grader's memory.
MAX_MESSAGE = 320 * 1024**2
# Unprivileged uids for sandboxed kernels when grading runs as root: one per worker
# slot, so RLIMIT_NPROC counts one kernel's processes only.
UID_BASE = 61000
UID_SLOTS = 1000
# A kernel holding this share of its memory cap or more is "at its cap": a 1 GiB
# allocation under a 512 MiB cgroup v1 cap was seen crawling at 96 % for seconds.
CAP_SHARE = 0.9
# What a kernel needs of the grader's environment; nothing else goes in.
ENV_KEEP = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONWARNINGS", "MPLBACKEND",
            "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
            "JPY_SESSION_NAME", "PYDEVD_DISABLE_FILE_VALIDATION",
            "NBGRADER_EXECUTION", "MLCOURSE_GRADING")
# (Never JPY_PARENT_PID, which jupyter_client adds at launch: in its own pid namespace the
# kernel would take its parent for dead. bubblewrap's --die-with-parent ties it to us.)


def parse_size(text: str | int) -> int:
    """``"2GiB"``, ``"512M"``, ``"1.5g"`` or a number of bytes -> bytes."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*([0-9.]+)\s*([kmgt]?)(i?b?)\s*", str(text), re.I)
    if not match:
        raise ValueError(f"not a size: {text!r} (write e.g. 2GiB, 512MiB or a number of bytes)")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * 1024 ** "_kmgt".index(unit or "_"))


def format_size(n: int) -> str:
    for unit, size in (("GiB", GiB), ("MiB", MiB)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


# ---- what this machine grants ------------------------------------------------------


@dataclass(frozen=True)
class Capabilities:
    bwrap: str | None          # path of a bubblewrap that runs here, or None
    root: bool                 # may switch to another uid and join cgroups
    memory_cgroup: Path | None  # a folder we may create cgroups in (v1 or v2)
    pids_cgroup: Path | None
    why_not: tuple[str, ...] = ()  # one line per thing refused

    def describe(self) -> str:
        parts = [
            "namespaces (no network, own processes, own filesystem view): "
            + ("yes" if self.bwrap else "NO"),
            "memory cap: " + ("cgroup" if self.memory_cgroup else "address-space rlimit"),
            "process cap: " + ("cgroup + rlimit" if self.pids_cgroup else "rlimit"),
            "separate user: " + ("yes" if self.root else "no (not root)"),
        ]
        return "; ".join(parts)


def _writable_cgroup(controller: str) -> Path | None:
    """A folder of ``controller`` in which we may make child cgroups (v1, then v2)."""
    v1 = CGROUP_ROOT / controller
    v2 = CGROUP_ROOT / "unified" if (CGROUP_ROOT / "unified" / "cgroup.controllers").exists() \
        else CGROUP_ROOT
    for base, is_v2 in ((v1, False), (v2, True)):
        if is_v2:
            controllers = base / "cgroup.subtree_control"
            if not controllers.exists() or controller not in controllers.read_text().split():
                continue
        elif not (base / "cgroup.procs").exists():
            continue
        probe = base / f"mlcourse-probe-{os.getpid()}"
        try:
            probe.mkdir()
            probe.rmdir()
            return base
        except OSError:
            continue
    return None


# Names of parts to do without, e.g. "namespaces,cgroups,user": for a machine where one
# misbehaves, and for the tests of grading without them.
WITHOUT = "MLCOURSE_SANDBOX_WITHOUT"


@functools.lru_cache(maxsize=1)
def probe() -> Capabilities:
    """What the sandbox can use on this machine (asked once per process)."""
    why = []
    without = {w.strip() for w in os.environ.get(WITHOUT, "").split(",") if w.strip()}
    bwrap = shutil.which("bwrap") if "namespaces" not in without else None
    if "namespaces" in without:
        why.append(f"namespaces turned off ({WITHOUT}): no network or filesystem isolation")
    if bwrap:
        try:
            run = subprocess.run(
                [bwrap, "--unshare-net", "--unshare-pid", "--die-with-parent",
                 "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "true"],
                capture_output=True, text=True, timeout=20)
            if run.returncode != 0:
                why.append(f"bubblewrap refused to make namespaces here ({run.stderr.strip()[:200]})")
                bwrap = None
        except (OSError, subprocess.TimeoutExpired) as exc:
            why.append(f"bubblewrap did not run ({exc})")
            bwrap = None
    elif "namespaces" not in without:
        why.append("bubblewrap (bwrap) is not installed, so there is no network or filesystem "
                   "isolation: apt-get install bubblewrap")
    root = os.geteuid() == 0 and shutil.which("setpriv") is not None and "user" not in without
    memory = _writable_cgroup("memory") if "cgroups" not in without else None
    pids = _writable_cgroup("pids") if "cgroups" not in without else None
    if memory is None:
        why.append("no writable memory cgroup: memory is capped by address space instead")
    if pids is None:
        why.append("no writable pids cgroup: processes are capped by RLIMIT_NPROC only")
    if not root:
        why.append("not root: the kernel runs as the grader's own user")
    return Capabilities(bwrap, root, memory, pids, tuple(why))


# ---- one sandbox ---------------------------------------------------------------------


@dataclass
class Limits:
    """The caps of one submission's kernel (``make grade --memory ...`` sets them)."""

    memory: int = 2 * GiB
    processes: int = 256
    file_size: int = 512 * MiB
    open_files: int = 1024

    def __post_init__(self):
        self.memory = parse_size(self.memory)
        self.file_size = parse_size(self.file_size)


@dataclass
class Sandbox:
    """The jail of one kernel: its working folder, its socket folder, its cgroups."""

    workdir: Path
    limits: Limits = field(default_factory=Limits)
    caps: Capabilities = field(default_factory=probe)
    uid: int | None = None
    name: str = field(default_factory=lambda: f"mlcourse-{uuid.uuid4().hex[:12]}")
    runtime: Path | None = None
    _cgroups: list[Path] = field(default_factory=list)

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
        """Did the kernel hit its memory cap (the kernel's OOM killer fired)?"""
        for group in self._cgroups:
            for fname in ("memory.events", "memory.oom_control", "memory.failcnt"):
                path = group / fname
                if not path.exists():
                    continue
                text = path.read_text()
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
        """The most memory the kernel and its processes held at once, if a cgroup counted it."""
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

    def cleanup(self) -> None:
        """Kill every process the kernel left, remove its cgroups and socket folder, and
        leave only plain files and folders in its working folder.

        The last step matters: nbgrader (as the grader's user) writes the graded notebook
        into that folder, and a link the kernel left there would aim that write, or a
        later read, at a file of the grader's choosing, not the kernel's."""
        if self.uid is not None:
            # Every process of the sandbox's own uid: what a cgroup catches, without one.
            _kill_all(lambda: [int(p.name) for p in Path("/proc").iterdir()
                               if p.name.isdigit() and _owner(p) == self.uid])
        PEAKS.append(self.peak_memory())
        for group in self._cgroups:
            _kill_all(functools.partial(_members, group / "cgroup.procs"))
            try:
                group.rmdir()
            except OSError:
                pass
        self._cgroups = []
        if self.runtime is not None:
            shutil.rmtree(self.runtime, ignore_errors=True)
        _only_plain_files(self.workdir)


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
    """Remove every symlink, fifo, socket or device under ``folder`` (never following one)."""
    import stat

    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                try:
                    os.unlink(path)
                except OSError:
                    pass


# Peak memory of every sandbox this process has cleaned up (grader/batch.py reports them).
PEAKS: list[int | None] = []


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


# ---- the kernel manager ---------------------------------------------------------------


class SandboxedKernelManager(AsyncKernelManager):
    """A jupyter_client kernel manager whose kernel runs in a ``Sandbox``.

    Configured like any traitlets class (``c.SandboxedKernelManager.memory_limit``).
    """

    enabled = Bool(True, help="Run kernels in the sandbox; False runs them as jupyter_client does.").tag(config=True)
    memory_limit = Unicode("2GiB", help="Memory cap of a kernel and everything it starts.").tag(config=True)
    process_limit = Integer(256, help="How many processes a kernel may have at once.").tag(config=True)
    file_size_limit = Unicode("512MiB", help="Largest file a kernel may write.").tag(config=True)

    sandbox: Sandbox | None = None

    def limits(self) -> Limits:
        return Limits(memory=self.memory_limit, processes=self.process_limit,
                      file_size=self.file_size_limit)

    async def _async_pre_start_kernel(self, **kw):
        if self.enabled:
            self.sandbox = Sandbox(Path(kw.get("cwd") or os.getcwd()), self.limits())
            self.transport = "ipc"
            self.connection_file = str(self.sandbox.runtime / "kernel.json")
            self.ip = str(self.sandbox.runtime / "k")
            # Signals cannot cross into the kernel's own session and pid namespace: interrupt
            # by message (ipykernel interrupts itself).
            self.kernel_spec.interrupt_mode = "message"
        return await super()._async_pre_start_kernel(**kw)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        if self.sandbox is not None:
            kernel_cmd = self.sandbox.command(kernel_cmd)
            kw["env"] = self.sandbox.environment(kw.get("env") or dict(os.environ))
            # What the kernel writes to its own stdout and stderr (not the notebook's output)
            # never reaches the grader's terminal.
            kw["stdout"] = kw["stderr"] = subprocess.DEVNULL
            if self.sandbox.uid is not None:
                os.chmod(self.connection_file, 0o600)
                os.chown(self.connection_file, self.sandbox.uid, self.sandbox.uid)
        await super()._async_launch_kernel(kernel_cmd, **kw)

    def client(self, **kwargs):
        """The grader's side of the kernel's sockets: a message larger than the judge ever
        reads (a kernel flooding the grader's memory) drops the connection instead."""
        import zmq

        kc = super().client(**kwargs)
        if self.enabled:
            kc.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)
        return kc

    def _killed_for_memory(self) -> str | None:
        box = self.sandbox
        if box is not None and box.memory_exceeded():
            return f"memory above {format_size(box.limits.memory)}"
        return None

    def memory_cause(self) -> str | None:
        """Memory, in words, when the OOM killer fired in the kernel's cgroup or the kernel
        is at its cap now; else None. Ask before killing a kernel for its time."""
        killed, box = self._killed_for_memory(), self.sandbox
        if killed or box is None or not box.at_memory_cap():
            return killed
        return (f"memory: it neared its cap of {format_size(box.limits.memory)}, "
                "where work crawls, and ran out of time")

    def death_cause(self) -> str:
        """Why the kernel is gone, in words for the learner's report."""
        return self._killed_for_memory() or exit_cause(getattr(self.provisioner, "process", None))

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        try:
            await super()._async_cleanup_resources(restart=restart)
        finally:
            if self.sandbox is not None and not restart:
                self.sandbox.cleanup()

    cleanup_resources = _async_cleanup_resources

    async def _async_shutdown_kernel(self, now: bool = False, restart: bool = False) -> None:
        try:
            await super()._async_shutdown_kernel(now=now, restart=restart)
        finally:
            if self.sandbox is not None and not restart:
                self.sandbox.cleanup()

    shutdown_kernel = _async_shutdown_kernel
