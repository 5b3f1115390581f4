"""Checks of 09-fine-tuning: parroting measured, freezing layers, a fine-tune that generalizes,
a test set read once.

The learner's torch models live on the learner's side. The checks build them there
(``make`` with the factories of ``kernelside.nb09``), and read back only numbers through
its small helpers (``requires_grad_flags``, ``parameters_of``, ``logits_of``), run on the
learner's side too. The fresh text a fine-tuned model is judged on sends only its
inputs there: the next tokens, and so the loss, stay with the check.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .. import checks as g
from ..errors import GradingError
from ..heldout import reading_error, remote_kind
from ..kernelside.nb09 import BuiltTwice
from ..remote import is_remote, make, remote_error, value
from . import check

# What the checks build or run on the learner's side (grading.make), by name: kernelside.nb09's
# objects, each path written in full (the judge freezes the modules these paths name).
LEARNER_SIDE = {path.rpartition(".")[2]: path for path in (
    "mlcourse.grading.kernelside.nb09.lm",
    "mlcourse.grading.kernelside.nb09.stack",
    "mlcourse.grading.kernelside.nb09.requires_grad_flags",
    "mlcourse.grading.kernelside.nb09.parameters_of",
    "mlcourse.grading.kernelside.nb09.model_facts",
    "mlcourse.grading.kernelside.nb09.same_object",
    "mlcourse.grading.kernelside.nb09.logits_of",
    "mlcourse.grading.kernelside.nb09.MeanAbsoluteError",
    "mlcourse.grading.kernelside.nb09.ConstantSystem",
    "mlcourse.grading.kernelside.nb09.build_once",
    "mlcourse.grading.kernelside.nb09.LeastSquaresOnVal",
    "mlcourse.grading.kernelside.nb09.ConstantGuessScore",
)}
# The splits kernelside.nb09 builds: named here so that the judge freezes their modules.
ONCE = "mlcourse.grading.heldout.once"   # a split whose test part is handed over once
SPLIT = "mlcourse.data.Split"
# Several built, or run, in one request (kernelside.nb09, kernelside.calls).
MODELS = "mlcourse.grading.kernelside.nb09.models"
EVALUATIONS = "mlcourse.grading.kernelside.nb09.evaluations"
CHOICES = "mlcourse.grading.kernelside.nb09.choices"
FREEZER = "mlcourse.grading.kernelside.nb09.Freezer"
CALLS = "mlcourse.grading.kernelside.calls.Caller"
NOTEBOOK_SEED = 9  # the notebook draws its 50 example sentences with seed 9, its held-out text with 10

# torch.optim's first optimizer imports torch._dynamo (a second or so): in the judge's process,
# loaded while the notebook's cells run, not when the first baseline fine-tune builds its optimizer.
g.preload("torch._dynamo")


def _ask(like: Any, helper: str, *args: Any, what: str) -> Any:
    """Run ``helper(*args)`` of ``kernelside.nb09`` on the learner's side of ``like``; its plain result."""
    try:
        with g.quiet():
            return value(make(like, LEARNER_SIDE[helper], *args))
    except GradingError:
        raise
    except Exception as exc:
        kind = getattr(exc, "remote_type", type(exc).__name__)
        raise GradingError(f"{what} raised {kind}: {exc}") from None


def _number(x: Any, name: str) -> float:
    v = g.to_float64(x, name)
    g.check_true(v.shape == (), f"`{name}` should be one number, got an array of shape {v.shape}.")
    return float(v)


# ---- the prediction before the naive fine-tune --------------------------------------------------

NAIVE_CHOICES = ("above", "at", "below")
NAIVE_WHY = ("hint: the floor is the lowest loss any model can reach *on average over the dialect's text*, where the "
             "next word is truly uncertain. The training loss is measured on 40 fixed sentences, which a model with "
             "thousands of weights, trained for 25 epochs, can learn by heart.")


def _naive_choice(naive_training_loss_vs_floor: Any) -> str:
    name = "naive_training_loss_vs_floor"
    g.written(naive_training_loss_vs_floor, name, f"one of {', '.join(repr(c) for c in NAIVE_CHOICES)}")
    got = naive_training_loss_vs_floor
    g.check_true(type(got) is str and got.strip().lower() in NAIVE_CHOICES,
                 f"`{name}` should be one of {', '.join(repr(c) for c in NAIVE_CHOICES)}, got {got!r}.")
    return got.strip().lower()


def _naive_message(got: str, expected: str, where: str) -> str:
    slips = {"above": "a loss above the floor is what every model pays on *fresh* text; on the 40 sentences it "
                      "trains on, nothing stops the model from doing better than the floor.",
             "at": "the floor binds a model on text it has not seen; on its own 40 sentences a model can pass it."}
    mistake = slips.get(got) if got != expected else None
    return (f"`naive_training_loss_vs_floor` is {got!r}; {where}: {expected!r}."
            + (f"\nlikely mistake: {mistake}" if mistake else "") + "\n" + NAIVE_WHY)


