"""mlcourse.grading: only correct numbers pass, and every failure explains itself."""

from __future__ import annotations

import warnings

import nbformat
import numpy as np
import pytest
import torch

from mlcourse import grading
from mlcourse.grading import GradingError
from mlcourse.grading import notebook as gnb


def failure(fn, *args, **kwargs) -> str:
    with pytest.raises(GradingError) as info:
        fn(*args, **kwargs)
    return str(info.value)


# ---------------------------------------------------------------- check_array
def test_right_answer_passes_for_numbers_lists_arrays_and_tensors():
    expected = np.array([[1.0, 2.0], [3.0, 4.0]])
    for got in ([[1, 2], [3, 4]], expected.copy(), torch.tensor(expected, requires_grad=True),
                expected.astype(np.float32)):
        grading.check_array("x", got, expected, rtol=1e-6)


@pytest.mark.parametrize(
    ("make_wrong", "keywords"),
    [
        (lambda e: 2 * e, ["2x", "factor of 2"]),
        (lambda e: 0.5 * e, ["half"]),
        (lambda e: -e, ["opposite sign"]),
        (lambda e: e * 7, ["7x", "missing division by 7"]),
        (lambda e: e / 7, ["1/7"]),
        (lambda e: e + 0.25, ["same constant 0.25"]),
        (lambda e: np.zeros_like(e), ["every element is 0"]),
    ],
)
def test_wrong_answers_name_the_likely_mistake(make_wrong, keywords):
    rng = np.random.default_rng(3)
    expected = rng.normal(size=(7, 3)) + 0.1
    message = failure(grading.check_array, "grad", make_wrong(expected), expected, sizes=[7])
    for word in keywords:
        assert word in message, f"expected {word!r} in the failure message:\n{message}"
    assert "worst element at index" in message, message


def test_transpose_and_single_element_are_named():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(4, 4))
    assert "transpose" in failure(grading.check_array, "W", A.T, A)
    B = A.copy()
    B[2, 1] += 1.0
    message = failure(grading.check_array, "W", B, A)
    assert "(2, 1)" in message and "except the element" in message, message


@pytest.mark.parametrize(
    ("got_shape", "expected_shape", "keyword"),
    [((5, 1), (5,), "squeeze"), ((5,), (5, 1), "keepdims"), ((3, 2), (2, 3), "transpose"),
     ((4,), (), "single number"), ((4, 3), (4, 2), "axis 1")],
)
def test_shape_mismatch_is_explained(got_shape, expected_shape, keyword):
    message = failure(grading.check_array, "y_hat", np.ones(got_shape), np.ones(expected_shape))
    assert "wrong shape" in message and str(got_shape) in message and keyword in message, message


def test_nan_never_passes_and_is_explained():
    message = failure(grading.check_array, "loss", [np.nan, 1.0], [1.0, 1.0])
    assert "NaN" in message and "exp" in message, message


# ---------------------------------------------------------------- cheating
class AlwaysEqual:
    def __eq__(self, other):
        return True

    def __bool__(self):
        return True


class EqualArray(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)

    def __sub__(self, other):
        return np.zeros(np.shape(other))


def test_an_object_that_equals_everything_earns_nothing():
    message = failure(grading.check_array, "loss", AlwaysEqual(), 0.5)
    assert "could not be read as numbers" in message, message
    message = failure(grading.check_true, AlwaysEqual(), "split is disjoint")
    assert "True or False" in message, message


def test_an_ndarray_subclass_is_judged_on_its_numbers():
    cheat = np.zeros(3).view(EqualArray)
    failure(grading.check_array, "x", cheat, np.ones(3))


@pytest.mark.parametrize(
    ("module", "attribute"),
    [(np, "allclose"), (np, "isclose"), (np, "array_equal"), (np.testing, "assert_allclose"),
     (torch, "allclose"), (torch, "equal"), (torch.testing, "assert_close")],
)
def test_patched_comparison_functions_are_caught(monkeypatch, module, attribute):
    monkeypatch.setattr(module, attribute, lambda *args, **kwargs: True)
    message = failure(grading.check_array, "x", 1.0, 1.0)
    assert attribute in message and "replaced" in message, message


def test_right_answer_still_passes_after_the_patch_is_removed():
    grading.ensure_untampered()
    grading.check_array("x", 1.0, 1.0)


# ---------------------------------------------------------------- call, quiet, bands
def test_call_reports_an_unanswered_exercise():
    def mse(y_hat, y):
        raise NotImplementedError()

    message = failure(grading.call, mse, np.ones(2), np.ones(2))
    assert "`mse` is not written yet" in message, message


def test_call_reports_the_learners_exception_with_argument_shapes():
    def predict(X):
        return X @ np.ones(3)

    message = failure(grading.call, predict, np.ones((4, 2)))
    assert "ValueError" in message and "shape (4, 2)" in message, message


