"""Keep hidden tests out of the feedback that learners receive.

``nbgrader autograde`` executes the hidden tests and keeps them in the autograded
notebook; ``nbgrader generate_feedback`` renders that notebook as it is. This
preprocessor runs inside ``generate_feedback`` (see ``nbgrader_config.py``): in
every test cell with a hidden region it replaces the region with one comment line
and reduces error tracebacks, which quote the failing source line, to the error's
type and message.
"""

from __future__ import annotations

from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests

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
