"""The feedback page a learner receives: no hidden tests, a table of exercises, maths offline.

``nbgrader generate_feedback`` renders the autograded notebook as nbgrader's feedback
template lays it out. ``nbgrader_config.py`` changes three things, all defined here:

- ``HideHiddenTestsInFeedback``: in every test cell with a hidden region the region
  becomes one comment line, and error tracebacks, which quote the failing source line,
  are cut to the error's type and message;
- ``FeedbackSummary`` and ``PAGE``: a table at the top, one row per graded test cell,
  with its points and what the grader said;
- ``FeedbackExporter`` and ``TEMPLATES``: formulas become MathML as the page is
  written and MathJax's CDN script is dropped, so the page renders its maths with no
  network and makes no request at all.

Everything a learner wrote or printed is inert on the page (``sanitise``): Markdown
cells, HTML, Markdown and SVG outputs and the MathML of their formulas keep only the
tags and attributes of ``ALLOWED_TAGS``/``ALLOWED_ATTRIBUTES`` (no script, no event
handler, no style sheet, no frame or form, images only from ``data:`` URIs), streams,
tracebacks and plain text are escaped, and JavaScript and widget outputs are dropped.
Behind that, every page carries ``CSP``, a Content-Security-Policy that forbids any
script and any request beyond inline ``data:`` images, so a tag the sanitiser missed
still cannot run or reach out. The class report (``report.py``) carries the same policy.
"""

from __future__ import annotations

import copy
import html
import re

import nh3
from jinja2 import DictLoader, pass_context
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbconvert.preprocessors import Preprocessor
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests
from traitlets import default

from mlcourse.grading import outcomes

PLACEHOLDER = "# (hidden tests: not shown)"


