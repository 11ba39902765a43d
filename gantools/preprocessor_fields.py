"""Checking a model folder's preprocessor.json before it is used: the schema's columns, each column's fitted
parameters (types, lengths, order, ranges) and that they agree with each other, so that a damaged or forged
file is refused with one line naming the column and field instead of failing later or silently misleading
(a column of an unknown kind, 10¹² quantiles, knots out of order, a dtype pandas cannot parse)."""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd

from gantools.data.schema import KINDS
from gantools.errors import GantoolsError
from gantools.fields import MAX_ITEMS, matches

MAX_QUANTILES = 100_000  # n_quantiles / max_categories beyond this are not what gantools writes
MAX_TEXT = 1_000  # a dtype's name

_NUMERIC = {
    "type": Literal["numeric"],
    "method": Literal["standard", "quantile"],
    "mean": float,
    "integer": bool,
    "values": list[float],
    "z_lo": list[float],
    "z_hi": list[float],
    "std": float,
    "has_missing": bool,
    "min": float,
    "max": float,
}
_NUMERIC_OPTIONAL = {"bound_lo": float, "bound_hi": float}  # models saved before them clip at min / max
_CATEGORICAL_OPTIONAL = {"rare_truncated": bool}  # models saved before it: False
_CATEGORICAL = {
    "type": Literal["categorical"],
    "categories": list,
    "rare_values": list,
    "rare_counts": list[int],
}


def check_preprocessor_dict(data: Any, where: str) -> None:
    """Refuse (``GantoolsError``, one line naming ``where``, the column and the field) a preprocessor.json
    whose content is not what ``TabularPreprocessor.to_dict`` writes."""

    def refuse(what: str) -> None:
        raise GantoolsError(f"{where}: {what}; train again")

    if not isinstance(data, dict):
        refuse("not a JSON object")
    for name, hint in (("n_quantiles", int), ("max_categories", int), ("params", list), ("schema", dict)):
        if not matches(data.get(name), hint):
            refuse(f"'{name}' is missing or not {getattr(hint, '__name__', hint)}")
    for name in ("n_quantiles", "max_categories"):
        if not 1 <= data[name] <= MAX_QUANTILES:
            refuse(f"'{name}' is {data[name]}, not between 1 and {MAX_QUANTILES:,}")
    if data.get("numeric_transform", "auto") not in ("auto", "standard", "quantile"):
        refuse(f"'numeric_transform' is {data['numeric_transform']!r}, not auto, standard or quantile")
    columns = _checked_schema(data["schema"], refuse)
    params = data["params"]
    if len(params) != len(columns):
        refuse(f"{len(params)} column parameters for {len(columns)} columns")
    for column, p in zip(columns, params):
        numeric = column["kind"] in ("numeric", "integer")
        fields, optional = (_NUMERIC, _NUMERIC_OPTIONAL) if numeric else (_CATEGORICAL, _CATEGORICAL_OPTIONAL)
        context = f"column '{column['name']}'"
        if not isinstance(p, dict):
            refuse(f"{context}: its parameters are not a JSON object")
        for name, hint in fields.items():
            if name not in p or not matches(p[name], hint):
                shown = repr(p.get(name))[:40]
                refuse(f"{context} ({column['kind']}): '{name}' is {'missing' if name not in p else shown}")
        for name, hint in optional.items():
            if name in p and not matches(p[name], hint):
                refuse(f"{context}: '{name}' is {repr(p[name])[:40]}")
        if numeric:
            _check_numeric(p, data["n_quantiles"], lambda what, c=context: refuse(f"{c}: {what}"))
        else:
            _check_categorical(p, data["max_categories"], lambda what, c=context: refuse(f"{c}: {what}"))


def _checked_schema(schema: dict, refuse: Any) -> list[dict]:
    columns = schema.get("columns")
    if not isinstance(columns, list) or not 1 <= len(columns) <= MAX_ITEMS:
        refuse("the schema's 'columns' is missing or empty")
    seen: set[str] = set()
    for k, column in enumerate(columns):
        shape = {"name": str, "kind": Literal[KINDS], "dtype": str, "has_missing": bool}
        if not isinstance(column, dict) or any(not matches(column.get(f), t) for f, t in shape.items()):
            refuse(f"column {k + 1} of the schema is not a name, a kind ({', '.join(KINDS)}), a dtype and has_missing")
        if column["name"] in seen:
            refuse(f"column {k + 1} of the schema, '{column['name'][:40]}', is named twice")
        seen.add(column["name"])
        _check_dtype(column["dtype"], lambda what, c=column["name"]: refuse(f"column '{c}': {what}"))
    for name in ("label", "label_dtype"):
        if not matches(schema.get(name), str | None):
            refuse(f"the schema's '{name}' is not text")
    if schema.get("label") in seen:
        refuse(f"the label '{schema['label']}' is also a feature column")
    if schema.get("label_dtype") is not None:
        _check_dtype(schema["label_dtype"], lambda what: refuse(f"the label: {what}"))
    return columns


def _check_dtype(dtype: str, refuse: Any) -> None:
    if len(dtype) > MAX_TEXT:
        refuse("its dtype is too long")
    try:
        pd.api.types.pandas_dtype(dtype)
    except (TypeError, ValueError):
        refuse(f"dtype {dtype[:40]!r} is not a pandas dtype")


def _check_numeric(p: dict, n_quantiles: int, refuse: Any) -> None:
    values, z_lo, z_hi = (np.asarray(p[k], dtype=np.float64) for k in ("values", "z_lo", "z_hi"))
    if not 1 <= len(values) <= max(n_quantiles, 2):
        refuse(f"{len(values)} quantile values (1 to {max(n_quantiles, 2)} expected)")
    if len(z_lo) != len(values) or len(z_hi) != len(values):
        refuse("'z_lo' / 'z_hi' are not as long as 'values'")
    if np.any(np.diff(values) <= 0) or np.any(z_lo > z_hi):
        refuse("its quantile values are not in increasing order")
    if not p["std"] > 0 or not p["min"] <= p["max"] or not all(math.isfinite(v) for v in (p["mean"], p["std"])):
        refuse("'std' is not positive or 'min' exceeds 'max'")


def _check_categorical(p: dict, max_categories: int, refuse: Any) -> None:
    for name in ("categories", "rare_values"):  # values as JSON holds them (a float column's inf included)
        if len(p[name]) > MAX_ITEMS or not all(v is None or isinstance(v, (str, int, float)) for v in p[name]):
            refuse(f"'{name}' holds something other than text, numbers, true/false or null")
    if not 1 <= len(p["categories"]) <= max_categories + 2:  # + the 'other' and 'missing' slots
        refuse(f"{len(p['categories'])} categories (1 to {max_categories + 2} expected)")
    if len(p["rare_values"]) != len(p["rare_counts"]) or any(c < 1 for c in p["rare_counts"]):
        refuse("'rare_values' and 'rare_counts' do not agree")
    if "__other__" in p["categories"] and not p["rare_counts"]:
        refuse("an 'other' category without rare values")
