"""mlcourse.pretrained: the dialect, sentences, the pretrained model and the three ways to fine-tune."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mlcourse.data import GrammarSource, Split
from mlcourse.pretrained import (
    CONTEXT,
    DIALECT_WEIGHTS,
    DOT,
    MAX_SENTENCE,
    dialect_source,
    fine_tune_reference,
    fraction_memorised,
    freeze,
    generate_sentences,
    held_out_loss,
    naive_fine_tune,
    new_lm,
    pretrained_lm,
    sample_sentences,
    sentence_split,
    sentence_windows,
    train_from_scratch,
)


def _flags(model):
    return [p.requires_grad for p in model.parameters()]


# --------------------------------------------------------------------------- the dialect


def test_dialect_is_the_same_grammar_with_other_word_frequencies():
    source, dialect = GrammarSource(), dialect_source()
    assert np.array_equal(source.step, dialect.step), "the dialect keeps the hidden states and moves"
    assert np.array_equal(source.emit > 0, dialect.emit > 0), "the dialect allows exactly the same words"
    assert np.allclose(dialect.emit.sum(axis=1), 1.0), "each state's word probabilities sum to 1"
    assert not np.allclose(source.emit, dialect.emit), "the dialect must differ from the source"
    assert dialect.entropy_rate() < source.entropy_rate()
    tokens = dialect.sample(3000, seed=3)
    assert source.valid_fraction(tokens) == 1.0, "dialect text is grammatical in the source grammar"
    # the sampler follows the new probabilities: "cats" is far more common than in the source
    cats = source.stoi["cats"]
    assert (tokens == cats).mean() > 2 * (source.sample(3000, seed=3) == cats).mean()


def test_dialect_log_prob_matches_its_entropy_rate():
    dialect = dialect_source()
    tokens = dialect.sample(40_000, seed=1)
    per_token = -dialect.log_prob(tokens) / len(tokens)
    assert abs(per_token - dialect.entropy_rate()) < 0.03, (per_token, dialect.entropy_rate())


def test_dialect_multiplies_every_words_probability_by_its_weight():
    """P'(x | s) = P(x | s) w(x) / sum_x' P(x' | s) w(x'), in every state, bit for bit."""
    source, dialect = GrammarSource(), dialect_source()
    w = np.array([DIALECT_WEIGHTS.get(x, 1.0) for x in source.vocab])
    emit = source.emit * w
    expected = emit / emit.sum(axis=1, keepdims=True)
    changed = (emit != source.emit).any(axis=1, keepdims=True)
    assert np.array_equal(dialect.emit, np.where(changed, expected, source.emit))
    assert all(w > 0 for w in DIALECT_WEIGHTS.values()), "the dialect keeps every sentence"
    # the numbers notebook 09 was written with
    assert dialect.entropy_rate() == pytest.approx(1.1613087309317602, abs=1e-12)
    assert source.decode(sample_sentences(dialect, 2, seed=0)[0]) == "some happy small dogs chase some cats ."


# --------------------------------------------------------------------------- sentences


def test_sample_sentences_are_whole_sentences_and_seeded():
    source = GrammarSource()
    sentences = sample_sentences(source, 30, seed=5)
    assert len(sentences) == 30
    for s in sentences:
        assert isinstance(s, tuple) and s[-1] == DOT and s.count(DOT) == 1, s
        assert source.is_valid(np.array(s))
    assert sentences == sample_sentences(source, 30, seed=5)
    assert sentences != sample_sentences(source, 30, seed=6)
    with pytest.raises(ValueError, match="positive int"):
        sample_sentences(source, 0)


def test_sentence_windows_start_every_sentence_after_dots():
    X, y = sentence_windows([(7, 19, DOT), (1, 12, 27, DOT)])
    assert X.shape == (7, CONTEXT) and y.shape == (7,)
    assert y.tolist() == [7, 19, DOT, 1, 12, 27, DOT]
    assert X[0].tolist() == [DOT] * CONTEXT and X[3].tolist() == [DOT] * CONTEXT, \
        "a window never reaches back into the previous sentence"
    assert X[2].tolist() == [DOT] * (CONTEXT - 2) + [7, 19]
    with pytest.raises(ValueError, match="no sentences"):
        sentence_windows([])


def test_sentence_split_keeps_sentences_whole_and_counts_test_reads():
    dialect = dialect_source()
    train, val, test = (sample_sentences(dialect, n, seed=s) for n, s in ((8, 1), (3, 2), (5, 3)))
    split = sentence_split(train, val, test)
    assert isinstance(split, Split)
    assert split.sizes == {"train": sum(map(len, train)), "val": sum(map(len, val)),
                           "test": sum(map(len, test))}
    assert np.array_equal(split.val[1], sentence_windows(val)[1])
    assert split.test_reads == 0
    assert np.array_equal(split.test[0], sentence_windows(test)[0])
    assert split.test_reads == 1


# --------------------------------------------------------------------------- models


def test_pretrained_lm_is_cached_deterministic_and_copied():
    first, second = pretrained_lm(), pretrained_lm()
    assert first is not second
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(),
                                                 second.state_dict().values(), strict=True))
    with torch.no_grad():
        for p in first.parameters():
            p.add_(1.0)
    third = pretrained_lm()
    assert all(torch.equal(a, b) for a, b in zip(second.state_dict().values(),
                                                 third.state_dict().values(), strict=True)), \
        "changing one copy must not change the next one"


def test_pretrained_lm_has_learned_the_source_grammar():
    source = GrammarSource()
    model = pretrained_lm()
    loss = held_out_loss(model, sentence_windows(sample_sentences(source, 500, seed=1)))
    assert source.entropy_rate() < loss < source.entropy_rate() + 0.12, loss
    samples = generate_sentences(model, 100, seed=0)
    assert source.valid_fraction(np.concatenate(samples)) > 0.97


def test_generate_sentences_shapes_and_seed():
    model = new_lm(seed=1)  # untrained: sentences may run to the length cap
    sentences = generate_sentences(model, 20, seed=3)
    assert len(sentences) == 20
    assert all(1 <= len(s) <= MAX_SENTENCE for s in sentences)
    assert all(s[-1] == DOT or len(s) == MAX_SENTENCE for s in sentences)
    assert sentences == generate_sentences(model, 20, seed=3)
    assert model.training, "generation leaves the model in the mode it found it in"


def test_freeze_first_layers_and_unfreeze_the_rest():
    model = new_lm()
    assert _flags(freeze(model, 1)) == [False, True, True, True, True]
    assert _flags(freeze(model, 2)) == [False, False, False, True, True]
    assert _flags(freeze(model, 0)) == [True] * 5, "freeze(model, 0) makes everything trainable"
    assert freeze(model, 3) is model
    assert _flags(model) == [False] * 5
    with pytest.raises(ValueError, match="n_layers"):
        freeze(model, -1)


def test_fraction_memorised_counts_every_copy():
    assert fraction_memorised(["a b", "a b", "c d", "e f"], ["a b", "c d"]) == 0.75
    assert fraction_memorised([(1, DOT)] * 3, [(1, DOT)]) == 1.0
    assert fraction_memorised([(1, DOT)], [(2, DOT)]) == 0.0
    with pytest.raises(ValueError, match="no samples"):
        fraction_memorised([], [(1, DOT)])


def test_reference_fine_tune_beats_naive_scratch_and_zero_shot():
    dialect = dialect_source()
    sentences = sample_sentences(dialect, 50, seed=9)
    train, val = sentence_windows(sentences[:40]), sentence_windows(sentences[40:])
    fresh = sentence_windows(sample_sentences(dialect, 300, seed=10))
    pretrained = pretrained_lm()
    before = {k: v.clone() for k, v in pretrained.state_dict().items()}
    remedied = held_out_loss(fine_tune_reference(pretrained, train, val), fresh)
    assert all(torch.equal(v, before[k]) for k, v in pretrained.state_dict().items()), \
        "fine_tune_reference must leave the pretrained model unchanged"
    naive_model, naive_history = naive_fine_tune(pretrained, train)
    naive = held_out_loss(naive_model, fresh)
    scratch = held_out_loss(train_from_scratch(train, val)[0], fresh)
    zero_shot = held_out_loss(pretrained, fresh)
    assert remedied + 0.3 < min(naive, scratch, zero_shot), (remedied, naive, scratch, zero_shot)
    assert naive_history.train_loss[-1] < dialect.entropy_rate() < naive, \
        "the naive fine-tune memorises: training loss below the floor, held-out loss above it"
    generated = generate_sentences(naive_model, 200, seed=0)
    assert fraction_memorised(generated, sentences[:40]) > 0.7, "the naive fine-tune parrots"
