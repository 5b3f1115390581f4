"""Library shortcuts (``grading.shortcuts``): autograd for a hand-written gradient, torch.optim
or the course's own optimizers for a hand-written optimizer, torch's losses for a loss.

Fast tests run the guards in this process, through the judge's own link (``Loopback``):
armed only while a check that names the route runs, refused to code of the learner's
files in any spelling, served to the course package, the locked cells and scratch use;
a refusal the learner's code catches still costs the exercise. Slow tests grade hostile
notebooks through the judge (``mlcourse grade``'s route): each shortcut earns nothing on
its own exercise and costs no other, and a scratch cell that checks the learner's own
gradient against autograd costs nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
from nbtools import SOLUTIONS, cell_result, is_test_cell, nbgrader_meta

import mlcourse
from mlcourse.grading import GradingError, agent, notebook, shortcuts
from mlcourse.grading.exercises import nb03, nb04, nb05
from mlcourse.grading.remote import Loopback, RemoteError

PACKAGE = Path(mlcourse.__file__).parent
LOCKED = "/locked/cell-1.py"   # the code name of a locked cell, as the judge passes it
ROUTES = ["torch.autograd", "numerical differences", "torch.optim", "mlcourse.optim",
          "torch.nn.functional"]

# Captured before any guard exists: the guards on the low-level entry points must still see it.
EARLY_GRAD = torch.autograd.grad
EARLY_SGD_STEP = torch.optim.SGD.step


@pytest.fixture
def guards():
    shortcuts.install(ROUTES, [LOCKED])
    yield shortcuts
    shortcuts.uninstall()


def learner(code: str, tmp_path: Path, name: str = "learner_cells") -> types.ModuleType:
    """Code in a file of the learner's (as a cell or a module handed in beside the notebook)."""
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(code))
    module = types.ModuleType(name)
    module.__file__ = str(path)
    exec(compile(path.read_text(), str(path), "exec"), module.__dict__)
    return module


def course_code(code: str, name: str = "_course_helper") -> types.ModuleType:
    """Code that the stack takes for the course package's."""
    module = types.ModuleType(f"mlcourse.{name}")
    exec(compile(textwrap.dedent(code), str(PACKAGE / f"{name}.py"), "exec"), module.__dict__)
    return module


AUTOGRAD = """
    import numpy as np
    import torch

    def backward(W):
        w = torch.tensor(W, requires_grad=True)
        (w ** 2).sum().backward()
        return w.grad.numpy()

    def autograd_grad(W):
        w = torch.tensor(W, requires_grad=True)
        return torch.autograd.grad((w ** 2).sum(), w)[0].numpy()

    def func_grad(W):
        return torch.func.grad(lambda w: (w ** 2).sum())(torch.tensor(W)).numpy()

    def jacfwd(W):   # forward mode
        return torch.func.jacfwd(lambda w: (w ** 2).sum())(torch.tensor(W)).numpy()

    def through_a_parameter(W, ag=getattr(torch, "autograd")):
        w = torch.tensor(W, requires_grad=True)
        return ag.grad((w ** 2).sum(), w)[0].numpy()

    def grad_fn_nodes(W):   # calling the graph's nodes by hand, no engine
        w = torch.tensor(W, requires_grad=True)
        node = (w * w).grad_fn
        d_left, d_right = node(torch.ones(w.shape, dtype=w.dtype))
        return (d_left + d_right).detach().numpy()

    def caught(W):
        try:
            return backward(W)
        except Exception:
            return 2 * W

    def honest(W):
        return 2 * W
"""


def test_unarmed_guards_serve_the_learner(guards, tmp_path):
    cells = learner(AUTOGRAD, tmp_path)
    W = np.array([1.0, -2.0])
    for name in ("backward", "autograd_grad", "func_grad", "jacfwd", "through_a_parameter", "grad_fn_nodes"):
        assert np.allclose(getattr(cells, name)(W), 2 * W), name


@pytest.mark.parametrize("name", ["backward", "autograd_grad", "func_grad", "jacfwd", "through_a_parameter",
                                  "grad_fn_nodes", "caught"])