def test_call_keeps_warnings_and_stderr_out_of_the_test_cell(capfd):
    def noisy(x):
        warnings.warn("deprecated thing", DeprecationWarning, stacklevel=1)
        return np.log(x)

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        grading.call(noisy, np.array([0.0, 1.0]))
    out, err = capfd.readouterr()
    assert err == "", f"stderr must stay empty in a passing test cell, got {err!r}"


def test_check_true_and_in_band():
    grading.check_true(np.bool_(True), "fine")
    assert failure(grading.check_true, False, "val loss must not rise") == "val loss must not rise"
    grading.check_in_band("acc", 0.9, low=0.85, high=1.0)
    message = failure(grading.check_in_band, "acc", 0.7, low=0.85, reference=0.91)
    assert "0.85" in message and "0.91" in message, message
    failure(grading.check_in_band, "acc", float("nan"), low=0.0)


def test_check_gradient_against_central_differences():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 4))

    def f(x):
        return float((x**2).sum() / 2)

    grading.check_gradient("df/dx", x.copy(), f, x)
    message = failure(grading.check_gradient, "df/dx", 2 * x, f, x)
    assert "relative error" in message and "2x" in message and "Worst element" in message, message


# ---------------------------------------------------------------- notebooks
def _nb(cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = cells
    return nb


def _cell(source, **meta):
    cell = nbformat.v4.new_code_cell(source)
    if meta:
        cell.metadata["nbgrader"] = {"schema_version": 3, **meta}
    return cell


ANSWER = "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION\n"
TESTS = ("from mlcourse.grading.exercises import nb99\n"
         "nb99.double_cases(double, xs=[3])\n"
         "### BEGIN HIDDEN TESTS\n"
         "nb99.double_cases(double, xs=[-1.5])\n"
         "### END HIDDEN TESTS\n")


def _source():
    return _nb([
        _cell("x = 1", grade_id="setup", locked=True, solution=False, grade=False),
        _cell(ANSWER, grade_id="double-answer", solution=True, grade=False, locked=False),
        _cell(TESTS, grade_id="double-tests", grade=True, solution=False, locked=True, points=2),
    ])


def test_stub_answer_replaces_the_solution_region():
    stub = gnb.stub_answer(ANSWER)
    assert "raise NotImplementedError()" in stub and "2 * x" not in stub, stub
    assert stub.startswith("def double(x):"), stub


def test_merge_submission_restores_tests_keeps_scratch_cells_and_puts_back_deleted_ones():
    source = _source()
    submission = _nb([
        _cell("def double(x):\n    return x + x\n", grade_id="double-answer", solution=True, grade=False),
        nbformat.v4.new_code_cell("scratch = 42"),
        _cell("pass  # tests deleted by the learner", grade_id="double-tests", grade=True, points=2),
    ])
    merged = gnb.merge_submission(source, submission)
    sources = [c.source for c in merged.cells]
    assert sources[0] == "x = 1", "the deleted setup cell must come back first"
    assert "return x + x" in sources[1], "the learner's answer is kept"
    assert sources[2] == "scratch = 42", "the learner's own cell is kept in place"
    assert "HIDDEN TESTS" in sources[3], "test cells are restored from the source"


@pytest.mark.slow
def test_grade_scores_like_nbgrader(tmp_path):
    source_path = tmp_path / "source.ipynb"
    nbformat.write(_source(), source_path)
    good = _nb([_cell("def double(x):\n    return x * 2\n", grade_id="double-answer", solution=True)])
    wrong = _nb([_cell("def double(x):\n    return x * 2 if x > 0 else x\n", grade_id="double-answer", solution=True)])
    for name, nb in (("good", good), ("wrong", wrong)):
        nbformat.write(nb, tmp_path / f"{name}.ipynb")
    result = gnb.grade(tmp_path / "good.ipynb", source_path)
    assert (result.points, result.max_points) == (2.0, 2.0), result.report()
    result = gnb.grade(tmp_path / "wrong.ipynb", source_path)
    assert result.points == 0.0, "the hidden test must catch the negative case"
    assert "double(-1.5)" in result.cells[0].message, result.report()


def test_grade_refuses_a_foreign_or_corrupt_notebook(tmp_path):
    source_path = tmp_path / "source.ipynb"
    nbformat.write(_source(), source_path)
    (tmp_path / "corrupt.ipynb").write_text('{"cells": [', encoding="utf-8")
    with pytest.raises(ValueError, match="not a notebook"):
        gnb.grade(tmp_path / "corrupt.ipynb", source_path)
    nbformat.write(_nb([nbformat.v4.new_code_cell("print(1)")]), tmp_path / "foreign.ipynb")
    with pytest.raises(ValueError, match="right notebook"):
        gnb.grade(tmp_path / "foreign.ipynb", source_path)
