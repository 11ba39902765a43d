import numpy as np
import pandas as pd
import pytest
import torch
from conftest import tiny_config
from sklearn.metrics import roc_auc_score

from gantools.errors import GantoolsError
from gantools.model import TabularGAN


def test_sample_respects_schema_ranges_and_class_mix(banknote_model, banknote):
    rows = banknote_model.sample(1000, class_mix="0=0.25,1=0.75", seed=1)
    assert list(rows.columns) == list(banknote.columns)
    assert rows.dtypes.equals(banknote.dtypes)
    assert (rows["class"] == 1).sum() == 750 and (rows["class"] == 0).sum() == 250
    for i, col in enumerate(["variance", "skewness", "curtosis", "entropy"]):
        low, high, spread = banknote[col].min(), banknote[col].max(), np.ptp(banknote[col])
        params = banknote_model.preprocessor_.params_[i]
        assert low - 0.01 * spread < params["bound_lo"] and params["bound_hi"] < high + 0.01 * spread
        assert rows[col].between(params["bound_lo"], params["bound_hi"]).all()
    balanced = banknote_model.sample(501, class_mix="balanced", seed=2)["class"].value_counts()
    assert sorted(balanced.tolist()) == [250, 251]
    again = banknote_model.sample(50, seed=7)
    pd.testing.assert_frame_equal(again, banknote_model.sample(50, seed=7))


def test_samples_are_class_conditional(banknote_model, banknote):
    """A classifier trained on real data recognises the class the GAN was asked for."""
    from sklearn.ensemble import RandomForestClassifier

    clf = RandomForestClassifier(n_estimators=100, random_state=0).fit(
        banknote.drop(columns="class"), banknote["class"]
    )
    rows = banknote_model.sample(600, class_mix="balanced", seed=3)
    agreement = (clf.predict(rows.drop(columns="class")) == rows["class"]).mean()
    assert agreement > 0.8


def test_unknown_class_in_mix_is_a_clear_error(banknote_model):
    with pytest.raises(GantoolsError, match="unknown class.*classes: 0, 1"):
        banknote_model.sample(10, class_mix="0=0.5,7=0.5")


def test_scores_rank_forged_notes_above_genuine(banknote):
    genuine = banknote[banknote["class"] == 0]
    train = genuine.sample(frac=0.6, random_state=0)
    test = pd.concat([genuine.drop(train.index), banknote[banknote["class"] == 1]])
    model = TabularGAN(tiny_config(target_steps=600)).fit(train.drop(columns="class"))
    scored = model.score(test)
    assert {"score", "score_discriminator", "score_reconstruction", "class", "is_anomaly"} <= set(scored.columns)
    assert len(scored) == len(test)
    assert roc_auc_score(test["class"], scored["score"]) > 0.85  # a tiny model; the benchmarks measure quality
    # the label column in a scored file is ignored: same scores without it
    np.testing.assert_allclose(model.score(test.drop(columns="class"))["score"], scored["score"])
    # only the parts the score depends on: the same scores, D's part left out where it cannot count
    fast = model.score(test, all_parts=False)
    np.testing.assert_allclose(fast["score"], scored["score"], rtol=1e-6, atol=1e-6)
    cal = model.calibration_
    skipped = fast["score_discriminator"].isna().to_numpy()
    assert 0 < skipped.sum() < len(test)
    below_margin = scored["score_reconstruction"].to_numpy() <= cal.corroboration_margin
    density = scored["score_density"].to_numpy()
    below_gate = (density <= cal.corroboration_gate) | (density > cal.corroboration_ceiling)
    assert (below_margin | below_gate)[skipped].all()
    kept = ~skipped
    np.testing.assert_allclose(fast["score_discriminator"][kept], scored["score_discriminator"][kept], rtol=1e-5)
    # E and G only where the density part passes the gate (the held-out rows' 90th percentile)
    no_networks = fast["score_reconstruction"].isna().to_numpy()
    assert no_networks.any() and below_gate[no_networks].all()
    held = cal.standardised_parts(model._own_holdout[0])
    assert cal.corroboration_gate == pytest.approx(np.quantile(held[:, 2], 0.9))
    assert cal.corroboration_ceiling == pytest.approx(held[:, 2].max())
    # the corroboration term counts only evidence beyond 99% of held-out normal rows
    agreed = np.fmin(held[:, 0], held[:, 1])
    assert cal.corroboration_margin >= 2.0
    assert (agreed > cal.corroboration_margin).mean() <= 0.01 + 1 / len(agreed)
    assert cal.corroboration_margin == 2.0 or np.isclose(cal.corroboration_margin, np.quantile(agreed, 0.99), rtol=1e-5)
    # a value so far out that its square would overflow float32 (1e30: the largest accepted) is flagged with a
    # finite score, its parts finite too (the encoding is clipped at ENCODED_LIMIT standard deviations)
    extreme = test.drop(columns="class").head(2).copy()
    extreme.iloc[0, 0] = 1e30
    for parts in (True, False):
        far = model.score(extreme, fpr=0.05, all_parts=parts)
        assert np.isfinite(far["score"]).all() and far["score"].iloc[0] > 1e6 * max(1.0, far["score"].iloc[1])
        assert far["is_anomaly"].tolist() == [1, far["is_anomaly"].iloc[1]]
        row = far.filter(like="score_").iloc[0].to_numpy(dtype=float)
        assert np.isfinite(row).all() if parts else not np.isinf(row).any()  # parts not computed: NaN
    # with D's part weighted (as weights tuned on labeled anomalies can be), every row needs D
    cal.weight_reconstruction, cal.weight_discriminator, cal.weight_density = 0.3, 0.3, 0.4
    weighted = model.score(test, all_parts=False)
    assert weighted["score_discriminator"].notna().all()
    np.testing.assert_allclose(weighted["score"], model.score(test)["score"], rtol=1e-6, atol=1e-6)


