"""Built on the learner's side for 08-language-modelling's checks.

Learner code there takes torch tensors, functions and models, none of which cross to the
judge: these factories build such arguments beside it (``grading.make``): the ``next_logits``
functions that ``sample`` draws from, a function that runs ``loss.backward()``, and readers
of a trained model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ...device import eval_mode

V = 29                     # the grammar's vocabulary, "." included


def grammar_source():
    from mlcourse.data import GrammarSource

    return GrammarSource()


def loss_backward(loss_fn: Callable) -> Callable:
    """A function ``(logits, targets) -> {"problem", "grad"}``: what ``loss_fn(...).backward()``
    leaves in ``logits.grad``, or why there was nothing to differentiate."""
    def run(logits: np.ndarray, targets: np.ndarray) -> dict:
        import torch

        z = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
        loss = loss_fn(z, torch.tensor(targets))
        if not isinstance(loss, torch.Tensor):
            return {"problem": f"a {type(loss).__name__}"}
        if not loss.requires_grad:
            return {"problem": "a tensor detached from the logits"}
        if loss.ndim != 0:
            return {"problem": f"a tensor of shape {tuple(loss.shape)}"}
        loss.backward()
        return {"problem": None, "grad": z.grad}
    return run


def describe_model(model: Any) -> dict:
    """What ``train_context_model`` returned, in plain words: its type, and its ``context``."""
    import torch

    context = getattr(model, "context", None)
    return {"type": type(model).__name__, "module": isinstance(model, torch.nn.Module),
            "context": context if type(context) is int else repr(context)}


def model_logits(model: Any) -> Callable:
    """A function ``X (n, k) int -> logits (n, V) float64``: the model in eval mode, on its device."""
    def logits(X: np.ndarray) -> Any:
        import torch

        device = next(model.parameters()).device
        with eval_mode(model):
            return model(torch.as_tensor(X, device=device)).double().cpu()
    return logits


def counting_next_logits(vocab_size: int, step: int) -> Callable:
    """A certain model: the next token is always ``(last token + step) % vocab_size``."""
    def next_logits(tokens: Any) -> np.ndarray:
        z = np.full(vocab_size, -50.0)
        z[(int(np.asarray(tokens)[-1]) + step) % vocab_size] = 0.0
        return z
    return next_logits


def fixed_next_logits(logits: Sequence[float]) -> Callable:
    """A model that ignores the context: always the same logits (a fresh copy, so an answer
    that divides them in place cannot change the next call's)."""
    fixed = np.array(logits, dtype=np.float64)
    return lambda tokens: fixed.copy()


def grammar_next_logits(memory: int = 6) -> Callable:
    """The grammar's exact log-probabilities of the next token (the notebook's helper of that name).

    It tracks which hidden states the last ``memory`` tokens can have led to (five tokens
    always pin the state down), starting from the long-run distribution of states.
    """
    source = grammar_source()
    pi = source.stationary_distribution()

    def next_logits(tokens: Any) -> np.ndarray:
        belief = pi
        for x in np.asarray(tokens)[-memory:]:
            joint = belief * source.emit[:, x]
            if joint.sum() == 0:           # a token the grammar forbids here: start afresh from it
                joint = pi * source.emit[:, x]
            allowed = joint > 0
            belief = np.bincount(source.step[allowed, x], weights=joint[allowed], minlength=len(pi))
            belief = belief / belief.sum()
        return np.log(np.maximum(belief @ source.emit, 1e-30))
    return next_logits


def bigram_table(corpus_seed: int, n_tokens: int, alpha: float) -> np.ndarray:
    from mlcourse.data import make_corpus

    stream = make_corpus(n_tokens, seed=corpus_seed)[0]
    counts = np.zeros((V, V))
    np.add.at(counts, (stream[:-1], stream[1:]), 1)
    return (counts + alpha) / (counts + alpha).sum(axis=1, keepdims=True)


def bigram_next_logits(corpus_seed: int, n_tokens: int, alpha: float) -> Callable:
    """A bigram table counted (add-alpha) on a corpus: the log-probabilities in the last token's row."""
    log_P = np.log(bigram_table(corpus_seed, n_tokens, alpha))
    return lambda tokens: log_P[int(np.asarray(tokens)[-1])].copy()
