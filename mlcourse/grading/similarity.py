"""Copied answers, seen: how close each answer cell is to the reference and to classmates.

Copying is shown to the instructor, never scored (DESIGN.md, "Fair before strict"): a
near-copy earns what its checks give, and the class report lists it for a person to judge.

The measure reads text only. An answer cell is turned into Python (IPython's magics and
``!`` lines, as the kernel would), parsed with ``ast`` and never imported, compiled or run;
nothing a submission names is looked up anywhere but in a table of strings. The tree is
then made blind to the usual disguises:

- comments vanish with parsing; docstrings and other bare constants, imports, ``global``
  lines and type annotations are dropped; ``x += e`` reads as ``x = x + e``;
- names are canonical: a function's parameters become ``a0, a1, ...`` by position, any
  other name a cell binds one placeholder (``v`` in a function, ``g`` at the top), and a
  name bound by an import anywhere in the notebook reads as the dotted path it stands for
  (``np.mean``, ``numpy.mean`` and ``from numpy import mean`` alike); attribute names,
  keyword names, the builtins and names from other cells are kept;
- every string (and f-string) is one placeholder, so a reworded message is no disguise;
- each statement (and each block's header: ``if``/``for``/``def`` line) is read on its
  own, so reordering lines, or whole functions, changes nothing.

Each statement becomes a sequence of canonical tokens (its syntax tree in pre-order, one
token a node) and every ``K`` consecutive tokens a fingerprint. The similarity of two cells
is the share of the smaller cell's fingerprints that the other holds too (a multiset
overlap), so code padded with extra lines still shows what it contains. What every learner
is handed (the released cell: its ``def`` line and docstring, and the calls its docstring
spells out) is subtracted from both sides first. The statements of both sides that share
most of their fingerprints are paired for display.

Tiny answers collide by nature: every honest ``return np.mean((y_hat - y) ** 2)`` is the
same tree. Nothing is flagged unless the smaller side of a pair holds at least
``MIN_STATEMENTS`` statements and ``MIN_PRINTS`` fingerprints; such answers are counted as
too small to compare instead. ``THRESHOLD`` and these minimums were chosen on the course's
own independent honest answers (``measure``: run by ``tests/test_similarity.py`` with more
answers written there, and by ``python -m mlcourse.grading.similarity``).
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import re
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from .integrity import as_python, imported_names
from .rules import is_answer, is_graded_test, nbgrader_meta, stub_answer

MAX_CELL_CHARS = 100_000   # a longer cell is skipped (with its reason), not fingerprinted
K = 5                      # tokens per k-gram (a canonical token is one node of the tree)
MIN_UNIT_TOKENS = 4        # a statement shorter than this (``return v``, ``pass``) is no evidence
MIN_STATEMENTS = 4         # what the smaller side of a flagged pair must hold at least: statements
MIN_PRINTS = 24            # ... and k-grams
THRESHOLD = 0.85           # the share of the smaller side's k-grams that flags a pair (see measure)
MAX_PAIRS_SHOWN = 24       # matching line pairs kept per flagged pair
MAX_UNITS_PAIRED = 600     # statements of each side looked at when pairing lines for display

_STMT_LISTS = ("body", "orelse", "finalbody", "handlers", "cases")
_SKIP_FIELDS = {"ctx", "type_comment", "kind", "annotation", "returns", "type_params", "type_ignores"}
# Scalar fields already read into a node's label (canonically), not hashed as written.
_READ = {(ast.Name, "id"), (ast.arg, "arg"), (ast.FunctionDef, "name"), (ast.AsyncFunctionDef, "name"),
         (ast.ClassDef, "name"), (ast.ExceptHandler, "name"), (ast.Constant, "value")}


def _text(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


# ---- canonical form ------------------------------------------------------------------------


class _Strip(ast.NodeTransformer):
    """Drop what carries no logic (docstrings, bare constants, imports, ``global``,
    annotations) and write ``x op= e`` as ``x = x op e``."""

    def generic_visit(self, node):
        super().generic_visit(node)
        for name in _STMT_LISTS:
            body = getattr(node, name, None)
            if isinstance(body, list) and not body and name == "body" and not isinstance(node, ast.Module):
                body.append(ast.copy_location(ast.Pass(), node))
        return node

    def visit_Expr(self, node):
        if isinstance(node.value, ast.Constant):
            return None
        return self.generic_visit(node)

    def visit_Import(self, node):
        return None

    visit_ImportFrom = visit_Import
    visit_Global = visit_Import
    visit_Nonlocal = visit_Import

    def visit_AnnAssign(self, node):
        if node.value is None:
            return None
        return self.visit(ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node))

    def visit_AugAssign(self, node):
        load = _as_load(node.target)
        value = ast.copy_location(ast.BinOp(left=load, op=node.op, right=node.value), node)
        return self.visit(ast.copy_location(ast.Assign(targets=[node.target], value=value), node))


def _as_load(target: ast.AST) -> ast.AST:
    import copy

    load = copy.deepcopy(target)
    for node in ast.walk(load):
        if hasattr(node, "ctx"):
            node.ctx = ast.Load()
    return load


class _Scope:
    def __init__(self, kind: str, parent: _Scope | None, params=(), bound=()):
        self.kind, self.parent = kind, parent
        self.params = {name: f"a{i}" for i, name in enumerate(params)}
        self.bound = set(bound) - set(self.params)


def _params(args: ast.arguments) -> list[str]:
    names = [a.arg for a in [*args.posonlyargs, *args.args]]
    if args.vararg:
        names.append(args.vararg.arg)
    names += [a.arg for a in args.kwonlyargs]
    if args.kwarg:
        names.append(args.kwarg.arg)
    return names


def _bound_names(body: list[ast.AST]) -> set[str]:
    """The names a block binds, not looking into nested functions and classes (whose own
    names it binds) — the way Python decides what is local."""
    found, declared = set(), set()
    stack = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.add(node.name)
            stack.extend(node.decorator_list)
            if not isinstance(node, ast.ClassDef):
                stack.extend(d for d in [*node.args.defaults, *node.args.kw_defaults] if d)
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            declared.update(node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            found.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            found.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            continue  # imports are read through the import table, as what they stand for
        stack.extend(ast.iter_child_nodes(node))
    return found - declared


@dataclass
class _Unit:
    """A line-level piece of code: a simple statement, or a block's header (``if a0 > 0:``)."""

    tokens: tuple[str, ...]        # its canonical tree, in pre-order, one label per node
    lines: tuple[int, int]         # first and last line

    def grams(self) -> list[int]:
        """Its k-grams, hashed (the whole unit when it is shorter than ``K``)."""
        t = self.tokens
        if len(t) < MIN_UNIT_TOKENS:
            return []
        return [_hash(t[i:i + K]) for i in range(max(1, len(t) - K + 1))]


