"""Plausible wrong answers for solutions/06b-compute-and-scale (see README.md)."""

_AVERAGE_HEAD = "def average_gradients(worker_grads, worker_rows):\n"

# As in the notebook: the default is None, and average_gradients is looked up when the step runs.
_DP_HEAD = ("def data_parallel_step(model, X, y, k, lr, average=None):\n"
            "    if average is None:\n"
            "        average = average_gradients\n")


# Shortcuts of data_parallel_step that skip the workers: one full-batch gradient, then a step
# with whatever ends up in `averaged`.
_FULL_BATCH = (_DP_HEAD
               + "    model.zero_grad()\n"
               "    logits = model(X)\n"
               "    loss = float(cross_entropy(logits, y))\n"
               "    model.backward(cross_entropy_grad(logits, y))\n")
_STEP = ("    for p, grad in zip(model.parameters(), averaged):\n"
         "        p.data -= lr * grad\n"
         "    return loss\n")


def _dp_step(worker: str, step: str = "", loss: str = "") -> str:
    """A data_parallel_step whose worker body, step and returned loss can each be replaced."""
    return (_DP_HEAD
            + "    worker_grads, worker_rows, losses = [], [], []\n"
            "    for rows in np.array_split(np.arange(len(X)), k):\n"
            + (worker or
               "        model.zero_grad()\n"
               "        logits = model(X[rows])\n"
               "        losses.append(float(cross_entropy(logits, y[rows])))\n"
               "        model.backward(cross_entropy_grad(logits, y[rows]))\n"
               "        worker_grads.append([p.grad.copy() for p in model.parameters()])\n"
               "        worker_rows.append(len(rows))\n")
            + (step or
               "    averaged = average(worker_grads, worker_rows)\n"
               "    for p, grad in zip(model.parameters(), averaged):\n"
               "        p.data -= lr * grad\n")
            + (loss or "    return sum(n / len(X) * loss for n, loss in zip(worker_rows, losses))\n"))


