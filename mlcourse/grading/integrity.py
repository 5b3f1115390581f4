"""Read the learner's cells before grading: reference use and tampering, found in the source.

The judge's verdicts do not depend on anything the kernel runs except the
learner's functions' return values, so patching grading code, numpy or IPython
inside the kernel changes no score. Two things remain to catch in the source:

- **reference use**: an answer that imports or reaches the course's own
  implementation of what it must write (``from mlcourse.losses import mse``);
- **tampering**: code that rewrites library objects, reaches into the
  interpreter (``gc``, ``ctypes``, ``sys.modules``, ``__import__``, ``exec``)
  or IPython's hooks. Such code has no place in an answer; a submission that
  holds it earns nothing, and the report says which line.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .references import resolve

# Modules whose mere import in a learner cell means reaching into the interpreter.
# Processes (exit, kill, fork, subprocess, signals) are not here: what they can reach is
# bounded by the sandbox a class is graded in (grader/sandbox.py), and a kernel that dies
# costs only the checks after its death.
FORBIDDEN_MODULES = {"gc", "ctypes", "importlib", "builtins", "inspect", "IPython", "ipykernel",
                     "runpy", "marshal", "pickle", "dill", "cloudpickle", "types", "atexit",
                     "sysconfig", "code", "codeop", "traceback", "threading", "_thread",
                     "mlcourse.grading", "nbgrader",
                     "nbclient", "jupyter_client", "zmq", "faulthandler", "tracemalloc"}
FORBIDDEN_NAMES = {"__import__", "exec", "eval", "compile", "globals", "locals", "vars",
                   "get_ipython", "__builtins__", "breakpoint", "setattr", "delattr", "__loader__",
                   "__spec__", "memoryview"}
FORBIDDEN_ATTRS = {"__dict__", "__class__", "__code__", "__globals__", "__closure__", "__subclasses__",
                   "__bases__", "__mro__", "__getattribute__", "__setattr__", "__delattr__",
                   "__builtins__", "__import__", "__func__", "__self__", "__wrapped__", "f_globals",
                   "f_locals", "f_back", "f_code", "gi_frame", "cr_frame", "tb_frame",
                   "set_custom_exc", "showtraceback", "user_ns", "__reduce__",
                   "__reduce_ex__", "__init_subclass__", "__set_name__", "__instancecheck__"}
# Library attributes that reach the interpreter, the process or its environment.
FORBIDDEN_DOTTED = {"sys.modules", "sys.settrace", "sys.setprofile", "sys.addaudithook",
                    "sys.excepthook", "sys.displayhook", "sys._getframe", "sys.meta_path",
                    "sys.path_hooks", "sys.stdout", "sys.stderr", "sys.__stdout__", "sys.__stderr__",
                    "os.environ", "os.putenv", "os.unsetenv",
                    "numpy.core", "numpy._core", "torch._C", "torch.ops",
                    # the checks themselves (their helpers compute the expected answers), and
                    # getattr in disguise
                    "mlcourse.grading", "operator.attrgetter", "operator.methodcaller"}
# Mutating a name that came from an import is patching a library (np.allclose = ...).
ALLOWED_SUBSCRIPTS = {"rcParams"}


@dataclass
class Findings:
    references: dict[str, list[str]] = field(default_factory=dict)  # reference path -> where
    tampering: list[str] = field(default_factory=list)        # "cell X, line N: `code`: why"

    def refusal(self) -> str:
        if not self.tampering:
            return ""
        shown = "\n".join("  " + t for t in self.tampering[:5])
        more = f"\n  ... and {len(self.tampering) - 5} more" if len(self.tampering) > 5 else ""
        return ("Grading refused: your notebook holds code that reaches into the grading, the "
                "libraries or the interpreter instead of answering, so no exercise earns points:\n"
                f"{shown}{more}\nRemove it, restart the kernel, run all cells and submit again.")


def _dotted(node: ast.AST) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _root(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def imported_names(sources: list[str]) -> dict[str, str]:
    """Every name bound by an import in ``sources``: local name -> dotted path."""
    trees = []
    for source in sources:
        try:
            trees.append(ast.parse(_python(source)))
        except (SyntaxError, ValueError, RecursionError):
            continue
    names = {}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        names[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        names[top] = top
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    # Names bound to an imported object are that object too: m = np; m.allclose = ...
    for _ in range(3):
        for tree in trees:
            for node in ast.walk(tree):
                if isinstance(node, (ast.Assign, ast.NamedExpr)):
                    value = node.value
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    dotted = _dotted(value)
                    if dotted and dotted[0] in names:
                        for target in targets:
                            if isinstance(target, ast.Name) and target.id not in names:
                                names[target.id] = ".".join([names[dotted[0]], *dotted[1:]])
    return names


# IPython magics an answer may keep: timing, plots, help. Any other magic or shell line is
# code the scan cannot read (%run, %env, !python ...), and is refused.
ALLOWED_MAGICS = {"matplotlib", "time", "timeit", "pinfo", "pinfo2", "config"}


def _python(source: str) -> str:
    """The cell as the kernel runs it: IPython's syntax (magics, ``!``, ``?``) turned into Python."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython comes with the kernel
        return source
    try:
        return TransformerManager().transform_cell(source)
    except Exception:
        return source


