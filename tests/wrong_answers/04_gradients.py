"""Plausible wrong answers for solutions/04-gradients (see README.md in this folder)."""

_NUMGRAD_FORWARD = '''\
def numerical_gradient(f, x, eps=1e-6):
    grad = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        x_plus = x.copy()
        x_plus[idx] += eps
        grad[idx] = (f(x_plus) - f(x)) / eps      # one-sided: error of order eps
    return grad
'''

_NUMGRAD_EPS_NOT_2EPS = '''\
def numerical_gradient(f, x, eps=1e-6):
    grad = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        original = x[idx]
        x[idx] = original + eps
        f_plus = f(x)
        x[idx] = original - eps
        f_minus = f(x)
        x[idx] = original
        grad[idx] = (f_plus - f_minus) / eps      # the distance travelled is 2 * eps
    return grad
'''

_NUMGRAD_NO_RESTORE = '''\
def numerical_gradient(f, x, eps=1e-6):
    grad = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        x[idx] += eps
        f_plus = f(x)
        x[idx] -= 2 * eps
        f_minus = f(x)                            # ...and x[idx] is never put back
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad
'''

_NUMGRAD_FIXED_EPS = '''\
def numerical_gradient(f, x, eps=1e-6):
    h = 1e-6                                       # ignores the eps it is given
    grad = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        original = x[idx]
        x[idx] = original + h
        f_plus = f(x)
        x[idx] = original - h
        f_minus = f(x)
        x[idx] = original
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad
'''

_LINEAR_NO_2 = '''\
def linear_mse_grads(X, y, W, b):
    n, k = y.shape
    G = (X @ W + b - y) / (n * k)                  # the 2 from d/dx x**2 is missing
    return X.T @ G, G.sum(axis=0)
'''

_LINEAR_ONLY_N = '''\
def linear_mse_grads(X, y, W, b):
    n = X.shape[0]
    G = 2 * (X @ W + b - y) / n                    # the mean runs over n * k entries, not n
    return X.T @ G, G.sum(axis=0)
'''

_LINEAR_SIGN = '''\
def linear_mse_grads(X, y, W, b):
    n, k = y.shape
    G = 2 * (y - (X @ W + b)) / (n * k)            # y - y_hat: the direction of ascent
    return X.T @ G, G.sum(axis=0)
'''

_LINEAR_DB_MEAN = '''\
def linear_mse_grads(X, y, W, b):
    n, k = y.shape
    G = 2 * (X @ W + b - y) / (n * k)
    return X.T @ G, G.mean(axis=0)                 # averaged once too often
'''

_LINEAR_DB_WRONG_AXIS = '''\
def linear_mse_grads(X, y, W, b):
    n, k = y.shape
    G = 2 * (X @ W + b - y) / (n * k)
    return X.T @ G, G.sum(axis=1)                  # sums over the outputs, not the batch
'''

_CE_NO_MEAN = '''\
def softmax_cross_entropy_grad(logits, y):
    n = logits.shape[0]
    p = softmax(logits)
    p[np.arange(n), y] -= 1.0
    return p                                       # the 1/n of the mean is missing
'''

_CE_SIGN = '''\
def softmax_cross_entropy_grad(logits, y):
    n = logits.shape[0]
    one_hot = np.zeros_like(logits)
    one_hot[np.arange(n), y] = 1.0
    return (one_hot - softmax(logits)) / n         # true minus predicted: flipped sign
'''

_CE_NO_SOFTMAX = '''\
def softmax_cross_entropy_grad(logits, y):
    n = logits.shape[0]
    g = logits.copy()                              # the logits instead of the probabilities
    g[np.arange(n), y] -= 1.0
    return g / n
'''

_MLP_NO_RELU_MASK = '''\
def mlp_backward(dlogits, cache, params):
    X, Z1, H = cache["X"], cache["Z1"], cache["H"]
    dW2 = H.T @ dlogits
    db2 = dlogits.sum(axis=0)
    dZ1 = dlogits @ params["W2"].T                 # the ReLU is forgotten
    return {"W1": X.T @ dZ1, "b1": dZ1.sum(axis=0), "W2": dW2, "b2": db2}
'''

_MLP_DW2_FROM_Z1 = '''\
def mlp_backward(dlogits, cache, params):
    X, Z1, H = cache["X"], cache["Z1"], cache["H"]
    dW2 = Z1.T @ dlogits                           # the pre-activation, not the ReLU output H
    db2 = dlogits.sum(axis=0)
    dZ1 = (dlogits @ params["W2"].T) * (Z1 > 0)
    return {"W1": X.T @ dZ1, "b1": dZ1.sum(axis=0), "W2": dW2, "b2": db2}
'''

