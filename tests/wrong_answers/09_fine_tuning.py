"""Plausible wrong answers for solutions/09-fine-tuning (see README.md)."""

_MEMORISED_HEAD = "def fraction_memorised(samples, train_examples):\n"

_FREEZE_HEAD = "def freeze(model, n_layers):\n"

_FINETUNE_HEAD = "def fine_tune(pretrained, train, val, *, seed=0):\n"

_EVALUATE_HEAD = "def evaluate_once(build_system, split, metric):\n"

WRONG = [
    # the prediction: the floor taken for a bound on the training loss too
    ("prediction-answer", "naive_training_loss_vs_floor = 'above'\n", {"prediction-tests"}),
    # the prediction: the training loss expected to settle on the floor
    ("prediction-answer", "naive_training_loss_vs_floor = 'at'\n", {"prediction-tests"}),
    # -- fraction_memorised -----------------------------------------------------------------
    # repeats counted once: the set of samples instead of every sample
    ("memorised-answer",
     _MEMORISED_HEAD
     + "    return len(set(samples) & set(train_examples)) / len(samples)\n",
     {"memorised-tests"}),
    # the other way round: the fraction of the training examples that were reproduced
    ("memorised-answer",
     _MEMORISED_HEAD
     + "    return sum(example in samples for example in train_examples) / len(train_examples)\n",
     {"memorised-tests"}),
    # a count, not a fraction
    ("memorised-answer",
     _MEMORISED_HEAD
     + "    return sum(sample in train_examples for sample in samples)\n",
     {"memorised-tests"}),

    # -- freeze ----------------------------------------------------------------------------
    # the last n layers frozen instead of the first n
    ("freeze-answer",
     _FREEZE_HEAD
     + "    layers = list(model.children())\n"
     "    for i, layer in enumerate(layers):\n"
     "        for p in layer.parameters():\n"
     "            p.requires_grad_(i < len(layers) - n_layers)\n"
     "    return model\n",
     {"freeze-tests", "freeze-rest-tests"}),
    # the first n layers frozen, but the others never made trainable again
    ("freeze-answer",
     _FREEZE_HEAD
     + "    for layer in list(model.children())[:n_layers]:\n"
     "        for p in layer.parameters():\n"
     "            p.requires_grad = False\n"
     "    return model\n",
     {"freeze-rest-tests"}),
    # the first n parameter tensors frozen (a weight without its bias), not the first n layers
    ("freeze-answer",
     _FREEZE_HEAD
     + "    for p in list(model.parameters())[:n_layers]:\n"
     "        p.requires_grad = False\n"
     "    return model\n",
     {"freeze-tests", "freeze-rest-tests"}),

    # -- fine_tune -------------------------------------------------------------------------
    # the naive fine-tune: a high learning rate, many epochs, no early stopping
    ("finetune-answer",
     _FINETUNE_HEAD
     + "    model = copy.deepcopy(pretrained)\n"
     "    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)\n"
     "    fit(model, F.cross_entropy, optimizer, train, val, epochs=25, batch_size=32, device=device,\n"
     "        seed=seed, progress=False)\n"
     "    return model\n",
     {"finetune-tests"}),
    # early stopping, but on the training loss, which never stops falling
    ("finetune-answer",
     _FINETUNE_HEAD
     + "    model = copy.deepcopy(pretrained)\n"
     "    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)\n"
     "    fit(model, F.cross_entropy, optimizer, train, epochs=25, batch_size=32, device=device,\n"
     "        early_stopping=EarlyStopping(patience=5, monitor='train_loss'), seed=seed, progress=False)\n"
     "    return model\n",
     {"finetune-tests"}),
    # every remedy but early stopping: a low lr, frozen embeddings, weight decay, 50 epochs
    ("finetune-answer",
     _FINETUNE_HEAD
     + "    model = copy.deepcopy(pretrained)\n"
     "    model.embed.weight.requires_grad_(False)\n"
     "    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3,\n"
     "                                  weight_decay=1e-2)\n"
     "    fit(model, F.cross_entropy, optimizer, train, val, epochs=50, batch_size=32, device=device,\n"
     "        seed=seed, progress=False)\n"
     "    return model\n",
     {"finetune-tests"}),
    # fresh weights: training from scratch (with early stopping) throws pretraining away
    ("finetune-answer",
     _FINETUNE_HEAD
     + "    model = new_lm(seed=seed)\n"
     "    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)\n"
     "    fit(model, F.cross_entropy, optimizer, train, val, epochs=100, batch_size=32, device=device,\n"
     "        early_stopping=EarlyStopping(patience=5), seed=seed, progress=False)\n"
     "    return model\n",
     {"finetune-tests"}),
    # a good fine-tune, but of the pretrained model itself: no copy, the original is changed
    ("finetune-answer",
     _FINETUNE_HEAD
     + "    model = pretrained\n"
     "    for p in model.parameters():\n"
     "        p.requires_grad_(True)\n"
     "    model.embed.weight.requires_grad_(False)\n"
     "    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3,\n"
     "                                  weight_decay=1e-2)\n"
     "    fit(model, F.cross_entropy, optimizer, train, val, epochs=50, batch_size=32, device=device,\n"
     "        early_stopping=EarlyStopping(patience=5), seed=seed, progress=False)\n"
     "    return model\n",
     {"finetune-copy-tests"}),
    # a good fine-tune that returns (model, history), as the notebook's naive_fine_tune does
    ("finetune-answer",
     _FINETUNE_HEAD
     + "    model = copy.deepcopy(pretrained)\n"
     "    model.embed.weight.requires_grad_(False)\n"
     "    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3,\n"
     "                                  weight_decay=1e-2)\n"
     "    history = fit(model, F.cross_entropy, optimizer, train, val, epochs=50, batch_size=32,\n"
     "                  device=device, early_stopping=EarlyStopping(patience=5), seed=seed, progress=False)\n"
     "    return model, history\n",
     {"finetune-tests"}),

    # -- evaluate_once ---------------------------------------------------------------------
    # the test set read twice: split.test[0], then split.test[1]
    ("evaluate-answer",
     _EVALUATE_HEAD
     + "    predict = build_system(split.train, split.val)\n"
     "    return float(metric(predict(split.test[0]), split.test[1]))\n",
     {"evaluate-reads-tests"}),
    # the test set used for early stopping (as the validation data), then read again to score
    ("evaluate-answer",
     _EVALUATE_HEAD
     + "    predict = build_system(split.train, split.test)\n"
     "    X_test, y_test = split.test\n"
     "    return float(metric(predict(X_test), y_test))\n",
     {"evaluate-value-tests", "evaluate-reads-tests"}),
    # the validation score reported as the final one: the test set never read
    ("evaluate-answer",
     _EVALUATE_HEAD
     + "    predict = build_system(split.train, split.val)\n"
     "    X_val, y_val = split.val\n"
     "    return float(metric(predict(X_val), y_val))\n",
     {"evaluate-value-tests", "evaluate-reads-tests"}),
    # choose_prompt: the prompt chosen on the test set, each candidate scored there
    ("choose-answer",
     "def choose_prompt(candidates, score, split, margin):\n"
     "    test_scores = [score(candidate, split.test) for candidate in candidates]\n"
     "    best = int(np.argmin(test_scores))\n"
     "    chosen = best if test_scores[0] - test_scores[best] > margin else 0\n"
     "    return candidates[chosen], test_scores[chosen]\n",
     {"choose-tests"}),
    # choose_prompt: chosen on validation, but every candidate also scored on the test set "to have a look"
    ("choose-answer",
     "def choose_prompt(candidates, score, split, margin):\n"
     "    val_scores = [score(c, split.val) for c in candidates]\n"
     "    test_scores = [score(c, split.test) for c in candidates]\n"
     "    best = int(np.argmin(val_scores))\n"
     "    chosen = best if val_scores[0] - val_scores[best] > margin else 0\n"
     "    return candidates[chosen], test_scores[chosen]\n",
     {"choose-tests"}),
    # choose_prompt: reports the validation score instead of the test score
    ("choose-answer",
     "def choose_prompt(candidates, score, split, margin):\n"
     "    val_scores = [score(c, split.val) for c in candidates]\n"
     "    best = int(np.argmin(val_scores))\n"
     "    chosen = best if val_scores[0] - val_scores[best] > margin else 0\n"
     "    return candidates[chosen], val_scores[chosen]\n",
     {"choose-tests"}),
    # choose_prompt: the margin ignored, the lowest validation score always wins (a switch made on noise)
    ("choose-answer",
     "def choose_prompt(candidates, score, split, margin):\n"
     "    val_scores = [score(c, split.val) for c in candidates]\n"
     "    chosen = candidates[int(np.argmin(val_scores))]\n"
     "    return chosen, score(chosen, split.test)\n",
     {"choose-tests"}),
    # choose_prompt: the margin read backwards, a challenger switched to only when it wins by less than it
    ("choose-answer",
     "def choose_prompt(candidates, score, split, margin):\n"
     "    val_scores = [score(c, split.val) for c in candidates]\n"
     "    best = int(np.argmin(val_scores))\n"
     "    chosen = candidates[best] if 0 < val_scores[0] - val_scores[best] < margin else candidates[0]\n"
     "    return chosen, score(chosen, split.test)\n",
     {"choose-tests"}),
]