def _allowed_magic(node: ast.Call) -> bool:
    """``get_ipython().run_line_magic('matplotlib', 'inline')`` and the like."""
    func = node.func
    return (isinstance(func, ast.Attribute) and func.attr in ("run_line_magic", "run_cell_magic")
            and isinstance(func.value, ast.Call) and isinstance(func.value.func, ast.Name)
            and func.value.func.id == "get_ipython" and not func.value.args and node.args
            and isinstance(node.args[0], ast.Constant) and node.args[0].value in ALLOWED_MAGICS)


class _Scanner(ast.NodeVisitor):
    def __init__(self, where: str, imported: dict[str, str], references: dict[int, str],
                 findings: Findings):
        self.where, self.imported, self.references, self.findings = where, imported, references, findings

    def flag(self, node: ast.AST, why: str) -> None:
        text = ast.unparse(node)
        text = text if len(text) <= 70 else text[:67] + "..."
        line = f"{self.where}, line {getattr(node, 'lineno', '?')}: `{text}`: {why}"
        if not any(t.startswith(f"{self.where}, line {getattr(node, 'lineno', '?')}:") and t.endswith(why)
                   for t in self.findings.tampering):
            self.findings.tampering.append(line)

    def reference(self, path: str) -> None:
        obj = resolve(path)
        if obj is None:
            return
        ref = self.references.get(id(obj))
        if ref is not None and self.where not in self.findings.references.setdefault(ref, []):
            self.findings.references[ref].append(self.where)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.module(node, alias.name)
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            self.flag(node, "a relative import")
        base = node.module or ""
        self.module(node, base)
        for alias in node.names:
            if alias.name == "*" and base.startswith("mlcourse"):
                self.flag(node, "a star import from the course package")
            self.module(node, f"{base}.{alias.name}")
            self.reference(f"{base}.{alias.name}")
        self.generic_visit(node)

    def module(self, node: ast.AST, name: str) -> None:
        self.dotted(node, name)
        for bad in FORBIDDEN_MODULES:
            if name == bad or name.startswith(bad + "."):
                self.flag(node, f"imports {bad}")
                return

    def dotted(self, node: ast.AST, path: str) -> None:
        for bad in FORBIDDEN_DOTTED:
            if path == bad or path.startswith(bad + "."):
                self.flag(node, f"reaches {bad}")
                return

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in FORBIDDEN_NAMES:
            self.flag(node, f"uses {node.id}")
        elif node.id == "getattr":  # reached here only when not called with a literal name
            self.flag(node, "uses getattr as a value")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in FORBIDDEN_ATTRS:
            self.flag(node, f"reaches {node.attr}")
        dotted = _dotted(node)
        if dotted and dotted[0] in self.imported:
            path = ".".join([self.imported[dotted[0]], *dotted[1:]])
            self.reference(path)
            self.dotted(node, path)
            self.generic_visit(node)
            return
        self.generic_visit(node)

    def _targets(self, targets: list[ast.AST], node: ast.AST) -> None:
        for target in targets:
            if isinstance(target, (ast.Tuple, ast.List)):
                self._targets(list(target.elts), node)
            elif isinstance(target, ast.Starred):
                self._targets([target.value], node)
            elif isinstance(target, (ast.Attribute, ast.Subscript)):
                root = _root(target)
                allowed = (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Attribute)
                           and target.value.attr in ALLOWED_SUBSCRIPTS)
                if root in self.imported and not allowed:
                    self.flag(node, f"changes {self.imported[root]}, a library object")

    def visit_Assign(self, node: ast.Assign) -> None:
        self._targets(node.targets, node)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._targets([node.target], node)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._targets([node.target], node)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        self._targets(node.targets, node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if _allowed_magic(node):
            for arg in node.args[1:]:
                self.visit(arg)
            return
        name = node.func.id if isinstance(node.func, ast.Name) else None
        if name == "getattr" and len(node.args) >= 2 and not isinstance(node.args[1], ast.Constant):
            self.flag(node, "getattr with a computed name")
        if name == "getattr" and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
            dotted = _dotted(node.args[0])
            if dotted and dotted[0] in self.imported and isinstance(node.args[1].value, str):
                path = ".".join([self.imported[dotted[0]], *dotted[1:], node.args[1].value])
                self.reference(path)
                self.dotted(node, path)
                if node.args[1].value in FORBIDDEN_ATTRS:
                    self.flag(node, f"reaches {node.args[1].value}")
        if name == "getattr":  # a direct call is judged above: the name itself is no finding
            for child in [*node.args, *node.keywords]:
                self.visit(child)
            return
        if name == "open":
            self.flag(node, "opens a file (answers compute; they read nothing from disk)")
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        for name in node.names:
            if name in self.imported:
                self.flag(node, f"rebinds {name}, an imported name, from inside a function")


def scan(learner_cells: dict[str, str], trusted_cells: list[str], references: list[str]) -> Findings:
    """Look through ``learner_cells`` (label -> source) for reference use and tampering.

    ``trusted_cells`` (the notebook's locked cells) only tell which names are imports.
    ``references`` are the dotted paths that this notebook's exercises must not use.
    """
    findings = Findings()
    ref_objects = {}
    for path in references:
        obj = resolve(path)
        if obj is not None:
            ref_objects[id(obj)] = path
    imported = imported_names([*trusted_cells, *learner_cells.values()])
    for where, source in learner_cells.items():
        try:
            tree = ast.parse(_python(source))
        except SyntaxError:
            continue  # it fails in the kernel too, and costs its own exercise
        except (ValueError, RecursionError):
            findings.tampering.append(f"{where}: code too deeply nested or malformed to read")
            continue
        _Scanner(where, imported, ref_objects, findings).visit(tree)
    return findings
