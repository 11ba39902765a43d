"""The fitted tabular transformer: table <-> a float matrix the networks see, serialisable to JSON.

Numeric columns are standardised (mean 0, standard deviation 1) when they are roughly symmetric and
spread out, which keeps distances, and so anomaly scores, faithful; skewed or spiky columns go through a
quantile map to a standard-normal scale instead, which GANs learn far better. Values tied in the data (a
spike such as ``capital-gain == 0``) keep their mass: the map has a flat segment there, so sampled values
land on the spike. Out of the training range the quantile map continues linearly (one training standard
deviation per unit), so that anomalies stay visible to the scorer instead of being clipped. Missing
numeric values get an explicit indicator block. Categorical and boolean columns are one-hot; unseen
values encode as all zeros (visible as residual), rare values beyond ``max_categories`` share an ``other`` slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from gantools.data.schema import Schema
from gantools.preprocessor_fields import check_preprocessor_dict

MISSING = "__missing__"
OTHER = "__other__"
MAX_RARE_KEPT = 1000  # rare values (beyond max_categories) kept by name, with their counts, for sampling
# Encoded numeric values are clipped to ± this many training standard deviations: a record that far out is as
# anomalous as can be, and beyond it the scorer's squares and D's activations would overflow float32 (a value
# of 1e20 in a column of unit spread scored inf, its parts NaN). The rows the preprocessor is fitted on lie
# within sqrt(rows) deviations of the mean; held-out rows are clipped only if a million deviations out.
ENCODED_LIMIT = 1e6


@dataclass
class Block:
    """A slice of the transformed matrix: ``kind`` is 'num' (width 1) or 'cat' (one-hot, width k)."""

    start: int
    end: int
    kind: str
    column: int  # index of the schema column this block encodes


@dataclass
class ReadColumns:
    """A frame's feature columns parsed once (``TabularPreprocessor.read``): any rows of it can be encoded."""

    numeric: np.ndarray  # (n, numeric columns) float64; NaN where missing or not a number
    slots: np.ndarray  # (n, categorical columns) int64 one-hot slot; -1: none (unseen value)

    def __len__(self) -> int:
        return len(self.numeric)

    def take(self, rows: np.ndarray) -> ReadColumns:
        """The rows at ``rows``."""
        return ReadColumns(self.numeric[rows], self.slots[rows])


@dataclass
class _Layout:
    """Where each numeric and categorical column goes in the encoded matrix, as arrays (built with the
    blocks), so that ``encode`` treats all linear columns in one pass."""

    numeric_param: np.ndarray  # schema column index of each numeric column
    numeric_slot: np.ndarray  # its value's slot
    indicator_slot: np.ndarray  # its missing-indicator block's first slot (-1: none)
    mean: np.ndarray
    std: np.ndarray
    standard: np.ndarray  # bool: standardised (linear) in the networks' encoding
    direct: np.ndarray  # bool: quantile-mapped, standardised directly in the scorer's view
    category_start: list[int]  # first slot of each categorical column's one-hot block


