"""A learner's kernel launched in the sandbox: a jupyter_client kernel provisioner.

``SandboxProvisioner`` is jupyter_client's ``LocalProvisioner`` with the launch wrapped in
a ``Sandbox`` (``sandbox.py``: cgroups, rlimits, namespaces, another user, a clean
environment) and the sandbox emptied in its public hooks: ``kill`` kills every process of
the kernel, ``cleanup`` also removes its cgroups and socket folder. It is the judge's
``KernelWitness`` (``mlcourse.grading.outcomes``): why the kernel died of memory, whether
it sits at its memory cap, the most memory it held.

``SandboxedKernelManager`` is the kernel manager nbgrader runs (``judged_execute.py``
makes it the default; ``nbgrader_config.py`` sets its caps, ``make grade --memory``
overrides them). It selects the provisioner itself, through jupyter_client's public
``provisioner`` attribute, when it starts a kernel: no kernel spec to install and no entry
point to register, so the same code works in ``grader/``, in a batch's scratch copy of the
course files and on every Dask worker. ``c.SandboxedKernelManager.enabled = False`` leaves
the choice to jupyter_client (a stock ``LocalProvisioner``), as stock nbgrader runs it.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from traitlets import Bool, Instance, Integer, Unicode, Union

from mlcourse.grading.limits import MAX_MESSAGE, MEMORY, PROCESSES, format_size
from mlcourse.grading.outcomes import MEMORY as KILLED_BY_MEMORY
from mlcourse.grading.outcomes import Death

try:  # the repository's grader package (grading workers, the tests, `make grade`)
    from grader.sandbox import Limits, Sandbox
except ModuleNotFoundError:  # a course folder's own copy, next to this file
    from sandbox import Limits, Sandbox


class SandboxProvisioner(LocalProvisioner):
    """jupyter_client's local provisioner, its kernel in a ``Sandbox`` under ``limits``."""

    limits = Instance(Limits, args=(), help="The caps of the kernel (sandbox.Limits).")
    sandbox: Sandbox | None = None

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        """Make the kernel's sandbox, point the connection at Unix sockets in its folder (the
        kernel has no network), then wrap the command and environment ``LocalProvisioner``
        prepares."""
        if self.sandbox is not None:  # a restart: a fresh sandbox for the new kernel
            self.sandbox.cleanup()
        box = self.sandbox = Sandbox(Path(kwargs.get("cwd") or os.getcwd()), self.limits)
        km = self.parent
        km.transport = "ipc"
        km.ip = str(box.runtime / "k")
        km.connection_file = str(box.runtime / "kernel.json")
        # Signals cannot cross into the kernel's own session and pid namespace: interrupt
        # by message (ipykernel interrupts itself).
        self.kernel_spec.interrupt_mode = "message"
        kwargs = await super().pre_launch(**kwargs)
        kwargs["cmd"] = box.command(kwargs["cmd"])
        kwargs["env"] = box.environment(kwargs.get("env") or dict(os.environ))
        # What the kernel writes to its own stdout and stderr (not the notebook's output)
        # never reaches the grader's terminal.
        kwargs["stdout"] = kwargs["stderr"] = subprocess.DEVNULL
        if box.uid is not None:
            os.chmod(km.connection_file, 0o600)
            os.chown(km.connection_file, box.uid, box.uid)
        return kwargs

    async def kill(self, restart: bool = False) -> None:
        """SIGKILL the kernel and every process it started (its cgroups stay, still counting
        its memory, until ``cleanup``)."""
        try:
            await super().kill(restart=restart)
        finally:
            if self.sandbox is not None:
                self.sandbox.kill()

    async def cleanup(self, restart: bool = False) -> None:
        """Kill what the kernel left, remove its cgroups and socket folder, leave only plain
        files in its folder (``Sandbox.cleanup``). Safe to call more than once."""
        try:
            await super().cleanup(restart=restart)
        finally:
            if self.sandbox is not None:
                self.sandbox.cleanup()

    # ---- the judge's KernelWitness
    def death(self) -> Death | None:
        """A ``MEMORY`` death when the OOM killer fired in the kernel's cgroup, else None
        (the judge then reads the kernel's exit status)."""
        box = self.sandbox
        if box is not None and box.memory_exceeded():
            return Death(KILLED_BY_MEMORY, f"memory above {format_size(box.limits.memory)}")
        return None

    def at_memory_cap(self) -> Death | None:
        """A ``MEMORY`` death when the kernel was killed for memory or holds (nearly) its whole
        cap now, where work crawls until its time runs out; else None."""
        box = self.sandbox
        if box is None or not box.at_memory_cap():
            return self.death()
        return Death(KILLED_BY_MEMORY, f"memory: it neared its cap of "
                     f"{format_size(box.limits.memory)}, where work crawls, and ran out of time")

    def peak_memory(self) -> int | None:
        """The most memory the kernel and its processes held at once, where a cgroup counted
        it (still answered after ``cleanup``)."""
        return self.sandbox.peak_memory() if self.sandbox is not None else None


class SandboxedKernelManager(AsyncKernelManager):
    """A jupyter_client kernel manager whose kernels run under ``SandboxProvisioner``.

    Configured like any traitlets class (``c.SandboxedKernelManager.memory_limit``).
    """

    enabled = Bool(True, help="Run kernels in the sandbox; False runs them as jupyter_client does.").tag(config=True)
    memory_limit = Union([Integer(), Unicode()], default_value=MEMORY,
                         help="Memory cap of a kernel and everything it starts "
                              "(bytes, or e.g. '2GiB').").tag(config=True)
    process_limit = Integer(PROCESSES, help="How many processes a kernel may have at once.").tag(config=True)
    file_size_limit = Union([Integer(), Unicode()], default_value=Limits.file_size,
                            help="Largest file a kernel may write.").tag(config=True)
    disk_limit = Union([Integer(), Unicode()], default_value=Limits.disk,
                       help="Size of the kernel's working folder, all it writes there together "
                            "(a tmpfs, with namespaces; its pages count as the kernel's memory)."
                       ).tag(config=True)

    def limits(self) -> Limits:
        return Limits(memory=self.memory_limit, processes=self.process_limit,
                      file_size=self.file_size_limit, disk=self.disk_limit)

    async def start_kernel(self, **kw: Any) -> None:
        """Start a kernel: in the sandbox, unless turned off, whose provisioner is chosen here
        (once; a restart keeps it)."""
        if self.enabled and self.provisioner is None:
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", None) or str(uuid.uuid4())
            self.provisioner = SandboxProvisioner(kernel_id=self.kernel_id, parent=self,
                                                  kernel_spec=self.kernel_spec,
                                                  limits=self.limits())
        await super().start_kernel(**kw)

    def client(self, **kwargs: Any):
        """The grader's side of the kernel's sockets: a message larger than the judge ever
        reads (a kernel flooding the grader's memory) drops the connection instead."""
        import zmq

        kc = super().client(**kwargs)
        if self.enabled:
            kc.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)
        return kc

