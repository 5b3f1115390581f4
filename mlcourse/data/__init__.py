"""Offline data sets (synthetic, and one real), splits, standardisation and mini-batches.

Everything here is seeded and generated on the spot, or read from the package itself, so a
notebook never downloads anything and two runs with the same seed see the same numbers.
Import everything from ``mlcourse.data``; the parts live in:

- ``synthetic``: ``make_regression`` / ``make_classification``, small 1-D and 2-D
  problems to plot.
- ``grammar``: ``GrammarSource`` / ``make_corpus``, a text corpus from a tiny
  stochastic grammar whose entropy rate (the best loss any language model can
  reach) is known exactly; ``make_lm_dataset`` / ``make_sequences``, next-token
  training pairs from a token stream.
- ``splits``: ``train_val_test_split``, a disjoint, seeded split (a ``Split``)
  that counts how often the test set is read.
- ``standardize``: ``Standardizer``, zero mean and unit variance, fitted on the
  training set only.
- ``batching``: ``iterate_minibatches``, shuffled mini-batches of numpy arrays or
  torch tensors.
- ``real``: ``mauna_loa_co2``, weekly CO2 measured at Mauna Loa 1958-2001 (public domain,
  shipped in the package): real data, with a trend and a season.
- ``common``: the helpers they share (lengths, taking rows of arrays or tensors).

numpy only: torch is never imported here at module level.
"""

from __future__ import annotations

from .batching import iterate_minibatches
from .grammar import GrammarSource, make_corpus, make_lm_dataset, make_sequences
from .real import mauna_loa_co2
from .splits import SPLIT_NAMES as SPLIT_NAMES  # the part names, ("train", "val", "test")
from .splits import Split, train_val_test_split
from .standardize import Standardizer
from .synthetic import make_classification, make_regression

__all__ = [
    "make_regression",
    "make_classification",
    "mauna_loa_co2",
    "GrammarSource",
    "make_corpus",
    "make_lm_dataset",
    "make_sequences",
    "Split",
    "train_val_test_split",
    "Standardizer",
    "iterate_minibatches",
]
