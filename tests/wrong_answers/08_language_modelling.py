"""Plausible wrong answers for solutions/08-language-modelling (see README.md here)."""

# ---------------------------------------------------------------- Exercise 1: next_token_loss
LOSS_SUM = '''
def next_token_loss(logits, targets):
    """Sum instead of mean: the loss grows with the batch."""
    B, T, V = logits.shape
    return F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T), reduction="sum")
'''

LOSS_RESHAPE_BVT = '''
def next_token_loss(logits, targets):
    """cross_entropy wants the classes on axis 1, so "move" V there -- with reshape, not a transpose."""
    B, T, V = logits.shape
    return F.cross_entropy(logits.reshape(B, V, T), targets)
'''

LOSS_TARGETS_TRANSPOSED = '''
def next_token_loss(logits, targets):
    """Targets flattened time-major, logits batch-major: rows paired with other positions' targets."""
    B, T, V = logits.shape
    return F.cross_entropy(logits.reshape(B * T, V), targets.T.reshape(B * T))
'''

LOSS_IN_NUMPY = '''
def next_token_loss(logits, targets):
    """The right value, computed in numpy: autograd cannot differentiate it."""
    z = logits.detach().numpy()
    y = targets.numpy()
    B, T, V = z.shape
    z = z.reshape(B * T, V)
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(B * T), y.reshape(B * T)].mean())
'''

# ---------------------------------------------------------------- Exercise 2: bigram_probs
BIGRAM_COLUMNS = '''
def bigram_probs(tokens, vocab_size, alpha=1.0):
    """Normalised over the wrong axis: columns sum to 1, rows do not."""
    counts = np.zeros((vocab_size, vocab_size))
    np.add.at(counts, (tokens[:-1], tokens[1:]), 1)
    counts += alpha
    return counts / counts.sum(axis=0, keepdims=True)
'''

BIGRAM_ALPHA_NUMERATOR_ONLY = '''
def bigram_probs(tokens, vocab_size, alpha=1.0):
    """alpha added to the counts but not to the row totals: rows no longer sum to 1."""
    counts = np.zeros((vocab_size, vocab_size))
    np.add.at(counts, (tokens[:-1], tokens[1:]), 1)
    return (counts + alpha) / counts.sum(axis=1, keepdims=True)
'''

BIGRAM_TRANSPOSED = '''
def bigram_probs(tokens, vocab_size, alpha=1.0):
    """Counts indexed [next, current]: the table of p(current | next)."""
    counts = np.zeros((vocab_size, vocab_size))
    np.add.at(counts, (tokens[1:], tokens[:-1]), 1)
    counts += alpha
    return counts / counts.sum(axis=1, keepdims=True)
'''

BIGRAM_FANCY_INDEX = '''
def bigram_probs(tokens, vocab_size, alpha=1.0):
    """Fancy-index += counts every repeated pair once."""
    counts = np.zeros((vocab_size, vocab_size))
    counts[tokens[:-1], tokens[1:]] += 1
    counts += alpha
    return counts / counts.sum(axis=1, keepdims=True)
'''

BIGRAM_OFF_BY_ONE = '''
def bigram_probs(tokens, vocab_size, alpha=1.0):
    """The loop stops one pair early: the last pair is never counted."""
    counts = np.zeros((vocab_size, vocab_size))
    for t in range(len(tokens) - 2):
        counts[tokens[t], tokens[t + 1]] += 1
    counts += alpha
    return counts / counts.sum(axis=1, keepdims=True)
'''

BIGRAM_ALPHA_IGNORED = '''
def bigram_probs(tokens, vocab_size, alpha=1.0):
    """Plain ratios of counts whatever alpha is: an unseen token's row divides 0 by 0."""
    counts = np.zeros((vocab_size, vocab_size))
    np.add.at(counts, (tokens[:-1], tokens[1:]), 1)
    return counts / counts.sum(axis=1, keepdims=True)
'''

# ---------------------------------------------------------------- Exercise 3: train_context_model
_TRAIN_LOOP = '''
    model = ContextMLPLM(vocab_size, {model_context}, embed_dim=16, hidden=64, seed=seed).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=num_steps)
    for step in range(num_steps):
        rows = torch.randint(len(y), (batch_size,), device=device)
        loss = F.cross_entropy(model(X[rows]), y[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    return model
'''

CONTEXT_MISALIGNED = '''
def train_context_model(tokens, vocab_size, context, *, seed=0):
    """Windows built by hand, one token too late: each window ends with its own target."""
    lr, num_steps, batch_size = 0.04, 100, 2048
    device = get_device()
    seed_everything(seed)
    X = np.stack([tokens[i + 1:i + 1 + context] for i in range(len(tokens) - context)])
    y = tokens[context:]
    X, y = torch.from_numpy(X).to(device), torch.from_numpy(y.copy()).to(device)
''' + _TRAIN_LOOP.format(model_context="context")

CONTEXT_LR_TOO_SMALL = '''
def train_context_model(tokens, vocab_size, context, *, seed=0):
    """The right loop with a learning rate twenty times too small: far from the floor after 100 steps."""
    lr, num_steps, batch_size = 0.002, 100, 2048
    device = get_device()
    seed_everything(seed)
    X, y = make_lm_dataset(tokens, context)
    X, y = torch.from_numpy(X).to(device), torch.from_numpy(y).to(device)
''' + _TRAIN_LOOP.format(model_context="context")

