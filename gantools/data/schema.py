"""Column kinds of a table: inferred from the data, overridable, stored as JSON with the model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gantools.errors import GantoolsError

KINDS = ("numeric", "integer", "categorical", "boolean")


@dataclass
class ColumnSpec:
    """One feature column: its name, kind, original dtype and whether it had missing values."""

    name: str
    kind: str
    dtype: str
    has_missing: bool = False


@dataclass
class Schema:
    """The feature columns in order, and the label column (None for one-class data)."""

    columns: list[ColumnSpec]
    label: str | None = None
    label_dtype: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def to_dict(self) -> dict[str, Any]:
        return {"columns": [asdict(c) for c in self.columns], "label": self.label, "label_dtype": self.label_dtype}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        return cls(
            columns=[ColumnSpec(**c) for c in data["columns"]],
            label=data.get("label"),
            label_dtype=data.get("label_dtype"),
        )

    def check_columns(self, df: pd.DataFrame, source: str = "the data") -> None:
        """Fail with one line when ``df`` lacks feature columns the model was trained on or holds text
        where the model expects numbers."""
        missing = [c for c in self.names if c not in df.columns]
        if missing:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise GantoolsError(
                f"{source} lacks column(s) {shown} that the model was trained on (expected: {', '.join(self.names)})"
            )
        dtypes = df.dtypes  # once: looking each column up was a visible share of scoring a wide frame
        for spec in self.columns:  # text where numbers are expected would otherwise be read as missing
            if spec.kind in ("numeric", "integer") and not _holds_numbers(dtypes[spec.name]):
                _check_numbers(df[spec.name], f"column '{spec.name}' in {source} is {spec.kind} in the model")


def _holds_numbers(dtype: Any) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)


def _check_numbers(series: pd.Series, context: str) -> None:
    """Raise a one-line error naming the first row whose value is not a number (missing values are fine)."""
    if _holds_numbers(series.dtype):
        return
    bad = series.notna() & pd.to_numeric(series, errors="coerce").isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise GantoolsError(f"{context} but row {row} holds {series.iloc[row]!r}")


def _infer_kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_float_dtype(series):
        values = series.dropna().to_numpy()
        if len(values) and np.all(np.isfinite(values)) and np.all(values == np.round(values)):
            return "integer"
        return "numeric"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    non_null = series.dropna()
    if len(non_null) and non_null.map(lambda v: isinstance(v, (bool, np.bool_))).all():
        return "boolean"
    return "categorical"


def infer_schema(
    df: pd.DataFrame,
    label: str | None = None,
    kinds: dict[str, str] | None = None,
    source: str = "the data",
) -> Schema:
    """Infer each column's kind (numeric, integer, categorical, boolean); ``kinds`` overrides by name."""
    kinds = dict(kinds or {})
    if label is not None and label not in df.columns:
        raise GantoolsError(f"label column '{label}' not in {source} (columns: {', '.join(map(str, df.columns))})")
    for name, kind in kinds.items():
        if name not in df.columns:
            raise GantoolsError(f"column '{name}' given a kind is not in {source}")
        if kind not in KINDS:
            raise GantoolsError(f"kind '{kind}' for column '{name}' is not one of {', '.join(KINDS)}")
    columns = []
    for name in df.columns:
        if name == label:
            continue
        series = df[name]
        if series.isna().all():
            raise GantoolsError(f"column '{name}' in {source} has no values; drop it or fill it")
        kind = kinds.get(name) or _infer_kind(series)
        if kind in ("numeric", "integer"):
            _check_numbers(series, f"column '{name}' in {source} is declared {kind}")
        columns.append(ColumnSpec(str(name), kind, str(series.dtype), bool(series.isna().any())))
    if not columns:
        raise GantoolsError(f"{source} has no feature columns besides the label")
    label_dtype = str(df[label].dtype) if label is not None else None
    if label is not None and df[label].isna().any():
        row = int(np.flatnonzero(df[label].isna().to_numpy())[0])
        raise GantoolsError(f"label column '{label}' in {source} is missing at row {row}; fill or drop those rows")
    return Schema(columns=columns, label=str(label) if label is not None else None, label_dtype=label_dtype)
