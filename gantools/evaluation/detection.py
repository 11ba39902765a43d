"""Real-vs-synthetic detection: how well a classifier tells synthetic rows from real ones (0.5 = not at all)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from gantools.evaluation.encoding import TableEncoder, subsample

MAX_ROWS_EACH = 10_000  # enough for a stable AUC; keeps five fits quick


def detection_auc(
    real: pd.DataFrame, synthetic: pd.DataFrame, encoder: TableEncoder, seed: int = 0, folds: int = 5
) -> dict[str, Any]:
    """ROC AUC of a HistGradientBoosting classifier, ``folds``-fold cross-validated, on a balanced mix.

    Both sets are subsampled to the same number of rows (at most ``MAX_ROWS_EACH``); categories use the
    classifier's native categorical support (ordinal codes). Returns mean and std of the fold AUCs, or a
    ``skipped`` reason when there are too few rows.
    """
    rng = np.random.default_rng(seed)
    n = min(len(real), len(synthetic), MAX_ROWS_EACH)
    if n < 2 * folds:
        return {"skipped": f"too few rows for {folds}-fold detection ({n} of each kind; need {2 * folds})"}
    x_real, mask = encoder.ordinal(subsample(real, n, rng))
    x_syn, _ = encoder.ordinal(subsample(synthetic, n, rng))
    X = np.vstack([x_real, x_syn])
    y = np.r_[np.zeros(n), np.ones(n)]
    # HistGradientBoosting handles at most max_bins - 1 categories natively; wider columns stay ordinal
    categorical = mask & (np.nan_to_num(X, nan=0).max(axis=0, initial=0) < 254)
    aucs = []
    for fit_idx, test_idx in StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y):
        clf = HistGradientBoostingClassifier(
            categorical_features=categorical if categorical.any() else None, random_state=seed
        )
        clf.fit(X[fit_idx], y[fit_idx])
        aucs.append(roc_auc_score(y[test_idx], clf.predict_proba(X[test_idx])[:, 1]))
    return {"auc": float(np.mean(aucs)), "auc_std": float(np.std(aucs)), "folds": folds, "rows_each": n}