CONTEXT_IGNORED = '''
def train_context_model(tokens, vocab_size, context, *, seed=0):
    """Always one token of context, whatever is asked: a bigram in disguise."""
    lr, num_steps, batch_size = 0.04, 100, 2048
    device = get_device()
    seed_everything(seed)
    X, y = make_lm_dataset(tokens, 1)
    X, y = torch.from_numpy(X).to(device), torch.from_numpy(y).to(device)
''' + _TRAIN_LOOP.format(model_context="1")

CONTEXT_RETURNS_HISTORY = '''
def train_context_model(tokens, vocab_size, context, *, seed=0):
    """Returns the model together with its training losses, not the model alone."""
    lr, num_steps, batch_size = 0.04, 100, 2048
    device = get_device()
    seed_everything(seed)
    X, y = make_lm_dataset(tokens, context)
    X, y = torch.from_numpy(X).to(device), torch.from_numpy(y).to(device)
    model = ContextMLPLM(vocab_size, context, embed_dim=16, hidden=64, seed=seed).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for step in range(num_steps):
        rows = torch.randint(len(y), (batch_size,), device=device)
        loss = F.cross_entropy(model(X[rows]), y[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model, losses
'''

# ---------------------------------------------------------------- Exercise 4: sample
_SAMPLE = '''
def sample(next_logits, prompt, n_tokens, *, temperature=1.0, seed=0):
    """{doc}"""
    rng = np.random.default_rng(seed)
    tokens = [int(t) for t in prompt]
    for _ in range(n_tokens):
        z = np.asarray(next_logits({context}), dtype=np.float64){scale}
        p = np.exp(z - z.max())
        p /= p.sum()
        tokens.append({draw})
    return np.array(tokens{keep}, dtype=np.int64)
'''


def _sample(doc, context="np.array(tokens)", scale=" / temperature",
            draw="int(rng.choice(len(p), p=p))", keep="[len(prompt):]"):
    return _SAMPLE.format(doc=doc, context=context, scale=scale, draw=draw, keep=keep)


SAMPLE_TEMPERATURE_TIMES = _sample("Multiplies the logits by the temperature: sharpens where it should flatten.",
                                   scale=" * temperature")
SAMPLE_PROMPT_ONLY = _sample("Always conditions on the prompt, never on the tokens drawn since.",
                             context="np.array(prompt)")
SAMPLE_LAST_TOKEN_ONLY = _sample("Passes only the last token: fine for a bigram, blind for any longer context.",
                                 context="np.array(tokens[-1:])")
SAMPLE_GREEDY = _sample("Takes the most likely token every time instead of drawing one.",
                        draw="int(np.argmax(p))")
SAMPLE_WITH_PROMPT = _sample("Returns the prompt and the new tokens together.", keep="")
SAMPLE_RESEEDED = _sample("A fresh generator for every token: each draw reuses the same random number.",
                          draw="int(np.random.default_rng(seed).choice(len(p), p=p))")

WRONG = [
    # the prediction: 1/V, the probability of each token, taken for the loss
    ("prediction-answer", "predicted_uniform_loss = 1 / 29\n", {"prediction-tests"}),
    # the prediction: log2(29), bits where the loss is in nats
    ("prediction-answer", "predicted_uniform_loss = 4.86\n", {"prediction-tests"}),
    # the prediction: the perplexity V taken for the loss
    ("prediction-answer", "predicted_uniform_loss = 29\n", {"prediction-tests"}),
    ("loss-answer", LOSS_SUM, {"loss-tests", "loss-grad-tests"}),
    ("loss-answer", LOSS_RESHAPE_BVT, {"loss-tests", "loss-grad-tests"}),
    ("loss-answer", LOSS_TARGETS_TRANSPOSED, {"loss-tests", "loss-grad-tests"}),
    ("loss-answer", LOSS_IN_NUMPY, {"loss-grad-tests"}),
    ("bigram-answer", BIGRAM_COLUMNS, {"bigram-counts-tests", "bigram-smoothing-tests"}),
    ("bigram-answer", BIGRAM_ALPHA_NUMERATOR_ONLY, {"bigram-smoothing-tests"}),
    ("bigram-answer", BIGRAM_TRANSPOSED, {"bigram-counts-tests", "bigram-smoothing-tests"}),
    ("bigram-answer", BIGRAM_FANCY_INDEX, {"bigram-counts-tests", "bigram-smoothing-tests"}),
    ("bigram-answer", BIGRAM_OFF_BY_ONE, {"bigram-counts-tests", "bigram-smoothing-tests"}),
    ("bigram-answer", BIGRAM_ALPHA_IGNORED, {"bigram-smoothing-tests"}),
    ("context-answer", CONTEXT_MISALIGNED, {"context-tests"}),
    ("context-answer", CONTEXT_LR_TOO_SMALL, {"context-tests"}),
    ("context-answer", CONTEXT_IGNORED, {"context-tests"}),
    ("context-answer", CONTEXT_RETURNS_HISTORY, {"context-tests"}),
    ("sample-answer", SAMPLE_TEMPERATURE_TIMES, {"sample-tests"}),
    ("sample-answer", SAMPLE_PROMPT_ONLY, {"sample-tests", "sample-grammar-tests"}),
    ("sample-answer", SAMPLE_LAST_TOKEN_ONLY, {"sample-grammar-tests"}),
    # Greedy decoding is not sampling, and a bigram's argmax chain is often ungrammatical ("the dog ."),
    # so it also falls below the reference's valid fraction on bigram samples.
    ("sample-answer", SAMPLE_GREEDY, {"sample-tests", "sample-grammar-tests"}),
    ("sample-answer", SAMPLE_WITH_PROMPT, {"sample-tests", "sample-grammar-tests"}),
    ("sample-answer", SAMPLE_RESEEDED, {"sample-tests", "sample-grammar-tests"}),
]
