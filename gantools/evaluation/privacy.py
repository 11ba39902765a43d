"""Privacy: exact and near copies of training rows, and distances to the closest training record (DCR).

Distances are Euclidean in one space: numeric columns standardised with the training rows' mean and
standard deviation (a missing value is 0 plus a 0/1 indicator), categorical columns one-hot.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from gantools.data.schema import Schema
from gantools.evaluation.encoding import NUMERIC_KINDS, TableEncoder, as_category, as_number, column_kinds

NEAR_QUANTILE = 0.01


@dataclass
class CopyReport:
    """Exact and near copies of training rows among synthetic rows."""

    n_synthetic: int
    exact: int  # synthetic rows equal to some training row (all compared columns)
    exact_share: float
    exact_unique: int  # ... of which copy a training row that occurs once in the training data
    exact_unique_share: float
    train_duplicate_share: float  # share of training rows that another training row repeats
    holdout_exact_share: float | None  # share of held-out real rows equal to a training row (the natural rate)
    near: int | None  # synthetic rows closer to a training row than ``near_threshold`` (exact copies included)
    near_share: float | None
    near_threshold: float | None
    near_threshold_source: str | None
    columns: list[str]
    dcr: np.ndarray | None = field(default=None, repr=False)  # each synthetic row's distance to the train rows
    reference_dcr: np.ndarray | None = field(default=None, repr=False)  # the distances the threshold comes from

    @property
    def excess_exact_share(self) -> float | None:
        """Exact-copy share beyond what held-out real rows show (None without held-out rows)."""
        if self.holdout_exact_share is None:
            return None
        return max(0.0, self.exact_share - self.holdout_exact_share)

    def to_dict(self) -> dict[str, Any]:
        plain = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("dcr", "reference_dcr")}
        return {**plain, "excess_exact_share": self.excess_exact_share}


def _compared_columns(schema: Schema, *frames: pd.DataFrame) -> list[str]:
    names = list(schema.names)
    if schema.label is not None and all(schema.label in f.columns for f in frames):
        names.append(schema.label)
    return names


def row_keys(df: pd.DataFrame, schema: Schema, columns: list[str]) -> np.ndarray:
    """A 64-bit hash per row of ``columns``: numbers compared at float32 precision, categories as text."""
    kinds = {c.name: c.kind for c in schema.columns}
    normal = {}
    for col in columns:
        if kinds.get(col) in NUMERIC_KINDS:
            normal[col] = as_number(df[col]).astype(np.float32).astype(np.float64)
        else:
            normal[col] = as_category(df[col]).to_numpy()
    frame = pd.DataFrame(normal, index=pd.RangeIndex(len(df)))
    if frame.shape[1] == 0:
        return np.zeros(len(df), dtype=np.uint64)
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def nearest_distances(
    query: np.ndarray, reference: np.ndarray, exclude_self: bool = False, chunk: int = 4096
) -> np.ndarray:
    """Euclidean distance from each query row to its nearest reference row (self excluded if asked)."""
    if len(reference) == 0 or len(query) == 0:
        return np.full(len(query), np.nan)
    k = 2 if exclude_self else 1
    nn = NearestNeighbors(n_neighbors=min(k, len(reference)), algorithm="brute").fit(reference)
    out = []
    for start in range(0, len(query), chunk):
        q = query[start : start + chunk]
        _, idx = nn.kneighbors(q)
        # recomputed directly: the fast formula behind the search leaves ~1e-6 where rows are equal
        out.append(np.linalg.norm(q - reference[idx[:, -1] if exclude_self else idx[:, 0]], axis=1))
    return np.concatenate(out)


def find_copies(
    synthetic: pd.DataFrame,
    train: pd.DataFrame,
    schema: Schema,
    holdout: pd.DataFrame | None = None,
    encoder: TableEncoder | None = None,
    near_quantile: float = NEAR_QUANTILE,
) -> CopyReport:
    """Count synthetic rows that copy training rows, exactly and nearly.

    Exact: equal on every feature column (and the label, when both tables have it); numbers are compared
    at float32 precision. Exact copies of training rows that occur only once in the training data are
    counted apart (``exact_unique``): those are the records a copy would reveal. Near: distance to the
    closest training row below the ``near_quantile`` quantile of held-out rows' distances to the training
    rows (with ``holdout``), else of training rows' distances to their nearest other training row; rows at
    distance 0 (duplicates) are left out of that quantile.
    """
    columns = _compared_columns(schema, synthetic, train, *([holdout] if holdout is not None else []))
    train_keys = row_keys(train, schema, columns)
    uniq, counts = np.unique(train_keys, return_counts=True)
    once = set(uniq[counts == 1].tolist())
    seen = set(uniq.tolist())
    syn_keys = row_keys(synthetic, schema, columns)
    copied = np.fromiter((k in seen for k in syn_keys.tolist()), dtype=bool, count=len(syn_keys))
    unique_copied = np.fromiter((k in once for k in syn_keys.tolist()), dtype=bool, count=len(syn_keys))
    n = len(synthetic)
    holdout_exact = None
    if holdout is not None and len(holdout):
        hold_keys = row_keys(holdout, schema, columns).tolist()
        holdout_exact = float(np.mean([k in seen for k in hold_keys]))
    near = near_share = threshold = source = dcr = reference = None
    if len(train) >= 2 and n:
        encoder = encoder or TableEncoder(column_kinds(schema, with_label=False), train)
        train_x = encoder.onehot(train)
        if holdout is not None and len(holdout):
            reference = nearest_distances(encoder.onehot(holdout), train_x)
            source = f"{near_quantile:.0%} quantile of held-out rows' distances to the closest training row"
        else:
            reference = nearest_distances(train_x, train_x, exclude_self=True)
            source = f"{near_quantile:.0%} quantile of training rows' distances to the closest other training row"
        # rows equal to a training row (natural duplicates) are left out: the threshold should describe how
        # close a genuinely new row comes, or duplicated data would set it to 0
        apart = reference[reference > 0]
        threshold = float(np.quantile(apart, near_quantile)) if len(apart) else 0.0
        dcr = nearest_distances(encoder.onehot(synthetic), train_x)
        near_mask = (dcr < threshold) | copied
        near, near_share = int(near_mask.sum()), float(near_mask.mean())
    return CopyReport(
        n_synthetic=n,
        exact=int(copied.sum()),
        exact_share=float(copied.mean()) if n else 0.0,
        exact_unique=int(unique_copied.sum()),
        exact_unique_share=float(unique_copied.mean()) if n else 0.0,
        train_duplicate_share=float(1.0 - len(uniq) / len(train_keys)) if len(train_keys) else 0.0,
        holdout_exact_share=holdout_exact,
        near=near,
        near_share=near_share,
        near_threshold=threshold,
        near_threshold_source=source,
        columns=columns,
        dcr=dcr,
        reference_dcr=reference,
    )


def dcr_summary(synthetic: np.ndarray, holdout: np.ndarray) -> dict[str, float]:
    """5th percentile and median of the distances to the closest training record, synthetic -> train and
    held-out -> train, and their ratios (near 1: synthetic rows sit as close to the training rows as new
    real rows do; well below 1: they hug the training rows)."""
    out: dict[str, float] = {}
    for name, d in (("synthetic", synthetic), ("holdout", holdout)):
        out[f"{name}_p5"] = float(np.quantile(d, 0.05)) if len(d) else float("nan")
        out[f"{name}_median"] = float(np.median(d)) if len(d) else float("nan")
    for stat in ("p5", "median"):
        base = out[f"holdout_{stat}"]
        out[f"ratio_{stat}"] = out[f"synthetic_{stat}"] / base if base > 0 else float("nan")
    return out
