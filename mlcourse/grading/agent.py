"""The judge's errand-runner inside the learner's kernel (imported there, never trusted).

The judge sends ``serve(request)`` as code to the kernel; this module does what
the request asks (call a learner function, read an attribute, build an object
from the course package) and publishes the result as plain data (``wire``).
Learner code may replace anything here: the judge trusts no reply beyond its
being a claim about what the learner's code returned, which it checks itself.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from . import wire
from .errors import ReferenceUseError
from .references import resolve

MIME = "application/vnd.mlcourse.judge+json"
_objects: dict[int, Any] = {}


def keep_value(obj: Any) -> dict:
    _objects[id(obj)] = obj
    return {"handle": id(obj), "type": type(obj).__name__}


def _refuse(obj: Any) -> dict:
    raise TypeError(f"a {type(obj).__name__} is not plain data")


def _arg(data: Any) -> Any:
    def handle(ident, _type):
        if ident not in _objects:
            raise KeyError("unknown handle")
        return _objects[ident]
    return wire.decode(data, handle)


def _do(request: dict, namespace: dict) -> Any:
    op = request["op"]
    if op == "global":
        if request["name"] not in namespace:
            raise NameError(f"name '{request['name']}' is not defined: run the cell that defines it")
        return namespace[request["name"]]
    if op == "make":
        fn = _factory(request["path"])
        return keep_value(fn(*_arg(request["args"]), **_arg(request["kwargs"])))
    target = _arg(request["target"])
    if op == "call":
        return target(*_arg(request["args"]), **_arg(request["kwargs"]))
    if op == "getattr":
        return getattr(target, request["name"])
    if op == "setattr":
        setattr(target, request["name"], _arg(request["value"]))
        return None
    if op == "getitem":
        return target[_arg(request["key"])]
    if op == "len":
        return len(target)
    if op == "items":
        return list(target)
    if op == "name":
        return getattr(target, "__name__", type(target).__name__)
    if op == "value":
        return {"plain": wire.encode(target, _refuse)}
    raise ValueError(f"unknown op {op!r}")


def answer(request_text: str, namespace: dict) -> str:
    """The JSON reply ``{"nonce", "ok" | "error"}`` to one judge request."""
    request = json.loads(request_text)
    reply: dict[str, Any] = {"nonce": request.get("nonce")}
    try:
        armed = request.get("armed")
        if armed:   # a check that names library shortcuts: refuse them to the learner's code meanwhile
            from .shortcuts import armed_call

            result = armed_call(armed, _do, request, namespace, factory=request.get("op") == "make")
        else:
            result = _do(request, namespace)
        if isinstance(result, dict) and set(result) in ({"handle", "type"}, {"plain"}):
            reply["ok"] = result.get("plain", result)
        else:
            reply["ok"] = wire.encode(result, keep_value)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt from an answer too
        reply["error"] = {"type": type(exc).__name__, "message": str(exc)[:2000]}
    try:
        return json.dumps(reply)
    except (TypeError, ValueError) as exc:
        return json.dumps({"nonce": request.get("nonce"),
                           "error": {"type": "TypeError", "message": f"reply not encodable: {exc}"}})


def serve(request_text: str) -> None:
    """Answer one judge request in the kernel, as a display output the judge reads."""
    from IPython.display import publish_display_data

    publish_display_data({MIME: answer(request_text, sys.modules["__main__"].__dict__)})


# The comm on which the judge sends its requests once the kernel is set up. A request sent as
# code runs as a cell: the kernel echoes it, runs every pre- and post-execute hook and, with
# matplotlib inline, renders figures; a comm message is handed straight to ``answer`` (2 ms a
# request instead of 4.5 ms here). The judge falls back to ``serve`` when the comm is missing.
TARGET = "mlcourse.judge"


def listen() -> None:
    """Register the judge's comm target in this kernel: each message ``{"request": text}``
    is answered with ``{"reply": answer(text)}`` on the same comm."""
    from IPython import get_ipython

    def opened(comm, _msg) -> None:
        def on_request(msg) -> None:
            try:
                text = answer(msg["content"]["data"]["request"], sys.modules["__main__"].__dict__)
            finally:
                _close_figures()
            comm.send({"reply": text})

        comm.on_msg(on_request)
        comm.send({"opened": True})

    get_ipython().kernel.comm_manager.register_target(TARGET, opened)


def _close_figures() -> None:
    """A figure a learner's function drew while a check called it is not the learner's
    output: a cell's figures are shown and closed when the cell ends, an errand's never are."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        try:
            pyplot.close("all")
        except Exception:  # a learner's pyplot replaced: its figures are its own business
            pass


# ---- references, refused to the learner's own cells -------------------------------------------


