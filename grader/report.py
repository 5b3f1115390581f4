"""The class report: how the class did, exercise by exercise, and what needs a look.

    python -m grader.pipeline report        # or: make report

reads the gradebook, the submissions that could not be graded (``.work/failures.json``)
and the graded notebooks (``autograded/``), and writes beside ``grades.csv``

- ``report.html``: one page that needs no network (its figures are inline PNGs, it loads
  no script, font or stylesheet): per assignment, the score histogram, the mean and
  median, and per graded test cell the pass rate and the three most frequent failure
  messages with the likely mistake each names; the learners who did not submit; and the
  submissions flagged while grading (killed by the sandbox, out of time, reference use,
  code that reached into the grading, files that could not be graded, late work); and the
  similar answers (``report_similar``). The page is written by ``report_page``;
- ``report.csv``: the same numbers, one row per exercise and one per assignment; a
  cell a spreadsheet would read as a formula is written as text (``gradebook.csv_safe``).

Every count is read from data: points from the gradebook; what became of each graded test
cell (``mlcourse.grading.outcomes``: passed, failed, not run, reference use, tampering,
killed and why) and the flags from the judge's own record in each graded notebook's
metadata (``judge_record``); the submissions that could not be graded from the failures
file's keys. Messages, a learner's code can print anything, are only shown and grouped:
rewording one changes no count. They are grouped once their numbers are replaced by ``#``:
"expected 1.66667, got 5" and "expected 2.5, got 7.5" are the same mistake made on
different data.
"""

from __future__ import annotations

import csv
import json
import re
import statistics
from collections import Counter
from pathlib import Path

from grader.gradebook import csv_safe_row, grade_row, load_failures
from grader.jobs import COURSE_ERROR as NOT_GRADED
from grader.report_data import ClassData, ExerciseStats, Submission
from grader.report_page import render
from grader.report_similar import similar_answers
from mlcourse.grading import outcomes

__all__ = ["ClassData", "ExerciseStats", "Submission", "collect", "exercise_stats", "judge_record",
           "normalise", "render", "write"]

HTML_NAME, CSV_NAME = "report.html", "report.csv"
TOP = 3  # failure messages shown per exercise
CSV_FIELDS = ("assignment", "exercise", "points", "graded", "passed", "pass_rate", "mean_points",
              *(f"{part}_{i}" for i in range(1, TOP + 1) for part in ("message", "count")))

# A number that stands alone (not part of a name such as nb03 or x1).
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w])")


