"""Outcomes travel as data (issue 20, part 2): rewording a message changes no count.

What became of each graded test cell (``mlcourse.grading.outcomes``) is decided by the judge
and written in its record, ``metadata.mlcourse.judge.cells``; the class report and the
feedback page's table read it from there (and from the gradebook and the failures file),
never from a message. Fast tests drive the judge's account of a kernel's death with stand-ins
whose words mean nothing; a slow test grades a few submissions of 03-losses (the solution,
the release, a wrong answer, reference use, tampering, a kernel killed by ``os._exit`` while
a check ran, a file that is no notebook), then rewords every message, reason and output in
the graded notebooks and the failures file, and finds the same counts, kinds and flags.
"""

from __future__ import annotations

import asyncio
import hashlib
import json

import nbformat
import pytest
from nbformat.v4 import new_notebook
from nbtools import SOLUTIONS
from test_wrong_answers import WRONG

from grader import autograde, release, report
from grader.course import build_course
from grader.feedback_filter import FeedbackSummary
from mlcourse.grading import cells, outcomes
from mlcourse.grading.judge import JudgeMixin

NAME = "03-losses"


def reword(text) -> str:
    """Something else entirely, the same for the same text: no word of it is left."""
    return "zq-" + hashlib.sha1(str(text).encode()).hexdigest()[:10]


# ---- the judge's account of a kernel's death, from data --------------------------------------


class _Base:
    def reset_execution_trackers(self):
        pass

    def set_widgets_metadata(self):
        pass


class _Judge(JudgeMixin, _Base):
    def __init__(self, km):
        self.km, self.nb = km, new_notebook()
        self.reset_execution_trackers()


class _Witness:
    """A provisioner that answers the judge (``outcomes.KernelWitness``) in meaningless words."""

    has_process, process = True, None

    def __init__(self, death=None, at_cap=None, peak=None):
        self._death, self._at_cap, self._peak, self.killed = death, at_cap, peak, False

    def death(self):
        return self._death

    def at_memory_cap(self):
        return self._at_cap

    def peak_memory(self):
        return self._peak

    async def kill(self, restart=False):
        self.killed = True

    async def wait(self):
        self.has_process = False


class _Process:
    def __init__(self, code):
        self.code = code

    def poll(self):
        return self.code


class _Provisioner:
    """A stock provisioner: the judge can only read its process's exit status."""

    def __init__(self, code):
        self.process = _Process(code)


class _Km:
    def __init__(self, provisioner):
        self.provisioner = provisioner


def _killed(judge) -> dict:
    return dict(judge._judge_record()["killed"])


def test_the_witness_says_why_the_kernel_died_in_any_words():
    judge = _Judge(_Km(_Witness(death=outcomes.Death(outcomes.MEMORY, reword("memory")))))
    assert isinstance(judge.km.provisioner, outcomes.KernelWitness)
    judge._judge_died("in cell `x`")
    killed = _killed(judge)
    assert (killed["cause"], killed["kind"]) == (outcomes.MEMORY, outcomes.killed(outcomes.MEMORY)), killed
    assert reword("memory") in killed["reason"], "the words are kept, to be shown"


def test_without_a_witness_the_exit_status_decides():
    for code, cause in ((-9, outcomes.SIGNAL), (137, outcomes.SIGNAL), (3, outcomes.EXIT), (None, outcomes.STOPPED)):
        judge = _Judge(_Km(_Provisioner(code)))
        judge._judge_died("in cell `x`")
        assert _killed(judge)["cause"] == cause, (code, _killed(judge))
    # A witness that knows nothing better leaves it to the exit status too.
    witness = _Witness()
    witness.process = _Process(-9)
    judge = _Judge(_Km(witness))
    judge._judge_died("in cell `x`")
    assert _killed(judge)["cause"] == outcomes.SIGNAL


