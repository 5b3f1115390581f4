"""Copied answers are seen (mlcourse.grading.similarity, the report's "Similar answers").

A copy of the course's reference or of a classmate is found through renaming, reformatting,
reordering and comments; distinct honest answers to the same exercise are not flagged (the
false-positive rate is measured on the course's own answers and on answers written here in
other styles); tiny exercises, where every honest answer is the same line, flag nothing;
and nothing a submission names is ever imported while its text is compared.
"""

from __future__ import annotations

import copy
import sys
import warnings
from pathlib import Path

import nbformat
import pytest

from mlcourse.grading import similarity as S
from mlcourse.grading.rules import is_answer, nbgrader_meta

REPO = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO / "solutions"


def _corpus():
    return S.honest_corpus(REPO)


def in_stub(key: tuple[str, str], body: str) -> str:
    """The released cell of exercise ``key`` with ``body`` in place of its YOUR CODE HERE lines."""
    stub = _corpus()[key].stub
    lines = stub.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip() == "# YOUR CODE HERE")
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    body = "\n".join(indent + line if line else line for line in body.strip("\n").splitlines())
    return "\n".join([*lines[:at], body, *lines[at + 2:]]) + "\n"


# Honest answers written here in other styles than the solution's (loops against vectorised
# code, other library calls, other orders): none is an edit of another, so none may flag.
STYLES = {
    ("03-losses", "mse-answer"): [
        """
a = np.array(y_hat, dtype=np.float64)
b = np.array(y, dtype=np.float64)
if a.shape != b.shape:
    raise ValueError("shape mismatch")
errors = []
for p, t in zip(a.ravel(), b.ravel()):
    errors.append((p - t) * (p - t))
errors = np.array(errors).reshape(a.shape)
if reduction == "none":
    return errors
total = sum(errors.ravel())
if reduction == "sum":
    return float(total)
if reduction == "mean":
    return float(total / errors.size)
raise ValueError("unknown reduction")
""",
        """
if np.shape(y_hat) != np.shape(y):
    raise ValueError("y_hat and y differ in shape")
sq = np.square(np.subtract(np.asarray(y_hat, float), np.asarray(y, float)))
reducers = {"mean": lambda e: float(np.mean(e)), "sum": lambda e: float(np.sum(e)), "none": lambda e: e}
if reduction not in reducers:
    raise ValueError(f"reduction must be one of {sorted(reducers)}")
return reducers[reduction](sq)
""",
        """
if reduction not in ("mean", "sum", "none"):
    raise ValueError(f"bad reduction {reduction}")
y_hat = np.asarray(y_hat, dtype=float)
y = np.asarray(y, dtype=float)
if y_hat.ndim != y.ndim or y_hat.shape != y.shape:
    raise ValueError("y_hat and y must have the same shape")
r = y_hat - y
per_element = r * r
if reduction == "none":
    return per_element
s = per_element.sum()
return float(s if reduction == "sum" else s / per_element.size)
""",
    ],
    ("03-losses", "ce-answer"): [
        """
total = 0.0
for row, label in zip(logits, y):
    m = np.max(row)
    lse = m + np.log(np.sum(np.exp(row - m)))
    total += lse - row[label]
return float(total / len(y))
""",
        """
logits = np.asarray(logits, dtype=np.float64)
shift = logits.max(axis=1)
lse = shift + np.log(np.exp(logits - shift[:, None]).sum(axis=1))
correct = np.take_along_axis(logits, np.asarray(y)[:, None], axis=1)[:, 0]
return float(np.mean(lse - correct))
""",
        """
n, c = logits.shape
onehot = np.zeros((n, c))
onehot[np.arange(n), y] = 1.0
z = logits - np.max(logits, axis=1, keepdims=True)
logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
return float(-(onehot * logp).sum() / n)
""",
    ],
    ("04-gradients", "numgrad-answer"): [
        """
flat = x.reshape(-1)
grad = np.empty(flat.size, dtype=np.float64)
for i in range(flat.size):
    keep = flat[i]
    flat[i] = keep + eps
    up = f(x)
    flat[i] = keep - eps
    down = f(x)
    flat[i] = keep
    grad[i] = (up - down) / (2 * eps)
return grad.reshape(x.shape)
""",
        """
g = np.zeros_like(x, dtype=float)
it = np.nditer(x, flags=["multi_index"])
while not it.finished:
    i = it.multi_index
    xp = x.copy()
    xp[i] += eps
    xm = x.copy()
    xm[i] -= eps
    g[i] = (f(xp) - f(xm)) / (2 * eps)
    it.iternext()
return g
""",
        """
out = np.zeros(x.shape)
for pos in itertools.product(*[range(s) for s in x.shape]):
    saved = float(x[pos])
    x[pos] = saved + eps
    hi = f(x)
    x[pos] = saved - eps
    lo = f(x)
    x[pos] = saved
    out[pos] = (hi - lo) / eps / 2
return out
""",
    ],
    ("05-optimizers", "momentum-answer"): [
        """
for k in range(len(self.params)):
    p = self.params[k]
    if self.buffers[k] is None:
        self.buffers[k] = p.grad.copy()
    else:
        self.buffers[k] *= self.momentum
        self.buffers[k] += (1.0 - self.dampening) * p.grad
    p.data = p.data - self.lr * self.buffers[k]
""",
        """
new = []
for p, buf in zip(self.params, self.buffers):
    d = np.asarray(p.grad, dtype=np.float64)
    buf = d.copy() if buf is None else self.momentum * buf + (1 - self.dampening) * d
    p.data[...] = p.data - self.lr * buf
    new.append(buf)
self.buffers = new
""",
    ],
    ("05-optimizers", "adam-answer"): [
        """
self.t = self.t + 1
b1, b2 = self.betas
for p, m, v in zip(self.params, self.m, self.v):
    g = p.grad
    m *= b1
    m += (1 - b1) * g
    v *= b2
    v += (1 - b2) * np.square(g)
    step = self.lr / (1 - b1 ** self.t)
    p.data -= step * m / (np.sqrt(v / (1 - b2 ** self.t)) + self.eps)
""",
        """
self.t += 1
for i in range(len(self.params)):
    grad = self.params[i].grad
    self.m[i] = self.betas[0] * self.m[i] + (1.0 - self.betas[0]) * grad
    self.v[i] = self.betas[1] * self.v[i] + (1.0 - self.betas[1]) * grad ** 2
    corrected_m = self.m[i] / (1.0 - self.betas[0] ** self.t)
    corrected_v = self.v[i] / (1.0 - self.betas[1] ** self.t)
    update = corrected_m / (np.sqrt(corrected_v) + self.eps)
    self.params[i].data = self.params[i].data - self.lr * update
""",
        """
beta1, beta2 = self.betas
self.t += 1
scale = np.sqrt(1 - beta2 ** self.t) / (1 - beta1 ** self.t)
for i, param in enumerate(self.params):
    self.m[i] = self.m[i] + (1 - beta1) * (param.grad - self.m[i])
    self.v[i] = beta2 * self.v[i] + (1 - beta2) * np.square(param.grad)
    denominator = np.sqrt(self.v[i]) + self.eps * np.sqrt(1 - beta2 ** self.t)
    param.data = param.data - self.lr * scale * self.m[i] / denominator
""",
    ],
    ("07-generalization", "early-stopping-answer"): [
        """
best = float("inf")
best_epoch = 0
waited = 0
for i in range(len(val_losses)):
    if i == 0 or val_losses[i] < best - min_delta:
        best = val_losses[i]
        best_epoch = i
        waited = 0
        continue
    waited += 1
    if waited == patience:
        return best_epoch, i
return best_epoch, len(val_losses) - 1
""",
        """
losses = list(val_losses)
best_epoch, since = 0, 0
epoch = 1
while epoch < len(losses):
    if losses[epoch] < losses[best_epoch] - min_delta:
        best_epoch, since = epoch, 0
    else:
        since += 1
    if since >= patience:
        break
    epoch += 1
return best_epoch, min(epoch, len(losses) - 1)
""",
    ],
    ("07-generalization", "logistic-answer"): [
        """
n, m = A.shape
w = np.zeros(m)
b = 0.0
history = []
prev = None
epoch = 0
while epoch < max_epochs:
    probs = 1 / (1 + np.exp(-(A.dot(w) + b)))
    err = probs - y
    w -= lr * (A.T.dot(err) / n + weight_decay * w)
    b -= lr * err.mean()
    z = A.dot(w) + b
    cur = np.mean(np.log1p(np.exp(z)) - y * z) + weight_decay / 2 * np.sum(w ** 2)
    history.append(cur)
    if prev is not None and prev - cur < tol * prev:
        break
    prev = cur
    epoch += 1
return w, b, np.array(history)
""",
    ],
    ("08-language-modelling", "sample-answer"): [
        """
gen = np.random.default_rng(seed)
seq = list(map(int, prompt))
out = []
while len(out) < n_tokens:
    scaled = np.array(next_logits(np.asarray(seq)), dtype=float) / temperature
    scaled -= scaled.max()
    probs = np.exp(scaled) / np.exp(scaled).sum()
    tok = int(gen.choice(probs.size, p=probs))
    seq.append(tok)
    out.append(tok)
return np.asarray(out, dtype=np.int64)
""",
        """
rng = np.random.default_rng(seed)
history = np.asarray(prompt, dtype=np.int64)
for step in range(n_tokens):
    z = next_logits(history) / temperature
    w = np.exp(z - np.max(z))
    cdf = np.cumsum(w / w.sum())
    nxt = int(np.searchsorted(cdf, rng.random()))
    history = np.append(history, min(nxt, len(w) - 1))
return history[len(prompt):]
""",
    ],
    ("06-training-loop", "numpy-answer"): [
        """
opt = SGD(model.parameters(), lr=lr)
gen = np.random.default_rng(seed)
history = []
epoch = 0
while epoch < num_epochs:
    for xb, yb in iterate_minibatches(X, y, batch_size, seed=gen):
        out = model(xb)
        history.append(float(cross_entropy(out, yb)))
        for p in model.parameters():
            p.grad = np.zeros_like(p.data)
        model.backward(cross_entropy_grad(out, yb))
        opt.step()
    epoch += 1
return history
""",
    ],
    ("01-data", "split-answer"): [
        """
idx = np.arange(n)
np.random.default_rng(seed).shuffle(idx)
sizes = [int(round(f * n)) for f in fractions[:2]]
a, b = sizes[0], sizes[0] + sizes[1]
return idx[:a], idx[a:b], idx[b:]
""",
        """
perm = np.random.default_rng(seed).permutation(n)
bounds = np.round(np.cumsum(fractions)[:-1] * n).astype(int)
train, val, test = np.split(perm, bounds)
return train, val, test
""",
    ],
}


