"""One numeric view of a table for the evaluation: standardised numbers, one-hot or ordinal categories.

Every evaluation figure that needs distances or a classifier encodes real and synthetic rows with the same
``TableEncoder``, fitted on real rows, so that all of them are measured in the same units.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gantools.data.schema import Schema

MISSING = "(missing)"
NUMERIC_KINDS = ("numeric", "integer")


def as_category(series: pd.Series) -> pd.Series:
    """Category values as strings (``1.0`` and ``1`` alike), missing values as ``(missing)``."""

    def text(value: object) -> str:
        if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
            return str(int(value))
        return str(value)

    values = series.astype(object)
    missing = values.isna().to_numpy()
    out = np.array([MISSING if m else text(v) for v, m in zip(values.to_numpy(), missing)], dtype=object)
    return pd.Series(out, index=series.index, dtype=object)


def as_number(series: pd.Series) -> np.ndarray:
    """Numbers as float64 (missing values as NaN)."""
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def column_kinds(schema: Schema, with_label: bool = True) -> dict[str, str]:
    """Column name -> 'numeric' or 'categorical' for the feature columns (and the label, as categorical)."""
    kinds = {c.name: ("numeric" if c.kind in NUMERIC_KINDS else "categorical") for c in schema.columns}
    if with_label and schema.label is not None:
        kinds[schema.label] = "categorical"
    return kinds


class TableEncoder:
    """Standardise numeric columns and index categories with statistics of a reference (real) table.

    Numeric columns: ``(x - mean) / std`` of the reference; a missing value becomes 0 plus a 0/1 indicator
    column in the one-hot view. Categorical columns: the ``max_categories`` most frequent reference values
    (missing is a value of its own); others encode as all zeros (one-hot) or as one extra code (ordinal).
    """

    def __init__(self, kinds: dict[str, str], reference: pd.DataFrame, max_categories: int = 50) -> None:
        self.kinds = dict(kinds)
        self.numeric = [c for c, k in kinds.items() if k == "numeric"]
        self.categorical = [c for c, k in kinds.items() if k == "categorical"]
        self.mean: dict[str, float] = {}
        self.std: dict[str, float] = {}
        self.with_missing: list[str] = []
        for col in self.numeric:
            values = as_number(reference[col])
            finite = values[np.isfinite(values)]
            self.mean[col] = float(finite.mean()) if len(finite) else 0.0
            std = float(finite.std()) if len(finite) > 1 else 0.0
            self.std[col] = std if std > 0 else 1.0
            if np.isnan(values).any():
                self.with_missing.append(col)
        self.categories: dict[str, list[str]] = {}
        for col in self.categorical:
            counts = as_category(reference[col]).value_counts()
            self.categories[col] = [str(v) for v in counts.index[:max_categories]]

    def standardised(self, df: pd.DataFrame, col: str) -> np.ndarray:
        """One numeric column in reference standard deviations (NaN where missing)."""
        return (as_number(df[col]) - self.mean[col]) / self.std[col]

    def onehot(self, df: pd.DataFrame) -> np.ndarray:
        """Dense float matrix: standardised numbers (missing -> 0), missing indicators, one-hot categories."""
        parts: list[np.ndarray] = []
        for col in self.numeric:
            values = self.standardised(df, col)
            parts.append(np.nan_to_num(values, nan=0.0)[:, None])
        for col in self.with_missing:
            parts.append(np.isnan(as_number(df[col]))[:, None].astype(np.float64))
        for col in self.categorical:
            codes = self._codes(df, col)
            block = np.zeros((len(df), len(self.categories[col])), dtype=np.float64)
            known = codes < len(self.categories[col])
            block[np.flatnonzero(known), codes[known]] = 1.0
            parts.append(block)
        if not parts:
            return np.zeros((len(df), 0))
        return np.hstack(parts)

    def ordinal(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Float matrix for tree models (numbers raw with NaN, categories as codes) and its categorical mask."""
        columns = [as_number(df[c]) for c in self.numeric] + [
            self._codes(df, c).astype(np.float64) for c in self.categorical
        ]
        mask = np.array([False] * len(self.numeric) + [True] * len(self.categorical), dtype=bool)
        matrix = np.column_stack(columns) if columns else np.zeros((len(df), 0))
        return matrix, mask

    def _codes(self, df: pd.DataFrame, col: str) -> np.ndarray:
        lookup = {v: i for i, v in enumerate(self.categories[col])}
        other = len(self.categories[col])
        return np.fromiter((lookup.get(v, other) for v in as_category(df[col])), dtype=np.int64, count=len(df))


def subsample(df: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """At most ``n`` rows of ``df``, drawn without replacement (all of them, in order, when it is small)."""
    if len(df) <= n:
        return df.reset_index(drop=True)
    return df.iloc[np.sort(rng.choice(len(df), n, replace=False))].reset_index(drop=True)
