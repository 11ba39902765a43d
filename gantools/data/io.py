"""Reading CSV/Parquet tables and finding them in folders, with one-line errors on bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from gantools.data.schema import check_unique_columns
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


SNIFF_BYTES = 1 << 16


def _check_csv_text(path: Path) -> None:
    """Refuse, with one line saying what to do, a .csv file that is binary or not UTF-8 text, or whose
    header names a column twice (pandas would silently rename the second one)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise GantoolsError(f"cannot read '{path}' ({exc.strerror})") from None
    if b"\x00" in head:
        raise GantoolsError(f"'{path}' holds binary data, not CSV text; give a CSV (UTF-8 text) or Parquet file")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not merely a character cut at the end of the sniffed block
            raise GantoolsError(
                f"'{path}' is not UTF-8 text (byte 0x{head[exc.start]:02x} at position {exc.start}); save it as "
                "UTF-8 (e.g. pandas: df.to_csv(path, encoding='utf-8'))"
            ) from None
    first_line = head.split(b"\n", 1)[0]
    for name, separator in (("semicolons", b";"), ("tabs", b"\t"), ("'|'", b"|")):
        if separator in first_line and b"," not in first_line:
            raise GantoolsError(
                f"'{path}' separates its values with {name}, not commas; save it comma-separated "
                f"(e.g. pandas: pd.read_csv(path, sep={separator.decode()!r}).to_csv(path, index=False))"
            )
    try:
        header = pd.read_csv(path, header=None, nrows=1, dtype=str, skipinitialspace=True)
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, ValueError):
        return  # the full read reports it
    check_unique_columns(list(header.iloc[0]) if len(header) else [], f"'{path}'")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a whole CSV or Parquet file into a DataFrame (``?`` and blanks count as missing)."""
    path = Path(path)
    _check_file(path)
    if path.suffix.lower() == ".csv":
        _check_csv_text(path)
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
    check_unique_columns(list(df.columns), f"'{path}'")
    return df


def iter_table_chunks(path: str | Path, chunk_rows: int = 100_000) -> Iterator[pd.DataFrame]:
    """Yield a CSV/Parquet file in chunks of at most ``chunk_rows`` rows, so memory stays flat."""
    path = Path(path)
    _check_file(path)
    if path.suffix.lower() == ".csv":
        _check_csv_text(path)
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


def find_tables(paths: list[str | Path], skipped: list[str] | None = None) -> list[Path]:
    """Expand files and folders (searched recursively) into the CSV/Parquet files they hold, in order.
    ``skipped``: a list that receives the other files found in the folders (hidden files aside)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise GantoolsError(f"'{path}' not found")
        if path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            files = [p for p in inside if p.suffix.lower() in TABLE_SUFFIXES]
            if not files:
                raise GantoolsError(f"folder '{path}' holds no .csv or .parquet files")
            found.extend(files)
            if skipped is not None:
                skipped.extend(str(p) for p in inside if p.suffix.lower() not in TABLE_SUFFIXES)
        else:
            _check_file(path)
            found.append(path)
    return found
