"""Plausible wrong answers for solutions/02-models (format: tests/wrong_answers/README.md)."""

WRONG = [
    # linear_forward: the bias forgotten
    ("linear-answer",
     "def linear_forward(X, W, b):\n"
     "    return X @ W\n",
     {"linear-tests"}),
    # linear_forward: torch's (k, d) layout assumed, W transposed
    ("linear-answer",
     "def linear_forward(X, W, b):\n"
     "    return X @ W.T + b\n",
     {"linear-tests"}),
    # softmax: the textbook formula, without subtracting the max (overflows to nan)
    ("softmax-answer",
     "def softmax(logits):\n"
     "    e = np.exp(logits)\n"
     "    return e / e.sum(axis=1, keepdims=True)\n",
     {"softmax-stability-tests"}),
    # softmax: subtracts the maximum of the whole array instead of each row's
    ("softmax-answer",
     "def softmax(logits):\n"
     "    e = np.exp(logits - logits.max())\n"
     "    return e / e.sum(axis=-1, keepdims=True)\n",
     {"softmax-stability-tests"}),
    # softmax: normalises each column instead of each row
    ("softmax-answer",
     "def softmax(logits):\n"
     "    z = logits - logits.max(axis=0, keepdims=True)\n"
     "    e = np.exp(z)\n"
     "    return e / e.sum(axis=0, keepdims=True)\n",
     {"softmax-tests", "softmax-stability-tests"}),
    # mlp_forward: a ReLU after the last layer too
    ("mlp-answer",
     "def mlp_forward(X, params):\n"
     "    H = X\n"
     "    for W, b in params:\n"
     "        H = np.maximum(H @ W + b, 0)\n"
     "    return H\n",
     {"mlp-tests"}),
    # mlp_forward: no nonlinearity at all (a stack of linear layers)
    ("mlp-answer",
     "def mlp_forward(X, params):\n"
     "    H = X\n"
     "    for W, b in params:\n"
     "        H = H @ W + b\n"
     "    return H\n",
     {"mlp-tests"}),
    # init_linear: std sqrt(1 / d_in) (LeCun), which halves the signal's power at every ReLU layer
    ("init-answer",
     "def init_linear(d_in, d_out, rng):\n"
     "    W = rng.standard_normal((d_in, d_out)) * np.sqrt(1.0 / d_in)\n"
     "    return W, np.zeros(d_out)\n",
     {"init-tests", "init-deep-tests"}),
    # init_linear: the variance 2 / d_in used as the standard deviation
    ("init-answer",
     "def init_linear(d_in, d_out, rng):\n"
     "    W = rng.normal(0.0, 2.0 / d_in, size=(d_in, d_out))\n"
     "    return W, np.zeros(d_out)\n",
     {"init-tests", "init-deep-tests"}),
    # init_linear: numpy's global generator instead of rng (not reproducible from the seed)
    ("init-answer",
     "def init_linear(d_in, d_out, rng):\n"
     "    W = np.random.randn(d_in, d_out) * np.sqrt(2.0 / d_in)\n"
     "    return W, np.zeros(d_out)\n",
     {"init-tests"}),
    # init_linear: scaled by the output size (the ratio telescopes, so the deep stack still passes)
    ("init-answer",
     "def init_linear(d_in, d_out, rng):\n"
     "    W = rng.standard_normal((d_in, d_out)) * np.sqrt(2.0 / d_out)\n"
     "    return W, np.zeros(d_out)\n",
     {"init-tests"}),
    # init_linear: torch's (d_out, d_in) layout
    ("init-answer",
     "def init_linear(d_in, d_out, rng):\n"
     "    W = rng.standard_normal((d_out, d_in)) * np.sqrt(2.0 / d_in)\n"
     "    return W, np.zeros(d_out)\n",
     {"init-tests", "init-deep-tests"}),
    # linear_forward: the matrix product the wrong way round (shapes do not fit)
    ("linear-answer",
     "def linear_forward(X, W, b):\n"
     "    return W.T @ X.T + b\n",
     {"linear-tests"}),
    # softmax: divides by the sum of the whole array, not each row's
    ("softmax-answer",
     "def softmax(logits):\n"
     "    e = np.exp(logits - logits.max(axis=-1, keepdims=True))\n"
     "    return e / e.sum()\n",
     {"softmax-tests", "softmax-stability-tests"}),
    # softmax: the row maxima without keepdims, which broadcast along the wrong axis
    ("softmax-answer",
     "def softmax(logits):\n"
     "    e = np.exp(logits - logits.max(axis=-1))\n"
     "    return e / e.sum(axis=-1, keepdims=True)\n",
     {"softmax-tests", "softmax-stability-tests"}),
    # mlp_forward: a ReLU on the input X too
    ("mlp-answer",
     "def mlp_forward(X, params):\n"
     "    H = X\n"
     "    for W, b in params:\n"
     "        H = np.maximum(H, 0) @ W + b\n"
     "    return H\n",
     {"mlp-tests"}),
    # mlp_forward: every layer fed X instead of the previous layer's output
    ("mlp-answer",
     "def mlp_forward(X, params):\n"
     "    H = X\n"
     "    for i, (W, b) in enumerate(params):\n"
     "        H = X @ W + b\n"
     "        if i < len(params) - 1:\n"
     "            H = np.maximum(H, 0)\n"
     "    return H\n",
     {"mlp-tests"}),
    # init_linear: uniform(-s, s) with s = sqrt(2 / d_in), whose std is s / sqrt(3)
    ("init-answer",
     "def init_linear(d_in, d_out, rng):\n"
     "    s = np.sqrt(2.0 / d_in)\n"
     "    return rng.uniform(-s, s, size=(d_in, d_out)), np.zeros(d_out)\n",
     {"init-tests", "init-deep-tests"}),
    # init_linear: returns W alone, without the bias
    ("init-answer",
     "def init_linear(d_in, d_out, rng):\n"
     "    return rng.standard_normal((d_in, d_out)) * np.sqrt(2.0 / d_in)\n",
     {"init-tests", "init-deep-tests"}),
    # the growth predicted over ten layers, though only nine steps lie between layer 1 and layer 10
    ("growth-answer", "predicted_growth = 2 ** 10\n", {"growth-tests"}),
    # the growth of the mean square (4 per layer) taken for the growth of the standard deviation
    ("growth-answer", "predicted_growth = 4 ** 9\n", {"growth-tests"}),
]
