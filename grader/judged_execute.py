"""nbgrader's Execute preprocessor with the course's judge in front, in a sandbox.

``nbgrader autograde`` (through ``nbgrader_config.py``, so plain ``nbgrader
autograde`` in this folder and ``make grade`` alike) runs every cell of a
submission in its kernel except the graded test cells, which the judge decides
in this process (``mlcourse.grading.judge``). nbgrader then scores the judge's
outputs as usual: the gradebook, feedback, export and formgrader all show the
judge's verdicts.

The kernel runs in the sandbox of ``sandbox.py`` (memory, process and time caps,
no network, only its own folder visible and writable), launched by the kernel
provisioner of ``provisioner.py``; ``c.SandboxedKernelManager.enabled = False`` runs
it as stock nbgrader does.
"""

from __future__ import annotations

import os
import traceback
from typing import Any

import jsonschema
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.nbgraderformat import MetadataValidator, ValidationError
from nbgrader.nbgraderformat.common import BaseMetadataValidator
from nbgrader.preprocessors import CheckCellMetadata, Execute, NbGraderPreprocessor
from traitlets import Enum, Integer

from mlcourse.grading.judge import JudgeMixin
from mlcourse.grading.limits import NOTEBOOK_SECONDS, OUTPUT_CHARS
from mlcourse.grading.rules import grade_id

try:  # the repository's grader package (grading workers, the tests, `make grade`)
    from grader.provisioner import SandboxedKernelManager
except ModuleNotFoundError:  # a copy of this folder elsewhere: its own provisioner.py, next to this file
    from provisioner import SandboxedKernelManager


class JudgedExecute(JudgeMixin, Execute):
    """Execute, with graded test cells decided by the judge outside the kernel."""

    submission_timeout = Integer(
        NOTEBOOK_SECONDS, allow_none=True,
        help="Seconds the whole notebook may run; then its kernel is killed and the cells "
             "not yet run score 0 (the cells before keep their points).").tag(config=True)
    output_limit = Integer(OUTPUT_CHARS, help="Characters of output kept per cell.").tag(config=True)
    # nbclient waits for a kernel's own clean exit (its atexit hooks), about a second of idle
    # time per submission; a graded kernel has nothing to save: kill it (the sandbox reads its
    # peak memory and removes everything it left either way).
    shutdown_kernel = Enum(["graceful", "immediate"], default_value="immediate",
                           help="How the kernel ends after the last cell.").tag(config=True)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kernel_manager_class", SandboxedKernelManager)
        super().__init__(*args, **kwargs)

    def preprocess(self, nb, resources=None, km=None):
        # ipykernel names every cell alike when this is set; the judge needs the real names.
        os.environ.pop("IPYKERNEL_CELL_NAME", None)
        return super().preprocess(nb, resources, km)


class CleanCellIds(NbGraderPreprocessor):
    """Before nbgrader restores the locked cells: one cell per grade_id, and no cell that
    claims a grade_id the assignment does not have.

    Stock ``DeduplicateIds`` leaves ``"nbgrader": {}`` on a duplicate, which makes
    ``OverwriteCells`` fail and the whole submission with it. Here every cell whose
    nbgrader metadata has no grade_id, a grade_id not in the gradebook, or a grade_id
    already met (the last copy keeps it, as in nbgrader) becomes an ordinary cell of the
    learner's; nbgrader then adds back any graded cell that is missing.
    """

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            try:
                known = {c.name for c in gb.find_notebook(info["notebook"], info["assignment"]).source_cells}
            except MissingEntry:
                known = set()
        seen: set[str] = set()
        for cell in reversed(nb.cells):
            meta = cell.get("metadata")
            if not isinstance(meta, dict) or "nbgrader" not in meta:
                continue
            gid = grade_id(cell)
            if gid is None or gid not in known or gid in seen:
                if gid in seen:
                    self.log.warning("Cell with id '%s' exists more than once: graded once", gid)
                del meta["nbgrader"]
                continue
            seen.add(gid)
        return nb, resources


class _SchemaCheckedOnce(BaseMetadataValidator):
    """The schema part of nbgrader's cell validation, with the schema compiled once per process.

    nbgrader validates each cell with ``jsonschema.validate``, which first checks the schema
    itself (the same schema, for every cell, twice a notebook): nine tenths of the time it
    takes, about half a second of a submission. Metadata that is not a plain dict of the
    current version goes to nbgrader's own code, which says what is wrong with it."""

    _compiled: dict[int, Any] = {}

    def validate_cell(self, cell) -> None:
        meta = cell.metadata.get("nbgrader") if isinstance(cell.get("metadata"), dict) else None
        if not isinstance(meta, dict) or meta.get("schema_version", 0) != self.schema_version:
            return super().validate_cell(cell)
        compiled = self._compiled.get(self.schema_version)
        if compiled is None:
            kind = jsonschema.validators.validator_for(self.schema)
            kind.check_schema(self.schema)
            compiled = self._compiled[self.schema_version] = kind(self.schema)
        error = jsonschema.exceptions.best_match(compiled.iter_errors(meta))
        if error is not None:
            raise error


class SchemaOnceValidator(MetadataValidator, _SchemaCheckedOnce):
    """nbgrader's validator (its checks of grade ids, points and cell types unchanged), whose
    call to the schema check lands in ``_SchemaCheckedOnce`` (next in the method order)."""


class CheckCellMetadataOnce(CheckCellMetadata):
    """nbgrader's ``CheckCellMetadata`` with ``SchemaOnceValidator``: the same verdicts."""

    def preprocess(self, nb, resources):
        try:
            SchemaOnceValidator().validate_nb(nb)
        except ValidationError:
            self.log.error(traceback.format_exc())
            msg = "Notebook failed to validate; the nbgrader metadata may be corrupted."
            self.log.error(msg)
            raise ValidationError(msg) from None
        return nb, resources
