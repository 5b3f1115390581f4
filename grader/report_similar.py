"""The class report's similar answers: each answer cell beside the reference, the course's
solution and classmates' answers to the same exercise (``mlcourse.grading.similarity``),
read as text, never imported or run, and shown to the instructor, never scored.
"""

from __future__ import annotations

import html
import json
import textwrap

from grader.report_data import ClassData, Submission


def _e(text) -> str:
    return html.escape(str(text))


def similar_answers(course, subs: list[Submission]) -> dict:
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
            if sub.assignment != assignment or sub.rejected or not path.is_file():
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


def similar_section(data: ClassData) -> str:
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
