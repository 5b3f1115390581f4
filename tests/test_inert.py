"""Learner content is inert wherever someone else opens it (issue 19, part 5).

A learner's Markdown, the outputs of their code and the messages their code makes reach
three places another person opens: the feedback page, the class report and the CSV
exports. Here a hostile corpus of our own goes through the real pipeline (a scratch
course of the 99-fixture assignment, graded, given feedback, reported on) and each page
is opened in Chromium, beside a small HTTP server on 127.0.0.1 that every attack tries
to reach: nothing may run (the title stays, no dialog opens, no flag is set on the
window, nothing is logged by the corpus), nothing may be fetched (the server sees no
request; the page asks for nothing but itself and data: URIs), and the learner's words
next to each attack still read. Each wall is also opened alone: the sanitised page with
its Content-Security-Policy cut out, and the raw corpus under the policy only.

The fast tests: the sanitiser on the corpus and on every formula of the course, the CSV
neutraliser, and the report's flags, which come from the judge's record only.
"""

from __future__ import annotations

import contextlib
import csv
import html
import json
import os
import re
import threading
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell
from nbtools import FIXTURES, SOLUTIONS

from grader import autograde, gradebook, release, report
from grader.course import build_course
from grader.feedback_filter import CSP_META, inert_notebook, sanitise, tex_to_mathml
from grader.jobs import Settings

NAME = "99-fixture"
TITLE = "XSS-FIRED"
# What every attack tries to do once it runs: set a flag, change the title, log, open a dialog.
PWN = f"window.__pwned=1;document.title='{TITLE}';console.log('{TITLE}');alert(1)"
MARK = "HELLO-LEARNER"


def corpus(port: int) -> list[tuple[str, str]]:
    """(marker, Markdown) pairs: each attack with a word of the learner's beside it that
    must still read on the page. ``port`` is the local server every fetch would reach."""
    url = f"http://127.0.0.1:{port}"
    items = [
        f"<script>{PWN}</script> {{m}}",
        f'<img src=x onerror="{PWN}"> {{m}}',
        f'<svg onload="{PWN}"><circle r="5"></circle></svg> {{m}}',
        f'<body onload="{PWN}">{{m}}</body>',
        f'<details open ontoggle="{PWN}"><summary>{{m}}</summary>more</details>',
        f"[{{m}}](javascript:{PWN.replace('(', '%28').replace(')', '%29')})",
        f'<a href="javascript:{PWN}">{{m}}</a>',
        f'<a href=" JaVa&#x09;ScRiPt:{PWN}">{{m}}</a>',
        f'<iframe src="{url}/iframe"></iframe><iframe srcdoc="<script>{PWN}</script>"></iframe> {{m}}',
        f'<object data="{url}/object"></object><embed src="{url}/embed"> {{m}}',
        f'<svg><script>{PWN}</script><animate onbegin="{PWN}" attributeName="x" dur="1s"></animate></svg> {{m}}',
        f'<meta http-equiv="refresh" content="0;url={url}/refresh"> {{m}}',
        f'<base href="{url}/base/"><img src="relative.png"> {{m}}',
        f'<form action="{url}/form"><input name="q" value="x"><button>{{m}}</button></form>',
        f"<style>@import url({url}/import); body {{{{ background: url({url}/bg-style) }}}}</style> {{m}}",
        f'<p style="background:url({url}/bg)">{{m}}</p>',
        f'<link rel="stylesheet" href="{url}/link"> {{m}}',
        f'<img src="{url}/img"> {{m}}',
        f"![remote]({url}/md-img) {{m}}",
        f'$\\text{{<img src=x onerror="{PWN}">}}$ {{m}}',
        f"$$\\text{{<script>{PWN}</script>}}$$\n\n{{m}}",
        f'<input autofocus onfocus="{PWN}"> {{m}}',
        f'<a href="data:text/html,<script>{PWN}</script>">{{m}}</a>',
        f'<video><source onerror="{PWN}"></video> {{m}}',
        f'<math><mtext><table><mglyph><style><img src=x onerror="{PWN}"></style></mglyph></table></mtext></math> {{m}}',
        f'<noscript><p title="</noscript><img src=x onerror={PWN}>"></p></noscript> {{m}}',
    ]
    return [(f"{MARK}-{i:02d}", text.replace("{m}", f"{MARK}-{i:02d}")) for i, text in enumerate(items, 1)]


