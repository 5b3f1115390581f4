"""Plain values between the learner's kernel and the judge, as JSON: no pickle.

The kernel encodes what a learner's function returned; the judge decodes it into
fresh Python and numpy values that cannot run code: ``None``, ``bool``, ``int``,
``float``, ``str``, lists, tuples, dicts with string keys, and ndarrays of a
numeric dtype (torch tensors arrive as ndarrays). Anything else stays in the
kernel and crosses as a handle, ``{"handle": id, "type": name}``.
"""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np

from . import limits

DTYPES = ("float64", "float32", "float16", "int64", "int32", "int16", "int8",
          "uint8", "uint16", "uint32", "uint64", "bool")
MAX_DEPTH = 20
MAX_BYTES = limits.MAX_REPLY_BYTES   # one reply
MAX_TEXT = 100_000


class WireError(ValueError):
    """A reply that is not a well-formed plain value."""


# ---- kernel side --------------------------------------------------------------------------


def _array(a: np.ndarray) -> dict:
    a = np.array(a, order="C", copy=True)
    if a.dtype.name not in DTYPES:
        a = a.astype(np.float64)
    return {"array": {"dtype": a.dtype.name, "shape": list(a.shape),
                      "data": base64.b64encode(a.tobytes()).decode("ascii")}}


def encode(value: Any, keep: Any, depth: int = 0) -> Any:
    """``value`` as JSON-ready data; ``keep(obj)`` stores an object and returns its handle."""
    if depth > MAX_DEPTH:
        return keep(value)
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int:
        return value if abs(value) < 2**63 else {"float": repr(float(value))}
    if t is float:
        return value if math.isfinite(value) else {"float": repr(value)}
    if t is np.ndarray and value.dtype.kind in "biuf":
        return _array(value)
    if isinstance(value, np.generic) and np.asarray(value).dtype.kind in "biuf":
        return {"scalar": _array(np.asarray(value))["array"]}
    if t.__module__.split(".")[0] == "torch" and t.__name__ in ("Tensor", "Parameter"):
        tensor = value.detach().cpu()
        if tensor.dtype.is_complex:
            return keep(value)
        return {"tensor": _array(tensor.numpy())["array"]}
    if t is list or t is tuple:
        return {t.__name__: [encode(v, keep, depth + 1) for v in value]}
    if t is dict and all(type(k) in (str, int) for k in value):
        return {"dict": [[encode(k, keep, depth + 1), encode(v, keep, depth + 1)] for k, v in value.items()]}
    return keep(value)


# ---- judge side ---------------------------------------------------------------------------


def _decode_array(spec: Any) -> np.ndarray:
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data"}:
        raise WireError("malformed array")
    dtype, shape, data = spec["dtype"], spec["shape"], spec["data"]
    if dtype not in DTYPES or not isinstance(shape, list) or not isinstance(data, str) \
            or not all(type(n) is int and n >= 0 for n in shape):
        raise WireError("malformed array")
    raw = base64.b64decode(data.encode("ascii"), validate=True)
    count = math.prod(shape)
    if len(raw) != count * np.dtype(dtype).itemsize:
        raise WireError("array data does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def decode(data: Any, handle: Any, depth: int = 0) -> Any:
    """Plain values from JSON-decoded ``data``; ``handle(id, type_name)`` builds a proxy."""
    # A value encoded by itself is at most MAX_DEPTH + 1 deep; a record of values each encoded
    # by itself (``kernelside.calls``) holds them two levels down.
    if depth > MAX_DEPTH + 4:
        raise WireError("nested too deeply")
    t = type(data)
    if data is None or t in (bool, int, float):
        return data
    if t is str:
        if len(data) > MAX_TEXT:
            raise WireError("text too long")
        return data
    if t is not dict or len(data) not in (1, 2):
        raise WireError(f"unexpected {t.__name__}")
    if "handle" in data:
        if type(data["handle"]) is not int or type(data.get("type")) is not str:
            raise WireError("malformed handle")
        return handle(data["handle"], data["type"][:200])
    (kind, body), = data.items()
    if kind == "float":
        if body not in ("nan", "inf", "-inf") and not (type(body) is str and len(body) < 40):
            raise WireError("malformed float")
        return float(body)
    if kind in ("array", "tensor"):
        return _decode_array(body)
    if kind == "scalar":
        a = _decode_array(body)
        if a.shape != ():
            raise WireError("a scalar with a shape")
        return a[()]
    if kind in ("list", "tuple") and type(body) is list:
        items = [decode(v, handle, depth + 1) for v in body]
        return items if kind == "list" else tuple(items)
    if kind == "dict" and type(body) is list:
        out = {}
        for pair in body:
            if type(pair) is not list or len(pair) != 2:
                raise WireError("malformed dict")
            key = decode(pair[0], handle, depth + 1)
            if type(key) not in (str, int):
                raise WireError("a dict key that is not a string or an integer")
            out[key] = decode(pair[1], handle, depth + 1)
        return out
    raise WireError(f"unknown kind {kind!r}")
