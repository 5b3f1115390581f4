"""Name the likely mistake when an answer disagrees with what was expected.

One engine for every place that compares numbers with the truth: the grading
checks (``mlcourse.grading``, comparing with a reference) and gradient checking
(``mlcourse.gradcheck``, comparing an analytic gradient with central
differences). It looks for the classic slips, most specific first: NaN or inf,
all zeros, an exact constant factor (a flipped sign, a factor of 2, a missing or
extra 1/N), a transpose, a constant offset, and one or a few wrong elements.

Every function takes plain float64 arrays and returns a sentence, or None when
the pattern does not fit. A pattern "fits" when it explains the answer to within
``EXACT`` (relative), plus ``noise`` where the expected values are themselves
noisy (central differences).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

EXACT = 1e-5   # relative agreement that makes a pattern fit ("exactly 2x")
SLIP = 1e-6    # relative agreement that makes an answer "what that slip gives" (``named_slip``)

Sizes = Mapping[int, str]


def size_names(sizes: Mapping[int, str] | Iterable[int] | None) -> dict[int, str]:
    """``{size: what it is}`` from a mapping, or from a list of sizes without names."""
    if sizes is None:
        return {}
    if isinstance(sizes, Mapping):
        return {int(k): str(v) for k, v in sizes.items()}
    return {int(k): "a size in this problem" for k in sizes}


def _near(value: float, target: float) -> bool:
    return abs(value - target) <= 1e-4 * abs(target)


def shape(got: tuple, expected: tuple) -> str:
    """A shape mismatch in words."""
    g, e = tuple(got), tuple(expected)
    if len(g) == 2 and len(e) == 2 and g == e[::-1]:
        return ("it is the transpose: check the order of a matrix product (X @ W vs W @ X, "
                "X.T @ g vs g.T @ X) or a missing .T.")
    if int(np.prod(g)) == int(np.prod(e)):
        if len(g) == len(e) + 1 and 1 in g:
            return "there is an extra axis of length 1: use .ravel() or .squeeze(), or index with [:, 0]."
        if len(e) == len(g) + 1 and 1 in e:
            return "an axis of length 1 is missing: keep it with keepdims=True or .reshape(...)."
        return f"same number of elements, another layout: a reshape or a flatten went the wrong way (.reshape{e})."
    if len(e) == 0:
        return "a single number (the mean over all examples) was expected: reduce with .mean() or .sum()."
    if len(g) == len(e) - 1 or len(g) == 0:
        return "an axis was summed or averaged away: check the `axis=` of your sum/mean/max."
    if len(g) == len(e) + 1:
        return "one reduction too few: did you forget to sum or average over an axis?"
    if len(g) == len(e):
        axis = next(i for i, (a, b) in enumerate(zip(g, e, strict=True)) if a != b)
        return (f"they differ along axis {axis}: a reduction over the wrong axis, or broadcasting "
                "a (n,) against (n, 1)?")
    return "print the shapes of your intermediate results to find where they go wrong."


def nonfinite(got: np.ndarray) -> str | None:
    finite = np.isfinite(got)
    if finite.all():
        return None
    kinds = [k for k, present in (("NaN", (got != got).any()), ("inf", (~finite & (got == got)).any()))
             if present]
    return (f"the answer contains {' and '.join(kinds)}: an overflow in exp (subtract the row max "
            "before exponentiating), a log of 0, or a division by zero.")


def zeros(got: np.ndarray, expected: np.ndarray) -> str | None:
    if got.size and not (got != 0).any() and (expected != 0).any():
        return ("every element is 0: did you forget to return the result, or to accumulate it "
                "(+=) instead of binding a new local name, or zero it after computing it?")
    return None


def fitted_factor(got: np.ndarray, expected: np.ndarray, noise: float = 0.0) -> float | None:
    """The k with got = k * expected in every element (least squares), when one fits."""
    ee = float(np.sum(expected * expected))
    if ee == 0 or got.size == 0:
        return None
    k = float(np.sum(got * expected) / ee)
    if k == 0:
        return None
    misfit = float(np.max(np.abs(got - k * expected)))
    return k if misfit <= EXACT * float(np.max(np.abs(got))) + 10 * noise * abs(k) else None


def factor(k: float, sizes: Sizes, *, of: str = "the expected value", single: bool = False) -> str | None:
    """A constant factor ``got = k * expected`` in words. ``single``: only one number was
    compared, where any ratio fits, so only the factors that name a mistake are reported."""
    if _near(k, 1.0):
        return None
    if _near(k, -1.0):
        return (f"the opposite sign everywhere (exactly -1x {of}): a flipped sign (y - y_hat instead "
                "of y_hat - y, or a + where a - belongs), or the direction of gradient ascent "
                "instead of descent?")
    sign = "with the opposite sign, " if k < 0 else ""
    m = abs(k)
    if _near(m, 2.0):
        why = " (2 is also a size in this problem: a sum where the mean belongs?)" if 2 in sizes else ""
        return (f"{sign}exactly 2x {of}: an extra factor of 2 (the 2 from differentiating a square "
                f"counted twice, or a missing 1/2 that the loss's 1/2 cancels), or the same term "
                f"added twice?{why}")
    if _near(m, 0.5):
        why = " (2 is also a size in this problem: a mean where the sum belongs?)" if 2 in sizes else ""
        return (f"{sign}exactly half {of}: a missing factor of 2 (the derivative of x**2 is 2*x), "
                f"or divided by 2 once too often?{why}")
    for n in (round(m), round(1 / m)):
        if n < 2 or (n == round(m) and not _near(m, n)) or (n == round(1 / m) and not _near(1 / m, n)):
            continue
        if single and n not in sizes:
            continue
        what = f", and {n} is {sizes[n]}" if n in sizes else ""
        if n == round(m) and _near(m, n):
            return (f"{sign}exactly {n}x {of}{what}: a missing 1/N with N = {n}, i.e. a missing "
                    f"division by {n} (a sum where the mean belongs)?")
        return (f"{sign}exactly 1/{n} of {of}{what}: divided by N = {n} twice, or a mean where "
                "the sum belongs?")
    if single:
        return None
    return (f"{of} times {k:.6g} in every element: a wrong constant factor (a stray 2, 1/N, "
            "learning rate or temperature)?")


def transposed(got: np.ndarray, expected: np.ndarray, tol: float = EXACT) -> str | None:
    if got.ndim == 2 and got.shape[0] == got.shape[1] > 1:
        scale = max(float(np.max(np.abs(expected))), 1e-300)
        if np.max(np.abs(got.T - expected)) <= tol * scale and np.max(np.abs(got - expected)) > tol * scale:
            return ("it is the transpose of what was expected: swap the operands of a matrix "
                    "product (X.T @ g, not g.T @ X), or add or remove a .T.")
    return None


def offset(got: np.ndarray, expected: np.ndarray) -> str | None:
    if got.size < 2:
        return None
    d = got - expected
    c = float(d.mean())
    scale = max(float(np.max(np.abs(d))), 1e-300)
    if abs(c) > 1e-9 and np.max(np.abs(d - c)) <= 1e-6 * scale:
        return (f"every element is off by the same constant {c:.6g}: a missing or extra bias term, "
                "or a shift (like subtracting the max) applied once too often?")
    return None


def few_wrong(bad: Sequence[tuple], checked: int, name: str = "") -> str | None:
    """One or a few wrong elements out of ``checked``, by index."""
    if checked < 3 or not bad or len(bad) > max(3, checked // 20):
        return None
    where = ", ".join(f"{name}{list(i)}" if name else str(tuple(i)) for i in bad[:5])
    if len(bad) == 1:
        return (f"everything is right except the element at {where}: an off-by-one in a loop or an "
                "index, the first or last element, or another special case?")
    rows, cols = {i[0] for i in bad if len(i) == 2}, {i[1] for i in bad if len(i) == 2}
    line = (f" They all lie in row {next(iter(rows))}." if len(rows) == 1 and len(bad[0]) == 2 else
            f" They all lie in column {next(iter(cols))}." if len(cols) == 1 and len(bad[0]) == 2 else "")
    more = ", ..." if len(bad) > 5 else ""
    return (f"only {len(bad)} of {checked} elements are wrong: {where}{more}.{line} Look for a "
            "special case that treats these elements differently.")


def likely_mistake(got: np.ndarray, expected: np.ndarray, bad: np.ndarray,
                   sizes: Mapping[int, str] | Iterable[int] | None = None, *,
                   of: str = "the expected value", noise: float = 0.0, name: str = "") -> str | None:
    """The most specific explanation that fits ``got`` against ``expected`` (same shape),
    where ``bad`` marks the elements outside the tolerance; or None."""
    names = size_names(sizes)
    for axis, n in enumerate(expected.shape):
        names.setdefault(int(n), f"the length of axis {axis}")
    sentence = nonfinite(got) or zeros(got, expected)
    if sentence:
        return sentence
    k = fitted_factor(got, expected, noise)
    if k is not None:
        sentence = factor(k, names, of=of, single=got.size < 2)
        if sentence:
            return sentence
    wrong = [tuple(int(j) for j in i) for i in np.argwhere(bad)]
    return (transposed(got, expected) or offset(got, expected)
            or few_wrong(wrong, got.size, name))


# ---- named slips: an exercise's own mistakes, recognised by redoing it with each ----------------

Slip = tuple[Any, str]   # (what the exercise gives with the slip made, the slip in words)


def same_numbers(got: Any, other: Any, tol: float = SLIP) -> bool:
    """``got`` equals ``other`` to ``tol`` relative to ``other``'s largest element, shape for shape;
    lists and tuples of arrays (a model's parameters) element by element."""
    if isinstance(other, (list, tuple)):
        return (isinstance(got, (list, tuple)) and len(got) == len(other)
                and all(same_numbers(a, b, tol) for a, b in zip(got, other, strict=True)))
    try:
        a, b = np.asarray(got, dtype=np.float64), np.asarray(other, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if a.shape != b.shape:
        return False
    scale = max(float(np.max(np.abs(b))) if b.size else 0.0, 1e-12)
    return bool(np.all(np.abs(a - b) <= tol * scale))


def named_slip(got: Any, slips: Iterable[Slip | None], *, expected: Any = None,
               tol: float = SLIP) -> str | None:
    """The words of the first slip whose result ``got`` is, or None.

    Each slip is ``(result, words)``: ``result`` is what the exercise gives when redone with
    that slip (a callable is called only when reached, for a costly redo; None skips it), and
    ``words`` name the slip and its fix. A slip whose result is also the right answer
    (``expected``) cannot be told from it on this case, and is passed over.

    >>> named_slip(2.0, [(1.0, "forgot the mean"), (-2.0, "off by the sign"), (2.0, "summed")])
    'summed'
    """
    for slip in slips:
        if slip is None:
            continue
        result, words = slip
        result = result() if callable(result) else result
        if result is None or not same_numbers(got, result, tol):
            continue
        if expected is not None and same_numbers(expected, result, tol):
            continue
        return words
    return None


def redo(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[[], Any]:
    """A slip's result computed only when ``named_slip`` reaches it: ``(redo(f, x), words)``."""
    return lambda: fn(*args, **kwargs)