def extra_answers() -> dict[tuple[str, str], list[tuple[str, str]]]:
    return {key: [(f"style[{i}]", in_stub(key, body)) for i, body in enumerate(bodies)]
            for key, bodies in STYLES.items()}


# ---- a copy is seen -------------------------------------------------------------------------------

# mlcourse.models.generate, the reference of 08's sample exercise, copied: names changed,
# lines reformatted and reordered where nothing depends on the order, comments and a
# docstring of the copier's own added, the error messages reworded.
DISGUISED_GENERATE = '''
import torch as T

def my_sampler(net, start_tokens, how_many, *, temp=1.0, rng_seed=0):
    """I wrote this myself."""
    # check the temperature first
    if not temp > 0:
        raise ValueError("temperature must be positive")
    seq = [int(tok) for tok in start_tokens]
    ctx = getattr(net, 'context', 1)   # how far back the model looks
    if len(seq) < (ctx if isinstance(net, ContextMLPLM) else 1):
        raise ValueError("prompt too short")
    g = T.Generator(device="cpu").manual_seed(rng_seed)
    dev = next(net.parameters()).device
    with eval_mode(net):
        for _ in range(how_many):
            # the latest tokens only
            win = T.tensor([seq[-ctx:]],
                           device=dev)
            out = net(win)
            final = out[0, -1] if out.ndim == 3 else out[0]
            p = T.softmax(final.double().cpu() / temp,
                          dim=-1)
            seq.append(int(T.multinomial(p, 1, generator=g)))
    return seq
'''


