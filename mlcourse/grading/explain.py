"""Turn "these arrays differ" into the mistake a learner most likely made.

Every function here takes plain float64 arrays (see ``_guard.to_float64``) and
returns a sentence, or None when the pattern does not fit. ``likely_mistake``
tries them from the most specific to the most general.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

_CLOSE = 1e-6  # relative agreement that counts as "the same number" in a pattern


def _same(a: np.ndarray, b: np.ndarray, tol: float = _CLOSE) -> bool:
    if a.shape != b.shape:
        return False
    scale = max(float(abs(b).max(initial=0.0)), float(abs(a).max(initial=0.0)), 1e-12)
    return bool((abs(a - b) <= tol * scale + 1e-12).all())


def shape_mistake(got_shape: tuple, expected_shape: tuple) -> str:
    """Explain a shape mismatch in words."""
    g, e = tuple(got_shape), tuple(expected_shape)
    if len(g) == 2 and len(e) == 2 and g == e[::-1]:
        return "It is the transpose: check the order of a matrix product (X @ W vs W @ X) or a missing .T."
    if int(np.prod(g)) == int(np.prod(e)):
        if len(g) == len(e) + 1 and 1 in g:
            return "There is an extra axis of length 1: use .ravel() or .squeeze(), or index with [:, 0]."
        if len(e) == len(g) + 1 and 1 in e:
            return "An axis of length 1 is missing: keep it with keepdims=True or .reshape(...)."
        return "Same number of elements, different arrangement: a reshape or a flatten went the wrong way."
    if len(g) == len(e) - 1 or (len(g) == 0 and len(e) > 0):
        return "An axis was summed or averaged away: check the `axis=` of your sum/mean/max."
    if len(g) == len(e) + 1 or (len(e) == 0 and len(g) > 0):
        if len(e) == 0:
            return "A single number (the mean over all examples) was expected: reduce with .mean() or .sum()."
        return "One reduction too few: did you forget to sum or average over an axis?"
    if len(g) == len(e):
        axes = [i for i, (a, b) in enumerate(zip(g, e, strict=True)) if a != b]
        return f"They differ along axis {axes[0]}: a reduction over the wrong axis, or broadcasting a (n,) against (n, 1)?"
    return "Print the shapes of your intermediate results to find where they go wrong."


def _ratio(got: np.ndarray, expected: np.ndarray) -> float | None:
    """The constant k with got ≈ k * expected, if there is one."""
    mask = abs(expected) > 1e-9 * max(float(abs(expected).max(initial=0.0)), 1e-300)
    if not mask.any():
        return None
    ratios = got[mask] / expected[mask]
    k = float(ratios.mean())
    if k == 0 or not _same(ratios, np.full_like(ratios, k), 1e-5):
        return None
    if not _same(got, k * expected, 1e-5):
        return None
    return k


def scale_mistake(got: np.ndarray, expected: np.ndarray, sizes: Iterable[int] = ()) -> str | None:
    k = _ratio(got, expected)
    if k is None or abs(k - 1) < 1e-6:
        return None
    if abs(k + 1) < 1e-6:
        return ("it has the right size but the opposite sign everywhere: a flipped sign "
                "(y - y_hat instead of y_hat - y, or a + where a - belongs: ascent instead of descent?).")
    for n in sorted({int(s) for s in sizes if int(s) > 2}, reverse=True):
        if abs(k - n) < 1e-6 * n:
            return (f"it is exactly {n}x the expected value, and {n} is a size in this problem: "
                    f"a missing division by {n} (a sum where the mean belongs)?")
        if abs(k * n - 1) < 1e-6:
            return (f"it is exactly 1/{n} of the expected value, and {n} is a size in this "
                    f"problem: divided by {n} once too often (a mean where the sum belongs)?")
    two = 2 in {int(s) for s in sizes}
    if abs(k - 2) < 1e-6 and two:
        return ("it is exactly 2x the expected value: an extra factor of 2, or a missing "
                "division by 2 (2 is also a size in this problem: a sum where the mean belongs?).")
    if abs(k - 0.5) < 1e-6 and two:
        return ("it is exactly half the expected value: a missing factor of 2 (the derivative of "
                "x**2 is 2*x), or divided by 2 once too often (2 is also a size in this problem).")
    if abs(k - 2) < 1e-6:
        return "it is exactly 2x the expected value: an extra factor of 2 (the 2 from differentiating a square counted twice?)."
    if abs(k - 0.5) < 1e-6:
        return "it is exactly half the expected value: a missing factor of 2 (the derivative of x**2 is 2*x)."
    if got.size < 2:  # any two numbers have a ratio: for a single number it proves nothing
        return None
    return f"it is the expected value times {k:.6g} everywhere: a wrong constant factor (a learning rate, a 1/N or a 2?)."


def offset_mistake(got: np.ndarray, expected: np.ndarray) -> str | None:
    if got.size < 2:
        return None
    d = got - expected
    c = float(d.mean())
    if abs(c) > 1e-9 and _same(d, np.full_like(d, c), 1e-6):
        return f"every element is off by the same constant {c:.6g}: a missing or extra bias term, or a shift (like subtracting the max) applied once too often?"
    return None


def transpose_mistake(got: np.ndarray, expected: np.ndarray) -> str | None:
    if got.ndim == 2 and got.shape[0] == got.shape[1] and got.size > 1 and _same(got.T, expected) and not _same(got, expected):
        return "it equals the transpose of the expected matrix: swap the operands of a matrix product, or add/remove a .T."
    return None


def single_element_mistake(got: np.ndarray, expected: np.ndarray, close) -> str | None:
    if got.size < 3:
        return None
    bad = ~close
    if int(bad.sum()) == 1:
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        return f"everything is right except the element at index {idx}: an off-by-one in a loop or an index, or an edge case?"
    return None


def nonfinite_mistake(got: np.ndarray) -> str | None:
    finite = np.isfinite(got)
    if finite.all():
        return None
    kinds = []
    if (got != got).any():
        kinds.append("NaN")
    if (~finite & (got == got)).any():
        kinds.append("inf")
    return (f"the answer contains {' and '.join(kinds)}: an overflow in exp (subtract the row max "
            "before exponentiating), a log of 0, or a division by zero.")


def zero_mistake(got: np.ndarray, expected: np.ndarray) -> str | None:
    if got.size and not (got != 0).any() and (expected != 0).any():
        return "every element is 0: is the result computed but never returned or accumulated (+=)?"
    return None


def likely_mistake(got: np.ndarray, expected: np.ndarray, close: np.ndarray, sizes: Iterable[int] = ()) -> str | None:
    """The most specific explanation that fits, or None."""
    sizes = tuple(sizes) + tuple(expected.shape)
    for explain in (
        lambda: nonfinite_mistake(got),
        lambda: zero_mistake(got, expected),
        lambda: scale_mistake(got, expected, sizes),
        lambda: transpose_mistake(got, expected),
        lambda: offset_mistake(got, expected),
        lambda: single_element_mistake(got, expected, close),
    ):
        sentence = explain()
        if sentence:
            return sentence
    return None
