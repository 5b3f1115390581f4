"""A submission cannot buy points it did not earn: the judge, the scan and the wire.

Fast tests read code (``integrity.scan``) and decode replies (``wire``). Slow tests
grade hostile submissions of 03-losses for real: the released notebook with every
exercise unsolved, plus one cheat, judged as ``mlcourse grade`` and the
instructor's autograde judge it. Each must score 0 on every graded cell.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import nbformat
import numpy as np
import pytest
from nbtools import (
    SOLUTIONS,
    answer_cell_ids,
    cell_result,
    is_test_cell,
    nbgrader_meta,
    source_notebooks,
)
from test_wrong_answers import WRONG

from mlcourse.grading import integrity, notebook, wire
from mlcourse.grading.judge import JudgeMixin, is_learner_cell

COURSE = source_notebooks(SOLUTIONS)
NB03 = SOLUTIONS / "03-losses" / "03-losses.ipynb"
STUB = "def {name}(*args, **kwargs):\n    raise NotImplementedError()\n"
UNSOLVED_03 = "".join(STUB.format(name=n) for n in ("mse",))


def _scan(code: str, trusted: tuple[str, ...] = ("import numpy as np\nimport torch\n"
                                                 "from mlcourse.grading.exercises import nb03",),
          references: tuple[str, ...] = ("mlcourse.losses.mse",)) -> integrity.Findings:
    return integrity.scan({"cell 4 (mse-answer)": code}, list(trusted), list(references))


# ---- the scan: no honest answer is flagged ----------------------------------------------


@pytest.mark.parametrize("path", COURSE, ids=[p.parent.name for p in COURSE])
def test_no_solution_and_no_plausible_wrong_answer_is_flagged(path):
    nb = nbformat.read(path, as_version=4)
    trusted = [c.source for c in nb.cells if c.cell_type == "code" and not is_learner_cell(c)]
    learner = {nbgrader_meta(c)["grade_id"]: c.source for c in nb.cells if is_learner_cell(c)}
    learner.update({f"wrong {i}: {gid}": code for i, (gid, code, _) in enumerate(WRONG[path.parent.name])})
    refs = [r for c in nb.cells if is_test_cell(c) for r in JudgeMixin._judge_references(c.source)]
    found = integrity.scan(learner, trusted, refs)
    assert not found.tampering and not found.references, (found.tampering, found.references)


def test_every_answer_cell_is_a_learner_cell_and_no_locked_cell_is():
    for path in COURSE:
        nb = nbformat.read(path, as_version=4)
        learner = {nbgrader_meta(c).get("grade_id") for c in nb.cells if is_learner_cell(c)}
        assert learner == set(answer_cell_ids(nb)), f"{path.parent.name}: {learner}"


# ---- the scan: what it must find ----------------------------------------------------------

# Each cheat names the rule (integrity.RULES, CHEATS.md) that must refuse it.
TAMPERING = {
    "setattr loop over the grading module": ("grading-internals", "import mlcourse.grading.checks as C\n"
                                             "for k in dir(C):\n    setattr(C, k, print)"),
    "replacing a check": ("course-objects", "nb03.mse = lambda *a, **k: None"),
    "replacing a check through an alias": ("course-objects", "m = nb03\nm.mse = print"),
    "replacing a reference": ("course-objects", "import mlcourse.losses as L\nL.mse = lambda a, b: 0.0"),
    "setattr on a course class": ("course-objects", "from mlcourse.data import Split\n"
                                                   "setattr(Split, 'test_reads', 0)"),
    "builtins": ("course-objects", "import builtins\nbuiltins.abs = lambda x: 0"),
    "__builtins__": ("builtins", "__builtins__['abs'] = lambda x: 0"),
    "gc": ("gc", "import gc\ngc.get_referents(np.ndarray.__dict__)[0]['all'] = print"),
    "gc in a %%time body": ("gc", "%%time\nimport gc\nx = gc.get_objects()"),
    "gc by a computed name": ("gc", "import gc\nwalk = getattr(gc, 'get_' + 'objects')"),
    "gc imported by a call": ("gc", "found = __import__('gc').get_referrers(np)"),
    "gc handed to a function": ("gc", "import gc\ndef walk(m):\n    return m.get_objects()\nwalk(gc)"),
    "sys.modules through os": ("module-table", "import os\nos.sys.modules['mlcourse.losses']"),
    "sys.modules through vars": ("module-table", "import sys\nvars(sys)['mod' + 'ules']"),
    "sys.modules by a computed name": ("module-table", "import sys\ngetattr(sys, 'mod' + 'ules')"),
    "gc in exec of a literal": ("gc", "exec('import gc\\nobjs = gc.get_objects()')"),
    "gc in a module written to disk": ("gc", "import pathlib\npathlib.Path('course_utils.py').write_text("
                                              "'import gc\\nfor o in gc.get_objects():\\n    pass\\n')\n"
                                              "import course_utils"),
    "ctypes": ("ctypes", "import ctypes\nctypes.pythonapi.PyObject_GenericSetAttr"),
    "exception handler": ("ipython-hooks", "get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)"),
    "showtraceback": ("ipython-hooks", "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None"),
    "ast transformer": ("ipython-hooks", "get_ipython().ast_transformers.append(object())"),
    "the kernel's session": ("ipython-hooks", "k = get_ipython().kernel\nk.session.send = print"),
    "pre_run_cell event": ("ipython-hooks", "from IPython import get_ipython\n"
                                            "get_ipython().events.register('pre_run_cell', print)"),
    "sys.excepthook": ("ipython-hooks", "import sys\nsys.excepthook = print"),
    "sys.modules": ("module-table", "import sys as s\ns.modules['mlcourse.losses'].mse"),
    "tracing": ("tracing", "import sys\nsys.settrace(lambda *a: None)"),
    "reload of a course module": ("reload", "import importlib\nimport mlcourse.losses\n"
                                            "importlib.reload(mlcourse.losses)"),
    "a fresh copy of a course module": ("code-loading", "import importlib.util\n"
                                                        "spec = importlib.util.spec_from_file_location('l', 'losses.py')"),
    "runpy": ("code-loading", "import runpy\nruns = runpy.run_path('x.py')"),
    "exec": ("hidden-code", "exec('n' + 'p.allclose = print')"),
    "computed import": ("hidden-code", "m = __import__('g' + 'c')"),
    "computed import_module": ("hidden-code", "import importlib\nm = importlib.import_module('g' + 'c')"),
    "exec as a value": ("hidden-code", "run = exec\nrun('x = 1')"),
    "__import__ through builtins": ("hidden-code", "import builtins\n"
                                                    "m = getattr(builtins, '__imp' + 'ort__')('x')"),
    "builtins' __import__ by name": ("hidden-code", "import builtins\nm = builtins.__import__"),
    "dunder walk": ("subclasses", "().__class__.__base__.__subclasses__()"),
    "frame walk": ("frames", "import sys\nsys._getframe(0).f_back.f_globals"),
    "inspect frames": ("frames", "import inspect\nf = inspect.currentframe().f_back"),
    "closure walk": ("frames", "def f(m):\n    return m.mse.__closure__[0].cell_contents"),
    "__globals__ by getattr": ("frames", "def f(fn):\n    return getattr(fn, '__globals__')['agent']"),
    "__globals__ in a string": ("frames", "key = '__globals__'"),
    "getclosurevars": ("frames", "import inspect\nv = inspect.getclosurevars(print)"),
    "the agent": ("grading-internals", "from mlcourse.grading import agent"),
    "the shortcut guards": ("grading-internals", "import mlcourse.grading.shortcuts as s\ns.uninstall()"),
    "the guards through the package": ("grading-internals", "import mlcourse.grading as G\nG.shortcuts.uninstall()"),
    "the judge's split": ("grading-internals", "from mlcourse.grading import heldout"),
    "make builds anything by name": ("grading-internals", "from mlcourse import grading\n"
                                                          "grading.make(None, 'mlcourse.data.Split')"),
    "the package by a computed name": ("grading-internals", "import mlcourse.grading as G\n"
                                                           "getattr(G, 'short' + 'cuts').uninstall()"),
    "the package's table": ("grading-internals", "import mlcourse\nmlcourse.__dict__['grad' + 'ing']"),
    "an internal module named in a string": ("grading-internals", "name = 'mlcourse.grading.shortcuts'"),
    "the checks' own helpers": ("grading-internals", "from mlcourse.grading.exercises import nb07\n"
                                                     "def final_test_error(split, degree):\n"
                                                     "    return nb07._fit(split, degree)"),
    "torch internals": ("torch-internals", "import torch\nf = torch._C._nn.mse_loss"),
    "torch internals through a parameter": ("torch-internals", "def f(t):\n    return t._C._nn.mse_loss"),
    "autograd's engine": ("torch-internals", "from torch.autograd import Variable\n"
                                             "e = Variable._execution_engine"),
    "a cell too large to read": ("unreadable", "x = 1\n" * 60_000),
}
# Once refused, now harmless: the judge decides on the values the learner's functions return,
# in its own process, so patching a library in the kernel changes no verdict (the hostile
# tests below show it), and honest notebooks do these things.
NOW_HARMLESS = {
    "patched comparison": "np.allclose = lambda *a, **k: True",
    "patched torch method": "torch.Tensor.__eq__ = lambda a, b: True",
    "deleting a library attribute": "del np.isclose",
    "module dict": "np.__dict__['allclose'] = print",
    "computed getattr": "f = getattr(np, 'all' + 'close')",
    "unicode setattr on numpy": "ｓｅｔａｔｔｒ(np, 'allclose', print)",
    "environment": "import os\nos.environ['IPYKERNEL_CELL_NAME'] = 'x'",
    "run magic": "%run -i other.py",
    "shell escape": "x = !python -c 'print(1)'",
    "reading files": "source = open('/tmp/notes.txt').read()",
    "pickle": "import pickle\npickle.loads(pickle.dumps(1))",
    "threads": "import threading",
    "attrgetter": "import operator\nf = operator.attrgetter('m' + 'se')",
    "getattr as a value": "import functools\nf = functools.reduce(getattr, ['linalg', 'norm'], np)",
    "eval": "f = eval('lambda: 0')",
    "calling a check from a scratch cell": "print('again:')\nnb03.mse(mse)",
    "gc.collect": "import gc\ngc.collect()",
    "asking sys.modules": "import sys\nprint('torch' in sys.modules)",
}


@pytest.mark.parametrize("rule, code", TAMPERING.values(), ids=TAMPERING.keys())
def test_tampering_is_found(rule, code):
    found = _scan(code)
    assert found.tampering, f"not flagged: {code[:200]!r}"
    assert rule in found.rules, (rule, found.tampering)
    assert "Grading refused" in found.refusal() and "line" in found.refusal() or rule == "unreadable"


@pytest.mark.parametrize("code", NOW_HARMLESS.values(), ids=NOW_HARMLESS.keys())
def test_what_cannot_change_a_verdict_is_not_refused(code):
    found = _scan(code)
    assert not found.tampering and not found.references, found


def test_every_rule_is_tested_and_tells_its_attack():
    tested = {rule for rule, _ in TAMPERING.values()}
    assert tested == set(integrity.RULES), set(integrity.RULES) ^ tested
    assert all(r.attack and r.what for r in integrity.RULES.values())


REFERENCE_USE = {
    "from-import": "from mlcourse.losses import mse",
    "aliased module": "import mlcourse.losses as L\nmse = L.mse",
    "package attribute": "import mlcourse\ndef mse(a, b):\n    return mlcourse.losses.mse(a, b)",
    "from package": "from mlcourse import losses\nmse = losses.mse",
    "getattr with a literal": "import mlcourse.losses\nmse = getattr(mlcourse.losses, 'mse')",
}


@pytest.mark.parametrize("code", REFERENCE_USE.values(), ids=REFERENCE_USE.keys())
def test_reference_use_is_found(code):
    found = _scan(code)
    assert found.references.get("mlcourse.losses.mse") == ["cell 4 (mse-answer)"], (code, found)


HONEST = [
    "%matplotlib inline\nx = np.linspace(0, 1, 5)",
    "%time y = np.sum(np.ones(3))",
    "np.mean?",
    "def mse(y_hat, y):\n    return float(np.mean((y_hat - y) ** 2))",
    "class Model:\n    def __init__(self):\n        self.w = np.zeros(3)\n    def step(self, g):\n"
    "        self.w -= 0.1 * g",
    "import torch.nn as nn\nlayer = nn.Linear(2, 3)\nfor p in layer.parameters():\n"
    "    p.requires_grad = False\nmods = list(layer.modules())",
    "rng = np.random.default_rng(0)\nW = rng.normal(size=(2, 2))\nW[0, 0] = 1.0",
    # Processes are the sandbox's business (grader/sandbox.py): a kernel that exits or is
    # killed costs the checks after it, never the ones before.
    "import os\nos._exit(0)",
    "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
    "import subprocess\nsubprocess.run(['true'])",
]


@pytest.mark.parametrize("code", HONEST)
def test_honest_code_is_not_flagged(code):
    found = _scan(code)
    assert not found.tampering and not found.references, found


# ---- the wire ------------------------------------------------------------------------------


class AlwaysEqual:
    def __eq__(self, other):
        return True


class EqualFloat(float):
    def __eq__(self, other):
        return True


class EqualArray(np.ndarray):
    pass


def _round_trip(value):
    kept = []
    data = json.loads(json.dumps(wire.encode(value, lambda obj: kept.append(obj) or {"handle": 1,
                                                                                    "type": "x"})))
    return wire.decode(data, lambda h, t: ("handle", h, t)), kept


def test_plain_values_cross_and_come_back_equal():
    value = {"a": [1, 2.5, None, True, "s"], "b": (np.arange(6, dtype=np.int64).reshape(2, 3),),
             "c": np.float64(0.25), "d": float("nan")}
    back, kept = _round_trip(value)
    assert not kept
    assert back["a"] == [1, 2.5, None, True, "s"] and type(back["b"]) is tuple
    assert type(back["b"][0]) is np.ndarray and back["b"][0].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert back["c"] == 0.25 and np.isnan(back["d"])


@pytest.mark.parametrize("cheat", [AlwaysEqual(), EqualFloat(1.0), np.zeros(3).view(EqualArray)],
                         ids=["always-equal", "float subclass", "ndarray subclass"])
def test_objects_that_claim_equality_cross_only_as_handles(cheat):
    back, kept = _round_trip(cheat)
    assert back[0] == "handle" and kept == [cheat]


def test_torch_tensors_cross_as_arrays():
    import torch

    back, _ = _round_trip(torch.tensor([[1.0, 2.0]], requires_grad=True) * 2)
    assert type(back) is np.ndarray and back.tolist() == [[2.0, 4.0]]


BAD_REPLIES = [
    {"array": {"dtype": "object", "shape": [1], "data": ""}},
    {"array": {"dtype": "float64", "shape": [3], "data": base64.b64encode(b"\0" * 8).decode()}},
    {"array": {"dtype": "float64", "shape": [-1], "data": ""}},
    {"scalar": {"dtype": "float64", "shape": [2], "data": base64.b64encode(b"\0" * 16).decode()}},
    {"pickle": "gASV"},
    {"dict": [[[1, 2], 3]]},
    {"float": "1e400000000000000000000000000000000000000000"},
    {"handle": "1", "type": "x"},
    ["a list must be tagged"],
]


@pytest.mark.parametrize("data", BAD_REPLIES)
def test_malformed_replies_are_refused(data):
    with pytest.raises(wire.WireError):
        wire.decode(data, lambda h, t: None)


def test_deep_nesting_is_refused():
    data = 0
    for _ in range(100):
        data = {"list": [data]}
    with pytest.raises(wire.WireError):
        wire.decode(data, lambda h, t: None)


# ---- hostile submissions, judged in a real kernel -------------------------------------------

CHEATS = {
    "patched checks": "import mlcourse.grading as G, mlcourse.grading.checks as C\n"
                      "for m in (G, C):\n    for k in dir(m):\n"
                      "        if not k.startswith('_'):\n            setattr(m, k, lambda *a, **kw: None)\n",
    "patched check module through an alias": "m = nb03\nfor k in ('mse', 'mse_random', 'cross_entropy',"
                                             " 'cross_entropy_random', 'cross_entropy_stable', 'next_token',"
                                             " 'next_token_random'):\n    m.__dict__[k] = print\n",
    "swallowing exception handler": "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\n",
    "silent showtraceback": "ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
                            "ip._showtraceback = lambda *a, **k: None\n",
    "patched builtins and ndarray": "import builtins, gc\nbuiltins.abs = lambda x: 0 * x\n"
                                    "gc.get_referents(np.ndarray.__dict__)[0]['all'] = lambda *a, **k: True\n",
    "always-equal answers": "class Same:\n    def __eq__(self, o): return True\n"
                            "    def __float__(self): return 0.0\n    def __array__(self, *a, **k): "
                            "return np.zeros(())\n"
                            "def mse(a, b): return Same()\ncross_entropy = next_token_cross_entropy = mse\n",
    "float subclass": "class F(float):\n    def __eq__(self, o): return True\n    def __le__(self, o): "
                      "return True\n    def __sub__(self, o): return F(0)\n"
                      "def mse(a, b): return F(0)\ncross_entropy = next_token_cross_entropy = mse\n",
    "sys.exit from an answer": "import sys\ndef mse(a, b):\n    sys.exit(0)\n"
                               "cross_entropy = next_token_cross_entropy = mse\n",
    "KeyboardInterrupt from an answer": "def mse(a, b):\n    raise KeyboardInterrupt\n"
                                        "cross_entropy = next_token_cross_entropy = mse\n",
    "SystemExit in the cell": "raise SystemExit\n",
    "IPython exit": "exit()\n",
    "os._exit": "import os\nos._exit(3)\n",
    "reference imported": "from mlcourse.losses import mse, cross_entropy, next_token_cross_entropy\n",
    "reference hidden from the scan": "import operator\nimport mlcourse.losses as L\n"
                                      "mse = operator.attrgetter('m' + 'se')(L)\n"
                                      "cross_entropy = operator.attrgetter('cross_' + 'entropy')(L)\n"
                                      "next_token_cross_entropy = operator.attrgetter('next_token_' + "
                                      "'cross_entropy')(L)\n",
    "reference wrapped": "import operator, functools\nimport mlcourse.losses as L\n"
                         "f = operator.attrgetter('m' + 'se')(L)\nmse = functools.partial(f)\n"
                         "g = operator.attrgetter('cross_' + 'entropy')(L)\n"
                         "cross_entropy = lambda a, b: g(a, b)\n"
                         "h = operator.attrgetter('next_token_' + 'cross_entropy')(L)\n"
                         "next_token_cross_entropy = np.vectorize(h, signature='(b,t,v),(b,t)->()')\n",
    "forged judge replies": "import json\ndef mse(a, b):\n    for n in range(64):\n"
                            "        display({'application/vnd.mlcourse.judge+json': json.dumps({'nonce': n, "
                            "'ok': 1.6666666666666667})}, raw=True)\n    raise NotImplementedError()\n"
                            "cross_entropy = next_token_cross_entropy = mse\n",
    "fake wire reply": "def mse(a, b):\n    return {'float': '1.6666666666666667'}\n"
                       "cross_entropy = next_token_cross_entropy = mse\n",
}


def _released_with(cheat: str, *, in_own_cell: bool):
    """03's release (every exercise unsolved) with the cheat in mse's answer cell or in a cell
    of the learner's own right after the setup cell."""
    source = nbformat.read(NB03, as_version=4)
    nb = notebook.merge(source, {} if in_own_cell else {"mse-answer": cheat})
    if in_own_cell:
        nb.cells.insert(2, nbformat.v4.new_code_cell(cheat))
    return nb


