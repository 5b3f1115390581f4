"""Plausible wrong answers for solutions/06-training-loop (see README.md)."""

_BATCHES_HEAD = "def minibatch_indices(n, batch_size, rng):\n"

_NUMPY_HEAD = "def train_numpy(model, X, y, *, lr, num_epochs, batch_size, seed=0):\n"

_TORCH_HEAD = "def train_torch(model, X, y, *, device, lr, num_epochs, batch_size, seed=0):\n"

WRONG = [
    # -- minibatch_indices ------------------------------------------------------------------
    # no shuffle: the examples in their stored order, every epoch
    ("batches-answer",
     _BATCHES_HEAD
     + "    order = np.arange(n)\n"
     "    return [order[start:start + batch_size] for start in range(0, n, batch_size)]\n",
     {"batches-shuffle-tests"}),
    # the last, partial batch dropped
    ("batches-answer",
     _BATCHES_HEAD
     + "    order = rng.permutation(n)\n"
     "    return [order[start:start + batch_size] for start in range(0, n - batch_size + 1, batch_size)]\n",
     {"batches-cover-tests"}),
    # a fresh generator inside: the same 'shuffled' order every epoch
    ("batches-answer",
     _BATCHES_HEAD
     + "    order = np.random.default_rng(0).permutation(n)\n"
     "    return [order[start:start + batch_size] for start in range(0, n, batch_size)]\n",
     {"batches-shuffle-tests"}),
    # the order of fixed batches shuffled, not the examples: 0 and 1 always share a batch
    ("batches-answer",
     _BATCHES_HEAD
     + "    order = np.arange(n)\n"
     "    batches = [order[start:start + batch_size] for start in range(0, n, batch_size)]\n"
     "    return [batches[i] for i in rng.permutation(len(batches))]\n",
     {"batches-shuffle-tests"}),

    # one cut too many when batch_size divides n: an empty batch at the end of the epoch
    ("batches-answer",
     _BATCHES_HEAD
     + "    order = rng.permutation(n)\n"
     "    return [order[start:start + batch_size] for start in range(0, n + 1, batch_size)]\n",
     {"batches-cover-tests"}),

    # -- the predicted count of steps ----------------------------------------------------------
    # n * epochs / batch_size: as if a step could take a fraction of a batch
    ("steps-answer", "predicted_steps = 15 * 1000 / 64\n", {"steps-tests"}),
    # the last, short batch of every epoch left out: 15 x 15 steps
    ("steps-answer", "predicted_steps = 225\n", {"steps-tests"}),

    # -- train_numpy ------------------------------------------------------------------------
    # optimizer.zero_grad() forgotten: gradients pile up from step to step
    ("numpy-answer",
     _NUMPY_HEAD
     + "    optimizer = SGD(model.parameters(), lr=lr)\n"
     "    rng = np.random.default_rng(seed)\n"
     "    losses = []\n"
     "    for epoch in range(num_epochs):\n"
     "        for X_batch, y_batch in iterate_minibatches(X, y, batch_size, seed=rng):\n"
     "            logits = model(X_batch)\n"
     "            loss = cross_entropy(logits, y_batch)\n"
     "            model.backward(cross_entropy_grad(logits, y_batch))\n"
     "            optimizer.step()\n"
     "            losses.append(float(loss))\n"
     "    return losses\n",
     {"numpy-gd-tests", "numpy-target-tests"}),
    # an off-by-one in the number of batches: the last, partial batch of every epoch skipped
    ("numpy-answer",
     _NUMPY_HEAD
     + "    optimizer = SGD(model.parameters(), lr=lr)\n"
     "    rng = np.random.default_rng(seed)\n"
     "    losses = []\n"
     "    for epoch in range(num_epochs):\n"
     "        order = rng.permutation(len(X))\n"
     "        for b in range(len(X) // batch_size):\n"
     "            rows = order[b * batch_size:(b + 1) * batch_size]\n"
     "            optimizer.zero_grad()\n"
     "            logits = model(X[rows])\n"
     "            loss = cross_entropy(logits, y[rows])\n"
     "            model.backward(cross_entropy_grad(logits, y[rows]))\n"
     "            optimizer.step()\n"
     "            losses.append(float(loss))\n"
     "    return losses\n",
     {"numpy-steps-tests"}),
    # an off-by-one in the number of epochs
    ("numpy-answer",
     _NUMPY_HEAD
     + "    optimizer = SGD(model.parameters(), lr=lr)\n"
     "    rng = np.random.default_rng(seed)\n"
     "    losses = []\n"
     "    for epoch in range(1, num_epochs):\n"
     "        for X_batch, y_batch in iterate_minibatches(X, y, batch_size, seed=rng):\n"
     "            optimizer.zero_grad()\n"
     "            logits = model(X_batch)\n"
     "            loss = cross_entropy(logits, y_batch)\n"
     "            model.backward(cross_entropy_grad(logits, y_batch))\n"
     "            optimizer.step()\n"
     "            losses.append(float(loss))\n"
     "    return losses\n",
     {"numpy-steps-tests", "numpy-gd-tests"}),

    # the loss measured after the step (on the updated model), not before it
    ("numpy-answer",
     _NUMPY_HEAD
     + "    optimizer = SGD(model.parameters(), lr=lr)\n"
     "    rng = np.random.default_rng(seed)\n"
     "    losses = []\n"
     "    for epoch in range(num_epochs):\n"
     "        for X_batch, y_batch in iterate_minibatches(X, y, batch_size, seed=rng):\n"
     "            optimizer.zero_grad()\n"
     "            logits = model(X_batch)\n"
     "            model.backward(cross_entropy_grad(logits, y_batch))\n"
     "            optimizer.step()\n"
     "            losses.append(float(cross_entropy(model(X_batch), y_batch)))\n"
     "    return losses\n",
     {"numpy-gd-tests"}),
    # one loss per epoch (the mean over its batches) instead of one per step
    ("numpy-answer",
     _NUMPY_HEAD
     + "    optimizer = SGD(model.parameters(), lr=lr)\n"
     "    rng = np.random.default_rng(seed)\n"
     "    losses = []\n"
     "    for epoch in range(num_epochs):\n"
     "        epoch_losses = []\n"
     "        for X_batch, y_batch in iterate_minibatches(X, y, batch_size, seed=rng):\n"
     "            optimizer.zero_grad()\n"
     "            logits = model(X_batch)\n"
     "            epoch_losses.append(float(cross_entropy(logits, y_batch)))\n"
     "            model.backward(cross_entropy_grad(logits, y_batch))\n"
     "            optimizer.step()\n"
     "        losses.append(float(np.mean(epoch_losses)))\n"
     "    return losses\n",
     {"numpy-steps-tests"}),

    # -- train_torch ------------------------------------------------------------------------
    # optimizer.zero_grad() forgotten
    ("torch-answer",
     _TORCH_HEAD
     + "    model.to(device)\n"
     "    X = torch.as_tensor(X, dtype=next(model.parameters()).dtype, device=device)\n"
     "    y = torch.as_tensor(y, dtype=torch.long, device=device)\n"
     "    optimizer = torch.optim.SGD(model.parameters(), lr=lr)\n"
     "    rng = np.random.default_rng(seed)\n"
     "    losses = []\n"
     "    for epoch in range(num_epochs):\n"
     "        for X_batch, y_batch in iterate_minibatches(X, y, batch_size, seed=rng):\n"
     "            loss = F.cross_entropy(model(X_batch), y_batch)\n"
     "            loss.backward()\n"
     "            optimizer.step()\n"
     "            losses.append(loss.item())\n"
     "    return losses\n",
     {"torch-gd-tests", "torch-target-tests"}),
    # loss.backward() without optimizer.step(): gradients computed, parameters never moved
    ("torch-answer",
     _TORCH_HEAD
     + "    model.to(device)\n"
     "    X = torch.as_tensor(X, dtype=next(model.parameters()).dtype, device=device)\n"
     "    y = torch.as_tensor(y, dtype=torch.long, device=device)\n"
     "    optimizer = torch.optim.SGD(model.parameters(), lr=lr)\n"
     "    rng = np.random.default_rng(seed)\n"
     "    losses = []\n"
     "    for epoch in range(num_epochs):\n"
     "        for X_batch, y_batch in iterate_minibatches(X, y, batch_size, seed=rng):\n"
     "            optimizer.zero_grad()\n"
     "            loss = F.cross_entropy(model(X_batch), y_batch)\n"
     "            loss.backward()\n"
     "            losses.append(loss.item())\n"
     "    return losses\n",
     {"torch-gd-tests", "torch-target-tests"}),
    # the model never moved to the device (on a CPU-only machine it still trains)
    ("torch-answer",
     _TORCH_HEAD
     + "    X = torch.as_tensor(X, dtype=next(model.parameters()).dtype, device=device)\n"
     "    y = torch.as_tensor(y, dtype=torch.long, device=device)\n"
     "    optimizer = torch.optim.SGD(model.parameters(), lr=lr)\n"
     "    rng = np.random.default_rng(seed)\n"
     "    losses = []\n"
     "    for epoch in range(num_epochs):\n"
     "        for X_batch, y_batch in iterate_minibatches(X, y, batch_size, seed=rng):\n"
     "            optimizer.zero_grad()\n"
     "            loss = F.cross_entropy(model(X_batch), y_batch)\n"
     "            loss.backward()\n"
     "            optimizer.step()\n"
     "            losses.append(loss.item())\n"
     "    return losses\n",
     {"torch-device-tests"}),
    # X always float32, whatever the model's dtype: a float64 model cannot take it
    ("torch-answer",
     _TORCH_HEAD
     + "    model.to(device)\n"
     "    X = torch.tensor(X, dtype=torch.float32, device=device)\n"
     "    y = torch.tensor(y, dtype=torch.long, device=device)\n"
     "    optimizer = torch.optim.SGD(model.parameters(), lr=lr)\n"
     "    rng = np.random.default_rng(seed)\n"
     "    losses = []\n"
     "    for epoch in range(num_epochs):\n"
     "        for X_batch, y_batch in iterate_minibatches(X, y, batch_size, seed=rng):\n"
     "            optimizer.zero_grad()\n"
     "            loss = F.cross_entropy(model(X_batch), y_batch)\n"
     "            loss.backward()\n"
     "            optimizer.step()\n"
     "            losses.append(loss.item())\n"
     "    return losses\n",
     {"torch-gd-tests"}),
]