def _hash(tokens: tuple[str, ...]) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(tokens).encode(), digest_size=8).digest(), "big")


class _Reader:
    """Reads a stripped tree into units of canonical tokens."""

    def __init__(self, imports: dict[str, str]):
        self.imports = imports
        self.units: list[_Unit] = []

    def name(self, name: str, scope: _Scope) -> str:
        s, first = scope, True
        while s is not None:
            if s.kind != "class" or first:   # a method does not see its class's names
                if name in s.params:
                    return s.params[name] if s is scope else f"{s.params[name]}^"
                if name in s.bound:
                    return "v" if s.kind != "module" else "g"
            first, s = False, s.parent
        return self.imports.get(name, name)

    def dotted(self, node: ast.AST, scope: _Scope) -> str | None:
        """``np.linalg.norm`` as ``numpy.linalg.norm`` when its root name is an import."""
        attrs = []
        while isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.imports \
                or self.name(node.id, scope) != self.imports[node.id]:
            return None
        return ".".join([self.imports[node.id], *reversed(attrs)])

    def label(self, node: ast.AST, scope: _Scope) -> str:
        kind = type(node).__name__
        if isinstance(node, ast.Name):
            return f"{kind}:{self.name(node.id, scope)}"
        if isinstance(node, ast.arg):
            return f"arg:{scope.params.get(node.arg, 'v')}"
        if isinstance(node, ast.Constant):
            value = node.value
            return "Constant:S" if isinstance(value, (str, bytes)) else f"Constant:{value!r}"
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return f"{kind}:{node.name if scope.kind == 'class' else 'f'}"
        extra = [f"{f}={v!r}" for f, v in ast.iter_fields(node)
                 if isinstance(v, (str, int)) and f not in _SKIP_FIELDS and (type(node), f) not in _READ]
        ops = [type(v).__name__ for _, v in ast.iter_fields(node)
               if isinstance(v, (ast.operator, ast.unaryop, ast.boolop))]
        ops += [type(v).__name__ for v in getattr(node, "ops", [])]
        return ":".join([kind, *ops, *extra])

    def tokens(self, node: ast.AST, scope: _Scope) -> list[str]:
        """The node's canonical pre-order tokens; statements inside it become units of their own."""
        dotted = self.dotted(node, scope) if isinstance(node, (ast.Name, ast.Attribute)) else None
        if dotted is not None:
            return [f"Dotted:{dotted}"]   # one token whatever the alias: F.relu = torch.nn.functional.relu
        if isinstance(node, ast.JoinedStr):
            return ["Constant:S"]         # an f-string: its wording is no evidence
        inner = scope
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            body = node.body if isinstance(node.body, list) else [node.body]
            inner = _Scope("function", scope, _params(node.args), _bound_names(body))
        elif isinstance(node, ast.ClassDef):
            inner = _Scope("class", scope, (), _bound_names(node.body))
        out = [self.label(node, scope)]
        for fname, value in ast.iter_fields(node):
            if fname in _SKIP_FIELDS or (type(node), fname) in _READ:
                continue
            where = inner if fname in ("args", "body") else scope
            if fname in _STMT_LISTS and isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                for stmt in value:
                    self.statement(stmt, where if fname == "body" else inner)
                continue
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, ast.AST) and not isinstance(
                        item, (ast.operator, ast.unaryop, ast.boolop, ast.cmpop, ast.expr_context)):
                    out += self.tokens(item, where)
        return out

    def statement(self, node: ast.stmt, scope: _Scope) -> None:
        start = len(self.units)
        tokens = self.tokens(node, scope)
        lines = (node.lineno, node.end_lineno or node.lineno)
        if any(isinstance(getattr(node, f, None), list) for f in _STMT_LISTS):
            # A block: its header (the type and what it tests, iterates or takes) is one unit,
            # the statements inside it are units of their own (added by ``tokens``).
            head = [v for f, v in ast.iter_fields(node)
                    if f not in _STMT_LISTS and f not in _SKIP_FIELDS and f != "decorator_list"]
            ends = [getattr(n, "end_lineno", None) or 0 for v in head
                    for item in (v if isinstance(v, list) else [v]) if isinstance(item, ast.AST)
                    for n in ast.walk(item)]
            lines = (node.lineno, max([node.lineno, *ends]))
        self.units.insert(start, _Unit(tuple(tokens), lines))


