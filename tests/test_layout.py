"""The shape of the code, held: no import circle, no private name crossing a file, no grader
module too long to read, every cap of grading declared once (issue 20).

Imports are read from the source (``ast``), function-level ones included: an import put
inside a function to dodge a circle is still a circle for the reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("mlcourse", "grader")
MAX_GRADER_LINES = 400


def module_files() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            if any(part.startswith(".") or part in ("course", "__pycache__")
                   for part in path.relative_to(REPO).parts):
                continue
            name = ".".join(path.relative_to(REPO).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = module_files()


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The dotted module an ``ImportFrom`` names, relative imports resolved; in grader/, a
    top-level name of one of its files (nbgrader_config.py imports them so) is that file."""
    if node.level:
        package = module.split(".")
        if MODULES[module].name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - (node.level - 1)]
        return ".".join(package + ([node.module] if node.module else []))
    name = node.module or ""
    if module.startswith("grader.") and f"grader.{name}" in MODULES:
        return f"grader.{name}"
    return name


def imports_of(module: str, tree: ast.AST) -> list[tuple[str, str | None, int]]:
    """``(target module, imported name or None, line)`` for every import of a course module:
    ``from pkg import sub`` goes to the submodule, ``from pkg import name`` to ``pkg``."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                name = alias.name
                if module.startswith("grader.") and f"grader.{name}" in MODULES:
                    name = f"grader.{name}"
                if name in MODULES:
                    out.append((name, None, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, node)
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    out.append((f"{base}.{alias.name}", None, node.lineno))
                elif base in MODULES:
                    out.append((base, alias.name, node.lineno))
    return out


def import_graph(files: dict[str, Path]) -> dict[str, set[str]]:
    graph = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[module] = {target for target, _, _ in imports_of(module, tree)} - {module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected parts of more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _private(name: str | None) -> bool:
    return bool(name) and name.startswith("_") and not name.startswith("__")


def private_crossings(module: str, tree: ast.AST) -> list[str]:
    """Underscore names of another course module that ``module`` imports or reads: ``from x
    import _y``, a private module ``x._m``, and ``x._y`` on a name bound to a course module."""
    out, bound = [], {}
    for target, name, line in imports_of(module, tree):
        if target == module:
            continue
        parts = target.split(".")
        if _private(name) or any(_private(p) for p in parts[1:]):
            out.append(f"{module}:{line} imports {target}{'.' + name if name else ''}")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = _absolute(module, node)
            for alias in node.names:
                if f"{base}.{alias.name}" in MODULES:
                    bound[alias.asname or alias.name] = f"{base}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES and alias.asname:
                    bound[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in bound and bound[node.value.id] != module
                and _private(node.attr)):
            out.append(f"{module}:{node.lineno} reads {bound[node.value.id]}.{node.attr}")
    return out


def test_the_import_graph_has_no_circle():
    found = cycles(import_graph(MODULES))
    assert not found, "import circles (break each by moving what both need into a leaf module): " + str(found)


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_module_uses_another_modules_private_name():
    crossings = []
    for module, path in MODULES.items():
        crossings += private_crossings(module, ast.parse(path.read_text(encoding="utf-8")))
    assert not crossings, "private names crossing a file (make them public where they are " \
                          "shared):\n" + "\n".join(crossings)


def test_the_private_name_finder_sees_each_way_in():
    tree = ast.parse("from mlcourse.grading.judge import _died\n"
                     "from mlcourse.grading import cells\n"
                     "cells._helper()\n")
    found = private_crossings("mlcourse.grading.similarity", tree)
    assert len(found) == 2, found


@pytest.mark.parametrize("path", sorted((REPO / "grader").glob("*.py")), ids=lambda p: p.name)
def test_no_grader_module_is_over_400_lines(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_GRADER_LINES, f"{path.name} has {lines} lines: split it by responsibility"


# ---- every cap once: mlcourse/grading/limits.py, nowhere else ---------------------------

LIMITS = REPO / "mlcourse" / "grading" / "limits.py"
TIME_WORDS = ("timeout", "time_limit", "seconds")


def cap_literals(source: str) -> list[str]:
    """Caps written as literals: a byte size built by hand (``2 * 1024**3``, ``48 * 2**20``,
    ``"2GiB"``) or a number given to, or defaulting, something named like a time limit."""
    import re

    tree, found = ast.parse(source), []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            text = ast.unparse(node)
            if re.search(r"\b1024\s*\*\*|\b2\s*\*\*\s*(20|30)\b|\bGiB\b|\bMiB\b", text):
                found.append(f"line {node.lineno}: {text}")
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and re.fullmatch(r"\s*\d+(\.\d+)?\s*[KMGT]i?B\s*", node.value)):
            found.append(f"line {node.lineno}: {node.value!r}")
        elif isinstance(node, ast.keyword) and node.arg and any(w in node.arg for w in TIME_WORDS):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, int | float) \
                    and node.value.value >= 30:
                found.append(f"line {node.lineno}: {node.arg}={node.value.value}")
        elif isinstance(node, ast.arguments):
            named = [*node.posonlyargs, *node.args]
            pairs = list(zip(named[len(named) - len(node.defaults):], node.defaults, strict=True)) + \
                [(a, d) for a, d in zip(node.kwonlyargs, node.kw_defaults, strict=True) if d is not None]
            for arg, default in pairs:
                if any(w in arg.arg for w in TIME_WORDS) and isinstance(default, ast.Constant) \
                        and isinstance(default.value, int | float) and default.value >= 30:
                    found.append(f"line {default.lineno}: {arg.arg}={default.value}")
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Attribute) \
                and any(w in node.targets[0].attr for w in TIME_WORDS) \
                and isinstance(node.value, ast.Constant) and isinstance(node.value.value, int) \
                and node.value.value >= 30:
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_every_cap_of_grading_is_declared_once():
    places = [*(REPO / "grader").glob("*.py"), *(REPO / "mlcourse" / "grading").glob("*.py"),
              REPO / "mlcourse" / "cli.py", REPO / "mlcourse" / "__init__.py"]
    found = []
    for path in places:
        if path == LIMITS:
            continue
        found += [f"{path.relative_to(REPO)} {hit}" for hit in cap_literals(path.read_text(encoding="utf-8"))]
    assert not found, "caps written outside mlcourse/grading/limits.py (read them from there):\n" + \
        "\n".join(found)


def test_the_cap_finder_sees_a_cap_written_by_hand():
    hand_written = ("MEMORY = 2 * 1024**3\n"
                    "c.Execute.timeout = 120\n"
                    "def run(nb, timeout=900): ...\n"
                    "size = parse_size('2GiB')\n"
                    "client(nb, timeout=120)\n")
    assert len(cap_literals(hand_written)) == 5
    assert cap_literals("from limits import CELL_SECONDS\nrun(timeout=CELL_SECONDS, retries=3)\n") == []
