"""Atomic table writers: rows go to a temporary file beside the target, renamed into place at the end."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from types import TracebackType

import pandas as pd

from gantools.errors import GantoolsError

OUTPUT_SUFFIXES = (".csv", ".parquet")


def check_output_path(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise GantoolsError(f"output '{path}' must end in .csv or .parquet")
    if path.is_dir():
        raise GantoolsError(f"output '{path}' is a folder; give a file name")
    if not path.parent.exists():
        raise GantoolsError(f"folder of output '{path}' does not exist")
    return path


class AtomicTableWriter:
    """Append DataFrame chunks to a CSV or Parquet file that appears only when all are written."""

    def __init__(self, path: str | Path) -> None:
        self.path = check_output_path(path)
        self.parquet = self.path.suffix.lower() == ".parquet"
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        os.close(fd)
        self.tmp = Path(tmp)
        self._writer = None
        self._first = True
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        if self.parquet:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self._writer is None:
                self._writer = pq.ParquetWriter(self.tmp, table.schema)
            self._writer.write_table(table.cast(self._writer.schema))
        else:
            frame.to_csv(self.tmp, mode="w" if self._first else "a", header=self._first, index=False)
        self._first = False
        self.rows += len(frame)

    def commit(self) -> Path:
        if self._writer is not None:
            self._writer.close()
        elif self.parquet and self._first:
            pd.DataFrame().to_parquet(self.tmp)
        elif self._first:
            self.tmp.write_text("")
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> AtomicTableWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write one DataFrame atomically as CSV or Parquet (by the file's suffix)."""
    with AtomicTableWriter(path) as writer:
        writer.write(frame)
    return writer.path