# ---- fingerprints and comparison ---------------------------------------------------------------


@dataclass
class Fingerprint:
    """What is compared of one piece of code (an answer cell or a reference)."""

    lines: list[str]                                   # the code as parsed, for showing
    prints: Counter = field(default_factory=Counter)   # hashed k-gram -> count
    units: list[_Unit] = field(default_factory=list)
    skipped: str = ""                                  # why it was not fingerprinted

    @property
    def size(self) -> int:
        return sum(self.prints.values())

    @property
    def statements(self) -> int:
        """Units that hold a fingerprint (statements and block headers of a few nodes or more)."""
        return sum(1 for u in self.units if u.grams())

    @property
    def comparable(self) -> bool:
        """Big enough that a match means something (see ``MIN_STATEMENTS``)."""
        return not self.skipped and self.statements >= MIN_STATEMENTS and self.size >= MIN_PRINTS

    def without(self, given: Fingerprint | None) -> Fingerprint:
        """This fingerprint less what ``given`` (the code the released notebook hands every
        learner: the ``def`` line, its docstring) holds."""
        if given is None or not given.prints:
            return self
        drop = set(given.prints)
        units = [u for u in self.units if not u.grams() or not set(u.grams()) <= drop]
        return Fingerprint(self.lines, Counter({g: n for g, n in self.prints.items() if g not in drop}),
                           units, self.skipped)


