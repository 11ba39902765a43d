"""Anomaly scores on real rows: ranking quality (AUROC, AUPRC) and what the calibrated threshold does."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve


def anomaly_figures(scores: np.ndarray, threshold: float, labels: np.ndarray | None = None) -> dict[str, Any]:
    """Figures of scores against the threshold; with 0/1 ``labels`` (1 = anomaly), AUROC and AUPRC,
    the realised false-positive rate, recall, precision and F1 at the threshold, and the curves."""
    flagged = scores > threshold
    out: dict[str, Any] = {
        "rows": int(len(scores)),
        "threshold": float(threshold),
        "flagged": int(flagged.sum()),
        "flagged_share": float(flagged.mean()) if len(scores) else float("nan"),
    }
    if labels is None:
        return out
    labels = np.asarray(labels).astype(int)
    normal, anomalous = labels == 0, labels == 1
    out["normal_rows"], out["anomalous_rows"] = int(normal.sum()), int(anomalous.sum())
    out["fpr_at_threshold"] = float(flagged[normal].mean()) if normal.any() else float("nan")
    out["recall_at_threshold"] = float(flagged[anomalous].mean()) if anomalous.any() else float("nan")
    true_pos = int((flagged & anomalous).sum())
    out["precision_at_threshold"] = true_pos / int(flagged.sum()) if flagged.any() else float("nan")
    p, r = out["precision_at_threshold"], out["recall_at_threshold"]
    out["f1_at_threshold"] = 2 * p * r / (p + r) if np.isfinite(p) and np.isfinite(r) and p + r > 0 else 0.0
    if normal.any() and anomalous.any():
        out["auroc"] = float(roc_auc_score(labels, scores))
        out["auprc"] = float(average_precision_score(labels, scores))
        out["anomaly_share"] = float(anomalous.mean())
        fpr, tpr, _ = roc_curve(labels, scores)
        precision, recall, _ = precision_recall_curve(labels, scores)
        out["curves"] = {"fpr": fpr, "tpr": tpr, "precision": precision, "recall": recall}
    return out