def test_best_fitting_class_and_normal_class(banknote_model, banknote):
    head = banknote.groupby("class").head(40)
    best = banknote_model.score(head)
    assert (best["class"].to_numpy() == head["class"].to_numpy()).mean() > 0.8
    only0 = banknote_model.score(head, normal_class="0")
    assert (only0["class"] == 0).all()
    assert (only0["score"].to_numpy() >= best["score"].to_numpy() - 1e-9).all()
    with pytest.raises(GantoolsError, match="--normal-class '5' is not a class"):
        banknote_model.score(head, normal_class="5")


def test_out_of_range_record_is_flagged(banknote_model, banknote):
    row = banknote.head(1).copy()
    row["variance"] = banknote["variance"].max() + 20
    assert banknote_model.score(row)["is_anomaly"].iloc[0] == 1


def test_explain_names_the_broken_column(banknote_model, banknote):
    rows = banknote[banknote["class"] == 0].head(5).copy()
    rows["curtosis"] = banknote["curtosis"].max() + 15
    scored = banknote_model.score(rows, explain=2)
    assert all(t.split(";")[0] == "curtosis" for t in scored["top_features"])


def test_save_load_round_trip(banknote_model, banknote, tmp_path):
    path = banknote_model.save(tmp_path / "model")
    assert sorted(p.name for p in path.iterdir()) == [
        "config.json",
        "manifest.json",
        "preprocessor.json",
        "weights.safetensors",
    ]
    loaded = TabularGAN.load(path, device="cpu")
    np.testing.assert_allclose(
        loaded.score(banknote.head(50))["score"], banknote_model.score(banknote.head(50))["score"], rtol=1e-5, atol=1e-6
    )
    pd.testing.assert_frame_equal(loaded.sample(100, seed=5), banknote_model.sample(100, seed=5))


def test_load_errors_are_clear(tmp_path, banknote_model):
    with pytest.raises(GantoolsError, match="run `gantools train"):
        TabularGAN.load(tmp_path / "none")
    path = banknote_model.save(tmp_path / "m")
    (path / "weights.safetensors").write_bytes(b"garbage")
    with pytest.raises(GantoolsError, match="weights.safetensors is 7 bytes, its manifest says"):
        TabularGAN.load(path)
    (path / "manifest.json").unlink()
    with pytest.raises(GantoolsError, match="has no manifest.json"):
        TabularGAN.load(path)


