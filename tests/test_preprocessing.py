import numpy as np
import pandas as pd

from gantools.data import infer_schema
from gantools.preprocessing import TabularPreprocessor


def _fit(df, label=None, **kw):
    schema = infer_schema(df, label)
    return TabularPreprocessor(schema, **kw).fit(df.drop(columns=[label]) if label else df)


def test_round_trip_restores_adult_exactly(adult_slice):
    features = adult_slice.drop(columns="income")
    pre = _fit(adult_slice, "income")
    back = pre.inverse_transform(pre.transform(features))
    assert list(back.columns) == list(features.columns)
    assert back.dtypes.equals(features.dtypes)
    pd.testing.assert_frame_equal(back, features)


def test_json_round_trip_gives_the_same_transform(adult_slice):
    import json

    features = adult_slice.drop(columns="income")
    pre = _fit(adult_slice, "income")
    again = TabularPreprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    np.testing.assert_array_equal(pre.transform(features), again.transform(features))


def test_out_of_range_values_stay_visible(banknote):
    pre = _fit(banknote.drop(columns="class"), numeric_transform="quantile")
    probe = banknote.drop(columns="class").head(3).copy()
    top = banknote["variance"].max()
    probe["variance"] = [top, top + 10, top + 100]
    z = pre.transform(probe)[:, 0]
    assert z[0] < z[1] < z[2]
    assert z[2] - z[1] > 10  # not clipped: grows with the distance beyond the range
    # and decoding still keeps values inside the training range
    assert pre.inverse_transform(pre.transform(probe))["variance"].max() <= top


def test_spiky_skewed_column_keeps_its_spike():
    rng = np.random.default_rng(0)
    gains = np.where(rng.random(2000) < 0.9, 0, rng.lognormal(8, 1, 2000).round()).astype(np.int64)
    df = pd.DataFrame({"gain": gains})
    pre = _fit(df)
    assert pre.params_[0]["method"] == "quantile"
    # values drawn uniformly on the normal scale land on 0 about 90% of the time
    z = rng.standard_normal(20000).astype(np.float32)[:, None]
    decoded = pre.inverse_transform(z)["gain"]
    assert abs((decoded == 0).mean() - 0.9) < 0.03
    assert decoded.dtype == np.int64


def test_unseen_category_encodes_as_zeros_and_rare_values_share_a_slot():
    df = pd.DataFrame({"c": ["a"] * 50 + ["b"] * 30 + [f"r{i}" for i in range(20)]})
    pre = _fit(df, max_categories=2)
    cats = pre.params_[0]["categories"]
    assert cats[:2] == ["a", "b"] and "__other__" in cats
    enc = pre.transform(pd.DataFrame({"c": ["a", "r3", "never-seen"]}))
    assert enc[0].sum() == 1 and enc[1].sum() == 1 and enc[2].sum() == 0
    decoded = pre.inverse_transform(enc[:2])["c"].tolist()
    assert decoded[0] == "a" and decoded[1].startswith("r")


def test_missing_numeric_values_get_an_indicator():
    df = pd.DataFrame({"x": [1.5, np.nan, 2.5, 3.5, np.nan, 4.0] * 5})
    pre = _fit(df)
    assert pre.n_features_out_ == 3
    back = pre.inverse_transform(pre.transform(df))
    assert back["x"].isna().sum() == df["x"].isna().sum()
    np.testing.assert_allclose(back["x"].dropna().to_numpy(), df["x"].dropna().to_numpy())


def test_scoring_space_restores_standardised_original_units():
    """Residuals of quantile-mapped columns are measured in original units, so far tails stay far."""
    import torch

    from gantools.scoring_space import ScoringSpace

    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "skewed": rng.lognormal(0, 1.5, 2000),
            "normal": rng.normal(size=2000),
            "spiky": np.where(rng.random(2000) < 0.5, 0, rng.exponential(3, 2000)),
        }
    )
    pre = _fit(df)
    assert [p["method"] for p in pre.params_] == ["quantile", "standard", "quantile"]
    probe = pd.DataFrame({"skewed": [0.5, 3.0, 100.0, 1000.0], "normal": [0, 1, 2, 30], "spiky": [0, 1, 5, 200]})
    mapped = ScoringSpace(pre.params_, pre.blocks_, torch.device("cpu"))(torch.tensor(pre.transform(probe)))
    expected = np.stack([(probe[c] - p["mean"]) / p["std"] for c, p in zip(probe.columns, pre.params_)], axis=1)
    np.testing.assert_allclose(mapped.numpy(), expected, rtol=1e-4, atol=1e-4)