def fingerprint(source: str, imports: dict[str, str] | None = None,
                given: Fingerprint | None = None) -> Fingerprint:
    """The fingerprint of ``source`` (read, never run). ``imports`` maps the names the
    notebook's imports bind to the dotted paths they stand for (by default, this source's
    own imports); what ``given`` holds is left out."""
    if len(source) > MAX_CELL_CHARS:
        return Fingerprint([], skipped=f"not compared: the cell holds {len(source):,} characters "
                                       f"(more than {MAX_CELL_CHARS:,})")
    code = as_python(source)
    lines = code.splitlines()
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        why = exc.msg if isinstance(exc, SyntaxError) else type(exc).__name__
        return Fingerprint(lines, skipped=f"not compared: the cell does not parse ({why})")
    if imports is None:
        imports = imported_names([code])
    try:
        tree = _Strip().visit(tree)
        reader = _Reader(imports)
        module = _Scope("module", None, (), _bound_names(tree.body))
        for stmt in tree.body:
            reader.statement(stmt, module)
    except RecursionError:
        return Fingerprint(lines, skipped="not compared: the cell nests too deeply to read")
    prints = Counter(g for u in reader.units for g in u.grams())
    return Fingerprint(lines, prints, reader.units).without(given)


@dataclass
class Comparison:
    similarity: float                       # share of the smaller side's fingerprints the other shares
    flagged: bool                           # at or above THRESHOLD, and both sides big enough
    too_small: bool                         # the smaller side is under MIN_STATEMENTS / MIN_PRINTS
    pairs: list[tuple[str, str]]            # matching lines: (this side, the other side)


def compare(a: Fingerprint, b: Fingerprint, *, show: bool = True) -> Comparison:
    """How much of the smaller of ``a`` and ``b`` the other contains."""
    if a.skipped or b.skipped or not a.prints or not b.prints:
        return Comparison(0.0, False, True, [])
    smaller, larger = (a, b) if a.size <= b.size else (b, a)
    shared = sum(min(n, larger.prints.get(g, 0)) for g, n in smaller.prints.items())
    similarity = shared / smaller.size
    too_small = not smaller.comparable
    flagged = similarity >= THRESHOLD and not too_small
    return Comparison(similarity, flagged, too_small, matching_lines(a, b) if show and flagged else [])


def _span(lines: list[str], span: tuple[int, int]) -> str:
    return "\n".join(lines[span[0] - 1: span[1]])


