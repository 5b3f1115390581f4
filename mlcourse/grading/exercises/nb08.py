"""Checks of 08-language-modelling: the next-token loss, bigram counts, a context model, sampling.

Learner code here takes torch tensors, functions and models, none of which cross
to the judge. So the checks build such arguments on the learner's side with
``grading.make``: tensors, and from ``kernelside.nb08`` the ``next_logits`` functions
that ``sample`` draws from, a function that runs ``loss.backward()``, and a scorer
that returns a trained model's logits on windows the judge chooses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import checks as g
from ..kernelside.nb08 import V, bigram_table, grammar_source
from ..remote import make, value
from . import check

# Built on the learner's side (grading.make), from kernelside.nb08.
LOSS_BACKWARD = "mlcourse.grading.kernelside.nb08.loss_backward"
DESCRIBE_MODEL = "mlcourse.grading.kernelside.nb08.describe_model"
MODEL_LOGITS = "mlcourse.grading.kernelside.nb08.model_logits"
COUNTING = "mlcourse.grading.kernelside.nb08.counting_next_logits"
FIXED = "mlcourse.grading.kernelside.nb08.fixed_next_logits"
GRAMMAR = "mlcourse.grading.kernelside.nb08.grammar_next_logits"
BIGRAM = "mlcourse.grading.kernelside.nb08.bigram_next_logits"
N_TRAIN, N_HELDOUT = 40_000, 20_000


def _tensor(like: Any, a: np.ndarray) -> Any:
    """``torch.tensor(a)`` on the learner's side of ``like``."""
    return make(like, "torch.tensor", a)


# ---- the prediction: the loss of a model that has learned nothing ---------------------------------

def _uniform_message(got: float, expected: float, where: str) -> str:
    slips = [(1 / V, "that is the probability the model gives every token; the loss charges -log of it."),
             (np.log2(V), "that is a logarithm in base 2 (bits); the loss here is in nats, the natural logarithm."),
             (np.log10(V), "that is a logarithm in base 10; the loss here is in nats, the natural logarithm."),
             (float(V), "that is the perplexity e^loss of this model, not its loss."),
             (-np.log(V), "a loss is never negative: -log p of a probability below 1 is positive."),
             (0.0, "a model that has learned nothing cannot be certain of every next token.")]
    mistake = next((words for value, words in slips if abs(got - value) <= 0.01), None)
    return (f"`predicted_uniform_loss` is {got:.4g}; {where} is {expected:.4f} nats per token."
            + (f"\nlikely mistake: {mistake}" if mistake else "")
            + f"\nhint: each of the {V} tokens gets the same probability, at every position; the loss is the mean of "
              "-log p(the token that came).")


@check()
def uniform_prediction(predicted_uniform_loss: Any) -> None:
    """The learner's predicted loss of the uniform model over the V = 29 tokens, against log V, within 0.01."""
    got = g.predicted(predicted_uniform_loss, "predicted_uniform_loss")
    g.check_true(abs(got - np.log(V)) <= 0.01, _uniform_message(got, float(np.log(V)), "the loss expected"))
    g.passed(f"a model that gives each of {V} tokens the same probability pays log {V} = {np.log(V):.4f} nats per token")


@check()
def uniform_measured(predicted_uniform_loss: Any, *, seed: int, count: int) -> None:
    """The run that settles it, on ``count`` fresh corpora of the grammar drawn from ``seed``: the mean next-token
    cross-entropy of models that have learned nothing (the same logits for every token, whatever the context:
    all zeros, or one random constant per position)."""
    from mlcourse.data import make_corpus
    from mlcourse.losses import next_token_cross_entropy

    got = g.predicted(predicted_uniform_loss, "predicted_uniform_loss")
    rng = g.seeded(seed)
    for _ in range(count):
        corpus_seed, n = int(rng.integers(0, 2**31)), int(rng.integers(2_000, 20_000))
        tokens, _ = make_corpus(n, seed=corpus_seed)
        targets = tokens[None, 1:]
        logits = np.zeros((1, targets.shape[1], V)) + rng.normal(scale=5.0, size=(1, targets.shape[1], 1))
        measured = float(next_token_cross_entropy(logits, targets))
        g.check_true(abs(got - measured) <= 0.01, _uniform_message(
            got, measured, f"measured on a fresh corpus of {n} tokens (seed {corpus_seed}), the loss of equal logits"))
    g.passed(f"the prediction agrees with the loss of equal logits measured on {count} fresh corpora")