def test_armed_autograd_is_refused_to_the_learner_in_every_spelling(guards, tmp_path, name):
    cells = learner(AUTOGRAD, tmp_path)
    link = Loopback(vars(cells))
    link.armed = ("torch.autograd",)
    with pytest.raises(RemoteError) as info:
        link.lookup(name)(np.array([1.0, -2.0]))
    assert info.value.remote_type == "ReferenceUseError"
    assert "torch's autograd" in str(info.value) and "derive it by hand" in str(info.value)
    link.armed = ()
    assert np.allclose(link.lookup("honest")(np.array([1.0, -2.0])), [2.0, -4.0])


COMPILED = """
    import torch
    from torch.fx.experimental.proxy_tensor import make_fx

    def square(w):
        return (w ** 2).sum()

    @torch.jit.script
    def scripted(w: torch.Tensor) -> torch.Tensor:   # backward() inside TorchScript: no Python entry point
        w = w.detach().requires_grad_(True)
        (w * w).sum().backward()
        g = w.grad
        assert g is not None
        return g

    compiled = torch.compile(torch.func.grad(square), backend="eager")
    traced = make_fx(torch.func.grad(square))(torch.ones(2))   # the gradient's graph, traced once
"""


@pytest.mark.parametrize("name, compiler", [("scripted", "torch.jit.script"), ("compiled", "torch.compile"),
                                            ("traced", "make_fx")])
def test_code_compiled_by_the_learner_is_guarded(guards, tmp_path, name, compiler):
    cells = learner(COMPILED, tmp_path)
    w = torch.tensor([1.0, -2.0])
    assert torch.allclose(getattr(cells, name)(w), 2 * w)       # not armed: a scratch cell's use
    with pytest.raises(agent.ReferenceUseError, match=f"compiled by `[a-z_.]*{compiler}`"):
        shortcuts.armed_call(["torch.autograd"], getattr(cells, name), w)


PROCESS = """
    import multiprocessing
    import subprocess
    import sys

    def in_a_fresh_interpreter(W):   # no guards there
        out = subprocess.run([sys.executable, "-c", f"print(2 * {W!r})"], capture_output=True, text=True)
        return float(out.stdout)

    def in_a_spawned_process(W):
        worker = multiprocessing.get_context("spawn").Process(target=print, args=(W,))
        worker.start()
        worker.join()
        return 2 * W
"""


def test_another_process_is_refused_while_armed(guards, tmp_path):
    cells = learner(PROCESS, tmp_path)
    assert cells.in_a_fresh_interpreter(1.5) == 3.0
    for name in ("in_a_fresh_interpreter", "in_a_spawned_process"):
        with pytest.raises(agent.ReferenceUseError, match="starts another process"):
            shortcuts.armed_call(["torch.autograd"], getattr(cells, name), 1.5)


def test_a_caught_refusal_still_costs_the_exercise(guards, tmp_path):
    cells = learner(AUTOGRAD, tmp_path)
    with pytest.raises(agent.ReferenceUseError, match="earns nothing here"):
        shortcuts.armed_call(["torch.autograd"], cells.caught, np.array([1.0, 2.0]))
    assert not shortcuts.refused(), "the refusal was reported, and the record starts again"
    assert shortcuts.armed_call(["torch.autograd"], cells.honest, np.array([1.0])) == 2.0


# The learner's thread dies of the refusal, as it should: that is the point, not a warning.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_work_left_for_later_within_a_check_is_refused_at_its_next_request(guards, tmp_path):
    """A step that leaves torch.optim's work to a thread running between two requests of the
    check: refused there, and reported at the check's next request; a new check starts clean;
    a cell of the notebook (not one of the judge's requests) disarms."""
    cells = learner("""
        import threading, time
        import torch

        def later(t):
            def work():
                time.sleep(0.05)
                opt = torch.optim.SGD([t], lr=0.1)
                opt.step()
            threading.Thread(target=work).start()

        def nothing():
            return 0
    """, tmp_path)
    link = Loopback(vars(cells))
    t = torch.zeros(2)
    t.grad = torch.ones(2)
    link.armed = ["torch.optim"]
    link.lookup("later")(torch.zeros(2))    # returns before the thread steps
    import time

    time.sleep(0.3)
    with pytest.raises(RemoteError, match="torch.optim"):
        link.lookup("nothing")()
    link.lookup("later")(torch.zeros(2))
    time.sleep(0.3)
    link.armed = ["torch.optim"]              # the next check: a new list
    assert link.lookup("nothing")() == 0
    shortcuts._before_cell(types.SimpleNamespace(raw_cell=shortcuts.ERRAND + "...).serve('{}')"))
    assert shortcuts._armed
    shortcuts._before_cell(types.SimpleNamespace(raw_cell="x = 1"))
    assert not shortcuts._armed


