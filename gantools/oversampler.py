"""``GANOverSampler``: an imbalanced-learn over-sampler whose new rows come from a conditional GAN.

``fit_resample(X, y)`` fits one conditional GAN (``GANAugmenter`` over ``TabularGAN``) on all of ``(X, y)``
and appends, class by class, as many synthetic rows as ``sampling_strategy_`` asks for. Inside an
``imblearn.pipeline.Pipeline`` it runs on the training part of each fold only, so synthetic rows never reach
a validation fold.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from imblearn.over_sampling.base import BaseOverSampler
from imblearn.utils import check_target_type
from scipy import sparse
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_consistent_length

from gantools.errors import GantoolsError
from gantools.estimators import GANAugmenter
from gantools.model import class_key


class OverSamplingError(GantoolsError, ValueError):
    """Bad input to ``GANOverSampler``: a ``GantoolsError`` that is also the ``ValueError`` imbalanced-learn raises."""


class GANOverSampler(BaseOverSampler):
    """Over-sample with a conditional tabular GAN (imbalanced-learn sampler, drop-in for ``SMOTE``).

    One GAN is fitted on all classes of ``(X, y)``; for each class in ``sampling_strategy_`` it generates
    that many rows of that class. The original rows come first, unchanged; the synthetic rows follow, class
    by class. A DataFrame comes back as a DataFrame with the same columns and dtypes (categorical and text
    columns are fine, the index is renumbered); an array as an array of the same dtype; ``y`` keeps its type
    and dtype. Every class needs at least 2 rows (one is held out to validate and calibrate the model).

    Parameters
    ----------
    sampling_strategy : ``"advised"``: what the model's lift estimate advises (each class to 500 rows or
        twice the largest class, from G), none when augmenting is not advised (``advice_`` says why); or as
        in imbalanced-learn: ``"auto"``, ``"minority"``, ``"not minority"``, ``"not majority"``, ``"all"``,
        a float (binary only: minority / majority after resampling), a dict ``{class: rows after
        resampling}`` or a callable (these are done as asked, with a warning when the estimate does not
        advise augmenting).
    random_state : int, RandomState or None; an int makes the result reproducible.
    epochs : passes over the data; None picks about 6,000 training steps from the data size.
    batch_size, latent_dim, hidden : batch and network sizes (None: chosen from the data, as GANAugmenter's).
    holdout : share of each class held out to choose when to stop training (early stopping).
    refit : after early stopping, train again on all rows for the chosen number of steps (default True).
    column_kinds : overrides of inferred column kinds, e.g. ``{"zip": "categorical"}``; array columns are
        named ``x0``, ``x1``, ...
    device : ``auto``, ``cpu`` or ``cuda``.  verbose : progress bars while training.

    Attributes
    ----------
    sampling_strategy_ : dict ``{class: rows added}``.
    advice_ : the model's ``AugmentationAdvice`` (``gantools.lift``): the expected lift in balanced accuracy,
        estimated inside ``fit`` on held-out folds of ``(X, y)``; ``advice_.summary()`` says it in words.
    augmenter_ : the fitted ``GANAugmenter``: ``augmenter_.sample(n, class_mix=...)`` draws more rows
        (as a DataFrame; for array input its columns are ``x0``, ``x1``, ...).
    model_ : the fitted ``TabularGAN`` (``model_.save(path)`` writes the folder the CLI and
        ``GANAugmenter.load`` / ``GANAnomalyDetector.load`` read).
    n_features_in_, feature_names_in_ : as in scikit-learn.

    Examples
    --------
    >>> from imblearn.pipeline import make_pipeline
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from sklearn.model_selection import cross_val_score
    >>> from gantools import GANOverSampler
    >>> from gantools.datasets import load_banknote
    >>> data = load_banknote()
    >>> data = data[(data["class"] == 0) | (data.index % 10 == 0)]  # forged notes made rare
    >>> X, y = data.drop(columns="class"), data["class"]
    >>> X_res, y_res = GANOverSampler(random_state=0, epochs=50).fit_resample(X, y)
    >>> y_res.value_counts().tolist()
    [762, 762]
    >>> pipe = make_pipeline(GANOverSampler(random_state=0, epochs=50), RandomForestClassifier())
    >>> scores = cross_val_score(pipe, X, y, scoring="balanced_accuracy")  # the GAN sees training folds only
    """

    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "sampling_strategy": [*BaseOverSampler._parameter_constraints["sampling_strategy"], StrOptions({"advised"})],
        "epochs": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(Integral, 2, None, closed="left"), None],
        "latent_dim": [Interval(Integral, 1, None, closed="left")],
        "hidden": [Interval(Integral, 1, None, closed="left"), None],
        "holdout": [Interval(Real, 0, 1, closed="left")],
        "refit": ["boolean"],
        "column_kinds": [Mapping, None],
        "device": [str],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        sampling_strategy: float | str | Mapping[Any, int] | Any = "auto",
        random_state: int | np.random.RandomState | None = None,
        epochs: int | None = None,
        batch_size: int | None = None,
        latent_dim: int = 16,
        hidden: int | None = None,
        holdout: float = 0.2,
        refit: bool = True,
        column_kinds: Mapping[str, str] | None = None,
        device: str = "auto",
        verbose: bool = False,
    ) -> None:
        super().__init__(sampling_strategy=sampling_strategy)
        self.random_state = random_state
        self.epochs = epochs
        self.batch_size = batch_size
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.holdout = holdout
        self.refit = refit
        self.column_kinds = column_kinds
        self.device = device
        self.verbose = verbose

    def fit_resample(self, X: Any, y: Any, **params: Any) -> tuple[Any, Any]:
        """Fit the GAN on ``(X, y)``; return the rows with the synthetic rows appended (see the class)."""
        self._advised = isinstance(self.sampling_strategy, str) and self.sampling_strategy == "advised"
        self._warning = None
        if self._advised:
            # imbalanced-learn resolves the strategy before the GAN is fitted; "advised" is known only after it
            self._validate_params()
            self.sampling_strategy = "all"
            try:
                out = super().fit_resample(X, y, **params)
            finally:
                self.sampling_strategy = "advised"
        else:
            out = super().fit_resample(X, y, **params)
        if self._warning:
            warnings.warn(self._warning, UserWarning, stacklevel=2)
        return out

    def _check_X_y(self, X: Any, y: Any, accept_sparse: Any = None) -> tuple[Any, np.ndarray, bool]:
        # Like RandomOverSampler: a DataFrame passes through untouched (mixed dtypes), an array keeps its dtype.
        if sparse.issparse(X):
            raise OverSamplingError("GANOverSampler needs dense X (a DataFrame or an array), not a sparse matrix")
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        if not isinstance(X, pd.DataFrame):
            X = np.asarray(X)
            if X.ndim != 2:
                raise OverSamplingError(f"X must be 2-dimensional (got shape {X.shape})")
        check_consistent_length(X, y)
        if len(X) == 0:
            raise OverSamplingError("X has no rows")
        self.n_features_in_ = X.shape[1]
        if isinstance(X, pd.DataFrame) and all(isinstance(c, str) for c in X.columns):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return X, y, binarize_y

    def _fit_resample(self, X: Any, y: np.ndarray) -> tuple[Any, np.ndarray]:
        classes, counts = np.unique(y, return_counts=True)
        for cls, count in zip(classes, counts):
            if count < 2:
                raise OverSamplingError(
                    f"class {_show(cls)} has only {count} row; GANOverSampler needs at least 2 rows of each class "
                    "(one is held out to validate the model): add rows of it or drop the class"
                )
        is_frame = isinstance(X, pd.DataFrame)
        frame = _to_frame(X)
        seed = self._seed()
        augmenter = GANAugmenter(
            epochs=self.epochs,
            batch_size=self.batch_size,
            latent_dim=self.latent_dim,
            hidden=self.hidden,
            holdout=self.holdout,
            refit=self.refit,
            column_kinds=self.column_kinds,
            random_state=seed,
            device=self.device,
            verbose=self.verbose,
        )
        try:
            augmenter.fit(frame, y)
        except OverSamplingError:
            raise
        except GantoolsError as exc:  # every GantoolsError is bad input the user can fix: a ValueError here
            raise OverSamplingError(str(exc)) from exc
        self.augmenter_ = augmenter
        self.model_ = augmenter.model_
        self.advice_ = augmenter.model_.augmentation_advice_
        self._apply_advice(classes, counts)

        rng = np.random.default_rng(seed)
        X_parts: list[pd.DataFrame] = [frame]
        y_parts: list[np.ndarray] = [y]
        for cls, n in self.sampling_strategy_.items():
            if n <= 0:
                continue
            synthetic = self.model_.sample(int(n), {class_key(cls): 1.0}, int(rng.integers(2**31)))
            X_parts.append(synthetic[augmenter.model_.schema_.names])
            y_parts.append(np.full(int(n), cls, dtype=y.dtype))
        X_res = pd.concat(X_parts, ignore_index=True)
        y_res = np.concatenate(y_parts)
        if is_frame:
            X_res.columns = X.columns
            return _restore_dtypes(X_res, X.dtypes), y_res
        return _to_array(X_res, X.dtype), y_res

    def _apply_advice(self, classes: np.ndarray, counts: np.ndarray) -> None:
        """With ``"advised"``: the rows the estimate advises (none when not advised); otherwise a warning
        when the estimate does not advise augmenting."""
        advice = self.advice_
        if self._advised:
            target = advice.rows_per_class(counts.tolist()) if advice is not None else None
            self.sampling_strategy_ = {
                cls: (max(0, target - int(count)) if target is not None else 0) for cls, count in zip(classes, counts)
            }
        elif advice is not None and not advice.advised and sum(self.sampling_strategy_.values()) > 0:
            self._warning = f"GANOverSampler: {advice.summary()}"  # warned once the rows are made

    def _seed(self) -> int:
        """An int random_state is the training seed (as in ``GANAugmenter``); otherwise draw one."""
        if isinstance(self.random_state, Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        return tags


def _show(value: Any) -> str:
    """A class label as users wrote it: 1.0, 'forged' (not np.float64(1.0))."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _to_frame(X: Any) -> pd.DataFrame:
    """The table the GAN is fitted on: string column names; array columns x0, x1, ... with inferred dtypes."""
    if isinstance(X, pd.DataFrame):
        frame = X.reset_index(drop=True)
        frame.columns = [str(c) for c in X.columns]
        return frame
    names = [f"x{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=names)
    return frame.infer_objects() if X.dtype.kind == "O" else frame


def _restore_dtypes(frame: pd.DataFrame, dtypes: pd.Series) -> pd.DataFrame:
    for i, dtype in enumerate(dtypes):
        if frame.dtypes.iloc[i] != dtype:
            try:
                frame.isetitem(i, frame.iloc[:, i].astype(dtype))
            except (TypeError, ValueError):  # e.g. missing values in an integer column: keep what pandas chose
                pass
    return frame


def _to_array(frame: pd.DataFrame, dtype: np.dtype) -> np.ndarray:
    if dtype.kind in "fc":
        return frame.to_numpy(dtype=dtype, na_value=np.nan)
    if dtype.kind == "O":
        return frame.astype(object).to_numpy()
    return frame.to_numpy(dtype=dtype)
