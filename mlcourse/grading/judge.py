"""The judge: grading verdicts decided outside the learner's process.

The learner's notebook runs in its kernel as usual, cell by cell, except its
graded test cells: those never reach the kernel. For each one the judge, in the
grading process,

1. parses the cell into check calls (``cells.parse``: nothing else is allowed);
2. runs its own copy of each check, with every learner name replaced by a
   ``Remote`` proxy: the check's calls of learner code travel to the kernel as
   plain data and come back as plain data (``wire``, no pickle);
3. writes the verdict into the cell's outputs itself: ``✓`` lines on stdout, or
   one ``GradingError`` output with the check's message.

Nothing the kernel prints, patches or hooks reaches a verdict: a swallowed
exception, a patched ``np.allclose`` or ``showtraceback``, a replaced check
function all live on the other side. Before the first cell the judge reads the
learner's cells (``integrity``): reference use costs the exercises it concerns,
tampering costs every exercise; and in the kernel it swaps each reference for a
stand-in that refuses the learner's own calls (``agent.guard_references``).

``JudgeMixin`` goes in front of any nbclient ``NotebookClient`` (nbgrader's
``Execute`` preprocessor included, see ``grader/judged_execute.py``).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any

from . import cells, integrity, limits, outcomes
from .agent import MIME, TARGET
from .errors import ReferenceUse
from .references import reference_message
from .remote import Link
from .rules import is_answer, is_graded_test, nbgrader_meta

AFTER_DEATH = ("every check after that scores 0. Look for sys.exit, os._exit, exit(), "
               "a process killed, or runaway memory or time.")
# Per cell, what the notebook may print into the graded copy; the rest is cut.
OUTPUT_LIMIT = limits.OUTPUT_CHARS
# How long a check's call may go on after the interrupt its time limit sent, before its
# kernel is stopped.
INTERRUPT_GRACE = 5.0


def exit_death(process) -> outcomes.Death:
    """Why a kernel process is gone, as its exit status tells it (``outcomes.death_from_status``)."""
    return outcomes.death_from_status(process.poll() if process is not None else None)


def is_learner_cell(cell) -> bool:
    """Code the learner wrote: answer cells and every cell that is not a locked cell of the
    source. A locked cell keeps its grade_id only when nbgrader found it in the gradebook
    (and restored its source from there); a learner's cell that claims to be locked
    without a known grade_id is the learner's."""
    meta = nbgrader_meta(cell)
    trusted = bool(meta.get("locked")) and bool(meta.get("grade_id")) and not is_answer(cell)
    return cell.get("cell_type") == "code" and not trusted


def _label(index: int, cell) -> str:
    return f"cell {index} ({nbgrader_meta(cell).get('grade_id', 'your own cell')})"


def _where(index: int, cell) -> str:
    gid = nbgrader_meta(cell).get("grade_id")
    return f"in cell `{gid}`" if gid else f"in cell {index} (your own cell)"


class KernelLink(Link):
    """The judge's requests, run as code in the kernel by the client's own loop."""

    def __init__(self, client, loop: asyncio.AbstractEventLoop):
        super().__init__()
        self.client, self.loop = client, loop

    def exchange(self, request_text: str) -> str:
        nonce = json.loads(request_text)["nonce"]
        if self.client._judge_dead is not None:
            return self._error(nonce, "KernelDied", self.client._judge_death_message())
        if self.client._judge_comm is not None:
            future = asyncio.run_coroutine_threadsafe(self.client._judge_ask(request_text), self.loop)
            reply = future.result()
            if reply is None:
                return self._error(nonce, "KernelDied", self.client._judge_death_message())
            text = reply.get("reply")
            try:
                if isinstance(text, str) and json.loads(text).get("nonce") == nonce:
                    return text
            except (ValueError, AttributeError):
                pass
            return self._error(nonce, "NoReply", "no answer came back from your kernel: does code "
                                                 "in your notebook close or replace its comms?")
        code = ("__import__('mlcourse.grading.agent', fromlist=['serve']).serve("
                + repr(request_text) + ")")
        future = asyncio.run_coroutine_threadsafe(self.client._judge_run(code), self.loop)
        outputs = future.result()
        if outputs is None:
            return self._error(nonce, "KernelDied", self.client._judge_death_message())
        for out in reversed(outputs):
            text = out.get("data", {}).get(MIME) if out.get("output_type") == "display_data" else None
            if isinstance(text, str):
                try:
                    if json.loads(text).get("nonce") == nonce:
                        return text
                except (ValueError, AttributeError):
                    continue
        errors = [o for o in outputs if o.get("output_type") == "error"]
        why = (f"{errors[0].get('ename')}: {errors[0].get('evalue')}" if errors
               else "no answer came back")
        return self._error(nonce, "NoReply", f"the call did not finish ({why})")

    @staticmethod
    def _error(nonce: int, kind: str, message: str) -> str:
        return json.dumps({"nonce": nonce, "error": {"type": kind, "message": message}})