def test_mixed_types_with_missing_values(adult_slice):
    data = adult_slice.head(1200)
    model = TabularGAN(tiny_config()).fit(data, label="income")
    rows = model.sample(800, seed=0)
    assert list(rows.columns) == list(data.columns)
    assert rows.dtypes.equals(data.dtypes)
    for col in ["workclass", "education", "sex"]:
        assert set(rows[col].dropna()) <= set(data[col].dropna())
    assert rows["workclass"].isna().any()  # missing values are generated, as in the data
    assert (rows["age"] % 1 == 0).all() and rows["age"].between(data["age"].min(), data["age"].max()).all()
    scored = model.score(data.head(100))
    assert scored["score"].notna().all()


def test_too_few_rows_is_an_error(banknote):
    with pytest.raises(GantoolsError, match="at least 10"):
        TabularGAN(tiny_config()).fit(banknote.head(5))


def test_bad_density_settings_are_refused_before_training(banknote):
    with pytest.raises(GantoolsError, match="density_components must be a whole number of 0 or more"):
        TabularGAN(tiny_config(density_components=-1)).fit(banknote, label="class")


def test_empty_table_scores_to_an_empty_result(banknote_model, banknote):
    scored = banknote_model.score(banknote.head(0))
    assert len(scored) == 0 and "score" in scored.columns


def test_text_in_a_numeric_column_is_an_error_not_a_missing_value(banknote_model, banknote):
    rows = banknote.head(4).astype({"skewness": object})
    rows.loc[2, "skewness"] = "n/a?"
    with pytest.raises(GantoolsError, match=r"column 'skewness' in suspect.csv is numeric in the model but row 2"):
        banknote_model.score(rows, source="suspect.csv")


def test_corroboration_counts_only_past_the_density_gate():
    from gantools.scoring import ScoreCalibration

    cal = ScoreCalibration([1.0], 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, weight_density=1.0, corroboration_weight=0.5)
    cal.corroboration_margin, cal.corroboration_gate, cal.corroboration_ceiling = 2.0, 1.5, 5.0
    # (reconstruction, discriminator, density): both network parts 6 (4 past the margin) in the first rows
    std = np.array([[6.0, 6.0, 1.0], [6.0, 6.0, 2.0], [np.nan, np.nan, 1.0], [1.0, np.nan, 3.0], [6.0, 6.0, 4.5],
                    [6.0, 6.0, 5.5], [np.nan, np.nan, 6.0]])  # fmt: skip
    # below the gate: density alone; in the band: lifted, at most to the ceiling; past it: density alone
    expected = [1.0, 2.0 + 0.5 * 4.0, 1.0, 3.0, 5.0, 5.5, 6.0]
    np.testing.assert_allclose(cal.combine(std, cal.weights, 0.5), expected)
    # models saved before the gate and the ceiling: the term counts everywhere
    cal.corroboration_gate = cal.corroboration_ceiling = None
    np.testing.assert_allclose(cal.combine(std[:2], cal.weights, 0.5), [3.0, 4.0])
    # which rows need the networks, from the raw density part (centre 0, scale 1 here)
    cal.corroboration_gate, cal.corroboration_ceiling = 1.5, 5.0
    mask = cal.network_rows(torch.tensor([1.0, 1.6, 3.0, 5.0, 5.5]))
    assert mask.tolist() == [False, True, True, True, False]
    cal.weight_reconstruction = 0.2  # a weighted network part: every row
    assert cal.network_rows(torch.tensor([1.0])) is None


