"""Fidelity of single columns and of column pairs: how far synthetic rows are from real ones."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.stats

from gantools.evaluation.encoding import MISSING, TableEncoder, as_category

ASSOCIATION_METHOD = (
    "one association per column pair: Pearson r for numeric-numeric pairs (standardised values, rows where "
    "both are present), bias-corrected Cramér's V for categorical-categorical pairs (missing is a category), "
    "bias-corrected correlation ratio η (ε²) for numeric-categorical pairs; the label counts as a categorical "
    "column when the model has several classes. Real and synthetic rows are subsampled to the same number of "
    "rows so that the small-sample bias of V and η is alike"
)


def column_fidelity(real: pd.DataFrame, synthetic: pd.DataFrame, encoder: TableEncoder) -> dict[str, dict[str, Any]]:
    """Per column: KS statistic and Wasserstein distance (standardised) for numbers, total-variation distance
    of category frequencies for categories, and the missing-value rate in real and synthetic rows."""
    out: dict[str, dict[str, Any]] = {}
    for col, kind in encoder.kinds.items():
        entry: dict[str, Any] = {"kind": kind}
        if kind == "numeric":
            r, s = encoder.standardised(real, col), encoder.standardised(synthetic, col)
            entry["missing_real"] = float(np.isnan(r).mean()) if len(r) else float("nan")
            entry["missing_synthetic"] = float(np.isnan(s).mean()) if len(s) else float("nan")
            r, s = r[np.isfinite(r)], s[np.isfinite(s)]
            if len(r) and len(s):
                entry["ks"] = float(scipy.stats.ks_2samp(r, s).statistic)
                entry["wasserstein"] = float(scipy.stats.wasserstein_distance(r, s))
            else:
                entry["ks"] = entry["wasserstein"] = float("nan")
        else:
            r, s = as_category(real[col]), as_category(synthetic[col])
            entry["missing_real"] = float((r == MISSING).mean()) if len(r) else float("nan")
            entry["missing_synthetic"] = float((s == MISSING).mean()) if len(s) else float("nan")
            entry["tv"] = total_variation(r, s)
        out[col] = entry
    return out


def total_variation(real: pd.Series, synthetic: pd.Series) -> float:
    """Half the L1 distance between the category frequencies of two series (0 = same, 1 = disjoint)."""
    if len(real) == 0 or len(synthetic) == 0:
        return float("nan")
    p = real.value_counts(normalize=True)
    q = synthetic.value_counts(normalize=True)
    return float(0.5 * p.subtract(q, fill_value=0.0).abs().sum())


def summarise_fidelity(per_column: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """Means over columns: KS and Wasserstein (numeric), TV (categorical), the largest missing-rate gap."""

    def mean(key: str) -> float | None:
        values = [e[key] for e in per_column.values() if key in e and np.isfinite(e[key])]
        return float(np.mean(values)) if values else None

    gaps = [
        abs(e["missing_real"] - e["missing_synthetic"])
        for e in per_column.values()
        if np.isfinite(e["missing_real"]) and np.isfinite(e["missing_synthetic"])
    ]
    return {
        "mean_ks": mean("ks"),
        "mean_wasserstein": mean("wasserstein"),
        "mean_tv": mean("tv"),
        "max_missing_gap": float(max(gaps)) if gaps else None,
    }


# ----------------------------------------------------------------------------------------- associations
def _codes(series: pd.Series) -> np.ndarray:
    return pd.factorize(series.to_numpy(), use_na_sentinel=False)[0]


def cramers_v(a: pd.Series | np.ndarray, b: pd.Series | np.ndarray) -> float:
    """Bias-corrected Cramér's V (Bergsma 2013) of two categorical columns, in [0, 1]."""
    ca = a if isinstance(a, np.ndarray) and a.dtype.kind == "i" else _codes(pd.Series(a))
    cb = b if isinstance(b, np.ndarray) and b.dtype.kind == "i" else _codes(pd.Series(b))
    ra, rb = np.unique(ca, return_inverse=True)[1], np.unique(cb, return_inverse=True)[1]
    r, k = int(ra.max(initial=-1)) + 1, int(rb.max(initial=-1)) + 1
    n = len(ra)
    if n < 2 or r < 2 or k < 2:
        return 0.0
    table = np.bincount(ra * k + rb, minlength=r * k).reshape(r, k).astype(np.float64)
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    phi2 = max(0.0, chi2 / n - (k - 1) * (r - 1) / (n - 1))
    r_corr = r - (r - 1) ** 2 / (n - 1)
    k_corr = k - (k - 1) ** 2 / (n - 1)
    denom = min(k_corr - 1, r_corr - 1)
    return float(np.sqrt(phi2 / denom)) if denom > 0 else 0.0


def correlation_ratio(categories: pd.Series | np.ndarray, values: np.ndarray) -> float:
    """Correlation ratio η of a numeric column on a categorical one, in [0, 1] (rows with a number only),
    bias-corrected (ε²) like Cramér's V."""
    codes = (
        categories
        if isinstance(categories, np.ndarray) and categories.dtype.kind == "i"
        else _codes(pd.Series(categories))
    )
    keep = np.isfinite(values)
    x, groups = values[keep], np.unique(codes[keep], return_inverse=True)[1]
    if len(x) < 2 or np.ptp(x) == 0:  # constant (ptp, not var: the mean of equal floats can round)
        return 0.0
    counts = np.bincount(groups)
    means = np.bincount(groups, weights=x) / np.maximum(counts, 1)
    between = float((counts * (means - x.mean()) ** 2).sum())
    total = float(((x - x.mean()) ** 2).sum())
    k, n = len(counts), len(x)
    if total <= 0 or n <= k:
        return 0.0
    # epsilon-squared: between-group variance beyond what k groups explain by chance
    adjusted = (between - (k - 1) * (total - between) / (n - k)) / total
    return float(np.sqrt(min(1.0, max(0.0, adjusted))))


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson r over rows where both values are present (0 when either is constant)."""
    keep = np.isfinite(a) & np.isfinite(b)
    x, y = a[keep], b[keep]
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def association_matrix(df: pd.DataFrame, encoder: TableEncoder) -> pd.DataFrame:
    """Column-by-column association matrix (see ``ASSOCIATION_METHOD``)."""
    cols = list(encoder.kinds)
    nums = {c: encoder.standardised(df, c) for c in encoder.numeric}
    cats = {c: _codes(as_category(df[c])) for c in encoder.categorical}
    matrix = np.eye(len(cols))
    for i, a in enumerate(cols):
        for j in range(i + 1, len(cols)):
            b = cols[j]
            if a in nums and b in nums:
                value = pearson(nums[a], nums[b])
            elif a in cats and b in cats:
                value = cramers_v(cats[a], cats[b])
            elif a in cats:
                value = correlation_ratio(cats[a], nums[b])
            else:
                value = correlation_ratio(cats[b], nums[a])
            matrix[i, j] = matrix[j, i] = value
    return pd.DataFrame(matrix, index=cols, columns=cols)


def association_difference(
    real: pd.DataFrame, synthetic: pd.DataFrame, encoder: TableEncoder
) -> tuple[float, pd.DataFrame, pd.DataFrame]:
    """Mean absolute difference of the two association matrices over column pairs, and the matrices."""
    a, b = association_matrix(real, encoder), association_matrix(synthetic, encoder)
    upper = np.triu_indices(len(a), k=1)
    diff = np.abs(a.to_numpy() - b.to_numpy())[upper]
    return (float(diff.mean()) if len(diff) else float("nan")), a, b
