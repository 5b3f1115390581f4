"""The class report: how the class did, exercise by exercise, and what needs a look.

    python -m grader.pipeline report        # or: make report

reads the gradebook, the submissions that could not be graded (``.work/failures.json``)
and the graded notebooks (``autograded/``), and writes beside ``grades.csv``

- ``report.html``: one page that needs no network (its figures are inline PNGs, it loads
  no script, font or stylesheet): per assignment, the score histogram, the mean and
  median, and per graded test cell the pass rate and the three most frequent failure
  messages with the likely mistake each names; the learners who did not submit; and the
  submissions flagged while grading (killed by the sandbox, out of time, reference use,
  code that reached into the grading, files that could not be graded, late work);
  killed, out of time, reference use and tampering are read from the judge's own record
  in each graded notebook's metadata, never from what a learner's code printed or raised;
  every learner string on the page is escaped, and the page carries the feedback page's
  Content-Security-Policy (no script, no request: ``feedback_filter.CSP``); and the similar
  answers: each answer cell beside the reference, the course's solution and classmates'
  answers to the same exercise (``mlcourse.grading.similarity``), with the matching lines
  side by side, shown to the instructor and never scored;
- ``report.csv``: the same numbers, one row per exercise and one per assignment; a
  cell a spreadsheet would read as a formula is written as text (``pipeline.csv_safe``).

Messages are grouped once their numbers are replaced by ``#``: "expected 1.66667, got 5"
and "expected 2.5, got 7.5" are the same mistake made on different data.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import re
import statistics
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HTML_NAME, CSV_NAME = "report.html", "report.csv"
TOP = 3  # failure messages shown per exercise
CSV_FIELDS = ("assignment", "exercise", "points", "graded", "passed", "pass_rate", "mean_points",
              *(f"{part}_{i}" for i in range(1, TOP + 1) for part in ("message", "count")))

# A number that stands alone (not part of a name such as nb03 or x1).
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w])")


@dataclass
class Submission:
    """One learner's graded (or rejected) submission of one assignment."""

    student: str
    assignment: str
    score: float = 0.0
    max_score: float = 0.0
    error: str = ""                                           # why it could not be graded
    points: dict[str, tuple[float, float]] = field(default_factory=dict)  # exercise -> (score, max)
    messages: dict[str, str] = field(default_factory=dict)    # failed exercise -> message
    flags: list[tuple[str, str]] = field(default_factory=list)  # (kind, reason)