def test_the_judges_requests_are_the_cells_that_do_not_disarm():
    import inspect

    from mlcourse.grading import judge

    assert shortcuts.ERRAND in inspect.getsource(judge.KernelLink.exchange)


def test_only_the_armed_route_is_refused(guards, tmp_path):
    cells = learner(AUTOGRAD, tmp_path)
    assert np.allclose(shortcuts.armed_call(["torch.optim"], cells.backward, np.array([3.0])), [6.0])


def test_entry_points_taken_before_the_guards_end_in_a_guard(guards, tmp_path):
    cells = learner("""
        import torch
        def early(W, grad):
            w = torch.tensor(W, requires_grad=True)
            return grad((w ** 2).sum(), w)[0].numpy()
    """, tmp_path)
    with pytest.raises(agent.ReferenceUseError):
        shortcuts.armed_call(["torch.autograd"], cells.early, np.array([1.0]), EARLY_GRAD)


def test_code_of_unknown_origin_and_threads_are_the_learners(guards):
    w = torch.tensor([1.0], requires_grad=True)
    timed = compile("(w * w).sum().backward()", "<timed exec>", "exec")   # a %%time body
    with pytest.raises(agent.ReferenceUseError):
        shortcuts.armed_call(["torch.autograd"], exec, timed, {"w": w})
    # a thread whose stack holds libraries only (the learner's code handed the shortcut over)
    with ThreadPoolExecutor(1) as pool:
        with pytest.raises(agent.ReferenceUseError):
            shortcuts.armed_call(["torch.autograd"], lambda: pool.submit(torch.autograd.backward,
                                                                         (w * w).sum()).exception())


def test_locked_cells_and_course_factories_are_served_while_armed(guards, tmp_path):
    helper = course_code("""
        import torch
        def gradient_of_square(W):
            w = torch.tensor(W, requires_grad=True)
            (w ** 2).sum().backward()
            return w.grad.numpy()
    """)
    # a locked cell calling course code: served
    namespace = {"helper": helper, "np": np}
    locked = compile("out = helper.gradient_of_square(np.array([2.0]))", LOCKED, "exec")
    shortcuts.armed_call(["torch.autograd"], exec, locked, namespace)
    assert np.allclose(namespace["out"], [4.0])
    # the judge's errand building an object from the course package: served
    sys.modules[helper.__name__] = helper
    try:
        link = Loopback({})
        link.armed = ("torch.autograd",)
        made = link.request("make", path=f"{helper.__name__}.gradient_of_square", args=[[3.0]], kwargs={})
        assert np.allclose(link.request("value", target=made), [6.0])
    finally:
        del sys.modules[helper.__name__]
    # the learner calling the same course code: refused (the package launders nothing)
    cells = learner("def via_course(helper, W):\n    return helper.gradient_of_square(W)\n", tmp_path)
    with pytest.raises(agent.ReferenceUseError):
        shortcuts.armed_call(["torch.autograd"], cells.via_course, helper, np.array([1.0]))


def test_a_gradient_check_refuses_autograd_with_its_sentence(guards, tmp_path):
    """The judge's path in one process: the check's request carries the armed routes, the kernel
    refuses, and the check fails with the one sentence."""
    cells = learner("""
        import torch
        def linear_mse_grads(X, y, W, b):
            Wt, bt = torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)
            loss = ((torch.from_numpy(X) @ Wt + bt - torch.from_numpy(y)) ** 2).mean()
            dW, db = torch.autograd.grad(loss, (Wt, bt))
            return dW.numpy(), db.numpy()
    """, tmp_path)
    link = Loopback(vars(cells))
    nb04.linear_dW(link.lookup("linear_mse_grads"))          # not armed: the shortcut passes
    link.armed = nb04.linear_dW.shortcuts
    with pytest.raises(GradingError) as info:
        nb04.linear_dW(link.lookup("linear_mse_grads"))
    assert str(info.value).startswith("Your gradient comes from torch's autograd (`torch.autograd.grad`); "
                                      "this exercise asks you to derive it by hand, so it earns nothing here")


