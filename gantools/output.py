"""Atomic table writers: rows go to a temporary file beside the target, renamed into place at the end."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

import numpy as np
import pandas as pd

from gantools.errors import GantoolsError, UsageError

OUTPUT_SUFFIXES = (".csv", ".parquet")


def current_umask() -> int:
    """The process's umask, read without changing it where the system says it (Linux: /proc), so that other
    threads creating files meanwhile are not given mode 0666; elsewhere set and restored at once."""
    try:
        with open("/proc/self/status", "rb") as status:  # binary: the Name line may be any bytes
            for line in status:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)  # the short window errs on the private side
    os.umask(mask)
    return mask


def give_usual_mode(path: Path) -> None:
    """Give a file or folder made private by ``tempfile`` (mode 0600 / 0700) the mode a plain ``open`` or
    ``mkdir`` would have given it under the user's umask, before it is renamed into place."""
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~current_umask())


def replace_folder(tmp: Path, target: Path) -> None:
    """Put the finished folder ``tmp`` at ``target`` (a sibling), replacing what is there in one rename."""
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        os.replace(target, old)
        os.replace(tmp, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, target)


@contextmanager
def atomic_folder(path: str | Path, what: str, option: str) -> Iterator[Path]:
    """A temporary sibling of the folder ``path`` to fill; when the block ends without error it gets the mode a
    plain ``mkdir`` would give and replaces ``path`` in one rename, otherwise it is removed and ``path`` is left
    as it was. ``what``/``option`` word the errors (e.g. "the images", "--out")."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise GantoolsError(f"'{target}' is a file; give a folder for {what} ({option} FOLDER)")
    check_writable_folder(target, option)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    except OSError as exc:
        raise GantoolsError(f"cannot write to '{target}' ({exc.strerror}); choose another {option}") from None
    try:
        yield tmp
        give_usual_mode(tmp)  # mkdtemp makes it private to the user
        replace_folder(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def check_output_path(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UsageError(f"output '{path}' must end in .csv or .parquet")
    if path.is_dir():
        raise GantoolsError(f"output '{path}' is a folder; give a file name")
    if not path.parent.exists():
        raise GantoolsError(f"folder of output '{path}' does not exist")
    if not path.parent.is_dir():
        raise GantoolsError(f"output '{path}': '{path.parent}' is a file, not a folder; choose another --out")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise GantoolsError(f"output '{path}': folder '{path.parent}' is not writable; choose another --out")
    return path


def check_writable_folder(path: str | Path, option: str) -> Path:
    """Before long work: refuse, with one line, a folder path that cannot be written (a file in its place or
    above it, or no write permission where it would be created), so that nothing is computed for nothing."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise GantoolsError(f"'{target}' is a file; give a folder ({option} FOLDER)")
    existing = target
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing != target and not existing.is_dir():
        raise GantoolsError(f"cannot write to '{target}': '{existing}' is a file; choose another {option}")
    where = existing if existing != target else target.parent
    if not os.access(where, os.W_OK | os.X_OK):
        raise GantoolsError(f"cannot write to '{target}': '{where}' is not writable; choose another {option}")
    return target


class AtomicTableWriter:
    """Append DataFrame chunks to a CSV or Parquet file that appears only when all are written."""

    def __init__(self, path: str | Path) -> None:
        self.path = check_output_path(path)
        self.parquet = self.path.suffix.lower() == ".parquet"
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        except OSError as exc:
            raise GantoolsError(f"cannot write '{self.path}' ({exc.strerror}); choose another --out") from None
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
                self._writer = pq.ParquetWriter(self.tmp, _settle_null_columns(table.schema))
            self._writer.write_table(_cast_chunk(table, self._writer.schema, self.path))
        else:
            text = _csv_rows(frame)
            if text is None:  # a column type the fast path does not format: pandas writes the chunk
                frame.to_csv(self.tmp, mode="w" if self._first else "a", header=self._first, index=False)
            else:
                with open(self.tmp, "wb" if self._first else "ab") as handle:
                    if self._first:
                        handle.write(frame.head(0).to_csv(index=False).encode())
                    handle.write(text)
        self._first = False
        self.rows += len(frame)

    def commit(self) -> Path:
        if self._writer is not None:
            self._writer.close()
        elif self.parquet and self._first:
            pd.DataFrame().to_parquet(self.tmp)
        elif self._first:
            self.tmp.write_text("")
        give_usual_mode(self.tmp)
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


