"""Offline synthetic data sets, splits, standardisation and mini-batches.

Everything here is seeded and generated on the spot, so a notebook never
downloads anything and two runs with the same seed see the same numbers.

- ``make_regression`` / ``make_classification``: small 1-D and 2-D problems to plot.
- ``GrammarSource`` / ``make_corpus``: a text corpus from a tiny stochastic grammar
  whose entropy rate (the best loss any language model can reach) is known exactly.
- ``make_lm_dataset`` / ``make_sequences``: next-token training pairs from a token stream.
- ``train_val_test_split``: a disjoint, seeded split that counts how often the test
  set is read.
- ``Standardizer``: zero mean, unit variance, fitted on the training set only.
- ``iterate_minibatches``: shuffled mini-batches of numpy arrays or torch tensors.

numpy only: torch is never imported here at module level.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

__all__ = [
    "make_regression",
    "make_classification",
    "GrammarSource",
    "make_corpus",
    "make_lm_dataset",
    "make_sequences",
    "Split",
    "train_val_test_split",
    "Standardizer",
    "iterate_minibatches",
]

SPLIT_NAMES = ("train", "val", "test")


# --------------------------------------------------------------------------- helpers


def _check_seed(seed: Any) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative int, e.g. seed=0")


def _check_positive_int(value: Any, name: str, example: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r} must be a positive int, e.g. {name}={example}")
    return int(value)


def _length(a: Any, name: str) -> int:
    shape = getattr(a, "shape", None)
    if shape is not None:
        if len(shape) == 0:
            raise ValueError(f"{name} is a scalar; pass an array with one row per example")
        return int(shape[0])
    return len(a)


def _check_same_length(X: Any, y: Any) -> int:
    n_X, n_y = _length(X, "X"), _length(y, "y")
    if n_X != n_y:
        raise ValueError(
            f"X has {n_X} rows but y has {n_y} entries; they must have one entry per "
            "example (the same length)"
        )
    return n_X


def _is_torch(a: Any) -> bool:
    return type(a).__module__.split(".")[0] == "torch"


def _take(a: Any, index: np.ndarray) -> Any:
    """Rows ``index`` of a numpy array, a torch tensor or a list (as a numpy array)."""
    if _is_torch(a):
        import torch  # lazily: only when the caller already uses torch

        return a[torch.from_numpy(index).to(a.device)]
    return np.asarray(a)[index]


# --------------------------------------------------------------------------- regression

_REGRESSION_TRUTHS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda x: 0.8 * x - 0.5,
    "sine": lambda x: np.sin(x),
    "cubic": lambda x: 0.1 * x**3 - 0.6 * x,
}
_REGRESSION_RANGE = (-3.0, 3.0)


def make_regression(
    n_samples: int = 100,
    *,
    kind: str = "sine",
    noise: float = 0.2,
    seed: int = 0,
    return_truth: bool = False,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, Callable]:
    """A 1-D regression problem: ``y = f(x) + noise * N(0, 1)`` with x uniform on [-3, 3].

    Parameters
    ----------
    n_samples : int
        Number of examples n.
    kind : "linear", "sine" or "cubic"
        The true function f: ``0.8 x - 0.5``, ``sin(x)`` or ``0.1 x^3 - 0.6 x``.
    noise : float
        Standard deviation of the Gaussian noise. No model can reach a mean squared
        error below ``noise**2`` on fresh data: that is the noise floor.
    seed : int
        Seed of the random generator.
    return_truth : bool
        Also return the noiseless function f, to plot it or to measure a model against it.

    Returns
    -------
    X : (n, 1) float64
    y : (n,) float64
    f : callable, only with ``return_truth=True``; ``f(X)`` accepts (m, 1) or (m,) and
        returns (m,).

    Example
    -------
    >>> X, y, f = make_regression(50, kind="cubic", noise=0.1, return_truth=True)
    >>> X.shape, y.shape, f(X).shape
    ((50, 1), (50,), (50,))
    """
    n_samples = _check_positive_int(n_samples, "n_samples", 100)
    if kind not in _REGRESSION_TRUTHS:
        raise ValueError(f"kind={kind!r} is unknown; use one of {sorted(_REGRESSION_TRUTHS)}")
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise={noise!r} must be a finite number >= 0, e.g. noise=0.2")
    _check_seed(seed)
    rule = _REGRESSION_TRUTHS[kind]

    def f(X: np.ndarray) -> np.ndarray:
        x = np.asarray(X, dtype=np.float64)
        if x.ndim == 2 and x.shape[1] == 1:
            x = x[:, 0]
        if x.ndim != 1:
            raise ValueError(f"f expects X of shape (m, 1) or (m,), got shape {x.shape}")
        return rule(x)

    rng = np.random.default_rng(seed)
    X = rng.uniform(*_REGRESSION_RANGE, size=(n_samples, 1))
    y = f(X) + noise * rng.standard_normal(n_samples)
    return (X, y, f) if return_truth else (X, y)


# --------------------------------------------------------------------------- classification


def _balanced_labels(n_samples: int, n_classes: int) -> np.ndarray:
    """Labels 0..C-1 whose counts differ by at most one, in class order."""
    counts = np.full(n_classes, n_samples // n_classes)
    counts[: n_samples % n_classes] += 1
    return np.repeat(np.arange(n_classes, dtype=np.int64), counts)


def make_classification(
    n_samples: int = 300,
    *,
    kind: str = "blobs",
    n_classes: int | None = None,
    noise: float = 0.1,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A 2-D classification problem with balanced classes.

    Parameters
    ----------
    n_samples : int
        Number of examples n; class sizes differ by at most one.
    kind : "blobs", "moons" or "spirals"
        "blobs": Gaussian clouds (std 0.7) around centres on a circle of radius 2.5;
        "moons": two interleaved half circles (always 2 classes);
        "spirals": one spiral arm per class (hard for a linear model).
    n_classes : int or None
        Number of classes C; None means 3 for blobs and spirals, 2 for moons.
    noise : float
        Standard deviation of the Gaussian jitter added to every point.
    seed : int
        Seed of the random generator.

    Returns
    -------
    X : (n, 2) float64
    y : (n,) int64, labels 0..C-1, in shuffled order

    Example
    -------
    >>> X, y = make_classification(200, kind="moons", seed=1)
    >>> X.shape, np.bincount(y).tolist()
    ((200, 2), [100, 100])
    """
    n_samples = _check_positive_int(n_samples, "n_samples", 300)
    kinds = ("blobs", "moons", "spirals")
    if kind not in kinds:
        raise ValueError(f"kind={kind!r} is unknown; use one of {kinds}")
    if n_classes is None:
        n_classes = 2 if kind == "moons" else 3
    n_classes = _check_positive_int(n_classes, "n_classes", 3)
    if n_classes < 2:
        raise ValueError(f"n_classes={n_classes} must be at least 2, e.g. n_classes=3")
    if kind == "moons" and n_classes != 2:
        raise ValueError(f"kind='moons' has exactly 2 classes, got n_classes={n_classes}")
    if n_samples < n_classes:
        raise ValueError(
            f"n_samples={n_samples} is fewer than n_classes={n_classes}; every class needs "
            f"at least one example, so use n_samples >= {n_classes}"
        )
    if not np.isfinite(noise) or noise < 0:
        raise ValueError(f"noise={noise!r} must be a finite number >= 0, e.g. noise=0.1")
    _check_seed(seed)

    rng = np.random.default_rng(seed)
    y = _balanced_labels(n_samples, n_classes)
    if kind == "blobs":
        angles = 2 * np.pi * np.arange(n_classes) / n_classes
        centres = 2.5 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        X = centres[y] + 0.7 * rng.standard_normal((n_samples, 2))
    elif kind == "moons":
        t = rng.uniform(0.0, np.pi, n_samples)
        upper = np.stack([np.cos(t), np.sin(t)], axis=1)
        lower = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)
        X = np.where((y == 0)[:, None], upper, lower)
    else:  # spirals: radius grows from 0.05 to 1 while the angle turns 1.5 times
        t = rng.uniform(0.05, 1.0, n_samples)
        theta = 2 * np.pi * (y / n_classes + 1.5 * t)
        X = t[:, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    X = X + noise * rng.standard_normal((n_samples, 2))
    order = rng.permutation(n_samples)
    return X[order].astype(np.float64), y[order]


# --------------------------------------------------------------------------- grammar corpus

_DETERMINERS = {"the": "any", "a": "sg", "some": "pl"}  # word -> number it allows
_DETERMINER_PROBS = {"the": 0.5, "a": 0.25, "some": 0.25}
_ADJECTIVES = ("big", "small", "lazy", "happy")
_NOUNS = {"sg": ("dog", "cat", "bird", "child"), "pl": ("dogs", "cats", "birds", "children")}
_ADVERBS = ("often", "never", "quietly")
_TRANSITIVE = {"sg": ("sees", "likes", "chases"), "pl": ("see", "like", "chase")}
_INTRANSITIVE = {"sg": ("sleeps", "runs"), "pl": ("sleep", "run")}
_P_ADJECTIVE = (0.4, 0.2, 0.0)  # chance of one more adjective after 0, 1, 2 of them
_P_ADVERB = 0.3
_P_TRANSITIVE = 0.6


def _grammar_rules() -> dict[str, list[tuple[str, float, str]]]:
    """The grammar as ``state -> [(word, probability, next state), ...]``.

    A sentence is ``DET [ADJ [ADJ]] NOUN [ADV] VERB [DET [ADJ [ADJ]] NOUN] .``; the
    verb agrees in number with the subject noun, which can be several words back.
    """
    rules: dict[str, list[tuple[str, float, str]]] = {}

    def noun_phrase(role: str, after_sg: str, after_pl: str) -> None:
        for number in ("any", "sg", "pl"):
            for n_adj, p_adj in enumerate(_P_ADJECTIVE):
                arcs = [(w, p_adj / len(_ADJECTIVES), f"{role}:{number}:{n_adj + 1}")
                        for w in _ADJECTIVES if p_adj > 0]
                nouns = [(w, "sg") for w in _NOUNS["sg"]] if number != "pl" else []
                nouns += [(w, "pl") for w in _NOUNS["pl"]] if number != "sg" else []
                arcs += [(w, (1 - p_adj) / len(nouns), after_sg if num == "sg" else after_pl)
                         for w, num in nouns]
                rules[f"{role}:{number}:{n_adj}"] = arcs

    def determiners(role: str) -> list[tuple[str, float, str]]:
        return [(w, _DETERMINER_PROBS[w], f"{role}:{num}:0") for w, num in _DETERMINERS.items()]

    rules["start"] = determiners("subj")
    noun_phrase("subj", "subj-done:sg", "subj-done:pl")
    for number in ("sg", "pl"):
        verbs = [(w, _P_TRANSITIVE / len(_TRANSITIVE[number]), "obj")
                 for w in _TRANSITIVE[number]]
        verbs += [(w, (1 - _P_TRANSITIVE) / len(_INTRANSITIVE[number]), "end")
                  for w in _INTRANSITIVE[number]]
        rules[f"adverb:{number}"] = verbs
        rules[f"subj-done:{number}"] = (
            [(w, _P_ADVERB / len(_ADVERBS), f"adverb:{number}") for w in _ADVERBS]
            + [(w, (1 - _P_ADVERB) * p, nxt) for w, p, nxt in verbs]
        )
    rules["obj"] = determiners("obj")
    noun_phrase("obj", "end", "end")
    rules["end"] = [(".", 1.0, "start")]
    return rules


def _entropy(p: np.ndarray) -> float:
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


class GrammarSource:
    """A tiny stochastic English-like grammar whose entropy rate is known exactly.

    Sentences look like ``a lazy dog often chases the cats .`` or ``some birds sleep .``.
    The generator is a hidden state (where we are in the sentence, and whether the
    subject is singular or plural) that emits one word at a time; the next state is a
    function of the current state and the emitted word (a *unifilar* Markov source).
    So the probability of any token stream is computable, and the entropy rate is

        H = sum_s pi(s) * H(next word | state s)      (nats per token)

    with pi the stationary distribution of the state chain, solved as a linear system.
    H is the lowest average cross-entropy any language model can reach on this corpus.

    The previous word alone does not reveal the state: after ``lazy`` the noun's number
    depends on the determiner before it (``a`` vs ``some``), and after ``often`` the
    verb must agree with a subject two or more words back. A bigram model therefore
    stays measurably above H, while 3-4 words of context come close
    (see ``conditional_entropy``).

    Attributes
    ----------
    vocab : list[str]
        The 29 tokens; a token id is an index into it.
    stoi : dict[str, int]
        Word -> token id.
    states : list[str]
        Names of the hidden states; sampling starts in ``"start"`` (a sentence start).

    Example
    -------
    >>> source = GrammarSource()
    >>> tokens = source.sample(12, seed=0)
    >>> round(source.entropy_rate(), 3) < round(source.conditional_entropy(1), 3)
    True
    """

    def __init__(self) -> None:
        rules = _grammar_rules()
        self.states: list[str] = list(rules)
        words = dict.fromkeys(w for arcs in rules.values() for w, _, _ in arcs)
        self.vocab: list[str] = list(words)
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.vocab)}
        state_id = {s: i for i, s in enumerate(self.states)}
        n_states, n_vocab = len(self.states), len(self.vocab)
        # emit[s, x] = P(x | s); step[s, x] = next state (-1 where x cannot follow s)
        self.emit = np.zeros((n_states, n_vocab))
        self.step = np.full((n_states, n_vocab), -1, dtype=np.int64)
        for s, arcs in rules.items():
            for w, p, nxt in arcs:
                if p > 0:
                    self.emit[state_id[s], self.stoi[w]] += p
                    self.step[state_id[s], self.stoi[w]] = state_id[nxt]
        assert np.allclose(self.emit.sum(axis=1), 1.0), "each state's word probabilities sum to 1"
        self.start_state = state_id["start"]
        # plain Python tables: sampling and scoring walk token by token
        self._cum = [np.cumsum(row).tolist() for row in self.emit]
        self._log_emit = np.log(np.where(self.emit > 0, self.emit, 1.0)).tolist()
        self._step = self.step.tolist()

    def __repr__(self) -> str:
        return (f"GrammarSource(vocab_size={len(self.vocab)}, states={len(self.states)}, "
                f"entropy_rate={self.entropy_rate():.4f} nats/token)")

    # ---- the exact numbers

    def stationary_distribution(self) -> np.ndarray:
        """pi: (S,), the long-run fraction of time the hidden chain spends in each state.

        Solves ``pi P = pi, sum(pi) = 1`` with ``P[s, s'] = sum_x P(x|s) [step(s, x) = s']``.
        """
        n = len(self.states)
        P = np.zeros((n, n))
        for s in range(n):
            for x in np.flatnonzero(self.emit[s]):
                P[s, self.step[s, x]] += self.emit[s, x]
        A = np.vstack([P.T - np.eye(n), np.ones((1, n))])
        b = np.zeros(n + 1)
        b[-1] = 1.0
        pi, *_ = np.linalg.lstsq(A, b, rcond=None)
        return pi

    def entropy_rate(self) -> float:
        """The exact entropy rate H in nats per token: ``sum_s pi(s) H(next | s)``.

        Example
        -------
        >>> 0 < GrammarSource().entropy_rate() < math.log(29)
        True
        """
        pi = self.stationary_distribution()
        return float(sum(pi[s] * _entropy(self.emit[s]) for s in range(len(self.states))))

    def conditional_entropy(self, k: int) -> float:
        """The loss floor, in nats per token, of a model that sees only the previous k tokens.

        ``H_k = H(x_t | x_{t-k}, ..., x_{t-1})`` for the stationary process, computed
        exactly: every reachable k-token context is followed forward from pi, and
        contexts that leave the same belief over hidden states are merged (they
        predict the same future). H_0 is the unigram entropy; H_k never increases
        with k (up to ~1e-15 rounding) and equals ``entropy_rate()`` from k = 5 on,
        where 5 tokens always pin down the hidden state.

        Parameters
        ----------
        k : int >= 0
            Context length in tokens.

        Example
        -------
        >>> src = GrammarSource()
        >>> src.conditional_entropy(1) > src.conditional_entropy(3) >= src.entropy_rate()
        True
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
            raise ValueError(f"k={k!r} must be an int >= 0 (the number of tokens of context)")
        beliefs = {None: (1.0, self.stationary_distribution())}  # key -> (mass, belief)
        n_states = len(self.states)
        for _ in range(int(k)):
            merged: dict[tuple, tuple[float, np.ndarray]] = {}
            for mass, belief in beliefs.values():
                joint = belief[:, None] * self.emit  # (S, V): P(state, next word | context)
                for x in np.flatnonzero(joint.sum(axis=0) > 0):
                    new = np.bincount(self.step[:, x][joint[:, x] > 0],
                                      weights=joint[:, x][joint[:, x] > 0], minlength=n_states)
                    q = new.sum()
                    new /= q
                    key = tuple(np.round(new, 12))
                    old_mass = merged.get(key, (0.0, new))[0]
                    merged[key] = (old_mass + mass * q, new)
            beliefs = merged
        return float(sum(mass * _entropy(belief @ self.emit) for mass, belief in beliefs.values()))

    # ---- sampling and scoring

    def sample(self, n_tokens: int, seed: int = 0) -> np.ndarray:
        """Draw a token stream, starting at the beginning of a sentence.

        Returns
        -------
        tokens : (n_tokens,) int64

        Example
        -------
        >>> src = GrammarSource()
        >>> src.decode(src.sample(8, seed=3)).count(" ") == 7
        True
        """
        n_tokens = _check_positive_int(n_tokens, "n_tokens", 20_000)
        _check_seed(seed)
        uniforms = np.random.default_rng(seed).random(n_tokens).tolist()
        tokens = [0] * n_tokens
        s = self.start_state
        for t, u in enumerate(uniforms):
            cum = self._cum[s]
            x = min(bisect.bisect_right(cum, u), len(cum) - 1)
            while self._step[s][x] < 0:  # rounding at the top of cum: step back to a real word
                x -= 1
            tokens[t] = x
            s = self._step[s][x]
        return np.asarray(tokens, dtype=np.int64)

    def log_prob(self, tokens: Sequence[int] | np.ndarray) -> float:
        """``log P(tokens)`` in nats, for a stream that starts at a sentence start.

        ``-log_prob(tokens) / len(tokens)`` of a long sample approaches ``entropy_rate()``.
        Raises ``ValueError`` at the first token the grammar does not allow.
        """
        tokens = self._check_tokens(tokens)
        total, s = 0.0, self.start_state
        for t, x in enumerate(tokens.tolist()):
            nxt = self._step[s][x]
            if nxt < 0:
                raise ValueError(
                    f"token {t} ({self.vocab[x]!r}) cannot follow state {self.states[s]!r}; "
                    "log_prob needs a stream the grammar can produce from a sentence start"
                )
            total += self._log_emit[s][x]
            s = nxt
        return total

    def valid_transitions(self, tokens: Sequence[int] | np.ndarray) -> np.ndarray:
        """Which tokens the grammar allows after the ones before them.

        The hidden state is recovered from the tokens: we track the set of states the
        stream could be in, starting from "any state". A token is valid when some state
        in the set can emit it. After an invalid token the tracking restarts from it.

        Returns
        -------
        valid : (n - 1,) bool, one entry per token after the first
        """
        tokens = self._check_tokens(tokens)
        all_states = set(range(len(self.states)))
        possible = self._advance(all_states, int(tokens[0])) if len(tokens) else set()
        valid = np.ones(max(len(tokens) - 1, 0), dtype=bool)
        for t, x in enumerate(tokens[1:].tolist()):
            nxt = self._advance(possible, x)
            if not nxt:
                valid[t] = False
                nxt = self._advance(all_states, x)
            possible = nxt
        return valid

    def valid_fraction(self, tokens: Sequence[int] | np.ndarray) -> float:
        """Fraction of tokens (after the first) that the grammar allows in their place.

        1.0 for any stream the grammar generated; clearly lower for random tokens.

        Example
        -------
        >>> src = GrammarSource()
        >>> src.valid_fraction(src.sample(500))
        1.0
        >>> src.valid_fraction(np.random.default_rng(0).integers(0, 29, 500)) < 0.6
        True
        """
        valid = self.valid_transitions(tokens)
        return float(valid.mean()) if len(valid) else 1.0

    def is_valid(self, tokens: Sequence[int] | np.ndarray) -> bool:
        """True when every token is allowed after the ones before it."""
        return bool(self.valid_transitions(tokens).all())

    def _advance(self, possible: set[int], x: int) -> set[int]:
        return {self._step[s][x] for s in possible if self._step[s][x] >= 0}

    # ---- text

    def decode(self, tokens: Sequence[int] | np.ndarray) -> str:
        """Token ids -> text, words separated by single spaces.

        Example
        -------
        >>> src = GrammarSource()
        >>> src.decode(src.encode("a dog runs ."))
        'a dog runs .'
        """
        return " ".join(self.vocab[x] for x in self._check_tokens(tokens).tolist())

    def encode(self, text: str) -> np.ndarray:
        """Text -> token ids: (n,) int64. Words are split on white space; "." may touch a word."""
        words = text.replace(".", " . ").split()
        unknown = sorted({w for w in words if w not in self.stoi})
        if unknown:
            raise ValueError(f"unknown words {unknown}; the vocabulary is {self.vocab}")
        return np.array([self.stoi[w] for w in words], dtype=np.int64)

    def _check_tokens(self, tokens: Sequence[int] | np.ndarray) -> np.ndarray:
        arr = np.asarray(tokens)
        if arr.ndim != 1:
            raise ValueError(f"tokens must be 1-D (n,), got shape {arr.shape}; "
                             "flatten a (B, T) batch with tokens.ravel()")
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"tokens must be integer ids, got dtype {arr.dtype}")
        if arr.size and (arr.min() < 0 or arr.max() >= len(self.vocab)):
            raise ValueError(f"token ids must lie in [0, {len(self.vocab)}), got values from "
                             f"{arr.min()} to {arr.max()}")
        return arr.astype(np.int64, copy=False)


def make_corpus(n_tokens: int = 20_000, seed: int = 0) -> tuple[np.ndarray, GrammarSource]:
    """A token stream from ``GrammarSource`` and the source itself (for its entropy rate).

    Returns
    -------
    tokens : (n_tokens,) int64
    source : GrammarSource

    Example
    -------
    >>> tokens, source = make_corpus(1000)
    >>> tokens.shape, source.valid_fraction(tokens)
    ((1000,), 1.0)
    """
    source = GrammarSource()
    return source.sample(n_tokens, seed=seed), source


def _check_token_stream(tokens: Any) -> np.ndarray:
    arr = np.asarray(tokens)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"tokens must be a 1-D integer array (n,), got shape {arr.shape} and dtype "
            f"{arr.dtype}"
        )
    return arr.astype(np.int64, copy=False)


def make_lm_dataset(tokens: np.ndarray, context: int) -> tuple[np.ndarray, np.ndarray]:
    """Sliding windows for next-token prediction from a fixed context.

    ``X[i] = tokens[i : i + context]`` and ``y[i] = tokens[i + context]``.

    Parameters
    ----------
    tokens : (N,) int
    context : int >= 1, the number of previous tokens the model sees

    Returns
    -------
    X : (N - context, context) int64
    y : (N - context,) int64

    Example
    -------
    >>> X, y = make_lm_dataset(np.arange(6), context=2)
    >>> X[0].tolist(), int(y[0]), len(y)
    ([0, 1], 2, 4)
    """
    tokens = _check_token_stream(tokens)
    context = _check_positive_int(context, "context", 3)
    if len(tokens) <= context:
        raise ValueError(f"{len(tokens)} tokens give no window of context={context}; "
                         f"pass at least {context + 1} tokens")
    X = np.lib.stride_tricks.sliding_window_view(tokens[:-1], context).copy()
    return X, tokens[context:].copy()


def make_sequences(
    tokens: np.ndarray, block_size: int, stride: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Blocks of tokens and the same blocks shifted by one: targets for (B, T, V) logits.

    ``inputs[b] = tokens[s : s + T]`` and ``targets[b] = tokens[s + 1 : s + T + 1]`` with
    ``s = b * stride``; so ``targets[b, t]`` is the token that follows ``inputs[b, t]``.

    Parameters
    ----------
    tokens : (N,) int
    block_size : int >= 1, the sequence length T
    stride : int or None
        Distance between block starts; None means ``block_size`` (blocks do not overlap).

    Returns
    -------
    inputs : (B, T) int64
    targets : (B, T) int64

    Example
    -------
    >>> inputs, targets = make_sequences(np.arange(9), block_size=4)
    >>> inputs.tolist(), targets.tolist()
    ([[0, 1, 2, 3], [4, 5, 6, 7]], [[1, 2, 3, 4], [5, 6, 7, 8]])
    """
    tokens = _check_token_stream(tokens)
    block_size = _check_positive_int(block_size, "block_size", 32)
    stride = block_size if stride is None else _check_positive_int(stride, "stride", block_size)
    if len(tokens) < block_size + 1:
        raise ValueError(f"{len(tokens)} tokens are too few for block_size={block_size}; "
                         f"pass at least {block_size + 1} tokens or a smaller block_size")
    starts = np.arange(0, len(tokens) - block_size, stride)
    offsets = np.arange(block_size)
    index = starts[:, None] + offsets[None, :]
    return tokens[index], tokens[index + 1]


