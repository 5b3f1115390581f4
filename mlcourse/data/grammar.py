"""A text corpus from a tiny stochastic grammar whose entropy rate is known exactly.

- ``GrammarSource``: the grammar as a hidden-state source of words; it samples token
  streams, scores them (``log_prob``, ``valid_fraction``) and knows the loss floor of
  any language model (``entropy_rate``) and of one that sees k tokens
  (``conditional_entropy``). ``GrammarSource(weights=...)`` makes other word frequencies.
- ``make_corpus``: a token stream and its source.
- ``make_lm_dataset`` / ``make_sequences``: next-token training pairs from a token stream.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mlcourse import arguments

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

    Parameters
    ----------
    weights : {state: {word: weight}} or None
        Other word frequencies, same grammar: in each state named, every word listed
        has its probability multiplied by its weight (a finite number >= 0; a word not
        listed keeps weight 1), then the state's probabilities are rescaled to sum to 1:
        ``P'(x | s) = P(x | s) w(s, x) / sum_x' P(x' | s) w(s, x')``. A weight of 0
        removes the word from that state. A word must be one the state can emit
        (``word_probs(state)`` lists them). None keeps the grammar's own frequencies.

    Attributes
    ----------
    vocab : list[str]
        The 29 tokens; a token id is an index into it.
    stoi : dict[str, int]
        Word -> token id.
    states : list[str]
        Names of the hidden states; sampling starts in ``"start"`` (a sentence start).
        ``"subj:sg:1"`` is inside the subject, singular, after one adjective;
        ``"subj:any:0"`` is right after "the" (the number is still open).
    weights : dict[str, dict[str, float]]
        The ``weights`` given, as floats (empty for the grammar's own frequencies).

    Example
    -------
    >>> source = GrammarSource()
    >>> tokens = source.sample(12, seed=0)
    >>> round(source.entropy_rate(), 3) < round(source.conditional_entropy(1), 3)
    True

    Nine times as many cats right after "the", and no lazy subjects at all:

    >>> catty = GrammarSource(weights={"subj:any:0": {"cat": 9.0, "lazy": 0.0}})
    >>> before, after = source.word_probs("subj:any:0"), catty.word_probs("subj:any:0")
    >>> round(before["cat"], 3), round(after["cat"], 3), "lazy" in after
    (0.075, 0.45, False)
    """

    def __init__(self, *, weights: Mapping[str, Mapping[str, float]] | None = None) -> None:
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
        self.weights = self._check_weights(weights)
        if self.weights:
            self._reweight()
        # plain Python tables: sampling and scoring walk token by token
        self._cum = [np.cumsum(row).tolist() for row in self.emit]
        self._log_emit = np.log(np.where(self.emit > 0, self.emit, 1.0)).tolist()
        self._step = self.step.tolist()

    def __repr__(self) -> str:
        weighted = f"weights for {len(self.weights)} states, " if self.weights else ""
        return (f"GrammarSource(vocab_size={len(self.vocab)}, states={len(self.states)}, "
                f"{weighted}entropy_rate={self.entropy_rate():.4f} nats/token)")

    def word_probs(self, state: str) -> dict[str, float]:
        """``{word: P(word | state)}`` for the words ``state`` can emit, in vocabulary order.

        Example
        -------
        >>> GrammarSource().word_probs("start")
        {'the': 0.5, 'a': 0.25, 'some': 0.25}
        """
        if state not in self.states:
            raise ValueError(f"state={state!r} is unknown; the states are {self.states}")
        row = self.emit[self.states.index(state)]
        return {self.vocab[x]: float(row[x]) for x in np.flatnonzero(row)}

    # ---- other word frequencies

    def _check_weights(self, weights: Any) -> dict[str, dict[str, float]]:
        """``weights`` as ``{state: {word: float}}``; a ValueError naming the first problem."""
        if weights is None:
            return {}
        if not isinstance(weights, Mapping):
            raise ValueError(f"weights={weights!r} must map state names to {{word: weight}} "
                             "dicts, e.g. weights={'start': {'some': 2.0}}")
        unknown = [s for s in weights if s not in self.states]
        if unknown:
            raise ValueError(f"weights name unknown states {unknown}; the states are {self.states}")
        checked: dict[str, dict[str, float]] = {}
        for state, row in weights.items():
            allowed = list(self.word_probs(state))
            if not isinstance(row, Mapping):
                raise ValueError(f"weights[{state!r}]={row!r} must map words to weights, "
                                 f"e.g. weights[{state!r}]={{{allowed[0]!r}: 2.0}}")
            unknown = [w for w in row if w not in self.stoi]
            if unknown:
                raise ValueError(f"weights[{state!r}] names unknown words {unknown}; "
                                 f"the vocabulary is {self.vocab}")
            never = [w for w in row if w not in allowed]
            if never:
                raise ValueError(f"weights[{state!r}] names {never}, which state {state!r} "
                                 f"never emits; its words are {allowed}")
            for word, w in row.items():
                if (isinstance(w, bool) or not isinstance(w, (int, float, np.integer, np.floating))
                        or not np.isfinite(w) or w < 0):
                    raise ValueError(f"weights[{state!r}][{word!r}]={w!r} must be a finite "
                                     "number >= 0 (0 removes the word, 1 keeps its probability)")
            if all(row.get(w, 1.0) == 0 for w in allowed):
                raise ValueError(f"weights[{state!r}] gives every word of state {state!r} "
                                 f"weight 0; at least one of {allowed} needs a weight > 0")
            checked[state] = {w: float(v) for w, v in row.items()}
        return checked

    def _reweight(self) -> None:
        """Multiply ``emit`` by ``self.weights`` and renormalise each state that changed."""
        W = np.ones_like(self.emit)
        for state, row in self.weights.items():
            for word, w in row.items():
                W[self.states.index(state), self.stoi[word]] = w
        emit = self.emit * W
        emit = emit / emit.sum(axis=1, keepdims=True)
        changed = (W != 1.0).any(axis=1, keepdims=True)  # all-1 rows stay bit for bit as they were
        self.emit = np.where(changed, emit, self.emit)
        self.step = np.where(self.emit > 0, self.step, -1)  # a word of weight 0 cannot follow

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
        >>> import math
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
        k = arguments.count(k, "k", example=3, minimum=0, owner="conditional_entropy")
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
        n_tokens = arguments.count(n_tokens, "n_tokens", example=20_000)
        arguments.seed(seed)
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
    context = arguments.count(context, "context", example=3)
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
    block_size = arguments.count(block_size, "block_size", example=32)
    stride = block_size if stride is None else arguments.count(stride, "stride", example=block_size)
    if len(tokens) < block_size + 1:
        raise ValueError(f"{len(tokens)} tokens are too few for block_size={block_size}; "
                         f"pass at least {block_size + 1} tokens or a smaller block_size")
    starts = np.arange(0, len(tokens) - block_size, stride)
    offsets = np.arange(block_size)
    index = starts[:, None] + offsets[None, :]
    return tokens[index], tokens[index + 1]
