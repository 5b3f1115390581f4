"""Read the learner's code before grading: reference use, and the few things no honest answer does.

The judge decides every verdict in its own process, on the values the learner's
functions return, so most of what code in the kernel can do (patch numpy,
print to stderr, import IPython, ``setattr`` on one's own objects, save files,
run ``!pip``) cannot change a score and costs nothing. What remains:

- **reference use**: an answer that imports or reaches the course's own
  implementation of what it must write (``from mlcourse.losses import mse``).
  It costs the exercises whose reference it names, nothing else.
- **tampering**: code that could defeat the grading's own parts inside the
  kernel: the reference and shortcut guards, the objects the judge builds there,
  the errand that carries its requests (see ``CHEATS.md`` in this folder: each
  rule below, the attack it stops, and the tests that show both sides). Such a
  submission earns nothing, and the report says which line and why.

Every rule is a ``Rule`` in ``RULES``. Nothing here imports or runs what a
submission names: names are resolved only inside the course package itself,
which the grading process has already imported. Cells larger than
``MAX_CELL_BYTES`` are not read (and refused with that reason), so no submission
can hold the grading process for long.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field

from .references import resolve

# What the scan reads at most: one cell, all of a submission's cells, and a string that
# holds code (a %%time body, exec's argument, a module written to disk), nested this deep.
MAX_CELL_BYTES = 256 * 1024
MAX_TOTAL_BYTES = 4 * 1024 * 1024
MAX_STRING_DEPTH = 3


@dataclass(frozen=True)
class Rule:
    """One thing the scan refuses: what it is, and the attack it stops."""

    id: str
    what: str
    attack: str


RULES = {r.id: r for r in [
    Rule("gc", "reaches gc's object walks (get_objects, get_referents, get_referrers, garbage...) "
         "or hands the gc module around; gc.collect() and the other switches are fine",
         "finds any live object by reference: the original behind a reference or shortcut guard, "
         "the judge's objects in the kernel"),
    Rule("ctypes", "imports ctypes (or _ctypes)",
         "writes the interpreter's memory: anything, guards included"),
    Rule("code-loading", "imports marshal, runpy, code or codeop, or importlib's loaders",
         "runs code from bytes or files this scan never reads; loads a fresh, unguarded copy "
         "of a course module"),
    Rule("grading-internals", "imports the grading's own modules (the errand, the judge, the "
         "guards, the checks' helpers), nbgrader, nbclient, jupyter_client, zmq or ipykernel",
         "reaches the errand that carries the judge's requests, its guards and its objects, or "
         "the helpers that compute the expected answers"),
    Rule("reload", "reloads a course or library module",
         "a reloaded course module holds fresh, unguarded reference functions"),
    Rule("hidden-code", "exec, eval, compile, __import__ or import_module on a string the scan "
         "cannot read (built at run time)",
         "hides any of the rest from this scan"),
    Rule("module-table", "sys.modules, sys.meta_path, sys.path_hooks or the importer cache",
         "swaps a course module, or the grading's own, for another object"),
    Rule("tracing", "sys.settrace, sys.setprofile, sys.addaudithook",
         "watches or rewrites the judge's errands while they run"),
    Rule("frames", "frame, closure or code walks (sys._getframe, inspect.currentframe/stack, "
         "f_back, f_globals, __closure__, cell_contents, __code__, __globals__, tb_frame...)",
         "reads a guard's original function or the errand's variables out of its frame"),
    Rule("subclasses", "__subclasses__",
         "reaches any class in the process (the judge's objects' classes) without naming it"),
    Rule("builtins", "__builtins__, or changing builtins",
         "changes what the errand and the guards compute with"),
    Rule("ipython-hooks", "IPython's exception, display and input hooks (set_custom_exc, "
         "showtraceback, ast_transformers, input_transformers, display_pub, events, set_hook, "
         "sys.excepthook, sys.displayhook)",
         "rewrites the code the judge sends, or the reply it reads, before the judge sees it"),
    Rule("course-objects", "changes an attribute of a course module or class, of the grading's "
         "own libraries (IPython, json, functools, importlib, inspect, os.path) or of sys",
         "replaces what the judge builds its objects from, or what the guards call"),
    Rule("torch-internals", "torch._C, torch.ops or autograd's engine (_execution_engine, "
         "_engine_run_backward)",
         "reaches autograd, torch.nn.functional and the optimizers below their guarded entry points"),
    Rule("unreadable", "a cell too large or too deeply nested to read",
         "hides any of the rest from this scan, or holds the grading process"),
]}

# Modules whose import alone is the finding.
FORBIDDEN_MODULES = {
    "ctypes": "ctypes", "_ctypes": "ctypes",
    "marshal": "code-loading", "runpy": "code-loading", "code": "code-loading",
    "codeop": "code-loading", "importlib.util": "code-loading",
    "importlib.machinery": "code-loading", "importlib._bootstrap": "code-loading",
    "importlib._bootstrap_external": "code-loading", "zipimport": "code-loading",
    "nbgrader": "grading-internals",
    "nbclient": "grading-internals", "jupyter_client": "grading-internals",
    "zmq": "grading-internals", "ipykernel": "grading-internals",
}
# What of the grading package a learner's cell may name: the check modules (a scratch cell
# may run a check again), the error type and the comparison helpers. Everything else (the
# errand, the judge, the guards, the judge's objects, ``make`` which builds any course object
# by its dotted name) is the grading's own machinery.
GRADING_OPEN = {"exercises", "errors", "GradingError", "call", "check_array", "check_equal",
                "check_gradient", "check_in_band", "check_true", "passed", "quiet", "to_float64",
                "ensure_untampered"}


def grading_internal(path: str) -> bool:
    """Is ``path`` (dotted) a part of the grading's own machinery?"""
    prefix = "mlcourse.grading."
    return path.startswith(prefix) and path[len(prefix):].split(".")[0] not in GRADING_OPEN