# Cheats also tried from a cell of the learner's own (the scan and the guard must not care where).
OWN_CELL = ("patched checks", "swallowing exception handler", "reference hidden from the scan",
            "always-equal answers")
PLACED = ([pytest.param(code, False, id=f"{key} (answer cell)") for key, code in CHEATS.items()]
          + [pytest.param(CHEATS[key], True, id=f"{key} (own cell)") for key in OWN_CELL])


@pytest.mark.slow
@pytest.mark.parametrize("cheat, in_own_cell", PLACED)
def test_a_cheat_earns_nothing(cheat, in_own_cell):
    nb = notebook.execute(_released_with(cheat, in_own_cell=in_own_cell), NB03.parent, timeout=30)
    results = {nbgrader_meta(c)["grade_id"]: cell_result(c) for c in nb.cells if is_test_cell(c)}
    assert results, "no graded cells"
    earned = {gid: r.score for gid, r in results.items() if r.score > 0}
    assert not earned, f"the cheat earned {earned}"


@pytest.mark.slow
def test_reference_use_is_named_in_the_feedback_and_costs_only_its_exercise():
    """Found by the scan: the exercise's cell says why; the other exercises keep their points."""
    solved = {c.metadata.nbgrader["grade_id"]: c.source for c in nbformat.read(NB03, 4).cells
              if "grade_id" in c.metadata.get("nbgrader", {}) and c.metadata.nbgrader.get("solution")}
    solved["mse-answer"] = "import mlcourse.losses as L\nmse = getattr(L, 'mse')"
    nb = notebook.execute(notebook.merge(nbformat.read(NB03, 4), solved), NB03.parent, timeout=60)
    results = {nbgrader_meta(c)["grade_id"]: cell_result(c) for c in nb.cells if is_test_cell(c)}
    assert not results["mse-tests"].passed
    assert "reference implementation `mlcourse.losses.mse`" in results["mse-tests"].output
    # The exercise's three test cells (mean, reductions, shapes) lose their points; the others keep theirs.
    mse_cells = {"mse-tests", "mse-reduction-tests", "mse-shape-tests"}
    assert not any(results[gid].passed for gid in mse_cells), results
    assert all(r.passed for gid, r in results.items() if gid not in mse_cells), results