def test_one_class_density_multiplies_independently_trained_generators(banknote, banknote_model, tmp_path):
    from gantools.workflows import info

    genuine = banknote[banknote["class"] == 0].drop(columns="class")
    single = TabularGAN(tiny_config(density_generators=1)).fit(genuine)
    model = TabularGAN(tiny_config()).fit(genuine)  # "auto": three for one class
    assert model.config_.density_generators == 3 and model.history_["density_generators_trained"] == 3
    assert banknote_model.config_.density_generators == 1  # several classes: augmentation models keep one
    members = model._density.members
    assert len(members) == 3 and len(model.calibration_.density_sigmas) == 3
    # the first is the model's own G; the others, trained beside it from other seeds, differ from it; each
    # summarised by its share of the components, at least 128
    assert [len(m[0].centres) for m in members] == [128] * 3 and len(single._density.mixtures[0].centres) == 256
    assert not torch.allclose(members[1][0].centres.mean(0), members[0][0].centres.mean(0), atol=1e-4)
    rows = model._scoring_space()(torch.as_tensor(model.preprocessor_.transform(genuine.head(40))))
    zeros = torch.zeros(len(rows), dtype=torch.long)
    own = [-m[0].log_density(rows, s[0])[0] for m, s in zip(members, model._density.member_sigmas)]
    np.testing.assert_allclose(model._density(rows, zeros)[0], sum(own) / 3, rtol=1e-5)
    # saved and loaded: the same scores, and info tells how many generators and their bandwidths
    path = model.save(tmp_path / "m")
    np.testing.assert_allclose(
        TabularGAN.load(path, "cpu").score(banknote)["score"], model.score(banknote)["score"], rtol=1e-5, atol=1e-6
    )
    scoring = info(path)["scoring"]
    assert scoring["density_generators"] == 3 and [len(v) for v in scoring["density_bandwidths"].values()] == [3]
    assert info(banknote_model.save(tmp_path / "two"))["scoring"]["density_generators"] == 1


def test_an_interrupted_ensemble_keeps_every_generator_at_the_step_reached(banknote, monkeypatch):
    """The density's generators train as one stack: a Ctrl+C stops them all at the same step, and each is
    kept (a usable model)."""
    from gantools.training import trainer

    real = trainer._GanRun.step

    def stopped_at_30(self, step):
        if step == 30:
            raise KeyboardInterrupt
        return real(self, step)

    monkeypatch.setattr(trainer._GanRun, "step", stopped_at_30)
    genuine = banknote[banknote["class"] == 0].drop(columns="class")
    model = TabularGAN(tiny_config(target_steps=100, encoder_steps=100, density_generators=4)).fit(genuine)
    assert model.history_["interrupted"] and model.history_["gan_steps"] == 29
    assert model.history_["density_generators_trained"] == 4 and len(model._density.members) == 4
    assert model.score(banknote)["score"].notna().all()


@pytest.mark.parametrize("value", [0, -1, "three", True, 1.5])
def test_bad_generator_counts_are_refused_before_training(banknote, value):
    with pytest.raises(GantoolsError, match="density_generators must be 'auto' or a whole number"):
        TabularGAN(tiny_config(density_generators=value)).fit(banknote)


def test_several_generators_without_the_mixture_are_refused(banknote):
    with pytest.raises(GantoolsError, match="needs the mixture density"):
        TabularGAN(tiny_config(density_generators=2, density_components=0)).fit(banknote)


def test_several_classes_can_multiply_generators_too(banknote):
    model = TabularGAN(tiny_config(density_generators=2)).fit(banknote, label="class")  # early stopping on
    assert model.history_["density_generators_trained"] == 2
    assert [len(member) for member in model._density.members] == [2, 2]  # per generator, one mixture per class
    assert len(model.calibration_.density_sigmas) == 4
    scored = model.score(banknote)
    assert (scored["class"] == banknote["class"]).mean() > 0.8  # each note still fits its own class best


def test_numeric_transform_setting_reaches_the_preprocessor(banknote):
    model = TabularGAN(tiny_config(target_steps=30, encoder_steps=30, numeric_transform="quantile")).fit(banknote)
    assert {p["method"] for p in model.preprocessor_.params_ if p["type"] == "numeric"} == {"quantile"}
    model = TabularGAN(tiny_config(target_steps=30, encoder_steps=30, numeric_transform="standard")).fit(banknote)
    assert {p["method"] for p in model.preprocessor_.params_ if p["type"] == "numeric"} == {"standard"}
    with pytest.raises(GantoolsError, match="numeric_transform must be one of auto, standard, quantile"):
        TabularGAN(tiny_config(numeric_transform="log")).fit(banknote)