def _parts(message: str) -> tuple[str, str]:
    """(headline, likely mistake) of a failure message, as written."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return "(no message)", ""
    head = re.sub(r"^(GradingError|AssertionError): ", "", lines[0])
    mistake = next((line.removeprefix("likely mistake:").strip() for line in lines
                    if line.startswith("likely mistake:")), "")
    return head, mistake


def normalise(message: str) -> tuple[str, str]:
    """(headline, likely mistake) of a failure message, numbers replaced by ``#``: the key
    that groups the same mistake made on different data."""
    head, mistake = _parts(message)
    return _NUMBER.sub("#", head), _NUMBER.sub("#", mistake)


# ---- reading what grading left --------------------------------------------------------------


def collect(course) -> ClassData:
    """Everything the report shows, from the gradebook, the failures file and the graded
    notebooks of ``course`` (a ``course.Course``)."""
    subs: dict[tuple[str, str], Submission] = {}
    with course.gradebook() as gb:
        students = sorted(s.id for s in gb.students)
        max_score = {a.name: float(a.max_score) for a in gb.assignments}
        exercises = {a.name: {c.name: float(c.max_score) for nb in a.notebooks for c in nb.grade_cells}
                     for a in gb.assignments}
        for a in gb.assignments:
            for s in a.submissions:
                row = grade_row(course, a.name, s.student.id, gb)
                sub = Submission(s.student.id, a.name, row.score, row.max_score)
                for nb in s.notebooks:
                    sub.points.update({g.name: (float(g.score or 0.0), float(g.max_score))
                                       for g in nb.grades})
                late = _late_flag(s)
                if late:
                    sub.flags.append(("late", late))
                subs[s.student.id, a.name] = sub
    for key, reason in load_failures(course).items():
        student, assignment = key.split("/", 1)
        if (course.submitted / student / assignment).is_dir():
            # a course error is flagged as the course's, never as the learner's refusal
            flag = outcomes.COURSE_ERROR if reason.startswith(NOT_GRADED) else outcomes.REJECTED
            subs[student, assignment] = Submission(
                student, assignment, 0.0, max_score.get(assignment, 0.0), reason,
                flags=[(flag, reason)], kind=outcomes.REJECTED)
    waiting = {(f.parent.parent.name, f.parent.name) for f in course.submitted.glob("*/*/*.ipynb")
               if f.parent.name in max_score} - set(subs)
    for sub in subs.values():
        if not sub.rejected:
            _read_graded(course.root / "autograded" / sub.student / sub.assignment / f"{sub.assignment}.ipynb", sub)
    ordered = [subs[k] for k in sorted(subs)]
    return ClassData(students, max_score, waiting, exercises, ordered, similar_answers(course, ordered))


def _late_flag(submission) -> str:
    """Why a submission is late, or "" when it is not: nbgrader records the lateness
    (``total_seconds_late``) whatever the penalty, and the default policy (penalty_method
    "none") charges nothing for it, which the flag says rather than hiding the lateness."""
    seconds = float(submission.total_seconds_late or 0.0)
    if seconds <= 0:
        return ""
    penalty = sum(float(nb.late_submission_penalty or 0.0) for nb in submission.notebooks)
    charged = f"penalty {penalty:g} points" if penalty else "no penalty taken"
    by = f"{seconds / 3600:.1f} h" if seconds >= 360 else f"{seconds:.0f} s"
    return f"late by {by}; {charged}"


def _read_graded(path: Path, sub: Submission) -> None:
    """The failure messages (to show), the kinds and the flags of one graded notebook."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        sub.flags.append(("unreadable", f"graded notebook not readable: {exc}"))
        return
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        gid = meta.get("grade_id")
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        text = "\n".join(str(o.get("evalue", "")) for o in errors)
        if gid in sub.points and meta.get("grade") and sub.points[gid][0] < sub.points[gid][1]:
            sub.messages[gid] = text or "(no message: the cell produced no error)"
    _flags_from_record(nb, sub)


def judge_record(nb: dict) -> dict | None:
    """The judge's own account of a judged run (``metadata.mlcourse.judge``, written by
    ``mlcourse.grading.judge`` and started afresh by every judged run), or None for a
    notebook that was not judged."""
    meta = nb.get("metadata")
    record = meta.get("mlcourse", {}).get("judge") if isinstance(meta, dict) and \
        isinstance(meta.get("mlcourse"), dict) else None
    return record if isinstance(record, dict) and record.get("version") else None


def cell_kinds(record: dict | None) -> dict[str, str]:
    """grade_id -> what became of that graded test cell (an ``outcomes.CELL_KINDS``), from
    the judge's record; an entry that is not one is left out."""
    cells = record.get("cells") if isinstance(record, dict) else None
    if not isinstance(cells, dict):
        return {}
    return {str(gid): entry["kind"] for gid, entry in cells.items()
            if isinstance(entry, dict) and entry.get("kind") in outcomes.CELL_KINDS}