# ---- the same through nbgrader: plain `nbgrader autograde` in the course folder ---------------

THROUGH_NBGRADER = ("patched checks", "swallowing exception handler", "silent showtraceback",
                    "reference hidden from the scan", "always-equal answers", "os._exit")
# A learner's own cell dressed up as a locked cell of the course, so that the reference guard
# would trust it: nbgrader drops its unknown grade_id, and the judge treats it as the learner's.
FAKE_LOCKED = {"nbgrader": {"grade": False, "grade_id": "course-helpers", "locked": True,
                            "schema_version": 3, "solution": False, "task": False}}
DISGUISED_REFERENCE = ("import operator\nimport mlcourse.losses as L\n"
                       "mse = operator.attrgetter('mse')(L)\n")


@pytest.mark.slow
def test_cheats_earn_nothing_through_nbgrader_and_mlcourse_grade_alike(tmp_path, course_env):
    from test_roundtrip import autograde, local_scores, released_course, scores, submit

    course, name, released = released_course(tmp_path, NB03, course_env)
    students = {}
    for i, key in enumerate(THROUGH_NBGRADER):
        nb = released()
        answer = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "mse-answer")
        answer.source = CHEATS[key]
        students[f"cheat-{i}"] = nb
    disguised = released()
    disguised.cells.insert(2, nbformat.v4.new_code_cell(DISGUISED_REFERENCE, metadata=FAKE_LOCKED))
    students["disguised"] = disguised
    for student, nb in students.items():
        submit(course, student, name, None, text=nbformat.writes(nb))
    proc = autograde(course, name, course_env)
    for student in students:
        book = scores(course, name, student)
        assert book, f"{student} was not graded:\n{proc.stderr[-3000:]}"
        assert not {gid: s for gid, s in book.items() if s[0] > 0}, f"{student} earned {book}"
        assert book == local_scores(course, name, student), f"{student}: nbgrader and mlcourse grade differ"


