"""A small "pretrained" language model, trained in seconds, and a related target task.

Notebook 09 fine-tunes a pretrained model on 50 examples. Nothing is downloaded:
the model is trained here, at run time, on plenty of text from the source task,
deterministically, and cached in-process, so the second call is free.

- The **source task**: sentences of ``mlcourse.data.GrammarSource``.
- The **target task**: a *dialect* of the same grammar (``dialect_source``): the
  same sentence structure and agreement rules, but other favourite words --
  cats, chasing, quietly, happy. Its entropy rate is known exactly, like the
  source's, so a model's loss has a floor on both tasks.
- ``pretrained_lm()``: a ``ContextMLPLM`` trained on source sentences; every call
  returns a fresh copy, so fine-tuning one copy never changes the next.
- Sentences as token tuples: ``sample_sentences`` (from a grammar),
  ``generate_sentences`` (from a model), ``sentence_windows`` (training pairs).
- ``fine_tune_reference`` / ``naive_fine_tune`` / ``train_from_scratch``: the
  remedied fine-tune of the notebook's exercise and the two baselines it must
  beat; ``held_out_loss`` measures any of them; ``freeze`` freezes first layers.
- ``fraction_memorised``: how much of a model's output is copied from its
  training examples (parroting); ``sentence_split``: a ``Split`` of windows that
  keeps every sentence in one part.

Every sentence is a tuple of token ids that ends with the "." token. The model
reads the previous ``CONTEXT`` tokens; a sentence starts after ``CONTEXT`` "."
tokens, so the model always knows where a sentence begins.

This module imports torch (it is loaded only on ``from mlcourse.pretrained import ...``).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from mlcourse import arguments
from mlcourse.data import GrammarSource
from mlcourse.device import eval_mode
from mlcourse.models import ContextMLPLM

__all__ = [
    "CONTEXT", "DOT", "DIALECT_WEIGHTS", "dialect_source", "sample_sentences", "sentence_windows",
    "generate_sentences", "pretrained_lm", "new_lm", "held_out_loss", "freeze",
    "fine_tune_reference", "naive_fine_tune", "train_from_scratch", "fraction_memorised",
    "sentence_split",
]

CONTEXT = 5  # five previous tokens pin down the grammar's hidden state
DOT = GrammarSource().stoi["."]  # the sentence end, and the padding before a sentence start
EMBED_DIM, HIDDEN = 16, 64
MAX_SENTENCE = 16  # generated sentences are cut here (grammar sentences have at most 11 tokens)

# How much more (or less) often the dialect uses a word than the source grammar,
# wherever the grammar allows it; every other word keeps weight 1.
DIALECT_WEIGHTS = {
    "cat": 6.0, "cats": 6.0, "bird": 0.3, "birds": 0.3,
    "happy": 5.0, "lazy": 0.3,
    "quietly": 8.0, "never": 0.3,
    "chases": 5.0, "chase": 5.0, "sees": 0.3, "see": 0.3,
    "some": 2.5, "the": 0.5,
}


def _dialect_weights() -> dict[str, dict[str, float]]:
    """``DIALECT_WEIGHTS`` per state, as ``GrammarSource(weights=...)`` takes them.

    Each state gets the weights of the words it can emit.

    Example
    -------
    >>> _dialect_weights()["start"]
    {'the': 0.5, 'some': 2.5}
    """
    base = GrammarSource()
    per_state = {state: {w: DIALECT_WEIGHTS[w] for w in base.word_probs(state)
                         if w in DIALECT_WEIGHTS}
                 for state in base.states}
    return {state: weights for state, weights in per_state.items() if weights}


@functools.lru_cache(maxsize=1)
def _dialect() -> GrammarSource:
    return GrammarSource(weights=_dialect_weights())


def dialect_source() -> GrammarSource:
    """The target task: the course grammar with other favourite words (see ``DIALECT_WEIGHTS``).

    ``P'(x | s) = P(x | s) w(x) / sum_x' P(x' | s) w(x')`` in every state s: the same
    allowed words and hidden states (so the same grammar), other word frequencies.

    Example
    -------
    >>> src = dialect_source()
    >>> src.entropy_rate() < GrammarSource().entropy_rate()
    True
    """
    return _dialect()


# --------------------------------------------------------------------------- sentences


def sample_sentences(source: GrammarSource, n: int, seed: int = 0) -> list[tuple[int, ...]]:
    """``n`` sentences drawn from a grammar, each a tuple of token ids ending with ".".

    Example
    -------
    >>> src = GrammarSource()
    >>> s = sample_sentences(src, 3, seed=1)
    >>> len(s), src.vocab[s[0][-1]]
    (3, '.')
    """
    n = arguments.count(n, "n", example=50)
    dot = source.stoi["."]
    # a grammar sentence is at most 11 tokens: 12 n tokens always hold n sentences
    tokens = source.sample(12 * n + 12, seed=seed).tolist()
    sentences, current = [], []
    for x in tokens:
        current.append(x)
        if x == dot:
            sentences.append(tuple(current))
            current = []
            if len(sentences) == n:
                break
    return sentences


def sentence_windows(sentences: Sequence[Sequence[int]], dot: int = DOT,
                     context: int = CONTEXT) -> tuple[np.ndarray, np.ndarray]:
    """Next-token training pairs from sentences: every token after its ``context`` predecessors.

    Each sentence is preceded by ``context`` "." tokens (the sentence start), so
    windows never cross from one sentence into the next.

    Returns
    -------
    X : (n, context) int64, the previous tokens
    y : (n,) int64, the token to predict; n is the total number of tokens

    Example
    -------
    >>> X, y = sentence_windows([(7, 19, 28)], dot=28, context=2)
    >>> X.tolist(), y.tolist()
    ([[28, 28], [28, 7], [7, 19]], [7, 19, 28])
    """
    if len(sentences) == 0:
        raise ValueError("sentence_windows got no sentences")
    X, y = [], []
    for sentence in sentences:
        padded = [dot] * context + [int(x) for x in sentence]
        for t in range(context, len(padded)):
            X.append(padded[t - context:t])
            y.append(padded[t])
    return np.asarray(X, dtype=np.int64), np.asarray(y, dtype=np.int64)


def generate_sentences(model: torch.nn.Module, n: int, *, seed: int = 0, dot: int = DOT,
                       temperature: float = 1.0) -> list[tuple[int, ...]]:
    """Sample ``n`` sentences from a context language model, all in one batch.

    Each starts after ``model.context`` "." tokens and ends at the first "." (or
    after ``MAX_SENTENCE`` tokens). Returns tuples of token ids, like ``sample_sentences``.
    """
    context = model.context
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    with eval_mode(model):
        window = torch.full((n, context), dot, dtype=torch.long, device=device)
        out = torch.zeros((n, MAX_SENTENCE), dtype=torch.long)
        for t in range(MAX_SENTENCE):
            probs = torch.softmax(model(window).double().cpu() / temperature, dim=-1)
            nxt = torch.multinomial(probs, 1, generator=generator)  # (n, 1)
            out[:, t] = nxt[:, 0]
            window = torch.cat([window[:, 1:], nxt.to(device)], dim=1)
    sentences = []
    for row in out.tolist():
        end = row.index(dot) + 1 if dot in row else MAX_SENTENCE
        sentences.append(tuple(row[:end]))
    return sentences


# --------------------------------------------------------------------------- models


def new_lm(seed: int = 0) -> ContextMLPLM:
    """A freshly initialised model of the pretrained model's shape (for training from scratch)."""
    return ContextMLPLM(29, CONTEXT, embed_dim=EMBED_DIM, hidden=HIDDEN, seed=seed)