# Markers that an attack may take with it: the summary of a <details> reads, the text of
# a dropped <noscript> or <style> does not; a markup-only marker sits inside them.
def expected_markers(items) -> list[str]:
    return [m for m, text in items if "<noscript>" not in text and "<mglyph><style>" not in text]


# Code of the learner's own cells: each display kind, a stream of each kind and an error
# whose message is markup; a JavaScript output; a fake `KernelDied` of their own.
def output_cells(port: int) -> list[str]:
    url = f"http://127.0.0.1:{port}"
    page = f'<img src=x onerror="{PWN}"><iframe src="{url}/out-frame"></iframe> {MARK}-OUT-HTML'
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20" onload="{PWN}">'
           f'<script>{PWN}</script><image href="{url}/svg-image"/>'
           f'<animate onbegin="{PWN}" attributeName="x" dur="1s"/><text y="15">{MARK}-SVG</text></svg>')
    markdown = f'<img src=x onerror="{PWN}"> **{MARK}-OUT-MD** $\\text{{<img src=x onerror="{PWN}">}}$'
    return [
        "from IPython.display import HTML, SVG, Javascript, Markdown, display\n"
        f"display(HTML({page!r}))\n"
        f"display(Markdown({markdown!r}))\n"
        f"display(SVG({svg!r}))\n"
        f"display(Javascript({PWN!r}))\n"
        f"display({{'text/html': {page!r}, 'text/plain': 'plain'}}, raw=True,"
        f" metadata={{'text/html': {{'isolated': True}}}})\n",
        "import sys\n"
        f"print({f'<script>{PWN}</script> {MARK}-STDOUT'!r})\n"
        f"print({f'<img src={url}/stderr onerror={PWN}> {MARK}-STDERR'!r}, file=sys.stderr)\n",
        f"raise ValueError({f'<img src=x onerror={PWN}> {MARK}-ERROR'!r})",
        "class KernelDied(Exception):\n    pass\n\n"
        "raise KernelDied('kernel killed: memory above 2 GiB in cell `double-hidden`')",
    ]


# ---- the sanitiser, without a browser -----------------------------------------------------------

DANGER = re.compile(r"<\s*(script|iframe|object|embed|meta|base|form|style|link|input|svg|video|source)\b"
                    r"|\son\w+\s*=|javascript:|srcdoc|@import|url\(|127\.0\.0\.1", re.I)


def test_the_sanitiser_keeps_the_words_and_drops_every_attack():
    from nbconvert.filters.markdown_mistune import MarkdownWithMath

    from grader.feedback_filter import _MathMLRenderer

    items = corpus(8)
    assert len(items) >= 15
    for marker, text in items:
        clean = sanitise(MarkdownWithMath(renderer=_MathMLRenderer(escape=False)).render(text))
        assert not DANGER.search(clean), f"{marker}: {clean!r}"
        if marker in expected_markers(items):
            assert marker in html.unescape(clean), f"{marker} lost: {clean!r}"
    # Readable things stay: headings, lists, emphasis, code, tables, inline images, maths.
    kept = sanitise("<h2>T</h2><ul><li><em>e</em> <code>c</code></li></ul><table><tr><td>1</td></tr></table>"
                    "<img src='data:image/png;base64,iVBORw0KGgo=' alt='a'><a href='https://x.org/a'>l</a>")
    for piece in ("<h2>", "<li>", "<em>", "<code>", "<td>", 'src="data:image/png', 'href="https://x.org/a"'):
        assert piece in kept, (piece, kept)