class JudgeMixin:
    """Put first in the bases of an nbclient client: graded test cells are judged, not run."""

    _judge_ready = False
    _judge_dead: str | None = None           # the words of the kernel's death, once it died
    _judge_comm: str | None = None
    _judge_death: outcomes.Death | None = None
    _judge_findings: integrity.Findings | None = None
    _judge_record_started = False
    # The whole notebook's time limit in seconds (None: only nbclient's per-cell timeout).
    submission_timeout: float | None = None
    output_limit: int = OUTPUT_LIMIT
    # What all cells together may leave in the graded copy (``limits.NOTEBOOK_OUTPUT_CHARS``).
    notebook_output_limit: int | None = None

    def reset_execution_trackers(self) -> None:
        """A new notebook (nbgrader reuses one client for a whole batch): forget the last one."""
        super().reset_execution_trackers()
        self._judge_ready, self._judge_dead, self._judge_findings = False, None, None
        self._judge_death = None
        self._judge_record_started = False
        self._judge_deadline: float | None = None
        self._judge_where = "before the first cell"
        self._judge_copies: set[int] = set()
        self._judge_pending: list = []
        self._judge_output_sizes: dict[int, int] = {}
        self._judge_cut: set[int] = set()           # cells whose output was cut (noted once)
        self._judge_errand: int | None = None       # index of the judge's own errand cell, while it runs
        self._judge_learner_ran = False             # has any cell of the learner's run yet?
        self._judge_probe: dict | None = None       # the fresh kernel's imports (``_judge_probe_kernel``)
        self._judge_course_error: dict | None = None
        self._judge_started: float | None = None
        self._judge_comm: str | None = None         # the agent's comm, once opened (``_judge_listen``)

    # ---- the kernel's death, the notebook's time, its output
    def _judge_witness(self) -> outcomes.KernelWitness | None:
        """What runs the kernel, when it answers the judge's questions about it (the sandbox's
        provisioner); None for a stock provisioner."""
        provisioner = getattr(getattr(self, "km", None), "provisioner", None)
        return provisioner if isinstance(provisioner, outcomes.KernelWitness) else None

    def _judge_cause(self) -> outcomes.Death:
        """Why the kernel is gone: as its runner knows it (memory), else as its exit status
        tells it (signal, exit, stopped)."""
        witness = self._judge_witness()
        death = witness.death() if witness is not None else None
        return death or exit_death(getattr(getattr(getattr(self, "km", None), "provisioner", None),
                                           "process", None))

    def _judge_time_death(self, reason: str) -> outcomes.Death:
        """Why a kernel about to be killed for its time is stopped: its memory, when its runner
        finds it at its memory cap (crawling until the time ran out), else its time (``reason``)."""
        witness = self._judge_witness()
        memory = witness.at_memory_cap() if witness is not None else None
        return memory or outcomes.Death(outcomes.TIME, reason)

    async def _judge_stop_for_time(self, where: str, reason: str) -> None:
        """Kill a kernel that ran out of time, its cause asked for first, while the kernel's
        memory is still counted."""
        death = self._judge_time_death(reason)
        await self._judge_kill()
        self._judge_died(where, death)

    @staticmethod
    def _ignored_interrupt(exc: BaseException) -> str:
        return f"it ran past its time limit and ignored the interrupt ({type(exc).__name__})"

    def _judge_died(self, where: str, death: outcomes.Death | None = None) -> None:
        if self._judge_dead is None:
            death = death or self._judge_cause()
            self._judge_death = death
            self._judge_dead = f"kernel killed: {death.reason} {where}"
            self._judge_record()["killed"] = {"kind": outcomes.killed(death.cause), "cause": death.cause,
                                              "reason": self._judge_dead, "where": where}

    async def _judge_kill(self) -> None:
        """Kill the kernel now and wait (5 s at most) until it is gone, as jupyter_client's
        ``shutdown_kernel(now=True)`` does, but leaving its resources to the end of the run
        (the sandbox still counts its memory there)."""
        from jupyter_core.utils import ensure_async

        provisioner = getattr(self.km, "provisioner", None)
        if provisioner is None or not provisioner.has_process:
            return
        try:
            await ensure_async(provisioner.kill())
            await asyncio.wait_for(ensure_async(provisioner.wait()), timeout=5)
        except Exception:  # already gone, or still going after 5 s: nothing more to do here
            pass

    def _judge_peak(self) -> None:
        """Keep the kernel's peak memory in the record, where its runner measures it."""
        witness = self._judge_witness()
        if witness is not None:
            self._judge_record()["peak_memory"] = witness.peak_memory()

    def set_widgets_metadata(self) -> None:
        """nbclient's last step of a run (its own ``execute`` and nbconvert's ``preprocess``
        alike), the kernel not yet cleaned up: the judge notes its peak memory here."""
        super().set_widgets_metadata()
        self._judge_peak()

    def _judge_record(self) -> dict:
        """The judge's own account of this run, kept in the graded notebook's metadata
        (``mlcourse.judge``) and started afresh by every judged run, whatever the submission
        carried: the report's flags are read from here, never from the name or text of an
        output that a learner's code could print."""
        # nbformat's NotebookNode copies a dict stored in it: read back what it keeps
        if not isinstance(self.nb.metadata.get("mlcourse"), dict):
            self.nb.metadata["mlcourse"] = {}
        meta = self.nb.metadata["mlcourse"]
        if not isinstance(meta.get("judge"), dict) or not self._judge_record_started:
            meta["judge"] = {"version": 2, "killed": None, "refused": [], "references": {},
                             "reference_use": [], "cells": {}, "peak_memory": None}
            self._judge_record_started = True
        return meta["judge"]

    def _judge_death_message(self) -> str:
        return f"{self._judge_dead}; {AFTER_DEATH}"

    def _get_timeout(self, cell):
        timeout = super()._get_timeout(cell)
        if self._judge_deadline is None:
            return timeout
        left = max(1, math.ceil(self._judge_deadline - time.monotonic()))
        return left if timeout is None else min(timeout, left)

    # ---- what cells leave in the graded copy: capped per cell and per notebook, whatever its
    # MIME type (the judge's own key included) or its way in (a display_id's update included)
    def _judge_notebook_cap(self) -> int:
        return self.notebook_output_limit or limits.NOTEBOOK_OUTPUT_CHARS

    def _judge_fits(self, cell_index: int, size: int, replaced: int = 0) -> bool:
        """Would ``size`` more characters (``replaced`` fewer) in this cell keep it and the
        notebook under their caps? Counts are running totals, made exact again from what the
        cells hold (cleared output no longer counts) whenever one would be over."""
        sizes = self._judge_output_sizes
        for exact in (False, True):
            if exact:
                for i in list(sizes):
                    sizes[i] = (sum(output_size(o) for o in self.nb.cells[i].get("outputs", []))
                                if i < len(self.nb.cells) else 0)
            cell = sizes.get(cell_index, 0) - replaced + size
            total = sum(sizes.values()) - replaced + size
            if cell <= self.output_limit and total <= self._judge_notebook_cap():
                return True
        return False

    def _judge_note_cut(self, outs, cell_index: int) -> None:
        if cell_index in self._judge_cut:
            return
        from nbformat import from_dict

        self._judge_cut.add(cell_index)
        outs.append(from_dict({"output_type": "stream", "name": "stdout", "text": (
            f"\n[output cut: this cell's output passed {self.output_limit:,} characters, or the "
            f"notebook's {self._judge_notebook_cap():,}; the rest is not kept]\n")}))

    def output(self, outs, msg, display_id, cell_index):
        """Keep at most ``output_limit`` characters of what one cell shows, and
        ``notebook_output_limit`` of all cells together. Only the judge's own errand cell,
        thrown away once its reply is read, is not counted."""
        if self._judge_errand is not None and cell_index == self._judge_errand:
            return super().output(outs, msg, display_id, cell_index)
        size = output_size(msg.get("content", {}))
        if self.clear_before_next_output:
            self._judge_output_sizes[cell_index] = 0
        if self._judge_fits(cell_index, size):
            self._judge_output_sizes[cell_index] = self._judge_output_sizes.get(cell_index, 0) + size
            return super().output(outs, msg, display_id, cell_index)
        self._judge_note_cut(outs, cell_index)
        return None

    def _update_display_id(self, display_id: str, msg) -> None:
        """An update of an earlier display replaces its data in every cell that shows it: each
        such cell must stay under its cap (and the notebook under its own) or the update is
        dropped, the cell noting the cut."""
        targets = {i: idx for i, idx in self._display_id_map.get(display_id, {}).items()
                   if i < len(self.nb.cells) and i != self._judge_errand}
        size = output_size(msg.get("content", {}))
        for i, indices in targets.items():
            outs = self.nb.cells[i].get("outputs", [])
            old = sum(output_size(outs[k]) for k in indices if k < len(outs))
            if not self._judge_fits(i, size * len(indices), replaced=old):
                self._judge_note_cut(outs, i)
                return
        for i, indices in targets.items():
            outs = self.nb.cells[i].get("outputs", [])
            old = sum(output_size(outs[k]) for k in indices if k < len(outs))
            self._judge_output_sizes[i] = self._judge_output_sizes.get(i, 0) - old + size * len(indices)
        if len(targets) == len(self._display_id_map.get(display_id, {})):
            return super()._update_display_id(display_id, msg)
        kept = self._display_id_map[display_id]
        self._display_id_map[display_id] = targets   # never a cell that is gone (an errand's)
        try:
            return super()._update_display_id(display_id, msg)
        finally:
            self._display_id_map[display_id] = kept

    async def _judge_run(self, code: str):
        """Run ``code`` in the kernel as a throwaway cell; its outputs, or None if the kernel died."""
        from nbclient.exceptions import DeadKernelError
        from nbformat.v4 import new_code_cell

        cell = new_code_cell(code)
        # nbclient writes the executed cell back into the notebook at its index: give the
        # errand a slot of its own at the end, and take it away again.
        self.nb.cells.append(cell)
        self._judge_errand = len(self.nb.cells) - 1
        try:
            await super().async_execute_cell(cell, len(self.nb.cells) - 1, store_history=False)
        except DeadKernelError:
            self._judge_died(f"while checks ran {self._judge_where}")
            return None
        except Exception as exc:  # the learner's code ran past its time limit, ignoring the interrupt
            await self._judge_stop_for_time(f"while checks ran {self._judge_where}",
                                            self._ignored_interrupt(exc))
            return None
        finally:
            self._judge_errand = None
            slot = next(i for i in range(len(self.nb.cells) - 1, -1, -1) if self.nb.cells[i] is cell)
            del self.nb.cells[slot]
        return cell.get("outputs", [])

    async def _judge_prepare(self) -> None:
        """Read the learner's cells, then guard the references in the fresh kernel."""
        self._judge_ready = True
        self._judge_started = time.monotonic()
        if self.submission_timeout:
            self._judge_deadline = time.monotonic() + self.submission_timeout
        nb = self.nb
        # A learner's copy of a test cell (nbgrader strips the grade_id of all but one copy)
        # is not run: each test cell is graded once, by its grade_id.
        self._judge_copies = {id(c) for c in nb.cells if is_learner_cell(c) and _is_test_copy(c)}
        learner = {_label(i, c): c.source for i, c in enumerate(nb.cells)
                   if is_learner_cell(c) and id(c) not in self._judge_copies}
        trusted = [c.source for c in nb.cells
                   if c.get("cell_type") == "code" and not is_learner_cell(c) and not is_graded_test(c)]
        references = sorted({ref for c in nb.cells if is_graded_test(c)
                             for ref in self._judge_references(c.source)})
        shortcuts = sorted({route for c in nb.cells if is_graded_test(c)
                            for route in self._judge_references(c.source, "shortcuts")})
        self._judge_findings = integrity.scan(learner, trusted, references, self._judge_files())
        record = self._judge_record()
        record["refused"] = list(self._judge_findings.tampering)
        record["references"] = {k: list(v) for k, v in self._judge_findings.references.items()}
        course_sources = [c.source for c in nb.cells
                          if c.get("cell_type") == "code" and not is_learner_cell(c)]
        probe = PROBE % (PROBE_TAG, imported_modules(course_sources))
        self._judge_probe = probe_result(await self._judge_run(probe))
        record["probe"] = self._judge_probe
        code = ("import mlcourse.grading.agent as _mlcourse_agent\n"
                "_mlcourse_agent.guard_references(" + repr(references) + ", [get_ipython().compile."
                "get_code_name(s, s, 0) for s in " + repr(trusted) + "], " + repr(shortcuts) + ")\n"
                "_mlcourse_agent.freeze(" + repr(self._judge_modules()) + ")\n"
                "_mlcourse_agent.listen()\n"
                "del _mlcourse_agent")
        outputs = await self._judge_run(code)
        error = first_error(outputs)
        if error is not None:   # the fresh kernel cannot start the judge's agent
            self._judge_course_fault("the judge's set-up, before the first cell", error,
                                     "the grading kernel cannot import the course's package")
        elif outputs is not None:
            await self._judge_listen()

    # ---- the judge's requests on the agent's comm (``agent.listen``)
    async def _judge_listen(self) -> None:
        """Open the agent's comm; requests go by code (``agent.serve``) if it does not open."""
        from uuid import uuid4

        comm_id = uuid4().hex
        reply = await self._judge_message("comm_open", {"comm_id": comm_id, "target_name": TARGET,
                                                         "data": {}}, comm_id)
        if reply is not None and reply.get("opened") is True:
            self._judge_comm = comm_id

    async def _judge_ask(self, request_text: str) -> dict | None:
        """One request on the agent's comm: the comm's reply ({} if none came), or None if the
        kernel died or was stopped for its time."""
        return await self._judge_message("comm_msg", {"comm_id": self._judge_comm,
                                                       "data": {"request": request_text}},
                                         self._judge_comm)

    async def _judge_message(self, msg_type: str, content: dict, comm_id: str) -> dict | None:
        """Send one comm message and read the kernel's iopub until it is idle again. Whatever
        the learner's code prints or displays meanwhile is not kept: an errand has no cell.
        Past the cell's time limit the kernel is interrupted; past a grace after that, or
        dead, it is stopped, as a cell's would be."""
        from queue import Empty

        from jupyter_core.utils import ensure_async

        message = self.kc.session.msg(msg_type, content)
        self.kc.shell_channel.send(message)
        parent = message["header"]["msg_id"]
        where = f"while checks ran {self._judge_where}"
        limit = self._get_timeout(None)
        deadline = None if limit is None else time.monotonic() + limit
        interrupted, reply = False, {}
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                if interrupted:
                    await self._judge_stop_for_time(where, "it ran past its time limit and "
                                                           "ignored the interrupt")
                    return None
                await ensure_async(self.km.interrupt_kernel())
                interrupted, deadline = True, time.monotonic() + INTERRUPT_GRACE
            wait = 1.0 if deadline is None else min(1.0, max(0.0, deadline - time.monotonic()))
            try:
                msg = await ensure_async(self.kc.iopub_channel.get_msg(timeout=wait))
            except Empty:
                if not await ensure_async(self.kc.is_alive()):
                    self._judge_died(where)
                    return None
                continue
            if msg["parent_header"].get("msg_id") != parent:
                continue
            kind, body = msg["msg_type"], msg.get("content", {})
            if kind == "comm_msg" and body.get("comm_id") == comm_id and isinstance(body.get("data"), dict):
                reply = body["data"]
            elif kind == "status" and body.get("execution_state") == "idle":
                return reply

    # ---- the course's own failures, and the notebook's times
    def _judge_course_fault(self, where: str, error: str, why: str) -> bool:
        """Note a course error (the first one stands), unless the fresh kernel found one of the
        course's modules coming from the learner's own folder (or could not be asked): then a
        failing course cell is the learner's doing. True when noted."""
        probe = self._judge_probe
        if self._judge_course_error is not None:
            return True
        if not isinstance(probe, dict) or probe.get("shadowed"):
            return False
        self._judge_course_error = {"cell": where, "error": error, "why": why,
                                    "missing": list(probe.get("missing") or [])}
        self._judge_record()["course_error"] = self._judge_course_error
        return True

    def _judge_course_cell_failed(self, where: str, cell) -> None:
        """A locked cell of the course that ends in an error is the course's fault when no
        learner cell has run before it, or when the fresh kernel lacked a module the course's
        cells import (decided by the judge's own data: which cells ran, the probe)."""
        error = first_error(cell.get("outputs"))
        if error is None:
            return
        probe = self._judge_probe if isinstance(self._judge_probe, dict) else {}
        if probe.get("missing"):
            self._judge_course_fault(where, error, "the grading kernel lacks "
                                     + ", ".join(probe["missing"]))
        elif not self._judge_learner_ran:
            self._judge_course_fault(where, error, "a cell of the course failed before any "
                                     "cell of the learner's ran")

    def _judge_course_message(self) -> str:
        err = self._judge_course_error or {}
        return (f"not graded: course error {err.get('cell')} ({err.get('why')}): {err.get('error')}. "
                "This is the course's fault, not yours: your notebook will be graded again once "
                "it is fixed.")

    def _judge_timed(self, index: int, cell, started: float) -> None:
        """Keep how long each cell took (a test cell: all its checks), and the notebook so far,
        in the record: the class batch derives a submission's limits from its reference's."""
        timing = self._judge_record().setdefault("timing", {"cells": {}, "notebook": 0.0})
        label = nbgrader_meta(cell).get("grade_id") or f"cell {index}"
        timing["cells"][label] = round(timing["cells"].get(label, 0.0) + time.monotonic() - started, 3)
        if self._judge_started is not None:
            timing["notebook"] = round(time.monotonic() - self._judge_started, 3)

    def _judge_files(self) -> dict[str, str]:
        """Python files handed in beside the notebook (a cell can import them): their text,
        read here and never imported, for the scan."""
        from pathlib import Path

        folder = (getattr(self, "resources", None) or {}).get("metadata", {}).get("path")
        files: dict[str, str] = {}
        if not folder:
            return files
        try:
            candidates = sorted(Path(folder).glob("*.py"))[:limits.MAX_SIDE_FILES]
        except OSError:
            return files
        for path in candidates:
            try:
                if path.is_symlink() or not path.is_file():
                    continue
                with open(path, "rb") as fh:
                    data = fh.read(integrity.MAX_CELL_BYTES + 1)
            except OSError:
                continue
            files[f"file {path.name} (handed in beside the notebook)"] = data.decode("utf-8", "replace")
        return files

    def _judge_modules(self) -> list[str]:
        """The check modules this notebook's cells call, and the course modules they build
        objects from (dotted paths written in their source)."""
        import importlib
        import inspect
        import re

        names = set()
        for cell in self.nb.cells:
            if not is_graded_test(cell):
                continue
            try:
                names |= {f"{cells.EXERCISES}.{call.module}" for call in cells.parse(cell.source)}
            except cells.TestCellError:
                continue
        modules = set(names)
        for name in names:
            try:
                source = inspect.getsource(importlib.import_module(name))
            except (ImportError, OSError, TypeError):
                continue
            modules |= {m.rpartition(".")[0] for m in re.findall(r"[\"'](mlcourse(?:\.\w+)+)[\"']", source)}
        return sorted(m for m in modules if m.startswith("mlcourse."))

    @staticmethod
    def _judge_references(source: str, kind: str = "references") -> list[str]:
        try:
            return [ref for call in cells.parse(source)
                    for ref in getattr(cells.check_function(call), kind, ())]
        except cells.TestCellError:
            return []

    def _judge_cell(self, cell, loop) -> cells.Verdict:
        """Decide one graded test cell (runs in a worker thread; the loop talks to the kernel)."""
        findings = self._judge_findings
        if self._judge_course_error is not None:
            return cells.Verdict(passed=False, kind=outcomes.COURSE_ERROR,
                                 message=self._judge_course_message())
        if self._judge_dead is not None:
            return cells.Verdict(passed=False, kind=outcomes.NOT_RUN,
                                 message="not run: " + self._judge_death_message())
        if findings and findings.tampering:
            return cells.Verdict(passed=False, kind=outcomes.TAMPERING, message=findings.refusal())
        try:
            calls = cells.parse(cell.source)
        except cells.TestCellError as exc:
            return cells.Verdict(passed=False, kind=outcomes.ERROR,
                                 message=f"this test cell cannot be judged: {exc}")
        link = KernelLink(self, loop)
        # Reference use counts against this cell when it is in the exercise's own answer
        # cell or in a cell the learner added (which could rebind any answer).
        index = next(i for i, c in enumerate(self.nb.cells) if c is cell)
        answers = [i for i, c in enumerate(self.nb.cells[:index]) if is_answer(c)]
        own = {_label(answers[-1], self.nb.cells[answers[-1]])} if answers else set()

        def counts(where: str, ref: str) -> bool:
            """Reference use found in the exercise's own answer cell counts. In a cell of the
            learner's own it counts only for a class: a reference function is guarded in the
            kernel, so an own cell may import it to compare with (as the course invites),
            and an answer that is or calls it is refused when the judge calls it."""
            return where in own or (where.endswith("(your own cell)") and _is_class(ref))

        def before(call, fn):
            link.armed = list(getattr(fn, "shortcuts", ()))   # refused in the kernel while it runs
            for ref in getattr(fn, "references", ()):
                found = [w for w in (findings.references.get(ref, []) if findings else [])
                         if counts(w, ref)]
                if found:
                    raise ReferenceUse(f"{reference_message(ref)} (found in {', '.join(found)})")

        verdict = cells.run(calls, lambda name: link.request("global", name=name), before=before)
        if not verdict.passed and self._judge_death is not None:   # it died while these checks ran
            verdict.kind = outcomes.killed(self._judge_death.cause)
            if self._judge_dead not in verdict.message:
                verdict.message += "\n" + self._judge_death_message()
        return verdict

    async def _judge_decide(self, cell, execution_count) -> cells.Verdict:
        from nbformat import from_dict

        loop = asyncio.get_running_loop()
        verdict = await loop.run_in_executor(None, self._judge_cell, cell, loop)
        cell.outputs = [from_dict(o) for o in verdict.outputs()]
        gid = nbgrader_meta(cell).get("grade_id")
        record = self._judge_record()
        if gid is not None:  # the last verdict of a cell judged again (``_judge_retry_pending``) stands
            record.setdefault("cells", {})[gid] = verdict.record()
        if verdict.kind == outcomes.REFERENCE_USE:
            used = record.setdefault("reference_use", [])
            entry = {"cell": gid, "reason": verdict.message[:500]}
            if entry not in used:
                used.append(entry)
        if execution_count is not None:
            cell.execution_count = execution_count
        return verdict

    async def _judge_retry_pending(self) -> None:
        """Test cells judged before the learner's names existed (a test cell moved above its
        answer) are judged again once a later cell has run."""
        for cell in list(self._judge_pending):
            if self._judge_dead is not None:
                return
            verdict = await self._judge_decide(cell, None)
            if verdict.missing is None:
                self._judge_pending.remove(cell)

    def execute_cell(self, cell, cell_index: int, execution_count: int | None = None,
                     store_history: bool = True):
        """nbclient binds its sync ``execute_cell`` to its own async method when its class is
        made, and nbconvert's ExecutePreprocessor (nbgrader's Execute) calls the sync one:
        route it through the judge's."""
        from nbclient.util import run_sync

        return run_sync(self.async_execute_cell)(cell, cell_index, execution_count, store_history)

    async def async_execute_cell(self, cell, cell_index: int, execution_count: int | None = None,
                                 store_history: bool = True):
        if not self._judge_ready:
            await self._judge_prepare()
        if cell.get("cell_type") != "code":
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if self._judge_dead is None and self._judge_deadline is not None \
                and time.monotonic() >= self._judge_deadline:
            await self._judge_stop_for_time(self._judge_where, f"the notebook ran past its "
                                            f"time limit of {self.submission_timeout:g} s")
        started = time.monotonic()
        try:
            return await self._judge_execute(cell, cell_index, execution_count, store_history)
        finally:
            self._judge_timed(cell_index, cell, started)

    async def _judge_execute(self, cell, cell_index: int, execution_count, store_history):
        from nbclient.exceptions import DeadKernelError
        from nbformat import from_dict

        if is_graded_test(cell):
            self._judge_where = _where(cell_index, cell)
            verdict = await self._judge_decide(cell, execution_count)
            if verdict.missing is not None and self._judge_dead is None:
                self._judge_pending.append(cell)
            return cell
        if id(cell) in self._judge_copies:
            cell.outputs = [from_dict({"output_type": "stream", "name": "stdout", "text": (
                "A copy of a test cell: not run here. Each test cell is graded once, "
                "at the cell that keeps its grade_id.\n")})]
            return cell
        if self._judge_course_error is not None:
            cell.outputs = [from_dict({"output_type": "stream", "name": "stdout", "text": (
                "Not run: " + self._judge_course_message() + "\n")})]
            return cell
        if self._judge_dead is not None:
            cell.outputs = [_died("not run: " + self._judge_death_message())]
            return cell
        if self._judge_findings is not None and self._judge_findings.tampering:
            # refused as a whole: nothing of it is run, so it costs no time or memory either
            cell.outputs = [from_dict({"output_type": "stream", "name": "stdout", "text": (
                "Not run: grading was refused for this notebook (see any test cell).\n")})]
            return cell
        self._judge_where = _where(cell_index, cell)
        learner = is_learner_cell(cell)
        self._judge_learner_ran = self._judge_learner_ran or learner
        try:
            result = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except DeadKernelError:
            self._judge_died(self._judge_where)
        except Exception as exc:  # a cell that ignored the interrupt at its time limit
            await self._judge_stop_for_time(self._judge_where, self._ignored_interrupt(exc))
        else:
            if not learner:
                self._judge_course_cell_failed(self._judge_where, cell)
            if self._judge_pending:
                await self._judge_retry_pending()
            return result
        cell.outputs = [_died(self._judge_death_message())]
        return cell