@check()
def naive_prediction(naive_training_loss_vs_floor):
    """The learner's choice against the reasoning: a model that learns 40 sentences by heart beats the floor there."""
    got = _naive_choice(naive_training_loss_vs_floor)
    g.check_true(got == "below", _naive_message(got, "below", "expected"))
    g.passed("on its own 40 sentences a memorising model ends below the floor that binds it on fresh text")


@check()
def naive_prediction_measured(naive_training_loss_vs_floor, *, seed: int, count: int):
    """The run that settles it on ``count`` fresh draws of 40 dialect sentences: the notebook's naive fine-tune
    (lr 1e-2, 25 epochs, every layer), its final loss on its own 40 sentences against the dialect's floor (a side
    within 2 % of the floor counts as "at")."""
    from mlcourse.pretrained import dialect_source, held_out_loss, naive_fine_tune, pretrained_lm

    got = _naive_choice(naive_training_loss_vs_floor)
    floor = dialect_source().entropy_rate()
    rng = g.seeded(seed)
    for _ in range(count):
        draw = int(rng.integers(0, 2**31 - 2))
        train, _, _ = _draw(draw)
        with g.quiet(), g.one_thread():
            loss = held_out_loss(naive_fine_tune(pretrained_lm(), train, seed=draw % 1000)[0], train)
        measured = "at" if abs(loss - floor) <= 0.02 * floor else ("below" if loss < floor else "above")
        g.check_true(got == measured, _naive_message(
            got, measured, f"on a fresh draw of 40 sentences (seed {draw}) the naive fine-tune ends at {loss:.3f} "
                           f"nats on them, against the floor {floor:.3f}, so the measured answer is"))
    g.passed(f"the prediction agrees with {count} naive fine-tunes on fresh draws of 40 sentences")


# ---- Exercise 1: fraction_memorised -------------------------------------------------------


def _memorised(fraction_memorised, cases: Sequence[tuple[list, list]]) -> Iterator[float]:
    """fraction_memorised(samples, train_examples) for each case, in turn: the calls run several to a
    request (their arguments are fixed in advance), each result checked before the next is read."""
    for got in g.calls(CALLS, fraction_memorised, [((samples, train), {}) for samples, train in cases]):
        got = g.to_float64(got, "fraction_memorised's result")
        g.check_true(got.shape == (), "fraction_memorised should return one number, a fraction between 0 and 1; "
                     f"got an array of shape {got.shape}.")
        yield float(got)


def _memorised_hint(got: float, samples: list, train_examples: list) -> str:
    """The likely mistake behind a wrong fraction, named by the number it gives."""
    deduplicated = len(set(samples) & set(train_examples)) / len(samples)
    reversed_ = sum(t in samples for t in train_examples) / len(train_examples)
    copies = sum(s in set(train_examples) for s in samples)
    if got == deduplicated:
        return "every sample counts, repeats included: do not turn `samples` into a set."
    if got == reversed_:
        return ("this is the fraction of the training examples that were reproduced; the question is the other way "
                "round: which fraction of the *samples* are copies. Divide by len(samples).")
    if got == copies:
        return "this is the number of copies; divide it by len(samples) to get a fraction."
    return "count the samples that equal some training example, then divide by the number of samples."


@check(references=["mlcourse.pretrained.fraction_memorised"])
def memorised(fraction_memorised):
    """Sentences as strings with a repeated copy, token tuples, and the two extremes."""
    train_demo = ["the cat sleeps .", "some happy cats quietly chase a dog .", "a cat runs ."]
    samples_demo = ["the cat sleeps .", "a cat sleeps .", "the cat sleeps .", "the cat sleeps .", "some happy cats"]
    results = _memorised(fraction_memorised, [(samples_demo, train_demo), ([(1, 28), (2, 28)], [(3, 28)]),
                                              ([(3, 28)] * 3, [(3, 28)])])
    got = next(results)
    g.check_array("fraction_memorised(samples_demo, train_demo)", got, 0.6,
                  hint=_memorised_hint(got, samples_demo, train_demo))
    g.check_array("fraction_memorised([(1, 28), (2, 28)], [(3, 28)])", next(results), 0.0)
    g.check_array("fraction_memorised([(3, 28)] * 3, [(3, 28)])", next(results), 1.0)
    g.passed("fraction_memorised counts every copied sample")