class _Shape(HTMLParser):
    """Tags, attributes and text of a fragment, in order (entities decoded)."""

    def __init__(self, fragment: str):
        super().__init__(convert_charrefs=True)
        self.events: list = []
        self.feed(fragment)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.events.append(("start", tag, sorted(attrs)))

    def handle_endtag(self, tag):
        self.events.append(("end", tag))

    def handle_data(self, data):
        if data.strip():
            self.events.append(("text", data))


def test_the_sanitiser_keeps_every_formula_of_the_course_whole():
    math = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$", re.S)
    formulas = [f for path in sorted(SOLUTIONS.glob("*/*.ipynb"))
                for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"
                for f in math.findall(c.source)]
    assert len(formulas) > 100, "control: the course has formulas"
    for formula in formulas:
        mathml = tex_to_mathml(formula.strip("$"), display=formula.startswith("$$"))
        assert _Shape(sanitise(mathml)).events == _Shape(mathml).events, formula


def test_inert_notebook_drops_live_outputs_and_file_paths():
    nb = nbformat.v4.new_notebook(metadata={"widgets": {"application/vnd.jupyter.widget-state+json": {}}})
    cell = new_code_cell("x", metadata={"nbgrader": {"grade_id": '"><img src=x onerror=alert(1)>'}})
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        "application/javascript": PWN, "text/plain": "plain", "image/png": "iVBORw0KGgo="},
        metadata={"filenames": {"image/png": "http://127.0.0.1:9/x.png"}}),
        nbformat.v4.new_output("display_data", data={"text/html": "<b>x</b>"},
                               metadata={"text/html": {"isolated": True}})]
    nb.cells.append(cell)
    clean = inert_notebook(nb)
    out = clean.cells[0].outputs
    assert set(out[0].data) == {"text/plain", "image/png"} and "filenames" not in out[0].metadata
    assert "isolated" not in out[1].metadata["text/html"]
    assert "widgets" not in clean.metadata and clean.cells[0].metadata.nbgrader.grade_id == "cell-0"
    assert "application/javascript" in nb.cells[0].outputs[0].data, "the original is left alone"


# ---- CSV cells that a spreadsheet would run -----------------------------------------------------


@pytest.mark.parametrize("text", ['=HYPERLINK("http://x","click")', "+1+cmd|' /C calc'!A0", "-2+3",
                                  "-", "@SUM(A1:A9)", "\t=1", "\r=1", "\uff1d1+1", "-1.5e", "--1"])
def test_a_formula_becomes_text(text):
    assert gradebook.csv_safe(text) == "'" + text


@pytest.mark.parametrize("value", ["-1.5", "-1", "+2", "0", "3", "2.5", "-0.25", "1e-3", "-2E+4", ".5",
                                   "ada", "", " =1", "a=b", "(total)", 3, -1.5, 0.0, None])
def test_numbers_and_plain_text_stay_as_they_are(value):
    assert gradebook.csv_safe(value) == value


def test_rows_of_both_kinds_are_neutralised():
    assert gradebook.csv_safe_row({"a": "=1", "b": "-1", "c": 2}) == {"a": "'=1", "b": "-1", "c": 2}
    assert gradebook.csv_safe_row(["@x", "-0.5", ""]) == ["'@x", "-0.5", ""]