def held_out_loss(model: torch.nn.Module, data: tuple[np.ndarray, np.ndarray]) -> float:
    """Mean next-token cross-entropy (nats per token) of ``model`` on windows ``(X, y)``."""
    X, y = data
    device = next(model.parameters()).device
    with eval_mode(model):
        logits = model(torch.as_tensor(np.asarray(X), device=device))
        return float(F.cross_entropy(logits.double(), torch.as_tensor(np.asarray(y),
                                                                        device=device)))


def _train(model: torch.nn.Module, train: tuple, val: tuple | None, *, lr: float,
           epochs: int, batch_size: int, weight_decay: float = 0.0, patience: int | None = None,
           seed: int = 0):
    from mlcourse.train import EarlyStopping, fit

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    stopper = EarlyStopping(patience=patience) if patience is not None else None
    return fit(model, F.cross_entropy, optimizer, train, val, epochs=epochs,
               batch_size=batch_size, device="cpu", early_stopping=stopper, seed=seed,
               progress=False)


@functools.lru_cache(maxsize=4)
def _pretrained_state(seed: int) -> dict[str, torch.Tensor]:
    source = GrammarSource()
    train = sentence_windows(sample_sentences(source, 3000, seed=10_000 + seed))
    model = new_lm(seed=seed)
    _train(model, train, None, lr=1e-2, epochs=10, batch_size=512, seed=seed)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def pretrained_lm(seed: int = 0) -> ContextMLPLM:
    """A ``ContextMLPLM`` pretrained on 3,000 sentences of the source grammar.

    Trained on the first call (a second or two on one CPU core; the same weights
    every time for a given seed on a given machine), then cached: later calls
    return a fresh copy at once.

    Example
    -------
    >>> model = pretrained_lm()                                  # doctest: +SKIP
    >>> model.context                                            # doctest: +SKIP
    5
    """
    model = new_lm(seed=seed)
    model.load_state_dict(_pretrained_state(seed))
    return model


