"""Column kinds of a table: inferred from the data, overridable, stored as JSON with the model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gantools.errors import GantoolsError, UsageError

KINDS = ("numeric", "integer", "categorical", "boolean")
# Beyond it a value is refused: the networks and parts of the statistics compute in float32 (largest 3.4e38);
# 1e30 keeps sums of up to 1e8 values in range (measured: one cell of 3e38 or 1e60 among banknote rows broke
# training with an error naming no column; 1e35 trained there, but a sum of 10,000 such values overflows)
MAX_MAGNITUDE = 1e30


def check_unique_columns(names: list, source: str) -> None:
    """One line naming the first column name that appears twice in ``source``."""
    seen: dict = {}
    for position, name in enumerate(names):
        if name in seen and not (isinstance(name, float) and name != name):
            raise GantoolsError(
                f"column '{name}' appears twice in {source} (columns {seen[name] + 1} and {position + 1}); "
                "rename or drop one"
            )
        seen.setdefault(name, position)


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
        check_unique_columns(list(df.columns), source)
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
            if spec.kind in ("numeric", "integer"):
                check_magnitudes(df[spec.name], f"column '{spec.name}' in {source}")


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


def check_magnitudes(series: pd.Series, context: str) -> None:
    """One line naming the first row of a numeric column that holds ±inf or a number beyond ``MAX_MAGNITUDE``
    (whose square overflows the statistics; missing values are fine)."""
    values = pd.to_numeric(series, errors="coerce")
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return
    array = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.abs(array) > MAX_MAGNITUDE
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        what = "infinity" if np.isinf(array[row]) else f"{array[row]:g}, beyond ±{MAX_MAGNITUDE:g}"
        hint = "leave the cell empty (missing) or give a number" if np.isinf(array[row]) else "rescale the column"
        raise GantoolsError(f"{context} holds {what} at row {row}; {hint}")


def _mostly_numbers(series: pd.Series, context: str) -> None:
    """A text column whose cells are numbers but for a few (at most 5% of them, and the numbers many and
    varied): those cells are typos or markers, not categories. One line naming the first such row."""
    non_null = series.dropna()
    if len(non_null) < 20:
        return
    numbers = pd.to_numeric(non_null, errors="coerce")
    text = numbers.isna()
    if text.any() and text.mean() <= 0.05 and numbers.nunique() > 20:
        row = int(np.flatnonzero(series.notna().to_numpy())[np.flatnonzero(text.to_numpy())[0]])
        more = f" (and {int(text.sum()) - 1} more)" if text.sum() > 1 else ""
        raise GantoolsError(
            f"{context} holds numbers but row {row} holds {series.iloc[row]!r}{more}; fix those cells or leave them "
            f"empty (missing), or declare the column categorical (--kind {series.name}=categorical)"
        )


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
    check_unique_columns(list(df.columns), source)
    if label is not None and label not in df.columns:
        raise GantoolsError(f"label column '{label}' not in {source} (columns: {', '.join(map(str, df.columns))})")
    for name, kind in kinds.items():
        if name not in df.columns:
            raise GantoolsError(f"column '{name}' given a kind is not in {source}")
        if kind not in KINDS:
            raise UsageError(f"kind '{kind}' for column '{name}' is not one of {', '.join(KINDS)}")
    columns = []
    for name in df.columns:
        if name == label:
            continue
        series = df[name]
        if series.isna().all():
            raise GantoolsError(f"column '{name}' in {source} has no values; drop it or fill it")
        kind = kinds.get(name) or _infer_kind(series)
        if kind == "categorical" and name not in kinds and not _holds_numbers(series.dtype):
            _mostly_numbers(series, f"column '{name}' in {source}")
        if kind in ("numeric", "integer"):
            _check_numbers(series, f"column '{name}' in {source} is declared {kind}")
            check_magnitudes(series, f"column '{name}' in {source}")
        columns.append(ColumnSpec(str(name), kind, str(series.dtype), bool(series.isna().any())))
    if not columns:
        raise GantoolsError(f"{source} has no feature columns besides the label")
    label_dtype = str(df[label].dtype) if label is not None else None
    if label is not None and df[label].isna().any():
        row = int(np.flatnonzero(df[label].isna().to_numpy())[0])
        raise GantoolsError(f"label column '{label}' in {source} is missing at row {row}; fill or drop those rows")
    return Schema(columns=columns, label=str(label) if label is not None else None, label_dtype=label_dtype)
