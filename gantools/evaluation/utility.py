"""Utility: train on synthetic, test on real (TSTR) against train on real, test on real (TRTR)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from gantools.evaluation.encoding import TableEncoder, as_category

CLASSIFIERS = ("HistGradientBoosting", "LogisticRegression")


def _fit_predict(name: str, encoder: TableEncoder, train: pd.DataFrame, y: np.ndarray, test: pd.DataFrame, seed: int):
    if name == "HistGradientBoosting":
        X, mask = encoder.ordinal(train)
        categorical = mask & (np.nan_to_num(X, nan=0).max(axis=0, initial=0) < 254)
        clf = HistGradientBoostingClassifier(
            categorical_features=categorical if categorical.any() else None, random_state=seed
        )
        return clf.fit(X, y).predict(encoder.ordinal(test)[0])
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return clf.fit(encoder.onehot(train), y).predict(encoder.onehot(test))


def tstr_trtr(
    synthetic: pd.DataFrame,
    real_test: pd.DataFrame,
    label: str,
    encoder: TableEncoder,
    real_train: pd.DataFrame | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Balanced accuracy and macro-F1 on ``real_test`` of classifiers trained on synthetic rows (TSTR) and,
    when ``real_train`` is given, on real training rows (TRTR), with the ratio TSTR / TRTR.

    ``encoder`` encodes the feature columns (not the label). A training set with one class only gets
    ``None`` figures and a note.
    """
    y_test = as_category(real_test[label]).to_numpy()
    sources = {"TSTR": synthetic}
    if real_train is not None:
        sources["TRTR"] = real_train
    results: dict[str, Any] = {"classifiers": {}, "notes": []}
    for name in CLASSIFIERS:
        row: dict[str, Any] = {}
        for tag, frame in sources.items():
            y_train = as_category(frame[label]).to_numpy()
            if len(np.unique(y_train)) < 2:
                results["notes"].append(f"{tag} {name}: the training rows hold one class only; no classifier")
                row[tag] = None
                continue
            predicted = _fit_predict(name, encoder, frame, y_train, real_test, seed)
            row[tag] = {
                "balanced_accuracy": float(balanced_accuracy_score(y_test, predicted)),
                "macro_f1": float(f1_score(y_test, predicted, average="macro", zero_division=0)),
            }
        if row.get("TSTR") and row.get("TRTR"):
            row["ratio"] = {
                k: (row["TSTR"][k] / row["TRTR"][k] if row["TRTR"][k] > 0 else float("nan"))
                for k in ("balanced_accuracy", "macro_f1")
            }
        results["classifiers"][name] = row
    return results
