from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gantools.data import find_tables, infer_schema, iter_table_chunks, read_table
from gantools.errors import GantoolsError


def test_infers_kinds_of_adult_columns(adult_slice):
    schema = infer_schema(adult_slice, label="income")
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds["age"] == "integer"
    assert kinds["workclass"] == "categorical"
    assert kinds["sex"] == "categorical"
    assert "income" not in kinds
    # "?" in the file is read as missing, and recorded as such
    missing = {c.name for c in schema.columns if c.has_missing}
    assert {"workclass", "occupation"} <= missing


def test_kind_overrides_and_booleans():
    df = pd.DataFrame({"code": [1, 2, 3, 1] * 5, "flag": [True, False] * 10, "x": np.linspace(0, 1, 20)})
    schema = infer_schema(df, kinds={"code": "categorical"})
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds == {"code": "categorical", "flag": "boolean", "x": "numeric"}


def test_missing_label_column_names_the_columns(banknote):
    with pytest.raises(GantoolsError, match="label column 'kind' not in the data .*variance"):
        infer_schema(banknote, label="kind")


def test_declared_numeric_column_with_text_names_the_row():
    df = pd.DataFrame({"a": ["1", "2", "x", "4"]})
    with pytest.raises(GantoolsError, match="row 2 holds 'x'"):
        infer_schema(df, kinds={"a": "numeric"})


def test_read_table_errors(tmp_path: Path):
    with pytest.raises(GantoolsError, match="not found"):
        read_table(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(GantoolsError, match="is empty"):
        read_table(tmp_path / "empty.csv")
    (tmp_path / "notes.txt").write_text("a,b\n1,2\n")
    with pytest.raises(GantoolsError, match="not a .csv or .parquet"):
        read_table(tmp_path / "notes.txt")


def test_find_tables_recurses_and_chunks(tmp_path: Path, banknote):
    (tmp_path / "sub").mkdir()
    banknote.head(30).to_csv(tmp_path / "a.csv", index=False)
    banknote.iloc[30:55].to_parquet(tmp_path / "sub" / "b.parquet", index=False)
    (tmp_path / "readme.txt").write_text("not a table")
    files = find_tables([tmp_path])
    assert [f.name for f in files] == ["a.csv", "b.parquet"]
    chunks = list(iter_table_chunks(files[0], chunk_rows=7))
    assert [len(c) for c in chunks] == [7, 7, 7, 7, 2]
    assert pd.concat(chunks).reset_index(drop=True).equals(banknote.head(30).reset_index(drop=True))
    assert sum(len(c) for c in iter_table_chunks(files[1], chunk_rows=10)) == 25
    with pytest.raises(GantoolsError, match="holds no .csv"):
        find_tables([_empty_dir(tmp_path)])


def _empty_dir(tmp_path: Path) -> Path:
    empty = tmp_path / "empty"
    empty.mkdir()
    return empty


def test_outputs_get_the_users_usual_mode_not_tempfiles_private_one(tmp_path: Path):
    import os

    import torch

    from gantools.bundle import WEIGHTS_FILE, write_bundle
    from gantools.output import AtomicTableWriter

    old = os.umask(0o022)
    try:
        with AtomicTableWriter(tmp_path / "scores.csv") as writer:
            writer.write(pd.DataFrame({"score": [0.5, 1.5]}))
        folder = write_bundle(tmp_path / "model", {"kind": "test"}, {}, {"w": torch.zeros(2)})
    finally:
        os.umask(old)
    assert (tmp_path / "scores.csv").stat().st_mode & 0o777 == 0o644  # was 0o600 (mkstemp)
    assert folder.stat().st_mode & 0o777 == 0o755  # was 0o700 (mkdtemp)
    assert (folder / WEIGHTS_FILE).stat().st_mode & 0o777 == 0o644


def test_umask_is_read_without_being_changed(tmp_path: Path, monkeypatch):
    import os
    import sys

    from gantools.output import AtomicTableWriter, current_umask

    old = os.umask(0o027)
    try:
        if sys.platform.startswith("linux"):  # read from /proc: os.umask, which sets it, is not called
            with monkeypatch.context() as patched:
                patched.setattr(os, "umask", lambda mask: pytest.fail("umask was set to read it"))
                assert current_umask() == 0o027
        assert current_umask() == 0o027
        with AtomicTableWriter(tmp_path / "scores.parquet") as writer:
            writer.write(pd.DataFrame({"score": [0.5]}))
    finally:
        os.umask(old)
    assert (tmp_path / "scores.parquet").stat().st_mode & 0o777 == 0o640
