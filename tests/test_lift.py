"""The lift estimate: folds, the estimate's sign on samplers known to help or hurt, and how models carry it."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli, tiny_config
from sklearn.datasets import make_classification

from gantools import GANOverSampler, GantoolsError, TabularGAN
from gantools.lift import LIFT_MAX_FOLDS, LIFT_MIN_EVAL_ROWS, AugmentationAdvice, Fold, estimate_lift, further_folds
from gantools.model import _stratified_holdout


def test_further_folds_are_disjoint_stratified_and_stop_when_enough_rows_are_held_out():
    y = np.repeat([0, 1], [30, 50])
    train, hold = _stratified_holdout(y, 0.2, seed=0)
    folds = further_folds(y, train, hold, seed=0)
    assert len(folds) == LIFT_MAX_FOLDS - 1  # 16 held-out rows: far fewer than LIFT_MIN_EVAL_ROWS
    held = [hold] + [ev for _, ev in folds]
    assert len(np.unique(np.concatenate(held))) == sum(len(h) for h in held)  # disjoint
    for tr, ev in folds:
        assert np.bincount(y[ev]).tolist() == np.bincount(y[hold]).tolist()
        assert np.array_equal(np.sort(np.concatenate([tr, ev])), np.arange(len(y)))
    many = np.repeat([0, 1], [600, 600])
    train, hold = _stratified_holdout(many, 0.2, seed=0)
    assert len(hold) >= LIFT_MIN_EVAL_ROWS and further_folds(many, train, hold, seed=0) == []


def test_further_folds_stop_where_a_class_runs_out():
    y = np.repeat([0, 1], [2, 40])  # class 0: one row held out, one trained on; another fold would leave it 1
    train, hold = _stratified_holdout(y, 0.2, seed=0)
    assert further_folds(y, train, hold, seed=0) == []
    y = np.repeat([0, 1], [3, 40])  # 1 held out, 2 trained on: each further fold leaves class 0 two rows
    train, hold = _stratified_holdout(y, 0.2, seed=0)
    folds = further_folds(y, train, hold, seed=0)
    assert len(folds) == LIFT_MAX_FOLDS - 1 and all((y[tr] == 0).sum() == 2 for tr, _ in folds)


@pytest.fixture(scope="module")
def task():
    """A two-class task: a pool of rows from the task's own distribution, 12 training rows per class."""
    X, y = make_classification(
        n_samples=3000, n_features=6, n_informative=4, n_redundant=0, class_sep=0.8, flip_y=0.0, random_state=3
    )
    return X.astype(np.float32), y


def _folds(task, sampler_for, n_folds=3):
    X, y = task
    rng = np.random.default_rng(0)
    folds = []
    for _ in range(n_folds):
        train = np.concatenate([rng.choice(np.flatnonzero(y == c), 12, replace=False) for c in (0, 1)])
        rest = np.setdiff1d(np.arange(len(y)), train)
        ev = rng.choice(rest, 150, replace=False)
        folds.append(Fold(X[train], y[train], X[ev], y[ev], {"gan": sampler_for(X, y, rest, ev, rng)}))
    return folds


def _rows_of_the_task(X, y, rest, ev, rng, flip=False):
    pool = np.setdiff1d(rest, ev)  # never the rows the fold is judged on

    def sample(counts):
        parts = []
        for c, n in enumerate(counts):
            source = 1 - c if flip else c
            parts.append(X[rng.choice(pool[y[pool] == source], int(n), replace=True)])
        return np.concatenate(parts)

    return sample


def test_rows_from_the_task_itself_are_estimated_to_help_and_advised(task):
    advice = estimate_lift(_folds(task, _rows_of_the_task), n_classes=2)
    assert advice.advised and advice.lift > 0 and advice.lift_se > 0
    assert advice.folds == 3 and advice.eval_rows == 450 and 0 < advice.baseline < 1
    assert {c["factor"] for c in advice.candidates} == {None, 2.0, 5.0, 20.0}  # None: the advised amount
    assert advice.summary().startswith("expected lift: +")
    assert advice.rows_per_class([12, 12]) == 500 and advice.rows_per_class([400, 30]) == 800


def test_rows_with_the_wrong_labels_are_estimated_to_hurt_and_not_advised(task):
    flipped = lambda *a: _rows_of_the_task(*a, flip=True)  # noqa: E731
    advice = estimate_lift(_folds(task, flipped), n_classes=2)
    assert not advice.advised and advice.lift < 0
    assert all(c["lift"] < 0 for c in advice.candidates)
    assert advice.summary().startswith("augmenting is not advised: expected lift -")
    assert advice.rows_per_class([12, 12]) is None
    assert AugmentationAdvice.from_dict(json.loads(json.dumps(advice.to_dict()))) == advice