_MLP_DB1_MEAN = '''\
def mlp_backward(dlogits, cache, params):
    X, Z1, H = cache["X"], cache["Z1"], cache["H"]
    dW2 = H.T @ dlogits
    db2 = dlogits.sum(axis=0)
    dZ1 = (dlogits @ params["W2"].T) * (Z1 > 0)
    return {"W1": X.T @ dZ1, "b1": dZ1.mean(axis=0), "W2": dW2, "b2": db2}   # mean, not sum
'''

WRONG = [
    ("numgrad-answer", _NUMGRAD_FORWARD, {"numgrad-tests"}),
    ("numgrad-answer", _NUMGRAD_EPS_NOT_2EPS, {"numgrad-tests"}),
    ("numgrad-answer", _NUMGRAD_NO_RESTORE, {"numgrad-restore-tests"}),
    ("numgrad-answer", _NUMGRAD_FIXED_EPS, {"numgrad-tests"}),
    ("linear-answer", _LINEAR_NO_2, {"linear-dW-tests", "linear-db-tests"}),
    ("linear-answer", _LINEAR_ONLY_N, {"linear-dW-tests", "linear-db-tests"}),
    ("linear-answer", _LINEAR_SIGN, {"linear-dW-tests", "linear-db-tests"}),
    ("linear-answer", _LINEAR_DB_MEAN, {"linear-db-tests"}),
    ("linear-answer", _LINEAR_DB_WRONG_AXIS, {"linear-db-tests"}),
    ("ce-answer", _CE_NO_MEAN, {"ce-grad-tests"}),
    ("ce-answer", _CE_SIGN, {"ce-grad-tests"}),
    ("ce-answer", _CE_NO_SOFTMAX, {"ce-grad-tests"}),
    ("mlp-answer", _MLP_NO_RELU_MASK, {"mlp-hidden-tests"}),
    ("mlp-answer", _MLP_DW2_FROM_Z1, {"mlp-output-tests"}),
    ("mlp-answer", _MLP_DB1_MEAN, {"mlp-hidden-tests"}),
]

# ---- added with the checks of mlcourse.grading.exercises.nb04 ----------------------------------

_NUMGRAD_RESTORE_BY_ARITHMETIC = '''\
def numerical_gradient(f, x, eps=1e-6):
    grad = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        x[idx] += eps
        f_plus = f(x)
        x[idx] -= 2 * eps
        f_minus = f(x)
        x[idx] += eps                             # x + eps - 2 eps + eps is not x, bit for bit
        grad[idx] = (f_plus - f_minus) / (2 * eps)
    return grad
'''

_LINEAR_ONLY_DW = '''\
def linear_mse_grads(X, y, W, b):
    n, k = y.shape
    G = 2 * (X @ W + b - y) / (n * k)
    return X.T @ G                                 # db is forgotten: not the pair (dW, db)
'''

_LINEAR_DICT = '''\
def linear_mse_grads(X, y, W, b):
    n, k = y.shape
    G = 2 * (X @ W + b - y) / (n * k)
    return {"W": X.T @ G, "b": G.sum(axis=0)}      # a dict, where the pair (dW, db) is asked for
'''

_CE_WRONG_INDEX = '''\
def softmax_cross_entropy_grad(logits, y):
    n = logits.shape[0]
    p = softmax(logits)
    p[:, y] -= 1.0                                 # every row loses 1 in every label's column
    return p / n
'''

_MLP_TUPLE = '''\
def mlp_backward(dlogits, cache, params):
    X, Z1, H = cache["X"], cache["Z1"], cache["H"]
    dZ1 = (dlogits @ params["W2"].T) * (Z1 > 0)
    return X.T @ dZ1, dZ1.sum(axis=0), H.T @ dlogits, dlogits.sum(axis=0)   # a tuple, not a dict
'''

WRONG += [
    ("numgrad-answer", _NUMGRAD_RESTORE_BY_ARITHMETIC, {"numgrad-restore-tests"}),
    ("linear-answer", _LINEAR_ONLY_DW, {"linear-dW-tests", "linear-db-tests"}),
    ("linear-answer", _LINEAR_DICT, {"linear-dW-tests", "linear-db-tests"}),
    ("ce-answer", _CE_WRONG_INDEX, {"ce-grad-tests"}),
    ("mlp-answer", _MLP_TUPLE, {"mlp-output-tests", "mlp-hidden-tests"}),
]

WRONG += [
    # the prediction: the ratio of the two gradients taken for their relative error
    ("bug-prediction-answer", "predicted_rel_error = 16\n", {"bug-prediction-tests"}),
    # the prediction: the difference divided by the buggy gradient alone, |16t - t| / |16t|
    ("bug-prediction-answer", "predicted_rel_error = 15 / 16\n", {"bug-prediction-tests"}),
    # the prediction: the factor-of-2 value of section 2 copied, not worked out for 16
    ("bug-prediction-answer", "predicted_rel_error = 1 / 3\n", {"bug-prediction-tests"}),
]