def test_a_kernel_stopped_for_its_time_is_killed_and_named_for_time_or_memory():
    for at_cap, cause in ((None, outcomes.TIME), (outcomes.Death(outcomes.MEMORY, reword("cap")), outcomes.MEMORY)):
        witness = _Witness(at_cap=at_cap, peak=123_456)
        judge = _Judge(_Km(witness))
        asyncio.run(judge._judge_stop_for_time("in cell `x`", reword("time")))
        assert witness.killed and not witness.has_process, "killed through the provisioner, and waited for"
        assert _killed(judge)["cause"] == cause
        judge.set_widgets_metadata()
        assert judge._judge_record()["peak_memory"] == 123_456


def test_a_verdict_carries_its_kind_as_data():
    verdict = cells.Verdict(passed=False, message=reword("no"))
    assert verdict.kind == outcomes.FAILED and verdict.record() == {"kind": outcomes.FAILED}
    killed = cells.Verdict(passed=False, kind=outcomes.killed(outcomes.EXIT))
    assert killed.record() == {"kind": "killed: exit", "cause": outcomes.EXIT}
    with pytest.raises(ValueError, match="not a kind"):
        cells.Verdict(passed=False, kind="kernel died somehow")


# ---- a graded class, reworded ----------------------------------------------------------------


def _answer(nb, grade_id: str, source: str):
    next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id).source = source
    return nb


def _submissions(course) -> dict[str, str | None]:
    solved = lambda: nbformat.read(SOLUTIONS / NAME / f"{NAME}.ipynb", as_version=4)  # noqa: E731
    grade_id, wrong, _ = WRONG[NAME][0]
    tamper = solved()
    tamper.cells.insert(3, nbformat.v4.new_code_cell("import gc\nfound = gc.get_objects()\n"))
    return {
        "solution": nbformat.writes(solved()),
        "release": (course.release_dir / NAME / f"{NAME}.ipynb").read_text(encoding="utf-8"),
        "wrong": nbformat.writes(_answer(solved(), grade_id, wrong)),
        "reference": nbformat.writes(_answer(solved(), "mse-answer", "from mlcourse.losses import mse\n")),
        "tamper": nbformat.writes(tamper),
        "killed": nbformat.writes(_answer(solved(), "mse-answer", (
            "def mse(y_hat, y, reduction='mean'):\n    import os\n    os._exit(4)\n"))),
        "rejected": '{"cells": [ this is not json',
    }


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory, course_env):
    import os

    os.environ["PATH"] = course_env["PATH"]
    course = build_course(tmp_path_factory.mktemp("outcomes"), [SOLUTIONS / NAME])
    release.generate(course, NAME)
    for student, text in _submissions(course).items():
        folder = course.submitted / student / NAME
        folder.mkdir(parents=True)
        (folder / f"{NAME}.ipynb").write_text(text, encoding="utf-8")
    autograde.grade(course, workers=0, echo=lambda line: None)
    return course