@pytest.fixture(scope="module")
def few_banknote(banknote):
    return banknote.groupby("class").head(15).reset_index(drop=True)


@pytest.fixture(scope="module")
def small_model(few_banknote):
    return TabularGAN(tiny_config(target_steps=200)).fit(few_banknote, label="class")


def test_a_model_of_several_classes_records_its_estimate_and_keeps_it_when_saved(small_model, tmp_path):
    advice = small_model.augmentation_advice_
    assert advice is not None and advice.folds == LIFT_MAX_FOLDS and advice.eval_rows == 3 * 6
    assert small_model.history_["lift_seconds"] > 0
    small_model.save(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["augmentation_advice"]["lift"] == advice.lift
    assert TabularGAN.load(tmp_path / "m").augmentation_advice_ == advice


def test_one_class_models_have_no_estimate(banknote):
    model = TabularGAN(tiny_config(target_steps=50, encoder_steps=20, density_generators=1)).fit(
        banknote[banknote["class"] == 0].drop(columns="class").head(200)
    )
    assert model.augmentation_advice_ is None and "augmentation_advice" in model.to_config()


def test_sample_draws_from_g_or_on_request_from_the_gaussian_per_class(small_model, few_banknote, tmp_path):
    pd.testing.assert_frame_equal(small_model.sample(40, seed=0), small_model.sample(40, seed=0, generator="gan"))
    gan = small_model.sample(400, seed=0, generator="gan")
    gaussian = small_model.sample(400, seed=0, generator="gaussian")
    assert not gan.equals(gaussian) and list(gan.columns) == list(gaussian.columns)
    # the Gaussian has each class's moments: its class means are near the real rows' (15 per class)
    real = few_banknote.groupby("class")
    assert ((gaussian.groupby("class").mean() - real.mean()).abs() < 0.5 * real.std()).all().all()
    loaded = TabularGAN.load(small_model.save(tmp_path / "g"))
    expected = small_model.sample(40, seed=0, generator="gaussian")
    pd.testing.assert_frame_equal(loaded.sample(40, seed=0, generator="gaussian"), expected)
    with pytest.raises(GantoolsError, match="'gan' or 'gaussian'"):
        small_model.sample(5, generator="copula")


def test_oversampler_advised_adds_what_the_estimate_advises(banknote):
    few = banknote.groupby("class").head(15).reset_index(drop=True)
    X, y = few.drop(columns="class"), few["class"]
    sampler = GANOverSampler(sampling_strategy="advised", random_state=0, epochs=5, hidden=32, device="cpu")
    X_res, y_res = sampler.fit_resample(X, y)
    assert sampler.sampling_strategy == "advised"  # the parameter is left as given
    target = sampler.advice_.rows_per_class([15, 15])
    expected = {0: 15, 1: 15} if target is None else {0: target, 1: target}
    assert y_res.value_counts().to_dict() == expected and len(X_res) == len(y_res)


def test_oversampler_warns_when_asked_for_rows_the_estimate_does_not_advise(banknote):
    few = banknote.groupby("class").head(15).reset_index(drop=True)
    X, y = few.drop(columns="class"), few["class"]
    sampler = GANOverSampler(sampling_strategy={0: 40, 1: 40}, random_state=0, epochs=5, hidden=32, device="cpu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        X_res, y_res = sampler.fit_resample(X, y)
    assert y_res.value_counts().to_dict() == {0: 40, 1: 40}  # done as asked either way
    said = [str(w.message) for w in caught if "GANOverSampler" in str(w.message)]
    assert said == ([] if sampler.advice_.advised else [f"GANOverSampler: {sampler.advice_.summary()}"])


def test_cli_train_reports_the_estimate_and_augment_warns_when_not_advised(tmp_path, banknote):
    banknote.groupby("class").head(15).to_csv(tmp_path / "few.csv", index=False)
    trained = run_cli("train", "few.csv", "--label", "class", "--epochs", "20", "--quiet", cwd=tmp_path, check=True)
    advice = json.loads((tmp_path / "gantools-model" / "config.json").read_text())["augmentation_advice"]
    assert "augmentation" in trained.stdout
    info = json.loads(run_cli("info", "--json", cwd=tmp_path, check=True).stdout)
    assert info["augmentation_advice"] == advice
    assert "augmentation (lift estimated when fitted)" in run_cli("info", cwd=tmp_path, check=True).stdout
    result = run_cli("augment", "--n", "30", cwd=tmp_path, check=True)
    assert len(pd.read_csv(tmp_path / "synthetic.csv")) == 30  # written as asked
    assert ("augmenting is not advised" in result.stderr) == (not advice["advised"])