@check(references=["mlcourse.pretrained.fraction_memorised"])
def memorised_random(fraction_memorised, *, seed: int, draws: int):
    """Random token-tuple sentences, repeats common, against mlcourse.pretrained.fraction_memorised."""
    from mlcourse.pretrained import fraction_memorised as reference

    rng = g.seeded(seed)
    cases = []
    for _ in range(draws):
        pool = sorted({tuple(rng.integers(0, 6, size=int(rng.integers(1, 4))).tolist()) + (28,)
                       for _ in range(40)})
        train = [pool[i] for i in rng.choice(len(pool), size=min(8, len(pool)), replace=False)]
        samples = [pool[i] for i in rng.integers(0, len(pool), size=int(rng.integers(5, 60)))]
        cases.append((samples, train))
    for (samples, train), got in zip(cases, _memorised(fraction_memorised, cases), strict=True):
        g.check_array(f"fraction_memorised on {len(samples)} random samples", got, reference(samples, train),
                      rtol=1e-12, hint=_memorised_hint(got, samples, train))
    g.passed("fraction_memorised counts every copied sample")


# ---- Exercise 2: freeze --------------------------------------------------------------------

FREEZE_FIRST = ("Freeze every parameter of the first {n} layer{s} of list(model.children()), weights and biases "
                "alike, and no other.")
FREEZE_REST = ("Parameters outside the first {n} layer{s} must become trainable (requires_grad = True) even if they "
               "were frozen before, so that freeze(model, k) always means the same thing.")


FLAGS_READ = "reading requires_grad after freeze"


def _frozen_flags(freeze, cases: Sequence[tuple[str, tuple, int]]) -> Iterator[np.ndarray]:
    """The requires_grad flags after ``freeze(model, n_layers)`` for each ``(factory, args, n_layers)``,
    in turn: each on a fresh ``factory(*args)`` built on the learner's side (all in one request); the
    freezes run several to a request (``kernelside.nb09.Freezer``), each model's flags read there as
    soon as its freeze returns; each case is compared before the next one's flags are read."""
    built = make(freeze, MODELS, [[factory, list(args)] for factory, args, _ in cases])
    calls = [((model, n_layers), {}) for model, (*_, n_layers) in zip(built, cases, strict=True)]
    if not is_remote(freeze):
        for args, kwargs in calls:
            g.call(freeze, *args, **kwargs)
            yield g.to_float64(_ask(freeze, "requires_grad_flags", args[0], what=FLAGS_READ), "requires_grad flags")
        return
    for entry in g.calls(FREEZER, freeze, calls):
        if type(entry) is not dict or not (type(entry.get("flags")) is list or type(entry.get("unread")) is dict):
            raise remote_error("BadReply", "the helper's record is not a record")
        if "flags" not in entry:   # reading the flags failed there, worded as its own request's failure
            exc = remote_error(str(entry["unread"].get("type")), str(entry["unread"].get("message")))
            raise GradingError(f"{FLAGS_READ} raised {exc.remote_type}: {exc}")
        yield g.to_float64(entry["flags"], "requires_grad flags")


def _judge_freezes(freeze, cases: Sequence[tuple[str, tuple, int, str]], *, rest: bool) -> None:
    """``_judge_freeze`` on each ``(factory, args, n_layers, label)``."""
    flags = _frozen_flags(freeze, [(factory, args, n_layers) for factory, args, n_layers, _ in cases])
    for (factory, args, n_layers, label), got in zip(cases, flags, strict=True):
        _judge_freeze(got, factory, args, n_layers, label, rest=rest)


def _judge_freeze(flags: np.ndarray, factory: str, args: tuple, n_layers: int, label: str, *, rest: bool) -> None:
    """The flags after freezing a model built by ``factory(*args)`` on the learner's side, compared
    with those of a twin built here."""
    from ..references import resolve

    twin = resolve(LEARNER_SIDE[factory])(*args)   # the same architecture here, for names and expected flags
    first = [child for child, _ in list(twin.named_children())[:n_layers]]
    names = [name for name, _ in twin.named_parameters()]
    expected = [not any(name.startswith(f"{child}.") for child in first) for name in names]
    if flags.shape == (len(names),) and bool((flags == np.array(expected, dtype=float)).all()):
        return
    got = list(zip(names, [bool(f) for f in flags.reshape(-1)], strict=False))
    want = list(zip(names, expected, strict=True))
    s = "" if n_layers == 1 else "s"
    if rest:
        raise GradingError(f"freeze(model, {n_layers}) on {label} left requires_grad wrong.\n"
                           f"  expected: {want}\n  got:      {got}\n" + FREEZE_REST.format(n=n_layers, s=s))
    wrong = [name for (name, flag), (_, w) in zip(got, want, strict=False) if flag != w]
    layers = [type(layer).__name__ for layer in twin.children()]
    raise GradingError(f"after freeze(model, {n_layers}) on {label} (layers: {layers}), requires_grad is wrong "
                       f"for: {wrong}.\n  expected: {want}\n  got:      {got}\n" + FREEZE_FIRST.format(n=n_layers, s=s))


