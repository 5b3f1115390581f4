"""Keep grading honest: answers become plain float64 arrays before any comparison.

A learner's answer is converted with numpy's own C-level ``array`` into a fresh
float64 ``ndarray`` (never a subclass), and compared with ndarray operators and
methods only, which Python code cannot patch. Before a check we also make sure
nobody replaced numpy's or torch's comparison functions, so a patched
``np.allclose`` or ``torch.testing.assert_close`` is named, not trusted.
"""

from __future__ import annotations

import sys

import numpy as np

from .errors import GradingError

# numpy's C constructor, taken when this module is first imported (the
# notebook's locked first cell), before any answer cell has run.
_ARRAY = np.array
_NDARRAY = np.ndarray
_FLOAT64 = np.float64

# (module, attribute path, the module its code must come from)
_WATCHED = (
    ("numpy", "allclose", "numpy"),
    ("numpy", "isclose", "numpy"),
    ("numpy", "array_equal", "numpy"),
    ("numpy", "array", "numpy"),
    ("numpy", "asarray", "numpy"),
    ("numpy", "testing.assert_allclose", "numpy"),
    ("numpy", "testing.assert_array_equal", "numpy"),
    ("numpy", "testing.assert_array_almost_equal", "numpy"),
    ("numpy", "testing.assert_almost_equal", "numpy"),
    ("numpy", "testing.assert_equal", "numpy"),
    ("torch", "allclose", "torch"),
    ("torch", "isclose", "torch"),
    ("torch", "equal", "torch"),
    ("torch", "testing.assert_close", "torch"),
    ("math", "isclose", "math"),
)


def _resolve(module, path: str):
    obj = module
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _origin_ok(fn, package: str) -> bool:
    """True when ``fn`` is the library's own function, not a stand-in."""
    if package == "math":
        return type(fn).__name__ == "builtin_function_or_method"
    module = getattr(fn, "__module__", None) or ""
    if not (module == package or module.startswith(package + ".")):
        return False
    code = getattr(fn, "__code__", None)
    if code is not None:  # a Python function: its source file must lie inside the package
        return f"/{package}/" in code.co_filename.replace("\\", "/")
    return True


def ensure_untampered() -> None:
    """Raise ``GradingError`` if numpy's, torch's or math's comparisons were replaced."""
    replaced = []
    for module_name, path, package in _WATCHED:
        module = sys.modules.get(module_name)
        if module is None:
            continue
        fn = _resolve(module, path)
        if fn is not None and not _origin_ok(fn, package):
            replaced.append(f"{module_name}.{path}")
    if type(np.ndarray.__eq__).__name__ != "wrapper_descriptor":  # pragma: no cover
        replaced.append("numpy.ndarray.__eq__")
    if replaced:
        raise GradingError(
            "The library functions " + ", ".join(replaced) + " were replaced by code in "
            "this notebook. Answers are graded on their values with unpatched numpy, so a "
            "patch cannot earn points; it only stops grading. Remove the patch, restart the "
            "kernel and run all cells."
        )


def _untorch(value, depth: int = 0):
    """Torch tensors (on any device, with or without grad, inside lists too) as plain lists,
    the way they reach the judge during grading."""
    if type(value).__module__.split(".")[0] == "torch":
        tensor = value.detach() if hasattr(value, "detach") else value
        if hasattr(tensor, "cpu"):
            tensor = tensor.cpu()
        if hasattr(tensor, "double") and getattr(tensor, "is_floating_point", lambda: True)():
            tensor = tensor.double()
        return tensor.tolist() if hasattr(tensor, "tolist") else tensor
    if type(value) in (list, tuple) and depth < 20:
        return type(value)(_untorch(v, depth + 1) for v in value)
    return value


def to_float64(value, name: str) -> np.ndarray:
    """A fresh float64 ndarray holding ``value``'s numbers, or a ``GradingError``.

    Accepts Python numbers, nested lists, numpy arrays and torch tensors (on any
    device, with or without grad). Objects that merely *claim* to be equal to
    something are refused: only numbers count.
    """
    ensure_untampered()
    if value is None:
        raise GradingError(
            f"`{name}` is None. Did the function end without `return`? "
            "Return the result instead of printing it."
        )
    if getattr(value, "_is_remote", False):
        raise GradingError(f"`{name}` is {value!r}, not numbers. Return a number or a numpy array "
                           "of numbers.")
    if isinstance(value, (str, bytes)):
        raise GradingError(f"`{name}` is the string {value!r}; a number or an array was expected.")
    value = _untorch(value)
    try:
        out = _ARRAY(value, dtype=_FLOAT64, copy=True, subok=False)
    except (TypeError, ValueError) as exc:
        raise GradingError(
            f"`{name}` could not be read as numbers: it is a {type(value).__name__}, "
            f"and converting it to a float64 array failed ({exc}). Return a number or "
            "a numpy array of numbers."
        ) from None
    if type(out) is not _NDARRAY:  # pragma: no cover - subok=False guarantees this
        raise GradingError(f"`{name}` did not convert to a plain numpy array.")
    return out
