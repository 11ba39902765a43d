"""Scoring at scale: the vectorised category encoding against a plain per-row reference, streamed
reading of Parquet, and the score output's edge cases (label in some files only, header-only files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from gantools import workflows
from gantools.data import infer_schema, iter_table_chunks
from gantools.preprocessing import MISSING, OTHER, TabularPreprocessor, _alternative_keys, _key, _to_json_value


def reference_onehot(series: pd.Series, params: dict) -> np.ndarray:
    """The encoding as a plain loop over rows (how it was written before it was vectorised)."""
    categories = params["categories"]
    lookup = {_key(c): i for i, c in enumerate(categories)}
    other = lookup.get(_key(OTHER))
    rare = {_key(v) for v in params["rare_values"]}
    missing = lookup.get(_key(MISSING))
    onehot = np.zeros((len(series), len(categories)), dtype=np.float32)
    for row, value in enumerate(series.to_numpy()):
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            idx = missing
        else:
            value = _to_json_value(value)
            key = _key(value)
            idx = lookup.get(key)
            if idx is None:
                key = next((k for k in _alternative_keys(value) if k in lookup or k in rare), key)
                idx = lookup.get(key)
            if idx is None and other is not None and key in rare:
                idx = other
        if idx is not None:
            onehot[row, idx] = 1.0
    return onehot


def assert_matches_reference(pre: TabularPreprocessor, df: pd.DataFrame) -> None:
    """Every categorical block of ``pre.transform(df)`` equals the reference loop's, column by column."""
    encoded = pre.transform(df)
    blocks = {b.column: b for b in reversed(pre.blocks_)}  # the first block of each column
    checked = 0
    for col, (spec, params) in enumerate(zip(pre.schema.columns, pre.params_)):
        if params["type"] != "categorical":
            continue
        block = blocks[col]
        expected = reference_onehot(df[spec.name], params)
        np.testing.assert_array_equal(encoded[:, block.start : block.end], expected, err_msg=spec.name)
        checked += 1
    assert checked


def _fit(df: pd.DataFrame, **kw) -> TabularPreprocessor:
    return TabularPreprocessor(infer_schema(df), **kw).fit(df)


