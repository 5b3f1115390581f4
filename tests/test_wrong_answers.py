"""Plausible wrong answers lose their exercise's points and no other; solutions run clean.

The checks run without a kernel (``nbtools.run_in_process``): the source notebook's
cells run in this process with one answer replaced, and each graded test cell is
judged by the very parse and checks the judge uses, with the learner's objects
reached through the judge's plain-data encoding. A kernel adds nothing to that
question; the kernel and nbgrader paths are proven by the fixture below, by
``test_roundtrip.py`` (a wrong answer per notebook through nbgrader and through
``mlcourse grade``) and by ``test_integrity.py``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbtools import (
    FIXTURES,
    SOLUTIONS,
    answer_cell_ids,
    graded_test_ids,
    is_test_cell,
    nbgrader_meta,
    run_in_process,
    run_source,
    run_with_replacement,
    source_notebooks,
)

# ---- notebook authors: fill this in ----------------------------------------------------
# WRONG maps an assignment to its plausible wrong answers. Each notebook keeps its own
# list in tests/wrong_answers/NN_name.py (for solutions/NN-name; see the README there):
#
#     WRONG = [
#         ("<grade_id of the answer cell>",
#          "<the whole new source of that cell>",
#          {"<grade_id of each test cell that must fail>", ...}),
#     ]
#
# Every exercise (a code cell with nbgrader `solution: true, grade: false`) needs at least
# one entry: a missing 1/N, a wrong sign, a wrong axis, test-set leakage, an off-by-one
# step count ... The listed test cells (`grade: true, locked: true, points: N`) must fail
# and every other graded test cell must still pass: a wrong answer costs its own
# exercise's points and no other.
WRONG_DIR = Path(__file__).resolve().parent / "wrong_answers"


def load_wrong_answers(folder: Path = WRONG_DIR) -> dict[str, list[tuple[str, str, set[str]]]]:
    table = {}
    for path in sorted(folder.glob("[0-9]*.py")):
        spec = importlib.util.spec_from_file_location(f"wrong_answers_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        table[path.stem.replace("_", "-")] = list(module.WRONG)
    return table


WRONG = load_wrong_answers()

# The harness proved on the fixture (tests/fixtures/99-fixture): not a course notebook.
FIXTURE_WRONG: dict[str, list[tuple[str, str, set[str]]]] = {
    "99-fixture": [
        ("double-answer", "def double(x):\n    return x + x + 1", {"double-visible", "double-hidden"}),
        # Right on the visible case only: the hidden tests catch it.
        ("double-answer", "def double(x):\n    return 4 if x == 2 else 0", {"double-hidden"}),
    ],
}

SOURCES = {p.parent.name: p for p in source_notebooks(SOLUTIONS)}
FIXTURE_SOURCES = {"99-fixture": FIXTURES / "99-fixture" / "99-fixture.ipynb"}
TIMEOUT = 120

# Figure and experiment cells that no check needs, skipped to keep these tests fast.
SKIP = {
    "00-loop-at-a-glance": {"setup-check", "data", "loop-run", "figure"},
    "01-data": {"datasets", "split-figure", "stratify-figure", "leak-figure", "once-split", "once-exp",
                "once-figure", "once-repeat", "leaks-figure", "kfold-demo", "co2-figure"},
    "02-models": {"params-plot", "softmax-fig", "init-fig", "init-hist", "module-demo", "module-check",
                  "random-fns", "init-overflow"},
    "03-losses": {"rewards-fig", "outlier-fit", "outlier-fig"},
    "04-gradients": {"relerr-compute", "relerr-figure", "habit-check", "habit-figure", "bug-figure",
                     "torch-check"},
    "05-optimizers": {"paths-run", "paths-figure", "explorer"},
    "06-training-loop": {"batches-figure", "steps-run", "numpy-run", "torch-run", "curves", "fit", "fit-figure"},
    "06b-compute-and-scale": {"data", "throughput-def", "throughput-run", "throughput-figure", "gpu", "cost-demo",
                              "dp-check", "ddp-real", "predict-run", "scale-table"},
    "07-generalization": {"capacity-sweep", "fits-figure", "learning-curves", "learning-curves-figure",
                          "weight-decay-figure", "weight-decay-fits", "early-stopping-run",
                          "early-stopping-figure", "early-stopping-builtin", "selection-run", "final-run",
                          "optimism-run", "optimism-figure", "underfit-fixes", "underfit-figure",
                          "diagnose-demo"},
    "08-language-modelling": {"bigram-figure", "bigram-heldout", "neural", "neural-figure", "sweep",
                              "sweep-figure", "samples", "samples-figure"},
}
# 09 and 10 need only their setup and answer cells: every other ungraded cell is skipped.
NEEDED = {"09-fine-tuning": {"setup", "prediction-answer", "memorised-answer", "freeze-answer", "finetune-answer",
                              "evaluate-answer", "choose-answer"},
          "10-debugging": {"setup", "prediction-answer", "initial-answer", "overfit-answer", "range-answer",
                           "suggest-answer", "overlap-answer", "permutation-answer"}}
# Slow test cells that only their own answer can change: judged only when that answer is replaced.
ONLY_FOR = {"08-language-modelling": {"context-tests": "context-answer"}}


def skipped(name: str, answer: str | None = None) -> set[str]:
    nb = nbformat.read(SOURCES[name], as_version=4)
    skip = set(SKIP.get(name, ()))
    if name in NEEDED:
        skip |= {nbgrader_meta(c)["grade_id"] for c in nb.cells if c.cell_type == "code"
                 and "grade_id" in nbgrader_meta(c) and not is_test_cell(c) and nbgrader_meta(c)["grade_id"]
                 not in NEEDED[name]}
    if answer is not None:
        skip |= {test for test, own in ONLY_FOR.get(name, {}).items() if own != answer}
    return skip


def _cases(table, sources):
    return [
        pytest.param(sources.get(name), name, answer, code, expected, id=f"{name}:{answer}:{i}")
        for name, entries in table.items()
        for i, (answer, code, expected) in enumerate(entries)
    ]


def test_every_exercise_has_a_wrong_answer():
    if not SOURCES:
        pytest.skip("solutions/ is empty: no exercises yet")
    missing = []
    for name, path in SOURCES.items():
        covered = {answer for answer, _, _ in WRONG.get(name, [])}
        missing += [f"{name}:{a}" for a in answer_cell_ids(nbformat.read(path, as_version=4))
                    if a not in covered]
    assert not missing, (
        f"exercises without a plausible wrong answer in tests/wrong_answers/: {missing}"
    )


def test_wrong_answer_table_names_real_cells():
    problems = []
    for name, entries in {**WRONG, **FIXTURE_WRONG}.items():
        path = SOURCES.get(name) or FIXTURE_SOURCES.get(name)
        if path is None:
            problems.append(f"{name}: no solutions/{name}/{name}.ipynb for its wrong answers")
            continue
        nb = nbformat.read(path, as_version=4)
        answers, tests = set(answer_cell_ids(nb)), set(graded_test_ids(nb))
        for answer, code, expected in entries:
            if answer not in answers:
                problems.append(f"{name}: {answer!r} is not an answer cell ({sorted(answers)})")
            if not expected or not expected <= tests:
                problems.append(f"{name}: {sorted(expected - tests) or 'empty set'} not test "
                                f"cells ({sorted(tests)})")
            if not isinstance(code, str) or not code.strip():
                problems.append(f"{name}: {answer!r} has no replacement source")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_the_reference_passes_every_check(name):
    verdicts = run_in_process(SOURCES[name], skip=skipped(name))
    failed = {gid: v.message for gid, v in verdicts.items() if not v.passed}
    assert verdicts and not failed, failed


@pytest.mark.parametrize("path, name, answer, code, expected", _cases(WRONG, SOURCES))
def test_wrong_answer_loses_only_its_points(path: Path, name, answer, code, expected):
    verdicts = run_in_process(path, replace={answer: code}, skip=skipped(name, answer))
    failed = {gid for gid, v in verdicts.items() if not v.passed}
    assert failed == expected, {gid: verdicts[gid].message for gid in failed ^ expected}
    for gid in expected:
        message = verdicts[gid].message.lower()
        assert any(words in message for words in ("expected", "likely mistake", "should")), (
            f"{gid}: the message should say what was expected: {verdicts[gid].message}")


@pytest.mark.slow
@pytest.mark.parametrize("path, name, answer, code, expected", _cases(FIXTURE_WRONG, FIXTURE_SOURCES))
def test_wrong_answer_loses_only_its_points_in_a_kernel(path: Path, name, answer, code, expected):
    results = run_with_replacement(path, answer, code, timeout=TIMEOUT)
    failed = {gid for gid, r in results.items() if not r.passed}
    assert failed == expected, {gid: results[gid].error for gid in failed ^ expected}


@pytest.mark.slow
@pytest.mark.parametrize(
    "path", list(SOURCES.values()) + list(FIXTURE_SOURCES.values()), ids=lambda p: p.parent.name
)
def test_solution_runs_top_to_bottom_cleanly(path: Path):
    """In the learner's kernel, as Run All does: no cell raises, no test cell writes to stderr."""
    nb = run_source(path, timeout=TIMEOUT, judged=False)
    errors = [
        f"cell {i} ({nbgrader_meta(c).get('grade_id', 'ungraded')}): {o.ename}: {o.evalue}"
        for i, c in enumerate(nb.cells) if c.cell_type == "code"
        for o in c.outputs if o.output_type == "error"
    ]
    assert not errors, f"{path.parent.name} raises:\n" + "\n".join(errors)
    noisy = [
        nbgrader_meta(c)["grade_id"] for c in nb.cells if is_test_cell(c)
        if any(o.output_type == "stream" and o.name == "stderr" for o in c.outputs)
    ]
    assert not noisy, f"{path.parent.name}: test cells write to stderr (nbgrader scores 0): {noisy}"
