"""Splits for the judge whose test part is read once, or never, by construction.

``mlcourse.data.Split`` counts the reads of ``.test`` for the learner (``test_reads``). A count
kept in the learner's kernel is a claim the kernel makes, and code there can set it back, so the
checks of "read the test set once" do not read it. They hand the learner's function one of these
instead (built on the learner's side with ``grading.make``):

- ``once(X, y, indices)``: the test part is handed over on the first read of ``.test`` and leaves
  the object; a second read raises ``TestSetReadTwice``. Reading twice fails, and an answer that
  never reads cannot compute anything from the test data, which the check verifies by value (the
  score it returns must depend on, or equal a score of, the test data the judge holds).
- ``sealed(X, y, indices)``: there is no test part at all; reading ``.test`` raises
  ``TestSetSealed``. For model selection, which must not read it.

The test part waits in a closure cell, not in an attribute: plain attribute access,
``vars()``, ``object.__setattr__``, replacing ``.test`` on the class or copying the object
reach no data and no counter to reset. Only closure and interpreter introspection
(``__closure__``, ``cell_contents``, ``__code__``, ``inspect.getclosurevars``, ``gc``, ``ctypes``)
could peek; the source scan refuses those.

``reading_error(err)`` turns a failed call into the judge's own words.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SPLIT_NAMES = ("train", "val", "test")


class TestSetReadTwice(RuntimeError):
    """``.test`` of a read-once split was read again."""

    __test__ = False   # not a pytest class


class TestSetSealed(RuntimeError):
    """``.test`` of a split without a test part was read."""

    __test__ = False


READ_TWICE = ("split.test was already read once, and the test set is handed over only once: it is for "
              "one final evaluation. Keep what the first read gave you: X_test, y_test = split.test")
SEALED = ("this split has no test set to read: model selection uses split.train and split.val only "
          "(the test set scores the chosen model once, afterwards)")


def _take(a: Any, idx: np.ndarray) -> np.ndarray:
    return np.asarray(a)[np.asarray(idx, dtype=np.int64)]


def _envelope(part: tuple | None):
    """A function that returns ``part`` on its first call and raises after (``None``: always
    raises), and one that says whether it was opened. After the first call nothing holds ``part``."""
    box = [] if part is None else [part]
    is_sealed = part is None
    del part

    def open_envelope() -> tuple:
        if is_sealed:
            raise TestSetSealed(SEALED)
        if not box:
            raise TestSetReadTwice(READ_TWICE)
        return box.pop()

    def opened() -> int:
        return int(not is_sealed and not box)

    return open_envelope, opened


class Split:
    """``.train`` and ``.val`` as ``(X, y)``; ``.test`` handed over once (or never, when sealed).
    (Named like ``mlcourse.data.Split``, whose place it takes in these checks, for the messages.)

    ``test_reads`` is 1 after the test part was handed over, 0 before, for answers that print it;
    no check reads it.
    """

    __slots__ = ("train", "val", "indices", "_open", "_opened")

    def __init__(self, X: Any, y: Any, indices: dict, *, sealed: bool = False) -> None:
        idx = {name: np.asarray(indices[name], dtype=np.int64) for name in SPLIT_NAMES}
        self.indices = idx
        self.train = (_take(X, idx["train"]), _take(y, idx["train"]))
        self.val = (_take(X, idx["val"]), _take(y, idx["val"]))
        test = None if sealed else (_take(X, idx["test"]), _take(y, idx["test"]))
        self._open, self._opened = _envelope(test)

    @property
    def test(self) -> tuple:
        """(X_test, y_test), once."""
        return self._open()

    @property
    def test_reads(self) -> int:
        return self._opened()

    @property
    def sizes(self) -> dict[str, int]:
        return {name: len(idx) for name, idx in self.indices.items()}

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={n}" for name, n in self.sizes.items())
        return f"Split({sizes}, test_reads={self.test_reads})"


def once(X: Any, y: Any, indices: dict) -> Split:
    """A split whose test part is handed over on the first read of ``.test`` only."""
    return Split(X, y, indices)


def sealed(X: Any, y: Any, indices: dict) -> Split:
    """A split without a test part: reading ``.test`` raises ``TestSetSealed``."""
    return Split(X, y, indices, sealed=True)


# ---- the judge's side ---------------------------------------------------------------------------


def remote_kind(err: BaseException) -> str | None:
    """The name of the exception the learner's side raised behind a ``GradingError`` of ``checks.call``."""
    cause = err.__cause__
    if cause is None:
        return None
    return getattr(cause, "remote_type", type(cause).__name__)


def reading_error(err: BaseException) -> str | None:
    """"twice" or "sealed" when the failed call read a held-out test part it may not read."""
    return {TestSetReadTwice.__name__: "twice", TestSetSealed.__name__: "sealed"}.get(remote_kind(err) or "")