def test_a_disguised_copy_of_the_reference_is_seen_with_its_matching_lines():
    reference = S.reference_fingerprint("mlcourse.models.generate")
    assert reference is not None and reference.comparable
    copied = S.fingerprint(DISGUISED_GENERATE)
    result = S.compare(copied, reference)
    assert result.flagged and result.similarity >= 0.95, result.similarity
    mine = "\n".join(a for a, _ in result.pairs)
    theirs = "\n".join(b for _, b in result.pairs)
    assert "T.multinomial(p, 1, generator=g)" in mine
    assert "torch.multinomial(probs, 1, generator=generator)" in theirs
    assert "win = T.tensor" in mine and "window = torch.tensor" in theirs
    # Each side's lines are its own text, shown as written.
    assert all(a.strip() and b.strip() for a, b in result.pairs)


def test_renaming_reformatting_reordering_and_comments_change_nothing():
    original = '''
def fit(A, y, lr=0.1, steps=100):
    n, m = A.shape
    w = np.zeros(m)
    b = 0.0
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(A @ w + b)))
        w = w - lr * A.T @ (p - y) / n
        b = b - lr * np.mean(p - y)
    return w, b
'''
    disguised = '''
from numpy import exp as e
import numpy

def fit(features, targets, lr: float = 0.1, steps: int = 100):
    """Gradient descent on the logistic loss."""
    rows, cols = features.shape   # sizes
    bias = 0.0
    weights = numpy.zeros(cols)
    for _ in range(steps):
        prob = 1.0 / (1.0 +
                      e(-(features @ weights + bias)))
        # the two updates
        weights -= lr * features.T @ (prob - targets) / rows
        bias -= lr * numpy.mean(prob - targets)
    return (weights, bias)
'''
    a, b = S.fingerprint(original, {"np": "numpy"}), S.fingerprint(disguised)
    assert S.compare(a, b).similarity == 1.0


