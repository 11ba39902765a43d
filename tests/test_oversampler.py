"""GANOverSampler: imbalanced-learn conventions, exact counts, no leakage into validation folds, errors, seeds."""

from collections import Counter

import numpy as np
import pandas as pd
import pytest
import scipy.sparse
from imblearn.pipeline import make_pipeline
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.neighbors import KNeighborsClassifier

from gantools import GANOverSampler, GantoolsError, TabularGAN

FAST = dict(epochs=2, hidden=32, device="cpu")  # counts, types and plumbing: the model's quality does not matter
LEARN = dict(epochs=60, hidden=64, device="cpu")  # ~120 GAN steps: enough for class-consistent rows on banknote


@pytest.fixture(scope="module")
def imbalanced(banknote):
    """Real banknote rows, made imbalanced: 300 genuine (0), 40 forged (1)."""
    rows = pd.concat([banknote[banknote["class"] == 0].iloc[:300], banknote[banknote["class"] == 1].iloc[:40]])
    rows = rows.reset_index(drop=True)
    return rows.drop(columns="class"), rows["class"]


@pytest.fixture(scope="module")
def wine():
    """sklearn's wine data (3 classes), made imbalanced: 59 / 71 / 12 rows."""
    X, y = load_wine(return_X_y=True)
    keep = np.r_[np.flatnonzero(y == 0), np.flatnonzero(y == 1), np.flatnonzero(y == 2)[:12]]
    return X[keep], y[keep]


@pytest.fixture
def no_lift_estimate(monkeypatch):
    """Counts and types only: skip the augmentation-lift estimate (three quarters of a small fit's time;
    test_lift.py checks it)."""
    monkeypatch.setattr(TabularGAN, "_estimate_lift", lambda *args, **kwargs: None)


def _check_originals_first(X, y, X_res, y_res):
    n = len(X)
    if isinstance(X, pd.DataFrame):
        pd.testing.assert_frame_equal(X_res.iloc[:n], X.reset_index(drop=True))
        pd.testing.assert_series_equal(y_res.iloc[:n], y.reset_index(drop=True))
    else:
        np.testing.assert_array_equal(X_res[:n], X)
        np.testing.assert_array_equal(y_res[:n], y)


@pytest.mark.parametrize(
    "strategy, expected",
    [
        ("auto", {0: 300, 1: 300}),
        ({1: 150}, {0: 300, 1: 150}),
        (0.5, {0: 300, 1: 150}),  # float: minority / majority after resampling
        ({0: 310, 1: 55}, {0: 310, 1: 55}),
    ],
)
def test_dataframe_rebalanced_to_requested_counts(imbalanced, strategy, expected, no_lift_estimate):
    X, y = imbalanced
    sampler = GANOverSampler(sampling_strategy=strategy, random_state=0, **FAST)
    X_res, y_res = sampler.fit_resample(X, y)
    assert dict(Counter(y_res.tolist())) == expected
    assert {k: int(v) for k, v in sampler.sampling_strategy_.items() if v} == {
        c: n - int((y == c).sum()) for c, n in expected.items() if n > (y == c).sum()
    }
    assert isinstance(X_res, pd.DataFrame) and isinstance(y_res, pd.Series)
    assert list(X_res.columns) == list(X.columns) and X_res.dtypes.equals(X.dtypes)
    assert y_res.dtype == y.dtype and y_res.name == "class"
    assert X_res.index.equals(pd.RangeIndex(len(X_res))) and y_res.index.equals(X_res.index)
    _check_originals_first(X, y, X_res, y_res)
    synthetic = X_res.iloc[len(X) :].to_numpy()
    assert np.isfinite(synthetic).all()
    assert not (synthetic[:, None, :] == X.to_numpy()[None, :, :]).all(axis=2).any()  # new rows, not copies
    assert list(sampler.feature_names_in_) == list(X.columns) and sampler.n_features_in_ == 4


@pytest.mark.parametrize(
    "strategy, expected",
    [
        ("auto", {0: 71, 1: 71, 2: 71}),
        ("minority", {0: 59, 1: 71, 2: 71}),
        ("not majority", {0: 71, 1: 71, 2: 71}),
        ("all", {0: 71, 1: 71, 2: 71}),
        ({2: 30}, {0: 59, 1: 71, 2: 30}),
    ],
)
def test_multiclass_array_in_array_out(wine, strategy, expected, no_lift_estimate):
    X, y = wine
    sampler = GANOverSampler(sampling_strategy=strategy, random_state=0, **FAST)
    X_res, y_res = sampler.fit_resample(X, y)
    assert isinstance(X_res, np.ndarray) and isinstance(y_res, np.ndarray)
    assert X_res.dtype == X.dtype and y_res.dtype == y.dtype and X_res.shape == (sum(expected.values()), 13)
    assert dict(Counter(y_res.tolist())) == expected
    _check_originals_first(X, y, X_res, y_res)
    # the synthetic rows come class by class, in the order of sampling_strategy_
    added = np.concatenate([np.full(n, c) for c, n in sampler.sampling_strategy_.items()])
    np.testing.assert_array_equal(y_res[len(X) :], added)


