"""What the checks build on the learner's side, one module per notebook (``nb06`` for
06-training-loop): models, functions and objects that learner code takes as arguments and that
cannot cross to the judge, and small readers that turn them into plain numbers there.

A check builds them with ``grading.make(like, "mlcourse.grading.kernelside.nbNN.name", ...)``:
in the learner's kernel directly, in grading through the judge's errand (``agent``), which
builds them from the module as it was frozen before any learner cell ran. The judge freezes the
modules named by such dotted paths in a check module's source, so each check module writes them
out in full. A learner's cell may not import this package (``integrity.grading_internal``).

``calls`` is shared: ``calls.Caller`` runs one learner function on several cases in one request
(``grading.checks.calls``), as ``nb05.Bench.run`` runs several optimizer steps; the judge still
compares every result itself, and the errand's guards count both runners as the errand.
"""