def test_two_learners_with_the_same_answer_are_paired_and_honest_classmates_are_not():
    source = nbformat.read(SOLUTIONS / "05-optimizers" / "05-optimizers.ipynb", as_version=4)
    key = ("05-optimizers", "adam-answer")
    first = in_stub(key, STYLES[key][0])
    renamed = first.replace("b1", "decay_one").replace("b2", "decay_two").replace("step =", "size =") \
        .replace("step *", "size *").replace("g = p.grad", "g = p.grad  # the gradient")
    assert renamed != first
    learners = {"ann": _with_answer(source, "adam-answer", first),
                "bob": _with_answer(source, "adam-answer", renamed),
                "cat": _with_answer(source, "adam-answer", in_stub(key, STYLES[key][1]))}
    result = S.compare_class(source, learners)
    pairs = {(m.learner, m.exercise, m.source) for m in result.matches}
    assert pairs == {("ann", "adam-answer", "learner bob"), ("bob", "adam-answer", "learner ann")}, pairs
    match = next(m for m in result.matches if m.learner == "bob")
    assert match.similarity == 1.0
    assert any("decay_one" in a and "b1" in b for a, b in match.pairs), match.pairs


def test_a_learner_who_hands_in_the_solution_is_paired_with_it():
    source = nbformat.read(SOLUTIONS / "05-optimizers" / "05-optimizers.ipynb", as_version=4)
    solution = next(c.source for c in source.cells if nbgrader_meta(c).get("grade_id") == "adam-answer")
    result = S.compare_class(source, {"dan": _with_answer(source, "adam-answer", solution)})
    assert [(m.learner, m.source) for m in result.matches] == [("dan", "the course's solution")]