def _random_stack(rng: np.random.Generator, *, random_flags: bool) -> tuple[list[int], list[bool] | None, int]:
    """Widths, optional requires_grad flags and n_layers of a random Linear/ReLU stack."""
    sizes = rng.integers(2, 9, size=int(rng.integers(3, 6))).tolist()
    n_linear = len(sizes) - 1
    flags = [bool(rng.random() < 0.5) for _ in range(2 * n_linear)] if random_flags else None  # weight, bias
    n_layers = int(rng.integers(0, 2 * n_linear))   # 0 .. len(stack): a ReLU between Linears
    return sizes, flags, n_layers


@check(references=["mlcourse.pretrained.freeze"])
def freeze(freeze):
    """A fresh ContextMLPLM (embed, hidden, out) frozen up to 1, 2 and 3 layers."""
    _judge_freezes(freeze, [("lm", (), n_layers, "a fresh ContextMLPLM") for n_layers in (1, 2, 3)], rest=False)
    g.passed("freeze freezes the first layers, weights and biases")


@check(references=["mlcourse.pretrained.freeze"])
def freeze_random(freeze, *, seed: int, models: int):
    """Random Linear/ReLU stacks, each frozen up to a random number of layers."""
    rng = g.seeded(seed)
    cases = []
    for _ in range(models):
        sizes, _, n_layers = _random_stack(rng, random_flags=False)
        cases.append(("stack", (sizes,), n_layers, "a fresh nn.Sequential"))
    _judge_freezes(freeze, cases, rest=False)
    g.passed("freeze freezes the first layers, weights and biases")


@check(references=["mlcourse.pretrained.freeze"])
def freeze_rest(freeze):
    """A ContextMLPLM frozen entirely beforehand: freeze(model, 1) and freeze(model, 0) thaw the rest."""
    _judge_freezes(freeze, [("lm", (True,), n_layers, "a ContextMLPLM whose parameters were all frozen")
                            for n_layers in (1, 0)], rest=True)
    g.passed("freeze leaves every other parameter trainable")


@check(references=["mlcourse.pretrained.freeze"])
def freeze_rest_random(freeze, *, seed: int, models: int):
    """Random Linear/ReLU stacks with random parameters frozen beforehand."""
    rng = g.seeded(seed)
    cases = []
    for _ in range(models):
        sizes, flags, n_layers = _random_stack(rng, random_flags=True)
        cases.append(("stack", (sizes, flags), n_layers, "an nn.Sequential with random parameters frozen"))
    _judge_freezes(freeze, cases, rest=True)
    g.passed("freeze leaves every other parameter trainable")


# ---- Exercise 3: fine_tune -----------------------------------------------------------------

FINE_TUNE_REMEDIES = (
    "Remedies: early stopping on val (fit(..., val, early_stopping=EarlyStopping(patience=5)) restores the best "
    "epoch), a lower learning rate (1e-3 rather than 1e-2), frozen embeddings, weight decay; and start from a "
    "copy of the pretrained model, not from fresh weights.")


def _draw(seed: int):
    """40 + 10 dialect sentences drawn with ``seed`` as windows, and 300 fresh ones drawn with seed + 1."""
    from mlcourse.pretrained import dialect_source, sample_sentences, sentence_windows

    sentences = sample_sentences(dialect_source(), 50, seed=seed)
    fresh = sentence_windows(sample_sentences(dialect_source(), 300, seed=seed + 1))
    return sentence_windows(sentences[:40]), sentence_windows(sentences[40:]), fresh


@functools.lru_cache(maxsize=8)
def _baselines(seed: int) -> dict[str, float]:
    """Held-out losses on the draw ``seed`` of the reference fine-tune and of the models it must beat."""
    from mlcourse.pretrained import (
        fine_tune_reference,
        held_out_loss,
        naive_fine_tune,
        pretrained_lm,
        train_from_scratch,
    )

    train, val, fresh = _draw(seed)
    with g.quiet(), g.one_thread():
        return {"reference": held_out_loss(fine_tune_reference(pretrained_lm(), train, val), fresh),
                "naive": held_out_loss(naive_fine_tune(pretrained_lm(), train)[0], fresh),
                "scratch": held_out_loss(train_from_scratch(train, val)[0], fresh),
                "zero-shot": held_out_loss(pretrained_lm(), fresh)}


def _require_model(fine_tune, model) -> None:
    facts = _ask(fine_tune, "model_facts", model, what="looking at fine_tune's result")
    g.check_true(facts["module"] is True, "fine_tune should return the fine-tuned model: expected a torch.nn.Module, "
                 f"got a {facts['type']}.")


def _held_out_loss(fine_tune, model, fresh: tuple[np.ndarray, np.ndarray]) -> float:
    """``model``'s next-token cross-entropy on ``fresh``: its logits come back, the targets stay here."""
    import torch
    import torch.nn.functional as F

    X, y = fresh
    logits = g.to_float64(_ask(fine_tune, "logits_of", model, X,
                               what=f"your fine-tuned model on fresh windows X of shape {X.shape}"), "logits")
    g.check_true(logits.shape == (len(y), 29), f"your fine-tuned model should map X {X.shape} to logits "
                 f"{(len(y), 29)}, got shape {logits.shape}.")
    return float(F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(y)))


