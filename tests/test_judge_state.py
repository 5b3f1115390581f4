"""Nothing graded is reported by the learner's kernel (issue 19, part 1).

The checks of "read the test set once" (07, 09), of data-parallel workers (06b) and of the device
a model was moved to (06) once read a counter or a record kept by an object living in the
learner's kernel, which code there could set back. They now decide by value: a split hands its
test part over once (a second read raises) and the score must come from that data; the
all-reduce scales each worker's share by factors of the check's choosing, so the weights after
the step show which gradients went in; the device check's model has NaN weights until moved.

Fast tests call the checks in this process with hostile answers (each route a tester used to
reset a counter); slow tests grade hostile notebooks through the judge (the ``mlcourse grade``
route) and the solutions of 06, 06b, 07 and 09, which keep full marks.
"""

from __future__ import annotations

import copy
import shutil

import nbformat
import numpy as np
import pytest
import torch
from nbtools import SOLUTIONS, cell_result, is_test_cell, nbgrader_meta

from mlcourse.grading import GradingError, agent, heldout, notebook
from mlcourse.grading.exercises import nb06, nb06b, nb07, nb09
from mlcourse.grading.remote import Loopback

# As the judge does in a fresh kernel before any learner cell: the course modules are frozen
# (once, here, before any cheat below has run), and make() builds from them.
agent.freeze(["mlcourse.grading.heldout", "mlcourse.data", "mlcourse.nn",
              "mlcourse.grading.exercises.nb06", "mlcourse.grading.exercises.nb06b",
              "mlcourse.grading.exercises.nb09"])


def judged(fn):
    """``fn`` as the judge sees a learner's function: a proxy whose calls, and the objects the
    check builds for it (``make``), go through the kernel's errand-runner in this process."""
    return Loopback({fn.__name__: fn}).lookup(fn.__name__)

# ---- the held-out split itself ------------------------------------------------------------

X10, Y10 = np.arange(10.0).reshape(10, 1), 100.0 + 1.5 * np.arange(10.0)   # targets unlike any index
IDX10 = {"train": np.arange(6), "val": np.array([6, 7]), "test": np.array([8, 9])}


def _reachable_values(split) -> list:
    """Everything plain attribute access reaches from the split and its class, except ``.test``."""
    out = []
    for name in dir(split):
        if name == "test":
            continue
        try:
            out.append(getattr(split, name))
        except Exception:  # noqa: BLE001 - a property that refuses is fine
            continue
    out += [v for k, v in vars(type(split)).items() if k != "test"]
    return out


def _holds(obj, target: np.ndarray, depth: int = 0) -> bool:
    if isinstance(obj, np.ndarray):
        return obj.shape == target.shape and np.array_equal(obj, target)
    if depth < 3 and isinstance(obj, (tuple, list)):
        return any(_holds(o, target, depth + 1) for o in obj)
    if depth < 3 and isinstance(obj, dict):
        return any(_holds(o, target, depth + 1) for o in obj.values())
    return False


def test_the_test_part_is_handed_over_once_and_a_second_read_says_so():
    split = heldout.once(X10, Y10, IDX10)
    assert split.test_reads == 0
    X_test, y_test = split.test
    assert y_test.tolist() == [112.0, 113.5] and X_test.ravel().tolist() == [8.0, 9.0] and split.test_reads == 1
    with pytest.raises(heldout.TestSetReadTwice, match="already read once"):
        _ = split.test
    assert split.train[1].tolist() == Y10[:6].tolist() and split.val[1].tolist() == [109.0, 110.5]


def test_no_attribute_holds_the_test_part_or_a_counter_to_reset():
    split = heldout.once(X10, Y10, IDX10)
    y_test = Y10[IDX10["test"]]
    assert not any(_holds(v, y_test) for v in _reachable_values(split))
    for name in ("_test_reads", "test_reads", "__dict__"):
        with pytest.raises(AttributeError):
            object.__setattr__(split, name, 0)
    with pytest.raises(AttributeError):
        split._test_reads = 0
    assert not hasattr(split, "__dict__")
    twin = copy.deepcopy(split)          # a copy shares the one hand-over
    _ = twin.test
    with pytest.raises(heldout.TestSetReadTwice):
        _ = split.test