def _csv_rows(frame: pd.DataFrame) -> bytes | memoryview | None:
    """The rows of ``frame`` (no header) as ``to_csv`` writes them, but formatted by Arrow, about eight times
    faster. Floats keep a decimal point or an exponent (``1.0``, not ``1``), so they read back as floats; a
    float may be spelt differently from Python's repr (``0.00001`` for ``1e-05``) but is the same number.
    ``None`` when a column holds a type this does not format (categories, dates, ...): use ``to_csv``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if frame.shape[1] == 0:
        return None
    if len(frame) == 0:
        return b""
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)  # NaN and NA become nulls, written empty

        def lit(value: str) -> pa.Scalar:
            return pa.scalar(value, pa.large_string())

        cells = []
        for column in table.columns:
            kind = column.type
            if pa.types.is_integer(kind):
                text = pc.cast(column, pa.large_string())
            elif pa.types.is_floating(kind):
                text = pc.cast(column, pa.large_string())
                whole = pc.match_substring_regex(text, r"^-?[0-9]+$")  # 1.0 is written "1" by Arrow
                text = pc.if_else(whole, pc.binary_join_element_wise(text, lit(".0"), lit("")), text)
            elif pa.types.is_boolean(kind):
                text = pc.if_else(column, lit("True"), lit("False"))
            elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
                text = pc.cast(column, pa.large_string())
                needs_quotes = pc.match_substring_regex(text, r'[,"\r\n]')
                if pc.any(needs_quotes).as_py():  # as the csv module quotes: "a,b" and "say ""hi"""
                    doubled = pc.replace_substring(text, '"', '""')
                    quoted = pc.binary_join_element_wise(lit('"'), doubled, lit('"'), lit(""))
                    text = pc.if_else(needs_quotes, quoted, text)
            elif pa.types.is_null(kind):
                text = pa.nulls(len(column), pa.large_string())
            else:
                return None
            cells.append(pc.fill_null(text, lit("")))
        lines = pc.binary_join_element_wise(*cells, lit(","))
        lines = pc.binary_join_element_wise(lines, lit(""), lit("\n")).combine_chunks()  # "row\n" each, back to back
    except (pa.ArrowException, TypeError, ValueError):
        return None
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
    return memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]]


def _settle_null_columns(schema):  # -> pa.Schema
    """A column that is empty or all-missing in the first chunk has no type yet: give it text, which any
    later chunk's values can be cast to (a Parquet file's column types are fixed by its first chunk)."""
    import pyarrow as pa

    for i, field in enumerate(schema):
        if pa.types.is_null(field.type):
            schema = schema.set(i, field.with_type(pa.large_string()))
    return schema


def _cast_chunk(table, schema, path: Path):  # -> pa.Table
    """``table`` with the file's column types; a column whose values cannot take its type is one clear error."""
    import pyarrow as pa

    if table.schema.equals(schema):
        return table
    if table.schema.names != schema.names:
        raise GantoolsError(f"cannot append to '{path}': columns {table.schema.names} differ from {schema.names}")
    columns = []
    for name, column, field in zip(schema.names, table.columns, schema):
        try:
            columns.append(column.cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise GantoolsError(
                f"cannot append to '{path}': column '{name}' holds {column.type} values where earlier rows "
                f"held {field.type} ({str(exc).splitlines()[0]})"
            ) from None
    return pa.Table.from_arrays(columns, schema=schema)


def write_table(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write one DataFrame atomically as CSV or Parquet (by the file's suffix)."""
    with AtomicTableWriter(path) as writer:
        writer.write(frame)
    return writer.path
