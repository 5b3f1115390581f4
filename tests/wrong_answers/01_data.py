"""Plausible wrong answers for solutions/01-data (see README.md)."""

WRONG = [
    # no shuffle: the parts are the examples in file order, the same for every seed
    ("split-answer",
     "def split_indices(n, fractions=(0.7, 0.15, 0.15), seed=0):\n"
     "    order = np.arange(n)\n"
     "    cut_val = int(round(n * fractions[0]))\n"
     "    cut_test = int(round(n * (fractions[0] + fractions[1])))\n"
     "    return order[:cut_val], order[cut_val:cut_test], order[cut_test:]\n",
     {"split-seed-tests"}),
    # numpy's global random state instead of a seeded generator: not reproducible
    ("split-answer",
     "def split_indices(n, fractions=(0.7, 0.15, 0.15), seed=0):\n"
     "    order = np.random.permutation(n)\n"
     "    cut_val = int(round(n * fractions[0]))\n"
     "    cut_test = int(round(n * (fractions[0] + fractions[1])))\n"
     "    return order[:cut_val], order[cut_val:cut_test], order[cut_test:]\n",
     {"split-seed-tests"}),
    # each part drawn on its own: right sizes, but the parts overlap
    ("split-answer",
     "def split_indices(n, fractions=(0.7, 0.15, 0.15), seed=0):\n"
     "    rng = np.random.default_rng(seed)\n"
     "    n_train = int(round(n * fractions[0]))\n"
     "    n_val = int(round(n * fractions[1]))\n"
     "    n_test = n - n_train - n_val\n"
     "    return (rng.choice(n, n_train, replace=False), rng.choice(n, n_val, replace=False),\n"
     "            rng.choice(n, n_test, replace=False))\n",
     {"split-partition-tests"}),
    # sizes truncated with int(): the rounding errors pile up in the test part
    ("split-answer",
     "def split_indices(n, fractions=(0.7, 0.15, 0.15), seed=0):\n"
     "    order = np.random.default_rng(seed).permutation(n)\n"
     "    n_train = int(n * fractions[0])\n"
     "    n_val = int(n * fractions[1])\n"
     "    return order[:n_train], order[n_train:n_train + n_val], order[n_train + n_val:]\n",
     {"split-sizes-tests"}),
    # labels ignored: a plain split, class proportions left to chance
    ("stratified-answer",
     "def stratified_split_indices(y, fractions=(0.7, 0.15, 0.15), seed=0, split_fn=split_indices):\n"
     "    return split_fn(len(y), fractions, seed)\n",
     {"stratified-proportion-tests"}),
    # positions within a class returned without translating them back to positions in y
    ("stratified-answer",
     "def stratified_split_indices(y, fractions=(0.7, 0.15, 0.15), seed=0, split_fn=split_indices):\n"
     "    parts = ([], [], [])\n"
     "    for c in np.unique(y):\n"
     "        members = np.flatnonzero(y == c)\n"
     "        for part, idx in zip(parts, split_fn(len(members), fractions, seed)):\n"
     "            part.append(idx)\n"
     "    return tuple(np.concatenate(part) for part in parts)\n",
     {"stratified-partition-tests", "stratified-proportion-tests"}),
    # the sample std (ddof=1) instead of the population std
    ("fit-standardizer-answer",
     "def fit_standardizer(X_train):\n"
     "    std = X_train.std(axis=0, ddof=1)\n"
     "    return X_train.mean(axis=0), np.where(std == 0, 1.0, std)\n",
     {"fit-standardizer-tests"}),
    # a constant column left with std 0 (a division by zero waiting to happen)
    ("fit-standardizer-answer",
     "def fit_standardizer(X_train):\n"
     "    return X_train.mean(axis=0), X_train.std(axis=0)\n",
     {"fit-standardizer-tests"}),
    # no axis: one mean and one std for the whole array
    ("fit-standardizer-answer",
     "def fit_standardizer(X_train):\n"
     "    return X_train.mean(), X_train.std()\n",
     {"fit-standardizer-tests"}),
    # the operations in the wrong order
    ("apply-standardizer-answer",
     "def apply_standardizer(X, mean, std):\n"
     "    return X / std - mean\n",
     {"apply-standardizer-tests"}),
    # test-set leakage: statistics fitted on all the data
    ("pipeline-answer",
     "def standardize_splits(X_train, X_val, X_test, fit=fit_standardizer, apply=apply_standardizer):\n"
     "    mean, std = fit(np.concatenate([X_train, X_val, X_test]))\n"
     "    return apply(X_train, mean, std), apply(X_val, mean, std), apply(X_test, mean, std)\n",
     {"pipeline-tests"}),
    # each part standardized with its own statistics
    ("pipeline-answer",
     "def standardize_splits(X_train, X_val, X_test, fit=fit_standardizer, apply=apply_standardizer):\n"
     "    return tuple(apply(X, *fit(X)) for X in (X_train, X_val, X_test))\n",
     {"pipeline-tests"}),
    # a generator where a tuple belongs: the three parts cannot be counted or reused
    ("stratified-answer",
     "def stratified_split_indices(y, fractions=(0.7, 0.15, 0.15), seed=0, split_fn=split_indices):\n"
     "    parts = ([], [], [])\n"
     "    for k, c in enumerate(np.unique(y)):\n"
     "        members = np.flatnonzero(y == c)\n"
     "        for part, idx in zip(parts, split_fn(len(members), fractions, seed + k)):\n"
     "            part.append(members[idx])\n"
     "    return (np.concatenate(part) for part in parts)\n",
     {"stratified-partition-tests", "stratified-proportion-tests"}),
    # operator precedence: only the mean is divided by the std
    ("apply-standardizer-answer",
     "def apply_standardizer(X, mean, std):\n"
     "    return X - mean / std\n",
     {"apply-standardizer-tests"}),
    # the training set standardized, validation and test returned raw
    ("pipeline-answer",
     "def standardize_splits(X_train, X_val, X_test, fit=fit_standardizer, apply=apply_standardizer):\n"
     "    mean, std = fit(X_train)\n"
     "    return apply(X_train, mean, std), X_val, X_test\n",
     {"pipeline-tests"}),
]