# ---- Exercise 1: next_token_loss ------------------------------------------------------------

LOSS_HINT = ("each of the B * T positions is one classification example: its row of V logits against its own "
             "target, the pairs kept in the same order on both sides; then the mean over all of them. "
             "reshape(B, V, T) is not a transpose, and a sum is not a mean.")


def _loss_value(fn: Callable, logits: np.ndarray, targets: np.ndarray, name: str, case: str | None = None):
    from mlcourse.losses import next_token_cross_entropy as reference

    got = g.call(fn, _tensor(fn, logits), _tensor(fn, targets))
    g.check_array(name, got, reference(logits, targets), sizes=[targets.size], case=case, hint=LOSS_HINT)


@check(references=["mlcourse.losses.next_token_cross_entropy"])
def next_token_loss(next_token_loss: Callable) -> None:
    """Uniform logits, and a (2, 3, 4) batch whose three axes all differ."""
    # All logits 0 give every token probability 1/5, so the loss is log 5 at every position.
    _loss_value(next_token_loss, np.zeros((2, 3, 5)), np.array([[0, 1, 2], [3, 4, 0]]),
                "next_token_loss(zeros of shape (2, 3, 5), targets)")
    # B = 2, T = 3, V = 4 are all different, so mixing up two axes changes the answer.
    rng = g.seeded(0)
    logits, targets = 2 * rng.normal(size=(2, 3, 4)), rng.integers(0, 4, size=(2, 3))
    _loss_value(next_token_loss, logits, targets, "next_token_loss(logits of shape (2, 3, 4), targets)")
    g.passed("next_token_loss agrees with the reference on two fixed batches")


@check(references=["mlcourse.losses.next_token_cross_entropy"])
def next_token_loss_random(next_token_loss: Callable, *, seed: int,
                           shapes: Sequence[tuple[int, int, int]], scale: float = 3.0) -> None:
    """Random float64 (B, T, V) logits of standard deviation ``scale`` against the reference."""
    rng = g.seeded(seed)
    for B, T, n_vocab in shapes:
        logits, targets = scale * rng.normal(size=(B, T, n_vocab)), rng.integers(0, n_vocab, size=(B, T))
        _loss_value(next_token_loss, logits, targets, "next_token_loss",
                    case=f"random float64 logits of shape ({B}, {T}, {n_vocab})")
    g.passed(f"next_token_loss agrees with the reference on random batches of {len(shapes)} shapes")


def _loss_gradient(fn: Callable, logits: np.ndarray, targets: np.ndarray, case: str) -> None:
    """Autograd's gradient through the learner's loss against central differences of the reference."""
    from mlcourse.losses import next_token_cross_entropy as reference

    backward = make(fn, LOSS_BACKWARD, fn)
    result = g.call(backward, logits, targets, name="next_token_loss")
    problem = result["problem"]
    g.check_true(problem is None,
                 f"next_token_loss ({case}) returned {problem}, where a scalar tensor that autograd can "
                 "differentiate was expected. Compute it with torch operations on `logits` (F.cross_entropy, or "
                 "log_softmax and indexing), without .detach(), .item(), .numpy() or Python floats, and "
                 "average to a single number.")
    g.check_gradient("d next_token_loss / d logits, from autograd", result["grad"],
                     lambda z: reference(z, targets), logits, case=case,
                     hint="the value and the gradient come from the same formula: if the loss is a sum, "
                          "or pairs logits and targets of different positions, so is the gradient.")


