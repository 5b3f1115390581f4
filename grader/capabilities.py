"""What this machine grants the sandbox (``sandbox.py``): bubblewrap's namespaces, writable
memory and pids cgroups, another user. ``probe()`` asks once per process; what the machine
refuses is graded without, and said (``Capabilities.why_not``, in every batch's summary).
It also removes, once per process, the empty ``mlcourse-…`` cgroups of graders that died
(``remove_stale_groups``): each group is named after the process that made it.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
# A group of ours: "mlcourse-<pid of the grader that made it>-<random>" (or the probe's).
GROUP = re.compile(r"mlcourse-(?:probe-)?(\d+)(?:-.*)?")


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


def group_owner(name: str) -> int | None:
    """The pid of the grader process that made the cgroup ``name``, if it is one of ours."""
    match = GROUP.fullmatch(name)
    return int(match.group(1)) if match else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # someone else's: alive
        pass
    return True


def remove_stale_groups(bases) -> list[Path]:
    """Remove the ``mlcourse-…`` cgroups under ``bases`` whose owner is dead and that hold no
    process (the kernel refuses to remove one that does); those of a living grader, and any
    group without an owner in its name, stay. Returns the removed groups."""
    removed = []
    for base in bases:
        if base is None:
            continue
        for group in sorted(Path(base).glob("mlcourse-*")):
            owner = group_owner(group.name)
            if owner is None or alive(owner):
                continue
            try:
                group.rmdir()
            except OSError:  # processes in it still, or gone already
                continue
            removed.append(group)
    return removed


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
    remove_stale_groups(dict.fromkeys([memory, pids]))
    if memory is None:
        why.append("no writable memory cgroup: memory is capped by address space instead")
    if pids is None:
        why.append("no writable pids cgroup: processes are capped by RLIMIT_NPROC only")
    if not root:
        why.append("not root: the kernel runs as the grader's own user")
    return Capabilities(bwrap, root, memory, pids, tuple(why))
