"""Plausible wrong answers for solutions/00-loop-at-a-glance (see README.md)."""

WRONG = [
    # the intercept forgotten: every line through the origin
    ("predict-answer",
     "def predict(w, b, X):\n    return w * X\n",
     {"predict-tests"}),
    # a sum where the mean belongs (missing 1/n)
    ("mse-answer",
     "def mse(y_hat, y):\n    return float(np.sum((y_hat - y) ** 2))\n",
     {"mse-tests"}),
    # the mean absolute error instead of the mean squared error
    ("mse-answer",
     "def mse(y_hat, y):\n    return float(np.mean(np.abs(y_hat - y)))\n",
     {"mse-tests"}),
    # the 2 from differentiating the square forgotten
    ("grad-answer",
     "def mse_gradients(w, b, X, y):\n"
     "    error = w * X + b - y\n"
     "    return np.mean(error * X), np.mean(error)\n",
     {"grad-w-tests", "grad-b-tests"}),
    # the error taken the wrong way round: y - y_hat (a flipped sign)
    ("grad-answer",
     "def mse_gradients(w, b, X, y):\n"
     "    error = y - (w * X + b)\n"
     "    return 2 * np.mean(error * X), 2 * np.mean(error)\n",
     {"grad-w-tests", "grad-b-tests"}),
    # the chain rule's factor x_i forgotten in dw
    ("grad-answer",
     "def mse_gradients(w, b, X, y):\n"
     "    error = w * X + b - y\n"
     "    return 2 * np.mean(error), 2 * np.mean(error)\n",
     {"grad-w-tests"}),
    # db summed instead of averaged (missing 1/n)
    ("grad-answer",
     "def mse_gradients(w, b, X, y):\n"
     "    error = w * X + b - y\n"
     "    return 2 * np.mean(error * X), 2 * np.sum(error)\n",
     {"grad-b-tests"}),
    # ascent instead of descent
    ("step-answer",
     "def gradient_descent_step(w, b, dw, db, lr):\n    return w + lr * dw, b + lr * db\n",
     {"step-tests"}),
    # the learning rate applied to w only
    ("step-answer",
     "def gradient_descent_step(w, b, dw, db, lr):\n    return w - lr * dw, b - db\n",
     {"step-tests"}),
    # slope and intercept swapped
    ("predict-answer",
     "def predict(w, b, X):\n    return b * X + w\n",
     {"predict-tests"}),
    # the pair returned the wrong way round: (db, dw)
    ("grad-answer",
     "def mse_gradients(w, b, X, y):\n"
     "    error = w * X + b - y\n"
     "    return 2 * np.mean(error), 2 * np.mean(error * X)\n",
     {"grad-w-tests", "grad-b-tests"}),
    # only the new w returned
    ("step-answer",
     "def gradient_descent_step(w, b, dw, db, lr):\n    return w - lr * dw\n",
     {"step-tests"}),
    # the loss floor predicted as the noise's standard deviation, not its variance
    ("floor-answer", "predicted_loss_floor = 0.3\n", {"floor-tests"}),
    # the loss floor predicted as zero: a line that fits noisy points perfectly
    ("floor-answer", "predicted_loss_floor = 0.0\n", {"floor-tests"}),
]
