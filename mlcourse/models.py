"""Small PyTorch models for the later notebooks (06 onwards).

- ``TorchMLP``: the torch twin of ``mlcourse.nn.MLP``, for the loop on a device.
- ``BigramLM``: the next token from the current one -- a table of logits.
- ``ContextMLPLM``: the next token from the previous ``context`` tokens
  (embeddings, concatenated, through an MLP).
- ``TinyTransformerLM``: a one- or two-block causal transformer over (B, T) tokens.
- ``generate``: sample a continuation from any of the language models.

This module imports torch, so ``import mlcourse`` does not import it: it is
loaded only on ``from mlcourse.models import ...``.

Shapes: ``tokens: (B, T)`` int64, ``logits: (B, T, V)`` or ``(B, V)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mlcourse import arguments
from mlcourse.device import eval_mode

__all__ = ["TorchMLP", "BigramLM", "ContextMLPLM", "TinyTransformerLM", "generate"]

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}


def _init_rng(seed: int | None) -> contextlib.AbstractContextManager:
    """Build layers under this to draw their initial weights from ``seed``.

    The global torch RNG is left exactly as it was; with ``seed=None`` the
    layers draw from it as usual.
    """
    if seed is None:
        return contextlib.nullcontext()
    if not arguments.is_int(seed) or seed < 0:
        raise ValueError(f"seed={seed!r} must be a non-negative int or None, e.g. seed=0")
    stack = contextlib.ExitStack()
    stack.enter_context(torch.random.fork_rng(devices=[]))
    torch.manual_seed(int(seed))
    return stack


class TorchMLP(nn.Module):
    """Linear layers with an activation between them; no activation after the last.

    Parameters
    ----------
    sizes : sequence of int
        ``[d_in, hidden_1, ..., d_out]``; ``TorchMLP([2, 32, 3])`` is
        Linear(2, 32), ReLU, Linear(32, 3).
    activation : "relu", "tanh", "gelu" or "sigmoid"
    seed : int or None
        Seeds the initial weights without touching the global RNG.

    Shapes: ``X: (n, d_in)`` -> ``(n, d_out)``.

    Example
    -------
    >>> TorchMLP([2, 32, 3])(torch.zeros(5, 2)).shape
    torch.Size([5, 3])
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu", *,
                 seed: int | None = None) -> None:
        super().__init__()
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"TorchMLP: sizes={sizes} needs an input and an output size, "
                             "e.g. [2, 32, 3]")
        sizes = [arguments.count(s, f"sizes[{i}]", example=32, owner="TorchMLP")
                 for i, s in enumerate(sizes)]
        if activation not in _ACTIVATIONS:
            raise ValueError(f"TorchMLP: activation={activation!r} is not known; use one of "
                             f"{sorted(_ACTIVATIONS)}")
        layers: list[nn.Module] = []
        with _init_rng(seed):
            for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
                layers.append(nn.Linear(d_in, d_out))
                if i < len(sizes) - 2:
                    layers.append(_ACTIVATIONS[activation]())
        self.net = nn.Sequential(*layers)
        self.sizes, self.activation = sizes, activation

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.net(X)


