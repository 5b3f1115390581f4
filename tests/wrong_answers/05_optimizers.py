"""Plausible wrong answers for solutions/05-optimizers (see README.md in this folder)."""

_SGD_ASCENT = '''\
def sgd_step(params, lr):
    for p in params:
        p.data += lr * p.grad                      # uphill: the sign is flipped
'''

_SGD_REBIND = '''\
def sgd_step(params, lr):
    for p in params:
        p = p.data - lr * p.grad                   # rebinds a local name; nothing is updated
'''

_SGD_FIRST_ONLY = '''\
def sgd_step(params, lr):
    p = params[0]                                  # only the first parameter moves
    p.data -= lr * p.grad
'''


def _momentum(body: str) -> str:
    return '''\
class SGDMomentum(Optimizer):
    def __init__(self, params, lr, momentum=0.9, dampening=0.0):
        super().__init__(params)
        self.lr, self.momentum, self.dampening = lr, momentum, dampening
        self.buffers = [None] * len(self.params)

    def step(self):
''' + body


_MOMENTUM_EMA = _momentum('''\
        for i, p in enumerate(self.params):
            if self.buffers[i] is None:
                self.buffers[i] = p.grad.copy()
            else:                                  # an average, not torch's sum
                self.buffers[i] = self.momentum * self.buffers[i] + (1 - self.momentum) * p.grad
            p.data -= self.lr * self.buffers[i]
''')

_MOMENTUM_ZERO_START = _momentum('''\
        for i, p in enumerate(self.params):
            if self.buffers[i] is None:
                self.buffers[i] = np.zeros_like(p.data)   # torch starts from the first gradient
            self.buffers[i] = self.momentum * self.buffers[i] + (1 - self.dampening) * p.grad
            p.data -= self.lr * self.buffers[i]
''')

_MOMENTUM_LOOKAHEAD = _momentum('''\
        for i, p in enumerate(self.params):
            if self.buffers[i] is None:
                self.buffers[i] = p.grad.copy()
            else:
                self.buffers[i] = self.momentum * self.buffers[i] + (1 - self.dampening) * p.grad
            p.data -= self.lr * (p.grad + self.momentum * self.buffers[i])   # Nesterov, not asked for
''')

_MOMENTUM_FORGETS = _momentum('''\
        for i, p in enumerate(self.params):
            buffer = self.buffers[i] if self.buffers[i] is not None else p.grad
            buffer = self.momentum * buffer + (1 - self.dampening) * p.grad if self.buffers[i] is not None else buffer
            p.data -= self.lr * buffer             # never stored: momentum is lost every step
''')


def _adam(body: str) -> str:
    return '''\
class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.t = 0
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]

    def step(self):
        beta1, beta2 = self.betas
''' + body


_MOMENTUM_DAMPENS_FIRST = _momentum('''\
        for i, p in enumerate(self.params):
            if self.buffers[i] is None:            # dampening already at the first step
                self.buffers[i] = (1 - self.dampening) * np.array(p.grad, dtype=np.float64)
            else:
                self.buffers[i] = self.momentum * self.buffers[i] + (1 - self.dampening) * p.grad
            p.data -= self.lr * self.buffers[i]
''')


_ADAM_T_AFTER = _adam('''\
        for i, p in enumerate(self.params):
            g = p.grad
            self.m[i] = beta1 * self.m[i] + (1 - beta1) * g
            self.v[i] = beta2 * self.v[i] + (1 - beta2) * g * g
            m_hat = self.m[i] / (1 - beta1 ** self.t)     # t is still 0 at the first step
            v_hat = self.v[i] / (1 - beta2 ** self.t)
            p.data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
        self.t += 1
''')

_ADAM_T_PLUS_ONE = _adam('''\
        self.t += 1
        t = self.t + 1                                    # one step ahead
        for i, p in enumerate(self.params):
            g = p.grad
            self.m[i] = beta1 * self.m[i] + (1 - beta1) * g
            self.v[i] = beta2 * self.v[i] + (1 - beta2) * g * g
            m_hat = self.m[i] / (1 - beta1 ** t)
            v_hat = self.v[i] / (1 - beta2 ** t)
            p.data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
''')

_ADAM_T_PER_PARAMETER = _adam('''\
        for i, p in enumerate(self.params):
            self.t += 1                                   # counted once per parameter, not per step
            g = p.grad
            self.m[i] = beta1 * self.m[i] + (1 - beta1) * g
            self.v[i] = beta2 * self.v[i] + (1 - beta2) * g * g
            m_hat = self.m[i] / (1 - beta1 ** self.t)
            v_hat = self.v[i] / (1 - beta2 ** self.t)
            p.data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
''')