@pytest.mark.slow
def test_a_failing_check_shows_its_message_not_the_grading_code():
    """In the learner's kernel (Lab, Validate) a failed check reads as its message alone."""
    wrong = {"mse-answer": "def mse(y_hat, y):\n    return np.sum((y_hat - y) ** 2)\n"}
    nb = notebook.execute(notebook.merge(nbformat.read(NB03, 4), wrong), NB03.parent, judged=False)
    cell = next(c for c in nb.cells if nbgrader_meta(c).get("grade_id") == "mse-tests")
    (error,) = [o for o in cell.outputs if o.output_type == "error"]
    shown = "\n".join(error.traceback)
    assert error.ename == "GradingError" and "missing division by 3" in shown, shown
    assert "checks.py" not in shown and "File " not in shown and len(error.traceback) <= 10, shown


# Reads the test set twice, then makes every Split report one read: through a function argument,
# which the scan cannot follow. The judge builds its splits from the package as it was at kernel
# start, so the patch is undone before the count is read.
FAKED_READ_COUNT = """
def _quietly(cls):
    cls.test_reads = property(lambda self: (self._test_reads + 1) // 2)

_quietly(type(train_val_test_split(np.zeros((4, 1)), np.zeros(4), fractions=(0.5, 0.25, 0.25))))

def final_test_error(split, degree):
    (X_train, y_train), (X_val, y_val) = split.train, split.val
    w = fit_polynomial(np.concatenate([X_train, X_val]), np.concatenate([y_train, y_val]), degree)
    return mse(predict_polynomial(w, split.test[0]), split.test[1])
"""