def test_one_class_generators_are_trained_to_match_each_numeric_columns_spread(
    banknote, banknote_model, monkeypatch, tmp_path
):
    """marginal_weight "auto": G's loss has the marginal term for one class (resolved and stored as 1.0),
    not with several classes (0.0); a bad weight is refused before training."""
    import gantools.training.trainer as trainer

    real = trainer.marginal_distance
    shapes = []

    def counted(fake, rows):
        shapes.append(tuple(fake.shape))
        return real(fake, rows)

    monkeypatch.setattr(trainer, "marginal_distance", counted)
    genuine = banknote[banknote["class"] == 0].drop(columns="class")
    model = TabularGAN(tiny_config(target_steps=40, encoder_steps=40, density_generators=1)).fit(genuine)
    assert model.config_.marginal_weight == 1.0
    batch = model.config_.batch_size  # a narrow table's one-class batch: 128
    assert batch == 128 and shapes == [(1, batch, 4)] * model.history_["gan_steps"]  # every step and column
    assert banknote_model.config_.marginal_weight == 0.0
    for bad in (-1.0, float("inf"), None, [1.0]):
        with pytest.raises(GantoolsError, match="marginal_weight must be 'auto' or a finite number of 0 or more"):
            TabularGAN(tiny_config(marginal_weight=bad)).fit(genuine)
    shapes.clear()
    three = TabularGAN(tiny_config(target_steps=20, encoder_steps=20)).fit(genuine)  # three generators, stacked
    assert shapes == [(3, batch, 4)] * three.history_["gan_steps"]
    loaded = TabularGAN.load(three.save(tmp_path / "three"))
    assert loaded.config_.marginal_weight == 1.0 and loaded.config_.density_generators == 3


def test_marginal_term_compares_numeric_slots_only(adult_slice, monkeypatch):
    """Mixed columns: the marginal term sees one slot per numeric column, not the one-hot blocks of the
    categoricals nor the missing-value indicator of a numeric column with gaps."""
    import gantools.training.trainer as trainer

    real = trainer.marginal_distance
    widths = []

    def counted(fake, rows):
        widths.append(fake.shape[-1])
        return real(fake, rows)

    monkeypatch.setattr(trainer, "marginal_distance", counted)
    rows = adult_slice[["age", "hours-per-week", "education-num", "workclass", "sex"]].head(800).copy()
    rows.loc[rows.index[::10], "age"] = np.nan  # age gets a missing-value indicator slot
    model = TabularGAN(tiny_config(target_steps=20, encoder_steps=20, density_generators=1)).fit(rows)
    numeric = [b for b in model.preprocessor_.blocks_ if b.kind == "num"]
    assert len(numeric) == 3 and model.preprocessor_.n_features_out_ > 3 + 2  # one-hot and indicator slots exist
    assert widths == [3] * model.history_["gan_steps"]


def test_models_saved_before_new_training_settings_read_them_as_off():
    from gantools.config import TrainConfig

    old = TrainConfig.from_dict({})
    assert old.marginal_weight == 0.0 and old.numeric_transform == "auto"
    kept = TrainConfig.from_dict(TrainConfig(marginal_weight=0.5, numeric_transform="standard").to_dict())
    assert (kept.marginal_weight, kept.numeric_transform) == (0.5, "standard")
    # settings measured and removed since: ignored when an old model is read (they only shaped its training)
    removed = {"dequantize": True, "marginal_projections": 8, "density_reweighting": 0.5, "density_bandwidth": "one_se"}
    assert TrainConfig.from_dict({**TrainConfig().to_dict(), **removed}) == TrainConfig()
    # ...except a critic with dropout layers, whose weights no longer fit: refused with one line
    with pytest.raises(GantoolsError, match="saved with d_dropout, which gantools no longer has; train it again"):
        TrainConfig.from_dict({"d_dropout": 0.1})