class HideHiddenTestsInFeedback(ClearHiddenTests):
    """Remove hidden test regions and the tracebacks that would quote them."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type != "code" or not self._has_hidden_region(cell.source):
            return cell, resources
        if not utils.is_grade(cell):
            # ClearHiddenTests would raise: feedback must never crash on one odd cell.
            self.log.warning("hidden tests in an ungraded cell %s: removed", cell_index)
        cell.source = self._strip(cell.source)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return cell, resources

    def _has_hidden_region(self, source: str) -> bool:
        return self.begin_test_delimeter in source

    def _strip(self, source: str) -> str:
        kept, inside, placed = [], False, False
        for line in source.split("\n"):
            if self.begin_test_delimeter in line:
                inside = True
                if not placed:
                    indent = line[: len(line) - len(line.lstrip())]
                    kept.append(indent + PLACEHOLDER)
                    placed = True
            elif self.end_test_delimeter in line:
                inside = False
            elif not inside:
                kept.append(line)
        return "\n".join(kept)


# ---- learner content made inert --------------------------------------------------------------
# The feedback page and the class report are opened by the instructor and the learner in a
# browser, from disk: whatever a learner wrote in Markdown or made their code display must be
# read there, never run and never fetch. Two walls: an allow-list sanitiser (nh3, the Python
# binding of the maintained Rust sanitiser ammonia) on every piece of learner HTML, and a
# Content-Security-Policy in the page's head that forbids scripts and requests outright.

# What every page the project writes declares: no script, frame, font, form or fetch of any
# kind; images only inline (data:); styles only inline (the page's own <style> and the
# report's bar widths). base-uri and form-action do not fall back to default-src.
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
       "form-action 'none'")
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'

_HTML_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup", "dd",
    "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1", "h2", "h3",
    "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre", "q", "s",
    "samp", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot",
    "th", "thead", "tr", "u", "ul", "var", "wbr",
}
# MathML Core, as latex2mathml writes it; no annotation-xml (it can hold HTML) and no maction.
_MATHML_TAGS = {
    "math", "menclose", "merror", "mfrac", "mi", "mmultiscripts", "mn", "mo", "mover",
    "mpadded", "mphantom", "mprescripts", "mroot", "mrow", "ms", "mspace", "msqrt", "mstyle",
    "msub", "msubsup", "msup", "mtable", "mtd", "mtext", "mtr", "munder", "munderover", "none",
    "semantics", "annotation",
}
ALLOWED_TAGS = frozenset(_HTML_TAGS | _MATHML_TAGS)
# Removed with everything inside them: their content is code, a page of its own or noise.
DROPPED_WITH_CONTENT = frozenset({"script", "style", "iframe", "object", "embed", "noscript",
                                  "noembed", "noframes", "template", "title", "textarea", "xmp",
                                  "select", "applet", "frameset"})
_MATH_COMMON = {"mathvariant", "mathcolor", "mathbackground", "mathsize", "displaystyle",
                "scriptlevel", "dir"}
_MATH_ATTRS = {
    "math": {"display", "xmlns", "alttext"},
    "mo": {"stretchy", "fence", "separator", "lspace", "rspace", "form", "largeop",
           "movablelimits", "symmetric", "minsize", "maxsize", "accent"},
    "mover": {"accent"}, "munder": {"accentunder"}, "munderover": {"accent", "accentunder"},
    "mfrac": {"linethickness"}, "mspace": {"width", "height", "depth", "linebreak"},
    "mpadded": {"width", "height", "depth", "lspace", "voffset"}, "menclose": {"notation"},
    "mtable": {"columnalign", "rowalign", "columnspacing", "rowspacing", "columnlines",
               "rowlines", "frame", "framespacing", "equalrows", "equalcolumns", "width"},
    "mtr": {"columnalign", "rowalign"}, "mtd": {"columnalign", "rowalign", "columnspan", "rowspan"},
    "annotation": {"encoding"},
}
ALLOWED_ATTRIBUTES = {
    "*": {"class", "id", "title", "lang"},
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align", "style"}, "th": {"colspan", "rowspan", "align", "style", "scope"},
    "col": {"span"}, "colgroup": {"span"},
    "ol": {"start", "type", "reversed"}, "li": {"value"},
    "details": {"open"},
    **{tag: _MATH_COMMON | _MATH_ATTRS.get(tag, set()) for tag in _MATHML_TAGS},
}
# Markdown tables align their columns with style="text-align: ..."; nothing else survives.
ALLOWED_STYLE = frozenset({"text-align"})
_LINK_SCHEMES = ("http:", "https:", "mailto:", "#")
_CONTROL = re.compile(r"[\x00-\x20]+")


def _keep_attribute(tag: str, attribute: str, value: str) -> str | None:
    """The attribute's value as kept, or None to drop it: an image only from a data:
    URI of an image type, a link only to the web, mail or an anchor of the page."""
    squeezed = _CONTROL.sub("", value).lower()
    if tag == "img" and attribute == "src":
        return value if squeezed.startswith("data:image/") else None
    if tag == "a" and attribute == "href":
        return value if squeezed.startswith(_LINK_SCHEMES) else None
    return value


def sanitise(fragment) -> str:
    """``fragment`` (learner HTML, or HTML made from learner Markdown or TeX) with only
    the allowed tags and attributes: readable, inert, fetching nothing."""
    fragment = fragment.decode() if isinstance(fragment, bytes) else str(fragment)
    return nh3.clean(fragment, tags=set(ALLOWED_TAGS), clean_content_tags=set(DROPPED_WITH_CONTENT),
                     attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
                     url_schemes={"http", "https", "mailto", "data"},
                     attribute_filter=_keep_attribute, filter_style_properties=set(ALLOWED_STYLE),
                     strip_comments=True, link_rel="noopener noreferrer")


# Outputs that the page would render as live code (nbconvert writes a <script> for them
# unless it sanitises, and then an empty box that hides the text/plain beside them).
_LIVE_MIMETYPES = ("application/javascript", "text/javascript", "application/vnd.jupyter.widget-view+json",
                   "application/vnd.jupyter.widget-state+json")
_GRADE_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_ICON_FONT = re.compile(r"@font-face\s*\{[^{}]*Glyphicons Halflings[^{}]*\}")


def inert_notebook(nb):
    """A copy of ``nb`` whose outputs the page can only show: no JavaScript or widget
    output, no widget state, no output that names a file for its image (a path the page
    would fetch), no HTML that asks for a frame of its own; a grade id that is not a
    plain name is replaced (nbgrader's template writes it into a link unescaped)."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for index, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and "grade_id" in meta and not _GRADE_ID.match(str(meta["grade_id"])):
            meta["grade_id"] = f"cell-{index}"
        for output in cell.get("outputs", []):
            data = output.get("data")
            if isinstance(data, dict):
                for mimetype in [m for m in data if m in _LIVE_MIMETYPES or "javascript" in m]:
                    del data[mimetype]
            metadata = output.get("metadata")
            if isinstance(metadata, dict):
                metadata.pop("filenames", None)
                if isinstance(metadata.get("text/html"), dict):
                    metadata["text/html"].pop("isolated", None)
            output.pop("svg_filename", None)
    return nb


# ---- maths without a network ------------------------------------------------------------
# Stock feedback loads MathJax from a CDN: offline, a learner sees raw LaTeX. Here every
# formula of a Markdown cell is turned into MathML while the page is written, which browsers
# draw natively: the page needs no script and makes no request.


def tex_to_mathml(tex: str, display: bool) -> str:
    """MathML for ``tex``; where the converter cannot read it, the TeX itself as code."""
    from latex2mathml.converter import convert

    try:
        return convert(tex.strip(), display="block" if display else "inline")
    except Exception:  # an unusual macro must not cost the learner their feedback page
        return f"<code>{html.escape(tex)}</code>"


class _MathMLRenderer(IPythonRenderer):
    def block_math(self, body: str) -> str:
        return tex_to_mathml(body, display=True)

    def inline_math(self, body: str) -> str:
        return tex_to_mathml(body, display=False)

    def latex_environment(self, name: str, body: str) -> str:
        return tex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True)