# What of gc an honest notebook uses (freeing memory between runs): the rest walks objects.
GC_OPEN = {"collect", "enable", "disable", "isenabled", "get_count", "get_threshold",
           "set_threshold", "get_stats", "freeze", "unfreeze", "get_freeze_count"}


# Modules that no honest notebook hands to other code or reads by a computed name
# (getattr(sys, name), f(gc)): their dangerous parts would be out of the scan's sight.
HANDED_MODULES = {"gc": "gc", "sys": "module-table", "builtins": "hidden-code",
                  "importlib": "hidden-code"}


# Attribute names that no honest notebook reads, whatever object they are read from.
FORBIDDEN_ATTRS = {
    **dict.fromkeys(["__closure__", "cell_contents", "__code__", "__globals__", "f_back",
                     "f_globals", "f_locals", "f_code", "f_builtins", "f_trace", "gi_frame",
                     "cr_frame", "ag_frame", "tb_frame", "gi_code", "cr_code", "ag_code",
                     "_getframe", "getclosurevars", "getgeneratorlocals", "getcoroutinelocals",
                     "currentframe", "getouterframes", "getinnerframes", "CellType"], "frames"),
    "__subclasses__": "subclasses",
    "__builtins__": "builtins",
    "__import__": "hidden-code",
    **dict.fromkeys(["set_custom_exc", "showtraceback", "_showtraceback", "ast_transformers",
                     "input_transformers_post", "input_transformers_cleanup", "display_pub",
                     "displayhook", "excepthook", "set_hook", "custom_exceptions"],
                    "ipython-hooks"),
    **dict.fromkeys(["_C", "_execution_engine", "_engine_run_backward", "_ImperativeEngine"],
                    "torch-internals"),
}
# Attributes of IPython's shell (``get_ipython().X``) that carry the judge's errands and replies.
SHELL_ATTRS = {"events", "kernel", "run_cell", "run_cell_async", "transform_cell", "compile",
               "user_global_ns", "register_magics", "magics_manager"}
