"""The one exception grading raises."""


class GradingError(AssertionError):
    """A check failed. The message says what was expected, what came, and why.

    It subclasses ``AssertionError`` so nbgrader (and pytest) count it as a
    failed test, while the traceback's last line reads as plain advice.
    """
