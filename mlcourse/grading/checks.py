"""The checks nbgrader test cells call.

Each check converts the learner's answer to a plain float64 array, compares it
with the reference using ndarray arithmetic only, and on failure raises a
``GradingError`` whose message says what was expected, what came, where the
worst element is and the mistake that most likely produced it.

Three helpers keep a check short: ``seeded(seed)`` is the one random generator a hidden
check draws its cases from; ``slips=`` (``check_array``) and ``slip`` name an exercise's own
known mistakes, recognised by ``mlcourse.diagnose.named_slip`` with one tolerance; and
``exercises.twins`` declares a visible check and its hidden random twin from one check
of a single case.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from mlcourse import diagnose

from .errors import GradingError, ReferenceUse
from .guard import to_float64
from .remote import RemoteError, is_remote, make, remote_error


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _fmt_pair(expected: float, got: float) -> tuple[str, str]:
    """Both numbers with just enough digits that they do not print the same."""
    for digits in (6, 9, 12, 17):
        e, g = f"{expected:.{digits}g}", f"{got:.{digits}g}"
        if e != g:
            break
    return e, g


def _one_line(a: np.ndarray) -> str:
    """A small array on one line, rows separated by commas: [[0, -0.5], [1, 2]]."""
    text = np.array2string(a, precision=6, separator=", ", max_line_width=10**6)
    return " ".join(text.split())


def _describe(value: Any) -> str:
    if getattr(value, "_is_remote", False):
        return repr(value)
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{type(value).__name__} of shape {tuple(shape)}, dtype {getattr(value, 'dtype', '?')}"
    return type(value).__name__


@contextlib.contextmanager
def quiet():
    """Silence warnings, numpy floating-point chatter and stderr inside the block.

    nbgrader gives zero to a test cell that writes to stderr, so a warning from
    a correct answer must never reach it.
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"), \
            contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


def call(fn: Callable, *args: Any, name: str | None = None, **kwargs: Any) -> Any:
    """Call the learner's ``fn(*args, **kwargs)`` quietly and explain what goes wrong.

    An untouched exercise raises ``NotImplementedError``; that becomes "not
    written yet". Any other exception is reported with the arguments' shapes.
    """
    def label() -> str:  # only on failure: for a learner's object in the kernel it is a request
        try:
            return name or getattr(fn, "__name__", "your function")
        except Exception:  # the kernel is gone, or the object will not say
            return "your function"

    if not callable(fn):
        raise GradingError(f"`{label()}` should be a function, but it is a {type(fn).__name__}.")
    try:
        with quiet():
            return fn(*args, **kwargs)
    except NotImplementedError:
        raise GradingError(
            f"`{label()}` is not written yet: replace `raise NotImplementedError()` in its "
            "answer cell with your code, run that cell, then run this one again."
        ) from None
    except GradingError:
        raise
    except Exception as exc:
        kind = getattr(exc, "remote_type", type(exc).__name__)
        if kind == "ReferenceUseError":
            raise ReferenceUse(str(exc)) from None
        shown = ", ".join([_describe(a) for a in args] + [f"{k}={_describe(v)}" for k, v in kwargs.items()])
        raise GradingError(
            f"`{label()}({shown})` raised {kind}: {exc}\n"
            "Run your function on these inputs in a cell of your own to see where it breaks."
        ) from exc


class _Raises:
    """Stands in for a call that failed on the learner's side (in a request of several), so that
    ``call`` words its failure as it would have worded that call's own."""

    def __init__(self, fn: Any, exc: BaseException) -> None:
        self._fn, self._exc = fn, exc

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise self._exc

    @property
    def __name__(self) -> str:
        return self._fn.__name__


def failed_call(fn: Callable, exc: BaseException, *args: Any, name: str | None = None, **kwargs: Any) -> None:
    """Raise what ``call(fn, *args, name=name, **kwargs)`` raises when ``fn`` raises ``exc``."""
    call(_Raises(fn, exc), *args, name=name, **kwargs)
    raise exc   # pragma: no cover - call always raises here