def matching_lines(a: Fingerprint, b: Fingerprint, limit: int = MAX_PAIRS_SHOWN) -> list[tuple[str, str]]:
    """Each unit of ``a`` (in its order) beside the unit of ``b`` that shares most of its
    k-grams (at least half); runs that are consecutive on both sides are joined."""
    others = [(u, Counter(u.grams())) for u in b.units[:MAX_UNITS_PAIRED] if u.grams()]
    used: set[int] = set()
    runs: list[list[tuple[int, int]]] = []
    for unit in sorted(a.units[:MAX_UNITS_PAIRED], key=lambda u: u.lines):
        grams = Counter(unit.grams())
        if not grams:
            continue
        best, best_share = None, 0.5
        for i, (_, theirs) in enumerate(others):
            if i in used:
                continue
            share = sum((grams & theirs).values()) / sum(grams.values())
            if share > best_share or (share == best_share == 1.0 and best is None):
                best, best_share = i, share
                if share == 1.0:
                    break
        if best is None:
            continue
        used.add(best)
        other = others[best][0]
        if runs and runs[-1][0][1] + 1 == unit.lines[0] and runs[-1][1][1] + 1 == other.lines[0]:
            runs[-1] = [(runs[-1][0][0], unit.lines[1]), (runs[-1][1][0], other.lines[1])]
        else:
            runs.append([unit.lines, other.lines])
    return [(_span(a.lines, x), _span(b.lines, y)) for x, y in runs[:limit]]


def similarity(a: str, b: str) -> float:
    """The similarity of two pieces of code, each with its own imports (a convenience)."""
    return compare(fingerprint(a), fingerprint(b), show=False).similarity


# ---- exercises, references, a class ------------------------------------------------------------


@dataclass
class Exercise:
    grade_id: str                 # the answer cell's
    solution: str                 # the source notebook's answer cell
    stub: str                     # what the released notebook shows there (given to everyone)
    references: tuple[str, ...]   # dotted paths the checks declare
    tests: tuple[str, ...]        # grade_ids of the test cells that follow it


def exercises(source_nb) -> list[Exercise]:
    """Each answer cell of a source notebook with the test cells after it (up to the next
    answer cell) and the references their checks declare."""
    from .cells import TestCellError, check_function, parse

    found: list[Exercise] = []
    for cell in source_nb.get("cells", []):
        meta = nbgrader_meta(cell)
        if is_answer(cell) and meta.get("grade_id"):
            text = _text(cell)
            found.append(Exercise(meta["grade_id"], text, stub_answer(text), (), ()))
        elif found and is_graded_test(cell):
            ex = found[-1]
            refs = list(ex.references)
            try:
                for call in parse(_text(cell)):
                    refs += check_function(call).references
            except TestCellError:
                pass
            ex.references = tuple(dict.fromkeys(refs))
            ex.tests = (*ex.tests, meta.get("grade_id", ""))
    return found


@lru_cache(maxsize=256)
def _reference(path: str) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """The source of the course's reference at ``path`` (trusted course code, imported
    through ``references.resolve``) and its module's imports; None when there is none."""
    from .references import resolve

    obj = resolve(path)
    if obj is None:
        return None
    try:
        source = textwrap.dedent(inspect.getsource(obj))
        module = inspect.getmodule(obj)
        imports = imported_names([inspect.getsource(module)]) if module else {}
    except (OSError, TypeError):
        return None
    return source, tuple(sorted(imports.items()))


def reference_fingerprint(path: str, given: Fingerprint | None = None) -> Fingerprint | None:
    found = _reference(path)
    return None if found is None else fingerprint(found[0], dict(found[1]), given)


def notebook_imports(nb) -> dict[str, str]:
    """What the names bound by the notebook's imports stand for (each cell read, none run)."""
    return imported_names([_text(c) for c in nb.get("cells", [])
                           if c.get("cell_type") == "code" and len(_text(c)) <= MAX_CELL_CHARS])


# A call written in prose (``SGD(model.parameters(), lr=lr)``), perhaps assigned (``rng = ...``),
# with up to two levels of nested parentheses.
_CALL = re.compile(r"(?:\b[A-Za-z_]\w*\s*=\s*)?\b[A-Za-z_][\w.]*\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)")