# --------------------------------------------------------------------------- the three ways


def freeze(model: torch.nn.Module, n_layers: int) -> torch.nn.Module:
    """Freeze the first ``n_layers`` layers of ``model`` (``list(model.children())``), in place.

    Their parameters get ``requires_grad = False``; every other parameter gets
    ``requires_grad = True`` (so an earlier freeze is undone). Returns ``model``.

    Example
    -------
    >>> model = freeze(new_lm(), 1)                    # the embeddings stay as pretrained
    >>> [p.requires_grad for p in model.parameters()]
    [False, True, True, True, True]
    """
    n_layers = arguments.count(n_layers, "n_layers", example=1, minimum=0, owner="freeze")
    for i, layer in enumerate(model.children()):
        for p in layer.parameters():
            p.requires_grad_(i >= n_layers)
    return model


def naive_fine_tune(pretrained: torch.nn.Module, train: tuple, val: tuple | None = None, *,
                    lr: float = 1e-2, epochs: int = 25, batch_size: int = 32, seed: int = 0):
    """Fine-tune a copy of ``pretrained`` the naive way: a high lr, many epochs, every layer.

    ``val`` is only recorded, never used to stop. Returns ``(model, history)``.
    """
    model = freeze(copy.deepcopy(pretrained), 0)
    return model, _train(model, train, val, lr=lr, epochs=epochs, batch_size=batch_size,
                         seed=seed)


def train_from_scratch(train: tuple, val: tuple, *, lr: float = 1e-2, epochs: int = 100,
                       batch_size: int = 32, patience: int = 5, seed: int = 0):
    """A fresh model trained on the small data alone, early-stopped on ``val`` (a fair baseline).

    Returns ``(model, history)``.
    """
    model = new_lm(seed=seed)
    return model, _train(model, train, val, lr=lr, epochs=epochs, batch_size=batch_size,
                         patience=patience, seed=seed)


def fine_tune_reference(pretrained: torch.nn.Module, train: tuple, val: tuple, *,
                        seed: int = 0) -> torch.nn.Module:
    """The remedied fine-tune of notebook 09, every remedy at once.

    A copy of ``pretrained`` with its embeddings frozen, AdamW with a low
    learning rate (1e-3) and weight decay (1e-2), early-stopped on ``val``
    (patience 5, best weights restored). ``pretrained`` is left unchanged.
    """
    model = freeze(copy.deepcopy(pretrained), 1)
    _train(model, train, val, lr=1e-3, epochs=50, batch_size=32, weight_decay=1e-2,
           patience=5, seed=seed)
    return model


# --------------------------------------------------------------------------- evaluation


def fraction_memorised(samples: Sequence, train_examples: Sequence) -> float:
    """The fraction of ``samples`` that are exact copies of one of ``train_examples``.

    Every sample counts, repeats included: a model that emits the same training
    sentence twice has parroted twice. Items must be hashable (tuples, strings).

    Example
    -------
    >>> fraction_memorised(["a b", "a b", "c d", "e f"], ["a b", "c d"])
    0.75
    """
    if len(samples) == 0:
        raise ValueError("fraction_memorised got no samples; pass at least one")
    seen = set(train_examples)
    return sum(s in seen for s in samples) / len(samples)


def sentence_split(train: Sequence, val: Sequence, test: Sequence, *, dot: int = DOT,
                   context: int = CONTEXT):
    """A ``mlcourse.data.Split`` of next-token windows whose parts come from separate sentences.

    Windows of one sentence share most of their tokens, so a split must keep whole
    sentences together: split the sentences, then cut each part into windows.
    """
    from mlcourse.data import Split

    parts = {name: sentence_windows(s, dot=dot, context=context)
             for name, s in (("train", train), ("val", val), ("test", test))}
    X = np.concatenate([parts[n][0] for n in ("train", "val", "test")])
    y = np.concatenate([parts[n][1] for n in ("train", "val", "test")])
    bounds = np.cumsum([0] + [len(parts[n][1]) for n in ("train", "val", "test")])
    indices = {n: np.arange(bounds[i], bounds[i + 1]) for i, n in enumerate(("train", "val", "test"))}
    return Split(X, y, indices)
