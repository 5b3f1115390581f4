"""Plausible wrong answers for solutions/10-debugging (format: tests/wrong_answers/README.md)."""

OVERFIT = '''def overfit_one_batch(make_model, X, y, steps=300, lr=1.0):
    model = make_model()
    optimizer = {optimizer}
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(model(X), y{reduction})
{record_before}{zero}        loss.backward()
        optimizer.step()
{record_after}    return np.array(losses)
'''


def overfit(optimizer="torch.optim.SGD(model.parameters(), lr=lr)", reduction="", before=True, zero=True):
    return OVERFIT.format(
        optimizer=optimizer, reduction=reduction,
        record_before="        losses.append(loss.item())\n" if before else "",
        zero="        optimizer.zero_grad()\n" if zero else "",
        record_after="" if before else
        "        with torch.no_grad():\n            losses.append(F.cross_entropy(model(X), y).item())\n")


RANGE = '''def lr_range_test(make_model, X, y, lrs, blowup=4.0):
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=float(lrs[0]))
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    losses = []
    for lr in lrs:
        loss = F.cross_entropy(model(X), y)
{check}        optimizer.zero_grad()
        loss.backward()
{step}    return np.array(losses)
'''
SET_LR = "        for group in optimizer.param_groups:\n            group['lr'] = float(lr)\n"
STEP = "        optimizer.step()\n"
KEEP_AND_STOP = ("        losses.append(loss.item())\n"
                 "        if not math.isfinite(losses[-1]) or losses[-1] > blowup * min(losses):\n"
                 "            break\n")

PERMUTATION = '''def permutation_test(y_pred, y, n_permutations=1000, seed=0):
    rng = np.random.default_rng(seed)
    y_pred, y = np.asarray(y_pred), np.asarray(y)
    real = np.mean(y_pred == y)
    baseline = np.array([{score} for _ in range(n_permutations)])
    p_value = {p_value}
    return float(p_value), baseline
'''
RIGHT_SCORE = "np.mean(y_pred == rng.permutation(y))"
RIGHT_P = "(1 + np.sum(baseline >= real)) / (n_permutations + 1)"

