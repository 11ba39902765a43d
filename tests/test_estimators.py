import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_config
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from gantools import GANAnomalyDetector, GANAugmenter
from gantools.errors import GantoolsError

TINY = dict(epochs=60, hidden=64, random_state=0, device="cpu")


def test_augmenter_follows_sklearn_conventions_with_arrays(banknote):
    X = banknote.drop(columns="class").to_numpy()
    y = banknote["class"].to_numpy()
    aug = GANAugmenter(**TINY)
    assert clone(aug).get_params() == aug.get_params()
    assert not hasattr(aug, "model_")
    assert aug.fit(X, y) is aug
    assert aug.n_features_in_ == 4 and list(aug.classes_) == [0, 1]
    X_syn, y_syn = aug.sample(300, class_mix={0: 1, 1: 2}, random_state=0)
    assert isinstance(X_syn, np.ndarray) and X_syn.shape == (300, 4)
    assert (y_syn == 1).sum() == 200 and y_syn.dtype == y.dtype


def test_augmenter_with_dataframe_keeps_columns_and_saves(banknote, tmp_path):
    X, y = banknote.drop(columns="class"), banknote["class"]
    aug = GANAugmenter(**TINY).fit(X, y)
    X_syn, y_syn = aug.sample(20, random_state=1)
    assert list(X_syn.columns) == list(X.columns)
    aug.save(tmp_path / "m")
    again = GANAugmenter.load(tmp_path / "m", device="cpu")
    X2, y2 = again.sample(20, random_state=1)
    np.testing.assert_allclose(X2.to_numpy(), X_syn.to_numpy(), rtol=1e-5)


def test_detector_follows_pyod_conventions(banknote):
    from pyod.models.base import BaseDetector

    genuine = banknote[banknote["class"] == 0].drop(columns="class").to_numpy()
    forged = banknote[banknote["class"] == 1].drop(columns="class").to_numpy()
    det = GANAnomalyDetector(contamination=0.05, **{**TINY, "epochs": 200})
    assert isinstance(det, BaseDetector)
    assert det.fit(genuine[:500]) is det
    assert det.decision_scores_.shape == (500,)
    # the training rows' scores, as decision_function gives them, and the same after saving and loading
    np.testing.assert_allclose(det.decision_scores_, det.decision_function(genuine[:500]), rtol=1e-5, atol=1e-5)
    with tempfile.TemporaryDirectory() as folder:
        loaded = GANAnomalyDetector.load(det.save(Path(folder) / "m"), contamination=0.05)
    np.testing.assert_array_equal(loaded.decision_scores_, det.decision_scores_)
    np.testing.assert_array_equal(loaded.labels_, det.labels_)
    assert set(np.unique(det.labels_)) <= {0, 1}
    new_normal = det.predict(genuine[500:])
    assert new_normal.mean() < 0.2  # calibrated on held-out normals at 5%
    assert det.predict(forged).mean() > new_normal.mean() + 0.2
    scores = det.decision_function(np.vstack([genuine[500:], forged]))
    truth = np.r_[np.zeros(len(genuine) - 500), np.ones(len(forged))]
    assert roc_auc_score(truth, scores) > 0.85  # even a tiny model (200 epochs, 64 wide) ranks forged notes higher
    proba = det.predict_proba(forged[:10])
    assert proba.shape == (10, 2) and np.allclose(proba.sum(axis=1), 1)
    details = det.score_details(forged[:5], explain=2)
    assert {"score_reconstruction", "score_discriminator", "top_features"} <= set(details.columns)


def test_detector_with_several_normal_classes_and_load(banknote, tmp_path):
    X = banknote.drop(columns="class")
    det = GANAnomalyDetector(contamination=0.05, **TINY).fit(X, classes=banknote["class"])
    det.save(tmp_path / "det")
    loaded = GANAnomalyDetector.load(tmp_path / "det", contamination=0.05, device="cpu")
    np.testing.assert_allclose(loaded.decision_function(X.head(20)), det.decision_function(X.head(20)), rtol=1e-5)
    assert loaded.threshold_ == pytest.approx(det.threshold_)


def test_wrong_width_is_a_clear_error(banknote):
    det = GANAnomalyDetector(**TINY).fit(banknote.drop(columns="class").to_numpy()[:200])
    with pytest.raises(GantoolsError, match="X has 3 columns; the model was fitted on 4"):
        det.decision_function(np.zeros((2, 3)))


def test_tiny_config_is_what_estimators_use():
    # guards the test helpers: the estimators map their params onto TrainConfig
    cfg = GANAugmenter(epochs=3, hidden=32, random_state=4)._train_config()
    assert (cfg.epochs, cfg.hidden, cfg.seed) == (3, 32, 4)
    assert tiny_config().hidden == 64


def test_detector_fit_with_a_few_labeled_anomalies_tunes_weights(banknote):
    genuine = banknote[banknote["class"] == 0].drop(columns="class").to_numpy()
    forged = banknote[banknote["class"] == 1].drop(columns="class").to_numpy()
    X = np.vstack([genuine[:400], forged[:5]])
    y = np.r_[np.zeros(400), np.ones(5)].astype(int)
    det = GANAnomalyDetector(contamination=0.05, **TINY).fit(X, y)
    assert det.weights_source_.startswith("tuned on 5 labeled anomalies")
    weights = det.model_.calibration_.weights
    assert sum(weights) == pytest.approx(1.0) and min(weights) >= 0
    # the 5 anomalies were not trained on: the model saw 400 rows (held out included)
    assert det.model_.history_["n_rows"] == 400
    # the threshold was recalibrated for the new weights: about 5% of new normal rows flagged
    assert det.predict(genuine[400:]).mean() < 0.15
    unsupervised = GANAnomalyDetector(contamination=0.05, **TINY).fit(genuine[:400])
    assert unsupervised.weights_source_ == "default"
    with pytest.raises(GantoolsError, match="0 \\(normal\\) or 1 \\(anomaly\\)"):
        GANAnomalyDetector(**TINY).fit(X, np.full(len(X), 2))


def test_density_part_is_saved_with_the_model(banknote, tmp_path):
    genuine = banknote[banknote["class"] == 0].drop(columns="class")
    det = GANAnomalyDetector(contamination=0.05, **TINY).fit(genuine)
    details = det.score_details(banknote.drop(columns="class"))
    assert details["score_density"].abs().sum() > 0
    forged_density = details["score_density"][banknote["class"].to_numpy() == 1]
    assert forged_density.median() > details["score_density"][banknote["class"].to_numpy() == 0].median()
    det.save(tmp_path / "d")
    loaded = GANAnomalyDetector.load(tmp_path / "d", contamination=0.05, device="cpu")
    again = loaded.score_details(banknote.drop(columns="class"))
    np.testing.assert_allclose(again["score_density"], details["score_density"], rtol=1e-4, atol=1e-5)
