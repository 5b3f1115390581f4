"""What a graded test cell may say, and how to run it without the learner's kernel.

A test cell is a short list of check calls on learner objects named by their
global names, with literal arguments::

    # visible: fixed, explained cases
    nb03.mse(mse)
    ### BEGIN HIDDEN TESTS
    nb03.mse_random(mse, seed=60_606, shapes=[(7,), (12, 3)])
    ### END HIDDEN TESTS

In the learner's kernel the cell is ordinary Python. The judge never sends it to
the kernel: ``parse`` reads it into ``CheckCall`` plans (refusing anything else),
and ``run`` calls the judge's own copy of each check with ``lookup(name)`` in
place of each learner name, so the checks, the comparisons and the verdict all
live in the judge's process.
"""

from __future__ import annotations

import ast
import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import outcomes
from .errors import GradingError

EXERCISES = "mlcourse.grading.exercises"
_LITERAL_CALLS = {"range": range, "tuple": tuple, "list": list}


class TestCellError(ValueError):
    """A graded test cell says something the judge does not run (a course authoring error)."""


@dataclass(frozen=True)
class CheckCall:
    module: str            # "nb03"
    check: str             # "mse"
    args: tuple            # ("name", str) for a learner object, ("value", v) for a literal
    kwargs: tuple          # ((key, ("name" | "value", x)), ...)
    line: int

    def label(self) -> str:
        return f"{self.module}.{self.check}"


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _LITERAL_CALLS \
            and not node.keywords:
        return _LITERAL_CALLS[node.func.id](*(_literal(a) for a in node.args))
    return ast.literal_eval(node)


def _argument(node: ast.AST, line: int) -> tuple[str, Any]:
    if isinstance(node, ast.Name):
        return ("name", node.id)
    try:
        return ("value", _literal(node))
    except (ValueError, TypeError, SyntaxError):
        raise TestCellError(f"line {line}: an argument must be a learner name or a literal, "
                            f"not `{ast.unparse(node)}`") from None


def parse(source: str) -> list[CheckCall]:
    """The check calls of a test cell, or ``TestCellError`` naming the first statement
    that is neither ``from mlcourse.grading.exercises import nbNN`` nor ``nbNN.check(...)``."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise TestCellError(f"the test cell does not parse: {exc}") from None
    calls = []
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module == EXERCISES and stmt.level == 0 \
                and all(a.asname is None for a in stmt.names):
            continue
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and isinstance(call.func.value, ast.Name) and call.func.value.id.startswith("nb")):
            raise TestCellError(f"line {stmt.lineno}: a test cell holds only check calls "
                                f"`nbNN.check(...)`, not `{ast.unparse(stmt)[:80]}`")
        if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            raise TestCellError(f"line {stmt.lineno}: no *args or **kwargs in a check call")
        calls.append(CheckCall(
            module=call.func.value.id, check=call.func.attr,
            args=tuple(_argument(a, stmt.lineno) for a in call.args),
            kwargs=tuple((k.arg, _argument(k.value, stmt.lineno)) for k in call.keywords),
            line=stmt.lineno))
    return calls


def check_function(call: CheckCall) -> Callable:
    """The judge's own check function for a call: ``mlcourse.grading.exercises.nbNN.check``."""
    try:
        module = importlib.import_module(f"{EXERCISES}.{call.module}")
    except ImportError:
        raise TestCellError(f"line {call.line}: no check module {EXERCISES}.{call.module}") from None
    fn = getattr(module, call.check, None)
    if not callable(fn) or not getattr(fn, "is_check", False):
        raise TestCellError(f"line {call.line}: {call.label()} is not a check")
    return fn


def learner_names(calls: list[CheckCall]) -> list[str]:
    """Every learner name the calls hand to a check, in order, without repeats."""
    names = [v for c in calls for kind, v in [*c.args, *(a for _, a in c.kwargs)] if kind == "name"]
    return list(dict.fromkeys(names))


# ---- what checks print ------------------------------------------------------------------

_sink = threading.local()


def report(line: str) -> None:
    """Where ``grading.passed`` lines go: to the judge's verdict when one is being built."""
    lines = getattr(_sink, "lines", None)
    if lines is None:
        print(line)
    else:
        lines.append(line)


@dataclass
class Verdict:
    """The judge's decision on one test cell."""

    passed: bool
    lines: list[str] = field(default_factory=list)   # what passed checks said
    message: str = ""                                  # why it failed, for people
    kind: str = outcomes.PASSED                        # what became of it (``outcomes.CELL_KINDS``)
    missing: str | None = None                         # a learner name not defined (yet)

    def __post_init__(self):
        if not self.passed and self.kind == outcomes.PASSED:
            self.kind = outcomes.FAILED
        if self.kind not in outcomes.CELL_KINDS:
            raise ValueError(f"not a kind of verdict: {self.kind!r} (one of {', '.join(outcomes.CELL_KINDS)})")

    def record(self) -> dict:
        """The verdict as data, for the judge's record: its kind, and a killed cell's cause."""
        entry = {"kind": self.kind}
        if self.kind in outcomes.KILLED:
            entry["cause"] = outcomes.cause_of(self.kind)
        return entry

    def outputs(self) -> list[dict]:
        """The cell outputs nbgrader scores: stdout lines, and an error output on failure."""
        outs = []
        if self.lines:
            outs.append({"output_type": "stream", "name": "stdout", "text": "\n".join(self.lines) + "\n"})
        if not self.passed:
            outs.append({"output_type": "error", "ename": "GradingError", "evalue": self.message,
                         "traceback": self.message.splitlines() or ["GradingError"]})
        return outs


def run(calls: list[CheckCall], lookup: Callable[[str], Any],
        before: Callable[[CheckCall, Callable], None] | None = None) -> Verdict:
    """Run each check with ``lookup(name)`` for each learner name; stop at the first failure.

    ``before(call, check)`` may raise ``GradingError`` to fail a call before it runs
    (the judge refuses reference use that way)."""
    verdict = Verdict(passed=True)
    _sink.lines = verdict.lines
    try:
        for call in calls:
            fn = check_function(call)

            def value(arg):
                kind, v = arg
                if kind != "name":
                    return v
                try:
                    return lookup(v)
                except Exception as exc:
                    if getattr(exc, "remote_type", "NameError") != "NameError":
                        # the kernel did not answer (it died, or its code broke the judge's
                        # channel): say so, not that the name is missing
                        raise GradingError(f"`{v}` could not be read from your notebook: "
                                           f"{exc}") from None
                    verdict.missing = v
                    raise GradingError(
                        f"`{v}` is not defined in your notebook ({type(exc).__name__}): run the "
                        f"cell that defines it, and keep its name `{v}`.") from None

            try:
                if before is not None:
                    before(call, fn)
                fn(*[value(a) for a in call.args], **{k: value(a) for k, a in call.kwargs})
            except GradingError as exc:
                verdict.passed, verdict.message = False, str(exc)
                verdict.kind = getattr(exc, "kind", outcomes.FAILED)
                break
            except Exception as exc:  # a check that breaks must still cost only this cell
                verdict.passed, verdict.kind = False, outcomes.ERROR
                verdict.message = (f"{call.label()} could not finish: {type(exc).__name__}: {exc}")
                break
    finally:
        _sink.lines = None
    return verdict