def test_a_sealed_split_has_no_test_part_at_all():
    split = heldout.sealed(X10, Y10, IDX10)
    with pytest.raises(heldout.TestSetSealed, match="model selection"):
        _ = split.test
    assert split.test_reads == 0
    assert not any(_holds(v, Y10[IDX10["test"]]) for v in _reachable_values(split))


# ---- 07: final_test_error read once, select_degree never -------------------------------------


def _poly(X, degree):
    return (X[:, 0] / 3.0)[:, None] ** np.arange(degree + 1)


def _refit(split, degree):
    (X_t, y_t), (X_v, y_v) = split.train, split.val
    w, *_ = np.linalg.lstsq(_poly(np.concatenate([X_t, X_v]), degree), np.concatenate([y_t, y_v]), rcond=None)
    return w


def _mse(w, X, y):
    return float(np.mean((_poly(X, len(w) - 1) @ w - y) ** 2))


def honest_final(split, degree):
    w = _refit(split, degree)
    X_test, y_test = split.test
    return _mse(w, X_test, y_test)


def _quietly(action):
    try:
        action()
    except Exception:  # noqa: BLE001 - a cheat that fails to reset carries on regardless
        pass


def _reset_by_attribute(split):
    _quietly(lambda: setattr(split, "_test_reads", 0))
    _quietly(lambda: setattr(split, "test_reads", 1))


def _reset_by_object_setattr(split):
    _quietly(lambda: object.__setattr__(split, "_test_reads", 0))
    _quietly(lambda: vars(split).update(_test_reads=0))


def _reset_through_globals(split):
    """What `getattr(f, "__globals__")` reaches: the module the split's code lives in."""
    module_globals = getattr(type(split).__init__, "__glob" + "als__")

    def leaky(part):
        box = [part]
        return (lambda: box[0]), (lambda: 1)
    module_globals["_envelope"] = leaky


def _twice_then(reset):
    def final_test_error(split, degree):
        w = _refit(split, degree)
        X_test = split.test[0]
        reset(split)
        y_test = split.test[1]
        reset(split)
        return _mse(w, X_test, y_test)
    return final_test_error


@pytest.fixture
def restored_heldout(monkeypatch):
    """Whatever a cheat does to the held-out module or class in this process is undone after."""
    for name, value in list(vars(heldout).items()):
        monkeypatch.setattr(heldout, name, value)
    for name, value in list(vars(heldout.Split).items()):
        if name in ("test", "test_reads", "__init__"):
            monkeypatch.setattr(heldout.Split, name, value)
    return heldout


def test_honest_answers_pass_the_read_once_checks():
    nb07.final_reads(honest_final)
    nb07.final_reads(judged(honest_final))
    nb07.final_reads_random(honest_final, seed=3, degrees=[2, 5], n=60, fractions=(0.6, 0.2, 0.2))


@pytest.mark.parametrize("reset", [_reset_by_attribute, _reset_by_object_setattr, _reset_through_globals],
                         ids=["attribute", "object.__setattr__", "__globals__"])
def test_reading_twice_fails_whatever_is_reset(reset, restored_heldout):
    with pytest.raises(GradingError, match="2 times"):
        nb07.final_reads(judged(_twice_then(reset)))


def test_a_test_property_replaced_on_the_class_reaches_no_data(restored_heldout):
    """The old cheat: a `.test` that does not count, reading the object's own storage."""
    def final_test_error(split, degree):
        type(split).test = property(lambda self: self._parts["test"])
        type(split).test_reads = property(lambda self: 1)
        w = _refit(split, degree)
        return _mse(w, split.test[0], split.test[1])
    with pytest.raises(GradingError):
        nb07.final_reads(judged(final_test_error))


def test_never_reading_cannot_give_a_score_that_depends_on_the_test_set():
    def final_test_error(split, degree):
        w = _refit(split, degree)
        return _mse(w, *split.val)
    with pytest.raises(GradingError, match="never read split.test"):
        nb07.final_reads(judged(final_test_error))