WRONG = [
    # -- fit_step_cost ----------------------------------------------------------------------
    # a line through the origin, no overhead
    ("cost-answer",
     "def fit_step_cost(batch_sizes, seconds):\n"
     "    B, t = np.asarray(batch_sizes, dtype=float), np.asarray(seconds, dtype=float)\n"
     "    return 0.0, float(B @ t / (B @ B))\n",
     {"cost-tests"}),
    # fit_step_cost: the slope between the first and last points only, not least squares
    ("cost-answer",
     "def fit_step_cost(batch_sizes, seconds):\n"
     "    c = (seconds[-1] - seconds[0]) / (batch_sizes[-1] - batch_sizes[0])\n"
     "    return seconds[0] - c * batch_sizes[0], c\n",
     {"cost-tests"}),
    # predict_run_time: n / B steps, the last short batch forgotten
    ("runtime-answer",
     "def predict_run_time(t0, c, n_examples, batch_size, epochs):\n"
     "    return epochs * (n_examples / batch_size) * (t0 + c * batch_size)\n",
     {"runtime-tests"}),
    # predict_run_time: every step charged for a full batch, the short last one included
    ("runtime-answer",
     "def predict_run_time(t0, c, n_examples, batch_size, epochs):\n"
     "    steps = -(-n_examples // batch_size)\n"
     "    return epochs * steps * (t0 + c * batch_size)\n",
     {"runtime-tests"}),
    # -- average_gradients -------------------------------------------------------------------
    # the plain mean over workers: right for equal chunks only
    ("dp-average-answer",
     _AVERAGE_HEAD
     + "    k = len(worker_grads)\n"
     "    return [sum(grads[j] for grads in worker_grads) / k for j in range(len(worker_grads[0]))]\n",
     {"dp-weighted-tests"}),
    # the sum: k times too large
    ("dp-average-answer",
     _AVERAGE_HEAD
     + "    return [sum(grads[j] for grads in worker_grads) for j in range(len(worker_grads[0]))]\n",
     {"dp-average-tests", "dp-weighted-tests"}),
    # weighted by rows, but divided by the number of workers instead of the number of rows
    ("dp-average-answer",
     _AVERAGE_HEAD
     + "    k = len(worker_grads)\n"
     "    return [sum(n * grads[j] for grads, n in zip(worker_grads, worker_rows)) / k\n"
     "            for j in range(len(worker_grads[0]))]\n",
     {"dp-average-tests", "dp-weighted-tests"}),
    # -- data_parallel_step ------------------------------------------------------------------
    # no zero_grad between workers: each worker's p.grad holds the sum of all before it
    ("dp-step-answer",
     _dp_step("        logits = model(X[rows])\n"
              "        losses.append(float(cross_entropy(logits, y[rows])))\n"
              "        model.backward(cross_entropy_grad(logits, y[rows]))\n"
              "        worker_grads.append([p.grad.copy() for p in model.parameters()])\n"
              "        worker_rows.append(len(rows))\n"),
     {"dp-step-tests"}),
    # p.grad kept without a copy: zero_grad and backward reuse the array, so every worker's entry
    # ends up holding the last worker's gradient
    ("dp-step-answer",
     _dp_step("        model.zero_grad()\n"
              "        logits = model(X[rows])\n"
              "        losses.append(float(cross_entropy(logits, y[rows])))\n"
              "        model.backward(cross_entropy_grad(logits, y[rows]))\n"
              "        worker_grads.append([p.grad for p in model.parameters()])\n"
              "        worker_rows.append(len(rows))\n"),
     {"dp-step-tests"}),
    # the step taken with the last worker's gradient, left in p.grad, instead of the average
    ("dp-step-answer",
     _dp_step("", step="    for p in model.parameters():\n"
                        "        p.data -= lr * p.grad\n"),
     {"dp-step-tests"}),
    # the batch loss as the plain mean of the chunks' losses (wrong when the chunks differ in size)
    ("dp-step-answer",
     _dp_step("", loss="    return sum(losses) / len(losses)\n"),
     {"dp-step-tests"}),
    # k ignored: one full-batch gradient presented as a single worker (right weights, no workers)
    ("dp-step-answer",
     _FULL_BATCH
     + "    averaged = average([[p.grad.copy() for p in model.parameters()]], [len(X)])\n"
     + _STEP,
     {"dp-step-tests"}),
    # k copies of the full-batch gradient passed off as k workers
    ("dp-step-answer",
     _FULL_BATCH
     + "    rows = [len(c) for c in np.array_split(np.arange(len(X)), k)]\n"
       "    averaged = average([[p.grad.copy() for p in model.parameters()] for _ in rows], rows)\n"
     + _STEP,
     {"dp-step-tests"}),
    # the same, each copy nudged by a whisker so that the copies differ
    ("dp-step-answer",
     _FULL_BATCH
     + "    rows = [len(c) for c in np.array_split(np.arange(len(X)), k)]\n"
       "    sent = [[p.grad + 1e-15 * r for p in model.parameters()] for r in range(k)]\n"
       "    averaged = average(sent, rows)\n"
     + _STEP,
     {"dp-step-tests"}),
    # a full-batch step, and the all-reduce's record written by hand instead of calling it
    ("dp-step-answer",
     _FULL_BATCH
     + "    rows = [len(c) for c in np.array_split(np.arange(len(X)), k)]\n"
       "    averaged = [p.grad.copy() for p in model.parameters()]\n"
       "    if hasattr(average, 'calls'):\n"
       "        average.calls.append([k, rows, False, [[g + 1e-15 * r for g in averaged] for r in range(k)]])\n"
     + _STEP,
     {"dp-step-tests"}),
    # each worker's gradient of its chunk's SUMMED loss, weighted as if it were the mean
    ("dp-step-answer",
     _dp_step("        model.zero_grad()\n"
              "        logits = model(X[rows])\n"
              "        losses.append(float(cross_entropy(logits, y[rows])))\n"
              "        model.backward(len(rows) * cross_entropy_grad(logits, y[rows]))\n"
              "        worker_grads.append([p.grad.copy() / len(X) * k for p in model.parameters()])\n"
              "        worker_rows.append(len(rows))\n"),
     {"dp-step-tests"}),

    # -- count_parameters -------------------------------------------------------------------
    # the weight matrices only, the biases forgotten
    ("params-answer",
     "def count_parameters(sizes):\n"
     "    return sum(d_in * d_out for d_in, d_out in zip(sizes[:-1], sizes[1:]))\n",
     {"params-tests"}),
    # one bias per input of each layer instead of one per output
    ("params-answer",
     "def count_parameters(sizes):\n"
     "    return sum(d_in * d_out + d_in for d_in, d_out in zip(sizes[:-1], sizes[1:]))\n",
     {"params-tests"}),
    # the units counted instead of the connections between them
    ("params-answer",
     "def count_parameters(sizes):\n"
     "    return sum(sizes)\n",
     {"params-tests"}),

    # -- train_flops ------------------------------------------------------------------------
    # the forward pass alone: 2 N D
    ("flops-answer",
     "def train_flops(n_params, n_tokens):\n"
     "    return 2.0 * n_params * n_tokens\n",
     {"flops-tests"}),
    # one FLOP per parameter per token: N D
    ("flops-answer",
     "def train_flops(n_params, n_tokens):\n"
     "    return float(n_params * n_tokens)\n",
     {"flops-tests"}),
    # forward and backward, but a multiply-add counted as one FLOP: 3 N D
    ("flops-answer",
     "def train_flops(n_params, n_tokens):\n"
     "    return (1.0 + 2.0) * n_params * n_tokens\n",
     {"flops-tests"}),

    # -- the predicted FLOP ratio -----------------------------------------------------------
    # every layer taken to grow with the square of the width
    ("predict-answer", "predicted_flops_ratio = 4.0\n", {"predict-tests"}),
    # every layer taken to grow with the width
    ("predict-answer", "predicted_flops_ratio = 2.0\n", {"predict-tests"}),
]