def _reword_notebook(path) -> None:
    """Every output's text, every name of an error and every reason in the judge's record
    reworded; grade ids, points and kinds (data) kept."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            for key in ("ename", "evalue", "text"):
                if key in out:
                    out[key] = reword(out[key])
            if "traceback" in out:
                out["traceback"] = [reword(line) for line in out["traceback"]]
            for mime in out.get("data", {}):
                if mime.startswith("text/"):
                    out["data"][mime] = reword(out["data"][mime])
    record = nb["metadata"]["mlcourse"]["judge"]
    if record.get("killed"):
        record["killed"].update(reason=reword(record["killed"]["reason"]), where=reword(record["killed"]["where"]))
    record["refused"] = [reword(line) for line in record["refused"]]
    record["references"] = {path: [reword(w) for w in where] for path, where in record["references"].items()}
    record["reference_use"] = [{**u, "reason": reword(u["reason"])} for u in record["reference_use"]]
    path.write_text(json.dumps(nb), encoding="utf-8")


def _counts(course) -> dict:
    """Everything the report and the feedback table count, without a word of any message."""
    data = report.collect(course)
    subs = {s.student: (s.score, s.kind, dict(s.points), dict(s.kinds), sorted(s.messages),
                        sorted(kind for kind, _ in s.flags)) for s in data.submissions}
    stats = [(e.name, e.points, e.graded, e.passed, e.mean, e.kinds, sum(n for _, n in e.top))
             for e in report.exercise_stats(data, NAME)]
    return {"submissions": subs, "stats": stats, "feedback": _feedback_rows(course, data)}


def _feedback_rows(course, data) -> dict:
    """FeedbackSummary's table of each graded notebook, as the page would show it (the
    points nbgrader's GetGrades puts in each cell's metadata, from the gradebook)."""
    rows = {}
    for sub in data.submissions:
        if sub.rejected:
            continue
        nb = nbformat.read(course.root / "autograded" / sub.student / NAME / f"{NAME}.ipynb", as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade_id") in sub.points:
                meta["score"], meta["points"] = sub.points[meta["grade_id"]]
        _, resources = FeedbackSummary().preprocess(nb, {})
        rows[sub.student] = [{k: v for k, v in row.items() if k != "message"}
                             for row in resources["mlcourse"]["exercises"]]
    return rows


@pytest.mark.slow
def test_each_outcome_is_data_and_rewording_every_message_changes_no_count(graded_class, tmp_path):
    course = graded_class
    before = _counts(course)
    subs = before["submissions"]
    kinds = {student: s[3] for student, s in subs.items()}
    flags = {student: set(s[5]) for student, s in subs.items()}
    # What became of each submission, as data.
    assert set(kinds["solution"].values()) == {outcomes.PASSED} and flags["solution"] == set()
    assert set(kinds["release"].values()) == {outcomes.FAILED}, kinds["release"]
    failing = WRONG[NAME][0][2]
    assert {g for g, k in kinds["wrong"].items() if k != outcomes.PASSED} == failing, kinds["wrong"]
    assert set(kinds["wrong"].values()) == {outcomes.PASSED, outcomes.FAILED}
    mse = {g for g in kinds["reference"] if g.startswith("mse")}
    assert {g for g, k in kinds["reference"].items() if k == outcomes.REFERENCE_USE} == mse, kinds["reference"]
    assert flags["reference"] == {outcomes.REFERENCE_USE}
    assert set(kinds["tamper"].values()) == {outcomes.TAMPERING} and flags["tamper"] == {outcomes.TAMPERING}
    # the kernel died while mse-tests' checks called mse; no later cell ran
    killed = dict(kinds["killed"])
    assert killed.pop("mse-tests") == outcomes.killed(outcomes.EXIT), kinds["killed"]
    assert set(killed.values()) == {outcomes.NOT_RUN}, kinds["killed"]
    assert flags["killed"] == {"killed"}
    assert subs["rejected"][1] == outcomes.REJECTED and flags["rejected"] == {outcomes.REJECTED}
    record = report.judge_record(json.loads(
        (course.root / "autograded" / "killed" / NAME / f"{NAME}.ipynb").read_text(encoding="utf-8")))
    assert record["killed"]["cause"] == outcomes.EXIT and "peak_memory" in record, record
    # The report's numbers agree with the kinds: a cell passes exactly when the judge said so.
    stats = {s[0]: s for s in before["stats"]}
    for gid, (_, _, graded, passed, _, by_kind, _) in stats.items():
        assert by_kind.get(outcomes.PASSED, 0) == passed and sum(by_kind.values()) == graded, stats[gid]
    for student, rows in before["feedback"].items():
        assert {r["grade_id"]: r["kind"] for r in rows} == subs[student][3], student
        assert all(r["passed"] == (r["kind"] == outcomes.PASSED) for r in rows), rows

    # Reword every message, output and reason; every count stays.
    for path in (course.root / "autograded").glob(f"*/{NAME}/{NAME}.ipynb"):
        _reword_notebook(path)
    failures = json.loads(course.failures_file.read_text(encoding="utf-8"))
    assert failures, "control: a submission could not be graded"
    course.failures_file.write_text(json.dumps({k: reword(v) for k, v in failures.items()}), encoding="utf-8")
    after = _counts(course)
    assert after == before