def _is_class(path: str) -> bool:
    """Is the course reference at ``path`` a class (not guarded in the kernel as functions are)?"""
    from .references import resolve

    return isinstance(resolve(path), type)


def _died(message: str):
    """The error output a cell gets when the kernel died in it or before it."""
    from nbformat import from_dict

    return from_dict({"output_type": "error", "ename": "KernelDied", "evalue": message,
                      "traceback": []})


def _is_test_copy(cell) -> bool:
    """Is this cell nothing but check calls, like a graded test cell?"""
    if len(cell.source) > integrity.MAX_CELL_BYTES:
        return False
    try:
        return bool(cells.parse(cell.source))
    except (cells.TestCellError, SyntaxError, ValueError):
        return False


def output_size(content) -> int:
    """Characters one output (or an output message's content) takes in the graded copy: its
    text, the data of every MIME type (the judge's own key too), its metadata, an error's
    words."""
    def size(value) -> int:
        if isinstance(value, str):
            return len(value)
        if isinstance(value, list | tuple):
            return sum(size(v) for v in value)
        if isinstance(value, dict):
            return sum(len(str(k)) + size(v) for k, v in value.items())
        return len(json.dumps(value, default=str))

    if not isinstance(content, dict):
        return 0
    return sum(size(content.get(key)) for key in ("text", "data", "metadata", "ename", "evalue",
                                                     "traceback") if content.get(key) is not None)


