"""The sandbox as a jupyter_client kernel provisioner (grader/provisioner.py).

A kernel started by ``SandboxedKernelManager`` runs under ``SandboxProvisioner``, which
answers the judge's ``KernelWitness`` questions (why the kernel died, how much memory it
held) and leaves nothing behind: no cgroup, no process, no socket folder. Small caps and
allocations only (a 256 MiB cap, a few hundred MiB asked for).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from jupyter_client.provisioning import LocalProvisioner
from traitlets.config import Config

from grader import sandbox
from grader.provisioner import SandboxedKernelManager, SandboxProvisioner
from mlcourse.grading.limits import MEMORY, PROCESSES, WORK_FOLDER, MiB
from mlcourse.grading.outcomes import MEMORY as BY_MEMORY
from mlcourse.grading.outcomes import Death, KernelWitness

pytestmark = pytest.mark.slow


def uid_processes(uid: int) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if proc.stat().st_uid == uid:
                    found.append(proc.name)
            except OSError:
                continue
    return found


async def run_kernel(km: SandboxedKernelManager, work: Path, code: str) -> dict:
    """Start a kernel in ``work``, run ``code``, shut it down as nbclient does; what was seen."""
    await km.start_kernel(cwd=str(work), extra_arguments=["--HistoryManager.hist_file=:memory:"])
    kc = km.client()
    kc.start_channels()
    seen: dict = {"provisioner": km.provisioner}
    try:
        await kc.wait_for_ready(timeout=60)
        box = getattr(km.provisioner, "sandbox", None)
        seen["cgroups"] = list(box._cgroups) if box else []  # a test looks inside
        seen["runtime"] = box.runtime if box else None
        seen["uid"] = box.uid if box else None
        msg_id = kc.execute(code)
        for _ in range(600):  # its reply, or its death: at most a minute
            if not await km.is_alive():
                break
            try:
                reply = await kc.get_shell_msg(timeout=0.1)
            except Exception:  # no reply yet
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                seen["reply"] = reply["content"]["status"]
                break
        seen["alive"] = await km.is_alive()
    finally:
        kc.stop_channels()
        if await km.is_alive():
            await km.shutdown_kernel(now=True)
        await km.cleanup_resources()
    return seen


def test_the_provisioner_is_the_judges_kernel_witness():
    assert isinstance(SandboxProvisioner(), KernelWitness)
    bare = SandboxProvisioner()
    assert bare.death() is None and bare.at_memory_cap() is None and bare.peak_memory() is None


def test_caps_come_from_limits_and_from_the_config():
    km = SandboxedKernelManager()
    assert (km.limits().memory, km.limits().processes) == (MEMORY, PROCESSES)
    config = Config()
    config.SandboxedKernelManager.memory_limit = "4GiB"  # make grade --memory 4GiB
    config.SandboxedKernelManager.process_limit = 64
    km = SandboxedKernelManager(config=config)
    assert (km.limits().memory, km.limits().processes) == (4 * 1024 * MiB, 64)
    config.SandboxedKernelManager.memory_limit = 256 * MiB  # bytes do too
    assert SandboxedKernelManager(config=config).limits().memory == 256 * MiB


def test_a_kernel_runs_in_the_sandbox_and_leaves_nothing(tmp_path):
    km = SandboxedKernelManager(memory_limit="256MiB")
    seen = asyncio.run(run_kernel(km, tmp_path, "import os\nprint(os.getcwd())"))
    assert isinstance(seen["provisioner"], SandboxProvisioner)
    assert km.transport == "ipc"
    assert seen["alive"] and seen["reply"] == "ok" and seen["provisioner"].death() is None
    assert not seen["runtime"].exists(), "the kernel's socket folder outlived it"
    assert not any(g.exists() for g in seen["cgroups"]), "a cgroup outlived its kernel"
    if seen["uid"] is not None:
        assert uid_processes(seen["uid"]) == []
    if sandbox.probe().memory_cgroup is not None:
        assert seen["provisioner"].peak_memory() > 0  # still answered after cleanup


def test_turned_off_the_kernel_runs_as_jupyter_client_runs_it(tmp_path):
    km = SandboxedKernelManager(enabled=False)
    seen = asyncio.run(run_kernel(km, tmp_path, "print(1)"))
    assert type(seen["provisioner"]) is LocalProvisioner
    assert seen["alive"] and seen["reply"] == "ok"


@pytest.mark.skipif(sandbox.probe().memory_cgroup is None, reason="no memory cgroup here")
def test_a_kernel_killed_for_memory_reports_a_memory_death_with_its_cap(tmp_path):
    km = SandboxedKernelManager(memory_limit="256MiB")
    grow = "chunks = []\nfor _ in range(40):\n    chunks.append(bytearray(16 * 2**20))\n"
    seen = asyncio.run(run_kernel(km, tmp_path, grow))  # 640 MiB asked for, 256 MiB allowed
    witness = seen["provisioner"]
    assert not seen["alive"]
    assert witness.death() == Death(BY_MEMORY, "memory above 256 MiB")
    assert witness.at_memory_cap() == witness.death()  # killed for memory: not its time
    assert 200 * MiB < witness.peak_memory() <= 256 * MiB
    assert not any(g.exists() for g in seen["cgroups"])
    if seen["uid"] is not None:
        assert uid_processes(seen["uid"]) == []


@pytest.mark.skipif(os.geteuid() != 0 or sandbox.probe().bwrap is None,
                    reason="needs namespaces and root")
def test_kill_ends_every_process_of_the_kernel_detached_ones_too(tmp_path):
    """A grandchild in its own session escapes the kernel's process group; ``kill`` ends it."""
    km = SandboxedKernelManager(memory_limit="256MiB")

    async def go():
        await km.start_kernel(cwd=str(tmp_path), extra_arguments=[])
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            await kc.execute_interactive(
                "import subprocess\nsubprocess.Popen(['sleep', '300'], start_new_session=True)",
                timeout=30)
            uid = km.provisioner.sandbox.uid
            assert len(uid_processes(uid)) >= 2
            await km.provisioner.kill()
            left = uid_processes(uid)
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)
            await km.cleanup_resources()
        return left

    assert asyncio.run(go()) == []