# --------------------------------------------------------------------------- splits


class Split:
    """A train / validation / test split that counts how often the test set is read.

    ``split.train``, ``split.val`` and ``split.test`` are ``(X, y)`` tuples. Reading
    ``split.test`` adds one to ``split.test_reads``: the test set is for a single, final
    evaluation, and the counter makes every extra peek visible.

    Attributes
    ----------
    indices : dict[str, np.ndarray]
        Row indices into the original X for "train", "val" and "test" (for leakage checks).
    sizes : dict[str, int]
    """

    def __init__(self, X: Any, y: Any, indices: dict[str, np.ndarray]) -> None:
        self.indices = {name: indices[name] for name in SPLIT_NAMES}
        self._parts = {name: (_take(X, idx), _take(y, idx)) for name, idx in self.indices.items()}
        self._test_reads = 0

    @property
    def train(self) -> tuple[Any, Any]:
        """(X_train, y_train)."""
        return self._parts["train"]

    @property
    def val(self) -> tuple[Any, Any]:
        """(X_val, y_val)."""
        return self._parts["val"]

    @property
    def test(self) -> tuple[Any, Any]:
        """(X_test, y_test); every read is counted in ``test_reads``."""
        self._test_reads += 1
        return self._parts["test"]

    @property
    def test_reads(self) -> int:
        """How many times ``.test`` has been read."""
        return self._test_reads

    @property
    def sizes(self) -> dict[str, int]:
        return {name: len(idx) for name, idx in self.indices.items()}

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}={n}" for name, n in self.sizes.items())
        return f"Split({sizes}, test_reads={self._test_reads})"


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    f = np.asarray(fractions, dtype=np.float64)
    if f.shape != (3,):
        raise ValueError(f"fractions={tuple(fractions)!r} must be three numbers "
                         "(train, val, test), e.g. (0.7, 0.15, 0.15)")
    for name, value in zip(SPLIT_NAMES, f, strict=True):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"the {name} fraction is {value}; fractions must be >= 0, "
                             "e.g. (0.7, 0.15, 0.15)")
    if f[0] == 0:
        raise ValueError("the train fraction is 0; the training set cannot be empty, "
                         "e.g. fractions=(0.7, 0.15, 0.15)")
    total = f.sum()
    if abs(total - 1.0) > 1e-9:
        suggestion = tuple(round(float(v), 4) for v in f / total)
        raise ValueError(f"fractions={tuple(float(v) for v in f)} sum to {total:g}, not 1; "
                         f"rescaled they would be {suggestion}, or use (0.7, 0.15, 0.15)")
    return f


