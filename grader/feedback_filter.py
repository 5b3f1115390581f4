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
"""

from __future__ import annotations

import html

from jinja2 import DictLoader, pass_context
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbconvert.preprocessors import Preprocessor
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests
from traitlets import default

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
    """Collect each graded test cell's score and message for the table at the top of the
    page (``resources["mlcourse"]["exercises"]``). Run after ``GetGrades``."""

    enabled = True

    def preprocess(self, nb, resources):
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
            exercises.append({"grade_id": meta.get("grade_id", ""), "score": score,
                              "points": points, "passed": score >= points and not errors,
                              "message": message})
        resources.setdefault("mlcourse", {})["exercises"] = exercises
        return nb, resources


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
      <h4>{{ resources.nbgrader.notebook }}: {{ '%g' % (resources.nbgrader.score | float | round(2)) }}
        of {{ '%g' % (resources.nbgrader.max_score | float | round(2)) }} points</h4>
    </div>
    <table class="table mlcourse-exercises">
      <tr><th>Exercise</th><th>Points</th><th>What the grader said</th></tr>
      {%- for ex in resources.mlcourse.exercises %}
      <tr class="{{ 'success' if ex.passed else 'danger' }}">
        <td><a href="#{{ ex.grade_id }}"><code>{{ ex.grade_id }}</code></a></td>
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
    exercises, maths as MathML and no MathJax."""

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
        return MarkdownWithMath(renderer=renderer).render(source)
