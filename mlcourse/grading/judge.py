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

from . import cells, integrity, outcomes
from .agent import MIME
from .errors import ReferenceUse
from .references import reference_message
from .remote import Link
from .rules import is_answer, is_graded_test, nbgrader_meta

AFTER_DEATH = ("every check after that scores 0. Look for sys.exit, os._exit, exit(), "
               "a process killed, or runaway memory or time.")
# Per cell, what the notebook may print into the graded copy; the rest is cut.
OUTPUT_LIMIT = 1_000_000
# At most this many Python files beside the notebook are read by the scan.
MAX_FILES = 50


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
    _judge_death: outcomes.Death | None = None
    _judge_findings: integrity.Findings | None = None
    _judge_record_started = False
    # The whole notebook's time limit in seconds (None: only nbclient's per-cell timeout).
    submission_timeout: float | None = None
    output_limit: int = OUTPUT_LIMIT

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

    def output(self, outs, msg, display_id, cell_index):
        """Keep at most ``output_limit`` characters of what one cell prints."""
        content = msg.get("content", {})
        if MIME in (content.get("data") or {}):
            return super().output(outs, msg, display_id, cell_index)
        size = len(content.get("text") or "") + sum(
            len(v) if isinstance(v, str) else len(json.dumps(v)) for v in (content.get("data") or {}).values())
        seen = self._judge_output_sizes.get(cell_index, 0)
        self._judge_output_sizes[cell_index] = seen + size
        if seen + size <= self.output_limit:
            return super().output(outs, msg, display_id, cell_index)
        if seen <= self.output_limit:
            from nbformat import from_dict

            outs.append(from_dict({"output_type": "stream", "name": "stdout", "text": (
                f"\n[output cut: this cell printed more than {self.output_limit:,} characters; "
                "the rest is not kept]\n")}))
        return None

    async def _judge_run(self, code: str):
        """Run ``code`` in the kernel as a throwaway cell; its outputs, or None if the kernel died."""
        from nbclient.exceptions import DeadKernelError
        from nbformat.v4 import new_code_cell

        cell = new_code_cell(code)
        # nbclient writes the executed cell back into the notebook at its index: give the
        # errand a slot of its own at the end, and take it away again.
        self.nb.cells.append(cell)
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
            slot = next(i for i in range(len(self.nb.cells) - 1, -1, -1) if self.nb.cells[i] is cell)
            del self.nb.cells[slot]
        return cell.get("outputs", [])

    async def _judge_prepare(self) -> None:
        """Read the learner's cells, then guard the references in the fresh kernel."""
        self._judge_ready = True
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
        code = ("import mlcourse.grading.agent as _mlcourse_agent\n"
                "_mlcourse_agent.guard_references(" + repr(references) + ", [get_ipython().compile."
                "get_code_name(s, s, 0) for s in " + repr(trusted) + "], " + repr(shortcuts) + ")\n"
                "_mlcourse_agent.freeze(" + repr(self._judge_modules()) + ")\n"
                "del _mlcourse_agent")
        await self._judge_run(code)

    def _judge_files(self) -> dict[str, str]:
        """Python files handed in beside the notebook (a cell can import them): their text,
        read here and never imported, for the scan."""
        from pathlib import Path

        folder = (getattr(self, "resources", None) or {}).get("metadata", {}).get("path")
        files: dict[str, str] = {}
        if not folder:
            return files
        try:
            candidates = sorted(Path(folder).glob("*.py"))[:MAX_FILES]
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
        from nbclient.exceptions import DeadKernelError
        from nbformat import from_dict

        if not self._judge_ready:
            await self._judge_prepare()
        if cell.get("cell_type") != "code":
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if self._judge_dead is None and self._judge_deadline is not None \
                and time.monotonic() >= self._judge_deadline:
            await self._judge_stop_for_time(self._judge_where, f"the notebook ran past its "
                                            f"time limit of {self.submission_timeout:g} s")
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
        if self._judge_dead is not None:
            cell.outputs = [_died("not run: " + self._judge_death_message())]
            return cell
        if self._judge_findings is not None and self._judge_findings.tampering:
            # refused as a whole: nothing of it is run, so it costs no time or memory either
            cell.outputs = [from_dict({"output_type": "stream", "name": "stdout", "text": (
                "Not run: grading was refused for this notebook (see any test cell).\n")})]
            return cell
        self._judge_where = _where(cell_index, cell)
        try:
            result = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except DeadKernelError:
            self._judge_died(self._judge_where)
        except Exception as exc:  # a cell that ignored the interrupt at its time limit
            await self._judge_stop_for_time(self._judge_where, self._ignored_interrupt(exc))
        else:
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


def judged_client(nb, **kwargs: Any):
    """An nbclient ``NotebookClient`` whose graded test cells are decided by the judge."""
    from nbclient import NotebookClient

    class JudgedClient(JudgeMixin, NotebookClient):
        pass

    return JudgedClient(nb, **kwargs)