@dataclass
class ClassData:
    students: list[str]
    max_score: dict[str, float]                  # assignment -> points possible
    waiting: set[tuple[str, str]]                # (student, assignment) submitted, not graded yet
    exercises: dict[str, dict[str, float]]       # assignment -> exercise -> points
    submissions: list[Submission]
    # assignment -> answers that are near-copies (mlcourse.grading.similarity.ClassSimilarity)
    similar: dict = field(default_factory=dict)


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
    notebooks of ``course`` (a ``pipeline.Course``)."""
    from grader import pipeline

    subs: dict[tuple[str, str], Submission] = {}
    with course.gradebook() as gb:
        students = sorted(s.id for s in gb.students)
        max_score = {a.name: float(a.max_score) for a in gb.assignments}
        exercises = {a.name: {c.name: float(c.max_score) for nb in a.notebooks for c in nb.grade_cells}
                     for a in gb.assignments}
        for a in gb.assignments:
            for s in a.submissions:
                row = pipeline._row_from_gradebook(course, a.name, s.student.id, gb)
                sub = Submission(s.student.id, a.name, row.score, row.max_score)
                for nb in s.notebooks:
                    sub.points.update({g.name: (float(g.score or 0.0), float(g.max_score))
                                       for g in nb.grades})
                    if nb.late_submission_penalty:
                        sub.flags.append(("late", f"late by {s.total_seconds_late / 3600:.1f} h; "
                                                  f"penalty {nb.late_submission_penalty:g} points"))
                subs[s.student.id, a.name] = sub
    for key, reason in pipeline._load_failures(course).items():
        student, assignment = key.split("/", 1)
        if (course.submitted / student / assignment).is_dir():
            subs[student, assignment] = Submission(student, assignment, 0.0,
                                                   max_score.get(assignment, 0.0), reason,
                                                   flags=[("rejected", reason)])
    waiting = {(f.parent.parent.name, f.parent.name) for f in course.submitted.glob("*/*/*.ipynb")
               if f.parent.name in max_score} - set(subs)
    for sub in subs.values():
        if not sub.error:
            _read_graded(course.root / "autograded" / sub.student / sub.assignment / f"{sub.assignment}.ipynb", sub)
    return ClassData(students, max_score, waiting, exercises, [subs[k] for k in sorted(subs)],
                     _similar_answers(course, [subs[k] for k in sorted(subs)]))


def _read_graded(path: Path, sub: Submission) -> None:
    """The failure messages and the flags of one graded notebook."""
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


def _flags_from_record(nb: dict, sub: Submission) -> None:
    """Killed, timeout, reference use and tampering, read from the judge's record only:
    an output's name or text is the learner's to print (a learner can raise their own
    ``KernelDied("kernel killed: memory ...")``), so no flag ever comes from one."""
    record = judge_record(nb)
    if record is None:
        return
    killed = record.get("killed")
    if isinstance(killed, dict):
        reason = str(killed.get("reason") or f"kernel killed ({killed.get('kind', 'died')})")
        _flag_once(sub, "timeout" if killed.get("kind") == "time" else "killed", reason)
    references = record.get("references")
    if isinstance(references, dict):
        for path, where in sorted(references.items()):
            cells = ", ".join(map(str, where)) if isinstance(where, list) else str(where)
            _flag_once(sub, "reference use", f"{path} ({cells})" if cells else str(path))
    used = [u for u in record.get("reference_use") or [] if isinstance(u, dict)]
    if used and not references:  # refused while a check ran (the guards), not found by the scan
        _flag_once(sub, "reference use", "refused while checks ran, in " +
                   ", ".join(sorted({str(u.get("cell")) for u in used})))
    refused = record.get("refused")
    if isinstance(refused, list) and refused:
        _flag_once(sub, "tampering", "; ".join(str(line).strip() for line in refused))


def _flag_once(sub: Submission, kind: str, reason: str) -> None:
    if (kind, reason) not in sub.flags:
        sub.flags.append((kind, reason))


# ---- numbers -----------------------------------------------------------------------------------


@dataclass
class ExerciseStats:
    name: str
    points: float
    graded: int
    passed: int
    mean: float
    # ((headline with numbers as #, the likely mistake as most often written), count)
    top: list[tuple[tuple[str, str], int]]

    @property
    def pass_rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


def exercise_stats(data: ClassData, assignment: str) -> list[ExerciseStats]:
    graded = [s for s in data.submissions if s.assignment == assignment and not s.error]
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
        stats.append(ExerciseStats(name, points, len(scores), passed,
                                   statistics.fmean(scores) if scores else 0.0, top))
    return stats


def histogram_png(scores: list[float], max_score: float, title: str) -> str:
    """A base64 PNG of the score distribution."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 2.6), dpi=110)
    top = max(max_score, max(scores, default=0.0), 1.0)
    width = 1.0 if top <= 30 else top / 30
    edges = [i * width - width / 2 for i in range(int(top / width) + 2)]
    ax.hist(scores, bins=edges, color="#4878a8", edgecolor="white")
    if scores:
        mean = statistics.fmean(scores)
        ax.axvline(mean, color="#c0392b", lw=1.5, label=f"mean {mean:.1f}")
        ax.legend(frameon=False, loc="upper left")
    ax.set_xlim(-width, top + width)
    ax.set_xlabel(f"score (of {max_score:g})")
    ax.set_ylabel("submissions")
    ax.set_title(title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


# ---- writing -----------------------------------------------------------------------------------


def write(course, out_dir: Path | None = None) -> list[Path]:
    """Write report.html and report.csv (beside grades.csv unless ``out_dir``)."""
    from grader import pipeline

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
            writer.writerow(pipeline.csv_safe_row({
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
                writer.writerow(pipeline.csv_safe_row(row))
    return [out / HTML_NAME, out / CSV_NAME]


def _e(text) -> str:
    return html.escape(str(text))


STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; color: #222; max-width: 1100px; margin: 1.5em auto; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0 1em; width: 100%; }
table.pair { table-layout: fixed; } table.pair td { width: 50%; vertical-align: top; }
table.pair pre { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 12px; margin: 0; }
th, td { text-align: left; vertical-align: top; padding: 0.3em 0.6em; border-bottom: 1px solid #e3e3e3; }
th { background: #f4f4f4; } td.num { text-align: right; white-space: nowrap; }
.bar { display: inline-block; height: 0.8em; background: #4878a8; vertical-align: middle; }
.msg { font-family: ui-monospace, monospace; font-size: 0.92em; }
.mistake { color: #7a4b00; } .muted { color: #777; }
.flag { font-weight: 600; white-space: nowrap; }
td.name { white-space: nowrap; }
"""


def render(data: ClassData, stats: dict[str, list[ExerciseStats]]) -> str:
    from grader.feedback_filter import CSP_META

    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'>{CSP_META}<title>Class report</title>"
             f"<style>{STYLE}</style></head><body>",
             f"<h1>Class report</h1><p>{len(data.students)} learners in the gradebook, "
             f"{len(data.submissions)} submissions, "
             f"{sum(1 for s in data.submissions if s.error)} of them could not be graded"
             + (f", {len(data.waiting)} waiting to be graded (run <code>make grade</code>)"
                if data.waiting else "") + ".</p>",
             "<table><tr><th>Assignment</th><th>Submitted</th><th>Could not be graded</th>"
             "<th>Mean</th><th>Median</th><th>Points possible</th></tr>"]
    for assignment in sorted(data.max_score):
        subs = [s for s in data.submissions if s.assignment == assignment]
        scores = [s.score for s in subs]
        parts.append(
            f"<tr><td><a href='#{_e(assignment)}'>{_e(assignment)}</a></td>"
            f"<td class='num'>{len(subs)} of {len(data.students)}</td>"
            f"<td class='num'>{sum(1 for s in subs if s.error)}</td>"
            f"<td class='num'>{statistics.fmean(scores) if scores else 0:.2f}</td>"
            f"<td class='num'>{statistics.median(scores) if scores else 0:g}</td>"
            f"<td class='num'>{data.max_score[assignment]:g}</td></tr>")
    parts.append("</table>")
    for assignment in sorted(data.max_score):
        parts.append(_assignment_section(data, assignment, stats[assignment]))
    parts.append(_missing_section(data))
    parts.append(_flag_section(data))
    parts.append(_similar_section(data))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _assignment_section(data: ClassData, assignment: str, rows: list[ExerciseStats]) -> str:
    subs = [s for s in data.submissions if s.assignment == assignment]
    scores = [s.score for s in subs]
    png = histogram_png(scores, data.max_score[assignment], f"{assignment}: {len(scores)} submissions")
    out = [f"<h2 id='{_e(assignment)}'>{_e(assignment)}</h2>",
           f"<p>Mean {statistics.fmean(scores) if scores else 0:.2f} of "
           f"{data.max_score[assignment]:g} points over {len(scores)} submissions "
           f"(a submission that could not be graded counts as 0).</p>",
           f"<img alt='histogram of {_e(assignment)} scores' src='data:image/png;base64,{png}'>",
           "<table><tr><th>Exercise</th><th>Points</th><th>Passed</th><th>Most frequent failures "
           "(numbers as #)</th></tr>"]
    for ex in rows:
        failures = ex.graded - ex.passed
        items = "".join(
            f"<li><span class='msg'>{_e(head)}</span> <span class='muted'>× {count}</span>"
            + (f"<br><span class='mistake'>likely mistake: {_e(mistake)}</span>" if mistake else "")
            + "</li>"
            for (head, mistake), count in ex.top)
        out.append(
            f"<tr><td class='name'><code>{_e(ex.name)}</code></td><td class='num'>{ex.points:g}</td>"
            f"<td class='num'>{ex.pass_rate:.0%} <span class='bar' style='width:{60 * ex.pass_rate:.0f}px'>"
            f"</span><br><span class='muted'>{ex.passed} of {ex.graded}</span></td>"
            f"<td>{'<ol>' + items + '</ol>' if items else '<span class=muted>no failures</span>'}"
            + (f"<span class='muted'>{failures} failed in all</span>" if failures else "") + "</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def _missing_section(data: ClassData) -> str:
    out = ["<h2 id='missing'>Did not submit</h2>"]
    handed = {(s.student, s.assignment) for s in data.submissions} | data.waiting
    any_missing = False
    for assignment in sorted(data.max_score):
        missing = [s for s in data.students if (s, assignment) not in handed]
        if missing:
            any_missing = True
            out.append(f"<p><b>{_e(assignment)}</b> ({len(missing)}): "
                       f"{', '.join(_e(s) for s in missing)}</p>")
    if not any_missing:
        out.append("<p>Every learner in the gradebook submitted every assignment.</p>")
    return "\n".join(out)


def _flag_section(data: ClassData) -> str:
    flagged = [(s, kind, reason) for s in data.submissions for kind, reason in s.flags]
    out = [f"<h2 id='flagged'>Flagged while grading ({len(flagged)})</h2>"]
    if not flagged:
        out.append("<p>Nothing was flagged.</p>")
        return "\n".join(out)
    counts = Counter(kind for _, kind, _ in flagged)
    out.append("<p>" + ", ".join(f"{_e(k)}: {n}" for k, n in counts.most_common()) + "</p>")
    out.append("<table><tr><th>Learner</th><th>Assignment</th><th>Flag</th><th>Why</th></tr>")
    for s, kind, reason in sorted(flagged, key=lambda f: (f[1], f[0].assignment, f[0].student)):
        out.append(f"<tr><td class='name'>{_e(s.student)}</td><td class='name'>{_e(s.assignment)}</td>"
                   f"<td class='flag'>{_e(kind)}</td><td class='msg'>{_e(reason)}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


# ---- similar answers -----------------------------------------------------------------------------


def _similar_answers(course, subs: list[Submission]) -> dict:
    """Per assignment, the answers that are near-copies of the reference, the course's
    solution or a classmate's answer (``mlcourse.grading.similarity``: the learners' cells
    are read as text, never imported or run). Shown, never scored."""
    from mlcourse.grading import similarity

    found = {}
    for assignment in sorted({s.assignment for s in subs}):
        source = course.source_notebook(assignment)
        learners = {}
        for sub in subs:
            path = course.root / "autograded" / sub.student / assignment / f"{assignment}.ipynb"
            if sub.assignment != assignment or sub.error or not path.is_file():
                continue
            try:
                learners[sub.student] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue   # flagged "unreadable" already
        if not learners or not source.is_file():
            continue
        try:
            found[assignment] = similarity.compare_class(
                json.loads(source.read_text(encoding="utf-8")), learners)
        except (OSError, ValueError):
            continue
    return found


def _similar_section(data: ClassData) -> str:
    from mlcourse.grading import similarity as sim

    matches = [(a, m) for a, found in sorted(data.similar.items()) for m in found.matches]
    out = [f"<h2 id='similar'>Similar answers ({len(matches)})</h2>",
           "<p>Each answer is compared with the reference implementation its checks name, the "
           "course's solution and every classmate's answer to the same exercise, by a measure "
           "that renamed variables, reformatting, comments, docstrings and reordered lines do "
           f"not fool. An answer is listed when {sim.THRESHOLD:.0%} of the smaller side's "
           f"fingerprints ({sim.K}-node pieces of its syntax tree) are in the other; an answer "
           f"of fewer than {sim.MIN_STATEMENTS} statements is never listed, since honest "
           "answers to a one-line exercise are all alike. The code handed out in the notebook "
           "does not count. A listing is something to look at, not a verdict: it changes no "
           "score.</p>"]
    small = [(a, ex, n) for a, found in sorted(data.similar.items())
             for ex, n in sorted(found.too_small.items())]
    if small:
        out.append("<p class='muted'>Too small to compare: "
                   + "; ".join(f"{_e(a)} <code>{_e(ex)}</code> ({n})" for a, ex, n in small) + ".</p>")
    skipped = [(a, who, ex, why) for a, found in sorted(data.similar.items())
               for who, ex, why in found.skipped]
    if skipped:
        out.append("<p class='muted'>Not compared: "
                   + "; ".join(f"{_e(who)}, {_e(a)} <code>{_e(ex)}</code>: {_e(why)}"
                               for a, who, ex, why in skipped) + ".</p>")
    if not matches:
        out.append("<p>No answer is that close to another or to the course's code.</p>")
        return "\n".join(out)
    out.append("<table><tr><th>Learner</th><th>Assignment</th><th>Exercise</th><th>Similar to</th>"
               "<th>Similarity</th><th>Matching lines, side by side</th></tr>")
    for assignment, m in sorted(matches, key=lambda am: (am[0], am[1].exercise, am[1].learner)):
        rows = "".join(f"<tr><td><pre>{_e(textwrap.dedent(mine))}</pre></td>"
                       f"<td><pre>{_e(textwrap.dedent(theirs))}</pre></td></tr>"
                       for mine, theirs in m.pairs)
        lines = (f"<details><summary>{len(m.pairs)} matching piece{'s' if len(m.pairs) != 1 else ''}"
                 f"</summary><table class='pair'><tr><th>{_e(m.learner)}</th><th>{_e(m.source)}</th></tr>"
                 f"{rows}</table></details>" if rows else "<span class='muted'>-</span>")
        out.append(f"<tr><td class='name'>{_e(m.learner)}</td><td class='name'>{_e(assignment)}</td>"
                   f"<td class='name'><code>{_e(m.exercise)}</code></td><td>{_e(m.source)}</td>"
                   f"<td class='num'>{m.similarity:.0%}</td><td>{lines}</td></tr>")
    out.append("</table>")
    return "\n".join(out)