def test_canvas_and_grades_csvs_write_formulas_as_text(tmp_path, course_env):
    """export() from a gradebook with one rejected submission whose reason and learner id
    start like formulas: every CSV it writes carries them as text, scores as numbers."""
    os.environ["PATH"] = course_env["PATH"]
    course = build_course(tmp_path, [FIXTURES / NAME])
    release.generate(course, NAME)
    evil = "=HYPERLINK(\"http://127.0.0.1/x\",\"ok\")"
    (course.submitted / "@mallory" / NAME).mkdir(parents=True)
    gradebook.save_failures(course, {f"@mallory/{NAME}": evil})
    gradebook.export(course)
    with open(course.grades_csv, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows == [{"student": "'@mallory", "assignment": NAME, "score": "0", "max_score": "3",
                     "failed_cells": "", "error": "'" + evil}]
    with open(course.grades_csv.with_name("grades-canvas.csv"), newline="", encoding="utf-8") as fh:
        canvas = list(csv.reader(fh))
    assert canvas[-1][:4] == ["'@mallory", "", "", "'@mallory"] and canvas[-1][-1] == "0"


def test_report_csv_writes_a_learner_formula_as_text(tmp_path, monkeypatch):
    data = _class_with([_sub("ada", message="=HYPERLINK(\"http://x\",\"see\")\nlikely mistake: -1 off")])
    monkeypatch.setattr(report, "collect", lambda course: data)
    _, csv_path = report.write(None, tmp_path)
    with open(csv_path, newline="", encoding="utf-8") as fh:
        rows = {r["exercise"]: r for r in csv.DictReader(fh)}
    assert rows["double-hidden"]["message_1"].startswith("'=HYPERLINK(")
    assert rows["double-hidden"]["points"] == "2" and rows["(total)"]["mean_points"] == "1.000"


# ---- the report's flags: the judge's record, never a learner's output ---------------------------


def _graded_notebook(path: Path, record: dict | None, outputs=()) -> Path:
    nb = nbformat.v4.new_notebook()
    if record is not None:
        nb.metadata["mlcourse"] = {"judge": record}
    cell = new_code_cell("double(2)", metadata={"nbgrader": {"grade": True, "grade_id": "double-hidden",
                                                             "points": 2, "solution": False}})
    cell.outputs = [nbformat.v4.new_output("error", ename=e, evalue=v, traceback=[]) for e, v in outputs]
    nb.cells.append(cell)
    nbformat.write(nb, path)
    return path


def _flags(tmp_path, record, outputs=()) -> list[tuple[str, str]]:
    sub = report.Submission("ada", NAME, 1.0, 3.0, points={"double-hidden": (0.0, 2.0)})
    report._read_graded(_graded_notebook(tmp_path / "g.ipynb", record, outputs), sub)
    return sub.flags


FAKE_DEATH = [("KernelDied", "kernel killed: memory above 2 GiB in cell `double-hidden`"),
              ("KernelDied", "kernel killed: it ran past the notebook's time limit of 900 s"),
              ("KeyboardInterrupt", "")]
CLEAN = {"version": 1, "killed": None, "refused": [], "references": {}}


def test_a_learners_own_kerneldied_flags_nothing(tmp_path):
    assert _flags(tmp_path, CLEAN, FAKE_DEATH) == []
    assert _flags(tmp_path, None, FAKE_DEATH) == [], "not judged: no flags of the judge's kinds"
    assert _flags(tmp_path, "forged", FAKE_DEATH) == [] and _flags(tmp_path, {"killed": {}}, FAKE_DEATH) == []


def test_flags_come_from_the_judges_record(tmp_path):
    memory = {**CLEAN, "killed": {"kind": "memory", "where": "in cell `double-hidden`",
                                  "reason": "kernel killed: memory above 512 MiB in cell `double-hidden`"}}
    assert _flags(tmp_path, memory) == [("killed", memory["killed"]["reason"])]
    time = {**CLEAN, "killed": {"kind": "time", "where": "in cell `x`", "reason": "kernel killed: time limit"}}
    assert _flags(tmp_path, time) == [("timeout", "kernel killed: time limit")]
    for kind in ("signal", "exit", "died"):
        assert [k for k, _ in _flags(tmp_path, {**CLEAN, "killed": {"kind": kind, "reason": kind}})] == ["killed"]
    used = {**CLEAN, "references": {"mlcourse.losses.mse": ["cell 3", "cell 5"]}}
    assert _flags(tmp_path, used) == [("reference use", "mlcourse.losses.mse (cell 3, cell 5)")]
    refused = {**CLEAN, "refused": ["cell 2, line 1: `import gc`: reaches the collector",
                                    "cell 2, line 4: `x.__class__`: a private attribute"]}
    assert _flags(tmp_path, refused) == [("tampering", "cell 2, line 1: `import gc`: reaches the collector; "
                                                       "cell 2, line 4: `x.__class__`: a private attribute")]
    # A learner's printed reference or refusal message flags nothing either.
    said = [("GradingError", "Your answer uses the course's reference implementation `mse`"),
            ("GradingError", "Grading refused:\n  cell 1: `import gc`\nfix it")]
    assert _flags(tmp_path, CLEAN, said) == []


# ---- pages in Chromium --------------------------------------------------------------------------


def _sub(student: str, *, message: str = "", flags=()) -> report.Submission:
    sub = report.Submission(student, NAME, 1.0, 3.0, points={"double-visible": (1.0, 1.0),
                                                             "double-hidden": (0.0, 2.0)})
    if message:
        sub.messages["double-hidden"] = message
    sub.flags.extend(flags)
    return sub


def _class_with(subs) -> report.ClassData:
    return report.ClassData(students=sorted({s.student for s in subs}), max_score={NAME: 3.0}, waiting=set(),
                            exercises={NAME: {"double-visible": 1.0, "double-hidden": 2.0}}, submissions=subs)


class Server:
    """A tiny HTTP server on 127.0.0.1 that records every request it receives."""

    def __init__(self):
        seen = self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (the name http.server calls)
                seen.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"x")

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _browser_or_skip():
    import browser as B

    why = B.why_unavailable()
    if why:
        if os.environ.get("MLCOURSE_REQUIRE_BROWSER"):
            pytest.fail(f"this machine must run the browser tests: {why}")
        pytest.skip(why)
    return B