FILL = """
import errno, os
fd = os.open("big", os.O_CREAT | os.O_WRONLY)
try:
    os.posix_fallocate(fd, 0, 64 * 2**20)  # 64 MiB at once: refused whole
except OSError as e:
    assert e.errno == errno.ENOSPC, e
else:
    raise AssertionError("allocated past the quota")
written = 0
with open("chunks", "wb", buffering=0) as fh:
    try:
        while written < 64 * 2**20:  # then 1 MiB at a time: stops at the quota
            written += fh.write(b"x" * 2**20)
    except OSError as e:
        assert e.errno == errno.ENOSPC, e
assert written <= 8 * 2**20, written
assert open("handed-in.txt").read() == "mine"  # the handed-in files are there
open("handed-in.txt", "w").write("changed")
"""


@pytest.mark.skipif(sandbox.probe().bwrap is None, reason="the working folder's quota needs namespaces")
def test_the_working_folder_has_a_quota_and_is_never_on_the_host(tmp_path):
    (tmp_path / "handed-in.txt").write_text("mine")
    km = SandboxedKernelManager(memory_limit="256MiB", disk_limit=8 * MiB)
    assert km.limits().disk == 8 * MiB
    seen = asyncio.run(run_kernel(km, tmp_path, FILL))
    assert seen["alive"] and seen["reply"] == "ok"  # ENOSPC in its cell; the kernel goes on
    assert sorted(p.name for p in tmp_path.iterdir()) == ["handed-in.txt"]
    assert (tmp_path / "handed-in.txt").read_text() == "mine"
    assert SandboxedKernelManager().limits().disk == WORK_FOLDER


@pytest.mark.skipif(sandbox.probe().bwrap is None, reason="the working folder's quota needs namespaces")
def test_a_submission_filling_its_folder_fails_in_its_own_cell_and_grading_goes_on(tmp_path):
    """Graded in a class batch under a lowered quota: the cell that allocates past it fails
    (No space left on device), the graded cells after it still earn their points, and the
    file is nowhere on the host."""
    import shutil

    import nbformat
    from nbtools import FIXTURES

    from grader import autograde, release
    from grader.course import build_course

    name = "99-fixture"
    course = build_course(tmp_path, [FIXTURES / name])
    config = course.root / "nbgrader_config.py"
    config.write_text(config.read_text() + "\nc.SandboxedKernelManager.disk_limit = 8 * 2**20\n")
    release.generate(course, name)
    nb = nbformat.read(course.release_dir / name / f"{name}.ipynb", as_version=4)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    nb.cells[ids.index("double-answer")].source = "def double(x):\n    return 2 * x\n"
    nb.cells.insert(ids.index("double-visible") + 1, nbformat.v4.new_code_cell(
        "import os\nfd = os.open('huge.bin', os.O_CREAT | os.O_WRONLY)\n"
        "os.posix_fallocate(fd, 0, 256 * 2**20)"))
    folder = course.submitted / "filler" / name
    folder.mkdir(parents=True)
    (folder / f"{name}.ipynb").write_text(nbformat.writes(nb), encoding="utf-8")
    free = shutil.disk_usage(tmp_path).free
    rows = autograde.grade(course, workers=0, echo=lambda line: None)
    assert [(r.student, r.score, r.error) for r in rows] == [("filler", 3, "")]
    graded = (course.root / "autograded" / "filler" / name / f"{name}.ipynb").read_text()
    assert "No space left on device" in graded
    assert not list(tmp_path.rglob("huge.bin"))
    assert shutil.disk_usage(tmp_path).free > free - 200 * MiB  # 256 MiB never reached the disk