@check(references=["mlcourse.losses.next_token_cross_entropy"])
def loss_gradient(next_token_loss: Callable) -> None:
    """loss.backward() on a fixed (2, 3, 4) batch against central differences."""
    rng = g.seeded(1)
    _loss_gradient(next_token_loss, rng.normal(size=(2, 3, 4)), rng.integers(0, 4, size=(2, 3)),
                   "logits of shape (2, 3, 4)")
    g.passed("loss.backward() through next_token_loss gives the right gradient")


@check(references=["mlcourse.losses.next_token_cross_entropy"])
def loss_gradient_random(next_token_loss: Callable, *, seed: int,
                         shapes: Sequence[tuple[int, int, int]], scale: float = 2.0) -> None:
    """loss.backward() on random (B, T, V) batches against central differences."""
    rng = g.seeded(seed)
    for shape in map(tuple, shapes):
        _loss_gradient(next_token_loss, scale * rng.normal(size=shape), rng.integers(0, shape[2], size=shape[:2]),
                       f"random float64 logits of shape {shape}")
    g.passed(f"the gradient is right on random batches of {len(shapes)} shapes")


# ---- Exercise 2: bigram_probs ---------------------------------------------------------------

COUNTS_HINT = ("P[i, j] comes from the pairs (tokens[t], tokens[t + 1]) = (i, j): the row is the current "
               "token, the column the next one. Count all n - 1 pairs (np.add.at: N[a, b] += 1 counts a "
               "repeated pair only once), then divide each row by its own total (axis=1).")
SMOOTHING_HINT = ("add alpha to every count N[i, j], and divide by the smoothed row total "
                  "sum_j (N[i, j] + alpha) = N_i + alpha * V, so each row still sums to 1 -- also the row "
                  "of a token that never occurs.")
STREAM = [0, 1, 0, 1, 0, 2, 2, 1, 1, 0]


def _exact_counts(stream: np.ndarray, vocab_size: int) -> np.ndarray:
    """Pair counts by a plain loop, independent of any numpy indexing trick."""
    counts = np.zeros((vocab_size, vocab_size))
    for a, b in zip(stream[:-1].tolist(), stream[1:].tolist(), strict=True):
        counts[a, b] += 1
    return counts


