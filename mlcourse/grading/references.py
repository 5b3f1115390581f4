"""The course's reference implementations, and refusing an answer that is one of them.

Every exercise asks the learner to write something that ``mlcourse`` also
contains (``mlcourse.losses.mse``...). An answer that is, imports or calls that
reference earns nothing for the exercise. In the learner's kernel a check refuses
the reference object itself; during grading the judge also reads the learner's
cells (``integrity``) and, inside the kernel, replaces each reference with a
stand-in that refuses calls coming from the learner's own cells.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import ReferenceUse


def resolve(path: str) -> Any:
    """The object at a dotted path such as ``mlcourse.losses.mse`` (None if absent)."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name, None)
            if obj is None:
                return None
        return obj
    return None


def reference_message(path: str) -> str:
    return (f"Your answer uses the course's reference implementation `{path}` instead of your own "
            "code, so this exercise earns nothing: write it yourself (the reference is there to "
            "compare with after you are done).")


def _code(obj: Any):
    fn = getattr(obj, "__func__", obj)
    return getattr(fn, "__code__", None)


def refuse_reference(obj: Any, references: tuple[str, ...]) -> None:
    """Raise ``GradingError`` when ``obj`` is (or shares its code with) one of ``references``."""
    if not references or getattr(obj, "_is_remote", False):
        return
    for path in references:
        ref = resolve(path)
        if ref is None:
            continue
        same = obj is ref
        if not same and isinstance(obj, type) and isinstance(ref, type):
            same = issubclass(obj, ref)
        if not same:
            code = _code(obj)
            same = code is not None and code is _code(ref)
        if same:
            raise ReferenceUse(reference_message(path))