def _allocate(n: int, f: np.ndarray) -> np.ndarray:
    """Split n into counts close to ``n * f`` (each within one), summing to n exactly."""
    raw = n * f
    counts = np.floor(raw + 1e-9).astype(np.int64)
    remainder = n - counts.sum()
    order = np.argsort(-(raw - counts), kind="stable")  # largest fractional part first
    counts[order[:remainder]] += 1
    return counts


def train_val_test_split(
    X: Any,
    y: Any,
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
    stratify: bool = False,
) -> Split:
    """Split (X, y) into disjoint train, validation and test sets, reproducibly.

    The rows are shuffled with ``np.random.default_rng(seed)``; the same seed always
    gives the same split. Every row lands in exactly one part. With ``stratify=True``
    each class is split separately, so its share in every part matches ``fractions``
    to within one example.

    Parameters
    ----------
    X : (n, ...) array (numpy, torch or list)
    y : (n,) array
    fractions : (train, val, test), each >= 0, summing to 1; a val or test fraction of 0
        gives an empty part on purpose.
    seed : int
    stratify : bool
        Keep each class's proportion in every part (y holds class labels).

    Returns
    -------
    Split, with ``.train``, ``.val``, ``.test`` as (X, y), ``.indices`` and ``.test_reads``.

    Example
    -------
    >>> X, y = make_classification(100, seed=0)
    >>> split = train_val_test_split(X, y, seed=0)
    >>> split
    Split(train=70, val=15, test=15, test_reads=0)
    >>> X_train, y_train = split.train
    """
    n = _check_same_length(X, y)
    f = _check_fractions(fractions)
    _check_seed(seed)
    rng = np.random.default_rng(seed)
    if not stratify:
        counts = _allocate(n, f)
        _check_nonempty(counts, f, n, where="")
        order = rng.permutation(n)
        bounds = np.cumsum(counts)[:-1]
        parts = dict(zip(SPLIT_NAMES, np.split(order, bounds), strict=True))
    else:
        labels = np.asarray(y)
        if labels.ndim != 1:
            raise ValueError(f"stratify=True needs 1-D class labels y (n,), got shape "
                             f"{labels.shape}")
        classes, inverse = np.unique(labels, return_inverse=True)
        pieces: dict[str, list[np.ndarray]] = {name: [] for name in SPLIT_NAMES}
        for c, label in enumerate(classes):
            members = rng.permutation(np.flatnonzero(inverse == c))
            counts = _allocate(len(members), f)
            _check_nonempty(counts, f, len(members), where=f" of class {label.item()!r}")
            parts_c = np.split(members, np.cumsum(counts)[:-1])
            for name, part in zip(SPLIT_NAMES, parts_c, strict=True):
                pieces[name].append(part)
        # shuffle within each part so the classes are interleaved, not in blocks
        parts = {name: rng.permutation(np.concatenate(p)) for name, p in pieces.items()}
    return Split(X, y, {name: idx.astype(np.int64) for name, idx in parts.items()})