class BigramLM(nn.Module):
    """Next-token logits from the current token alone: a (V, V) table.

    Row ``i`` of the table holds the logits of the token that follows token
    ``i``; after training, ``softmax`` of a row estimates P(next | current).

    Shapes: ``tokens: (...)`` int64 -> ``logits: (..., V)``; for instance
    ``(B, T) -> (B, T, V)`` for ``next_token_cross_entropy``, or ``(n,) -> (n, V)``.

    Example
    -------
    >>> BigramLM(10)(torch.zeros(4, 7, dtype=torch.long)).shape
    torch.Size([4, 7, 10])
    """

    def __init__(self, vocab_size: int, *, seed: int | None = None) -> None:
        super().__init__()
        vocab_size = self.vocab_size = arguments.count(vocab_size, "vocab_size", example=29,
                                                       owner="BigramLM")
        with _init_rng(seed):
            self.table = nn.Embedding(vocab_size, vocab_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.table(tokens)


class ContextMLPLM(nn.Module):
    """The next token from the previous ``context`` tokens (Bengio et al., 2003).

    Each token is embedded in ``embed_dim`` numbers, the ``context`` embeddings
    are concatenated and a hidden layer of ``hidden`` tanh units maps them to
    logits over the vocabulary. Pairs ``(X, y)`` come from
    ``mlcourse.data.make_lm_dataset(tokens, context)``.

    Shapes: ``X: (n, context)`` int64 -> ``logits: (n, V)``.

    Example
    -------
    >>> model = ContextMLPLM(vocab_size=20, context=3, embed_dim=8, hidden=32)
    >>> model(torch.zeros(5, 3, dtype=torch.long)).shape
    torch.Size([5, 20])
    """

    def __init__(self, vocab_size: int, context: int, embed_dim: int = 16, hidden: int = 64,
                 *, seed: int | None = None) -> None:
        super().__init__()
        owner = "ContextMLPLM"
        vocab_size = self.vocab_size = arguments.count(vocab_size, "vocab_size", example=29,
                                                       owner=owner)
        context = self.context = arguments.count(context, "context", example=5, owner=owner)
        embed_dim = arguments.count(embed_dim, "embed_dim", example=16, owner=owner)
        hidden = arguments.count(hidden, "hidden", example=64, owner=owner)
        with _init_rng(seed):
            self.embed = nn.Embedding(vocab_size, embed_dim)
            self.hidden = nn.Linear(context * embed_dim, hidden)
            self.out = nn.Linear(hidden, vocab_size)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        if X.ndim != 2 or X.shape[1] != self.context:
            raise ValueError(f"ContextMLPLM expects X of shape (n, {self.context}) -- the "
                             f"previous {self.context} tokens of each example -- got "
                             f"{tuple(X.shape)}; build it with make_lm_dataset(tokens, "
                             f"context={self.context})")
        e = self.embed(X)                       # (n, context, embed_dim)
        h = torch.tanh(self.hidden(e.flatten(1)))  # (n, hidden)
        return self.out(h)                      # (n, V)


class _Block(nn.Module):
    """Pre-norm transformer block: causal self-attention, then an MLP, each residual."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(D, dim=-1)
        # (B, T, D) -> (B, heads, T, D / heads): each head attends on its own slice
        q, k, v = (t.view(B, T, self.heads, D // self.heads).transpose(1, 2) for t in (q, k, v))
        att = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # no peeking ahead
        x = x + self.proj(att.transpose(1, 2).reshape(B, T, D))
        return x + self.mlp(self.norm2(x))


class TinyTransformerLM(nn.Module):
    """A small causal transformer: position ``t`` predicts token ``t + 1``.

    Parameters
    ----------
    vocab_size : int
    context : int
        The longest sequence it reads (learned position embeddings).
    embed_dim : int, divisible by ``heads``
    heads, layers : int

    Shapes: ``tokens: (B, T)`` int64 with ``T <= context`` -> ``logits: (B, T, V)``,
    the input of ``next_token_cross_entropy``; pairs come from
    ``mlcourse.data.make_sequences(tokens, block_size=T)``.

    Example
    -------
    >>> TinyTransformerLM(30, context=16)(torch.zeros(2, 16, dtype=torch.long)).shape
    torch.Size([2, 16, 30])
    """

    def __init__(self, vocab_size: int, context: int, embed_dim: int = 32, heads: int = 2,
                 layers: int = 1, *, seed: int | None = None) -> None:
        super().__init__()
        owner = "TinyTransformerLM"
        vocab_size = self.vocab_size = arguments.count(vocab_size, "vocab_size", example=29,
                                                       owner=owner)
        context = self.context = arguments.count(context, "context", example=16, owner=owner)
        layers = arguments.count(layers, "layers", example=1, owner=owner)
        embed_dim = arguments.count(embed_dim, "embed_dim", example=32, owner=owner)
        heads = arguments.count(heads, "heads", example=2, owner=owner)
        if embed_dim % heads:
            raise ValueError(f"TinyTransformerLM: embed_dim={embed_dim} must be divisible by "
                             f"heads={heads}")
        with _init_rng(seed):
            self.token_embed = nn.Embedding(vocab_size, embed_dim)
            self.pos_embed = nn.Embedding(context, embed_dim)
            self.blocks = nn.ModuleList(_Block(embed_dim, heads) for _ in range(layers))
            self.norm = nn.LayerNorm(embed_dim)
            self.head = nn.Linear(embed_dim, vocab_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.ndim != 2 or tokens.shape[1] > self.context:
            raise ValueError(f"TinyTransformerLM expects tokens of shape (B, T) with "
                             f"T <= context={self.context}, got {tuple(tokens.shape)}")
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.token_embed(tokens) + self.pos_embed(positions)  # (B, T, D)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))                            # (B, T, V)


def generate(model: nn.Module, prompt: Sequence[int], length: int, *,
             temperature: float = 1.0, seed: int = 0) -> list[int]:
    """Sample ``length`` tokens after ``prompt`` from a language model above.

    The model sees as many of the latest tokens as it reads (``context``, or
    one for ``BigramLM``); each next token is drawn from
    ``softmax(logits / temperature)``. Lower temperatures sample more greedily.

    Returns the prompt followed by the new tokens, as a list of ints.

    Example
    -------
    >>> len(generate(BigramLM(5, seed=0), [0], length=4))
    5
    """
    if not temperature > 0:
        raise ValueError(f"temperature={temperature!r} must be > 0, e.g. 1.0")
    context = getattr(model, "context", 1)
    tokens = [int(t) for t in prompt]
    if len(tokens) < (context if isinstance(model, ContextMLPLM) else 1):
        raise ValueError(f"prompt has {len(tokens)} tokens; this model needs at least "
                         f"{context if isinstance(model, ContextMLPLM) else 1}")
    device = next(model.parameters()).device
    generator = torch.Generator(device="cpu").manual_seed(seed)
    with eval_mode(model):
        for _ in range(length):
            window = torch.tensor([tokens[-context:]], device=device)  # (1, T)
            logits = model(window)
            last = logits[0, -1] if logits.ndim == 3 else logits[0]     # (V,)
            probs = torch.softmax(last.double().cpu() / temperature, dim=-1)
            tokens.append(int(torch.multinomial(probs, 1, generator=generator)))
    return tokens