def _with_answer(source_nb, grade_id: str, text: str):
    """A learner's notebook: the released one with ``text`` in answer cell ``grade_id``."""
    from mlcourse.grading.rules import stub_answer

    nb = copy.deepcopy(source_nb)
    for cell in nb.cells:
        if is_answer(cell):
            gid = nbgrader_meta(cell).get("grade_id")
            cell.source = text if gid == grade_id else stub_answer(cell.source)
    return nb


# ---- honest answers are not ---------------------------------------------------------------------


def test_distinct_honest_answers_do_not_flag():
    """The false-positive rate on the course's answers and the styles above is 0, with room
    to spare; the measure still sees the wrong answers that are edits of the solution."""
    m = S.measure(extra_answers(), REPO)
    print(f"\nindependent honest pairs compared: {m.pairs} (solution vs reference: {m.references}); "
          f"flagged {len(m.flagged)}; too small {m.too_small}; edits {m.derived} "
          f"(comparable {m.derived_big}, flagged {m.derived_flagged})")
    for score, where, a, b in m.scores[:8]:
        print(f"  {score:.2f} {where}: {a} vs {b}")
    assert m.pairs >= 60, m.pairs
    assert m.flagged == [], m.flagged
    assert m.false_positive_rate == 0.0
    assert m.scores[0][0] < S.THRESHOLD
    assert m.scores[0][0] <= S.THRESHOLD - 0.1, "too little room between honest answers and a flag"
    # Copies by construction (the solution with one mistake put in, often in a 4-line answer,
    # so that a fifth of it differs) are seen often, though not always.
    assert m.derived_flagged >= m.derived_big / 3


def test_tiny_exercises_flag_nothing_even_when_identical():
    one_liner = "def mse(y_hat, y):\n    return np.mean((y_hat - y) ** 2)\n"
    a, b = S.fingerprint(one_liner), S.fingerprint(one_liner.replace("y_hat", "pred"))
    result = S.compare(a, b)
    assert result.similarity == 1.0 and result.too_small and not result.flagged
    source = nbformat.read(SOLUTIONS / "03-losses" / "03-losses.ipynb", as_version=4)
    learners = {name: _with_answer(source, "ce-answer", "def cross_entropy(logits, y):\n"
                                   "    z = logits - logits.max(axis=1, keepdims=True)\n"
                                   "    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(y)), y]))\n")
                for name in ("eve", "fay")}
    result = S.compare_class(source, learners)
    assert result.matches == [] and result.too_small == {"ce-answer": 2}


def test_huge_and_broken_cells_are_skipped_with_a_reason():
    huge = S.fingerprint("x = 1\n" * 30_000)
    assert huge.skipped.startswith("not compared") and "characters" in huge.skipped
    broken = S.fingerprint("def f(:\n    return")
    assert "does not parse" in broken.skipped
    assert S.compare(huge, broken).flagged is False
    deep = S.fingerprint("x = " + "(" * 5000 + "1" + ")" * 5000)
    assert deep.skipped


# ---- nothing a submission names is imported -----------------------------------------------------


def test_a_planted_module_is_never_imported(tmp_path, monkeypatch):
    marker = tmp_path / "imported.txt"
    planted = f"open({str(marker)!r}, 'w').write('imported')\ndef mse(*a):\n    return 0\n"
    for where in (tmp_path, tmp_path / "cwd"):
        where.mkdir(exist_ok=True)
        (where / "planted_xyz.py").write_text(planted)
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.syspath_prepend(str(tmp_path))
    source = nbformat.read(SOLUTIONS / "05-optimizers" / "05-optimizers.ipynb", as_version=4)
    key = ("05-optimizers", "adam-answer")
    answer = "import planted_xyz\nfrom planted_xyz import mse as helper\n%run planted_xyz.py\n" \
             + in_stub(key, STYLES[key][0]).replace("np.sqrt", "planted_xyz.sqrt")
    learners = {"gus": _with_answer(source, "adam-answer", answer),
                "hal": _with_answer(source, "adam-answer", answer)}
    learners["gus"].cells.insert(1, nbformat.v4.new_code_cell("import planted_xyz as pz\npz.run()\n"))
    result = S.compare_class(source, learners)
    assert {m.learner for m in result.matches} == {"gus", "hal"}
    assert not marker.exists(), "a module named by a submission was imported"
    assert "planted_xyz" not in sys.modules