def _stream(spec: Sequence, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """A token stream and its vocabulary size from a case: ``("corpus", n_tokens, corpus_seed)``
    (the grammar's), ``("random", n, high, vocab_size)`` (uniform ids below ``high``, so the ids
    from ``high`` on never occur) or ``("given", tokens, vocab_size)``."""
    from mlcourse.data import make_corpus

    kind, *args = spec
    if kind == "corpus":
        return make_corpus(args[0], seed=args[1])[0], V
    if kind == "random":
        return rng.integers(0, args[1], size=args[0]), args[2]
    if kind == "given":
        return np.array(args[0], dtype=np.int64), args[1]
    raise ValueError(f"unknown stream {spec!r}: 'corpus', 'random' or 'given'")


def _table(bigram_probs: Callable, stream: np.ndarray, vocab_size: int, alpha: float) -> np.ndarray:
    name = f"bigram_probs(tokens, {vocab_size}, alpha={alpha:g})"
    got = g.to_float64(g.call(bigram_probs, stream, vocab_size, alpha=alpha), name)
    g.check_true(got.shape == (vocab_size, vocab_size),
                 f"{name} should have shape ({vocab_size}, {vocab_size}), got {got.shape}.")
    return got


@check()
def bigram_counts(bigram_probs: Callable) -> None:
    """A ten-token stream counted by hand, and the row sums of the table of the training tokens."""
    from mlcourse.data import make_corpus

    # The stream 0 1 0 1 0 2 2 1 1 0 has nine neighbouring pairs:
    #   token 0 is followed by 1, 1, 2     -> row 0 = [0, 2/3, 1/3]
    #   token 1 is followed by 0, 0, 1, 0  -> row 1 = [3/4, 1/4, 0]
    #   token 2 is followed by 2, 1        -> row 2 = [0, 1/2, 1/2]
    got = g.call(bigram_probs, np.array(STREAM), 3, alpha=0)
    expected = np.array([[0, 2 / 3, 1 / 3], [3 / 4, 1 / 4, 0], [0, 1 / 2, 1 / 2]])
    g.check_array("bigram_probs([0, 1, 0, 1, 0, 2, 2, 1, 1, 0], 3, alpha=0)", got, expected, hint=COUNTS_HINT)
    # On the training corpus (the notebook's train_tokens), every row is a distribution over the next token.
    train_tokens = make_corpus(N_TRAIN + N_HELDOUT, seed=0)[0][:N_TRAIN]
    P = _table(bigram_probs, train_tokens, V, 0)
    g.check_array("the row sums of bigram_probs(train_tokens, V, alpha=0)", P.sum(axis=-1), np.ones(V),
                  hint="row i is p(next | current = i), so each row must sum to 1: divide by the row totals "
                       "(axis=1).")
    g.passed("bigram_probs counts and normalises the pairs right")


@check()
def bigram_counts_unseen(bigram_probs: Callable, *, seed: int, streams: Sequence[Sequence]) -> None:
    """alpha = 0 on each stream (see ``_stream``) against exact counts, on the rows of tokens that occur."""
    rng = g.seeded(seed)
    for spec in streams:
        stream, vocab_size = _stream(spec, rng)
        counts = _exact_counts(stream, vocab_size)
        seen = counts.sum(axis=1) > 0      # with alpha = 0, only rows of tokens that have a successor are defined
        got = _table(bigram_probs, stream, vocab_size, 0)
        g.check_array("bigram_probs(tokens, vocab_size, alpha=0), rows of tokens that occur", got[seen],
                      counts[seen] / counts[seen].sum(axis=1, keepdims=True), hint=COUNTS_HINT,
                      case=f"a stream of {len(stream)} tokens over {vocab_size} ids")
    g.passed(f"bigram_probs matches exact counts on {len(streams)} unseen streams")


@check()
def bigram_smoothing(bigram_probs: Callable) -> None:
    """The ten-token stream with alpha = 1 over V = 4 ids, one of which never occurs."""
    # Token 3 never occurs, so its row is uniform, 1/4 each.
    #   row 0: counts [0, 2, 1, 0] + 1 = [1, 3, 2, 1], total 7 ... row 3: [1, 1, 1, 1], total 4
    got = g.call(bigram_probs, np.array(STREAM), 4, alpha=1.0)
    expected = np.array([[1, 3, 2, 1], [4, 2, 1, 1], [1, 2, 2, 1], [1, 1, 1, 1]]) / np.array([[7], [8], [6], [4]])
    g.check_array("bigram_probs([0, 1, 0, 1, 0, 2, 2, 1, 1, 0], 4, alpha=1)", got, expected, hint=SMOOTHING_HINT)
    g.passed("add-alpha smoothing is right on a fixed stream")


@check()
def bigram_smoothing_unseen(bigram_probs: Callable, *, seed: int, streams: Sequence[Sequence],
                            alphas: Sequence[float]) -> None:
    """Each stream (see ``_stream``) with its alpha, against exact counts, every row."""
    rng = g.seeded(seed)
    for spec, alpha in zip(streams, alphas, strict=True):
        stream, vocab_size = _stream(spec, rng)
        counts = _exact_counts(stream, vocab_size)
        expected = (counts + alpha) / (counts.sum(axis=1, keepdims=True) + alpha * vocab_size)
        got = g.call(bigram_probs, stream, vocab_size, alpha=alpha)
        g.check_array(f"bigram_probs(tokens, {vocab_size}, alpha={alpha:g})", got, expected, hint=SMOOTHING_HINT,
                      case=f"a stream of {len(stream)} tokens over {vocab_size} ids")
    g.passed(f"add-alpha smoothing matches exact counts on {len(streams)} unseen streams")


# ---- Exercise 3: train_context_model --------------------------------------------------------

CONTEXT_HINT = ("the recipe above: windows from make_lm_dataset(tokens, context), ContextMLPLM(vocab_size, "
                "context, seed=seed), Adam with lr=0.04, 100 steps on batch_size=2048 random windows, the "
                "learning rate decayed to 0 with CosineAnnealingLR. A loss a little above the band means too "
                "little training (too few steps, too small a learning rate, no decay); a loss of several nats "
                "means each window and its target are misaligned: X[i] = tokens[i : i + k] must end just "
                "before its target y[i] = tokens[i + k].")


def _context_gap(train_context_model: Callable, corpus_seed: int, context: int, seed: int, where: str,
                 reference: float | None = None) -> float:
    """Train with the learner's function on the first N_TRAIN tokens of a corpus; its loss on the
    rest must lie within 0.05 nats of the exact floor H_k. The held-out targets stay here."""
    from mlcourse.data import make_corpus, make_lm_dataset
    from mlcourse.losses import cross_entropy

    tokens, source = make_corpus(N_TRAIN + N_HELDOUT, seed=corpus_seed)
    model = g.call(train_context_model, tokens[:N_TRAIN], V, context, seed=seed)
    about = value(make(train_context_model, DESCRIBE_MODEL, model))
    g.check_true(about["module"] is True,
                 f"train_context_model returned a {about['type']}: expected the trained model (a ContextMLPLM).")
    g.check_true(type(about["context"]) is int and about["context"] == context,
                 f"train_context_model(..., context={context}) returned a model with model.context = "
                 f"{about['context']}, expected {context}: build ContextMLPLM(vocab_size, context, ...) and the windows "
                 f"make_lm_dataset(tokens, context) with the context you are given.")
    X, y = make_lm_dataset(tokens[N_TRAIN:], context)
    logits = g.to_float64(g.call(make(train_context_model, MODEL_LOGITS, model), X,
                                 name="your model"), "your model's logits")
    g.check_true(logits.shape == (len(y), V),
                 f"your model maps windows of shape {X.shape} to logits of shape {logits.shape}; "
                 f"expected {(len(y), V)}, one row of V logits per window.")
    floor = source.conditional_entropy(context)
    with g.quiet():
        loss = cross_entropy(logits, y)
    g.check_in_band(f"held-out loss of your context-{context} model", loss, low=floor - 0.05, high=floor + 0.05,
                    reference=reference, hint=CONTEXT_HINT,
                    what=f"{where}, in nats per token (the floor H_{context} is {floor:.4f}; "
                         f"passing band: H_{context} +- 0.05)")
    return loss - floor


@check()
def context_model(train_context_model: Callable) -> None:
    """Context 3, trained on the notebook's train_tokens, measured on its heldout_tokens."""
    # The reference recipe ends about 0.02 nats above H_3 here.
    gap = _context_gap(train_context_model, 0, 3, 0, "on heldout_tokens")
    g.passed(f"your context-3 model ends {gap:+.4f} nats from the floor H_3 on the held-out tokens")


@check()
def context_model_unseen(train_context_model: Callable, *, corpus_seed: int, context: int, seed: int,
                         reference: float | None = None) -> None:
    """The same band on a corpus the learner never saw; ``reference`` is the reference solution's loss."""
    gap = _context_gap(train_context_model, corpus_seed, context, seed,
                       "on held-out text of an unseen corpus", reference)
    g.passed(f"on an unseen corpus your context-{context} model ends {gap:+.4f} nats from the floor H_{context}")


# ---- Exercise 4: sample ----------------------------------------------------------------------

FREQUENCY_HINT = ("draw each token from p = softmax(logits / temperature) with rng.choice(V, p=p); divide by "
                  "the temperature (do not multiply), and draw (do not take the argmax).")
GRAMMAR_HINT = ("draw every token at random from p = softmax(logits / temperature), and pass next_logits the "
                "whole sequence so far (the prompt, then every token drawn): not only the prompt or the last "
                "token, since the grammar needs several tokens to know where in a sentence it is; and not the "
                "argmax, since a bigram's most likely next word is often wrong in its sentence.")


def _drawn(sample: Callable, next_logits: Any, prompt: Sequence[int], n_tokens: int, vocab_size: int,
           **kwargs: Any) -> np.ndarray:
    """The learner's sample: it must return n_tokens token ids in 0..vocab_size-1."""
    name = f"sample(..., n_tokens={n_tokens})"
    got = g.to_float64(g.call(sample, next_logits, np.array(prompt), n_tokens, **kwargs), name)
    g.check_true(got.shape == (n_tokens,),
                 f"{name}: expected the {n_tokens} new tokens, shape ({n_tokens},), got shape {got.shape}. "
                 "Return only the drawn tokens, without the prompt.")
    g.check_true(bool(np.all(got == np.round(got)) and got.min() >= 0 and got.max() < vocab_size),
                 f"sample should return token ids, integers in 0..{vocab_size - 1}; got values from "
                 f"{got.min()} to {got.max()}.")
    return got.astype(np.int64)


def _counting(sample: Callable, vocab_size: int, step: int, prompt: Sequence[int], n_tokens: int,
              seed: int, hint: str) -> None:
    """A certain model must be followed token by token, each draw fed back in."""
    model = make(sample, COUNTING, vocab_size, step)
    expected, last = [], prompt[-1]
    for _ in range(n_tokens):
        last = (last + step) % vocab_size
        expected.append(last)
    got = _drawn(sample, model, prompt, n_tokens, vocab_size, seed=seed)
    g.check_equal(f"sample(counting model, prompt={list(prompt)}, n_tokens={n_tokens})", got, expected, hint=hint)


def _frequencies(sample: Callable, logits: np.ndarray, temperature: float, seed: int,
                 n_tokens: int = 4000) -> None:
    """Draws from a model that ignores the context must follow softmax(logits / temperature)."""
    model = make(sample, FIXED, logits)
    got = _drawn(sample, model, [0], n_tokens, len(logits), temperature=temperature, seed=seed)
    z = logits / temperature
    expected = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    # 0.03 is more than 4 standard errors for 4000 draws: a correct sampler fails this by chance about
    # once in 10^4 (on 20 seeds x 3 temperatures it passed 60/60, worst deviation 0.018; script run 2026-11-24).
    g.check_array(f"frequencies of {n_tokens} tokens drawn at temperature={temperature}",
                  np.bincount(got, minlength=len(logits)) / n_tokens, expected, rtol=0, atol=0.03,
                  case=f"logits {np.round(logits, 3).tolist()}", hint=FREQUENCY_HINT)


@check(references=["mlcourse.models.generate"])
def sample(sample: Callable) -> None:
    """A certain counting model, the same seed twice, and the frequencies at temperatures 1 and 0.5."""
    # A model that is certain: the next token is always (the last token + 1) mod 7.
    _counting(sample, 7, 1, [3], 10, seed=0,
              hint="after each draw, append the token and pass next_logits the whole sequence so far "
                   "(the prompt, then every token drawn), so that each token follows the one before it.")
    # The same seed gives the same tokens.
    fixed = np.log([0.5, 0.3, 0.2])
    model = make(sample, FIXED, fixed)
    first, again = (_drawn(sample, model, [0], 50, 3, seed=1) for _ in range(2))
    g.check_equal("two calls of sample(..., seed=1)", again, first,
                  hint="take all randomness from one rng = np.random.default_rng(seed), created once per call.")
    # p = (0.5, 0.3, 0.2) at temperature 1; at temperature 0.5 it sharpens to p**2 / sum(p**2) = (0.66, 0.24, 0.11).
    _frequencies(sample, fixed, 1.0, seed=0)
    _frequencies(sample, fixed, 0.5, seed=0)
    g.passed("sample follows the model, repeats itself for a fixed seed, and applies the temperature")


@check(references=["mlcourse.models.generate"])
def sample_counting(sample: Callable, *, vocab_size: int, step: int, prompt: Sequence[int], n_tokens: int,
                    seed: int) -> None:
    """A certain model over ``vocab_size`` ids that always steps ``step`` on, from a longer prompt."""
    _counting(sample, vocab_size, step, list(prompt), n_tokens, seed,
              hint="pass next_logits the whole sequence so far, and return only the new tokens.")
    g.passed(f"sample follows a counting model over {vocab_size} ids from the prompt {list(prompt)}")


@check(references=["mlcourse.models.generate"])
def sample_frequencies(sample: Callable, *, seed: int, vocab_size: int, scale: float,
                       cases: Sequence[tuple[float, int]]) -> None:
    """Random logits (std ``scale``) for each (temperature, sampling seed): the draws' frequencies."""
    rng = g.seeded(seed)
    for temperature, sample_seed in cases:
        _frequencies(sample, scale * rng.normal(size=vocab_size), temperature, seed=sample_seed)
    g.passed("sample draws from softmax(logits / temperature) on unseen models and temperatures")


def _valid_fraction(sample: Callable, next_logits: Any, prompt: str, n_tokens: int, seed: int) -> float:
    source = grammar_source()
    name = f"sample(..., n_tokens={n_tokens})"
    got = g.to_float64(g.call(sample, next_logits, source.encode(prompt), n_tokens, seed=seed), name)
    g.check_true(got.shape == (n_tokens,) and bool(np.all(got == np.round(got)) and got.min() >= 0
                                                   and got.max() < V),
                 f"{name} should return {n_tokens} token ids in 0..{V - 1}, got an array of shape {got.shape}.")
    return source.valid_fraction(got.astype(np.int64))


@check(references=["mlcourse.models.generate"])
def sample_grammar(sample: Callable) -> None:
    """600 tokens sampled from the grammar itself, after "the dog runs .": all of them allowed."""
    # Sampled from the grammar, every token is one the grammar allows: the reference gets a valid
    # fraction of 1.0, a uniform random stream about 0.24. Passing band: at least 0.97.
    model = make(sample, GRAMMAR)
    vf = _valid_fraction(sample, model, "the dog runs .", 600, seed=0)
    g.check_in_band("valid_fraction of 600 tokens sampled from the grammar", vf, low=0.97, high=1.0,
                    reference=1.0, hint=GRAMMAR_HINT)
    g.passed(f"samples from the grammar obey the grammar: valid fraction {vf:.3f}")


@check(references=["mlcourse.models.generate"])
def sample_grammar_unseen(sample: Callable, *, prompt: str, n_tokens: int, seed: int) -> None:
    """The grammar's own samples after an unseen prompt and seed."""
    model = make(sample, GRAMMAR)
    vf = _valid_fraction(sample, model, prompt, n_tokens, seed)
    g.check_in_band(f"valid_fraction of {n_tokens} tokens sampled from the grammar", vf, low=0.97, high=1.0,
                    reference=1.0, what="(unseen prompt and seed)", hint=GRAMMAR_HINT)
    g.passed(f"samples from the grammar obey the grammar after an unseen prompt: valid fraction {vf:.3f}")


@check(references=["mlcourse.models.generate"])
def sample_bigram(sample: Callable, *, corpus_seed: int, corpus_tokens: int, alpha: float, prompt: str,
                  n_tokens: int, seed: int, reference_seed: int, margin: float = 0.07) -> None:
    """A bigram table counted on an unseen corpus: the learner's samples against mlcourse.models.generate's
    on the same table, which must not be more than ``margin`` more grammatical."""
    import torch

    from mlcourse.models import BigramLM, generate

    table = bigram_table(corpus_seed, corpus_tokens, alpha)
    reference_model = BigramLM(V)
    with torch.no_grad():
        reference_model.table.weight.copy_(torch.log(torch.tensor(table)))
    encoded = grammar_source().encode(prompt)
    drawn = generate(reference_model, encoded, length=n_tokens, seed=reference_seed)[len(encoded):]
    reference = grammar_source().valid_fraction(np.array(drawn))
    model = make(sample, BIGRAM, corpus_seed, corpus_tokens, alpha)
    vf = _valid_fraction(sample, model, prompt, n_tokens, seed)
    g.check_in_band(f"valid_fraction of {n_tokens} tokens sampled from a bigram table", vf,
                    low=reference - margin, high=1.0, reference=reference, hint=GRAMMAR_HINT,
                    what=f"(a table counted on an unseen corpus; band: the reference's - {margin:g})")
    g.passed(f"bigram samples obey the grammar as often as the reference's: {vf:.3f} against {reference:.3f}")