_ADAM_EPS_INSIDE = _adam('''\
        self.t += 1
        for i, p in enumerate(self.params):
            g = p.grad
            self.m[i] = beta1 * self.m[i] + (1 - beta1) * g
            self.v[i] = beta2 * self.v[i] + (1 - beta2) * g * g
            m_hat = self.m[i] / (1 - beta1 ** self.t)
            v_hat = self.v[i] / (1 - beta2 ** self.t)
            p.data -= self.lr * m_hat / np.sqrt(v_hat + self.eps)   # eps inside the root
''')

_ADAM_NO_BIAS_CORRECTION = _adam('''\
        self.t += 1
        for i, p in enumerate(self.params):
            g = p.grad
            self.m[i] = beta1 * self.m[i] + (1 - beta1) * g
            self.v[i] = beta2 * self.v[i] + (1 - beta2) * g * g
            p.data -= self.lr * self.m[i] / (np.sqrt(self.v[i]) + self.eps)
''')

_ADAM_STATE_NOT_STORED = _adam('''\
        self.t += 1
        for i, p in enumerate(self.params):
            g = p.grad
            m = beta1 * self.m[i] + (1 - beta1) * g       # computed, never stored back
            v = beta2 * self.v[i] + (1 - beta2) * g * g
            m_hat = m / (1 - beta1 ** self.t)
            v_hat = v / (1 - beta2 ** self.t)
            p.data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
''')

_ADAM_V_OF_G = _adam('''\
        self.t += 1
        for i, p in enumerate(self.params):
            g = p.grad
            self.m[i] = beta1 * self.m[i] + (1 - beta1) * g
            self.v[i] = beta2 * self.v[i] + (1 - beta2) * np.abs(g)   # |g|, not g**2
            m_hat = self.m[i] / (1 - beta1 ** self.t)
            v_hat = self.v[i] / (1 - beta2 ** self.t)
            p.data -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
''')

_LR_ONE_OVER = '''\
def largest_stable_lr(H):
    return float(1.0 / np.linalg.eigvalsh(H).max())    # the edge is at 2 / lambda_max
'''

_LR_SMALLEST = '''\
def largest_stable_lr(H):
    return float(2.0 / np.linalg.eigvalsh(H).min())    # the gentlest direction, not the steepest
'''

_LR_DIAGONAL = '''\
def largest_stable_lr(H):
    return float(2.0 / np.max(np.diag(H)))              # the diagonal is not the eigenvalues
'''

WRONG = [
    ("sgd-answer", _SGD_ASCENT, {"sgd-tests"}),
    ("sgd-answer", _SGD_REBIND, {"sgd-tests"}),
    ("sgd-answer", _SGD_FIRST_ONLY, {"sgd-tests"}),
    ("momentum-answer", _MOMENTUM_EMA, {"momentum-tests", "momentum-dampening-tests"}),
    ("momentum-answer", _MOMENTUM_ZERO_START, {"momentum-dampening-tests"}),
    ("momentum-answer", _MOMENTUM_LOOKAHEAD, {"momentum-tests", "momentum-dampening-tests"}),
    ("momentum-answer", _MOMENTUM_FORGETS, {"momentum-tests", "momentum-dampening-tests"}),
    ("momentum-answer", _MOMENTUM_DAMPENS_FIRST, {"momentum-dampening-tests"}),
    ("adam-answer", _ADAM_T_AFTER, {"adam-first-step-tests", "adam-tests"}),
    ("adam-answer", _ADAM_T_PLUS_ONE, {"adam-first-step-tests", "adam-tests"}),
    ("adam-answer", _ADAM_T_PER_PARAMETER, {"adam-first-step-tests", "adam-tests"}),
    ("adam-answer", _ADAM_EPS_INSIDE, {"adam-first-step-tests", "adam-tests"}),
    ("adam-answer", _ADAM_NO_BIAS_CORRECTION, {"adam-first-step-tests", "adam-tests"}),
    ("adam-answer", _ADAM_STATE_NOT_STORED, {"adam-tests"}),
    ("adam-answer", _ADAM_V_OF_G, {"adam-first-step-tests", "adam-tests"}),
    ("stable-lr-answer", _LR_ONE_OVER, {"stable-lr-tests"}),
    ("stable-lr-answer", _LR_SMALLEST, {"stable-lr-tests"}),
    ("stable-lr-answer", _LR_DIAGONAL, {"stable-lr-tests"}),
]

WRONG += [
    # the prediction: the edge put at 1/lambda_max = 1/3, where the zigzag starts, so 0.5 is taken to diverge
    ("diverge-answer", "first_diverging_lr = 0.5\n", {"diverge-tests"}),
    # the prediction: the curvature read off the diagonal (2), so the edge taken at 2/2 = 1
    ("diverge-answer", "first_diverging_lr = 1.1\n", {"diverge-tests"}),
    # the prediction: the fastest learning rate 2/(3 + 1) = 0.5 taken for the edge, so 0.6 is taken to diverge
    ("diverge-answer", "first_diverging_lr = 0.6\n", {"diverge-tests"}),
]