# Dotted paths (after import aliases are followed) that are findings on their own.
FORBIDDEN_DOTTED = {
    "sys.modules": "module-table", "sys.meta_path": "module-table",
    "sys.path_hooks": "module-table", "sys.path_importer_cache": "module-table",
    "sys.__dict__": "module-table",
    "sys.settrace": "tracing", "sys.setprofile": "tracing", "sys.addaudithook": "tracing",
    "threading.settrace": "tracing", "threading.setprofile": "tracing",
    "inspect.stack": "frames", "inspect.trace": "frames",
    "torch.ops": "torch-internals",
    "importlib.reload": "reload", "imp": "code-loading",
}
# Names that are findings wherever they appear (not only when called).
FORBIDDEN_NAMES = {"__builtins__": "builtins"}
# Functions whose string argument is code: read it as code when it is a literal.
CODE_RUNNERS = {"exec", "eval", "compile"}
# Whose attributes a learner's code may not change (the course, and what the grading's
# errand and guards compute with). Other libraries are the learner's to configure:
# torch.backends.cudnn.deterministic = True, plt.rcParams[...] = ... cost nothing.
PROTECTED_ROOTS = ("mlcourse", "IPython", "ipykernel", "builtins", "json", "functools",
                   "importlib", "inspect", "os.path", "types", "traceback", "linecache",
                   "threading", "weakref", "codecs", "base64", "posixpath")
# sys attributes a notebook may set: where its printing goes.
SYS_SETTABLE = {"stdout", "stderr", "stdin", "path", "argv", "dont_write_bytecode"}
# Modules a learner never owns: reloading one is reloading the course or a library.
LIBRARY_TOPS = {"mlcourse", "numpy", "torch", "matplotlib", "IPython", "ipykernel", "ipywidgets",
                "scipy", "sklearn", "pandas", "tqdm", "nbgrader", "jupyter_client", "zmq"}


@dataclass
class Findings:
    references: dict[str, list[str]] = field(default_factory=dict)  # reference path -> where
    tampering: list[str] = field(default_factory=list)        # "cell X, line N: `code`: why"
    rules: list[str] = field(default_factory=list)            # the rule id of each tampering line

    def refusal(self) -> str:
        if not self.tampering:
            return ""
        shown = "\n".join("  " + t for t in self.tampering[:5])
        more = f"\n  ... and {len(self.tampering) - 5} more" if len(self.tampering) > 5 else ""
        return ("Grading refused: your notebook holds code that the grading cannot accept "
                "(it reaches into the grading's own guards, objects or the interpreter, or it "
                f"cannot be read), so no exercise earns points:\n{shown}{more}\n"
                "Ordinary notebook code (printing, plots, saving files, your own classes, "
                "setattr/getattr, !pip, IPython.display) is never refused; only the lines above "
                "are. Remove them, restart the kernel, run all cells and submit again.")


def _dotted(node: ast.AST) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return [node.id, *reversed(parts)]
    return None


def _root(node: ast.AST) -> ast.AST:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node


def _under(path: str, prefixes) -> str | None:
    for prefix in prefixes:
        if path == prefix or path.startswith(prefix + "."):
            return prefix
    return None


def _parse(source: str) -> ast.AST:
    return ast.parse(as_python(source))


def imported_names(sources: list[str]) -> dict[str, str]:
    """Every name bound by an import in ``sources``: local name -> dotted path."""
    return _imported(_trees(sources))


def _trees(sources) -> list[ast.AST]:
    """The readable sources as syntax trees (the unreadable ones left out)."""
    trees = []
    for source in sources:
        if len(source) > MAX_CELL_BYTES:
            continue
        try:
            trees.append(_parse(source))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
    return trees


def _imported(trees: list[ast.AST]) -> dict[str, str]:
    names: dict[str, str] = {}
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
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    dotted = _dotted(node.value)
                    if dotted and dotted[0] in names:
                        for target in targets:
                            if isinstance(target, ast.Name) and target.id not in names:
                                names[target.id] = ".".join([names[dotted[0]], *dotted[1:]])
    return names