def test_synthetic_rows_carry_their_class(banknote, imbalanced):
    """A forest trained on all real banknote rows labels the new rows with the class they were made for."""
    X, y = imbalanced
    reference = RandomForestClassifier(n_estimators=100, random_state=0).fit(
        banknote.drop(columns="class"), banknote["class"]
    )
    sampler = GANOverSampler(sampling_strategy={0: 400, 1: 400}, random_state=0, **LEARN)
    X_res, y_res = sampler.fit_resample(X, y)
    X_syn, y_syn = X_res.iloc[len(X) :], y_res.iloc[len(X) :].to_numpy()
    assert (y_syn == 0).sum() == 100 and (y_syn == 1).sum() == 360
    predicted = reference.predict(X_syn)
    for cls in (0, 1):
        assert (predicted[y_syn == cls] == cls).mean() > 0.9, f"class {cls} rows do not look like class {cls}"


def test_mixed_dtypes_and_text_labels(imbalanced, no_lift_estimate):
    X, y = imbalanced
    X = X.assign(
        band=pd.cut(X["variance"], 3, labels=["low", "mid", "high"]),  # pandas category
        sign=np.where(X["skewness"] > 0, "pos", "neg"),  # text
        kurt=X["curtosis"].round().astype("int64"),  # integer
    )
    y = y.map({0: "genuine", 1: "forged"}).astype("category").rename("note")
    X_res, y_res = GANOverSampler(random_state=0, **FAST).fit_resample(X, y)
    assert X_res.dtypes.equals(X.dtypes) and y_res.dtype == y.dtype and y_res.name == "note"
    assert y_res.value_counts().to_dict() == {"genuine": 300, "forged": 300}
    _check_originals_first(X, y, X_res, y_res)
    new = X_res.iloc[len(X) :]
    assert set(new["band"].dropna()) <= {"low", "mid", "high"} and new["band"].notna().all()
    assert set(new["sign"]) <= {"pos", "neg"}
    assert new["kurt"].between(X["kurt"].min(), X["kurt"].max()).all()

    # the same table as an object array: numbers stay numbers in the model, the array stays an object array
    X_obj = X.astype({"band": object}).to_numpy()
    sampler = GANOverSampler(random_state=0, **FAST)
    X_res2, y_res2 = sampler.fit_resample(X_obj, y.to_numpy())
    assert X_res2.dtype == object and X_res2.shape == (600, 7)
    kinds = [c.kind for c in sampler.model_.schema_.columns]
    assert kinds == ["numeric"] * 4 + ["categorical", "categorical", "integer"]


def test_in_imblearn_pipeline_with_cross_validate(banknote, no_lift_estimate):
    rows = pd.concat([banknote[banknote["class"] == 0].iloc[:200], banknote[banknote["class"] == 1].iloc[:40]])
    X, y = rows.drop(columns="class").to_numpy(), rows["class"].to_numpy()
    pipe = make_pipeline(
        GANOverSampler(random_state=0, **FAST), RandomForestClassifier(n_estimators=50, random_state=0)
    )
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    result = cross_validate(pipe, X, y, cv=cv, scoring="balanced_accuracy")
    # real-only forests score 0.80-1.00 per fold here (mean ~0.9); the pipeline must be a working classifier
    assert result["test_score"].shape == (3,) and result["test_score"].mean() > 0.85


class SpyClassifier(ClassifierMixin, BaseEstimator):
    """Records every row it is fitted on and every row it is asked to predict."""

    def fit(self, X, y):
        self.fit_X_, self.fit_y_ = np.array(X, copy=True), np.array(y, copy=True)
        self.predicted_X_ = []
        self.inner_ = KNeighborsClassifier(3).fit(X, y)
        self.classes_ = self.inner_.classes_
        return self

    def predict(self, X):
        self.predicted_X_.append(np.array(X, copy=True))
        return self.inner_.predict(X)