def calls(helper: str, fn: Callable, cases: Iterable[tuple[tuple, dict]], *,
          name: str | None = None) -> Iterator[Any]:
    """``call(fn, *args, name=name, **kwargs)`` for each ``(args, kwargs)`` of ``cases``, in turn.

    For a learner's function in the kernel the calls run there several to a request (1, then 2,
    4, ...: a wrong first answer still costs one call) through ``helper``, the dotted path of
    ``kernelside.calls.Caller`` written in the check module (so that the judge freezes it). Each
    result comes back as plain data, as it would from its own request, and is yielded one at a
    time: the check compares each before it sees the next, and a call that raised fails here,
    worded by ``call``, once the results before it are yielded. Only for functions whose calls
    are independent of one another's results (the cases are fixed before the first call), and
    for checks that name no reference function: the guards look through the course's package."""
    cases = [(tuple(args), dict(kwargs)) for args, kwargs in cases]
    if not is_remote(fn):
        for args, kwargs in cases:
            yield call(fn, *args, name=name, **kwargs)
        return
    caller = make(fn, helper)
    run = caller.run
    done, size = 0, 1
    while done < len(cases):
        asked = cases[done:done + size]
        size *= 2
        failure = None
        try:
            record = run(fn, [[list(args), kwargs] for args, kwargs in asked])
        except RemoteError as exc:   # the request as a whole: a refused shortcut, a dead kernel...
            failure = exc
            try:
                record = caller.last()
            except Exception:  # the kernel is gone: the failure is the first call's
                record = {"results": [], "stop": None}
        if type(record) is not dict or type(record.get("results")) is not list \
                or type(record.get("stop")) not in (dict, type(None)):
            raise remote_error("BadReply", "the helper's record is not a record")
        results, stop = record["results"], record["stop"]
        if len(results) > len(asked) or (failure is None and stop is None and not results):
            raise remote_error("BadReply", "the helper's record does not match the calls asked for")
        if failure is not None and stop is None and len(results) == len(asked):
            results = results[:-1]   # reported after the run's last call: that call's request failed
        yield from results
        done += len(results)
        if failure is None and stop is not None:
            failure = remote_error(str(stop.get("type")), str(stop.get("message")))
        if failure is not None:
            args, kwargs = cases[done]
            failed_call(fn, failure, *args, name=name, **kwargs)


def seeded(seed: int) -> np.random.Generator:
    """The random generator a hidden check draws its cases from: the same ``seed`` in a test
    cell gives the same cases, here and in the judge.

    >>> float(seeded(0).normal()) == float(np.random.default_rng(0).normal())
    True
    """
    return np.random.default_rng(seed)


def slip(got: Any, slips: Iterable[diagnose.Slip | None], *, expected: Any = None) -> str | None:
    """The words of the known slip (``(what it gives, words)``) whose result ``got`` is, or None:
    ``mlcourse.diagnose.named_slip``, for a hint built before a comparison."""
    return diagnose.named_slip(got, slips, expected=expected)


