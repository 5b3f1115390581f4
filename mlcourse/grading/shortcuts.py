"""Library shortcuts: the routes that would do an exercise for the learner.

A hand-written gradient is not hand-written when ``torch.autograd`` computed it,
nor is an optimizer when ``torch.optim`` (or the course's own ``mlcourse.optim``)
takes its steps. Each check names such routes next to its references::

    @check(references=["mlcourse.losses.mse_grad"], shortcuts=["torch.autograd"])

A name in ``shortcuts`` is a route of ``ROUTES`` (a family of entry points: the
public functions, the classes' methods and the low-level functions they all end
in) or a single dotted path. During grading the judge installs a guard on every
entry point of the notebook's routes before the first cell runs (``install``,
from ``agent.guard_references``); modules not imported yet (torch) are guarded
the moment they are. The guards are inert, except while a check that declares the
route is being judged: from its first request to the kernel (``armed_call``) until
a request of another check or the next cell of the notebook. Then a call that
comes from the learner's code is refused with one sentence saying why, and
remembered, so that the answer earns nothing even when its code caught the
exception. Scratch cells, locked cells, the course package and the other
exercises use the same functions freely.

Whose call it is comes from the stack, not from spelling: aliases, a module
handed in as a parameter, ``getattr``, the body of ``%%time`` and a helper module
imported from beside the notebook all run in frames of the learner's files.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Route:
    """A family of library entry points that would do an exercise, and what to tell the learner."""

    what: str       # "Your gradient comes from torch's autograd"
    task: str       # "asks you to derive it by hand"
    advice: str     # "use autograd in a scratch cell to check your work"
    entries: tuple[str, ...]


# torch's compilers: what they make runs torch's own kernels (a gradient traced by make_fx or
# torch.compile, a backward() inside torch.jit.script) without passing any entry point above.
# The functions they make, when the learner's code made them, are guarded like entry points.
COMPILERS = ("torch.compile", "torch.jit.script", "torch.jit.trace",
             "torch.fx.experimental.proxy_tensor.make_fx")

# Another process (a fresh interpreter has no guards): no answer of these exercises needs one.
PROCESSES = ("subprocess.Popen", "os.system", "os.fork", "os.forkpty", "os.posix_spawn",
             "os.posix_spawnp", "multiprocessing.process.BaseProcess.start")

ROUTES: dict[str, Route] = {
    "torch.autograd": Route(
        "Your gradient comes from torch's autograd", "asks you to derive it by hand",
        "use autograd in a scratch cell to check your work",
        (
            # reverse mode: every route (Tensor.backward, autograd.grad, torch.func, autograd.functional)
            # ends in _engine_run_backward, looked up at call time in these two modules
            "torch.Tensor.backward", "torch.autograd.backward", "torch.autograd.grad",
            "torch.autograd.graph._engine_run_backward",
            # forward mode (torch.func.jvp, jacfwd, hessian) makes and reads dual tensors
            "torch.autograd.forward_ad.make_dual", "torch.autograd.forward_ad.unpack_dual",
            "torch.func.grad", "torch.func.grad_and_value", "torch.func.vjp", "torch.func.jvp",
            "torch.func.jacrev", "torch.func.jacfwd", "torch.func.hessian", "torch.func.linearize",
            "torch.autograd.functional.jacobian", "torch.autograd.functional.hessian",
            "torch.autograd.functional.vjp", "torch.autograd.functional.jvp",
            "torch.autograd.functional.vhp", "torch.autograd.functional.hvp",
            # the graph itself: calling each grad_fn node is backpropagation by torch's derivatives
            "torch.Tensor.grad_fn",
            *COMPILERS, *PROCESSES,
        )),
    "numerical differences": Route(
        "Your gradient is measured by a library's central differences",
        "asks you to compute it with your own code", "use it in a scratch cell to check your work",
        (
            "mlcourse.gradcheck.check_gradient", "mlcourse.gradcheck.check_module_gradients",
            "mlcourse.gradcheck._central_differences", *PROCESSES,
            "torch.autograd.gradcheck.get_numerical_jacobian",
            "torch.autograd.gradcheck.get_numerical_jacobian_wrt_specific_input",
            "torch.autograd.gradcheck._get_numerical_jacobian",
            "torch.autograd.gradcheck._compute_numerical_gradient",
        )),
    "torch.optim": Route(
        "Your optimizer's step comes from torch.optim", "asks you to write the update rule yourself",
        "compare with torch.optim in a scratch cell instead",
        (
            *(f"torch.optim.{name}" for name in (
                "SGD", "Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Adagrad", "Adadelta",
                "ASGD", "Rprop", "LBFGS", "SparseAdam", "Adafactor", "Muon")),
            # the functional kernels each class's step calls (module globals, looked up per call)
            "torch.optim.sgd.sgd", "torch.optim.adam.adam", "torch.optim.adamw.adamw",
            "torch.optim.adamax.adamax", "torch.optim.nadam.nadam", "torch.optim.radam.radam",
            "torch.optim.rmsprop.rmsprop", "torch.optim.adagrad.adagrad",
            *COMPILERS, *PROCESSES,
        )),
    "mlcourse.optim": Route(
        "Your optimizer uses the course's own optimizer in mlcourse.optim",
        "asks you to write the update rule yourself", "compare with it in a scratch cell instead",
        ("mlcourse.optim.SGD", "mlcourse.optim.Adam", "mlcourse.optim.AdamW", *PROCESSES)),
    "torch.nn.functional": Route(
        "Your loss comes from torch", "asks you to compute it yourself with numpy",
        "use torch in a scratch cell to check your numbers",
        (
            "torch.nn.functional.mse_loss", "torch._C._nn.mse_loss",
            "torch.nn.functional.huber_loss", "torch._C._nn.huber_loss",      # 2 * huber(delta=inf) = mse
            "torch.nn.functional.smooth_l1_loss", "torch._C._nn.smooth_l1_loss",
            "torch.nn.functional.cross_entropy", "torch._C._nn.cross_entropy_loss",
            "torch.nn.functional.nll_loss", "torch._C._nn.nll_loss_nd", "torch._C._nn.nll_loss",
            "torch.nn.functional.log_softmax", "torch.log_softmax", "torch.special.log_softmax",
            "torch.Tensor.log_softmax",
            "torch.logsumexp", "torch.special.logsumexp", "torch.Tensor.logsumexp",
            *COMPILERS, *PROCESSES,
        )),
    "torch.softmax": Route(
        "Your softmax comes from torch", "asks you to compute it yourself with numpy",
        "use torch in a scratch cell to check your numbers",
        ("torch.softmax", "torch.special.softmax", "torch.nn.functional.softmax", "torch.Tensor.softmax",
         "torch.nn.functional.log_softmax", "torch.log_softmax", "torch.special.log_softmax",
         "torch.Tensor.log_softmax", *COMPILERS, *PROCESSES)),
    "torch.nn.functional.linear": Route(
        "Your layer comes from torch", "asks you to compute it yourself with numpy",
        "use torch in a scratch cell to check your numbers",
        ("torch.nn.functional.linear", *COMPILERS, *PROCESSES)),
    "mlcourse.nn": Route(
        "Your answer uses the course's own layers in mlcourse.nn", "asks you to write it yourself",
        "compare with them in a scratch cell instead",
        ("mlcourse.nn.Linear", "mlcourse.nn.MLP", "mlcourse.nn.Sequential", "mlcourse.nn.ReLU",
         *PROCESSES)),
    "torch.nn.init": Route(
        "Your weights come from torch.nn.init", "asks you to draw them yourself",
        "use it in a scratch cell to compare",
        ("torch.nn.init.kaiming_normal_", "torch.nn.init.kaiming_uniform_", *COMPILERS, *PROCESSES)),
}

# A class named as an entry point is guarded on these methods, where it defines them.
METHODS = ("__init__", "step", "_update", "forward", "backward")


def message(route: str, entry: str) -> str:
    """The one sentence a refused call earns, naming the entry point in words a learner knows
    (the route's name for a private one)."""
    spec = ROUTES.get(route)
    if entry in COMPILERS and spec is not None:
        return (f"Your answer runs code compiled by `{entry}`, inside which the grading cannot tell your "
                f"work from torch's; this exercise {spec.task}, so it earns nothing here — keep compiled "
                "code for scratch cells.")
    if entry in PROCESSES and spec is not None:
        return (f"Your answer starts another process (`{entry}`), where the grading cannot see what "
                f"does the work; this exercise {spec.task}, so it earns nothing here — compute it in "
                "the kernel itself.")
    private = any(p.startswith("_") and not p.startswith("__") for p in entry.split("."))
    shown = (route if private else entry).replace("torch.Tensor.", "Tensor.")
    if spec is None:
        return (f"Your answer calls `{shown}`, which does this exercise for you, so it earns nothing "
                "here — write it yourself, and use it in a scratch cell to check your work.")
    return f"{spec.what} (`{shown}`); this exercise {spec.task}, so it earns nothing here — {spec.advice}."


# ---- the state in the kernel ------------------------------------------------------------------

LEARNER, LIBRARY, PACKAGE, TRUSTED, AGENT = range(5)
_ABSENT = object()

_armed: frozenset = frozenset()     # the route names of the check being judged
_factory = False                    # that request builds the judge's object from the course (make)
_check: Any = None                  # the judge's token for the check whose routes are armed
refused_calls: list[str] = []            # what the guards refused while armed
_trusted: frozenset = frozenset()   # the notebook's locked cells, by code name
_agent = ""                         # agent.py: the judge's errand
_package = ""                       # the course package's folder
_libraries: tuple[str, ...] = ()    # the standard library's and the environment's folders
_kinds: dict[str, int] = {}         # a code file name -> LEARNER, LIBRARY, ...
_entries: dict[str, tuple[set, str]] = {}   # entry point -> (the names that arm it, its route)
_watched: set[str] = set()          # modules whose import (or reload) installs guards
_installed: dict[tuple[int, str], tuple[Any, str, Any, Any]] = {}  # -> (owner, attr, original, guard)
_guards: set[int] = set()           # id() of every stand-in made
_finder: Any = None


def _kind(filename: str) -> int:
    kind = _kinds.get(filename)
    if kind is not None:
        return kind
    if filename in _trusted:
        kind = TRUSTED
    elif filename.startswith("<frozen "):      # importlib's own frames
        kind = LIBRARY
    elif filename.startswith("<"):             # "<timed exec>" (%%time), "<string>" (exec)
        kind = LEARNER
    else:
        path = os.path.abspath(filename)
        if path == _agent:
            kind = AGENT
        elif path.startswith(_package):
            kind = PACKAGE
        elif path.startswith(_libraries) or "site-packages" in path or "dist-packages" in path:
            kind = LIBRARY
        else:                                  # a cell, or a file handed in beside the notebook
            kind = LEARNER
    _kinds[filename] = kind
    return kind


def learner_calls(frame) -> bool:
    """Is the call whose caller is ``frame`` the learner's? Walk out from the caller:

    - a learner's frame (a cell, ``<timed exec>``, a file of unknown origin) says yes wherever
      it is: the course package is looked through like the libraries, so it launders nothing;
    - a locked cell of the notebook says no;
    - the judge's errand (``agent``) says no when it builds an object from a course factory
      (``make``) and the call came from the course's code, and yes otherwise: an answer handed
      over (a function, a class, a method it inherits from the course) IS the shortcut;
    - a stack of libraries only (a thread) says yes: while the guards are armed only the
      checked answer runs."""
    through_package = False
    while frame is not None:
        kind = _kind(frame.f_code.co_filename)
        if kind == LEARNER:
            return True
        if kind == TRUSTED:
            return False
        if kind == AGENT:
            return not (through_package and _factory)
        if kind == PACKAGE:
            through_package = True
        frame = frame.f_back
    return True


def _refuse(keys: set, route_entry: tuple[str, str]) -> None:
    """Refuse (and remember) the call when one of ``keys`` is armed and the guard's caller
    (two frames up from here) is the learner's."""
    if _armed.isdisjoint(keys) or not learner_calls(sys._getframe(2)):
        return
    text = message(*route_entry)
    refused_calls.append(text)
    from .errors import ReferenceUseError

    raise ReferenceUseError(text)


def _guard_function(original: Callable, keys: set, route_entry: tuple[str, str]) -> Callable:
    def guard(*args, **kwargs):
        if _armed:
            _refuse(keys, route_entry)
        return original(*args, **kwargs)

    try:
        functools.update_wrapper(guard, original)
    except (AttributeError, TypeError):
        pass
    guard.__dict__.pop("__wrapped__", None)   # no way back to the original through the stand-in
    _guards.add(id(guard))
    return guard


def _guard_compiler(original: Callable, keys: set, route_entry: tuple[str, str]) -> Callable:
    """A compiler whose products, when the learner's own code asks for them, are guarded: the
    compiled function, or the decorator and then the function it makes (``torch.compile(backend=
    ...)``), or the tracer and then the graph it traces (``make_fx``). torch's own calls of its
    compilers (TorchScript compiling what a scripted function calls) get them as they are."""
    def product(made: Any, depth: int) -> Any:
        if depth == 0 or isinstance(made, type) or not callable(made):
            return made
        if _is_module(made) and "GraphModule" not in {c.__name__ for c in type(made).__mro__}:
            return made   # a compiled nn.Module keeps its type (see the report: not guarded)

        def run(*args, **kwargs):
            if _armed:
                _refuse(keys, route_entry)
            return product(made(*args, **kwargs), depth - 1)

        try:
            functools.update_wrapper(run, made)
        except (AttributeError, TypeError):
            pass
        run.__dict__.pop("__wrapped__", None)
        return run

    def compiler(*args, **kwargs):
        made = original(*args, **kwargs)
        return product(made, 2) if _kind(sys._getframe(1).f_code.co_filename) == LEARNER else made

    try:
        functools.update_wrapper(compiler, original)
    except (AttributeError, TypeError):
        pass
    compiler.__dict__.pop("__wrapped__", None)
    _guards.add(id(compiler))
    return compiler


def _is_module(obj: Any) -> bool:
    return any(c.__module__ == "torch.nn.modules.module" and c.__name__ == "Module" for c in type(obj).__mro__)


def _guard_descriptor(descriptor: Any, keys: set, route_entry: tuple[str, str]) -> property:
    """A property in place of a C-level attribute (``Tensor.grad_fn``)."""
    def read(self):
        if _armed:
            _refuse(keys, route_entry)
        return descriptor.__get__(self, type(self))

    guard = property(read, doc=getattr(descriptor, "__doc__", None))
    _guards.add(id(guard))
    return guard


def _is_guard(obj: Any) -> bool:
    return id(getattr(obj, "__func__", obj)) in _guards or id(obj) in _guards


# ---- installing the guards --------------------------------------------------------------------


def _initializing(name: str) -> bool:
    module = sys.modules.get(name.split(".")[0])
    return module is None or bool(getattr(getattr(module, "__spec__", None), "_initializing", False))


def _owner(entry: str, ready: str | None) -> tuple[Any, str] | None:
    """The loaded module or class holding ``entry``'s last name, and that name. Nothing is
    imported but course modules (cheap, and wanted before the learner's first cell); a library
    still being imported waits for the end of its import, unless it is ``ready``."""
    import importlib

    parts = entry.split(".")
    if parts[0] == "mlcourse":
        for cut in range(len(parts) - 1, 0, -1):
            try:
                importlib.import_module(".".join(parts[:cut]))
                break
            except ImportError:
                continue
    if parts[0] != ready and _initializing(entry):
        return None
    for cut in range(len(parts) - 1, 0, -1):
        owner = sys.modules.get(".".join(parts[:cut]))
        if owner is None:
            continue
        for name in parts[cut:-1]:
            owner = getattr(owner, name, None)
        return (owner, parts[-1]) if owner is not None else None
    return None


def _install_entry(entry: str, keys: set, route: str, ready: str | None) -> None:
    found = _owner(entry, ready)
    if found is None:
        return
    owner, attr = found
    if isinstance(owner, type):
        _install_attribute(owner, attr, keys, (route, entry))
        return
    target = vars(owner).get(attr)
    if isinstance(target, type):   # a class: its own methods
        for method in METHODS:
            if method in vars(target):
                shown = entry if method in ("__init__", "forward") else f"{entry}.{method}"
                _install_attribute(target, method, keys, (route, shown))
    elif target is not None and callable(target) and not _is_guard(target):
        _install_global(owner, attr, target, keys, (route, entry))


def _install_attribute(cls: type, attr: str, keys: set, route_entry: tuple[str, str]) -> None:
    raw = next((vars(k)[attr] for k in cls.__mro__ if attr in vars(k)), None)
    if raw is None or _is_guard(raw):
        return
    if type(raw).__name__ == "getset_descriptor":
        guard = _guard_descriptor(raw, keys, route_entry)
    elif isinstance(raw, (staticmethod, classmethod)):
        guard = type(raw)(_guard_function(raw.__func__, keys, route_entry))
    elif callable(raw):
        guard = _guard_function(raw, keys, route_entry)
    else:
        return
    previous = vars(cls).get(attr, _ABSENT)
    try:
        setattr(cls, attr, guard)
    except (AttributeError, TypeError):
        return
    _installed[(id(cls), attr)] = (cls, attr, previous, guard)


def _install_global(module: Any, attr: str, original: Any, keys: set, route_entry: tuple[str, str]) -> None:
    """The stand-in goes into every loaded module that holds ``original`` under ``attr``
    (``from torch.autograd.graph import _engine_run_backward``)."""
    if route_entry[1] in COMPILERS:
        guard = _guard_compiler(original, keys, route_entry)
    else:
        guard = _guard_function(original, keys, route_entry)
        _same_builtin(original, guard)
    for mod in [module, *sys.modules.values()]:
        try:
            if vars(mod).get(attr) is original:
                setattr(mod, attr, guard)
                _installed[(id(mod), attr)] = (mod, attr, original, guard)
        except (TypeError, AttributeError):
            continue


def _same_builtin(original: Any, guard: Callable) -> None:
    """TorchScript knows torch.autograd.grad and its kin by identity: let it know the stand-in
    as the same operator (scripted code is then guarded as a compiled product)."""
    if not getattr(original, "__module__", "").startswith("torch"):
        return
    try:
        from torch.jit._builtins import _find_builtin, _register_builtin

        name = _find_builtin(original)
        if name is not None:
            _register_builtin(guard, name)
    except Exception:  # another torch: scripting a stand-in fails to compile, which gains nothing
        pass


def _install_all(ready: str | None = None) -> None:
    for entry, (keys, route) in list(_entries.items()):
        try:
            _install_entry(entry, keys, route, ready)
        except Exception:  # a library that changed shape: that entry stays unguarded
            continue


class _Loader:
    """A watched module's own loader, which guards the entry points once the module has run."""

    def __init__(self, loader: Any, name: str):
        self._loader, self._name = loader, name

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        root = self._name.split(".")[0]
        if self._name == root:
            _install_all(ready=root)   # the library has run: all its entry points exist
        elif not _initializing(root):
            _install_all()             # a module imported later (or again) on its own

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _Finder:
    """First in ``sys.meta_path``: a watched module gets a loader that guards it."""

    def find_spec(self, name, path=None, target=None):
        if name not in _watched:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _Loader(spec.loader, name)
                return spec
        return None

    def invalidate_caches(self) -> None:
        pass


def install(names: Iterable[str], trusted_files: Iterable[str] = ()) -> None:
    """Guard every entry point of the routes (or dotted paths) ``names``: now for what is loaded
    and for the course's own modules, and for the rest (torch) as soon as it is imported, so
    before any learner code can hold one. The guards stay inert outside ``armed_call``."""
    global _trusted, _agent, _package, _libraries, _finder
    _trusted = _trusted | frozenset(trusted_files)
    _agent = os.path.join(os.path.dirname(os.path.abspath(__file__)), "agent.py")
    _package = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    _libraries = tuple({os.path.dirname(os.__file__) + os.sep, os.path.join(sys.prefix, "lib") + os.sep,
                        os.path.join(sys.base_prefix, "lib") + os.sep})
    _kinds.clear()
    for name in names:
        route = ROUTES.get(name)
        for entry in (route.entries if route else (name,)):
            keys, first = _entries.get(entry, (set(), name))
            keys.add(name)
            keys.add(entry)
            _entries[entry] = (keys, first)
            parts = entry.split(".")
            _watched.update(".".join(parts[:cut]) for cut in range(1, len(parts)))
    if _finder is None:
        _finder = _Finder()
        sys.meta_path.insert(0, _finder)
        shell = _shell()
        if shell is not None:
            shell.events.register("pre_run_cell", _before_cell)
    _install_all()


def uninstall() -> None:
    """Put every original back and stop watching imports (for tests)."""
    global _finder, _trusted
    for owner, attr, original, _guard in reversed(list(_installed.values())):
        try:
            if original is _ABSENT:
                delattr(owner, attr)
            else:
                setattr(owner, attr, original)
        except (AttributeError, TypeError):
            pass
    for table in (_installed, _entries, _watched, _kinds, _guards):
        table.clear()
    _trusted = frozenset()
    if _finder is not None and _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
        shell = _shell()
        if shell is not None:
            try:
                shell.events.unregister("pre_run_cell", _before_cell)
            except ValueError:
                pass
    _finder = None
    disarm()


def armed_call(armed: Any, fn: Callable, *args: Any, factory: bool = False) -> Any:
    """``fn(*args)`` with the guards of the routes ``armed`` armed: a list of route names, or the
    judge's ``{"routes": [...], "check": token}``. ``factory``: the call builds a course object
    for the judge (``make``).

    A refusal recorded meanwhile is raised afterwards as ``ReferenceUseError``, whatever the
    learner's code made of it (caught it, raised something else, returned a value). The routes
    stay armed after the call, until the next request or the next cell (``disarm``): work the
    learner's code leaves to a thread or an event-loop callback between two requests of a check
    is refused too, and reported at the check's next request. A new check (another token)
    starts with a clean record."""
    global _armed, _factory, _check
    from .errors import ReferenceUseError

    check = None
    if isinstance(armed, dict):
        armed, check = armed.get("routes") or (), armed.get("check")
    if check is None or check != _check:
        refused_calls.clear()
    _check = check
    _factory = bool(factory)
    _armed = frozenset(str(n) for n in armed)
    try:
        result = fn(*args)
    except BaseException:
        if refused_calls:
            raise ReferenceUseError(_reported()) from None
        raise
    finally:
        _factory = False
    if refused_calls:
        raise ReferenceUseError(_reported())
    return result


def _reported() -> str:
    """The first refusal on record, which is now reported: the record starts again."""
    text = refused_calls[0]
    refused_calls.clear()
    return text


def disarm() -> None:
    """Nothing is armed, and nothing is remembered: a cell of the notebook is about to run."""
    global _armed, _factory, _check
    _armed, _factory, _check = frozenset(), False, None
    refused_calls.clear()


ERRAND = "__import__('mlcourse.grading.agent'"   # how the judge's requests start (judge.KernelLink)


def _before_cell(info: Any = None) -> None:
    """IPython's pre_run_cell: a cell that is not one of the judge's requests disarms."""
    if _armed and not str(getattr(info, "raw_cell", "") or "").startswith(ERRAND):
        disarm()


def _shell() -> Any:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the kernel
        return None
    return get_ipython()


def refused() -> list[str]:
    """What the guards refused and no request has reported yet."""
    return list(refused_calls)