@contextlib.contextmanager
def _chromium():
    B = _browser_or_skip()
    with B.browser() as chromium:
        yield chromium


def visit(chromium, path: Path, server: Server) -> dict:
    """Open ``path`` (a file), let it settle, and report what it ran, fetched and shows.
    No route is installed: a request the page makes goes out, to the server if it is ours."""
    context = chromium.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    seen = {"requests": [], "finished": [], "dialogs": [], "console": [], "errors": []}
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("requestfinished", lambda r: seen["finished"].append(r.url))
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.on("console", lambda m: seen["console"].append((m.type, m.text)))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("popup", lambda p: seen["requests"].append(f"popup {p.url}"))
    try:
        before = len(server.requests)
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        page.wait_for_timeout(1500)  # a refresh of 0 s, an animation's begin, a lazy image
        for element in page.query_selector_all("details, summary"):  # a toggle, a focus
            with contextlib.suppress(Exception):
                element.click(timeout=500)
        page.keyboard.press("Tab")
        page.wait_for_timeout(300)
        seen.update(
            url=page.url, title=page.title(), text=page.inner_text("body"),
            pwned=page.evaluate("window.__pwned === 1"),
            maths=page.evaluate("[...document.querySelectorAll('math')].map(m => {"
                                " const r = m.getBoundingClientRect();"
                                " return [m.textContent.replace(/\\s/g, ''), r.width * r.height]; })"),
            live=page.evaluate(
                "[...document.querySelectorAll('body *')].filter(e => e.closest('#notebook-container,"
                " .msg, td') && (['SCRIPT','IFRAME','OBJECT','EMBED','FORM','BASE','META','LINK','STYLE',"
                "'INPUT','VIDEO','SOURCE'].includes(e.tagName.toUpperCase()) ||"
                " [...e.attributes].some(a => /^on/i.test(a.name) || /javascript:/i.test(a.value)"
                " || (a.name === 'src' && !a.value.startsWith('data:'))))).map(e => e.outerHTML.slice(0, 160))"),
            fetched=server.requests[before:])
    finally:
        context.close()
    return seen