def _check_nonempty(counts: np.ndarray, f: np.ndarray, n: int, where: str) -> None:
    for name, count, frac in zip(SPLIT_NAMES, counts, f, strict=True):
        if count == 0 and frac > 0:
            needed = math.ceil(1 / frac - 1e-9)
            raise ValueError(
                f"the {name} part would be empty: {n} examples{where} times {name} fraction "
                f"{frac:g} rounds to 0; it needs at least {needed} examples{where} "
                f"(or set that fraction to 0 on purpose)"
            )


# --------------------------------------------------------------------------- standardisation


class Standardizer:
    """Rescale every column to zero mean and unit standard deviation.

    Fit it on the training set only, then transform train, validation and test with the
    same ``mean_`` and ``std_``: fitting on all data leaks the test set into training.
    A constant column gets ``std_ = 1`` (it is centred, never divided by zero).

    Attributes
    ----------
    mean_ : (d,) float64
    std_ : (d,) float64

    Example
    -------
    >>> scaler = Standardizer().fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
    >>> scaler.transform(np.array([[2.0, 5.0]])).tolist()
    [[0.0, 0.0]]
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None

    def __repr__(self) -> str:
        fitted = "unfitted" if self.mean_ is None else f"d={len(self.mean_)}"
        return f"Standardizer({fitted})"

    def fit(self, X: np.ndarray) -> Standardizer:
        """Learn the column means and standard deviations of X: (n, d). Returns self."""
        X = self._as_2d(X, "fit")
        if len(X) == 0:
            raise ValueError("fit got X with 0 rows; pass the training set, shape (n, d)")
        bad = np.flatnonzero(~np.isfinite(X).all(axis=0))
        if bad.size:
            raise ValueError(f"X has NaN or infinite values in column(s) {bad.tolist()}; "
                             "clean or impute them before fitting")
        self.mean_ = X.mean(axis=0)
        std = X.std(axis=0)
        # a constant column: std is 0, or rounding noise next to a large mean
        constant = std <= 1e-12 * np.maximum(1.0, np.abs(self.mean_))
        self.std_ = np.where(constant, 1.0, std)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """``(X - mean_) / std_`` for X: (m, d), with the statistics learned in ``fit``."""
        X = self._as_2d(X, "transform")
        self._check_fitted(X, "transform")
        return (X - self.mean_) / self.std_

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``; use it on the training set only."""
        return self.fit(X).transform(X)

    def inverse_transform(self, X: np.ndarray) -> np.ndarray:
        """Undo ``transform``: ``X * std_ + mean_`` for X: (m, d)."""
        X = self._as_2d(X, "inverse_transform")
        self._check_fitted(X, "inverse_transform")
        return X * self.std_ + self.mean_

    @staticmethod
    def _as_2d(X: Any, method: str) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise ValueError(f"{method} expects X of shape (n, d), got shape {X.shape}; "
                             "for a single feature use X.reshape(-1, 1)")
        return X

    def _check_fitted(self, X: np.ndarray, method: str) -> None:
        if self.mean_ is None:
            raise RuntimeError(f"call fit(X_train) before {method}: this Standardizer has "
                               "not been fitted yet")
        if X.shape[1] != len(self.mean_):
            raise ValueError(f"{method} got X with {X.shape[1]} columns, but the Standardizer "
                             f"was fitted on {len(self.mean_)} columns")