def given_fingerprint(stub: str, imports: dict[str, str] | None = None) -> Fingerprint:
    """What every learner is handed for an exercise: the released cell (its ``def`` line,
    docstring and given code), and the code its docstrings and comments spell out (``rng =
    np.random.default_rng(seed)``, ``SGD(model.parameters(), lr=lr)``), read as if written
    where the learner's code goes, so that it counts as given and not as a match."""
    try:
        tree = ast.parse(as_python(stub))
    except (SyntaxError, ValueError, RecursionError):
        return fingerprint(stub, imports)
    prose = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    prose += [line.split("#", 1)[1] for line in stub.splitlines() if "#" in line]
    snippets = []
    for text in prose:
        for found in _CALL.finditer(" ".join(text.split())):
            try:
                ast.parse(found.group(0))
            except SyntaxError:
                continue
            snippets.append(found.group(0))
    lines = stub.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == "raise NotImplementedError()":
            indent = line[: len(line) - len(line.lstrip())]
            lines[i: i + 1] = [line, *(indent + s for s in snippets)]
            with_snippets = "\n".join(lines)
            try:
                ast.parse(as_python(with_snippets))
            except (SyntaxError, ValueError, RecursionError):
                break
            return fingerprint(with_snippets, imports)
    return fingerprint(stub, imports)


@dataclass
class Match:
    """A learner's answer that is (nearly) a copy of something."""

    learner: str
    exercise: str
    source: str         # "the reference mlcourse.losses.mse", "the course's solution", "learner X"
    similarity: float
    pairs: list[tuple[str, str]]   # matching lines: (the learner's, the source's)


@dataclass
class ClassSimilarity:
    matches: list[Match] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)   # (learner, exercise, why)
    too_small: dict[str, int] = field(default_factory=dict)             # exercise -> answers too small
    compared: int = 0                                                   # answers fingerprinted


def compare_class(source_nb, learners: dict[str, object]) -> ClassSimilarity:
    """Each learner's answer to each exercise of ``source_nb`` against the references its
    checks declare, the course's solution and every other learner's answer to it (same
    grade_id). Per learner and exercise, the closest source at or above ``THRESHOLD`` is
    kept, the reference and the solution before a classmate. ``learners`` maps a learner to
    their notebook (nbformat or plain JSON); their cells are read, never run."""
    out = ClassSimilarity()
    course_imports = notebook_imports(source_nb)
    answers = {}
    for learner, nb in learners.items():
        try:
            cells = {nbgrader_meta(c).get("grade_id"): _text(c) for c in nb.get("cells", []) if is_answer(c)}
            answers[learner] = (cells, notebook_imports(nb))
        except (AttributeError, TypeError):   # a notebook whose cells are not what nbformat writes
            out.skipped.append((learner, "(every exercise)", "not compared: the notebook's cells "
                                                              "cannot be read"))
    for ex in exercises(source_nb):
        given = given_fingerprint(ex.stub, course_imports)
        sources: list[tuple[str, Fingerprint]] = []
        for path in ex.references:
            fp = reference_fingerprint(path, given)
            if fp is not None and fp.prints:
                sources.append((f"the reference {path}", fp))
        sources.append(("the course's solution", fingerprint(ex.solution, course_imports, given)))
        mine: dict[str, Fingerprint] = {}
        for learner, (cells, imports) in answers.items():
            text = cells.get(ex.grade_id)
            if text is None or not text.strip() or text.strip() == ex.stub.strip():
                continue   # unanswered
            fp = fingerprint(text, imports, given)
            if fp.skipped:
                out.skipped.append((learner, ex.grade_id, fp.skipped))
                continue
            out.compared += 1
            if not fp.comparable:
                out.too_small[ex.grade_id] = out.too_small.get(ex.grade_id, 0) + 1
                continue
            mine[learner] = fp
        for learner, fp in mine.items():
            best: tuple[float, str, Fingerprint] | None = None
            for candidates in (sources, [(f"learner {n}", f) for n, f in mine.items() if n != learner]):
                for name, other in candidates:
                    c = compare(fp, other, show=False)
                    if c.flagged and (best is None or c.similarity > best[0]):
                        best = (c.similarity, name, other)
                if best is not None:
                    break
            if best is not None:
                out.matches.append(Match(learner, ex.grade_id, best[1], best[0], matching_lines(fp, best[2])))
    return out


