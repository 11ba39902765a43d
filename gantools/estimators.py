"""scikit-learn / PyOD style estimators over ``TabularGAN``.

- ``GANAugmenter``: ``fit(X, y)`` then ``sample(n, class_mix=...)`` -> ``(X_syn, y_syn)``.
- ``GANAnomalyDetector``: a PyOD ``BaseDetector``: ``fit(X)``, ``decision_function`` (higher = more
  anomalous), ``predict``, ``decision_scores_``, ``threshold_``, ``labels_``; the threshold is calibrated on
  held-out normal rows at ``contamination`` (the share of normal rows to flag), not on the training rows.

Both accept a DataFrame or an array; both ``save``/``load`` the same model folder as the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyod.models.base import BaseDetector
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from gantools.config import TrainConfig
from gantools.errors import GantoolsError
from gantools.model import TabularGAN

_LABEL = "__label__"


def _as_frame(X: Any, feature_names: list[str] | None = None) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X.reset_index(drop=True)
    array = np.asarray(X)
    if array.ndim != 2:
        raise GantoolsError(f"X must be 2-dimensional (got shape {array.shape})")
    names = feature_names or [f"x{i}" for i in range(array.shape[1])]
    if len(names) != array.shape[1]:
        raise GantoolsError(f"X has {array.shape[1]} columns; the model was fitted on {len(names)}")
    return pd.DataFrame(array, columns=names)


def _store_params(estimator: object, params: dict[str, Any]) -> None:
    """Store constructor arguments unchanged as attributes (scikit-learn's rule for ``__init__``)."""
    for name, value in params.items():
        if name not in ("self", "__class__", "contamination"):
            setattr(estimator, name, value)


class _GANParams:
    """Shared constructor parameters of the estimators, mapped onto ``TrainConfig``."""

    def _train_config(self) -> TrainConfig:
        seed = self.random_state if self.random_state is not None else 0
        return TrainConfig(
            epochs=self.epochs,
            batch_size=self.batch_size,
            latent_dim=self.latent_dim,
            hidden=self.hidden,
            seed=int(seed),
            device=self.device,
            holdout=self.holdout,
            refit=bool(getattr(self, "refit", False)),
            density_generators=getattr(self, "n_generators", "auto"),
        )

    def _record_input(self, X: Any) -> None:
        self._array_input_ = not isinstance(X, pd.DataFrame)
        if not self._array_input_:
            self.feature_names_in_ = np.asarray([str(c) for c in X.columns], dtype=object)
        self.n_features_in_ = X.shape[1]

    def _frame(self, X: Any) -> pd.DataFrame:
        names = None if not self._array_input_ else [f"x{i}" for i in range(self.n_features_in_)]
        return _as_frame(X, names)

    def save(self, path: str | Path) -> Path:
        """Write the fitted model folder (the same format the CLI reads)."""
        check_is_fitted(self, "model_")
        return self.model_.save(path)


class GANAugmenter(_GANParams, BaseEstimator):
    """Conditional GAN augmenter: learns p(x | y) per class and samples labeled rows at any class mix.

    Parameters
    ----------
    epochs : passes over the data; None picks about 6,000 training steps (for one class 5 per training
        row, from 2,000 to 10,000).
    batch_size, latent_dim, hidden : batch and network sizes; None: chosen from the data (several classes:
        128 wide, batches of 256; one class: 64 wide on tables of up to 10 encoded columns, with batches of
        128 under 2,000 training rows and 256 above; 128 wide with batches of 256 on wider tables).
    holdout : share of rows held out to choose when to stop training (early stopping).
    refit : after early stopping, train again on all rows (held-out ones included) for the chosen number
        of steps; on small data every row counts. The model's calibration and validation figures are then
        optimistic: set False to score anomalies with the model as well.
    column_kinds : overrides of inferred column kinds, e.g. ``{"zip": "categorical"}``.
    random_state, device (``auto|cpu|cuda``), verbose (progress bars).
    """

    def __init__(
        self,
        epochs: int | None = None,
        batch_size: int | None = None,
        latent_dim: int = 16,
        hidden: int | None = None,
        holdout: float = 0.2,
        refit: bool = True,
        column_kinds: Mapping[str, str] | None = None,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool = False,
    ) -> None:
        _store_params(self, locals())

    def fit(self, X: Any, y: Any = None) -> GANAugmenter:
        """Fit on features ``X`` (DataFrame or array) and labels ``y`` (None: one class)."""
        self._record_input(X)
        frame = self._frame(X)
        label = None
        if y is not None:
            labels = np.asarray(y)
            if len(labels) != len(frame):
                raise GantoolsError(f"X has {len(frame)} rows but y has {len(labels)}")
            frame[_LABEL] = labels
            label = _LABEL
        self.model_ = TabularGAN(self._train_config(), self.column_kinds, self.verbose).fit(frame, label)
        self.classes_ = np.asarray(self.model_.classes_) if y is not None else None
        return self

    def sample(
        self, n: int, class_mix: str | Mapping[Any, float] = "original", random_state: int | None = None
    ) -> tuple[Any, np.ndarray | None]:
        """Return ``(X_syn, y_syn)``: ``n`` rows shaped like ``X`` (DataFrame in, DataFrame out)."""
        check_is_fitted(self, "model_")
        frame = self.model_.sample(n, class_mix, random_state)
        y_syn = frame.pop(_LABEL).to_numpy() if _LABEL in frame.columns else None
        X_syn: Any = frame.to_numpy() if self._array_input_ else frame
        return X_syn, y_syn

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> GANAugmenter:
        """Load a model folder (written by ``save`` or ``gantools train``)."""
        model = TabularGAN.load(path, device)
        est = cls(device=device)
        est.model_ = model
        est._array_input_ = False
        est.feature_names_in_ = np.asarray(model.schema_.names, dtype=object)
        est.n_features_in_ = len(model.schema_.names)
        est.classes_ = np.asarray(model.classes_) if model.schema_.label is not None else None
        return est


class GANAnomalyDetector(_GANParams, BaseDetector):
    """GAN anomaly detector (PyOD conventions): encoder reconstruction + discriminator feature residual.

    Fit on normal data only. ``contamination`` is the share of normal rows to flag: ``threshold_`` is
    calibrated on rows held out from training, so the false-positive rate on new normal data stays close
    to it. ``fit(X, classes=...)`` learns several normal classes; a record is scored against the one it
    fits best.

    ``n_generators``: how many independently trained generators the density part multiplies ("auto": 3
    for one class, 1 with ``classes``); they train side by side as one stacked model. Other parameters as
    ``GANAugmenter``'s.
    """

    def __init__(
        self,
        contamination: float = 0.01,
        epochs: int | None = None,
        batch_size: int | None = None,
        latent_dim: int = 16,
        hidden: int | None = None,
        holdout: float = 0.2,
        n_generators: int | str = "auto",
        column_kinds: Mapping[str, str] | None = None,
        random_state: int | None = None,
        device: str = "auto",
        verbose: bool = False,
    ) -> None:
        super().__init__(contamination=contamination)
        _store_params(self, locals())

    def fit(self, X: Any, y: Any = None, classes: Any = None) -> GANAnomalyDetector:
        """Fit on normal rows of ``X``; ``classes``: normal sub-classes (one per row), optional.

        ``y`` (optional, 0 = normal, 1 = anomaly): rows marked 1 are a few known anomalies. They are not
        trained on; they tune the weighting of the score's parts (recorded in ``weights_source_``).
        Without ``y``, or with no 1 in it, every row is taken as normal (PyOD's unsupervised convention).
        """
        self._record_input(X)
        frame = self._frame(X)
        anomalies = None
        if y is not None:
            marks = np.asarray(y)
            if marks.shape != (len(frame),) or not np.isin(marks, [0, 1]).all():
                raise GantoolsError(f"y must hold one 0 (normal) or 1 (anomaly) per row of X ({len(frame)} rows)")
            if marks.any():
                anomalies, frame = frame[marks == 1].reset_index(drop=True), frame[marks == 0].reset_index(drop=True)
                if classes is not None:
                    classes = np.asarray(classes)[marks == 0]
        label = None
        if classes is not None:
            frame[_LABEL] = np.asarray(classes)
            label = _LABEL
        self.model_ = TabularGAN(self._train_config(), self.column_kinds, self.verbose).fit(
            frame, label, anomalies=anomalies
        )
        self._fitted_rows = frame.drop(columns=[_LABEL], errors="ignore")
        self._score_fitted_rows()
        self._finish_fit()
        return self

    def _score_fitted_rows(self) -> None:
        """PyOD's decision_scores_: the fitted rows' scores, kept in the model (and its folder when saved)."""
        self.model_.training_scores_ = self.decision_function(self._fitted_rows).astype(np.float32)

    def tune_weights(self, X_anomalies: Any) -> GANAnomalyDetector:
        """Re-tune the score's weights on a few known anomalies without retraining (freshly fitted only)."""
        check_is_fitted(self, "model_")
        self.model_.tune_weights(self._frame(X_anomalies))
        if getattr(self, "_fitted_rows", None) is not None:
            self._score_fitted_rows()
        self._finish_fit()
        return self

    @property
    def weights_source_(self) -> str:
        """How the score's weights were chosen: the defaults, or tuned on labeled anomalies."""
        check_is_fitted(self, "model_")
        return self.model_.calibration_.weights_source

    def _finish_fit(self) -> None:
        self._set_n_classes(None)
        self.threshold_ = self.model_.calibration_.threshold(self.contamination)
        # the scores of the rows fitted on, as the model computed and saved them (same after fit and load);
        # models saved before they were kept: the held-out rows' scores, what the threshold was read from
        scores = getattr(self.model_, "training_scores_", None)
        if scores is None:
            scores = self.model_.calibration_.holdout_scores
        self.decision_scores_ = np.asarray(scores, dtype=np.float64)
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        self._mu = float(np.mean(self.decision_scores_))
        self._sigma = float(np.std(self.decision_scores_)) or 1.0

    def decision_function(self, X: Any) -> np.ndarray:
        """Anomaly score of each row (higher = more anomalous; 0 is a typical normal row)."""
        check_is_fitted(self, "model_")
        return self.model_.score(self._frame(X), fpr=self.contamination, all_parts=False)["score"].to_numpy()

    def score_details(self, X: Any, normal_class: Any = None, explain: int = 3) -> pd.DataFrame:
        """Per-row score, its parts, the class scored against, the verdict and the top features."""
        check_is_fitted(self, "model_")
        return self.model_.score(self._frame(X), normal_class, self.contamination, explain)

    @classmethod
    def load(cls, path: str | Path, contamination: float = 0.01, device: str = "auto") -> GANAnomalyDetector:
        """Load a model folder (written by ``save`` or ``gantools train``) as a detector."""
        model = TabularGAN.load(path, device)
        det = cls(contamination=contamination, device=device)
        det.model_ = model
        det._array_input_ = False
        det.feature_names_in_ = np.asarray(model.schema_.names, dtype=object)
        det.n_features_in_ = len(model.schema_.names)
        det._finish_fit()
        return det