# ---- the page ------------------------------------------------------------------------------


class FeedbackSummary(Preprocessor):
    """Collect each graded test cell's score, kind and message for the table at the top of
    the page (``resources["mlcourse"]["exercises"]``). Run after ``GetGrades``.

    The kind (``mlcourse.grading.outcomes``) is the judge's, from its record in the
    notebook's metadata (``metadata.mlcourse.judge.cells``), and whether a row passed comes
    from its points and that kind; the message is only shown, never read."""

    enabled = True

    def preprocess(self, nb, resources):
        judged = _judged_kinds(nb)
        exercises = []
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" or not meta.get("grade") or meta.get("solution"):
                continue
            score, points = float(meta.get("score") or 0.0), float(meta.get("points") or 0.0)
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if errors:
                message = "\n".join(f"{o.get('ename', 'Error')}: {o.get('evalue', '')}" for o in errors)
            else:
                message = "passed" if score >= points else "no points (see the cell below)"
            # A notebook the judge did not grade: an error output is nbgrader's own failure.
            kind = judged.get(meta.get("grade_id")) or (outcomes.FAILED if errors else outcomes.PASSED)
            exercises.append({"grade_id": meta.get("grade_id", ""), "score": score,
                              "points": points, "kind": kind,
                              "passed": score >= points and kind == outcomes.PASSED,
                              "message": message})
        resources.setdefault("mlcourse", {})["exercises"] = exercises
        return nb, resources


def _judged_kinds(nb) -> dict[str, str]:
    """grade_id -> the judge's kind of that cell, from its record (none if not judged)."""
    record = nb.metadata.get("mlcourse", {}).get("judge") if isinstance(nb.metadata.get("mlcourse"), dict) else None
    cells = record.get("cells") if isinstance(record, dict) else None
    if not isinstance(cells, dict):
        return {}
    return {gid: entry["kind"] for gid, entry in cells.items()
            if isinstance(entry, dict) and entry.get("kind") in outcomes.CELL_KINDS}


