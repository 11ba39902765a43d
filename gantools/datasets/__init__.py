"""Datasets bundled with gantools (with attribution in ATTRIBUTION.md)."""

from __future__ import annotations

from importlib import resources

import pandas as pd


def banknote_path() -> str:
    """Path of the bundled banknote authentication CSV (CC BY 4.0, UCI)."""
    return str(resources.files(__name__).joinpath("banknote.csv"))


def load_banknote() -> pd.DataFrame:
    """The banknote authentication data: 1,372 rows, four numeric features and ``class`` (0/1)."""
    return pd.read_csv(banknote_path())
