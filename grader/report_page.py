"""The class report as one HTML page that needs no network: its figures are inline PNGs,
it loads no script, font or stylesheet, every learner string on it is escaped, and it
carries the feedback page's Content-Security-Policy (``feedback_filter.CSP``).
"""

from __future__ import annotations

import base64
import html
import io
import statistics
from collections import Counter

from grader.report_data import ClassData, ExerciseStats
from grader.report_similar import similar_section
from mlcourse.grading import outcomes


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
             f"{sum(1 for s in data.submissions if s.rejected)} of them could not be graded"
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
            f"<td class='num'>{sum(1 for s in subs if s.rejected)}</td>"
            f"<td class='num'>{statistics.fmean(scores) if scores else 0:.2f}</td>"
            f"<td class='num'>{statistics.median(scores) if scores else 0:g}</td>"
            f"<td class='num'>{data.max_score[assignment]:g}</td></tr>")
    parts.append("</table>")
    for assignment in sorted(data.max_score):
        parts.append(_assignment_section(data, assignment, stats[assignment]))
    parts.append(_missing_section(data))
    parts.append(_flag_section(data))
    parts.append(similar_section(data))
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
            + (f"<span class='muted'>{failures} failed in all{_unusual(ex.kinds)}</span>" if failures else "")
            + "</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def _unusual(kinds: dict[str, int]) -> str:
    """The kinds of failure beyond a check saying no ("; killed: exit 1, reference use 2")."""
    shown = [f"{_e(kind)} {n}" for kind, n in kinds.items() if kind not in (outcomes.PASSED, outcomes.FAILED)]
    return "; " + ", ".join(shown) if shown else ""


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
