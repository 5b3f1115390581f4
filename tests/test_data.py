"""Tests for mlcourse.data: data sets, the grammar corpus, splits, scaling, batching."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlcourse.data import (
    GrammarSource,
    Standardizer,
    iterate_minibatches,
    make_classification,
    make_corpus,
    make_lm_dataset,
    make_regression,
    make_sequences,
    train_val_test_split,
)

FAST = settings(max_examples=40, deadline=None, derandomize=True)


def _data(n: int, n_classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.arange(n, dtype=np.float64)[:, None] * np.ones((1, 2))  # row i holds i: traceable
    y = rng.integers(0, n_classes, n)
    return X, y


# --------------------------------------------------------------------------- synthetic sets


@pytest.mark.parametrize("kind", ["linear", "sine", "cubic"])
def test_regression_shapes_seed_and_noise_floor(kind):
    X, y, f = make_regression(2000, kind=kind, noise=0.3, seed=4, return_truth=True)
    assert X.shape == (2000, 1) and X.dtype == np.float64, f"X: {X.shape} {X.dtype}"
    assert y.shape == (2000,) and y.dtype == np.float64, f"y: {y.shape} {y.dtype}"
    residual_var = np.mean((y - f(X)) ** 2)
    assert abs(residual_var - 0.3**2) < 0.015, f"noise variance {residual_var}, expected 0.09"
    X2, y2 = make_regression(2000, kind=kind, noise=0.3, seed=4)
    assert np.array_equal(X, X2) and np.array_equal(y, y2), "same seed must give the same data"
    X3, _ = make_regression(2000, kind=kind, noise=0.3, seed=5)
    assert not np.array_equal(X, X3), "different seeds must give different data"


def test_regression_bad_kind_names_the_choices():
    with pytest.raises(ValueError, match="kind='quartic'.*cubic"):
        make_regression(kind="quartic")


@pytest.mark.parametrize(
    "kind, n_classes, expected_classes",
    [("blobs", None, 3), ("blobs", 5, 5), ("moons", None, 2), ("spirals", 4, 4)],
)
def test_classification_is_balanced_and_typed(kind, n_classes, expected_classes):
    X, y = make_classification(301, kind=kind, n_classes=n_classes, seed=2)
    assert X.shape == (301, 2) and X.dtype == np.float64, f"X: {X.shape} {X.dtype}"
    assert y.dtype == np.int64, f"y dtype {y.dtype}, expected int64"
    counts = np.bincount(y)
    assert len(counts) == expected_classes, f"classes {len(counts)}, expected {expected_classes}"
    assert counts.max() - counts.min() <= 1, f"class counts {counts} are not balanced"
    X2, y2 = make_classification(301, kind=kind, n_classes=n_classes, seed=2)
    assert np.array_equal(X, X2) and np.array_equal(y, y2), "same seed, same data"


def test_moons_refuse_three_classes():
    with pytest.raises(ValueError, match="exactly 2 classes.*n_classes=3"):
        make_classification(kind="moons", n_classes=3)


# --------------------------------------------------------------------------- grammar corpus


@pytest.fixture(scope="module")
def source() -> GrammarSource:
    return GrammarSource()


def test_vocab_and_stoi_agree(source):
    assert 15 <= len(source.vocab) <= 30, f"vocabulary size {len(source.vocab)}"
    assert all(source.stoi[w] == i for i, w in enumerate(source.vocab)), "stoi inverts vocab"
    assert "." in source.stoi, "sentences end with '.'"


def test_entropy_rate_matches_long_sample(source):
    tokens = source.sample(200_000, seed=11)
    empirical = -source.log_prob(tokens) / len(tokens)
    exact = source.entropy_rate()
    # per-token log-probs have std ~1 nat: the standard error at n=2e5 is ~0.003
    assert abs(empirical - exact) < 0.015, f"empirical {empirical:.4f} vs exact {exact:.4f}"


def test_conditional_entropy_decreases_to_the_floor(source):
    H = source.entropy_rate()
    Hk = [source.conditional_entropy(k) for k in range(8)]
    assert Hk[1] > Hk[3] >= H - 1e-12, f"H_1={Hk[1]}, H_3={Hk[3]}, H={H}"
    assert all(a >= b - 1e-12 for a, b in zip(Hk, Hk[1:], strict=False)), f"H_k must not increase: {Hk}"
    assert Hk[1] - H > 0.1, f"a bigram model should sit clearly above the floor: {Hk[1]} vs {H}"
    assert Hk[4] - H < 0.05, f"4 tokens of context should come close: {Hk[4]} vs {H}"
    assert abs(Hk[7] - H) < 1e-9, f"long contexts reach the floor: {Hk[7]} vs {H}"


def test_bigram_floor_matches_counted_bigrams(source):
    tokens = source.sample(200_000, seed=5)
    V = len(source.vocab)
    counts = np.zeros((V, V))
    np.add.at(counts, (tokens[:-1], tokens[1:]), 1)
    p_next = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    nll = -np.mean(np.log(p_next[tokens[:-1], tokens[1:]]))
    assert abs(nll - source.conditional_entropy(1)) < 0.02, (
        f"counted bigram entropy {nll:.4f} vs exact H_1 {source.conditional_entropy(1):.4f}"
    )


def test_valid_fraction_true_vs_random(source):
    tokens = source.sample(5000, seed=3)
    assert source.valid_fraction(tokens) == 1.0, "a true sample is entirely valid"
    assert source.valid_fraction(tokens[137:]) == 1.0, "a sample cut mid-sentence is valid"
    noise = np.random.default_rng(0).integers(0, len(source.vocab), 5000)
    frac = source.valid_fraction(noise)
    assert frac < 0.6, f"uniform random tokens scored {frac:.3f}; expected well below 1"


def test_agreement_violation_is_caught(source):
    good = source.encode("a lazy dog often sees the cats .")
    bad = source.encode("a lazy dog often see the cats .")
    assert source.is_valid(good), "singular subject with singular verb is grammatical"
    assert not source.is_valid(bad), "'dog ... see' breaks number agreement"
    mask = source.valid_transitions(bad)
    assert not mask[3] and mask.sum() == len(mask) - 1, f"only 'see' is invalid: {mask}"


def test_encode_decode_round_trip(source):
    tokens = source.sample(300, seed=8)
    text = source.decode(tokens)
    assert np.array_equal(source.encode(text), tokens), "encode(decode(tokens)) != tokens"
    assert source.decode(source.encode("some birds sleep.")) == "some birds sleep ."


def test_encode_unknown_word_is_named(source):
    with pytest.raises(ValueError, match="unknown words.*'unicorn'"):
        source.encode("a unicorn runs .")


# --------------------------------------------------------------------------- grammar weights


def _tables(src):
    return src.emit, src.step, src._cum, src._log_emit, src._step


def test_weights_of_one_give_the_default_tables(source):
    ones = {state: dict.fromkeys(source.word_probs(state), 1.0) for state in source.states}
    for same in (GrammarSource(weights=ones), GrammarSource(weights={}), GrammarSource(weights=None)):
        for a, b in zip(_tables(same), _tables(source), strict=True):
            assert np.array_equal(np.asarray(a), np.asarray(b)), "weight 1 must change nothing"
    assert np.array_equal(GrammarSource(weights=ones).sample(500, seed=2), source.sample(500, seed=2))


def test_weights_multiply_a_states_probabilities_then_renormalise(source):
    weighted = GrammarSource(weights={"start": {"some": 3.0}, "subj:any:0": {"cat": 9.0}})
    assert weighted.word_probs("start") == pytest.approx({"the": 0.5 / 1.5, "a": 0.25 / 1.5,
                                                          "some": 0.75 / 1.5})
    p = source.word_probs("subj:any:0")
    after = {w: q * (9.0 if w == "cat" else 1.0) / (1 + 8 * p["cat"]) for w, q in p.items()}
    assert weighted.word_probs("subj:any:0") == pytest.approx(after)
    assert weighted.word_probs("obj") == source.word_probs("obj"), "other states are unchanged"
    assert "weights for 2 states" in repr(weighted), repr(weighted)
    tokens = weighted.sample(20_000, seed=1)
    per_token = -weighted.log_prob(tokens) / len(tokens)
    assert abs(per_token - weighted.entropy_rate()) < 0.03, "log_prob and entropy follow the weights"


def test_a_weight_of_zero_removes_a_word_from_samples(source):
    no_cats = GrammarSource(weights={state: {"cats": 0.0} for state in source.states
                                     if "cats" in source.word_probs(state)})
    tokens = no_cats.sample(20_000, seed=0)
    cats = source.stoi["cats"]
    assert (source.sample(20_000, seed=0) == cats).any(), "the grammar itself says 'cats'"
    assert not (tokens == cats).any(), "weight 0: 'cats' never appears"
    assert source.valid_fraction(tokens) == 1.0, "the rest is still the same grammar"
    assert not no_cats.is_valid(source.encode("some cats sleep ."))
    with pytest.raises(ValueError, match=r"\('cats'\) cannot follow"):
        no_cats.log_prob(source.encode("some cats sleep ."))


@pytest.mark.parametrize(("weights", "pattern"), [
    ({"begin": {"the": 2.0}}, r"unknown states \['begin'\]"),
    ({"start": {"zebra": 2.0}}, r"weights\['start'\] names unknown words \['zebra'\]"),
    ({"start": {"cat": 2.0}}, r"\['cat'\], which state 'start' never emits; its words are "
                              r"\['the', 'a', 'some'\]"),
    ({"start": {"the": -1.0}}, r"weights\['start'\]\['the'\]=-1\.0 must be a finite number >= 0"),
    ({"start": {"the": float("nan")}}, r"\['the'\]=nan must be a finite number"),
    ({"start": {"the": float("inf")}}, r"\['the'\]=inf must be a finite number"),
    ({"start": {"the": "2"}}, r"\['the'\]='2' must be a finite number"),
    ({"start": {"the": True}}, r"\['the'\]=True must be a finite number"),
    ({"start": {"the": 0, "a": 0, "some": 0.0}}, r"every word of state 'start' weight 0"),
    ({"end": {".": 0}}, r"every word of state 'end' weight 0"),
    ({"start": 2.0}, r"weights\['start'\]=2\.0 must map words to weights"),
    ([("start", {"the": 2.0})], r"must map state names to \{word: weight\}"),
])
def test_bad_weights_are_named(weights, pattern):
    with pytest.raises(ValueError, match=pattern):
        GrammarSource(weights=weights)


def test_make_corpus_is_seeded():
    a, src = make_corpus(1000, seed=1)
    b, _ = make_corpus(1000, seed=1)
    c, _ = make_corpus(1000, seed=2)
    assert a.dtype == np.int64 and a.shape == (1000,), f"{a.dtype} {a.shape}"
    assert np.array_equal(a, b) and not np.array_equal(a, c), "seeded and seed-dependent"
    assert isinstance(src, GrammarSource)


def test_lm_dataset_windows():
    tokens = np.arange(10, dtype=np.int64)
    X, y = make_lm_dataset(tokens, context=3)
    assert X.shape == (7, 3) and y.shape == (7,), f"{X.shape} {y.shape}"
    assert np.array_equal(X[:, -1] + 1, y), "y follows the last token of each window"
    assert X.dtype == np.int64 and y.dtype == np.int64
    with pytest.raises(ValueError, match="at least 4 tokens"):
        make_lm_dataset(tokens[:3], context=3)


def test_sequences_targets_are_shifted_inputs():
    tokens = np.arange(20, dtype=np.int64)
    inputs, targets = make_sequences(tokens, block_size=6)
    assert inputs.shape == targets.shape == (3, 6), f"{inputs.shape} {targets.shape}"
    assert np.array_equal(inputs + 1, targets), "targets[b, t] is the token after inputs[b, t]"
    overlapping, _ = make_sequences(tokens, block_size=6, stride=1)
    assert overlapping.shape == (14, 6), f"stride 1 gives one block per start: {overlapping.shape}"


# --------------------------------------------------------------------------- splits


@FAST
@given(
    n=st.integers(20, 300),
    seed=st.integers(0, 2**31 - 1),
    stratify=st.booleans(),
)
def test_split_is_disjoint_covering_and_deterministic(n, seed, stratify):
    X, y = _data(n, n_classes=2, seed=seed % 1000)
    fractions = (0.6, 0.2, 0.2)
    if stratify and np.bincount(y, minlength=2).min() < 5:
        return  # too small to stratify into three parts; tested separately
    split = train_val_test_split(X, y, fractions, seed=seed, stratify=stratify)
    parts = [split.indices[name] for name in ("train", "val", "test")]
    joined = np.concatenate(parts)
    assert len(joined) == len(np.unique(joined)), "an index appears in two parts"
    assert np.array_equal(np.sort(joined), np.arange(n)), "parts must cover every row"
    for name, idx in zip(("train", "val", "test"), parts, strict=True):
        X_part, y_part = getattr(split, name)
        assert np.array_equal(X_part[:, 0], idx), f"{name} X rows do not match its indices"
        assert np.array_equal(y_part, y[idx]), f"{name} y does not match its indices"
    again = train_val_test_split(X, y, fractions, seed=seed, stratify=stratify)
    for name in ("train", "val", "test"):
        assert np.array_equal(split.indices[name], again.indices[name]), f"{name} not repeatable"


def test_split_sizes_and_seeds_differ():
    X, y = _data(200)
    a = train_val_test_split(X, y, seed=0)
    b = train_val_test_split(X, y, seed=1)
    assert a.sizes == {"train": 140, "val": 30, "test": 30}, f"sizes {a.sizes}"
    assert not np.array_equal(a.indices["test"], b.indices["test"]), "seeds 0 and 1 agree"


@FAST
@given(
    counts=st.lists(st.integers(8, 60), min_size=2, max_size=4),
    seed=st.integers(0, 1000),
)
def test_stratified_split_keeps_class_proportions(counts, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    X = np.arange(len(y), dtype=np.float64)[:, None]
    fractions = (0.5, 0.25, 0.25)
    split = train_val_test_split(X, y, fractions, seed=seed, stratify=True)
    for name, frac in zip(("train", "val", "test"), fractions, strict=True):
        part_counts = np.bincount(y[split.indices[name]], minlength=len(counts))
        expected = frac * np.array(counts)
        worst = np.abs(part_counts - expected).max()
        assert worst < 1, f"{name}: class counts {part_counts}, expected about {expected}"


def test_test_reads_are_counted():
    X, y = _data(50)
    split = train_val_test_split(X, y)
    split.train, split.val, split.train  # noqa: B018 (reading is the point)
    assert split.test_reads == 0, "reading train/val must not count"
    split.test  # noqa: B018
    _, y_test = split.test
    assert split.test_reads == 2, f"two reads of .test, counted {split.test_reads}"
    assert "test_reads=2" in repr(split) and "train=35" in repr(split), repr(split)
    assert split.test_reads == 2, "reading test_reads or repr must not count"


def test_split_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    X = torch.arange(40, dtype=torch.float64).reshape(20, 2)
    y = torch.arange(20)
    split = train_val_test_split(X, y, seed=3)
    X_train, y_train = split.train
    assert isinstance(X_train, torch.Tensor), f"got {type(X_train)}"
    assert torch.equal(y_train, y[torch.from_numpy(split.indices["train"])])


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"fractions": (0.7, 0.2, 0.2)}, r"sum to 1\.1, not 1.*rescaled"),
        ({"fractions": (0.9, 0.3, -0.2)}, r"test fraction is -0\.2.*>= 0"),
        ({"fractions": (0.5, 0.5)}, r"three numbers"),
        ({"fractions": (0.98, 0.01, 0.01)}, r"val part would be empty.*at least 100 examples"),
    ],
)
def test_split_errors_name_the_problem(kwargs, pattern):
    X, y = _data(30)
    with pytest.raises(ValueError, match=pattern):
        train_val_test_split(X, y, **kwargs)


def test_split_length_mismatch_names_both_lengths():
    X, y = _data(30)
    with pytest.raises(ValueError, match="X has 30 rows but y has 29"):
        train_val_test_split(X, y[:-1])


def test_stratify_with_a_tiny_class_names_it():
    y = np.array([0] * 40 + [1] * 2)
    X = np.zeros((42, 1))
    with pytest.raises(ValueError, match="of class 1.*at least 7 examples of class 1"):
        train_val_test_split(X, y, stratify=True)


def test_zero_fraction_gives_an_empty_part_on_purpose():
    X, y = _data(20)
    split = train_val_test_split(X, y, fractions=(0.8, 0.0, 0.2))
    assert split.sizes == {"train": 16, "val": 0, "test": 4}, f"sizes {split.sizes}"


# --------------------------------------------------------------------------- standardizer


def test_standardizer_is_fit_on_train_only():
    rng = np.random.default_rng(0)
    X = rng.normal(loc=[5.0, -2.0, 0.0], scale=[3.0, 0.5, 1.0], size=(400, 3))
    X[:, 2] = 7.0  # a constant column
    split = train_val_test_split(X, np.zeros(400), seed=0)
    X_train, X_val = split.train[0], split.val[0] + 1.0  # shift val: it must not be re-centred
    scaler = Standardizer().fit(X_train)
    Z_train, Z_val = scaler.transform(X_train), scaler.transform(X_val)
    assert np.allclose(Z_train.mean(axis=0), 0, atol=1e-12), f"train mean {Z_train.mean(0)}"
    assert np.allclose(Z_train[:, :2].std(axis=0), 1), f"train std {Z_train.std(0)}"
    assert np.all(np.isfinite(Z_val)), "no division by zero on the constant column"
    assert scaler.std_[2] == 1.0, f"constant column std_ {scaler.std_[2]}, expected 1"
    assert not np.allclose(Z_val[:, :2].mean(axis=0), 0, atol=0.1), "val was re-centred"
    assert np.allclose(scaler.inverse_transform(Z_val), X_val), "inverse_transform undoes it"
    assert np.allclose(Standardizer().fit_transform(X_train), Z_train), "fit_transform"


def test_standardizer_errors():
    with pytest.raises(RuntimeError, match="call fit"):
        Standardizer().transform(np.ones((2, 2)))
    scaler = Standardizer().fit(np.ones((4, 3)))
    with pytest.raises(ValueError, match="2 columns.*fitted on 3 columns"):
        scaler.transform(np.ones((4, 2)))
    with pytest.raises(ValueError, match="reshape"):
        scaler.transform(np.ones(3))


# --------------------------------------------------------------------------- mini-batches


@FAST
@given(
    n=st.integers(1, 120),
    batch_size=st.integers(1, 50),
    seed=st.integers(0, 10_000),
    drop_last=st.booleans(),
)
def test_minibatches_cover_every_index_once(n, batch_size, seed, drop_last):
    X = np.arange(n)[:, None] * np.ones((1, 3))
    y = np.arange(n)
    batches = list(iterate_minibatches(X, y, batch_size, seed=seed, drop_last=drop_last))
    seen = np.concatenate([yb for _, yb in batches]) if batches else np.array([], dtype=int)
    for X_batch, y_batch in batches:
        assert np.array_equal(X_batch[:, 0], y_batch), "X and y rows must stay paired"
    if drop_last:
        assert all(len(yb) == batch_size for _, yb in batches), "drop_last keeps full batches"
        assert len(seen) == n - n % batch_size, f"saw {len(seen)} rows"
        assert len(np.unique(seen)) == len(seen), "a row appeared twice"
    else:
        assert np.array_equal(np.sort(seen), np.arange(n)), "every row exactly once per epoch"
        assert len(batches) == -(-n // batch_size), f"{len(batches)} batches"


def test_minibatch_order_depends_on_seed_and_shuffle():
    X, y = np.zeros((100, 1)), np.arange(100)
    order = [np.concatenate([yb for _, yb in iterate_minibatches(X, y, 10, seed=s)])
             for s in (0, 0, 1)]
    assert np.array_equal(order[0], order[1]), "same seed, same order"
    assert not np.array_equal(order[0], order[2]), "different seeds, different orders"
    plain = np.concatenate([yb for _, yb in iterate_minibatches(X, y, 10, shuffle=False)])
    assert np.array_equal(plain, np.arange(100)), "shuffle=False keeps the order"


def test_minibatches_of_torch_tensors():
    torch = pytest.importorskip("torch")
    X = torch.arange(30, dtype=torch.float32).reshape(10, 3)
    y = torch.arange(10)
    batches = list(iterate_minibatches(X, y, batch_size=4, seed=2))
    assert [len(yb) for _, yb in batches] == [4, 4, 2], "last partial batch kept"
    assert all(isinstance(xb, torch.Tensor) for xb, _ in batches), "tensors stay tensors"
    assert torch.equal(torch.sort(torch.cat([yb for _, yb in batches])).values, y)
    assert all(torch.equal(xb[:, 0] / 3, yb.float()) for xb, yb in batches), "rows paired"


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_minibatch_size_must_be_a_positive_int(bad):
    with pytest.raises(ValueError, match=f"batch_size={bad!r} must be a positive int"):
        iterate_minibatches(np.zeros((5, 1)), np.zeros(5), bad)


def test_minibatch_length_mismatch_is_raised_at_the_call():
    with pytest.raises(ValueError, match="X has 5 rows but y has 4"):
        iterate_minibatches(np.zeros((5, 1)), np.zeros(4), 2)


# ---- the real data set: Mauna Loa CO2 ------------------------------------------------------


def test_mauna_loa_is_the_weekly_record_in_order():
    from mlcourse.data import mauna_loa_co2

    t, co2 = mauna_loa_co2()
    assert t.shape == co2.shape == (2225,), (t.shape, co2.shape)
    assert t.dtype == co2.dtype == np.float64
    assert np.all(np.diff(t) > 0), "weeks should be in time order, each once"
    assert 1958.2 < t[0] < 1958.3 and 2001.9 < t[-1] < 2002.0, (t[0], t[-1])
    # Most steps are one week; the longest gap (weeks without steady air) is about 19 weeks.
    steps = np.diff(t) * 365.25
    assert np.median(steps) == pytest.approx(7, abs=0.1) and steps.max() < 200, steps.max()


def test_mauna_loa_has_its_trend_and_its_season():
    """What the notebooks rely on: CO2 rose by about 55 ppm over the record, and swings by about
    6 ppm within each year, highest in May."""
    from mlcourse.data import mauna_loa_co2

    t, co2 = mauna_loa_co2()
    first, last = co2[t < 1959].mean(), co2[t >= 2001].mean()
    assert 50 < last - first < 60, (first, last)
    trend = np.polyval(np.polyfit(t, co2, 2), t)
    phase = t % 1.0
    by_month = [np.mean((co2 - trend)[(phase >= m / 12) & (phase < (m + 1) / 12)]) for m in range(12)]
    assert 4 < max(by_month) - min(by_month) < 9, by_month
    assert int(np.argmax(by_month)) in (3, 4), by_month   # April-May


def test_the_shipped_file_states_its_source_and_licence():
    from importlib import resources

    header = resources.files("mlcourse.data").joinpath("mauna_loa_co2.csv").read_text().split("week,")[0]
    assert "Keeling" in header and "public domain" in header and "Scripps" in header, header
