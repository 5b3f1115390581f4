"""The input checks every module repeats, written once.

Each raises a ``ValueError`` that names the argument, the value it got and a
value that would work, so a learner's typo meets one kind of message.

>>> count(3, "epochs", example=20)
3
>>> count(True, "epochs", example=20)
Traceback (most recent call last):
...
ValueError: epochs=True must be a positive int, e.g. epochs=20
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["count", "is_int", "seed"]


def is_int(value: Any) -> bool:
    """A Python or numpy integer, and not a bool (``True`` is an int to Python)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def count(value: Any, name: str, *, example: int, minimum: int = 1, owner: str = "") -> int:
    """``value`` as an int when it is an integer ``>= minimum``; a ValueError otherwise.

    ``owner`` prefixes the message (``"EarlyStopping: patience=0 ..."``).
    """
    if not is_int(value) or value < minimum:
        kind = "a positive int" if minimum == 1 else (
            "a non-negative int" if minimum == 0 else f"an int >= {minimum}")
        prefix = f"{owner}: " if owner else ""
        raise ValueError(f"{prefix}{name}={value!r} must be {kind}, e.g. {name}={example}")
    return int(value)


def seed(value: Any, name: str = "seed", *, owner: str = "") -> int:
    """A random seed: a non-negative integer."""
    return count(value, name, example=0, minimum=0, owner=owner)