# --------------------------------------------------------------------------- mini-batches


def iterate_minibatches(
    X: Any,
    y: Any,
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int | np.random.Generator = 0,
    drop_last: bool = False,
) -> Iterator[tuple[Any, Any]]:
    """Yield ``(X_batch, y_batch)`` pairs that together cover one epoch.

    Parameters
    ----------
    X : (n, ...) numpy array or torch tensor
    y : (n, ...) numpy array or torch tensor
    batch_size : int >= 1
    shuffle : bool
        Visit the rows in the order ``np.random.default_rng(seed).permutation(n)``;
        pass a different seed every epoch (e.g. ``seed=epoch``) for a fresh order.
    seed : int or np.random.Generator
    drop_last : bool
        Skip the last batch when it is smaller than ``batch_size``.

    Yields
    ------
    X_batch : (b, ...), same type as X (torch tensors stay on their device)
    y_batch : (b, ...), same type as y

    Example
    -------
    >>> X, y = np.arange(10).reshape(5, 2), np.arange(5)
    >>> [len(yb) for _, yb in iterate_minibatches(X, y, batch_size=2)]
    [2, 2, 1]
    """
    # checked here, not inside the generator, so a bad call fails where it is made
    batch_size = _check_positive_int(batch_size, "batch_size", 32)
    n = _check_same_length(X, y)
    if shuffle:
        if not isinstance(seed, np.random.Generator):
            _check_seed(seed)
            seed = np.random.default_rng(seed)
        order = seed.permutation(n)
    else:
        order = np.arange(n)
    stop = n - n % batch_size if drop_last else n
    return _batches(X, y, order, batch_size, stop)


def _batches(
    X: Any, y: Any, order: np.ndarray, batch_size: int, stop: int
) -> Iterator[tuple[Any, Any]]:
    for start in range(0, stop, batch_size):
        index = order[start : start + batch_size]
        yield _take(X, index), _take(y, index)
