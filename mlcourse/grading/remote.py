"""The learner's objects as the judge sees them: proxies that ask the kernel.

During grading the judge holds no learner object. A name in a test cell becomes
a ``Remote``: calling it, reading an attribute or an item sends a request to the
learner's kernel, and what comes back is decoded by ``wire`` into plain numbers
and arrays, or into another ``Remote`` for anything that is not plain data.

Checks are written once for both places with two helpers:

- ``make(like, "module.path", *args)`` builds an object on the learner's side
  (in the kernel when ``like`` is a ``Remote``, here otherwise), for arguments
  that are not plain data: a ``Split``, a torch model, a function to differentiate;
- ``value(obj)`` brings such an object's plain value back (an array the
  learner's code was meant to change in place, say).

Whatever comes back from the kernel is what the learner's code produced there, and code in
the kernel can say anything: a check may compare it with what it recomputes itself, never
take it as an account of what happened. So no check reads a counter, a record or a flag
from an object it made (how often ``.test`` was read, how an average was called, where a
model was moved): such facts are built into the objects and decided by the values they
let the learner's code produce (``heldout``: a test part handed over once; 06b: an average
whose factors show which gradients reached it; 06: a model whose weights exist once moved).
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Protocol

from .references import resolve


class Kernel(Protocol):
    def request(self, op: str, **fields: Any) -> Any: ...


class Link:
    """The judge's end of the conversation with one kernel.

    ``request`` encodes a request (plain values, and ``Remote`` objects by their
    handles), hands it to ``exchange`` (text in, reply text out) and decodes the
    reply, without pickle, into plain values and new ``Remote`` proxies.
    """

    def __init__(self):
        self._nonce = 0

    def exchange(self, request_text: str) -> str:  # pragma: no cover - provided by subclasses
        raise NotImplementedError

    def _encode(self, value: Any) -> Any:
        from . import wire

        def keep(obj):
            if is_remote(obj):
                if obj._kernel is not self:
                    raise TypeError("an object of another kernel")
                return {"handle": obj._handle, "type": obj._type}
            raise TypeError(f"a check may hand learner code plain data, objects made with "
                            f"grading.make, or learner objects, not a {type(obj).__name__}")
        return wire.encode(value, keep)

    def request(self, op: str, **fields: Any) -> Any:
        from . import wire

        # Unpredictable, so that learner code cannot publish a reply to a request of its own
        # guessing (it would gain nothing a return value could not, but the link stays exact).
        self._nonce = secrets.randbits(52)
        message = {"op": op, "nonce": self._nonce}
        for key, val in fields.items():
            message[key] = val if key in ("name", "path") else self._encode(val)
        # The library shortcuts of the check being run (the judge sets ``armed`` for each check,
        # a new list each time): the kernel refuses them to the learner's code from this request
        # on, until a request of another check or the next cell; ``check`` tells the checks apart.
        armed = getattr(self, "armed", None)
        if armed is not None:
            if armed is not getattr(self, "_armed_for", None):
                self._armed_for, self._armed_check = armed, secrets.randbits(52)
            message["armed"] = {"routes": [str(name) for name in armed], "check": self._armed_check}
        reply_text = self.exchange(json.dumps(message))
        if len(reply_text) > wire.MAX_BYTES:
            raise remote_error("BadReply", f"the notebook's reply is {len(reply_text) / 2**20:.0f} MB, "
                                           f"more than the {wire.MAX_BYTES / 2**20:.0f} MB a check reads")
        try:
            reply = json.loads(reply_text)
            if type(reply) is not dict or reply.get("nonce") != self._nonce:
                raise wire.WireError("a reply to another request")
            if "error" in reply:
                err = reply["error"]
                if type(err) is not dict:
                    raise wire.WireError("malformed error")
                raise remote_error(str(err.get("type")), str(err.get("message")))
            if "ok" not in reply:
                raise wire.WireError("no result")
            return wire.decode(reply["ok"], lambda h, t: Remote(self, h, t))
        except (ValueError, RecursionError) as exc:
            raise remote_error("BadReply", f"the notebook's reply could not be read as plain data "
                                           f"({exc})") from None


class Loopback(Link):
    """A link to a namespace in this process, through the same encoding: for tests."""

    def __init__(self, namespace: dict):
        super().__init__()
        self.namespace = namespace

    def exchange(self, request_text: str) -> str:
        from . import agent

        return agent.answer(request_text, self.namespace)

    def lookup(self, name: str) -> Any:
        return self.request("global", name=name)


class RemoteError(Exception):
    """The learner's code raised in the kernel; ``remote_type`` is its exception's name."""

    def __init__(self, remote_type: str, message: str):
        super().__init__(message)
        self.remote_type = remote_type


class RemoteNotImplemented(RemoteError, NotImplementedError):
    """The learner's answer still raises ``NotImplementedError``."""


def remote_error(remote_type: str, message: str) -> RemoteError:
    cls = RemoteNotImplemented if remote_type == "NotImplementedError" else RemoteError
    return cls(str(remote_type)[:100], str(message)[:2000])


class Remote:
    """An object that lives in the learner's kernel, known here by a handle."""

    _is_remote = True
    __slots__ = ("_kernel", "_handle", "_type")

    def __init__(self, kernel: Kernel, handle: int, type_name: str):
        object.__setattr__(self, "_kernel", kernel)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_type", type_name)

    def _ask(self, op: str, **fields: Any) -> Any:
        return self._kernel.request(op, target=self, **fields)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._ask("call", args=list(args), kwargs=kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._ask("getattr", name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._ask("setattr", name=name, value=value)

    def __getitem__(self, key: Any) -> Any:
        return self._ask("getitem", key=key)

    def __len__(self) -> int:
        n = self._ask("len")
        if type(n) is not int:
            raise TypeError("len() of a learner object did not give an integer")
        return n

    def __iter__(self):
        items = self._ask("items")
        if type(items) is not list:
            raise TypeError("a learner object could not be iterated")
        return iter(items)

    def __bool__(self) -> bool:
        raise TypeError("a learner object has no truth value for grading: compare its numbers")

    def __repr__(self) -> str:
        return f"<{self._type} from your notebook>"

    @property
    def __name__(self) -> str:  # noqa: A003 - what call() names in its messages
        name = self._ask("name")
        return name if type(name) is str else self._type


def is_remote(obj: Any) -> bool:
    return type(obj) is Remote


def make(like: Any, path: str, *args: Any, **kwargs: Any) -> Any:
    """Build ``path(*args, **kwargs)`` on the learner's side of ``like``.

    >>> make(len, "numpy.zeros", 3)
    array([0., 0., 0.])
    """
    if is_remote(like):
        return like._kernel.request("make", path=path, args=list(args), kwargs=kwargs)
    fn = resolve(path)
    if fn is None:
        raise ValueError(f"nothing importable at {path}")
    return fn(*args, **kwargs)


def value(obj: Any) -> Any:
    """The plain value of an object built with ``make`` (the object itself here)."""
    if is_remote(obj):
        return obj._kernel.request("value", target=obj)
    return obj