def test_a_selection_that_peeks_is_refused_and_one_that_does_not_passes():
    def honest(split, candidates):
        (X_t, y_t), (X_v, y_v) = split.train, split.val
        errors = []
        for d in candidates:
            w, *_ = np.linalg.lstsq(_poly(X_t, d), y_t, rcond=None)
            errors.append(_mse(w, X_v, y_v))
        return list(candidates)[int(np.argmin(errors))]

    def peeks(split, candidates):
        _quietly(lambda: split.test)            # a look, the error swallowed
        for name in ("_test_reads", "test_reads"):
            _quietly(lambda name=name: object.__setattr__(split, name, 0))
        return honest(split, candidates)

    def peeks_and_uses(split, candidates):
        _ = split.test
        return honest(split, candidates)

    nb07.select_no_peeking(honest)
    nb07.select_no_peeking(judged(peeks))     # it got nothing: the sealed split has no test part to give
    with pytest.raises(GradingError, match="read split.test"):
        nb07.select_no_peeking(judged(peeks_and_uses))


# ---- 09: evaluate_once and choose_prompt -------------------------------------------------------


def honest_evaluate(build_system, split, metric):
    predict = build_system(split.train, split.val)
    X_test, y_test = split.test
    return float(metric(predict(X_test), y_test))


def honest_choose(candidates, score, split, margin):
    val = [score(c, split.val) for c in candidates]
    best = int(np.argmin(val))
    chosen = candidates[best] if val[0] - val[best] > margin else candidates[0]
    return chosen, score(chosen, split.test)


def test_honest_evaluation_and_choice_pass():
    nb09.evaluate_reads(honest_evaluate)
    nb09.evaluate_reads_random(honest_evaluate, seed=5, splits=3)
    nb09.choose(honest_choose)
    nb09.choose_random(honest_choose, seed=7, splits=3)


@pytest.mark.parametrize("reset", [_reset_by_attribute, _reset_by_object_setattr, _reset_through_globals],
                         ids=["attribute", "object.__setattr__", "__globals__"])
def test_09_reads_twice_and_resets_earns_nothing(reset, restored_heldout):
    def evaluate_once(build_system, split, metric):
        predict = build_system(split.train, split.val)
        X_test = split.test[0]
        reset(split)
        return float(metric(predict(X_test), split.test[1]))

    def choose_prompt(candidates, score, split, margin):
        val = [score(c, split.val) for c in candidates]
        test = []
        for c in candidates:
            test.append(score(c, split.test))
            reset(split)
        best = int(np.argmin(val))
        return candidates[best], test[best]

    with pytest.raises(GradingError, match="2 times"):
        nb09.evaluate_reads(judged(evaluate_once))
    with pytest.raises(GradingError, match="2 or more times"):
        nb09.choose(judged(choose_prompt))


def test_09_building_twice_or_on_the_test_set_is_seen_by_value():
    def builds_twice(build_system, split, metric):
        build_system(split.train, split.val)
        return honest_evaluate(build_system, split, metric)

    def tuned_on_test(build_system, split, metric):
        X_test, y_test = split.test
        predict = build_system(split.train, (X_test, y_test))
        return float(metric(predict(X_test), y_test))

    with pytest.raises(GradingError, match="build_system more than once"):
        nb09.evaluate_reads(judged(builds_twice))
    with pytest.raises(GradingError, match="received the test set"):
        nb09.evaluate_reads(judged(tuned_on_test))


# ---- 06: the all-reduce and the device ------------------------------------------------------


def _full_batch(model, X, y):
    from mlcourse.losses import cross_entropy, cross_entropy_grad

    model.zero_grad()
    logits = model(X)
    loss = float(cross_entropy(logits, y))
    model.backward(cross_entropy_grad(logits, y))
    return loss, [p.grad.copy() for p in model.parameters()]


