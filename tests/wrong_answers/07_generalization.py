"""Plausible wrong answers for solutions/07-generalization (see README.md)."""

WRONG = [
    # the prediction: the best model of the sine taken for the lowest training error
    ("prediction-answer", "lowest_training_degree = 3\nlowest_validation_degree = 3\n", {"prediction-tests"}),
    # the prediction: the most flexible fit expected to win on new data too
    ("prediction-answer", "lowest_training_degree = 15\nlowest_validation_degree = 15\n", {"prediction-tests"}),
    # the prediction: fewer weights taken for a closer fit, and the simplest model for the safest
    ("prediction-answer", "lowest_training_degree = 1\nlowest_validation_degree = 1\n", {"prediction-tests"}),
    # weight decay ignored: plain least squares whatever lambda is
    ("ridge-answer",
     "def fit_ridge(X, y, degree, weight_decay):\n"
     "    A = poly_features(X, degree)\n"
     "    return np.linalg.solve(A.T @ A, A.T @ y)\n",
     {"ridge-decay-tests"}),
    # lambda added without the identity: numpy broadcasts it onto every entry of the matrix
    ("ridge-answer",
     "def fit_ridge(X, y, degree, weight_decay):\n"
     "    A = poly_features(X, degree)\n"
     "    n = len(y)\n"
     "    return np.linalg.solve(A.T @ A / n + weight_decay, A.T @ y / n)\n",
     {"ridge-decay-tests"}),
    # the 1/n dropped from the data term: the penalty's weight now shrinks as n grows
    ("ridge-answer",
     "def fit_ridge(X, y, degree, weight_decay):\n"
     "    A = poly_features(X, degree)\n"
     "    return np.linalg.solve(A.T @ A + weight_decay * np.eye(degree + 1), A.T @ y)\n",
     {"ridge-decay-tests"}),
    # 1/n on one side only: wrong even without weight decay
    ("ridge-answer",
     "def fit_ridge(X, y, degree, weight_decay):\n"
     "    A = poly_features(X, degree)\n"
     "    n = len(y)\n"
     "    return np.linalg.solve(A.T @ A + weight_decay * np.eye(degree + 1), A.T @ y / n)\n",
     {"ridge-zero-tests", "ridge-decay-tests"}),
    # no early stopping: the best epoch of the whole run, and the run always goes to the end
    ("early-stopping-answer",
     "def early_stopping_epoch(val_losses, patience, min_delta=0.0):\n"
     "    return int(np.argmin(val_losses)), len(val_losses) - 1\n",
     {"early-stopping-tests", "early-stopping-min-delta-tests"}),
    # the last epoch run returned as the one to keep
    ("early-stopping-answer",
     "def early_stopping_epoch(val_losses, patience, min_delta=0.0):\n"
     "    best_loss, bad_epochs = None, 0\n"
     "    for epoch, loss in enumerate(val_losses):\n"
     "        if best_loss is None or loss < best_loss - min_delta:\n"
     "            best_loss, bad_epochs = loss, 0\n"
     "        else:\n"
     "            bad_epochs += 1\n"
     "            if bad_epochs >= patience:\n"
     "                return epoch, epoch\n"
     "    return len(val_losses) - 1, len(val_losses) - 1\n",
     {"early-stopping-tests", "early-stopping-min-delta-tests"}),
    # off-by-one patience: waits one epoch too many (> instead of >=)
    ("early-stopping-answer",
     "def early_stopping_epoch(val_losses, patience, min_delta=0.0):\n"
     "    best_loss, best_epoch, bad_epochs = None, 0, 0\n"
     "    for epoch, loss in enumerate(val_losses):\n"
     "        if best_loss is None or loss < best_loss - min_delta:\n"
     "            best_loss, best_epoch, bad_epochs = loss, epoch, 0\n"
     "        else:\n"
     "            bad_epochs += 1\n"
     "            if bad_epochs > patience:\n"
     "                return best_epoch, epoch\n"
     "    return best_epoch, len(val_losses) - 1\n",
     {"early-stopping-tests", "early-stopping-min-delta-tests"}),
    # min_delta ignored: any decrease counts as an improvement
    ("early-stopping-answer",
     "def early_stopping_epoch(val_losses, patience, min_delta=0.0):\n"
     "    best_loss, best_epoch, bad_epochs = None, 0, 0\n"
     "    for epoch, loss in enumerate(val_losses):\n"
     "        if best_loss is None or loss < best_loss:\n"
     "            best_loss, best_epoch, bad_epochs = loss, epoch, 0\n"
     "        else:\n"
     "            bad_epochs += 1\n"
     "            if bad_epochs >= patience:\n"
     "                return best_epoch, epoch\n"
     "    return best_epoch, len(val_losses) - 1\n",
     {"early-stopping-min-delta-tests"}),
    # selecting on training loss: always the most flexible candidate
    ("select-answer",
     "def select_degree(split, candidates):\n"
     "    X_train, y_train = split.train\n"
     "    errors = [mse(predict_polynomial(fit_polynomial(X_train, y_train, d), X_train), y_train)\n"
     "              for d in candidates]\n"
     "    return list(candidates)[int(np.argmin(errors))]\n",
     {"select-tests"}),
    # selecting on the test set
    ("select-answer",
     "def select_degree(split, candidates):\n"
     "    X_train, y_train = split.train\n"
     "    X_test, y_test = split.test\n"
     "    errors = [mse(predict_polynomial(fit_polynomial(X_train, y_train, d), X_test), y_test)\n"
     "              for d in candidates]\n"
     "    return list(candidates)[int(np.argmin(errors))]\n",
     {"select-tests", "select-no-peeking-tests"}),
    # 'more data is better': validation and test pooled to score the candidates. The selection checks
    # hand select_degree a split whose test targets are noise, so the pooled choice is wrong there too.
    ("select-answer",
     "def select_degree(split, candidates):\n"
     "    X_train, y_train = split.train\n"
     "    (X_val, y_val), (X_test, y_test) = split.val, split.test\n"
     "    X_eval, y_eval = np.concatenate([X_val, X_test]), np.concatenate([y_val, y_test])\n"
     "    errors = [mse(predict_polynomial(fit_polynomial(X_train, y_train, d), X_eval), y_eval)\n"
     "              for d in candidates]\n"
     "    return list(candidates)[int(np.argmin(errors))]\n",
     {"select-tests", "select-no-peeking-tests"}),
    # test-set leakage: the test examples are part of the final fit
    ("final-answer",
     "def final_test_error(split, degree):\n"
     "    (X_train, y_train), (X_val, y_val) = split.train, split.val\n"
     "    X_test, y_test = split.test\n"
     "    w = fit_polynomial(np.concatenate([X_train, X_val, X_test]),\n"
     "                       np.concatenate([y_train, y_val, y_test]), degree)\n"
     "    return mse(predict_polynomial(w, X_test), y_test)\n",
     {"final-tests"}),
    # the test set read twice (split.test[0], split.test[1])
    ("final-answer",
     "def final_test_error(split, degree):\n"
     "    (X_train, y_train), (X_val, y_val) = split.train, split.val\n"
     "    w = fit_polynomial(np.concatenate([X_train, X_val]), np.concatenate([y_train, y_val]), degree)\n"
     "    return mse(predict_polynomial(w, split.test[0]), split.test[1])\n",
     {"final-reads-tests"}),
    # no refit: the model fitted on the training set alone
    ("final-answer",
     "def final_test_error(split, degree):\n"
     "    w = fit_polynomial(*split.train, degree)\n"
     "    X_test, y_test = split.test\n"
     "    return mse(predict_polynomial(w, X_test), y_test)\n",
     {"final-tests"}),
    # scored on the validation set: the test set never read
    ("final-answer",
     "def final_test_error(split, degree):\n"
     "    (X_train, y_train), (X_val, y_val) = split.train, split.val\n"
     "    w = fit_polynomial(np.concatenate([X_train, X_val]), np.concatenate([y_train, y_val]), degree)\n"
     "    return mse(predict_polynomial(w, X_val), y_val)\n",
     {"final-tests", "final-reads-tests"}),
    # stops one epoch early: patience - 1 epochs without improvement end the run
    ("early-stopping-answer",
     "def early_stopping_epoch(val_losses, patience, min_delta=0.0):\n"
     "    best_loss, best_epoch, bad_epochs = None, 0, 0\n"
     "    for epoch, loss in enumerate(val_losses):\n"
     "        if best_loss is None or loss < best_loss - min_delta:\n"
     "            best_loss, best_epoch, bad_epochs = loss, epoch, 0\n"
     "        else:\n"
     "            bad_epochs += 1\n"
     "            if bad_epochs >= patience - 1:\n"
     "                return best_epoch, epoch\n"
     "    return best_epoch, len(val_losses) - 1\n",
     {"early-stopping-tests", "early-stopping-min-delta-tests"}),
    # a peek at the test set that does not change the choice: still a read of the test set
    ("select-answer",
     "def select_degree(split, candidates):\n"
     "    (X_train, y_train), (X_val, y_val) = split.train, split.val\n"
     "    print('test examples:', len(split.test[1]))\n"
     "    errors = [mse(predict_polynomial(fit_polynomial(X_train, y_train, d), X_val), y_val)\n"
     "              for d in candidates]\n"
     "    return list(candidates)[int(np.argmin(errors))]\n",
     {"select-no-peeking-tests"}),
    # the validation MSE returned instead of the degree that achieves it
    ("select-answer",
     "def select_degree(split, candidates):\n"
     "    (X_train, y_train), (X_val, y_val) = split.train, split.val\n"
     "    return min(mse(predict_polynomial(fit_polynomial(X_train, y_train, d), X_val), y_val)\n"
     "               for d in candidates)\n",
     {"select-tests", "select-no-peeking-tests"}),
    # the per-example squared errors returned, not their mean
    ("final-answer",
     "def final_test_error(split, degree):\n"
     "    (X_train, y_train), (X_val, y_val) = split.train, split.val\n"
     "    w = fit_polynomial(np.concatenate([X_train, X_val]), np.concatenate([y_train, y_val]), degree)\n"
     "    X_test, y_test = split.test\n"
     "    return (predict_polynomial(w, X_test) - y_test) ** 2\n",
     {"final-tests", "final-reads-tests"}),
    # polynomial_features: the powers of each input alone, no cross terms (x1*x2, x1^2*x2, ...)
    ("features-answer",
     "def polynomial_features(X, degree):\n"
     "    return np.concatenate([X ** d for d in range(1, degree + 1)], axis=1)\n",
     {"features-tests"}),
    # polynomial_features: a column of ones in front (the model already has its bias)
    ("features-answer",
     "def polynomial_features(X, degree):\n"
     "    columns = [np.ones(len(X))] + [X[:, 0] ** a * X[:, 1] ** (d - a)\n"
     "                                   for d in range(1, degree + 1) for a in range(d, -1, -1)]\n"
     "    return np.stack(columns, axis=1)\n",
     {"features-tests"}),
    # fit_logistic: a fixed 20 steps, the model left undertrained
    ("logistic-answer",
     "def fit_logistic(A, y, lr=2.0, weight_decay=1e-3, tol=1e-7, max_epochs=20_000):\n"
     "    n, m = A.shape\n"
     "    w, b, losses = np.zeros(m), 0.0, []\n"
     "    for _ in range(20):\n"
     "        p = 1.0 / (1.0 + np.exp(-(A @ w + b)))\n"
     "        w = w - lr * (A.T @ (p - y) / n + weight_decay * w)\n"
     "        b = b - lr * np.mean(p - y)\n"
     "        z = A @ w + b\n"
     "        losses.append(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * weight_decay * w @ w)\n"
     "    return w, b, np.array(losses)\n",
     {"logistic-tests"}),
    # fit_logistic: the weight decay left out of the gradient (it still counts in the loss)
    ("logistic-answer",
     "def fit_logistic(A, y, lr=2.0, weight_decay=1e-3, tol=1e-7, max_epochs=20_000):\n"
     "    n, m = A.shape\n"
     "    w, b, losses = np.zeros(m), 0.0, []\n"
     "    previous = np.log(2.0)\n"
     "    for _ in range(max_epochs):\n"
     "        p = 1.0 / (1.0 + np.exp(-(A @ w + b)))\n"
     "        w = w - lr * (A.T @ (p - y) / n)\n"
     "        b = b - lr * np.mean(p - y)\n"
     "        z = A @ w + b\n"
     "        losses.append(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * weight_decay * w @ w)\n"
     "        if previous - losses[-1] < tol * previous:\n"
     "            break\n"
     "        previous = losses[-1]\n"
     "    return w, b, np.array(losses)\n",
     {"logistic-tests"}),
    # diagnose: overfitting read from the gap between the curves instead of validation turning upward
    ("diagnose-answer",
     "def diagnose(train_errors, val_errors, floor):\n"
     "    train, val = np.asarray(train_errors, dtype=float), np.asarray(val_errors, dtype=float)\n"
     "    if val[-1] > 1.5 * train[-1]:\n"
     "        verdict = 'overfitting'\n"
     "    elif train[-1] > 1.5 * floor:\n"
     "        earlier = train[-1 - max(1, len(train) // 5)]\n"
     "        verdict = 'underfitting, still learning' if train[-1] < 0.95 * earlier else 'underfitting'\n"
     "    else:\n"
     "        verdict = 'good fit'\n"
     "    return verdict, FIXES[verdict]\n",
     {"diagnose-tests"}),
    # diagnose: never asks whether training is still falling (an undertrained model called too simple)
    ("diagnose-answer",
     "def diagnose(train_errors, val_errors, floor):\n"
     "    train, val = np.asarray(train_errors, dtype=float), np.asarray(val_errors, dtype=float)\n"
     "    if val[-1] > 1.1 * val.min():\n"
     "        verdict = 'overfitting'\n"
     "    elif train[-1] > 1.5 * floor:\n"
     "        verdict = 'underfitting'\n"
     "    else:\n"
     "        verdict = 'good fit'\n"
     "    return verdict, FIXES[verdict]\n",
     {"diagnose-tests"}),
    # kfold_indices: each training part keeps its own validation fold (nothing is held out)
    ("kfold-answer",
     "def kfold_indices(n, k=5, seed=0):\n"
     "    order = np.random.default_rng(seed).permutation(n)\n"
     "    return [(order, part) for part in np.array_split(order, k)]\n",
     {"kfold-tests"}),
    # cross_validate: every fold fitted on all the rows, its own validation rows included (leakage)
    ("cv-answer",
     "def cross_validate(X, y, degree, folds):\n"
     "    w = fit_polynomial(X, y, degree)\n"
     "    return float(np.mean([mse(predict_polynomial(w, X[v]), y[v]) for t, v in folds]))\n",
     {"cv-tests"}),
    # cross_validate: only the last fold's score is returned
    ("cv-answer",
     "def cross_validate(X, y, degree, folds):\n"
     "    for train_idx, val_idx in folds:\n"
     "        w = fit_polynomial(X[train_idx], y[train_idx], degree)\n"
     "        score = mse(predict_polynomial(w, X[val_idx]), y[val_idx])\n"
     "    return float(score)\n",
     {"cv-tests"}),
]
