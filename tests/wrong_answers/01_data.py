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
     "def stratified_split_indices(y, fractions=(0.7, 0.15, 0.15), seed=0, split_fn=None):\n"
     "    if split_fn is None:\n"
     "        split_fn = split_indices\n"
     "    return split_fn(len(y), fractions, seed)\n",
     {"stratified-proportion-tests"}),
    # positions within a class returned without translating them back to positions in y
    ("stratified-answer",
     "def stratified_split_indices(y, fractions=(0.7, 0.15, 0.15), seed=0, split_fn=None):\n"
     "    if split_fn is None:\n"
     "        split_fn = split_indices\n"
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
     "def standardize_splits(X_train, X_val, X_test, fit=None, apply=None):\n"
     "    fit = fit_standardizer if fit is None else fit\n"
     "    apply = apply_standardizer if apply is None else apply\n"
     "    mean, std = fit(np.concatenate([X_train, X_val, X_test]))\n"
     "    return apply(X_train, mean, std), apply(X_val, mean, std), apply(X_test, mean, std)\n",
     {"pipeline-tests"}),
    # each part standardized with its own statistics
    ("pipeline-answer",
     "def standardize_splits(X_train, X_val, X_test, fit=None, apply=None):\n"
     "    fit = fit_standardizer if fit is None else fit\n"
     "    apply = apply_standardizer if apply is None else apply\n"
     "    return tuple(apply(X, *fit(X)) for X in (X_train, X_val, X_test))\n",
     {"pipeline-tests"}),
    # a generator where a tuple belongs: the three parts cannot be counted or reused
    ("stratified-answer",
     "def stratified_split_indices(y, fractions=(0.7, 0.15, 0.15), seed=0, split_fn=None):\n"
     "    if split_fn is None:\n"
     "        split_fn = split_indices\n"
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
     "def standardize_splits(X_train, X_val, X_test, fit=None, apply=None):\n"
     "    fit = fit_standardizer if fit is None else fit\n"
     "    apply = apply_standardizer if apply is None else apply\n"
     "    mean, std = fit(X_train)\n"
     "    return apply(X_train, mean, std), X_val, X_test\n",
     {"pipeline-tests"}),
    # time_split: a shuffled split, the mistake this section is about (the future leaks into training)
    ("time-split-answer",
     "def time_split(times, fractions=(0.7, 0.15, 0.15)):\n"
     "    order = np.random.default_rng(0).permutation(len(times))\n"
     "    cut_val = int(round(len(order) * fractions[0]))\n"
     "    cut_test = int(round(len(order) * (fractions[0] + fractions[1])))\n"
     "    return order[:cut_val], order[cut_val:cut_test], order[cut_test:]\n",
     {"time-split-tests"}),
    # time_split: sorted the wrong way round, the latest examples train
    ("time-split-answer",
     "def time_split(times, fractions=(0.7, 0.15, 0.15)):\n"
     "    order = np.argsort(times)[::-1]\n"
     "    cut_val = int(round(len(order) * fractions[0]))\n"
     "    cut_test = int(round(len(order) * (fractions[0] + fractions[1])))\n"
     "    return order[:cut_val], order[cut_val:cut_test], order[cut_test:]\n",
     {"time-split-tests"}),
    # group_split: the examples shuffled instead of the groups, so a group leaks across parts
    ("group-split-answer",
     "def group_split(groups, fractions=(0.7, 0.15, 0.15), seed=0):\n"
     "    order = np.random.default_rng(seed).permutation(len(groups))\n"
     "    cut_val = int(round(len(order) * fractions[0]))\n"
     "    cut_test = int(round(len(order) * (fractions[0] + fractions[1])))\n"
     "    return order[:cut_val], order[cut_val:cut_test], order[cut_test:]\n",
     {"group-split-tests"}),
    # group_split: whole groups, but the groups never shuffled (sorted ids, the same split for every seed)
    ("group-split-answer",
     "def group_split(groups, fractions=(0.7, 0.15, 0.15), seed=0):\n"
     "    groups = np.asarray(groups)\n"
     "    names = np.unique(groups)\n"
     "    cut_val = int(round(len(names) * fractions[0]))\n"
     "    cut_test = int(round(len(names) * (fractions[0] + fractions[1])))\n"
     "    parts = names[:cut_val], names[cut_val:cut_test], names[cut_test:]\n"
     "    return tuple(np.flatnonzero(np.isin(groups, part)) for part in parts)\n",
     {"group-split-tests"}),
    # kfold_indices: each fold trains on everything, its own validation fold included
    ("kfold-answer",
     "def kfold_indices(n, k=5, seed=0):\n"
     "    order = np.random.default_rng(seed).permutation(n)\n"
     "    return [(order, fold) for fold in np.array_split(order, k)]\n",
     {"kfold-tests"}),
    # kfold_indices: folds of n // k, the remainder never validates
    ("kfold-answer",
     "def kfold_indices(n, k=5, seed=0):\n"
     "    order = np.random.default_rng(seed).permutation(n)\n"
     "    size = n // k\n"
     "    folds = [order[i * size:(i + 1) * size] for i in range(k)]\n"
     "    return [(np.setdiff1d(order, fold), fold) for fold in folds]\n",
     {"kfold-tests"}),
    # kfold_indices: no shuffle, contiguous folds, the same for every seed
    ("kfold-answer",
     "def kfold_indices(n, k=5, seed=0):\n"
     "    folds = np.array_split(np.arange(n), k)\n"
     "    return [(np.setdiff1d(np.arange(n), fold), fold) for fold in folds]\n",
     {"kfold-tests"}),
    # the spread predicted with the 48 validation visits counted as independent outcomes (a patient's visits are not)
    ("spread-answer", "predicted_spread = 0.072\n", {"spread-tests"}),
    # the spread predicted as the variance of the average, 0.25 / 6, not its standard deviation
    ("spread-answer", "predicted_spread = 0.042\n", {"spread-tests"}),
]
