"""The exceptions of grading: the judge's verdict (``GradingError``) and the kernel's refusal
(``ReferenceUseError``)."""

from . import outcomes


class GradingError(AssertionError):
    """A check failed. The message says what was expected, what came, and why.

    It subclasses ``AssertionError`` so nbgrader (and pytest) count it as a
    failed test. IPython shows ``_render_traceback_`` instead of a traceback, so
    the learner reads the message, not the grading code's call stack.
    """

    def _render_traceback_(self) -> list[str]:
        return ["\x1b[0;31mGradingError\x1b[0m: " + (str(self).splitlines() or [""])[0],
                *str(self).splitlines()[1:]]


class ReferenceUse(GradingError):
    """A check failed because the answer used the course's reference or a library shortcut
    that does the exercise: the judge records it as such (outcomes travel as data, never
    parsed from the message)."""

    kind = outcomes.REFERENCE_USE


class ReferenceUseError(RuntimeError):
    """Raised in the learner's kernel: an answer called the course's reference implementation
    of what it must write, or a library shortcut that does the exercise (the guards of
    ``agent`` and ``shortcuts``)."""