# ---- the class report ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_class(tmp_path_factory):
    """A course with 05-optimizers and five learners in its gradebook, whose autograded
    notebooks are written here by hand (no grading): ann and bob hand in one answer (bob's
    renamed, with a line of HTML in a comment), cat an honest answer of her own, dan the
    course's solution, and eve an answer of her own in a notebook that imports a planted
    module (beside her notebook and in the working directory while the report is built)."""
    from grader import release
    from grader.course import build_course

    where = tmp_path_factory.mktemp("similar")
    assignment = "05-optimizers"
    course = build_course(where, [SOLUTIONS / assignment])
    release.generate(course, assignment)
    source = nbformat.read(course.source_notebook(assignment), as_version=4)
    key = (assignment, "adam-answer")
    ann = in_stub(key, STYLES[key][0])
    bob = ann.replace("b1", "decay_one").replace("b2", "decay_two") \
        .replace("    g = p.grad", "    g = p.grad  # </pre><script>alert('bob')</script>")
    solution = next(c.source for c in source.cells if nbgrader_meta(c).get("grade_id") == "adam-answer")
    eve = "import planted_xyz\nplanted_xyz.sqrt(4)\n" + in_stub(key, STYLES[key][1])
    answers = {"ann": ann, "bob": bob, "cat": in_stub(key, STYLES[key][2]), "dan": solution, "eve": eve}
    marker = where / "imported.txt"
    planted = f"open({str(marker)!r}, 'w').write('imported')\n"
    with course.gradebook() as gb, warnings.catch_warnings():
        # nbgrader's add_submission trips SQLAlchemy's autoflush warning; the rows are written.
        warnings.simplefilter("ignore")
        for student in answers:
            gb.update_or_create_student(student)
            gb.add_submission(assignment, student)
    for student, text in answers.items():
        folder = course.root / "autograded" / student / assignment
        folder.mkdir(parents=True)
        nb = _with_answer(source, "adam-answer", text)
        nbformat.write(nb, folder / f"{assignment}.ipynb")
        (folder / "planted_xyz.py").write_text(planted)
    return {"course": course, "marker": marker, "where": where}


def test_the_report_lists_the_similar_answers_side_by_side(small_class, tmp_path, monkeypatch):
    from grader import report

    course = small_class["course"]
    monkeypatch.chdir(course.root / "autograded" / "eve" / "05-optimizers")   # planted_xyz.py is here
    monkeypatch.syspath_prepend(str(course.root / "autograded" / "eve" / "05-optimizers"))
    html_path, _ = report.write(course, tmp_path)
    data = report.collect(course)
    found = data.similar["05-optimizers"]
    pairs = {(m.learner, m.exercise, m.source) for m in found.matches}
    assert pairs == {("ann", "adam-answer", "learner bob"), ("bob", "adam-answer", "learner ann"),
                     ("dan", "adam-answer", "the course's solution")}, pairs
    assert not small_class["marker"].exists() and "planted_xyz" not in sys.modules
    # Scores are the gradebook's: the listing changes none.
    assert {s.student: s.score for s in data.submissions} == dict.fromkeys("ann bob cat dan eve".split(), 0.0)
    page = html_path.read_text(encoding="utf-8")
    section = page.split("<h2 id='similar'>")[1]
    assert section.startswith("Similar answers (3)")
    assert "learner bob" in section and "the course&#x27;s solution" in section
    assert "decay_one" in section and "b1" in section          # both sides of the pair
    assert "<script" not in page and "&lt;script&gt;alert(" in section
    assert "cat" not in section.split("<table>")[1].split("</table>")[0].replace("class=", "")
    assert f"{S.THRESHOLD:.0%}" in section and f"fewer than {S.MIN_STATEMENTS} statements" in section
