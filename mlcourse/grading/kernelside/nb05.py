"""Built on the learner's side for 05-optimizers' checks: the parameters an optimizer steps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


class Bench:
    """Parameters on the learner's side, built there with ``grading.make(like, BENCH, values)``.

    The learner's optimizer changes ``params`` (a list of ``mlcourse.nn.Parameter``) in
    place. ``set_grads`` and ``values`` set every gradient and read every value in one
    request each, so a step costs the judge three requests (these two and the learner's
    ``step``), whatever the number of parameters.
    """

    def __init__(self, values: Sequence[Any]) -> None:
        from mlcourse.nn import Parameter

        self.params = [Parameter(v) for v in values]

    def set_grads(self, grads: Sequence[Any]) -> None:
        for p, grad in zip(self.params, grads, strict=True):
            p.grad = np.array(grad, dtype=np.float64)

    def values(self) -> list[np.ndarray]:
        return [np.array(p.data, dtype=np.float64) for p in self.params]