def honest_dp_step(model, X, y, k, lr, average=None):
    from mlcourse.losses import cross_entropy, cross_entropy_grad

    grads, rows, losses = [], [], []
    for chunk in np.array_split(np.arange(len(X)), k):
        model.zero_grad()
        logits = model(X[chunk])
        losses.append(float(cross_entropy(logits, y[chunk])))
        model.backward(cross_entropy_grad(logits, y[chunk]))
        grads.append([p.grad.copy() for p in model.parameters()])
        rows.append(len(chunk))
    for p, g in zip(model.parameters(), average(grads, rows), strict=True):
        p.data -= lr * g
    return sum(n / len(X) * loss for n, loss in zip(rows, losses, strict=True))


def record_written_by_hand(model, X, y, k, lr, average=None):
    """A full-batch step; `average` called with made-up workers (the full gradient, nudged apart)
    and its result thrown away; a record of k workers written onto it."""
    loss, full = _full_batch(model, X, y)
    rows = [len(c) for c in np.array_split(np.arange(len(X)), k)]
    made_up = [[g + 1e-15 * r for g in full] for r in range(k)]
    average(made_up, rows)
    average.calls = [[k, rows, made_up]]
    for p, g in zip(model.parameters(), full, strict=True):
        p.data -= lr * g
    return loss


def copies_of_the_full_gradient(model, X, y, k, lr, average=None):
    loss, full = _full_batch(model, X, y)
    rows = [len(c) for c in np.array_split(np.arange(len(X)), k)]
    for p, g in zip(model.parameters(), average([list(full) for _ in rows], rows), strict=True):
        p.data -= lr * g
    return loss


def test_06b_honest_data_parallel_step_passes_and_faked_workers_do_not():
    nb06b.dp_step(honest_dp_step)
    nb06b.dp_step_random(honest_dp_step, seed=2, count=3)
    with pytest.raises(GradingError, match="did not use what `average` returned"):
        nb06b.dp_step(judged(record_written_by_hand))
    with pytest.raises(GradingError, match="WHOLE batch"):
        nb06b.dp_step(judged(copies_of_the_full_gradient))


def _torch_loop(model, X, y, device, lr, num_epochs, batch_size, *, move):
    import torch.nn.functional as F

    if move:
        model.to(device)
    else:  # the old record, written by hand
        model.moved_to, model.batches_on = [device.type], [device.type]
    X = torch.as_tensor(X, dtype=next(model.parameters()).dtype, device=device)
    y = torch.as_tensor(y, dtype=torch.long, device=device)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(num_epochs):
        for start in range(0, len(X), batch_size):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(X[start:start + batch_size]), y[start:start + batch_size])
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return losses


def test_06_a_model_never_moved_fails_whatever_it_records():
    def honest(model, X, y, *, device, lr, num_epochs, batch_size, seed=0):
        return _torch_loop(model, X, y, device, lr, num_epochs, batch_size, move=True)

    def never_moved(model, X, y, *, device, lr, num_epochs, batch_size, seed=0):
        return _torch_loop(model, X, y, device, lr, num_epochs, batch_size, move=False)

    nb06.torch_device(honest)
    with pytest.raises(GradingError, match="model.to\\(device\\)"):
        nb06.torch_device(judged(never_moved))


def test_06_an_optimizer_made_before_the_move_still_trains_the_parked_model():
    model = nb06.ParkedMLP([2, 4, 2], 0, "cpu")
    params = list(model.parameters())
    assert all(bool(p.isnan().all()) for p in params)
    model.to(torch.device("cpu"))
    assert [p is q for p, q in zip(params, model.parameters(), strict=True)] == [True] * len(params)
    reference = nb06.TorchMLP([2, 4, 2], seed=0)
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), reference.parameters(), strict=True))


# ---- the same through the judge, in a real kernel ----------------------------------------------

NB06 = SOLUTIONS / "06-training-loop" / "06-training-loop.ipynb"
NB06B = SOLUTIONS / "06b-compute-and-scale" / "06b-compute-and-scale.ipynb"
NB07 = SOLUTIONS / "07-generalization" / "07-generalization.ipynb"
NB09 = SOLUTIONS / "09-fine-tuning" / "09-fine-tuning.ipynb"


