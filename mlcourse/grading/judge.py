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
from typing import Any

from . import cells, integrity
from .agent import MIME
from .errors import GradingError
from .notebook import is_answer, is_graded_test, nbgrader_meta
from .references import reference_message
from .remote import Link

DEATH = ("the notebook's kernel stopped (it died, exited or was killed) {where}; "
         "every check after that scores 0. Look for sys.exit, os._exit, exit() or runaway memory.")


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


class KernelLink(Link):
    """The judge's requests, run as code in the kernel by the client's own loop."""

    def __init__(self, client, loop: asyncio.AbstractEventLoop):
        super().__init__()
        self.client, self.loop = client, loop

    def exchange(self, request_text: str) -> str:
        nonce = json.loads(request_text)["nonce"]
        if self.client._judge_dead is not None:
            return self._error(nonce, "KernelDied", DEATH.format(where=self.client._judge_dead))
        code = ("__import__('mlcourse.grading.agent', fromlist=['serve']).serve("
                + repr(request_text) + ")")
        future = asyncio.run_coroutine_threadsafe(self.client._judge_run(code), self.loop)
        outputs = future.result()
        if outputs is None:
            return self._error(nonce, "KernelDied", DEATH.format(where=self.client._judge_dead))
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
    _judge_dead: str | None = None
    _judge_findings: integrity.Findings | None = None

    def reset_execution_trackers(self) -> None:
        """A new notebook (nbgrader reuses one client for a whole batch): forget the last one."""
        super().reset_execution_trackers()
        self._judge_ready, self._judge_dead, self._judge_findings = False, None, None

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
            self._judge_dead = self._judge_dead or "during a check"
            return None
        except Exception as exc:  # a timeout: the learner's code ran too long
            return [{"output_type": "error", "ename": type(exc).__name__, "evalue": str(exc)[:500]}]
        finally:
            slot = next(i for i in range(len(self.nb.cells) - 1, -1, -1) if self.nb.cells[i] is cell)
            del self.nb.cells[slot]
        return cell.get("outputs", [])

    async def _judge_prepare(self) -> None:
        """Read the learner's cells, then guard the references in the fresh kernel."""
        self._judge_ready = True
        nb = self.nb
        learner = {_label(i, c): c.source for i, c in enumerate(nb.cells) if is_learner_cell(c)}
        trusted = [c.source for c in nb.cells
                   if c.get("cell_type") == "code" and not is_learner_cell(c) and not is_graded_test(c)]
        references = sorted({ref for c in nb.cells if is_graded_test(c)
                             for ref in self._judge_references(c.source)})
        self._judge_findings = integrity.scan(learner, trusted, references)
        code = ("import mlcourse.grading.agent as _mlcourse_agent\n"
                "_mlcourse_agent.guard_references(" + repr(references) + ", [get_ipython().compile."
                "get_code_name(s, s, 0) for s in " + repr(trusted) + "])\n"
                "_mlcourse_agent.freeze(" + repr(self._judge_modules()) + ")\n"
                "del _mlcourse_agent")
        await self._judge_run(code)

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
    def _judge_references(source: str) -> list[str]:
        try:
            return [ref for call in cells.parse(source) for ref in cells.check_function(call).references]
        except cells.TestCellError:
            return []

    def _judge_cell(self, cell, loop) -> cells.Verdict:
        """Decide one graded test cell (runs in a worker thread; the loop talks to the kernel)."""
        findings = self._judge_findings
        if findings and findings.tampering:
            return cells.Verdict(passed=False, message=findings.refusal())
        try:
            calls = cells.parse(cell.source)
        except cells.TestCellError as exc:
            return cells.Verdict(passed=False, message=f"this test cell cannot be judged: {exc}")
        link = KernelLink(self, loop)
        # Reference use counts against this cell when it is in the exercise's own answer
        # cell or in a cell the learner added (which could rebind any answer).
        index = next(i for i, c in enumerate(self.nb.cells) if c is cell)
        answers = [i for i, c in enumerate(self.nb.cells[:index]) if is_answer(c)]
        own = {_label(answers[-1], self.nb.cells[answers[-1]])} if answers else set()

        def counts(where: str) -> bool:
            return where in own or where.endswith("(your own cell)")

        def before(call, fn):
            for ref in getattr(fn, "references", ()):
                found = [w for w in (findings.references.get(ref, []) if findings else []) if counts(w)]
                if found:
                    raise GradingError(f"{reference_message(ref)} (found in {', '.join(found)})")

        verdict = cells.run(calls, lambda name: link.request("global", name=name), before=before)
        if not verdict.passed and self._judge_dead and "kernel stopped" not in verdict.message:
            verdict.message += "\n" + DEATH.format(where=self._judge_dead)
        return verdict

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
        if is_graded_test(cell):
            loop = asyncio.get_running_loop()
            verdict = await loop.run_in_executor(None, self._judge_cell, cell, loop)
            cell.outputs = [from_dict(o) for o in verdict.outputs()]
            cell.execution_count = execution_count
            return cell
        if cell.get("cell_type") != "code":
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if self._judge_dead is not None:
            cell.outputs = [from_dict({"output_type": "error", "ename": "KernelDied",
                                       "evalue": "not run: " + DEATH.format(where=self._judge_dead),
                                       "traceback": []})]
            return cell
        try:
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        except DeadKernelError:
            gid = nbgrader_meta(cell).get("grade_id")
            self._judge_dead = f"in cell {cell_index}" + (f" ({gid})" if gid else "")
            cell.outputs = [from_dict({"output_type": "error", "ename": "KernelDied",
                                       "evalue": DEATH.format(where=self._judge_dead), "traceback": []})]
            return cell


def judged_client(nb, **kwargs: Any):
    """An nbclient ``NotebookClient`` whose graded test cells are decided by the judge."""
    from nbclient import NotebookClient

    class JudgedClient(JudgeMixin, NotebookClient):
        pass

    return JudgedClient(nb, **kwargs)