def _to_json_value(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


class TabularPreprocessor:
    """fit / transform / inverse_transform between a DataFrame and the networks' float matrix."""

    def __init__(
        self,
        schema: Schema,
        n_quantiles: int = 1000,
        max_categories: int = 100,
        numeric_transform: str = "auto",
        max_skew: float = 2.0,
        max_spike: float = 0.1,
    ) -> None:
        self.schema = schema
        self.n_quantiles = n_quantiles
        self.max_categories = max_categories
        self.numeric_transform = numeric_transform  # auto | standard | quantile
        self.max_skew = max_skew
        self.max_spike = max_spike
        self.params_: list[dict[str, Any]] = []
        self.blocks_: list[Block] = []

    # ------------------------------------------------------------------ fit
    def fit(self, df: pd.DataFrame) -> TabularPreprocessor:
        self.params_ = []
        for spec in self.schema.columns:
            series = df[spec.name]
            if spec.kind in ("numeric", "integer"):
                self.params_.append(self._fit_numeric(series, spec.kind == "integer"))
            else:
                self.params_.append(self._fit_categorical(series))
        self._build_blocks()
        return self

    def _fit_numeric(self, series: pd.Series, integer: bool) -> dict[str, Any]:
        import scipy.stats  # fitting only: scoring and sampling do not need it (half a second to import)

        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        observed = values[np.isfinite(values)]
        if len(observed) == 0:  # every value missing in the rows fitted on: a constant column
            observed = np.zeros(1)
        n = len(observed)
        levels = np.linspace(0.0, 1.0, min(self.n_quantiles, max(n, 2)))
        quantiles = np.quantile(observed, levels)
        uniques, inverse = np.unique(quantiles, return_inverse=True)
        p_lo = np.full(len(uniques), np.inf)
        p_hi = np.full(len(uniques), -np.inf)
        np.minimum.at(p_lo, inverse, levels)
        np.maximum.at(p_hi, inverse, levels)
        # Spread each tied value's probability mass over its own interval of the normal scale.
        eps = 0.5 / max(n, 1)
        z_lo = ndtri(np.clip(p_lo, eps, 1 - eps))
        z_hi = ndtri(np.clip(p_hi, eps, 1 - eps))
        std = float(np.std(observed)) if n > 1 else 1.0
        method = self.numeric_transform
        if method == "auto":
            spike = float(np.max(np.unique(observed, return_counts=True)[1])) / max(n, 1)
            skew = float(scipy.stats.skew(observed)) if n > 2 and std > 0 else 0.0
            method = "standard" if abs(skew) <= self.max_skew and spike <= self.max_spike else "quantile"
        return {
            "type": "numeric",
            "method": method,
            "mean": float(np.mean(observed)),
            "integer": integer,
            "values": uniques.tolist(),
            "z_lo": z_lo.tolist(),
            "z_hi": z_hi.tolist(),
            "std": std if std > 0 else 1.0,
            "has_missing": bool(np.isnan(values).any()),
            "min": float(observed.min()),
            "max": float(observed.max()),
            **_sample_bounds(observed),
        }

    def _fit_categorical(self, series: pd.Series) -> dict[str, Any]:
        counts = series.dropna().value_counts()
        kept = [_to_json_value(v) for v in counts.index[: self.max_categories]]
        rare = counts.iloc[self.max_categories :]
        categories = list(kept)
        if len(rare):
            categories.append(OTHER)
        if series.isna().any():
            categories.append(MISSING)
        return {
            "type": "categorical",
            "categories": categories,
            "rare_values": [_to_json_value(v) for v in rare.index[:MAX_RARE_KEPT]],
            "rare_counts": [int(c) for c in rare.to_numpy()[:MAX_RARE_KEPT]],
            # more rare values than kept: a value not found may well be one of them, so it takes the 'other' slot
            "rare_truncated": len(rare) > MAX_RARE_KEPT,
        }

    def _build_blocks(self) -> None:
        self.blocks_ = []
        pos = 0
        for col, params in enumerate(self.params_):
            if params["type"] == "numeric":
                self.blocks_.append(Block(pos, pos + 1, "num", col))
                pos += 1
                if params["has_missing"]:
                    self.blocks_.append(Block(pos, pos + 2, "cat", col))
                    pos += 2
            else:
                width = len(params["categories"])
                self.blocks_.append(Block(pos, pos + width, "cat", col))
                pos += width
        self.n_features_out_ = pos
        self._layout = self._layout_of_columns()

    @property
    def feature_column_index(self) -> np.ndarray:
        """For each transformed feature, the index of the schema column it belongs to."""
        index = np.empty(self.n_features_out_, dtype=np.int64)
        for block in self.blocks_:
            index[block.start : block.end] = block.column
        return index

    # ------------------------------------------------------------ transform
    def transform(self, df: pd.DataFrame) -> np.ndarray:
        """Encode ``df`` (its feature columns, by name) as a float32 matrix."""
        return self.encode(self.read(df))

    def read(self, df: pd.DataFrame) -> ReadColumns:
        """Parse the feature columns of ``df`` once (numbers, category slots), for ``encode`` to encode
        any of its rows, any number of times, without going back to the frame."""
        names = [spec.name for spec, p in zip(self.schema.columns, self.params_) if p["type"] == "numeric"]
        numeric = np.empty((len(df), len(names)), dtype=np.float64)
        dtypes = df.dtypes
        plain = [j for j, name in enumerate(names) if pd.api.types.is_numeric_dtype(dtypes[name])]
        if plain:  # columns that already hold numbers: read in one pass (per column it was a large share of scoring)
            columns = [names[j] for j in plain]
            frame = df if list(df.columns) == columns else df[columns]
            numeric[:, plain] = frame.to_numpy(dtype=np.float64, na_value=np.nan)
        for j, name in enumerate(names):
            if j not in plain:  # text, objects: each value parsed, unparseable ones NaN
                numeric[:, j] = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        categorical = [(spec.name, p) for spec, p in zip(self.schema.columns, self.params_) if p["type"] != "numeric"]
        slots = np.empty((len(df), len(categorical)), dtype=np.int64)
        for j, (name, params) in enumerate(categorical):
            slots[:, j] = self._category_slots(df[name], params)
        return ReadColumns(numeric, slots)

    def unfamiliar(self, columns: ReadColumns) -> dict[str, int]:
        """Rows per column holding what training never showed: a category it never saw, or a missing value in
        a column it saw complete (scored all the same: an unseen category as residual, a missing number at the
        column's centre)."""
        layout = self._layout
        counts: dict[str, int] = {}
        names = self.schema.names
        complete = np.array([not self.params_[i]["has_missing"] for i in layout.numeric_param], dtype=bool)
        if complete.any():
            missing = (~np.isfinite(columns.numeric[:, complete])).sum(axis=0)
            for i, n in zip(layout.numeric_param[complete], missing):
                if n:
                    counts[names[i]] = int(n)
        categorical = [i for i, p in enumerate(self.params_) if p["type"] != "numeric"]
        for i, n in zip(categorical, (columns.slots < 0).sum(axis=0)):
            if n:
                counts[names[i]] = int(n)
        return counts

    def encode(self, columns: ReadColumns, standardised_fill: np.ndarray | None = None) -> np.ndarray:
        """The float32 matrix of ``read``'s columns: what the networks see (``transform``).

        With ``standardised_fill``: the scorer's view of the records instead, quantile-mapped columns in
        standardised original units, ``(v − mean) / std``: what ``scoring_space.ScoringSpace`` makes of the
        networks' encoding (its inverse map undoes the quantile map exactly, extrapolation included), without
        the round trip. Missing values of those columns get ``standardised_fill`` at their slot (where the
        encoded centre maps to). Columns of one distinct value keep their quantile encoding, as the space does.
        """
        layout = self._layout
        n = len(columns)
        out = np.zeros((n, self.n_features_out_), dtype=np.float32)
        numeric = columns.numeric
        missing = ~np.isfinite(numeric)
        # Linear columns, all at once: standardised ones always, quantile-mapped ones when the scorer asks
        # (each missing value at its fill: 0 for standardised columns, the encoded centre's image else).
        linear = layout.standard if standardised_fill is None else layout.standard | layout.direct
        if linear.any():
            cols, slots = np.flatnonzero(linear), layout.numeric_slot[linear]
            values = (numeric[:, cols] - layout.mean[cols]) / layout.std[cols]
            fill = np.zeros(len(cols))
            if standardised_fill is not None:
                fill = np.where(layout.direct[cols], standardised_fill[slots], 0.0)
            out[:, slots] = np.where(missing[:, cols], fill, values)
        for j in np.flatnonzero(~linear):  # quantile-mapped: missing at the centre, where the scorer sees no residual
            params = self.params_[layout.numeric_param[j]]
            out[:, layout.numeric_slot[j]] = self._numeric_forward(
                np.where(missing[:, j], np.nan, numeric[:, j]), params
            )
        indicated = np.flatnonzero(layout.indicator_slot >= 0)
        if len(indicated):
            slots = layout.indicator_slot[indicated]
            out[:, slots] = ~missing[:, indicated]
            out[:, slots + 1] = missing[:, indicated]
        for j, start in enumerate(layout.category_start):
            rows = np.flatnonzero(columns.slots[:, j] >= 0)
            out[rows, start + columns.slots[rows, j]] = 1.0
        return np.clip(out, -ENCODED_LIMIT, ENCODED_LIMIT, out=out)

    def _layout_of_columns(self) -> _Layout:
        numeric = [(i, p) for i, p in enumerate(self.params_) if p["type"] == "numeric"]
        first_block = {}
        for k, block in enumerate(self.blocks_):
            first_block.setdefault(block.column, k)
        slot = np.array([self.blocks_[first_block[i]].start for i, _ in numeric], dtype=np.int64)
        indicator = np.array(
            [self.blocks_[first_block[i] + 1].start if p["has_missing"] else -1 for i, p in numeric], dtype=np.int64
        )
        quantile = np.array([p["method"] == "quantile" for _, p in numeric], dtype=bool)
        several = np.array([len(p["values"]) > 1 for _, p in numeric], dtype=bool)
        categorical = [self.blocks_[first_block[i]].start for i, p in enumerate(self.params_) if p["type"] != "numeric"]
        return _Layout(
            numeric_param=np.array([i for i, _ in numeric], dtype=np.int64),
            numeric_slot=slot,
            indicator_slot=indicator,
            mean=np.array([p["mean"] for _, p in numeric], dtype=np.float64),
            std=np.array([p["std"] for _, p in numeric], dtype=np.float64),
            standard=~quantile,
            direct=quantile & several,
            category_start=categorical,
        )

    @staticmethod
    def _numeric_forward(values: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        """A quantile-mapped column's encoding (standardised columns are encoded with the linear ones)."""
        xs = np.asarray(params["values"])
        z_mid = (np.asarray(params["z_lo"]) + np.asarray(params["z_hi"])) / 2
        std = params["std"]
        if len(xs) > 1:
            # Between two known values: the open interval between their segments; on a value: its middle.
            out = np.interp(values, np.repeat(xs, 2), np.stack([params["z_lo"], params["z_hi"]], axis=1).ravel())
            pos = np.clip(np.searchsorted(xs, values), 0, len(xs) - 1)
            exact = xs[pos] == values
            out[exact] = z_mid[pos[exact]]
        else:
            out = np.zeros_like(values)
        above = values > xs[-1]
        below = values < xs[0]
        out[above] = params["z_hi"][-1] + (values[above] - xs[-1]) / std
        out[below] = params["z_lo"][0] + (values[below] - xs[0]) / std
        out[np.isnan(values)] = 0.0
        return out

    @staticmethod
    def _category_slots(series: pd.Series, params: dict[str, Any]) -> np.ndarray:
        """The one-hot slot of each row (-1: none); each distinct value is looked up once, not each row."""
        slot_of = _SlotLookup(params)
        codes, uniques = _factorize(series)
        if codes is None:  # mixed Python types that hashing would merge (True vs 1): one lookup per row
            return np.fromiter((slot_of(v) for v in series.to_numpy()), dtype=np.int64, count=len(series))
        table = np.fromiter((slot_of(v) for v in uniques), dtype=np.int64, count=len(uniques))
        table = np.append(table, slot_of.missing)  # code -1 (missing) picks the last entry
        return table[codes]

    # ---------------------------------------------------- inverse transform
    def inverse_transform(self, matrix: np.ndarray, rng: np.random.Generator | None = None) -> pd.DataFrame:
        """Decode a matrix (categorical blocks as scores/probabilities: argmax wins) back to a table.

        Restores column order, dtypes, category values, integer-ness and the training value ranges.
        """
        rng = rng or np.random.default_rng(0)
        data: dict[str, Any] = {}
        blocks = iter(self.blocks_)
        for spec, params in zip(self.schema.columns, self.params_):
            block = next(blocks)
            if params["type"] == "numeric":
                z = matrix[:, block.start].astype(np.float64)
                values = self._numeric_inverse(z, params)
                missing = np.zeros(len(z), dtype=bool)
                if params["has_missing"]:
                    ind = next(blocks)
                    missing = matrix[:, ind.start + 1] > matrix[:, ind.start]
                data[spec.name] = _restore_numeric(values, missing, spec.dtype, params["integer"])
            else:
                idx = np.argmax(matrix[:, block.start : block.end], axis=1)
                data[spec.name] = _restore_categorical(idx, params, spec.dtype, spec.kind, rng)
        return pd.DataFrame(data, columns=self.schema.names)

    @staticmethod
    def _numeric_inverse(z: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        if params["method"] == "standard":
            low, high = params.get("bound_lo", params["min"]), params.get("bound_hi", params["max"])
            return np.clip(z * params["std"] + params["mean"], low, high)
        xs = np.asarray(params["values"])
        if len(xs) == 1:
            return np.full_like(z, xs[0])
        zp, fp = quantile_knots(params)
        values = np.interp(z, zp, fp)
        return np.clip(values, params["min"], params["max"])

    # --------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema.to_dict(),
            "n_quantiles": self.n_quantiles,
            "max_categories": self.max_categories,
            "numeric_transform": self.numeric_transform,
            "params": self.params_,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "preprocessor.json") -> TabularPreprocessor:
        """The preprocessor ``to_dict`` wrote, after checking every field (one line naming ``where`` if not)."""
        check_preprocessor_dict(data, where)
        pre = cls(
            Schema.from_dict(data["schema"]),
            data["n_quantiles"],
            data["max_categories"],
            data.get("numeric_transform", "auto"),
        )
        pre.params_ = data["params"]
        pre._build_blocks()
        return pre


def _sample_bounds(observed: np.ndarray) -> dict[str, float]:
    """Where generated values of a standardised column are clipped: the observed range widened by one
    range / (n - 1) on each side (the unbiased estimate of a distribution's end points from n draws, so
    that on 10 rows samples are not piled on the 10 rows' extremes), kept non-negative when the data is."""
    lo, hi = float(observed.min()), float(observed.max())
    margin = (hi - lo) / (len(observed) - 1) if len(observed) > 1 else 0.0
    low = lo - margin
    if lo >= 0:
        low = max(low, 0.0)
    return {"bound_lo": low, "bound_hi": hi + margin}


def quantile_knots(params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Knots of a quantile-mapped column's inverse: normal scores ``zp`` (non-decreasing) -> values ``fp``.

    Each value spans [z_lo, z_hi] on the normal scale (a flat segment when it is tied in the data).
    """
    zp = np.maximum.accumulate(np.stack([params["z_lo"], params["z_hi"]], axis=1).ravel())
    fp = np.repeat(np.asarray(params["values"], dtype=np.float64), 2)
    return zp, fp


# Object columns whose values hash alike exactly when they have the same category key (no bool beside
# numbers, no Decimal, no dates): these can be factorised by pandas and looked up once per distinct value.
_SAFE_INFERRED = frozenset({"string", "empty", "boolean", "integer", "floating", "mixed-integer-float", "categorical"})


def _factorize(series: pd.Series) -> tuple[np.ndarray | None, list[Any]]:
    """Codes (-1 for missing) and the distinct values, as the per-value lookup expects them.

    Returns ``(None, [])`` when hashing could merge values whose category keys differ (``True`` and ``1``,
    ``Decimal('1')`` and ``Decimal('1.0')``): the caller then looks each row up on its own.
    """
    dtype = series.dtype
    plain = (
        isinstance(dtype, pd.CategoricalDtype)
        or (pd.api.types.is_string_dtype(dtype) and not pd.api.types.is_object_dtype(dtype))
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_numeric_dtype(dtype)
    )
    if plain:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        return np.asarray(codes), list(np.asarray(uniques, dtype=object))
    values = series.to_numpy()
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True) not in _SAFE_INFERRED:
        return None, []
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return np.asarray(codes), list(uniques)


class _SlotLookup:
    """The one-hot slot of a category value (-1: none), as training recorded the categories.

    Missing values take the ``__missing__`` slot; values seen in training but rare take ``__other__``; a
    value parsed differently (1 vs "1" in another file or chunk) finds its category through the
    alternative keys; anything else has no slot (all zeros, visible as residual).
    """

    def __init__(self, params: dict[str, Any]) -> None:
        self.lookup = {_key(c): i for i, c in enumerate(params["categories"])}
        self.other = self.lookup.get(_key(OTHER), -1)
        self.rare = {_key(v) for v in params["rare_values"]}
        self.rare_truncated = bool(params.get("rare_truncated", False))  # models saved before it: False
        self.missing = self.lookup.get(_key(MISSING), -1)

    def __call__(self, value: Any) -> int:
        if _is_missing(value):
            return self.missing
        value = _to_json_value(value)
        key = _key(value)
        idx = self.lookup.get(key)
        if idx is None:  # the same value parsed differently (1 vs "1" in another file or chunk)
            key = next((k for k in _alternative_keys(value) if k in self.lookup or k in self.rare), key)
            idx = self.lookup.get(key)
        if idx is None:
            return self.other if key in self.rare or self.rare_truncated else -1
        return idx


def _is_missing(value: Any) -> bool:
    """Missing as pandas reads it: None, NaN (of any float type), pd.NA, NaT."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(np.isnan(value))
    if isinstance(value, (np.datetime64, np.timedelta64)):
        return bool(np.isnat(value))
    return False


def _alternative_keys(value: Any) -> list[tuple[str, str]]:
    """Keys the same value would have had if its file had been parsed with another dtype."""
    keys = [("str", str(value))]
    if isinstance(value, float) and value.is_integer():
        keys.append(("str", str(int(value))))
    try:
        keys.append(("num", repr(float(value) + 0.0)))
    except (TypeError, ValueError):
        pass
    return keys


def _key(value: Any) -> tuple[str, str]:
    """Hashable identity of a category value that survives a JSON round trip (1 vs '1' stay apart)."""
    if isinstance(value, bool):
        return ("bool", str(value))
    if isinstance(value, (int, float)):
        return ("num", repr(float(value) + 0.0))  # + 0.0: -0.0 and 0.0 are one value, as pandas counts them
    return ("str", str(value))


def _restore_numeric(values: np.ndarray, missing: np.ndarray, dtype: str, integer: bool) -> pd.Series:
    if integer:
        values = np.round(values)
    try:
        target = pd.api.types.pandas_dtype(dtype)
    except TypeError:
        target = np.dtype("float64")
    if pd.api.types.is_integer_dtype(target):
        ints = pd.Series(pd.array(np.where(missing, 0, values).astype(np.int64), dtype="Int64"))
        ints[missing] = pd.NA
        if isinstance(target, pd.api.extensions.ExtensionDtype) or not missing.any():
            return ints.astype(target)
        return ints  # numpy integers cannot hold missing values: nullable Int64
    series = pd.Series(values.astype(np.float64))
    series[missing] = np.nan
    try:
        return series.astype(target)
    except (TypeError, ValueError):
        return series


def _restore_categorical(
    idx: np.ndarray, params: dict[str, Any], dtype: str, kind: str, rng: np.random.Generator
) -> pd.Series:
    categories = params["categories"]
    values = np.empty(len(idx), dtype=object)
    for i, cat in enumerate(categories):
        mask = idx == i
        if not mask.any():
            continue
        if cat == MISSING:
            values[mask] = None
        elif cat == OTHER:
            counts = np.asarray(params["rare_counts"], dtype=np.float64)
            picks = rng.choice(len(counts), size=int(mask.sum()), p=counts / counts.sum())
            values[mask] = np.asarray(params["rare_values"], dtype=object)[picks]
        else:
            values[mask] = cat
    series = pd.Series(values, dtype=object)
    if kind == "boolean" and not series.isna().any():
        return series.astype(bool)
    if dtype == "object":
        return series
    try:
        if dtype in ("str", "string") or not series.isna().any():
            return series.astype(dtype)
    except (TypeError, ValueError):
        pass
    return series