# The page: nbgrader's feedback template with a table of exercises at the top, and MathJax's
# loader (a CDN script) replaced by nothing. nbconvert looks in these loaders first.
PAGE = "mlcourse_feedback.html.j2"
TEMPLATES = {
    "mathjax.html.j2": "{%- macro mathjax(url='') -%}{%- endmacro -%}",
    PAGE: """{%- extends 'index.html.j2' -%}
{% block body %}
<body>
<a name="top"></a>
<div class="container">
  <div class="panel panel-default">
    <div class="panel-heading">
      <h4>{{ resources.nbgrader.notebook | e }}: {{ '%g' % (resources.nbgrader.score | float | round(2)) }}
        of {{ '%g' % (resources.nbgrader.max_score | float | round(2)) }} points</h4>
    </div>
    <table class="table mlcourse-exercises">
      <tr><th>Exercise</th><th>Points</th><th>What the grader said</th></tr>
      {%- for ex in resources.mlcourse.exercises %}
      <tr class="{{ 'success' if ex.passed else 'danger' }}">
        <td><a href="#{{ ex.grade_id | e }}"><code>{{ ex.grade_id | e }}</code></a></td>
        <td>{{ '%g' % ex.score }} / {{ '%g' % ex.points }}</td>
        <td><pre class="mlcourse-message">{{ ex.message | e }}</pre></td>
      </tr>
      {%- endfor %}
      {%- if resources.nbgrader.late_penalty > 0 %}
      <tr class="danger"><td>late submission</td>
        <td>-{{ resources.nbgrader.late_penalty | float | round(2) }}</td><td></td></tr>
      {%- endif %}
    </table>
  </div>
  <div id="notebook" class="border-box-sizing">
    <div class="container" id="notebook-container">
      {{ super.super() }}
    </div>
  </div>
</div>
<style>
table.mlcourse-exercises td:nth-child(-n+2) { white-space: nowrap; }
pre.mlcourse-message { white-space: pre-wrap; word-break: normal; overflow-wrap: anywhere; border: none; background: none; margin: 0; padding: 0; }
math[display="block"] { margin: 0.6em 0; }
</style>
</body>
{%- endblock body %}
""",
}


class FeedbackExporter(HTMLExporter):
    """nbgrader's feedback page (``c.GenerateFeedback.exporter_class``) with the table of
    exercises, maths as MathML and no MathJax; learner content inert (``sanitise``,
    ``inert_notebook``) and the page under ``CSP``."""

    @default("sanitize_html")
    def _sanitize_html_default(self):
        return True  # the template then passes HTML and Markdown outputs through clean_html

    @default("extra_loaders")
    def _extra_loaders_default(self):
        return [DictLoader(TEMPLATES)]

    @default("exclude_anchor_links")
    def _exclude_anchor_links_default(self):
        return True  # a "¶" after every heading reads as clutter on a page nobody edits

    @default("template_file")
    def _template_file_default(self):
        return PAGE

    @pass_context
    def markdown2html(self, context, source):
        cell = context.get("cell", {})
        renderer = _MathMLRenderer(escape=False, attachments=cell.get("attachments", {}),
                                   embed_images=self.embed_images,
                                   anchor_link_text=self.anchor_link_text,
                                   exclude_anchor_links=self.exclude_anchor_links)
        # nbgrader's template writes Markdown cells without clean_html: sanitise here.
        return sanitise(MarkdownWithMath(renderer=renderer).render(source))

    def default_filters(self):
        yield from super().default_filters()
        yield ("clean_html", sanitise)  # in place of nbconvert's bleach allow-list

    def from_notebook_node(self, nb, resources=None, **kw):
        output, resources = super().from_notebook_node(inert_notebook(nb), resources, **kw)
        head = output.find("<head>")
        if head < 0:
            raise ValueError("the feedback page has no <head> for its Content-Security-Policy")
        head += len("<head>")
        body = output.find("<body", head) if "<body" in output[head:] else len(output)
        # Bootstrap's icon font points at ../fonts/, which the page does not ship: Chromium
        # asks for it on every load (refused by the policy). No icon is used: drop the rule.
        styles = _ICON_FONT.sub("", output[head:body])
        return output[:head] + "\n" + CSP_META + styles + output[body:], resources