@pytest.mark.slow
def test_a_faked_read_counter_does_not_buy_the_read_once_point():
    nb07 = SOLUTIONS / "07-generalization" / "07-generalization.ipynb"
    source = nbformat.read(nb07, 4)
    solved = {nbgrader_meta(c)["grade_id"]: c.source for c in source.cells if nbgrader_meta(c).get("solution")}
    solved["final-answer"] = FAKED_READ_COUNT
    nb = notebook.execute(notebook.merge(source, solved), nb07.parent, timeout=60)
    results = {nbgrader_meta(c)["grade_id"]: cell_result(c) for c in nb.cells if is_test_cell(c)}
    assert results["final-tests"].passed, results["final-tests"].output
    assert not results["final-reads-tests"].passed, "the faked counter bought the point"
    assert "2 times" in results["final-reads-tests"].output, results["final-reads-tests"].output


GUARD_SCRIPT = r"""
import functools, numpy as np
import mlcourse.losses
from mlcourse.grading import agent
agent.guard_references(["mlcourse.losses.mse"], trusted_files=["/locked/cell.py"])
a, b = np.array([1.0, 2.0]), np.array([1.0, 4.0])
def run(code, filename):
    namespace = {"mlcourse": mlcourse, "np": np, "functools": functools, "a": a, "b": b}
    try:
        exec(compile(code, filename, "exec"), namespace)
        return "served"
    except agent.ReferenceUseError:
        return "refused"
print(run("mlcourse.losses.mse(a, b)", "/tmp/ipykernel_1/123.py"),
      run("mlcourse.losses.mse(a, b)", "/locked/cell.py"),
      run("np.vectorize(mlcourse.losses.mse, signature='(n),(n)->()')(a, b)", "<learner>"),
      run("f = functools.partial(mlcourse.losses.mse)\nf(a, b)", "<learner>"),
      agent.answer('{"op": "call", "nonce": 1, "target": {"handle": %d, "type": "f"}, "args": '
                   '{"list": []}, "kwargs": {"dict": []}}' % agent.keep_value(mlcourse.losses.mse)["handle"],
                   {})[:60].count("ReferenceUseError"),
      mlcourse.losses.mse.__name__, hasattr(mlcourse.losses.mse, "__wrapped__"))
"""