def _judge_fine_tune(fine_tune, seed: int, where: str) -> tuple[float, float]:
    """Fine-tune on the draw ``seed`` on the learner's side; score on fresh text here."""
    train, val, fresh = _draw(seed)
    model = g.call(fine_tune, make(fine_tune, "mlcourse.pretrained.pretrained_lm"), train, val)
    _require_model(fine_tune, model)
    got = _held_out_loss(fine_tune, model, fresh)
    base = _baselines(seed)
    if abs(got - base["naive"]) < 1e-3:
        likely = "Your model does exactly as badly as the naive fine-tune: none of the remedies took effect. "
    elif abs(got - base["zero-shot"]) < 1e-3:
        likely = ("Your model scores exactly like the pretrained model it was given: did anything train (every layer "
                  "frozen, zero epochs)? ")
    elif got > base["zero-shot"]:
        likely = (f"Your model is worse than the pretrained model without any fine-tuning ({base['zero-shot']:.3f}): "
                  "it memorised the 40 sentences, or started from fresh weights. ")
    else:
        likely = ""
    advice = likely + FINE_TUNE_REMEDIES
    g.check_true(got < base["naive"] and got < base["scratch"],
                 f"on {where}, your fine-tuned model's held-out loss is {got:.3f} nats/token; expected: it beats "
                 f"both the naive fine-tune ({base['naive']:.3f}) and training from scratch "
                 f"({base['scratch']:.3f}). {advice}")
    g.check_in_band("held-out loss of fine_tune's model", got, low=0.0, high=base["reference"] + 0.1,
                    reference=base["reference"],
                    what=f"on {where} (nats per token; band: at most the reference + 0.1)", hint=advice)
    return got, base["reference"]


@check(references=["mlcourse.pretrained.fine_tune_reference"])
def fine_tune(fine_tune):
    """The notebook's own 40 + 10 sentences (seed 9), judged on its 300 held-out ones (seed 10)."""
    from mlcourse.pretrained import dialect_source

    got, reference = _judge_fine_tune(fine_tune, NOTEBOOK_SEED, "this notebook's 50 sentences")
    g.passed(f"your held-out loss {got:.3f}, the reference's {reference:.3f} "
             f"(floor {dialect_source().entropy_rate():.3f})")
    g.passed("fine_tune generalizes: better than naive fine-tuning and training from scratch")


@check(references=["mlcourse.pretrained.fine_tune_reference"])
def fine_tune_on_draw(fine_tune, *, seed: int):
    """Fresh 40 + 10 dialect sentences drawn with ``seed``, judged on 300 more drawn with seed + 1."""
    _judge_fine_tune(fine_tune, seed, "a hidden set of 50 dialect sentences")
    g.passed("fine_tune generalizes: better than naive fine-tuning and training from scratch")


def _judge_copy(fine_tune, seed: int, where: str) -> None:
    """fine_tune must leave the model it was given as it was, and return another one."""
    train, val, _ = _draw(seed)
    original = make(fine_tune, "mlcourse.pretrained.pretrained_lm")
    what = "reading the pretrained model's parameters"
    before = _ask(fine_tune, "parameters_of", original, what=what)
    model = g.call(fine_tune, original, train, val)
    after = _ask(fine_tune, "parameters_of", original, what=what)
    changed = [name for name in before if name not in after
               or not np.array_equal(g.to_float64(after[name], name), g.to_float64(before[name], name))]
    g.check_true(not changed,
                 f"on {where}, fine_tune changed the pretrained model it was given (parameters {changed}); "
                 "expected: every weight unchanged. Train a copy: model = copy.deepcopy(pretrained), then "
                 "fine-tune and return `model`, so the pretrained weights stay available for the next experiment.")
    same = _ask(fine_tune, "same_object", model, original, what="comparing fine_tune's result with its input")
    g.check_true(same is False,
                 "fine_tune returned the very model it was given; expected: a fine-tuned copy (copy.deepcopy).")


@check(references=["mlcourse.pretrained.fine_tune_reference"])
def fine_tune_copy(fine_tune):
    """The notebook's 40 + 10 sentences: the pretrained model handed in stays unchanged."""
    _judge_copy(fine_tune, NOTEBOOK_SEED, "this notebook's 50 sentences")
    g.passed("fine_tune leaves the pretrained model unchanged")


@check(references=["mlcourse.pretrained.fine_tune_reference"])
def fine_tune_copy_on_draw(fine_tune, *, seed: int):
    """Fresh 40 + 10 dialect sentences drawn with ``seed``: the pretrained model stays unchanged."""
    _judge_copy(fine_tune, seed, "a hidden data set")
    g.passed("fine_tune leaves the pretrained model unchanged")