# ---- the false-positive rate on the course's own honest answers -----------------------------


@dataclass
class Honest:
    """The distinct honest answers to one exercise that the course holds."""

    stub: str                        # the code every learner is given there
    imports: dict[str, str]          # the source notebook's
    references: tuple[str, ...]
    answers: list[tuple[str, str]] = field(default_factory=list)   # (label, source)


def honest_corpus(repo=None) -> dict[tuple[str, str], Honest]:
    """(assignment, grade_id) -> the solution cell and each plausible wrong answer of
    ``tests/wrong_answers/`` (project files, each a learner's answer written as such)."""
    import importlib.util
    import json
    from pathlib import Path

    repo = Path(repo) if repo else Path(__file__).resolve().parents[2]
    corpus: dict[tuple[str, str], Honest] = {}
    for nb_path in sorted((repo / "solutions").glob("*/*.ipynb")):
        assignment = nb_path.parent.name
        nb = json.loads(nb_path.read_text(encoding="utf-8"))
        imports = notebook_imports(nb)
        for ex in exercises(nb):
            corpus[assignment, ex.grade_id] = Honest(ex.stub, imports, ex.references,
                                                     [("solution", ex.solution)])
        wrong_file = repo / "tests" / "wrong_answers" / (assignment.replace("-", "_", 1) + ".py")
        if not wrong_file.is_file():
            continue
        spec = importlib.util.spec_from_file_location(f"_wrong_{assignment.replace('-', '_')}", wrong_file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for i, (gid, code, _) in enumerate(module.WRONG):
            if (assignment, gid) in corpus:
                corpus[assignment, gid].answers.append((f"wrong[{i}]", code))
    return corpus


def _plain_lines(code: str) -> list[str]:
    """Lines as written, trailing comments and spacing aside (blank and comment lines dropped)."""
    out = []
    for line in code.splitlines():
        line = " ".join(re.sub(r"\s#[^'\"]*$", "", line).split())
        if line and not line.startswith("#"):
            out.append(line)
    return out


def _chosen_names(code: str) -> set[str]:
    """The names a piece of code gives its own variables (parameters aside)."""
    try:
        tree = ast.parse(as_python(code))
    except (SyntaxError, ValueError, RecursionError):
        return set()
    params = {a.arg for n in ast.walk(tree) if isinstance(n, ast.arguments)
              for a in [*n.posonlyargs, *n.args, *n.kwonlyargs, n.vararg, n.kwarg] if a}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)} - params


def derived(a: str, b: str, given: str = "") -> bool:
    """Whether one of ``a`` and ``b`` was written by editing the other: at least half of the
    smaller one's lines (comments, spacing and the lines of ``given`` aside) appear as they
    are in the other, or at least two of the names it chose for its variables and two
    thirds of them are the other's. Most of the course's plausible wrong answers are its
    solution with a mistake put in: copies by construction, not independent answers,
    whatever they compute."""
    stub = set(_plain_lines(given))
    la = [x for x in _plain_lines(a) if x not in stub]
    lb = [x for x in _plain_lines(b) if x not in stub]
    if not la or not lb:
        return False
    small, pool = (la, Counter(lb)) if len(la) <= len(lb) else (lb, Counter(la))
    shared = 0
    for line in small:
        if pool[line] > 0:
            pool[line] -= 1
            shared += 1
    if shared / len(small) >= 0.5:
        return True
    na, nb = _chosen_names(a), _chosen_names(b)
    fewer = min(len(na), len(nb))
    return fewer > 0 and len(na & nb) >= 2 and len(na & nb) >= 2 * fewer / 3