def assert_inert(seen: dict, page: Path, *, attempted: bool = False) -> None:
    """Nothing ran, nothing was fetched; unless ``attempted``, nothing was even asked for
    (a request the policy blocks is still asked for, and fails)."""
    assert seen["url"] == page.as_uri(), f"the page navigated away: {seen['url']}"
    assert seen["title"] != TITLE and not seen["pwned"], "learner script ran"
    assert seen["dialogs"] == [], f"a dialog opened: {seen['dialogs']}"
    assert not [t for kind, t in seen["console"] if TITLE in t and kind != "error"], seen["console"]
    assert seen["errors"] == [], seen["errors"]
    assert seen["fetched"] == [], f"the page reached the server: {seen['fetched']}"
    outside = [u for u in seen["finished" if attempted else "requests"]
               if not u.startswith(("data:", page.as_uri()))]
    assert outside == [], f"the page asked for more than itself: {outside}"


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture(scope="module")
def hostile_class(tmp_path_factory, course_env, server):
    """A scratch course of 99-fixture: one learner whose notebook carries the corpus in a
    Markdown cell, cells that display, print and raise it, and an answer whose error
    message is markup; graded (no sandbox: the pages are what is tested), given feedback
    and reported on by the pipeline."""
    os.environ["PATH"] = course_env["PATH"]
    course = build_course(tmp_path_factory.mktemp("inert"), [FIXTURES / NAME])
    release.generate(course, NAME)
    nb = nbformat.read(course.release_dir / NAME / f"{NAME}.ipynb", as_version=4)
    items = corpus(server.port)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "double-answer")
    answer.source = ("def double(x):\n"
                     f"    raise ValueError({f'<img src=x onerror={PWN}> {MARK}-MESSAGE'!r})\n")
    nb.cells.insert(1, new_markdown_cell("\n\n".join(text for _, text in items) + "\n\n$x^2 + 1$ maths"))
    nb.cells.extend(new_code_cell(code) for code in output_cells(server.port))
    folder = course.submitted / "mallory" / NAME
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{NAME}.ipynb")
    autograde.grade(course, workers=0, settings=Settings(sandbox=False), echo=lambda line: None)
    pages = release.feedback(course, echo=lambda line: None)
    assert len(pages) == 1, pages
    report_html, report_csv = report.write(course, course.root / "report")
    gradebook.export(course)
    return {"course": course, "feedback": pages[0], "report": report_html, "items": items,
            "graded": course.root / "autograded" / "mallory" / NAME / f"{NAME}.ipynb"}


@pytest.mark.slow
def test_the_graded_class_holds_the_corpus_and_flags_no_fake_death(hostile_class):
    """Control: the attacks reached the graded notebook (else the pages test nothing), and
    the learner's own KernelDied flagged nothing in the report."""
    graded = json.loads(hostile_class["graded"].read_text(encoding="utf-8"))
    dumped = json.dumps(graded)
    for needle in ("onerror", f"{MARK}-OUT-HTML", f"{MARK}-STDERR", f"{MARK}-ERROR", "KernelDied"):
        assert needle in dumped, needle
    record = report.judge_record(graded)
    assert record is not None, "the judge left its record in the graded notebook's metadata"
    assert record["killed"] is None, record
    data = report.collect(hostile_class["course"])
    (sub,) = data.submissions
    assert not [k for k, _ in sub.flags if k in ("killed", "timeout")], sub.flags
    assert MARK + "-MESSAGE" in sub.messages.get("double-hidden", "") + sub.messages.get("double-visible", "")


@pytest.mark.slow
def test_the_feedback_page_runs_and_fetches_nothing_and_still_reads(hostile_class, server):
    page = hostile_class["feedback"]
    source = page.read_text(encoding="utf-8")
    assert source.count(CSP_META) == 1 and source.index(CSP_META) < source.index("<title>")
    assert "<script" not in source.lower(), "the page holds no script, its own or the learner's"
    with _chromium() as chromium:
        seen = visit(chromium, page, server)
        # The sanitiser alone: the same page with its policy cut out.
        bare = page.with_name("no-csp.html")
        bare.write_text(source.replace(CSP_META, ""), encoding="utf-8")
        seen_bare = visit(chromium, bare, server)
    for observed, path in ((seen, page), (seen_bare, bare)):
        assert_inert(observed, path)
        assert observed["live"] == [], observed["live"]
        text = observed["text"]
        missing = [m for m in expected_markers(hostile_class["items"]) if m not in text]
        missing += [m for m in ("OUT-HTML", "OUT-MD", "STDOUT", "STDERR", "ERROR", "MESSAGE")
                    if f"{MARK}-{m}" not in text]
        assert missing == [], f"the learner's words are lost: {missing}"
        assert "<img" in text, "markup the learner printed reads as text"
        drawn = dict(observed["maths"])
        assert drawn.get("x2+1", 0) > 0, f"the learner's formula is not drawn: {observed['maths']}"