# ---- Exercise 4: evaluate_once -------------------------------------------------------------

X_DEMO, Y_DEMO = np.arange(10.0).reshape(10, 1), np.arange(10.0)
INDICES_DEMO = {"train": np.arange(6), "val": np.array([6, 7]), "test": np.array([8, 9])}


def _random_split(rng: np.random.Generator, d: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """20 to 59 random examples with ``d`` features, split 1/2, 1/4, 1/4 in a random order."""
    n = int(rng.integers(20, 60))
    X, y = rng.standard_normal((n, d)), rng.standard_normal(n)
    order = rng.permutation(n)
    return X, y, {"train": order[: n // 2], "val": order[n // 2: 3 * n // 4], "test": order[3 * n // 4:]}


def _evaluations(evaluate_once, kind: str, system: str,
                 problems: Sequence[tuple[np.ndarray, np.ndarray, dict]]) -> Iterator[np.ndarray]:
    """evaluate_once(system, split, mean absolute error) for each ``(X, y, indices)``, in turn, each
    with a new system, metric and split (``kind`` "split": ``Split(X, y, indices)``, "once": a
    split whose test part is handed over once), all built on the learner's side in one request; the
    calls run several to a request, each result read after the one before was checked."""
    built = make(evaluate_once, EVALUATIONS, [[kind, system, X, y, indices] for X, y, indices in problems])
    for got in g.calls(CALLS, evaluate_once, [(tuple(args), {}) for args in built]):
        got = g.to_float64(got, "evaluate_once's result")
        g.check_true(got.shape == (), f"evaluate_once should return one number, the test score; got shape {got.shape}.")
        yield got


@check(references=[])
def evaluate_value(evaluate_once):
    """y = 0..9, split 6 / 2 / 2, and a system predicting the mean validation target."""
    # The system predicts 6.5 everywhere; on the test targets 8 and 9 its mean absolute error is 2.0.
    # Scored on the validation set it would be 0.5; built with the test set as its validation data, also 0.5.
    got = float(next(_evaluations(evaluate_once, "split", "ConstantSystem", [(X_DEMO, Y_DEMO, INDICES_DEMO)])))
    g.check_array("evaluate_once(constant_system, split_demo, mean_absolute_error)", got, 2.0,
                  hint="build the system with build_system(split.train, split.val), then score predict(X_test) "
                       "against y_test from split.test." if got != 0.5 else
                       "0.5 is the score on the validation set, or of a system built with the test set as its "
                       "validation data: build with (split.train, split.val), score on split.test.")
    g.passed("evaluate_once scores the system on the test set")


@check(references=[])
def evaluate_value_random(evaluate_once, *, seed: int, splits: int):
    """Random splits and a linear system fitted on the validation data, scored by mean absolute error."""
    rng = g.seeded(seed)
    problems = [_random_split(rng, 3) for _ in range(splits)]
    scores = _evaluations(evaluate_once, "split", "LeastSquaresOnVal", problems)
    for (X, y, indices), got in zip(problems, scores, strict=True):
        w = np.linalg.lstsq(X[indices["val"]], y[indices["val"]], rcond=None)[0]
        expected = np.mean(np.abs(X[indices["test"]] @ w - y[indices["test"]]))
        g.check_array("evaluate_once on a hidden split", float(got), expected, rtol=1e-10,
                      hint="build with build_system(split.train, split.val), score predict(X_test) against y_test.")
    g.passed("evaluate_once scores the system on the test set")


def _judge_disciplines(evaluate_once, problems: Sequence[tuple[np.ndarray, np.ndarray, dict]], where: str) -> None:
    """``_judge_discipline`` on each ``(X, y, indices)``: the calls run several to a request."""
    results = _evaluations(evaluate_once, "once", "build_once", problems)
    for X, y, indices in problems:
        _judge_discipline(results, X, y, indices, where)


def _judge_discipline(results: Iterator[np.ndarray], X: np.ndarray, y: np.ndarray, indices: dict,
                      where: str) -> None:
    """One build, one read of the test set, by construction: the split hands its test part over once
    and the system can be built once (a second read or build raises on the learner's side); the score
    (the next of ``results``) must be that of the system built from split.val, on the test targets,
    which stay here."""
    try:
        got = next(results)
    except GradingError as err:
        if reading_error(err) == "twice":
            raise GradingError(f"on {where}, evaluate_once read split.test 2 times (expected: once); read "
                               "it once: X_test, y_test = split.test (split.test[0] and split.test[1] are two "
                               "reads, and passing it to build_system is another).") from None
        if remote_kind(err) == BuiltTwice.__name__:
            raise GradingError(f"on {where}, evaluate_once called build_system more than once (expected: once); "
                               "build the system once, from split.train and split.val.") from None
        raise
    val_y, test_y = np.asarray(y[indices["val"]], dtype=float), np.asarray(y[indices["test"]], dtype=float)
    expected = float(np.mean(np.abs(test_y - val_y.mean())))
    if np.isclose(float(got), expected, rtol=1e-9, atol=1e-12):
        return
    if np.isclose(float(got), np.mean(np.abs(test_y - test_y.mean())), rtol=1e-9, atol=1e-12):
        raise GradingError(f"on {where}, build_system received the test set as its validation data (expected: "
                           "split.val). Early stopping and every other choice must use split.val; the test set "
                           "only scores the finished system.")
    if np.isclose(float(got), np.mean(np.abs(val_y - val_y.mean())), rtol=1e-9, atol=1e-12):
        raise GradingError(f"on {where}, evaluate_once never read split.test (expected: once): it returned "
                           f"{float(got):.6g}, the validation score. The final score must come from the test set.")
    raise GradingError(f"on {where}, evaluate_once returned {float(got):.6g}; expected {expected:.6g}, the test "
                       "score of the system built once from split.train and split.val, with split.test read once.")


@check(references=[])
def evaluate_reads(evaluate_once):
    """The ten-example split of evaluate_value: one build from split.val, one read of split.test."""
    _judge_disciplines(evaluate_once, [(X_DEMO, Y_DEMO, INDICES_DEMO)], "the ten-example split")
    g.passed("evaluate_once reads the test set exactly once, and builds the system without it")


@check(references=[])
def evaluate_reads_random(evaluate_once, *, seed: int, splits: int):
    """Random splits: one build from split.val, one read of split.test, each time."""
    rng = g.seeded(seed)
    _judge_disciplines(evaluate_once, [_random_split(rng, 2) for _ in range(splits)], "a hidden split")
    g.passed("evaluate_once reads the test set exactly once, and builds the system without it")


# ---- Exercise 5: choose_prompt -------------------------------------------------------------


def _guess_scores(candidates: Sequence[float], y: np.ndarray) -> np.ndarray:
    return np.array([np.mean(np.abs(y - c)) for c in candidates])


# Validation targets near 1, test targets near 3: validation picks 1, the test set would pick 3.
CANDIDATES_DEMO = [0.0, 1.0, 2.0, 3.0, 4.0]
X_PROMPT = np.arange(8.0).reshape(8, 1)
Y_PROMPT = np.array([5.0, 4.0, 6.0, 5.0, 1.0, 1.2, 3.1, 2.9])
INDICES_PROMPT = {"train": np.arange(4), "val": np.array([4, 5]), "test": np.array([6, 7])}


def _choices(choose_prompt, problems: Sequence[tuple[list, np.ndarray, np.ndarray, dict, float]]) -> Iterator[Any]:
    """What choose_prompt(candidates, score, split, margin) returned for each ``(candidates, X, y, indices, margin)``,
    twice in turn: first on ``Split(X, y, indices)``, then on a split whose test part is handed
    over once, each with a new ``ConstantGuessScore`` (all built on the learner's side in one
    request); the calls run several to a request, each result read after the one before was checked."""
    specs = [[kind, X, y, indices] for _, X, y, indices, _ in problems for kind in ("split", "once")]
    built = make(choose_prompt, CHOICES, specs)
    arguments = [(list(c), float(margin)) for c, *_, margin in problems for _ in range(2)]
    yield from g.calls(CALLS, choose_prompt, [((c, score, split, margin), {}) for (c, margin), (score, split)
                                              in zip(arguments, built, strict=True)])


def _choice(got: Any, where: str) -> tuple[float, float]:
    pair = list(got) if isinstance(got, (tuple, list)) else []
    g.check_true(len(pair) == 2, f"on {where}, choose_prompt should return (chosen, test_score); got {got!r}.")
    return _number(pair[0], "the chosen candidate"), _number(pair[1], "the test score")


def _judge_choices(choose_prompt, problems: Sequence[tuple[list, np.ndarray, np.ndarray, dict, float]],
                   where: str) -> None:
    """``_judge_choice`` on each ``(candidates, X, y, indices, margin)``: the calls run several to a request."""
    results = _choices(choose_prompt, problems)
    for candidates, X, y, indices, margin in problems:
        _judge_choice(results, candidates, X, y, indices, margin, f"{where}, margin {margin:g}")


def _decided(val_scores: np.ndarray, margin: float) -> int:
    """The contract's decision: the lowest validation score (the first on a tie) replaces the incumbent,
    candidate 0, only if it is lower than the incumbent's by more than ``margin``."""
    best = int(np.argmin(val_scores))
    return best if val_scores[0] - val_scores[best] > margin else 0


def _judge_choice(results: Iterator[Any], candidates: list, X: np.ndarray, y: np.ndarray, indices: dict,
                  margin: float, where: str) -> None:
    """The choice and its test score on a split (the next of ``results``); then again on one whose
    test part is handed over once (a second read raises on the learner's side; the one after):
    the same answer from one read."""
    val_scores = _guess_scores(candidates, y[indices["val"]])
    test_scores = _guess_scores(candidates, y[indices["test"]])
    train_scores = _guess_scores(candidates, y[indices["train"]])
    best, lowest = _decided(val_scores, margin), int(np.argmin(val_scores))
    chosen, test_score = _choice(next(results), where)
    if chosen != candidates[best]:
        gain = val_scores[0] - val_scores[lowest]
        if best == 0 and chosen == candidates[lowest]:
            why = (f"likely mistake: you switched to the lowest validation score, but it beats the incumbent "
                   f"candidates[0] by {gain:.3g}, not by more than the margin {margin:g}: keep the incumbent.")
        elif best != 0 and chosen == candidates[0]:
            why = (f"likely mistake: you kept the incumbent, but candidate {candidates[best]:g} beats it on "
                   f"validation by {gain:.3g}, more than the margin {margin:g}: switch.")
        elif chosen == candidates[int(np.argmin(test_scores))]:
            why = ("likely mistake: you chose on the test set. Its score then flatters the choice: "
                   f"{test_scores.min():.3g} on test, where the validation choice scores {test_scores[best]:.3g}. "
                   "Compare candidates on split.val only.")
        elif chosen == candidates[int(np.argmin(train_scores))]:
            why = "likely mistake: you chose on the training data; choose on split.val."
        else:
            why = ("compare every candidate on split.val; the lowest (the first on a tie) replaces candidates[0] "
                   "only if it beats candidates[0] there by more than the margin.")
        g.check_true(False, f"on {where}, choose_prompt chose {chosen:g}; expected {candidates[best]:g} (validation "
                     f"scores: incumbent {candidates[0]:g} {val_scores[0]:.3g}, lowest {candidates[lowest]:g} "
                     f"{val_scores[lowest]:.3g}). {why}")
    score_hint = "score(chosen, split.test), read once; not the validation score."
    g.check_array(f"the test score of the chosen candidate on {where}", test_score, test_scores[best], rtol=1e-9,
                  hint=score_hint)
    try:
        again = next(results)
    except GradingError as err:
        if reading_error(err) != "twice":
            raise
        raise GradingError(f"on {where}, choose_prompt read split.test 2 or more times; expected exactly once, for "
                           "the chosen candidate only, after the choice is made.") from None
    again = _choice(again, where)
    g.check_true(again == (chosen, test_score),
                 f"on {where}, choose_prompt returned {again} on a split whose test set can be read once, and "
                 f"{(chosen, test_score)} on the same data before; expected the same (chosen, test_score): read "
                 "split.test once, to score the chosen candidate.")


@check(references=[])
def choose(choose_prompt):
    """Five constant guesses 0..4, the incumbent 0; validation targets 1 and 1.2, test targets 3.1 and 2.9."""
    # On validation, 1 scores 0.1 against the incumbent's 1.1: a gain of 1.0. With margin 0.5 it switches to 1
    # (test score 2.0; the test set would pick 3); with margin 1.5 it keeps 0 (test score 3.0).
    _judge_choices(choose_prompt, [(CANDIDATES_DEMO, X_PROMPT, Y_PROMPT, INDICES_PROMPT, 0.5),
                                   (CANDIDATES_DEMO, X_PROMPT, Y_PROMPT, INDICES_PROMPT, 1.5)],
                   "the eight-example split")
    g.passed("choose_prompt decides on validation, against the margin, and reads the test set once, for the choice")


@check(references=[])
def choose_random(choose_prompt, *, seed: int, splits: int):
    """Random splits with validation and test centred apart, and random candidate lists."""
    rng = g.seeded(seed)
    problems = []
    for _ in range(splits):
        X, y, indices = _random_split(rng, 1)
        y[indices["val"]] += rng.uniform(-3, 3)
        y[indices["test"]] += rng.uniform(-3, 3)
        candidates = sorted({round(float(v), 2) for v in rng.uniform(-4, 4, size=int(rng.integers(3, 12)))})
        candidates = [candidates[i] for i in rng.permutation(len(candidates))]   # any one may be the incumbent
        val_scores = _guess_scores(candidates, y[indices["val"]])
        gain = val_scores[0] - val_scores.min()
        # A margin well below the gain (switch) or well above it (keep), never on its edge.
        margin = round(float(gain * rng.choice([rng.uniform(0.1, 0.7), rng.uniform(1.4, 3.0)])), 3) if gain > 0 \
            else round(float(rng.uniform(0, 0.5)), 3)
        problems.append((candidates, X, y, indices, margin))
    _judge_choices(choose_prompt, problems, "a hidden split")
    g.passed("choose_prompt decides on validation, against the margin, on hidden splits")