def _with_unseen_and_missing(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """A copy where about 5% of each categorical cell is missing and 5% a value never seen in training."""
    out = df.copy()
    for name in out.columns:
        if out[name].dtype.kind in "iufb":
            continue
        values = out[name].astype(object).to_numpy().copy()  # copy-on-write: to_numpy may be read-only
        draw = rng.random(len(out))
        values[draw < 0.05] = None
        values[(draw >= 0.05) & (draw < 0.10)] = "never-seen-in-training"
        out[name] = pd.Series(values, index=out.index, dtype=object)
    return out


def test_category_encoding_matches_reference_on_adult(adult_slice):
    features = adult_slice.drop(columns="income")
    train, probe = features.iloc[:2000], features.iloc[2000:].reset_index(drop=True)
    rng = np.random.default_rng(0)
    # few categories kept: the rare values share the __other__ slot; missing values come from Adult's "?"
    for max_categories in (100, 5):
        pre = _fit(train, max_categories=max_categories)
        assert_matches_reference(pre, probe)
        assert_matches_reference(pre, _with_unseen_and_missing(probe, rng))
        # the same table as pandas would hold it from other readers: categorical and object dtypes
        cats = [c.name for c in pre.schema.columns if c.kind == "categorical"]
        assert_matches_reference(pre, probe.astype({c: "category" for c in cats}))
        assert_matches_reference(pre, probe.astype({c: object for c in cats}))


def test_category_encoding_matches_reference_on_mixed_table():
    rng = np.random.default_rng(1)
    n = 600
    train = pd.DataFrame(
        {
            "text": rng.choice(["a", "b", "c", "d", "e", "f"], n, p=[0.4, 0.3, 0.2, 0.05, 0.03, 0.02]),
            "code": rng.choice(["1", "2", "10", "A"], n),  # digits as text: read as numbers in some files
            "flag": rng.choice([True, False], n),
            "nullable": pd.array(rng.choice([1, 2, 3, None], n), dtype="Int64"),
            "maybe": pd.array(rng.choice([True, False, None], n), dtype="boolean"),
            "x": rng.normal(size=n),
        }
    )
    kinds = {"nullable": "categorical"}
    pre = TabularPreprocessor(infer_schema(train, kinds=kinds), max_categories=4).fit(train)
    assert OTHER in pre.params_[0]["categories"]
    assert MISSING in pre.params_[3]["categories"] and MISSING in pre.params_[4]["categories"]
    assert_matches_reference(pre, train)
    probe = pd.DataFrame(
        {
            "text": ["a", "f", None, "zzz", np.nan, "e"],
            "code": [1, 2, 10, 3, None, 1],  # a file without "A": integers (1 vs "1"), one unseen, one missing
            "flag": [True, False, True, False, True, False],
            "nullable": pd.array([1, None, 3, 4, 2, None], dtype="Int64"),
            "maybe": pd.array([None, True, False, None, True, True], dtype="boolean"),
            "x": np.zeros(6),
        }
    )
    assert_matches_reference(pre, probe)
    as_float = probe.assign(code=[1.0, 2.0, 10.0, 3.0, np.nan, 1.0], nullable=[1.0, np.nan, 3.0, 4.0, 2.0, np.nan])
    assert_matches_reference(pre, as_float)
    as_text = probe.astype({"code": "string", "text": "string", "nullable": object, "flag": object})
    assert_matches_reference(pre, as_text)
    # mixed Python objects in one column (True beside 1, "1" beside 1.0): looked up row by row, same result
    mixed = probe.assign(code=pd.Series([True, "1", 1.0, pd.NA, "A", 2], dtype=object))
    assert_matches_reference(pre, mixed)
    # and the encoding agrees with itself however the column was parsed
    as_read = probe.assign(code=pd.array(["1", "2", "10", "3", None, "1"], dtype="string"))
    np.testing.assert_array_equal(pre.transform(probe), pre.transform(as_read))


def test_header_only_parquet_file_yields_its_columns(tmp_path: Path, banknote):
    banknote.head(0).to_parquet(tmp_path / "empty.parquet", index=False)
    chunks = list(iter_table_chunks(tmp_path / "empty.parquet"))
    assert len(chunks) == 1 and len(chunks[0]) == 0
    assert list(chunks[0].columns) == list(banknote.columns)


def test_parquet_is_read_in_batches_within_a_row_group(tmp_path: Path, banknote):
    path = tmp_path / "one_group.parquet"
    banknote.to_parquet(path, index=False, row_group_size=len(banknote))
    assert pq.ParquetFile(path).num_row_groups == 1
    sizes = [len(c) for c in iter_table_chunks(path, chunk_rows=500)]
    assert sizes == [500, 500, len(banknote) - 1000]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, banknote_model) -> Path:
    folder = tmp_path_factory.mktemp("scale") / "model"
    banknote_model.save(folder)
    return folder


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_label_in_later_files_only(tmp_path: Path, model_dir: Path, banknote, suffix):
    """The first file lacks the label column, a later one has it: one output, the label kept as text."""
    folder = tmp_path / "in"
    folder.mkdir()
    banknote.head(6).drop(columns="class").to_csv(folder / "a.csv", index=False)
    banknote.tail(4).to_parquet(folder / "b.parquet", index=False)
    out = tmp_path / f"scores{suffix}"
    report = workflows.score([folder], model_dir, out, chunk_rows=4)
    assert not report.failed and report.rows == 10
    scores = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out, dtype={"class_in_file": "string"})
    assert scores["class_in_file"].isna().sum() == 6
    assert scores["class_in_file"].iloc[6:].tolist() == banknote["class"].tail(4).astype(str).tolist()
    assert scores["class"].notna().all()


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_header_only_files_give_a_header_and_zero_rows(tmp_path: Path, model_dir: Path, banknote, suffix):
    folder = tmp_path / "in"
    folder.mkdir()
    banknote.head(0).to_csv(folder / "a.csv", index=False)
    banknote.head(0).to_parquet(folder / "b.parquet", index=False)
    out = tmp_path / f"scores{suffix}"
    report = workflows.score([folder], model_dir, out)
    assert [f["rows"] for f in report.files] == [0, 0] and not report.failed
    header = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
    assert len(header) == 0
    expected = ["source", "row", "score", "score_discriminator", "score_reconstruction", "class", "is_anomaly"]
    assert set(expected) <= set(header.columns) and header.columns[-1] == "class_in_file"
    # and header-only files among others change nothing for the rows of the others
    banknote.head(5).to_parquet(folder / "c.parquet", index=False)
    report = workflows.score([folder], model_dir, out)
    assert [f["rows"] for f in report.files] == [0, 0, 5]
    scores = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
    assert len(scores) == 5 and scores["row"].tolist() == list(range(5))
    assert list(scores.columns) == list(header.columns)
    if suffix == ".parquet":
        assert scores["class"].dtype == banknote["class"].dtype and scores["score"].dtype == np.float64
        assert header.dtypes.drop("source").equals(scores.dtypes.drop("source"))


def test_fast_csv_rows_read_back_as_pandas_writes_them(tmp_path: Path):
    from gantools.output import AtomicTableWriter

    rng = np.random.default_rng(0)
    n = 500
    frame = pd.DataFrame(
        {
            "source": rng.choice(["a.csv", "dir, with comma/b.csv", 'say "hi".csv', "line\nbreak.csv"], n),
            "row": np.arange(n),
            "score": rng.standard_normal(n) * 10.0 ** rng.integers(-8, 18, n),
            "whole": rng.integers(-3, 3, n).astype(np.float64),  # integral floats stay floats: 1.0, not 1
            "is_anomaly": rng.integers(0, 2, n),
            "flag": rng.random(n) < 0.5,
            "label": pd.array(rng.choice(["0", "1", None], n), dtype="string"),
            "nullable": pd.array(rng.choice([1, 2, None], n), dtype="Int64"),
        }
    )
    frame.loc[::7, "score"] = np.nan
    frame.loc[3, "score"] = np.inf
    frame.loc[5, "whole"] = -0.0
    out = tmp_path / "fast.csv"
    with AtomicTableWriter(out) as writer:
        writer.write(frame.iloc[:200])
        writer.write(frame.iloc[200:])
    expected = tmp_path / "pandas.csv"
    frame.to_csv(expected, index=False)
    read = {"label": "string", "nullable": "Int64"}
    pd.testing.assert_frame_equal(pd.read_csv(out, dtype=read), pd.read_csv(expected, dtype=read))
    # text identical to pandas' but for the spelling of some floats (1e-05 vs 0.00001: the same number)
    same = frame.drop(columns="score")
    with AtomicTableWriter(out) as writer:
        writer.write(same)
    assert out.read_text() == same.to_csv(index=False)
    # a type the fast path does not format goes through pandas
    with AtomicTableWriter(out) as writer:
        writer.write(same.astype({"source": "category"}))
    assert out.read_text() == same.to_csv(index=False)