def imported_modules(sources) -> list[str]:
    """Top-level names of the modules the course's locked cells import (read, never run)."""
    import ast

    names = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return sorted(names | {"mlcourse"})


# Run in the fresh kernel before any cell: which modules the course needs are missing there,
# and which would come from the learner's own folder. Plain Python: it needs no mlcourse.
PROBE = """def _mlcourse_probe(names):
    import importlib.util, json, os, sys
    here = os.path.realpath(os.getcwd()) + os.sep
    found = {"missing": [], "shadowed": []}
    def inside(path):
        return bool(path) and os.path.realpath(path).startswith(here)
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except Exception:
            spec = None
        if spec is None:
            found["missing"].append(name)
        elif inside(spec.origin) or any(inside(p) for p in (spec.submodule_search_locations or ())):
            found["shadowed"].append(name)
    found["shadowed"] += sorted(n for n, m in list(sys.modules.items())
                                if inside(getattr(m, "__file__", None)))
    print("%s" + json.dumps(found))
_mlcourse_probe(%r)
del _mlcourse_probe"""
PROBE_TAG = "mlcourse-probe:"


def probe_result(outputs) -> dict | None:
    """The probe's finding, from its errand's stdout; None when it did not answer."""
    for out in outputs or []:
        text = out.get("text") if out.get("output_type") == "stream" else None
        for line in (text or "").splitlines():
            if line.startswith(PROBE_TAG):
                try:
                    found = json.loads(line[len(PROBE_TAG):])
                except ValueError:
                    return None
                return found if isinstance(found, dict) else None
    return None


def first_error(outputs) -> str | None:
    """``ename: evalue`` of a cell's first error output (words for people), or None."""
    for out in outputs or []:
        if out.get("output_type") == "error":
            return f"{out.get('ename')}: {str(out.get('evalue'))[:300]}"
    return None


def judged_client(nb, **kwargs: Any):
    """An nbclient ``NotebookClient`` whose graded test cells are decided by the judge."""
    from nbclient import NotebookClient

    class JudgedClient(JudgeMixin, NotebookClient):
        pass

    # A graded kernel has nothing to save at exit: killed, not waited for (about a second).
    kwargs.setdefault("shutdown_kernel", "immediate")
    return JudgedClient(nb, **kwargs)