OPTIMIZERS = """
    import numpy as np
    import torch
    import mlcourse.optim

    class TorchMomentum:   # torch.optim.SGD driving the numpy parameters in place
        def __init__(self, params, lr, momentum=0.0, dampening=0.0):
            self.params = list(params)
            self.tensors = [torch.from_numpy(p.data) for p in self.params]
            self.opt = torch.optim.SGD(self.tensors, lr=lr, momentum=momentum, dampening=dampening)

        def step(self):
            for t, p in zip(self.tensors, self.params):
                t.grad = torch.from_numpy(np.array(p.grad))
            self.opt.step()

    def _course(m):
        return m.SGD

    class CourseMomentum:   # the course's SGD, reached through a module handed in as a parameter
        def __init__(self, params, lr, momentum=0.0, dampening=0.0):
            self.inner = _course(mlcourse.optim)(params, lr=lr, momentum=momentum, dampening=dampening)

        def step(self):
            self.inner.step()

    class Subclassed(mlcourse.optim.SGD):
        pass

    class BorrowedRule(mlcourse.optim.Optimizer):   # the course's base class, and SGD's rule
        _update = mlcourse.optim.SGD._update

        def __init__(self, params, lr, momentum=0.0, dampening=0.0):
            super().__init__(params, lr=lr, momentum=momentum, dampening=dampening, nesterov=False,
                             weight_decay=0.0, maximize=False)
"""


@pytest.mark.parametrize("name, route", [("TorchMomentum", "torch.optim"),
                                         ("CourseMomentum", "mlcourse.optim"),
                                         ("Subclassed", "mlcourse.optim"),
                                         ("BorrowedRule", "mlcourse.optim")])
def test_an_optimizer_by_a_library_earns_nothing(guards, tmp_path, name, route):
    cells = learner(OPTIMIZERS, tmp_path)
    link = Loopback(vars(cells))
    nb05.momentum(link.lookup(name))     # not armed: it matches torch step for step
    link.armed = nb05.momentum.shortcuts
    with pytest.raises(GradingError, match=f"(?s)optimizer.*{route}.*earns nothing here"):
        nb05.momentum(link.lookup(name))


def test_the_guards_of_torch_optim_reach_its_functional_step(guards):
    p = torch.zeros(2)
    p.grad = torch.ones(2)
    opt = torch.optim.SGD([p], lr=0.1)
    learner_step = compile("EARLY_SGD_STEP(opt)", "/tmp/ipykernel_1/2.py", "exec")
    with pytest.raises(agent.ReferenceUseError):
        shortcuts.armed_call(["torch.optim"], exec, learner_step, {"EARLY_SGD_STEP": EARLY_SGD_STEP, "opt": opt})
    shortcuts.disarm()    # the next cell
    EARLY_SGD_STEP(opt)
    assert torch.allclose(p, torch.full((2,), -0.1))


def test_a_loss_by_torch_earns_nothing(guards, tmp_path):
    cells = learner("""
        import torch
        def mse(y_hat, y, reduction="mean"):
            return torch.nn.MSELoss(reduction=reduction)(torch.from_numpy(y_hat), torch.from_numpy(y)).numpy()
    """, tmp_path)
    link = Loopback(vars(cells))
    nb03.mse(link.lookup("mse"))
    link.armed = nb03.mse.shortcuts
    with pytest.raises(GradingError, match=r"Your loss comes from torch \(`torch.nn.functional.mse_loss`\)"):
        nb03.mse(link.lookup("mse"))


def test_uninstall_puts_every_original_back():
    before = (torch.autograd.grad, torch.Tensor.backward, vars(torch.optim.SGD)["step"],
              torch.nn.functional.mse_loss, mlcourse.optim.SGD.__init__)
    shortcuts.install(ROUTES, [])
    assert torch.autograd.grad is not before[0] and "grad_fn" in vars(torch.Tensor)
    shortcuts.uninstall()
    after = (torch.autograd.grad, torch.Tensor.backward, vars(torch.optim.SGD)["step"],
             torch.nn.functional.mse_loss, mlcourse.optim.SGD.__init__)
    assert all(a is b for a, b in zip(after, before, strict=True))
    assert "grad_fn" not in vars(torch.Tensor)