@dataclass
class Measurement:
    pairs: int = 0                 # independent honest pairs compared (both sides big enough)
    flagged: list[tuple[str, str, str, float]] = field(default_factory=list)   # false positives
    scores: list[tuple[float, str, str, str]] = field(default_factory=list)    # every compared pair
    too_small: int = 0             # independent pairs not compared: the smaller side is tiny
    references: int = 0            # ... of the compared: a solution against a reference
    derived: int = 0               # pairs where one answer is an edit of the other
    derived_big: int = 0           # ... both sides big enough to compare
    derived_flagged: int = 0       # ... of which flagged

    @property
    def false_positive_rate(self) -> float:
        return len(self.flagged) / self.pairs if self.pairs else 0.0


def measure(extra: dict[tuple[str, str], list[tuple[str, str]]] | None = None, repo=None) -> Measurement:
    """Every pair of honest answers to the same exercise compared: the course's solution and
    its plausible wrong answers, each against each, plus ``extra`` answers
    ((assignment, grade_id) -> [(label, source)]); and each solution against the references
    its checks declare. A pair where one answer is an edit of the other (``derived``), or
    both are edits of the solution, is a copy by construction: it is counted apart, not in
    the false-positive rate."""
    corpus = honest_corpus(repo)
    for key, items in (extra or {}).items():
        corpus[key].answers.extend(items)
    m = Measurement()

    def count(where, la, sa, fa, lb, sb, fb, reference=False, solution=None, given=""):
        c = compare(fa, fb, show=False)
        # Two edits of the same solution are siblings: one code, two mistakes.
        if derived(sa, sb, given) or solution is not None and derived(solution, sa, given) \
                and derived(solution, sb, given):
            m.derived += 1
            m.derived_big += not c.too_small
            m.derived_flagged += c.flagged
        elif c.too_small:
            m.too_small += 1
        else:
            m.pairs += 1
            m.references += reference
            m.scores.append((c.similarity, where, la, lb))
            if c.flagged:
                m.flagged.append((where, la, lb, c.similarity))

    for (assignment, gid), honest in sorted(corpus.items()):
        where = f"{assignment}/{gid}"
        given = given_fingerprint(honest.stub, honest.imports)
        fps = [(label, src, fingerprint(src, honest.imports, given)) for label, src in honest.answers]
        for i in range(len(fps)):
            for j in range(i + 1, len(fps)):
                count(where, *fps[i], *fps[j], solution=honest.answers[0][1], given=honest.stub)
        label, src, fp = fps[0]   # the solution, against each reference
        for path in honest.references:
            found = _reference(path)
            ref = reference_fingerprint(path, given)
            if ref is not None and ref.prints:
                count(where, label, src, fp, f"reference {path}", found[0], ref, reference=True)
    m.scores.sort(reverse=True)
    return m


def main() -> int:
    m = measure()
    print(f"threshold {THRESHOLD:.0%} of the smaller side's {K}-grams; nothing flagged unless the "
          f"smaller side holds {MIN_STATEMENTS} statements and {MIN_PRINTS} k-grams")
    print(f"independent honest pairs compared: {m.pairs} (of which {m.references} a solution "
          f"against a reference); flagged: {len(m.flagged)}; false-positive rate "
          f"{m.false_positive_rate:.1%}")
    print(f"independent honest pairs too small to compare: {m.too_small}")
    print(f"pairs where one answer is an edit of the other: {m.derived}; big enough to compare "
          f"{m.derived_big}, flagged {m.derived_flagged}")
    print("highest similarities among independent honest pairs:")
    for score, where, a, b in m.scores[:12]:
        print(f"  {score:.2f}  {where}: {a} vs {b}")
    for where, a, b, score in m.flagged:
        print(f"  FLAGGED {score:.2f}  {where}: {a} vs {b}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