WRONG = [
    # the prediction: 1/C, the probability of each class, taken for the loss
    ("prediction-answer", "predicted_initial_loss = 0.1\n", {"prediction-tests"}),
    # the prediction: bits, log2(10)
    ("prediction-answer", "predicted_initial_loss = 3.32\n", {"prediction-tests"}),
    # initial_loss_ok: log2(C), a logarithm in the wrong base
    ("initial-answer",
     "def initial_loss_ok(loss, n_classes, tol=0.1):\n"
     "    return bool(abs(loss - math.log2(n_classes)) <= tol)\n",
     {"initial-tests"}),
    # initial_loss_ok: tol read as a fraction of the expected loss
    ("initial-answer",
     "def initial_loss_ok(loss, n_classes, tol=0.1):\n"
     "    expected = math.log(n_classes)\n"
     "    return bool(abs(loss - expected) <= tol * expected)\n",
     {"initial-tests"}),
    # initial_loss_ok: only a loss too high is flagged (no abs)
    ("initial-answer",
     "def initial_loss_ok(loss, n_classes, tol=0.1):\n"
     "    return bool(loss - math.log(n_classes) <= tol)\n",
     {"initial-tests"}),
    # overfit_one_batch: the gradients are never zeroed, so they accumulate across steps
    ("overfit-answer", overfit(zero=False), {"overfit-tests"}),
    # overfit_one_batch: each loss read after its step (off by one step)
    ("overfit-answer", overfit(before=False), {"overfit-tests"}),
    # overfit_one_batch: the batch's losses summed instead of averaged
    ("overfit-answer", overfit(reduction=", reduction='sum'"), {"overfit-tests"}),
    # overfit_one_batch: Adam instead of the plain SGD the contract asks for
    ("overfit-answer", overfit(optimizer="torch.optim.Adam(model.parameters(), lr=lr)"), {"overfit-tests"}),
    # lr_range_test: never stops, every learning rate tried, the blow-up included
    ("range-answer", RANGE.format(check="        losses.append(loss.item())\n", step=SET_LR + STEP),
     {"range-tests"}),
    # lr_range_test: stops at the blow-up but drops the blown-up loss
    ("range-answer",
     RANGE.format(check="        if not math.isfinite(loss.item()) or (losses and loss.item() > blowup * min(losses)):\n"
                        "            break\n"
                        "        losses.append(loss.item())\n", step=SET_LR + STEP),
     {"range-tests"}),
    # lr_range_test: the learning rate set after the step, so step i uses lrs[i - 1]
    ("range-answer", RANGE.format(check=KEEP_AND_STOP, step=STEP + SET_LR), {"range-tests"}),
    # suggest_lr: the learning rate of the step after the steepest drop (off by one)
    ("suggest-answer",
     "def suggest_lr(lrs, losses):\n"
     "    losses = np.asarray(losses, dtype=float)\n"
     "    change = losses[1:] - losses[:-1]\n"
     "    change[~np.isfinite(change)] = np.inf\n"
     "    return float(lrs[int(np.argmin(change)) + 1])\n",
     {"suggest-tests"}),
    # suggest_lr: the learning rate at the lowest loss
    ("suggest-answer",
     "def suggest_lr(lrs, losses):\n"
     "    return float(lrs[int(np.nanargmin(losses))])\n",
     {"suggest-tests"}),
    # suggest_lr: a nan at the end of the run is not handled (np.argmin picks the nan)
    ("suggest-answer",
     "def suggest_lr(lrs, losses):\n"
     "    losses = np.asarray(losses, dtype=float)\n"
     "    return float(lrs[int(np.argmin(np.diff(losses)))])\n",
     {"suggest-tests"}),
    # overlapping_rows: np.isin element by element: a row mixed from two training rows counts as a copy
    ("overlap-answer",
     "def overlapping_rows(train_X, test_X):\n"
     "    return np.flatnonzero(np.isin(test_X, train_X).all(axis=1))\n",
     {"overlap-tests"}),
    # overlapping_rows: only the first feature compared
    ("overlap-answer",
     "def overlapping_rows(train_X, test_X):\n"
     "    return np.flatnonzero(np.isin(test_X[:, 0], train_X[:, 0]))\n",
     {"overlap-tests"}),
    # overlapping_rows: the indices of the training rows that were copied, not of the test rows
    ("overlap-answer",
     "def overlapping_rows(train_X, test_X):\n"
     "    seen = {tuple(row) for row in np.asarray(test_X).tolist()}\n"
     "    return np.array([i for i, row in enumerate(np.asarray(train_X).tolist()) if tuple(row) in seen], dtype=int)\n",
     {"overlap-tests"}),
    # permutation_test: the real labelling not counted among the candidates (no +1)
    ("permutation-answer",
     PERMUTATION.format(score=RIGHT_SCORE, p_value="np.sum(baseline >= real) / n_permutations"),
     {"permutation-tests"}),
    # permutation_test: predictions shuffled together with the labels: the baseline scores like the real labels
    ("permutation-answer",
     "def permutation_test(y_pred, y, n_permutations=1000, seed=0):\n"
     "    rng = np.random.default_rng(seed)\n"
     "    y_pred, y = np.asarray(y_pred), np.asarray(y)\n"
     "    real = np.mean(y_pred == y)\n"
     "    baseline = []\n"
     "    for _ in range(n_permutations):\n"
     "        order = rng.permutation(len(y))\n"
     "        baseline.append(np.mean(y_pred[order] == y[order]))\n"
     "    baseline = np.array(baseline)\n"
     "    return float((1 + np.sum(baseline >= real)) / (n_permutations + 1)), baseline\n",
     {"permutation-tests"}),
    # permutation_test: uniformly random labels instead of a permutation (chance 1/C, not the real chance level)
    ("permutation-answer",
     PERMUTATION.format(score="np.mean(y_pred == rng.integers(0, y.max() + 1, size=len(y)))", p_value=RIGHT_P),
     {"permutation-tests"}),
    # permutation_test: a new generator for every permutation: the same shuffle n_permutations times
    ("permutation-answer",
     PERMUTATION.format(score="np.mean(y_pred == np.random.default_rng(seed).permutation(y))", p_value=RIGHT_P),
     {"permutation-tests"}),
    # permutation_test: a shuffle that ties the real accuracy is not counted against it
    ("permutation-answer",
     PERMUTATION.format(score=RIGHT_SCORE, p_value="(1 + np.sum(baseline > real)) / (n_permutations + 1)"),
     {"permutation-tests"}),
]