def check_array(
    name: str,
    got: Any,
    expected: Any,
    *,
    rtol: float = 1e-7,
    atol: float = 1e-10,
    sizes: Iterable[int] = (),
    case: str | None = None,
    hint: str | None = None,
    explain: bool = True,
    slips: Iterable[diagnose.Slip | None] = (),
) -> None:
    """Raise ``GradingError`` unless ``got`` equals ``expected`` element by element.

    ``|got - expected| <= atol + rtol * |expected|`` must hold everywhere and the
    shapes must match exactly (no broadcasting). ``sizes`` lists problem sizes
    (like the number of examples) that help name a missing ``1/N``. ``slips`` are this
    exercise's known mistakes, ``(what the slip gives, its words)``: on a failure the one
    ``got`` matches is the likely mistake, in place of the generic guesses.

    Example
    -------
    >>> check_array("mean", 2.0, 2.0)
    >>> check_array("mean", 4.0, 2.0)
    Traceback (most recent call last):
    ...
    mlcourse.grading.errors.GradingError: `mean`: wrong value...
    """
    where = f" ({case})" if case else ""
    g = to_float64(got, name)
    e = to_float64(expected, "the reference")
    if g.shape != e.shape:
        raise GradingError(_join(f"`{name}`{where}: wrong shape.",
                                 f"  expected shape: {e.shape}", f"  got shape:      {g.shape}",
                                 "likely mistake: " + diagnose.shape(g.shape, e.shape), hint))
    diff = abs(g - e)
    close = diff <= atol + rtol * abs(e)
    close &= (g == g)  # NaN is never close
    if bool(close.all()):
        return
    mistake = diagnose.named_slip(g, slips, expected=e)
    if mistake is None and explain:
        mistake = diagnose.likely_mistake(g, e, ~close, sizes, name=name if g.ndim else "")
    if g.ndim == 0:
        shown_e, shown_g = _fmt_pair(float(e), float(g))
        lines = [f"`{name}`{where}: wrong value.",
                 f"  expected: {shown_e}", f"  got:      {shown_g}"]
    else:
        bad = ~close
        worst = diff.copy()
        worst[g != g] = np.inf
        idx = tuple(int(i) for i in np.unravel_index(int(worst.argmax()), worst.shape))
        shown_e, shown_g = _fmt_pair(float(e[idx]), float(g[idx]))
        lines = [f"`{name}`{where}: {int(bad.sum())} of {g.size} elements are wrong.",
                 f"  worst element at index {idx}: expected {shown_e}, got {shown_g}"]
        if g.size <= 8:
            lines += [f"  expected: {_one_line(e)}", f"  got:      {_one_line(g)}"]
    lines.append(f"  tolerance: |got - expected| <= {atol:g} + {rtol:g} * |expected|")
    if mistake:
        lines.append("likely mistake: " + mistake)
    raise GradingError(_join(*lines, hint))


def check_equal(name: str, got: Any, expected: Any, *, case: str | None = None,
                hint: str | None = None) -> None:
    """Exact equality of numbers (integer counts, labels, indices): no "2x" or "off by a
    constant" guesses, which mislead for whole numbers."""
    check_array(name, got, expected, rtol=0.0, atol=0.0, case=case, hint=hint, explain=False)


def items(got: Any, count: int, message: str) -> list:
    """The ``count`` items of a returned sequence (tuple, list), or ``message`` as the failure."""
    try:
        n = len(got)
    except Exception:  # no length: a number, None, a generator, an object of the learner's
        n = None
    got_what = "a value without a length (a generator? return a tuple or a list)" if n is None else n
    check_true(n == count, f"{message} (expected {count} items, got {got_what})")
    return list(got)


def written(value: Any, name: str, what: str = "your number") -> None:
    """Refuse a graded prediction still at ``None``, the release's placeholder: "not written yet", and
    what to set it to (``what``: "your number", "one of the degrees [1, 3, 15]", ...)."""
    if value is None:
        raise GradingError(f"`{name}` is not written yet: in its answer cell, set it to {what} (in place "
                           "of None and `raise NotImplementedError()`), run that cell, then run this one again.")


def predicted(value: Any, name: str, what: str = "your number") -> float:
    """A graded prediction: one number the learner worked out by hand, as a float. ``None`` is "not
    written yet" (``written``); anything but one number says what it is."""
    written(value, name, what)
    got = to_float64(value, name)
    check_true(got.shape == (), f"`{name}` should be one number, got an array of shape {got.shape}.")
    return float(got)


def check_true(condition: Any, message: str) -> None:
    """Raise ``GradingError(message)`` unless ``condition`` is a real ``True``.

    Only ``bool`` and ``numpy.bool_`` count: an object that merely claims to be
    truthy is refused.
    """
    if type(condition) not in (bool, np.bool_):
        raise GradingError(f"a check expected True or False, got a {type(condition).__name__}. {message}")
    if not condition:
        raise GradingError(message)