def test_the_kernel_guard_refuses_the_learners_own_calls_of_a_reference():
    """In the kernel, a reference serves the library and locked cells, and refuses calls from
    the learner's cells (directly, through numpy or functools) or handed to the judge."""
    proc = subprocess.run([sys.executable, "-c", GUARD_SCRIPT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["refused", "served", "refused", "refused", "1", "mse", "False"], proc.stdout


RUNNER_SCRIPT = r"""
import functools, os, numpy as np
import mlcourse.data, mlcourse.losses
import mlcourse.grading.kernelside as kernelside
from mlcourse.grading import agent
from mlcourse.grading.kernelside import nb01, nb06b
agent.guard_references(["mlcourse.losses.mse", "mlcourse.data.train_val_test_split"], trusted_files=[])
a, b = np.array([1.0, 2.0]), np.array([1.0, 4.0])
def errand(fn):
    request = ('{"op": "call", "nonce": 1, "target": {"handle": %d, "type": "f"}, "args": {"list": []}, '
               '"kwargs": {"dict": []}}' % agent.keep_value(fn)["handle"])
    return "refused" if "ReferenceUseError" in agent.answer(request, {}) else "served"
# A runner in each of kernelside's modules (its code compiled under the module's file name),
# handed the reference itself, as a learner's answer that IS the reference is handed over.
folder = os.path.dirname(kernelside.__file__)
for name in sorted(os.listdir(folder)):
    if name.endswith(".py"):
        space = {}
        exec(compile("def run(fn, *args):\n    return fn(*args)", os.path.join(folder, name), "exec"), space)
        print(name, errand(functools.partial(space["run"], mlcourse.losses.mse, a, b)))
# A real one: 06b's Stepper reports the step's exception as the stop of its run.
print("Stepper", errand(functools.partial(nb06b.Stepper().run, mlcourse.losses.mse, [[[a, b], {}]])))
# The course's split handed into a learner's function (01's Exercise 2) still uses its reference.
space = {}
exec(compile("def answer(split_fn):\n    return split_fn(10, (0.6, 0.2, 0.2), 0)", "<learner>", "exec"), space)
print("helper", errand(functools.partial(space["answer"], nb01.reference_helper("split"))))
"""


def test_the_kernel_guard_refuses_a_reference_handed_to_any_kernelside_runner():
    """An answer that IS the reference is refused when the judge's errand calls it through a
    runner in any module of ``kernelside`` (not only calls.py and nb05.py); a course version of an
    earlier exercise that kernelside hands into a learner's function still serves that function."""
    proc = subprocess.run([sys.executable, "-c", RUNNER_SCRIPT], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = dict(line.split() for line in proc.stdout.splitlines())
    assert lines.pop("helper") == "served", proc.stdout
    assert len(lines) >= 9 and set(lines.values()) == {"refused"}, proc.stdout
