"""mlcourse.models: small torch models, their shapes, and that they learn."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch

from mlcourse.data import make_corpus, make_lm_dataset, make_sequences
from mlcourse.losses import cross_entropy, next_token_cross_entropy
from mlcourse.models import BigramLM, ContextMLPLM, TinyTransformerLM, TorchMLP, generate
from mlcourse.train import fit


def test_torch_mlp_shapes_and_seeded_init():
    model = TorchMLP([2, 16, 16, 3], activation="tanh", seed=4)
    assert model(torch.zeros(5, 2)).shape == (5, 3)
    assert sum(isinstance(m, torch.nn.Tanh) for m in model.modules()) == 2
    twin = TorchMLP([2, 16, 16, 3], activation="tanh", seed=4)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), twin.parameters(),
                                                 strict=True)), "same seed, same weights"
    state = torch.random.get_rng_state()
    TorchMLP([2, 4, 1], seed=1)
    assert torch.equal(state, torch.random.get_rng_state()), "seeded init must not move RNG"


@pytest.mark.parametrize(("args", "match"), [(([3],), "needs an input and an output"),
                                             (([2, 0, 1],), "positive int"),
                                             (([2, 3], "swish"), "activation='swish'")])
def test_torch_mlp_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        TorchMLP(*args)


def test_language_model_shapes():
    tokens = torch.randint(0, 11, (4, 6))
    assert BigramLM(11)(tokens).shape == (4, 6, 11)
    assert BigramLM(11)(tokens[:, 0]).shape == (4, 11)
    assert ContextMLPLM(11, context=6, embed_dim=4, hidden=8)(tokens).shape == (4, 11)
    assert TinyTransformerLM(11, context=8)(tokens).shape == (4, 6, 11)
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        ContextMLPLM(11, context=3)(tokens)
    with pytest.raises(ValueError, match="T <= context=4"):
        TinyTransformerLM(11, context=4)(tokens)
    with pytest.raises(ValueError, match="divisible"):
        TinyTransformerLM(11, context=4, embed_dim=10, heads=3)


def test_transformer_is_causal():
    model = TinyTransformerLM(13, context=8, seed=0).eval()
    tokens = torch.randint(0, 13, (2, 8), generator=torch.Generator().manual_seed(0))
    changed = tokens.clone()
    changed[:, 5:] = (changed[:, 5:] + 1) % 13
    with torch.no_grad():
        a, b = model(tokens), model(changed)
    assert torch.allclose(a[:, :5], b[:, :5], atol=1e-6), "a position must not see the future"
    assert not torch.allclose(a[:, 5:], b[:, 5:])


def test_context_mlp_learns_below_the_unigram_loss():
    tokens, source = make_corpus(3000, seed=0)
    X, y = make_lm_dataset(tokens, context=2)
    vocab = int(tokens.max()) + 1
    model = ContextMLPLM(vocab, context=2, embed_dim=8, hidden=32, seed=0)
    h = fit(model, cross_entropy, torch.optim.Adam(model.parameters(), lr=0.01), (X, y),
            epochs=4, batch_size=64, progress=False)
    counts = np.bincount(y, minlength=vocab) / len(y)
    unigram = -float(np.sum(counts[counts > 0] * np.log(counts[counts > 0])))
    assert h.train_loss[-1] < unigram - 0.3, (h.train_loss, unigram)
    assert h.train_loss[-1] > source.entropy_rate() - 0.05, "no model beats the entropy floor"


def test_transformer_trains_with_next_token_loss():
    tokens, _ = make_corpus(2000, seed=1)
    inputs, targets = make_sequences(tokens, block_size=16)
    vocab = int(tokens.max()) + 1
    model = TinyTransformerLM(vocab, context=16, seed=0)
    h = fit(model, next_token_cross_entropy, torch.optim.Adam(model.parameters(), lr=3e-3),
            (inputs, targets), epochs=3, batch_size=16, progress=False)
    assert h.train_loss[-1] < math.log(vocab) - 0.5, h.train_loss


def test_generate_continues_a_prompt():
    for model in (BigramLM(7, seed=0), ContextMLPLM(7, context=3, seed=0),
                  TinyTransformerLM(7, context=4, seed=0)):
        out = generate(model, [1, 2, 3], length=5, seed=0)
        assert out[:3] == [1, 2, 3] and len(out) == 8 and all(0 <= t < 7 for t in out)
        assert out == generate(model, [1, 2, 3], length=5, seed=0), "seeded sampling repeats"
    with pytest.raises(ValueError, match="at least 3"):
        generate(ContextMLPLM(7, context=3), [1], length=2)


def test_import_mlcourse_stays_light():
    code = ("import sys, mlcourse, mlcourse.train, mlcourse.plots; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"MPLBACKEND": "Agg", "PATH": ""})
    assert out.stdout.strip() == "False", "mlcourse, train and plots must not import torch"