def check_in_band(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    reference: float | None = None,
    what: str = "",
    hint: str | None = None,
) -> None:
    """Check a measured result (a loss, an accuracy) lies in ``[low, high]``.

    The message states the band and, when given, the reference solution's own
    result on the same hidden data, so the learner sees how far off they are.
    """
    v = to_float64(value, name)
    if v.shape != ():
        raise GradingError(f"`{name}` should be a single number, got an array of shape {v.shape}.")
    x = float(v)
    band = f"[{'-inf' if low is None else _fmt(low)}, {'inf' if high is None else _fmt(high)}]"
    ok = x == x and (low is None or x >= low) and (high is None or x <= high)
    if ok:
        return
    lines = [f"`{name}`{' ' + what if what else ''}: got {_fmt(x)}, expected a value in the passing "
             f"band {band}."]
    if reference is not None:
        lines.append(f"  the reference solution reaches {_fmt(reference)} on the same data.")
    raise GradingError(_join(*lines, hint))


def check_gradient(
    name: str,
    analytic: Any,
    f: Callable[[np.ndarray], float],
    x: np.ndarray,
    *,
    tol: float = 1e-6,
    sizes: Iterable[int] | None = None,
    case: str | None = None,
    hint: str | None = None,
) -> None:
    """Compare a learner's gradient of ``f`` at ``x`` with central differences.

    ``f`` must be the reference function (not the learner's), evaluated in
    float64. The message is ``mlcourse.gradcheck``'s: the relative error on the
    CS231n scale (about 1e-7 right, above 1e-2 wrong), the worst element and a
    diagnosis (a factor of 2, a missing 1/N, a flipped sign, a transpose...).
    """
    from mlcourse.gradcheck import check_gradient as gradient_check

    g = to_float64(analytic, name)
    x = to_float64(x, "x")
    result = gradient_check(f, g, x, tol=tol, name=name, sizes=list(sizes) if sizes else None)
    if not result.passed:
        raise GradingError(_join(f"`{name}`{f' ({case})' if case else ''}: {result.message}", hint))


def preload(*modules: str) -> None:
    """Import ``modules`` in a thread of the grading process, started when a check module that
    names them is imported: the judge imports the notebook's check modules before its first cell
    (``judge._judge_modules``), so a library its checks need (torch takes a second or more) loads
    while the learner's cells run in the kernel, not when the first check asks for it. Nothing is
    started in the kernel, which imports the check modules too (``agent.freeze``). An import
    that fails here is simply left to the check, where it fails as it always did."""
    import importlib
    import sys
    import threading

    if "ipykernel.kernelapp" in sys.modules:   # the learner's kernel: it loads what its cells use
        return
    missing = [name for name in modules if name not in sys.modules]
    if not missing:
        return

    def load() -> None:
        for name in missing:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: S112 - the check's own import reports it
                continue

    # not a daemon: a process that ends meanwhile waits for the import, never stops it halfway
    threading.Thread(target=load, name="mlcourse-preload", daemon=False).start()


def passed(message: str) -> None:
    """Tell the learner a check passed (stdout only, never stderr)."""
    from .cells import report

    report(f"✓ {message}")


def _join(*parts: str | None) -> str:
    return "\n".join(p if not p or p.startswith(("  ", "likely", "`")) or i == 0 else "hint: " + p
                     for i, p in enumerate(parts) if p)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """torch on one math thread inside the block, as in the grading kernel (``limits.KERNEL_ENV``):
    the judge's reference fits train tiny models, which several threads only slow down, and the
    judge's process runs beside the kernel (on a loaded 2-core machine a 40-epoch reference fit
    took 1.1 s on two threads, 0.06 s on one). The number of threads is put back afterwards."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