def as_python(source: str) -> str:
    """The cell as the kernel runs it: IPython's syntax (magics, ``!``, ``?``) turned into Python."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:  # pragma: no cover - IPython comes with the kernel
        return source
    try:
        return TransformerManager().transform_cell(source)
    except Exception:
        return source


def _looks_like_code(tree: ast.Module) -> bool:
    """A string worth reading as code: it parses to statements that do something
    (imports, definitions, assignments, calls), not a word or a sentence."""
    kinds = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
             ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete, ast.With, ast.For, ast.If,
             ast.Try)
    return any(isinstance(s, kinds) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Call))
               for s in tree.body)


class _Scanner(ast.NodeVisitor):
    def __init__(self, where: str, imported: dict[str, str], references: dict[int, str],
                 findings: Findings, depth: int = 0):
        self.where, self.imported, self.references, self.findings = where, imported, references, findings
        self.depth = depth
        self.line = ""  # where a string holding code sits in its cell, for nested scans
        self.shell_names: set[str] = set()  # names bound to get_ipython()
        self.defined: set[str] = set()      # names the learner defines (their own `eval`)
        self.bases: set[int] = set()        # Name nodes read as the base of an attribute

    # ---- recording
    def flag(self, node: ast.AST, rule: str, detail: str = "") -> None:
        text = ast.unparse(node) if isinstance(node, ast.AST) else str(node)
        text = text if len(text) <= 70 else text[:67] + "..."
        why = detail or RULES[rule].what
        prefix = f"{self.where}, {self.line_of(node)}:"
        line = f"{prefix} `{text}`: {why} (refused: such code {RULES[rule].attack})"
        if not any(t.startswith(prefix) and why in t for t in self.findings.tampering):
            self.findings.tampering.append(line)
            self.findings.rules.append(rule)

    def line_of(self, node: ast.AST) -> str:
        return self.line or f"line {getattr(node, 'lineno', '?')}"

    def reference(self, path: str) -> None:
        if not path.startswith("mlcourse."):
            return  # resolving imports; only the course package, already imported, is ever looked up
        obj = _resolve_course(path)
        if obj is None:
            return
        ref = self.references.get(id(obj))
        if ref is not None and self.where not in self.findings.references.setdefault(ref, []):
            self.findings.references[ref].append(self.where)

    def path_of(self, node: ast.AST) -> str | None:
        dotted = _dotted(node)
        if dotted and dotted[0] in self.imported:
            return ".".join([self.imported[dotted[0]], *dotted[1:]])
        attrs = []
        while isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        base = self.imported_by_call(node)
        return ".".join([base, *reversed(attrs)]) if base else None

    def imported_by_call(self, node: ast.AST) -> str | None:
        """``__import__('gc')`` or ``importlib.import_module('gc')``: the module's name."""
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)):
            return None
        func = node.func
        if isinstance(func, ast.Name) and func.id == "__import__":
            return node.args[0].value
        if isinstance(func, ast.Attribute) and func.attr == "import_module":
            return node.args[0].value
        return None

    # ---- imports
    def module(self, node: ast.AST, name: str) -> None:
        rule = FORBIDDEN_MODULES.get(name) or FORBIDDEN_MODULES.get(
            _under(name, FORBIDDEN_MODULES) or "")
        if rule:
            self.flag(node, rule, f"imports {name}")
        self.dotted(node, name)

    def dotted(self, node: ast.AST, path: str) -> None:
        parts = path.split(".")
        for i in range(1, len(parts)):  # sys and gc reached through another module: os.sys.modules
            if parts[i] in ("sys", "gc"):
                path = ".".join(parts[i:])
                break
        if path.startswith("gc.") and path.split(".")[1] not in GC_OPEN:
            self.flag(node, "gc", f"reaches {'.'.join(path.split('.')[:2])}")
            return
        bad = _under(path, FORBIDDEN_DOTTED)
        if bad:
            self.flag(node, FORBIDDEN_DOTTED[bad], f"reaches {bad}")
        elif grading_internal(path):
            self.flag(node, "grading-internals", f"reaches {'.'.join(path.split('.')[:3])}")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.module(node, alias.name)
            self.reference(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            return  # a relative import finds nothing in a notebook
        self.module(node, base)
        for alias in node.names:
            if alias.name == "*":
                continue
            self.module(node, f"{base}.{alias.name}")
            self.reference(f"{base}.{alias.name}")
            self.check_helper(node, f"{base}.{alias.name}")

    # ---- names and attributes
    def visit_Name(self, node: ast.Name) -> None:
        if self.imported.get(node.id) in HANDED_MODULES and id(node) not in self.bases \
                and isinstance(node.ctx, ast.Load) and node.id not in self.defined:
            # the module itself handed to code the scan cannot follow: getattr(gc, name), f(sys)
            rule = HANDED_MODULES[self.imported[node.id]]
            self.flag(node, rule, f"hands the {self.imported[node.id]} module to other code")
        elif node.id in FORBIDDEN_NAMES:
            self.flag(node, FORBIDDEN_NAMES[node.id])
        elif (node.id in CODE_RUNNERS or node.id == "__import__") and node.id not in self.defined \
                and isinstance(node.ctx, ast.Load):
            # reached only when not called directly with a literal (visit_Call handles that)
            self.flag(node, "hidden-code", f"uses {node.id} as a value")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.bases.add(id(node.value))
        self.attribute(node, node.attr)
        path = self.path_of(node)
        if path is not None:
            self.reference(path)
            self.dotted(node, path)
            self.check_helper(node, path)
            if node.attr == "__dict__" and path.rpartition(".")[0] in ("mlcourse", "mlcourse.grading"):
                self.flag(node, "grading-internals", f"reaches into {path.rpartition('.')[0]} by its table")
        if node.attr in SHELL_ATTRS and self.is_shell(node.value):
            self.flag(node, "ipython-hooks", f"reaches IPython's {node.attr}")
        self.generic_visit(node)

    def check_helper(self, node: ast.AST, path: str) -> None:
        """A check module's own helpers compute the expected answers: calling a check from
        a scratch cell is fine, anything else of those modules is not."""
        prefix = "mlcourse.grading.exercises."
        parts = path[len(prefix):].split(".") if path.startswith(prefix) else []
        if len(parts) < 2:
            return
        obj = _resolve_course(prefix + ".".join(parts[:2]))
        if obj is not None and not getattr(obj, "is_check", False):
            self.flag(node, "grading-internals", f"uses the checks' own helper {parts[1]}")

    def attribute(self, node: ast.AST, name: str) -> None:
        rule = FORBIDDEN_ATTRS.get(name)
        if rule:
            self.flag(node, rule, f"reaches {name}")

    def is_shell(self, node: ast.AST) -> bool:
        """``get_ipython()`` (however reached), or a name bound to it."""
        if isinstance(node, ast.Call):
            func = node.func
            return (isinstance(func, ast.Name) and func.id == "get_ipython") or \
                (isinstance(func, ast.Attribute) and func.attr == "get_ipython")
        return isinstance(node, ast.Name) and node.id in self.shell_names

    def visit_Compare(self, node: ast.Compare) -> None:
        """``'torch' in sys.modules`` asks what is imported: the table itself is not reached."""
        if all(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            self.visit(node.left)
            for comparator in node.comparators:
                if self.path_of(comparator) != "sys.modules":
                    self.visit(comparator)
            return
        self.generic_visit(node)

    # ---- changes to objects that are not the learner's
    def protected(self, target: ast.AST) -> str | None:
        """The protected library or course path a target would change, or None."""
        root = _root(target)
        if not (isinstance(root, ast.Name) and root.id in self.imported):
            return None
        dotted = _dotted(target.value if isinstance(target, ast.Subscript) else target)
        full = ".".join([self.imported[root.id], *(dotted[1:] if dotted else [])])
        parts = full.split(".")
        if parts[0] == "sys":
            return None if len(parts) < 2 or parts[1] in SYS_SETTABLE else full
        return full if _under(full, PROTECTED_ROOTS) else None

    def _targets(self, targets: list[ast.AST], node: ast.AST) -> None:
        for target in targets:
            if isinstance(target, (ast.Tuple, ast.List)):
                self._targets(list(target.elts), node)
            elif isinstance(target, ast.Starred):
                self._targets([target.value], node)
            elif isinstance(target, (ast.Attribute, ast.Subscript)):
                changed = self.protected(target)
                if changed:
                    self.flag(node, "course-objects", f"changes {changed}")

    def visit_Assign(self, node: ast.Assign) -> None:
        self._targets(node.targets, node)
        if isinstance(node.value, ast.Call) and self.is_shell(node.value):
            self.shell_names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
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

    # ---- calls
    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else None
        path = self.path_of(func)
        first = node.args[0] if node.args else None
        literal = first.value if isinstance(first, ast.Constant) and isinstance(first.value, (str, bytes)) else None
        if name in CODE_RUNNERS and name not in self.defined:
            self.code_string(node, literal, name)
            self.visit_args(node)
            return
        if name == "__import__" or path == "importlib.import_module":
            if isinstance(literal, str):
                self.module(node, literal)
                self.reference(literal)
            else:
                self.flag(node, "hidden-code", "imports a module whose name is built at run time")
            self.visit_args(node)
            return
        if path == "importlib.reload" or (isinstance(func, ast.Attribute) and func.attr == "reload"
                                          and path and path.startswith("importlib")):
            self.reload(node)
            self.visit_args(node)
            return
        if name in ("getattr", "vars") and node.args:
            base = self.path_of(node.args[0])
            computed = name == "vars" or len(node.args) < 2 or not isinstance(node.args[1], ast.Constant)
            if computed and base is not None and (base == "mlcourse.grading" or grading_internal(base)):
                # the package's machinery by a name the scan cannot read
                self.flag(node, "grading-internals", f"reaches into {base} by a computed name")
        if name in ("getattr", "setattr", "delattr", "hasattr") and len(node.args) >= 2:
            attr = node.args[1]
            if isinstance(attr, ast.Constant) and isinstance(attr.value, str):
                self.attribute(node, attr.value)
                base = self.path_of(node.args[0])
                if base is not None:
                    self.reference(f"{base}.{attr.value}")
                    self.dotted(node, f"{base}.{attr.value}")
            if name in ("setattr", "delattr"):
                changed = self.protected(ast.Attribute(value=node.args[0], attr="x"))
                if changed:
                    self.flag(node, "course-objects", f"changes {changed.rpartition('.')[0]}")
        if name is None and isinstance(func, ast.Attribute):
            # a run_cell_magic('time', '', body) / run_line_magic: read the body as code
            if func.attr == "run_cell_magic" and len(node.args) >= 3 and isinstance(node.args[2], ast.Constant):
                self.code_string(node, node.args[2].value, "the magic", quiet=True)
            if func.attr in ("update", "__setitem__", "setdefault", "pop", "clear", "__delitem__") \
                    and isinstance(func.value, ast.Attribute) and func.value.attr == "__dict__":
                changed = self.protected(func.value)
                if changed:
                    self.flag(node, "course-objects", f"changes {changed}")
        if path is not None:
            self.dotted(node, path)
        self.generic_visit(node)

    def visit_args(self, node: ast.Call) -> None:
        for child in [*node.args, *node.keywords]:
            self.visit(child)

    def reload(self, node: ast.Call) -> None:
        arg = node.args[0] if node.args else None
        path = self.path_of(arg) if arg is not None else None
        if path is None or path.split(".")[0] in LIBRARY_TOPS or path.split(".")[0] in sys.stdlib_module_names:
            self.flag(node, "reload", f"reloads {path or 'a module the scan cannot name'}")

    def code_string(self, node: ast.AST, literal, runner: str, quiet: bool = False) -> None:
        if isinstance(literal, bytes):
            literal = literal.decode("utf-8", "replace")
        if not isinstance(literal, str):
            if not quiet:
                self.flag(node, "hidden-code", f"{runner} of code built at run time")
            return
        self.nested(node, literal, always=True)

    def nested(self, node: ast.AST, text: str, always: bool = False) -> None:
        """Read a string as code: a magic's body, exec's argument, a module written to disk."""
        if self.depth >= MAX_STRING_DEPTH or len(text) > MAX_CELL_BYTES:
            return
        try:
            tree = _parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return
        if not always and not _looks_like_code(tree):
            return
        # the same cell: reference use found in a %%time body counts as the cell's own
        imported = {**self.imported, **imported_names([text])}  # its own imports count too
        inner = _Scanner(self.where, imported, self.references, self.findings, self.depth + 1)
        inner.line = f"{self.line_of(node)}, in code held in a string"
        inner.shell_names, inner.defined = self.shell_names, self.defined
        inner.visit(tree)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and grading_internal(node.value.strip()):
            self.flag(node, "grading-internals", f"names {node.value.strip()[:60]}")
        elif isinstance(node.value, str):
            rule = FORBIDDEN_ATTRS.get(node.value)
            if rule and node.value.startswith("_"):  # "__globals__" handed to getattr, vars()[...]
                self.flag(node, rule, f"names {node.value}")
            elif "\n" in node.value or ";" in node.value:
                self.nested(node, node.value)


def _defined_names(trees: list[ast.AST]) -> set[str]:
    """Names the learner's code defines with def, class or plain assignment."""
    names = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return names


def _resolve_course(path: str):
    """``resolve`` for the course package only: the grading process imports nothing else
    a submission names (a planted ``this.py`` or ``course_utils.py`` never runs here)."""
    if not path.startswith("mlcourse."):
        return None
    try:
        return resolve(path)
    except Exception:  # a course module that needs what this process lacks
        return None


def scan(learner_cells: dict[str, str], trusted_cells: list[str], references: list[str],
         files: dict[str, str] | None = None) -> Findings:
    """Look through ``learner_cells`` (label -> source) for reference use and tampering.

    ``trusted_cells`` (the notebook's locked cells) only tell which names are imports.
    ``references`` are the dotted paths that this notebook's exercises must not use.
    ``files`` are Python files handed in beside the notebook (label -> text): read with the
    same rules, since a cell can import them.
    """
    findings = Findings()
    ref_objects = {}
    for path in references:
        obj = _resolve_course(path)
        if obj is not None:
            ref_objects[id(obj)] = path
    sources = {**learner_cells, **(files or {})}
    readable, total = {}, 0
    for where, source in sources.items():
        if len(source) <= MAX_CELL_BYTES:
            total += len(source)
        if len(source) > MAX_CELL_BYTES or total > MAX_TOTAL_BYTES:
            findings.tampering.append(
                f"{where}: {len(source) / 1024:.0f} KB of code, more than the scan reads "
                f"({MAX_CELL_BYTES // 1024} KB a cell, {MAX_TOTAL_BYTES // 2**20} MB in all): "
                "a notebook's answers are far shorter; keep data in files, not in cells")
            findings.rules.append("unreadable")
            continue
        readable[where] = source
    parsed: dict[str, ast.AST] = {}  # each learner cell parsed once, for all three uses
    for where, source in readable.items():
        try:
            parsed[where] = _parse(source)
        except SyntaxError:
            continue  # it fails in the kernel too, and costs its own exercise
        except (ValueError, RecursionError, MemoryError):
            findings.tampering.append(f"{where}: code too deeply nested or malformed to read")
            findings.rules.append("unreadable")
    imported = _imported([*_trees(trusted_cells), *parsed.values()])
    defined = _defined_names(list(parsed.values()))
    for where, tree in parsed.items():
        try:
            scanner = _Scanner(where, imported, ref_objects, findings)
            scanner.defined = defined
            scanner.visit(tree)
        except RecursionError:
            findings.tampering.append(f"{where}: code too deeply nested to read")
            findings.rules.append("unreadable")
    return findings