def _solved(path) -> dict[str, str]:
    return {nbgrader_meta(c)["grade_id"]: c.source for c in nbformat.read(path, 4).cells
            if nbgrader_meta(c).get("solution")}


def _grade(path, answers: dict[str, str], tmp_path, *, beside: dict[str, str] | None = None,
           timeout: int = 120) -> dict:
    """The source notebook with ``answers`` replaced, judged in a fresh kernel in a copy of its
    folder (with ``beside`` files handed in next to it): grade_id -> CellResult."""
    folder = tmp_path / path.parent.name
    shutil.copytree(path.parent, folder)
    for name, text in (beside or {}).items():
        (folder / name).write_text(text)
    nb = notebook.execute(notebook.merge(nbformat.read(path, 4), {**_solved(path), **answers}), folder,
                          timeout=timeout)
    return {nbgrader_meta(c)["grade_id"]: cell_result(c) for c in nb.cells if is_test_cell(c)}


FINAL_HEAD = ("def final_test_error(split, degree):\n"
              "    (X_train, y_train), (X_val, y_val) = split.train, split.val\n"
              "    w = fit_polynomial(np.concatenate([X_train, X_val]), np.concatenate([y_train, y_val]), degree)\n")
TWICE = ("    X_test = split.test[0]\n"
         "    {reset}\n"
         "    y_test = split.test[1]\n"
         "    {reset}\n"
         "    return mse(predict_polynomial(w, X_test), y_test)\n")
RESET_MODULE = ("def reset(split):\n"
                "    for name in ('_test_reads', 'test_reads'):\n"
                "        try:\n"
                "            object.__setattr__(split, name, 1)\n"
                "        except Exception:\n"
                "            pass\n")

FINAL_CHEATS = {
    "reset by attribute": (FINAL_HEAD.replace("def final", "def _set(split):\n    try:\n        split._test_reads = 0\n"
                                              "    except Exception:\n        pass\n\ndef final")
                           + TWICE.format(reset="_set(split)"), None),
    "reset by object.__setattr__": (
        FINAL_HEAD.replace("def final", "def _set(split):\n    try:\n        object.__setattr__(split, "
                                        "'_test_reads', 0)\n    except Exception:\n        pass\n\ndef final")
        + TWICE.format(reset="_set(split)"), None),
    "reset from a module written with pathlib": (
        "import pathlib\npathlib.Path('split_tools.py').write_text(" + repr(RESET_MODULE) + ")\n"
        "import split_tools\n\n" + FINAL_HEAD + TWICE.format(reset="split_tools.reset(split)"), None),
    "reset from a module handed in beside the notebook": (
        "import course_utils\n\n" + FINAL_HEAD + TWICE.format(reset="course_utils.reset(split)"),
        {"course_utils.py": RESET_MODULE}),
    "the split's module globals through getattr": (
        "def _open_up(split):\n"
        "    g = getattr(type(split).__init__, '__glob' + 'als__')\n"
        "    g['_envelope'] = lambda part: ((lambda: part), (lambda: 1))\n\n"
        + FINAL_HEAD + "    _open_up(split)\n" + TWICE.format(reset="pass"), None),
    "Split.test replaced on the class": (
        FINAL_HEAD + "    cls = type(split)\n"
        "    cls.test = property(lambda self: self._parts['test'])\n"
        "    cls.test_reads = property(lambda self: 1)\n" + TWICE.format(reset="pass"), None),
    "mlcourse.data.Split patched in the kernel": (
        "import mlcourse.data as D\n"
        "setattr(D.Split, 'test', property(lambda self: self._parts['test']))\n"
        "setattr(D.Split, 'test_reads', property(lambda self: 1))\n\n" + FINAL_HEAD + TWICE.format(reset="pass"),
        None),
}