@pytest.mark.slow
def test_the_report_and_its_csvs_are_inert(hostile_class, server):
    page = hostile_class["report"]
    source = page.read_text(encoding="utf-8")
    assert source.count(CSP_META) == 1 and "<script" not in source.lower()
    assert "data:image/png;base64," in source, "control: the histogram is inline"
    for path in [*page.parent.glob("*.csv"), *hostile_class["course"].grades_csv.parent.glob("grades*.csv")]:
        with open(path, newline="", encoding="utf-8") as fh:
            cells = [c for row in csv.reader(fh) for c in row]
        bad = [c for c in cells if c.startswith(gradebook.FORMULA_STARTS) and gradebook.csv_safe(c) != c]
        assert bad == [], (path.name, bad)
    with _chromium() as chromium:
        seen = visit(chromium, page, server)
        widths = None
        context = chromium.new_context()
        tab = context.new_page()
        tab.goto(page.as_uri())
        widths = tab.evaluate("[...document.images].map(i => i.naturalWidth)")
        context.close()
    assert_inert(seen, page)
    assert widths and all(w > 0 for w in widths), f"the histogram did not draw under the policy: {widths}"
    assert f"{MARK}-MESSAGE" in seen["text"]


def test_a_report_of_hostile_names_messages_and_flags_is_inert(tmp_path, server):
    """The report from hand-made data: a learner id, a failure message and every flag's
    reason carry markup; the page shows them as text and runs none of it."""
    B = _browser_or_skip()  # noqa: N806
    attack = next(text for m, text in corpus(server.port) if m.endswith("-02"))
    subs = [_sub(f"{MARK}-ID<img src=x onerror=\"{PWN}\">", message=f"{attack}\nlikely mistake: {MARK}-MISTAKE",
                 flags=[("late", "late by 1.0 h")]),
            _sub("bob", flags=[("tampering", f"cell 1: `{attack}` {MARK}-FLAG"),
                               ("killed", f"<iframe src='http://127.0.0.1:{server.port}/k'></iframe>")])]
    page = tmp_path / "report.html"
    data = _class_with(subs)
    page.write_text(report.render(data, {NAME: report.exercise_stats(data, NAME)}), encoding="utf-8")
    with B.browser() as chromium:
        seen = visit(chromium, page, server)
    assert_inert(seen, page)
    assert seen["live"] == [], seen["live"]
    for word in ("ID", "MISTAKE", "FLAG", "02"):
        assert f"{MARK}-{word}" in seen["text"], word


def test_the_policy_alone_stops_the_raw_corpus(tmp_path, server):
    """The second wall by itself: the corpus unsanitised, in a page with only CSP_META.
    (A refresh, a javascript: link and a form wait for no policy: the sanitiser removes
    them, tested above.)"""
    B = _browser_or_skip()  # noqa: N806
    raw = [text for _, text in corpus(server.port)
           if not re.search(r"http-equiv|javascript:|<form|^\[|^!\[|^\$", text)]
    page = tmp_path / "raw.html"
    page.write_text(f"<!DOCTYPE html><html><head>{CSP_META}<meta charset='utf-8'><title>raw</title></head>"
                    f"<body>{''.join(f'<div>{t}</div>' for t in raw)}</body></html>", encoding="utf-8")
    with B.browser() as chromium:
        seen = visit(chromium, page, server)
    assert_inert(seen, page, attempted=True)
    assert seen["requests"] != seen["finished"], "control: the raw corpus does ask, and is refused"