def test_scoring_space_maps_every_column_as_its_own_inverse_quantile_map():
    """All columns at once (knots padded to one length) give what each column's own map gives."""
    import torch

    from gantools.preprocessing import quantile_knots
    from gantools.scoring_space import ScoringSpace

    rng = np.random.default_rng(1)
    df = pd.DataFrame(
        {
            "skewed": rng.lognormal(0, 1.5, 500),
            "few_values": rng.integers(0, 4, 500).astype(float) ** 2,  # ties: flat segments, few knots
            "normal": rng.normal(size=500),
            "spiky": np.where(rng.random(500) < 0.5, 0, rng.exponential(3, 500)),
        }
    )
    pre = _fit(df)
    space = ScoringSpace(pre.params_, pre.blocks_, torch.device("cpu"))
    Z = torch.as_tensor(rng.normal(scale=3.0, size=(2000, pre.n_features_out_)), dtype=torch.float32)
    Z[:5] = torch.tensor([-40.0, 40.0, 0.0, 1e-7, -1e-7])[:, None]  # far outside the range, and at the centre
    mapped = space(Z).numpy()
    for block in pre.blocks_:
        p = pre.params_[block.column]
        if p["method"] != "quantile":
            np.testing.assert_array_equal(mapped[:, block.start], Z[:, block.start].numpy())
            continue
        zp, fp = quantile_knots(p)
        z = Z[:, block.start].double().numpy()
        value = np.interp(z, zp, fp)
        value = np.where(z > zp[-1], fp[-1] + (z - zp[-1]) * p["std"], value)
        value = np.where(z < zp[0], fp[0] + (z - zp[0]) * p["std"], value)
        np.testing.assert_allclose(mapped[:, block.start], (value - p["mean"]) / p["std"], rtol=1e-4, atol=1e-4)


def test_standardised_transform_is_the_scoring_space_without_the_round_trip():
    """encode with a fill gives what ScoringSpace makes of transform: the scorer's view of a record,
    in range, beyond it, on ties, one-valued and missing (with and without a missing indicator)."""
    import torch

    from gantools.scoring_space import ScoringSpace

    rng = np.random.default_rng(2)
    n = 800
    df = pd.DataFrame(
        {
            "skewed": rng.lognormal(0, 1.5, n),
            "few_values": rng.integers(0, 4, n).astype(float) ** 2,
            "normal": rng.normal(size=n),
            "spiky_with_gaps": np.where(
                rng.random(n) < 0.1, np.nan, np.where(rng.random(n) < 0.5, 0, rng.exponential(3, n))
            ),
            "constant": np.full(n, 7.0),
            "colour": rng.choice(["red", "green", "blue"], n),
        }
    )
    pre = _fit(df)
    assert sum(p.get("method") == "quantile" for p in pre.params_) >= 3
    probe = pd.concat([df.sample(300, random_state=0), pd.DataFrame(
        {"skewed": [1e-3, 1e4, np.nan], "few_values": [100.0, -5.0, np.nan], "normal": [50.0, np.nan, 0.0],
         "spiky_with_gaps": [np.nan, 1e3, -1.0], "constant": [7.0, 9.0, np.nan], "colour": ["red", "pink", None]}
    )])  # fmt: skip
    space = ScoringSpace(pre.params_, pre.blocks_, torch.device("cpu"))
    via_space = space(torch.as_tensor(pre.transform(probe))).numpy()
    fill = space(torch.zeros(1, pre.n_features_out_))[0].numpy()
    direct = pre.encode(pre.read(probe), fill)
    np.testing.assert_allclose(direct, via_space, rtol=1e-4, atol=1e-4)


def test_nullable_integer_dtype_is_restored():
    df = pd.DataFrame(
        {"n": pd.array([1, 2, 3, 4, 5] * 4, dtype="Int64"), "m": pd.array([1, None, 3, 4] * 5, dtype="Int64")}
    )
    pre = _fit(df)
    back = pre.inverse_transform(pre.transform(df))
    assert back.dtypes.equals(df.dtypes)
    pd.testing.assert_frame_equal(back, df)


def test_category_codes_match_however_the_file_was_parsed():
    trained = pd.DataFrame({"code": ["1", "2", "A", "1", "2"] * 4})
    pre = _fit(trained)
    as_ints = pd.DataFrame({"code": [1, 2, 1]})  # a file without "A" parses as integers
    np.testing.assert_array_equal(pre.transform(as_ints), pre.transform(pd.DataFrame({"code": ["1", "2", "1"]})))


def test_column_with_no_observed_values_in_the_fitted_rows():
    """The schema sees the whole table; the preprocessor only the training split, which may hold no value."""
    full = pd.DataFrame({"x": np.linspace(0, 1, 12), "sparse": [np.nan] * 11 + [3.0]})
    pre = TabularPreprocessor(infer_schema(full)).fit(full.iloc[:11])
    assert np.isfinite(pre.transform(full)).all()
    assert len(pre.inverse_transform(pre.transform(full))) == 12