def test_no_synthetic_row_reaches_a_validation_fold(banknote, no_lift_estimate):
    rows = pd.concat([banknote[banknote["class"] == 0].iloc[:150], banknote[banknote["class"] == 1].iloc[:30]])
    X, y = rows.drop(columns="class").to_numpy(), rows["class"].to_numpy()
    pipe = make_pipeline(GANOverSampler(random_state=0, **FAST), SpyClassifier())
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    result = cross_validate(
        pipe, X, y, cv=cv, scoring="accuracy", return_estimator=True, return_indices=True, return_train_score=True
    )
    for fold, fitted in enumerate(result["estimator"]):
        train, test = result["indices"]["train"][fold], result["indices"]["test"][fold]
        sampler, spy = fitted[0], fitted[-1]
        # the GAN was fitted on this fold's training rows only
        assert sampler.model_.history_["n_rows"] == len(train)
        # training: the real training rows first, then the synthetic rows, which balance the classes
        added = sum(int(n) for n in sampler.sampling_strategy_.values())
        assert added > 0 and len(spy.fit_X_) == len(train) + added
        np.testing.assert_array_equal(spy.fit_X_[: len(train)], X[train])
        assert np.bincount(spy.fit_y_).tolist() == [np.bincount(y[train]).max()] * 2
        synthetic = spy.fit_X_[len(train) :]
        assert not (synthetic[:, None, :] == X[None, :, :]).all(axis=2).any()
        # prediction: the validation call sees exactly this fold's real validation rows, the train-score
        # call exactly the real training rows; no synthetic row is ever predicted
        assert sorted(len(p) for p in spy.predicted_X_) == [len(test), len(train)]
        validation_call = next(p for p in spy.predicted_X_ if len(p) == len(test))
        train_score_call = next(p for p in spy.predicted_X_ if len(p) == len(train))
        np.testing.assert_array_equal(validation_call, X[test])
        np.testing.assert_array_equal(train_score_call, X[train])
        for seen in spy.predicted_X_:
            assert not (seen[:, None, :] == synthetic[None, :, :]).all(axis=2).any()
            assert (seen[:, None, :] == X[None, :, :]).all(axis=2).any(axis=1).all()

    # control: the same spy does catch leakage when over-sampling wrongly happens before the split
    X_leaky, y_leaky = GANOverSampler(random_state=0, **FAST).fit_resample(X, y)
    leaky = cross_validate(SpyClassifier(), X_leaky, y_leaky, cv=cv, return_estimator=True)
    validated = np.concatenate([spy.predicted_X_[0] for spy in leaky["estimator"]])
    assert not (validated[:, None, :] == X[None, :, :]).all(axis=2).any(axis=1).all()


def test_class_with_one_row_is_a_clear_error(imbalanced):
    X, y = imbalanced
    X1, y1 = X.iloc[:301], y.iloc[:301]  # 300 genuine, 1 forged
    with pytest.raises(GantoolsError, match=r"class 1 has only 1 row; .*at least 2 rows of each class") as info:
        GANOverSampler(**FAST).fit_resample(X1, y1)
    assert isinstance(info.value, ValueError)  # the imbalanced-learn convention holds too


def test_other_bad_input_is_a_clear_error(imbalanced, wine):
    X, y = imbalanced
    with pytest.raises(ValueError, match="at least 10 are needed"):  # too few rows to train (from the model)
        GANOverSampler(**FAST).fit_resample(X.iloc[296:304], y.iloc[296:304])
    with pytest.raises(GantoolsError, match="sparse"):
        GANOverSampler(**FAST).fit_resample(scipy.sparse.csr_matrix(X.to_numpy()), y)
    with pytest.raises(ValueError, match="epochs"):
        GANOverSampler(epochs=0).fit_resample(X, y)
    with pytest.raises(ValueError, match="binary"):  # float strategies are for two classes only (imblearn)
        GANOverSampler(sampling_strategy=0.5, **FAST).fit_resample(*wine)
    with pytest.raises(ValueError, match="more than 1 class"):
        GANOverSampler(**FAST).fit_resample(X.iloc[:50], y.iloc[:50])


def test_random_state_makes_results_reproducible_and_model_reusable(imbalanced, no_lift_estimate):
    X, y = imbalanced
    sampler = GANOverSampler(random_state=7, **FAST)
    assert clone(sampler).get_params() == sampler.get_params() and not hasattr(sampler, "model_")
    first = sampler.fit_resample(X, y)
    again = GANOverSampler(random_state=7, **FAST).fit_resample(X, y)
    pd.testing.assert_frame_equal(first[0], again[0])
    pd.testing.assert_series_equal(first[1], again[1])
    other = GANOverSampler(random_state=8, **FAST).fit_resample(X, y)
    assert not np.allclose(first[0].iloc[len(X) :].to_numpy(), other[0].iloc[len(X) :].to_numpy())
    # a RandomState instance is accepted too (scikit-learn's random_state convention)
    rs_a = GANOverSampler(random_state=np.random.RandomState(3), **FAST).fit_resample(X, y)[0]
    rs_b = GANOverSampler(random_state=np.random.RandomState(3), **FAST).fit_resample(X, y)[0]
    pd.testing.assert_frame_equal(rs_a, rs_b)
    # the fitted model stays available for more sampling, saving or scoring
    assert isinstance(sampler.model_, TabularGAN) and sampler.model_.history_["n_rows"] == len(X)
    X_more, y_more = sampler.augmenter_.sample(25, class_mix={1: 1.0}, random_state=0)
    assert list(X_more.columns) == list(X.columns) and (y_more == 1).all() and len(y_more) == 25