def test_private_entry_points_are_named_by_their_route():
    assert "(`torch.autograd`)" in shortcuts.message("torch.autograd", "torch.autograd.graph._engine_run_backward")
    assert "(`Tensor.backward`)" in shortcuts.message("torch.autograd", "torch.Tensor.backward")


# torch imported after the guards were asked for (the kernel's case): guarded at its import.
LATE_TORCH = r"""
import sys, time
from mlcourse.grading import shortcuts
shortcuts.install(["torch.autograd", "torch.optim", "torch.nn.functional"], [])
assert "torch" not in sys.modules
import torch
from torch.autograd import grad
import torch.autograd.graph as graph
guarded = [shortcuts._is_guard(x) for x in (grad, torch.autograd.backward, graph._engine_run_backward,
                                            torch.autograd._engine_run_backward, vars(torch.optim.SGD)["step"],
                                            torch._C._nn.mse_loss, torch.func.grad)]
print(all(guarded), guarded)
"""


def test_torch_imported_later_is_guarded_at_its_import():
    proc = subprocess.run([sys.executable, "-c", LATE_TORCH], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("True"), proc.stdout


# ---- through the judge: hostile notebooks -----------------------------------------------------

NB02 = SOLUTIONS / "02-models" / "02-models.ipynb"
NB03 = SOLUTIONS / "03-losses" / "03-losses.ipynb"
NB04 = SOLUTIONS / "04-gradients" / "04-gradients.ipynb"
NB05 = SOLUTIONS / "05-optimizers" / "05-optimizers.ipynb"


def _solved(path: Path) -> dict[str, str]:
    return {nbgrader_meta(c)["grade_id"]: c.source for c in nbformat.read(path, 4).cells
            if nbgrader_meta(c).get("solution")}


def _grade(path: Path, answers: dict[str, str], cwd: Path | None = None, extra: tuple[int, str] | None = None):
    nb = notebook.merge(nbformat.read(path, 4), {**_solved(path), **answers})
    if extra is not None:
        nb.cells.insert(extra[0], nbformat.v4.new_code_cell(extra[1]))
    nb = notebook.execute(nb, cwd or path.parent, timeout=60)
    return {nbgrader_meta(c)["grade_id"]: cell_result(c) for c in nb.cells if is_test_cell(c)}


def _assert_only(results: dict, lost: set[str], sentence: str) -> None:
    assert results and lost <= set(results), results.keys()
    for gid in lost:
        assert results[gid].score == 0, (gid, results[gid].output)
        assert sentence in results[gid].output, (gid, results[gid].output)
    kept = {gid: r.output for gid, r in results.items() if gid not in lost and not r.passed}
    assert not kept, kept


GRADIENTS_BY_AUTOGRAD = {
    "linear-answer": """import torch

def linear_mse_grads(X, y, W, b):
    Wt, bt = torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)
    loss = ((torch.from_numpy(X) @ Wt + bt - torch.from_numpy(y)) ** 2).mean()
    dW, db = torch.autograd.grad(loss, (Wt, bt))
    return dW.numpy(), db.numpy()
""",
    "ce-answer": """import torch
F = getattr(torch.nn, "functional")

def softmax_cross_entropy_grad(logits, y):
    loss = lambda z: F.cross_entropy(z, torch.from_numpy(y))
    return torch.func.grad(loss)(torch.from_numpy(logits)).numpy()
""",
    "mlp-answer": """import torch

def mlp_backward(dlogits, cache, params):
    P = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    H = torch.relu(torch.from_numpy(cache["X"]) @ P["W1"] + P["b1"])
    (H @ P["W2"] + P["b2"]).backward(torch.from_numpy(dlogits))
    return {k: P[k].grad.numpy() for k in P}
""",
}
GRADIENT_CELLS = {"linear-dW-tests", "linear-db-tests", "ce-grad-tests", "mlp-output-tests", "mlp-hidden-tests"}
AUTOGRAD_SENTENCE = ("this exercise asks you to derive it by hand, so it earns nothing here — use autograd "
                     "in a scratch cell to check your work")


@pytest.mark.slow
def test_gradients_by_autograd_earn_nothing():
    _assert_only(_grade(NB04, GRADIENTS_BY_AUTOGRAD), GRADIENT_CELLS, AUTOGRAD_SENTENCE)


@pytest.mark.slow
def test_gradients_from_a_helper_module_beside_the_notebook_earn_nothing(tmp_path):
    (tmp_path / "helper.py").write_text(GRADIENTS_BY_AUTOGRAD["linear-answer"])
    answers = {"linear-answer": "import helper\n\ndef linear_mse_grads(X, y, W, b):\n"
                                "    return helper.linear_mse_grads(X, y, W, b)\n"}
    results = _grade(NB04, answers, cwd=tmp_path)
    _assert_only(results, {"linear-dW-tests", "linear-db-tests"}, AUTOGRAD_SENTENCE)


SCRATCH_CHECK = """import torch
# my own gradient, checked against autograd on a small case (a scratch cell)
rng = np.random.default_rng(0)
X, y, W, b = rng.normal(size=(5, 3)), rng.normal(size=(5, 2)), rng.normal(size=(3, 2)), rng.normal(size=2)
Wt = torch.tensor(W, requires_grad=True)
((torch.from_numpy(X) @ Wt + torch.from_numpy(b) - torch.from_numpy(y)) ** 2).mean().backward()
print("dW vs autograd:", rel_error(linear_mse_grads(X, y, W, b)[0], Wt.grad.numpy()))
"""


@pytest.mark.slow
def test_a_scratch_cell_checking_against_autograd_costs_nothing():
    nb = nbformat.read(NB04, 4)
    after = next(i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade_id") == "linear-db-tests") + 1
    results = _grade(NB04, {}, extra=(after, SCRATCH_CHECK))
    assert all(r.passed for r in results.values()), {g: r.output for g, r in results.items() if not r.passed}


OPTIMIZERS_BY_TORCH = {
    "sgd-answer": """import torch

def sgd_step(params, lr):
    tensors = [torch.from_numpy(p.data) for p in params]
    for t, p in zip(tensors, params):
        t.grad = torch.from_numpy(np.array(p.grad))
    torch.optim.SGD(tensors, lr=lr).step()
""",
    "momentum-answer": """import torch

class SGDMomentum(Optimizer):
    def __init__(self, params, lr, momentum=0.9, dampening=0.0):
        super().__init__(params)
        self.tensors = [torch.from_numpy(p.data) for p in self.params]
        self.opt = torch.optim.SGD(self.tensors, lr=lr, momentum=momentum, dampening=dampening)

    def step(self):
        for t, p in zip(self.tensors, self.params):
            t.grad = torch.from_numpy(np.array(p.grad))
        self.opt.step()
""",
    "adam-answer": """import torch

class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params)
        self.tensors = [torch.from_numpy(p.data) for p in self.params]
        self.opt = torch.optim.Adam(self.tensors, lr=lr, betas=betas, eps=eps)

    def step(self):
        for t, p in zip(self.tensors, self.params):
            t.grad = torch.from_numpy(np.array(p.grad))
        self.opt.step()
""",
}
OPTIMIZER_CELLS = {"sgd-tests", "momentum-tests", "momentum-dampening-tests", "adam-first-step-tests",
                   "adam-tests"}
OPTIMIZER_SENTENCE = "this exercise asks you to write the update rule yourself, so it earns nothing here"


@pytest.mark.slow
def test_optimizers_by_torch_optim_earn_nothing():
    results = _grade(NB05, OPTIMIZERS_BY_TORCH)
    _assert_only(results, OPTIMIZER_CELLS, OPTIMIZER_SENTENCE)
    assert "Your optimizer's step comes from torch.optim" in results["adam-tests"].output


# The step left to the kernel's event loop, which runs it between two of the check's requests.
LATER_ON_THE_EVENT_LOOP = {"sgd-answer": """import asyncio
import torch

def sgd_step(params, lr):
    tensors = [torch.from_numpy(p.data) for p in params]
    for t, p in zip(tensors, params):
        t.grad = torch.from_numpy(np.array(p.grad))

    def later():
        torch.optim.SGD(tensors, lr=lr).step()
    asyncio.get_event_loop().call_soon(later)
"""}


@pytest.mark.slow
def test_an_optimizer_step_left_to_the_event_loop_earns_nothing():
    results = _grade(NB05, LATER_ON_THE_EVENT_LOOP)
    _assert_only(results, {"sgd-tests"}, OPTIMIZER_SENTENCE)
    assert results["sgd-tests"].output.startswith("Your optimizer's step comes from torch.optim"), \
        results["sgd-tests"].output


COURSE_OPTIMIZERS = {
    "momentum-answer": """import mlcourse.optim

def _course(m):
    return m.SGD

class SGDMomentum(Optimizer):
    def __init__(self, params, lr, momentum=0.9, dampening=0.0):
        super().__init__(params)
        self.inner = _course(mlcourse.optim)(self.params, lr=lr, momentum=momentum, dampening=dampening)

    def step(self):
        self.inner.step()
""",
    "adam-answer": """%%time
import mlcourse.optim as O

class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        super().__init__(params)
        self.inner = getattr(O, "Ad" + "am")(self.params, lr=lr, betas=betas, eps=eps)

    def step(self):
        self.inner.step()
""",
}


@pytest.mark.slow
def test_the_courses_optimizers_reached_around_the_scan_earn_nothing():
    results = _grade(NB05, COURSE_OPTIMIZERS)
    _assert_only(results, OPTIMIZER_CELLS - {"sgd-tests"}, OPTIMIZER_SENTENCE)
    assert "mlcourse.optim" in results["momentum-tests"].output and "mlcourse.optim" in results["adam-tests"].output


LOSSES_BY_TORCH = {
    "mse-answer": """import torch

def mse(y_hat, y, reduction="mean"):
    if np.shape(y_hat) != np.shape(y):
        raise ValueError(f"shapes {np.shape(y_hat)} and {np.shape(y)} differ")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError("reduction: mean, sum or none")
    loss = torch.nn.MSELoss(reduction=reduction)
    return loss(torch.from_numpy(np.asarray(y_hat, float)), torch.from_numpy(np.asarray(y, float))).numpy()
""",
    "ce-answer": """import torch.nn.functional as F
import torch

def cross_entropy(logits, y):
    return F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(y)).item()
""",
    "next-token-answer": """import torch

def next_token_cross_entropy(logits, targets):
    B, T, V = logits.shape
    f = torch.nn.functional
    return f.cross_entropy(torch.from_numpy(logits.reshape(B * T, V)),
                           torch.from_numpy(targets.reshape(B * T))).item()
""",
}


@pytest.mark.slow
def test_losses_by_torch_earn_nothing():
    results = _grade(NB03, LOSSES_BY_TORCH)
    lost = {gid for gid in results if gid.startswith(("mse", "ce", "next-token"))}
    _assert_only(results, lost, "this exercise asks you to compute it yourself with numpy, so it earns nothing")


LAYERS_BY_LIBRARIES = {
    "softmax-answer": """import torch

def softmax(logits):
    return torch.softmax(torch.from_numpy(logits), dim=-1).numpy()
""",
    "mlp-answer": """from mlcourse.nn import Linear

def mlp_forward(X, params):
    H = X
    for i, (W, b) in enumerate(params):
        layer = Linear(*W.shape)
        layer.W.data, layer.b.data = W, b
        H = layer(H)
        if i < len(params) - 1:
            H = np.maximum(H, 0.0)
    return H
""",
}


@pytest.mark.slow
def test_a_softmax_by_torch_and_an_mlp_by_the_courses_layers_earn_nothing():
    results = _grade(NB02, LAYERS_BY_LIBRARIES)
    _assert_only(results, {"softmax-tests", "softmax-stability-tests", "mlp-tests"}, "so it earns nothing here")
    assert "Your softmax comes from torch (`torch.softmax`)" in results["softmax-tests"].output
    assert "mlcourse.nn" in results["mlp-tests"].output


@pytest.mark.slow
@pytest.mark.parametrize("path", [NB02, NB03, NB04, NB05], ids=["02", "03", "04", "05"])
def test_the_solutions_keep_full_marks(path):
    results = _grade(path, {})
    assert results and all(r.passed for r in results.values()), \
        {g: r.output for g, r in results.items() if not r.passed}