def _flags_from_record(nb: dict, sub: Submission) -> None:
    """What became of each graded test cell, and the flags killed, timeout, reference use
    and tampering, read from the judge's record only: an output's name or text is the
    learner's to print (a learner can raise their own ``KernelDied("kernel killed: memory
    ...")``), so no kind or flag ever comes from one; the reasons are only shown."""
    record = judge_record(nb)
    if record is None:
        return
    sub.kinds = cell_kinds(record)
    killed = record.get("killed")
    if isinstance(killed, dict):
        # version 1 of the record named the cause "kind"
        cause = killed.get("cause") or outcomes.cause_of(killed.get("kind")) or killed.get("kind")
        reason = str(killed.get("reason") or f"kernel killed ({cause or 'died'})")
        _flag_once(sub, "timeout" if cause == outcomes.TIME else "killed", reason)
    references = record.get("references")
    if isinstance(references, dict):
        for path, where in sorted(references.items()):
            cells = ", ".join(map(str, where)) if isinstance(where, list) else str(where)
            _flag_once(sub, outcomes.REFERENCE_USE, f"{path} ({cells})" if cells else str(path))
    used = {str(u.get("cell")) for u in record.get("reference_use") or [] if isinstance(u, dict)}
    used |= {gid for gid, kind in sub.kinds.items() if kind == outcomes.REFERENCE_USE}
    if used and not references:  # refused while a check ran (the guards), not found by the scan
        _flag_once(sub, outcomes.REFERENCE_USE, "refused while checks ran, in " + ", ".join(sorted(used)))
    refused = record.get("refused")
    if isinstance(refused, list) and refused:
        _flag_once(sub, outcomes.TAMPERING, "; ".join(str(line).strip() for line in refused))


def _flag_once(sub: Submission, kind: str, reason: str) -> None:
    if (kind, reason) not in sub.flags:
        sub.flags.append((kind, reason))


# ---- numbers -----------------------------------------------------------------------------------


def exercise_stats(data: ClassData, assignment: str) -> list[ExerciseStats]:
    graded = [s for s in data.submissions if s.assignment == assignment and not s.rejected]
    stats = []
    for name, points in sorted(data.exercises.get(assignment, {}).items()):
        scores = [s.points[name][0] for s in graded if name in s.points]
        passed = sum(1 for s in graded if name in s.points and s.points[name][0] >= s.points[name][1])
        counts: Counter = Counter()
        written: dict[tuple[str, str], Counter] = {}
        for s in graded:
            if name in s.messages:
                key = normalise(s.messages[name])
                counts[key] += 1
                # Shown as written: "a missing 1/2" says more than "a missing #/#".
                written.setdefault(key, Counter())[_parts(s.messages[name])[1]] += 1
        top = [((key[0], written[key].most_common(1)[0][0]), n) for key, n in counts.most_common(TOP)]
        kinds = Counter(s.kinds[name] for s in graded if name in s.kinds)
        stats.append(ExerciseStats(name, points, len(scores), passed,
                                   statistics.fmean(scores) if scores else 0.0, top,
                                   dict(sorted(kinds.items()))))
    return stats


# ---- writing -----------------------------------------------------------------------------------


def write(course, out_dir: Path | None = None) -> list[Path]:
    """Write report.html and report.csv (beside grades.csv unless ``out_dir``)."""
    data = collect(course)
    out = Path(out_dir) if out_dir is not None else course.grades_csv.parent
    out.mkdir(parents=True, exist_ok=True)
    stats = {a: exercise_stats(data, a) for a in sorted(data.max_score)}
    (out / HTML_NAME).write_text(render(data, stats), encoding="utf-8")
    with open(out / CSV_NAME, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for assignment, rows in stats.items():
            scores = [s.score for s in data.submissions if s.assignment == assignment]
            writer.writerow(csv_safe_row({
                "assignment": assignment, "exercise": "(total)",
                "points": f"{data.max_score[assignment]:g}", "graded": len(scores),
                "mean_points": f"{statistics.fmean(scores):.3f}" if scores else ""}))
            for ex in rows:
                row = {"assignment": assignment, "exercise": ex.name, "points": f"{ex.points:g}",
                       "graded": ex.graded, "passed": ex.passed, "pass_rate": f"{ex.pass_rate:.3f}",
                       "mean_points": f"{ex.mean:.3f}"}
                for i, ((head, mistake), count) in enumerate(ex.top, start=1):
                    row[f"message_{i}"] = head + (f" | likely mistake: {mistake}" if mistake else "")
                    row[f"count_{i}"] = count
                writer.writerow(csv_safe_row(row))
    return [out / HTML_NAME, out / CSV_NAME]
