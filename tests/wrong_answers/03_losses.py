"""Plausible wrong answers for solutions/03-losses (format: tests/wrong_answers/README.md)."""

WRONG = [
    # mse: a sum where the mean belongs (missing 1/N)
    ("mse-answer",
     "def mse(y_hat, y, reduction='mean'):\n"
     "    y_hat, y = np.asarray(y_hat, dtype=float), np.asarray(y, dtype=float)\n"
     "    if y_hat.shape != y.shape:\n"
     "        raise ValueError(f'shapes {y_hat.shape} and {y.shape} differ')\n"
     "    if reduction == 'mean':\n"
     "        return np.sum((y_hat - y) ** 2)\n"
     "    if reduction == 'sum':\n"
     "        return float(np.sum((y_hat - y) ** 2))\n"
     "    if reduction == 'none':\n"
     "        return (y_hat - y) ** 2\n"
     "    raise ValueError(reduction)\n",
     {"mse-tests"}),
    # mse: averaged over the examples only, one number per output column
    ("mse-answer",
     "def mse(y_hat, y, reduction='mean'):\n"
     "    y_hat, y = np.asarray(y_hat, dtype=float), np.asarray(y, dtype=float)\n"
     "    if y_hat.shape != y.shape:\n"
     "        raise ValueError(f'shapes {y_hat.shape} and {y.shape} differ')\n"
     "    if reduction == 'mean':\n"
     "        return np.mean((y_hat - y) ** 2, axis=0)\n"
     "    if reduction == 'sum':\n"
     "        return float(np.sum((y_hat - y) ** 2))\n"
     "    if reduction == 'none':\n"
     "        return (y_hat - y) ** 2\n"
     "    raise ValueError(reduction)\n",
     {"mse-tests"}),
    # mse: absolute instead of squared errors
    ("mse-answer",
     "def mse(y_hat, y, reduction='mean'):\n"
     "    y_hat, y = np.asarray(y_hat, dtype=float), np.asarray(y, dtype=float)\n"
     "    if y_hat.shape != y.shape:\n"
     "        raise ValueError(f'shapes {y_hat.shape} and {y.shape} differ')\n"
     "    if reduction == 'mean':\n"
     "        return np.mean(np.abs(y_hat - y))\n"
     "    if reduction == 'sum':\n"
     "        return float(np.sum((y_hat - y) ** 2))\n"
     "    if reduction == 'none':\n"
     "        return (y_hat - y) ** 2\n"
     "    raise ValueError(reduction)\n",
     {"mse-tests"}),
    # mse: no shape check, so (3, 1) against (3,) broadcasts to a (3, 3) array and a wrong number
    ("mse-answer",
     "def mse(y_hat, y, reduction='mean'):\n"
     "    y_hat, y = np.asarray(y_hat, dtype=float), np.asarray(y, dtype=float)\n"
     "    if reduction == 'mean':\n"
     "        return float(np.mean((y_hat - y) ** 2))\n"
     "    if reduction == 'sum':\n"
     "        return float(np.sum((y_hat - y) ** 2))\n"
     "    if reduction == 'none':\n"
     "        return (y_hat - y) ** 2\n"
     "    raise ValueError(reduction)\n",
     {"mse-shape-tests"}),
    # mse: reduction="sum" divides by N anyway, and "none" returns the mean
    ("mse-answer",
     "def mse(y_hat, y, reduction='mean'):\n"
     "    y_hat, y = np.asarray(y_hat, dtype=float), np.asarray(y, dtype=float)\n"
     "    if y_hat.shape != y.shape:\n"
     "        raise ValueError(f'shapes {y_hat.shape} and {y.shape} differ')\n"
     "    if reduction == 'mean':\n"
     "        return float(np.mean((y_hat - y) ** 2))\n"
     "    if reduction == 'sum':\n"
     "        return float(np.mean((y_hat - y) ** 2))\n"
     "    if reduction == 'none':\n"
     "        return float(np.mean((y_hat - y) ** 2))\n"
     "    raise ValueError(reduction)\n",
     {"mse-reduction-tests"}),
    # cross_entropy: the naive log of a (stable) softmax: log(0) = -inf for huge logits
    ("ce-answer",
     "def cross_entropy(logits, y):\n"
     "    z = logits - logits.max(axis=1, keepdims=True)\n"
     "    probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)\n"
     "    return -np.mean(np.log(probs[np.arange(len(y)), y]))\n",
     {"ce-stability-tests"}),
    # cross_entropy: a sum over the examples instead of the mean
    ("ce-answer",
     "def cross_entropy(logits, y):\n"
     "    z = logits - logits.max(axis=1, keepdims=True)\n"
     "    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))\n"
     "    return -log_probs[np.arange(len(y)), y].sum()\n",
     {"ce-tests", "ce-stability-tests"}),
    # cross_entropy: log_probs[:, y] picks every label's column for every row (an (n, n) block)
    ("ce-answer",
     "def cross_entropy(logits, y):\n"
     "    z = logits - logits.max(axis=1, keepdims=True)\n"
     "    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))\n"
     "    return -log_probs[:, y].mean()\n",
     {"ce-tests", "ce-stability-tests"}),
    # cross_entropy: the minus sign forgotten
    ("ce-answer",
     "def cross_entropy(logits, y):\n"
     "    z = logits - logits.max(axis=1, keepdims=True)\n"
     "    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))\n"
     "    return log_probs[np.arange(len(y)), y].mean()\n",
     {"ce-tests", "ce-stability-tests"}),
    # next_token_cross_entropy: transposed to torch's (B, V, T) layout, then flattened with V last
    ("next-token-answer",
     "def next_token_cross_entropy(logits, targets):\n"
     "    B, T, V = logits.shape\n"
     "    return cross_entropy(logits.transpose(0, 2, 1).reshape(-1, V), targets.reshape(-1))\n",
     {"next-token-tests"}),
    # next_token_cross_entropy: targets flattened time-major, logits batch-major
    ("next-token-answer",
     "def next_token_cross_entropy(logits, targets):\n"
     "    B, T, V = logits.shape\n"
     "    return cross_entropy(logits.reshape(B * T, V), targets.T.reshape(-1))\n",
     {"next-token-tests"}),
    # next_token_cross_entropy: averages each sequence but never over the batch
    ("next-token-answer",
     "def next_token_cross_entropy(logits, targets):\n"
     "    z = logits - logits.max(axis=-1, keepdims=True)\n"
     "    log_probs = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))\n"
     "    picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]\n"
     "    return -picked.mean(axis=1)\n",
     {"next-token-tests"}),
]

WRONG += [
    # the best constants swapped: the median taken for the squared error, the mean for the absolute error
    ("constant-answer", "best_constant_mse = 3.0\nbest_constant_mae = 5.0\n", {"constant-tests"}),
    # the mean for both: the penthouse is thought to pull the absolute error's constant too
    ("constant-answer", "best_constant_mse = 5.0\nbest_constant_mae = 5.0\n", {"constant-tests"}),
    # the smallest loss (the variance, 26) written where the constant that reaches it belongs
    ("constant-answer", "best_constant_mse = 26.0\nbest_constant_mae = 3.0\n", {"constant-tests"}),
]