def guard_references(paths: list[str], trusted_files: list[str], shortcuts: list[str] = ()) -> None:
    """Replace each reference function with a stand-in that refuses calls made directly
    from the learner's code (or handed straight to the judge), and serves everyone else:
    the library itself and the notebook's locked cells (``trusted_files``).

    The library routes in ``shortcuts`` get guards too (``shortcuts.install``), inert except
    while a check that names them is judged (``shortcuts.armed_call``)."""
    import functools
    import os

    from .references import reference_message

    if shortcuts:
        from .shortcuts import install

        install(shortcuts, trusted_files)

    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    stdlib = os.path.dirname(os.__file__) + os.sep
    here = os.path.abspath(__file__)
    # The judge's code on the learner's side (``kernelside``), every module of it: an answer one
    # of its runners calls for the errand is handed over as surely as one the errand calls itself.
    kernelside = os.path.join(os.path.dirname(here), "kernelside")
    runners = {os.path.join(kernelside, name) for name in os.listdir(kernelside) if name.endswith(".py")}
    trusted = set(trusted_files)

    def library(path: str) -> bool:
        return path.startswith(stdlib) or "site-packages" in path or "dist-packages" in path

    def learner_calls(frame) -> bool:
        """Walk out from the caller: the course package or a locked cell may use the
        reference; the learner's cells, code of unknown origin and the judge's errand
        (the answer handed over IS the reference) may not. Other libraries
        (numpy.vectorize, functools...) are looked through."""
        while frame is not None:
            name = frame.f_code.co_filename
            if name == here:
                return True
            if name in trusted:
                return False
            path = name if name.startswith("<") else os.path.abspath(name)
            if path in runners:
                return errand_runs(frame.f_back)
            if path.startswith(package):
                return False
            if not library(path):
                return True
            frame = frame.f_back
        return False

    def errand_runs(frame) -> bool:
        """Whether the judge's errand called this ``kernelside`` code (through the package and
        other libraries): then what it calls, it calls for the judge. Called from a learner's
        function instead (a course version of an earlier exercise the judge handed in, such as
        ``kernelside.nb01.reference_split``), it is the package using its own reference."""
        while frame is not None:
            name = frame.f_code.co_filename
            if name == here:
                return True
            path = name if name.startswith("<") else os.path.abspath(name)
            if name in trusted or not (path.startswith(package) or library(path)):
                return False
            frame = frame.f_back
        return False

    for path in paths:
        module_name, _, attr = path.rpartition(".")
        module = sys.modules.get(module_name)
        if module is None:
            try:
                __import__(module_name)
                module = sys.modules[module_name]
            except ImportError:
                continue
        original = getattr(module, attr, None)
        if original is None or not callable(original) or isinstance(original, type):
            continue

        def make_guard(original=original, path=path):
            @functools.wraps(original)
            def guard(*args, **kwargs):
                if learner_calls(sys._getframe(1)):
                    raise ReferenceUseError(reference_message(path))
                return original(*args, **kwargs)
            del guard.__wrapped__   # no way back to the original through the stand-in
            return guard

        stand_in = make_guard()
        for mod in list(sys.modules.values()):
            if getattr(mod, "__name__", "").startswith("mlcourse") and getattr(mod, attr, None) is original:
                setattr(mod, attr, stand_in)


# ---- the course package as it was before any learner code ran ---------------------------------

_frozen: dict[str, dict] = {}                  # module name -> its namespace at kernel start
_frozen_classes: list[tuple[type, dict]] = []  # the package's classes and their attributes then


def freeze(module_names: list[str]) -> None:
    """Remember the namespaces of these course modules (and their classes) before any learner
    cell runs: ``make`` builds the judge's objects from them, and puts back any class
    attribute a learner's code changed since (a read counter, say), however it got there."""
    import importlib

    for name in module_names:
        try:
            module = importlib.import_module(name)
        except Exception:  # a check module that needs what this kernel lacks: nothing to keep
            continue
        _frozen[name] = dict(vars(module))
        for obj in list(vars(module).values()):
            # its own classes, and those a package re-exports from its submodules
            # (mlcourse.data.Split is defined in mlcourse.data.splits)
            if isinstance(obj, type) and (obj.__module__ == name
                                          or obj.__module__.startswith(name + ".")):
                _frozen_classes.append((obj, dict(vars(obj))))


def _restore_classes() -> None:
    for cls, saved in _frozen_classes:
        current = vars(cls)
        for key in [k for k in current if k not in saved]:
            try:
                delattr(cls, key)
            except (AttributeError, TypeError):
                pass
        for key, value in saved.items():
            if current.get(key) is not value:
                try:
                    setattr(cls, key, value)
                except (AttributeError, TypeError):
                    pass


def _restore_modules() -> None:
    """Put back the code a frozen module's functions reach through their globals (functions,
    classes, modules; data such as caches may change): a factory's helpers replaced in the
    module namespace (``heldout._envelope = ...``) are the originals again before it runs."""
    import types

    code = (types.FunctionType, types.BuiltinFunctionType, type, types.ModuleType)
    for name, saved in _frozen.items():
        module = sys.modules.get(name)
        if module is None:
            continue
        current = vars(module)
        for key, value in saved.items():
            if isinstance(value, code) and current.get(key) is not value:
                current[key] = value


def _factory(path: str) -> Any:
    module_name, _, attr = path.rpartition(".")
    _restore_modules()
    _restore_classes()
    if attr in _frozen.get(module_name, {}):
        return _frozen[module_name][attr]
    return resolve(path)