@pytest.mark.slow
@pytest.mark.parametrize("cheat", list(FINAL_CHEATS), ids=list(FINAL_CHEATS))
def test_07_reading_the_test_set_twice_earns_no_read_once_point(cheat, tmp_path):
    code, beside = FINAL_CHEATS[cheat]
    results = _grade(NB07, {"final-answer": code}, tmp_path, beside=beside)
    reads = results["final-reads-tests"]
    assert reads.score == 0, f"{cheat} earned the read-once point: {reads.output}"
    if results["final-tests"].passed:     # not refused by the scan: refused by construction
        why = "no attribute '_parts'" if cheat == "Split.test replaced on the class" else "2 times"
        assert why in reads.output, reads.output


CHEATS_09 = {
    "evaluate-answer": ("def evaluate_once(build_system, split, metric):\n"
                        "    predict = build_system(split.train, split.val)\n"
                        "    X_test = split.test[0]\n"
                        "    try:\n        split._test_reads = 0\n    except Exception:\n        pass\n"
                        "    return float(metric(predict(X_test), split.test[1]))\n"),
    "choose-answer": ("import course_utils\n\n"
                      "def choose_prompt(candidates, score, split, margin):\n"
                      "    val_scores = [score(c, split.val) for c in candidates]\n"
                      "    test_scores = []\n"
                      "    for c in candidates:\n"
                      "        test_scores.append(score(c, split.test))\n"
                      "        course_utils.reset(split)\n"
                      "    best = int(np.argmin(val_scores))\n"
                      "    return candidates[best], test_scores[best]\n"),
}


@pytest.mark.slow
def test_09_reads_reset_by_hand_or_from_a_module_earn_nothing(tmp_path):
    results = _grade(NB09, CHEATS_09, tmp_path, beside={"course_utils.py": RESET_MODULE}, timeout=300)
    assert results["evaluate-reads-tests"].score == 0, results["evaluate-reads-tests"].output
    assert results["choose-tests"].score == 0, results["choose-tests"].output


CHEATS_06B = {
    "dp-step-answer": ("def data_parallel_step(model, X, y, k, lr, average=average_gradients):\n"
                       "    model.zero_grad()\n"
                       "    logits = model(X)\n"
                       "    loss = float(cross_entropy(logits, y))\n"
                       "    model.backward(cross_entropy_grad(logits, y))\n"
                       "    full = [p.grad.copy() for p in model.parameters()]\n"
                       "    rows = [len(c) for c in np.array_split(np.arange(len(X)), k)]\n"
                       "    made_up = [[g + 1e-15 * r for g in full] for r in range(k)]\n"
                       "    average(made_up, rows)\n"
                       "    average.calls = [[k, rows, made_up]]\n"
                       "    for p, g in zip(model.parameters(), full):\n"
                       "        p.data -= lr * g\n"
                       "    return loss\n"),
}
CHEATS_06 = {
    "torch-answer": ("def train_torch(model, X, y, *, device, lr, num_epochs, batch_size, seed=0):\n"
                     "    model.moved_to = [torch.device(device).type]\n"
                     "    model.batches_on = [torch.device(device).type]\n"
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
                     "            optimizer.step()\n"
                     "            losses.append(loss.item())\n"
                     "    return losses\n"),
}


@pytest.mark.slow
def test_06b_a_written_record_buys_no_workers(tmp_path):
    results = _grade(NB06B, CHEATS_06B, tmp_path, timeout=300)
    assert results["dp-step-tests"].score == 0, results["dp-step-tests"].output
    assert results["dp-average-tests"].passed and results["dp-weighted-tests"].passed, results


@pytest.mark.slow
def test_06_a_written_record_buys_no_device(tmp_path):
    results = _grade(NB06, CHEATS_06, tmp_path, timeout=300)
    assert results["torch-device-tests"].score == 0, results["torch-device-tests"].output
    assert results["torch-gd-tests"].passed and results["torch-target-tests"].passed, results


@pytest.mark.slow
@pytest.mark.parametrize("path", [NB06, NB06B, NB07, NB09], ids=lambda p: p.parent.name)
def test_the_solutions_keep_full_marks_through_the_judge(path, tmp_path):
    results = _grade(path, {}, tmp_path, timeout=300)
    failed = {gid: r.output[-600:] for gid, r in results.items() if not r.passed}
    assert results and not failed, failed