def test_decoded_standardised_values_may_reach_beyond_a_small_samples_range(banknote):
    few = banknote.drop(columns="class").head(10)
    pre = _fit(few, numeric_transform="standard")
    z = np.linspace(-6, 6, 2001, dtype=np.float32)[:, None].repeat(4, axis=1)
    decoded = pre.inverse_transform(z)
    for column in few.columns:
        lo, hi = few[column].min(), few[column].max()
        margin = (hi - lo) / 9  # one range / (n - 1) beyond each end: 10 draws rarely span the distribution
        expected_low = max(lo - margin, 0.0) if lo >= 0 else lo - margin
        assert abs(decoded[column].min() - expected_low) < 1e-3 * (hi - lo)
        assert abs(decoded[column].max() - (hi + margin)) < 1e-3 * (hi - lo)
    counts = pd.DataFrame({"visits": [0, 1, 1, 2, 3, 3, 4, 5, 7, 9]})
    decoded = _fit(counts, numeric_transform="standard").inverse_transform(z[:, :1])
    assert decoded["visits"].min() == 0  # a non-negative column stays non-negative


def test_rows_of_columns_read_once_encode_as_those_rows_of_the_frame(adult_slice):
    """The scorer reads a frame once and encodes some of its rows later (those E, G and D need): the same
    matrix as encoding those rows of the frame, with categories, missing values and numbers given as text."""
    features = adult_slice.drop(columns="income").reset_index(drop=True)
    pre = _fit(adult_slice, "income")
    probe = features.copy()
    probe["age"] = probe["age"].astype(object)
    probe.loc[3, "age"] = "41"  # a number as text in an object column
    probe.loc[5, "workclass"] = "never seen"
    probe.loc[7, "hours-per-week"] = np.nan
    columns = pre.read(probe)
    rows = np.array([7, 3, 0, 5, 5, len(probe) - 1])
    np.testing.assert_array_equal(pre.encode(columns.take(rows)), pre.transform(probe.iloc[rows]))
    np.testing.assert_array_equal(pre.encode(columns), pre.transform(probe))
    assert pre.encode(columns)[5, pre.blocks_[1].start : pre.blocks_[1].end].sum() == 0  # unseen: all zeros
    assert pre.encode(columns)[3, 0] == pre.transform(features.iloc[[3]].assign(age=41))[0, 0]


def _awkward_table(rows: int = 1500) -> pd.DataFrame:
    """Columns a real table can have: many distinct categories (more rare ones than kept by name), booleans,
    numbers declared categorical, a column of one value, gaps."""
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "id": [f"id{k}" for k in range(rows)],  # every value distinct: rare beyond max_categories
            "flag": rng.random(rows) < 0.3,
            "code": rng.integers(0, 5, rows),  # numbers, declared categorical below
            "constant": np.full(rows, 7.0),
            "amount": np.where(rng.random(rows) < 0.1, np.nan, rng.lognormal(3, 1, rows)),
            "grade": pd.Series(rng.choice(["a", "b", None], rows), dtype=object),
        }
    )


def test_every_fitted_preprocessor_passes_the_folder_check(adult_slice):
    """The check of preprocessor.json refuses forgeries (tests/test_model_folder.py) and never a real model."""
    import json

    from gantools.preprocessor_fields import check_preprocessor_dict

    awkward = _awkward_table()
    for pre in (
        _fit(adult_slice, "income"),  # '?' as missing, text categories, skewed numbers
        TabularPreprocessor(infer_schema(awkward, None, {"code": "categorical"})).fit(awkward),
        _fit(adult_slice.head(12), "income"),  # few rows: categories seen once, short quantile lists
    ):
        data = json.loads(json.dumps(pre.to_dict()))
        check_preprocessor_dict(data, "preprocessor.json")
        assert TabularPreprocessor.from_dict(data).n_features_out_ == pre.n_features_out_


def test_unfamiliar_values_are_counted_per_column():
    awkward = _awkward_table()
    pre = TabularPreprocessor(infer_schema(awkward, None, {"code": "categorical"})).fit(awkward)
    probe = awkward.head(4).copy()
    assert pre.unfamiliar(pre.read(probe)) == {}  # rows like the training rows: nothing to say
    probe["grade"] = ["z", None, "a", "b"]  # a new category counts; a gap does not: training had gaps there
    probe["amount"] = [np.nan, 1.0, 2.0, 3.0]  # neither: training had gaps in amount
    probe["constant"] = [np.nan, np.nan, 7.0, 7.0]  # training saw it complete: two gaps count
    probe["flag"] = pd.array([True, None, False, True], dtype="boolean")  # a gap where none was: counts
    probe["code"] = [9, 1, 2, 3]  # a code training never had
    probe["id"] = ["never-seen", "id1", "id2", "id3"]  # more rare ids than kept: could be one, so not counted
    assert pre.unfamiliar(pre.read(probe)) == {"constant": 2, "flag": 1, "code": 1, "grade": 1}
    ids, block = pre.params_[0], pre.blocks_[0]  # the never-seen id takes the 'other' slot, as rare ids do
    assert ids["rare_truncated"] and block.column == 0
    one_hot = pre.transform(probe)[0, block.start : block.end]
    assert one_hot.sum() == 1 and one_hot[ids["categories"].index("__other__")] == 1
