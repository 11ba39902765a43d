"""Parsing a class mix (original | balanced | LABEL=FRACTION,...) into row counts per class."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gantools.errors import UsageError


def parse_class_mix(
    mix: str | Mapping[Any, float], classes: Sequence[Any], original_freq: Sequence[float]
) -> np.ndarray:
    """Fractions per class (summing to 1) for ``original``, ``balanced``, ``"A=0.3,B=0.7"`` or a dict."""
    keys = [str(c) for c in classes]
    if isinstance(mix, str):
        text = mix.strip()
        if text == "original":
            frac = np.asarray(original_freq, dtype=np.float64)
            return frac / frac.sum()
        if text == "balanced":
            return np.full(len(classes), 1.0 / len(classes))
        pairs: dict[str, float] = {}
        for item in filter(None, (p.strip() for p in text.split(","))):
            if "=" not in item:
                raise UsageError(
                    f"class mix item '{item}' is not LABEL=FRACTION (use original, balanced or e.g. 0=0.5,1=0.5)"
                )
            key, value = item.rsplit("=", 1)
            try:
                pairs[key.strip()] = float(value)
            except ValueError:
                raise UsageError(f"class mix fraction '{value}' for '{key}' is not a number") from None
        mapping: Mapping[Any, float] = pairs
    else:
        mapping = {str(k): float(v) for k, v in mix.items()}
    unknown = [k for k in mapping if str(k) not in keys]
    if unknown:
        raise UsageError(
            f"class mix names unknown class(es) {', '.join(map(str, unknown))} (classes: {', '.join(keys)})"
        )
    frac = np.array([float(mapping.get(k, 0.0)) for k in keys])
    if (frac < 0).any() or frac.sum() <= 0:
        raise UsageError("class mix fractions must be non-negative and not all zero")
    return frac / frac.sum()


def counts_from_fractions(n: int, fractions: np.ndarray) -> np.ndarray:
    """Split ``n`` rows by ``fractions`` with largest-remainder rounding (counts sum to exactly ``n``)."""
    exact = fractions * n
    counts = np.floor(exact).astype(np.int64)
    remainder = n - counts.sum()
    if remainder > 0:
        order = np.argsort(-(exact - counts), kind="stable")
        counts[order[:remainder]] += 1
    return counts
