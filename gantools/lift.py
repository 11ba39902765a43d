"""Expected lift: does adding synthetic rows help a standard classifier trained on the user's own rows?

Estimated inside ``TabularGAN.fit`` (several classes) on held-out folds of the training data, never on data
the caller tests on. For each fold, generators fitted without the fold's rows add synthetic rows to the
fold's training rows; a logistic regression, a random forest (50 trees) and a histogram gradient boosting
classifier are trained on the real rows alone and on real plus synthetic rows, and the lift is the gain in
balanced accuracy on the fold's held-out rows, averaged over the three classifiers and the folds, with a
bootstrap standard error over the held-out rows; the lift per classifier is kept too (on a few dozen rows the
boosting classifier, whose leaves need 20 rows, gains most).

What is advised is G with each class brought to ``advised_rows`` (500 rows, or twice the largest class):
its estimate is the "expected lift". Augmenting is not advised when no candidate is estimated to help: that
candidate, G and a Gaussian per class (the moments G's Gaussian base starts from) with each class brought to
2, 5 or 20 times the largest class's rows all estimated below 0. Measured on 13 tables at 10–50 rows per
class (benchmarks/results/augment_wide_choice.md): choosing the amount or the generator by these estimates lost to
this fixed choice (+0.031 to +0.039 balanced accuracy over the real rows against +0.044: the estimates on a
few held-out rows are too noisy to rank candidates), while "none when every candidate is estimated to hurt"
kept +0.042 and made the worst table's mean gain positive (where the estimate was negative, the fixed
choice's measured gain was below 0 on 54% of fits, elsewhere on 20%). The rule's own run, with the three
classifiers (augment_wide_hgb.md): the expected lift's sign matches the measured one on 11 of 13 tables.
The classifiers see rows in the
networks' encoding (``TabularPreprocessor``: numeric columns standardised or quantile-mapped, categories
one-hot).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from gantools.training.stop import check_stop

# What is advised: each class brought to this many rows (real + synthetic), or twice the largest class
ADVISED_ROWS_PER_CLASS = 500
# The other candidates: each class brought to this many times the largest class's rows ...
LIFT_FACTORS = (2.0, 5.0, 20.0)
# ... unless that makes more than this many rows in all (the classifiers' cost): such candidates are skipped
LIFT_MAX_ROWS = 5000
# Real training rows per fold at most (a stratified subsample beyond): the estimate stays cheap on large data
LIFT_MAX_REAL_ROWS = 2000
# Further folds (a generator trained again without each) while the held-out rows number fewer than this,
# up to LIFT_MAX_FOLDS in all: on small data one fold's few rows say little, and fits there are cheap
LIFT_MIN_EVAL_ROWS, LIFT_MAX_FOLDS = 200, 3
LIFT_BOOTSTRAP = 200  # resamples of the held-out rows behind the standard error
GENERATORS = ("gan", "gaussian")

# A sampler: rows per class (array of counts) -> synthetic rows in the networks' encoding, ordered by class
Sampler = Callable[[np.ndarray], np.ndarray]


@dataclass
class Fold:
    """One held-out fold: real training rows, held-out rows, and samplers fitted without the held-out rows."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_eval: np.ndarray
    y_eval: np.ndarray
    samplers: dict[str, Sampler]


def advised_rows(class_counts: Any) -> int:
    """Rows per class after the advised augmentation of data with these class counts."""
    return max(ADVISED_ROWS_PER_CLASS, 2 * int(max(class_counts)))


@dataclass
class AugmentationAdvice:
    """The lift estimate recorded in a model, and what it advises."""

    advised: bool  # False: every candidate is estimated to lower balanced accuracy
    lift: float  # estimated gain in balanced accuracy of what is advised (G, each class to ``advised_rows``)
    lift_se: float  # its standard error (bootstrap over the held-out rows)
    folds: int
    eval_rows: int
    real_rows_per_fold: int  # real training rows behind each fold's classifiers (capped: LIFT_MAX_REAL_ROWS)
    baseline: float  # balanced accuracy of the classifiers on real rows alone (mean over folds and classifiers)
    candidates: list[dict[str, Any]] = field(default_factory=list)  # factor None: the advised amount
    best_generator: str | None = None  # the candidate estimated best (information: not what is advised)
    best_factor: float | None = None
    lift_per_classifier: dict[str, float] = field(default_factory=dict)  # the expected lift per classifier

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AugmentationAdvice:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})

    def rows_per_class(self, class_counts: list[int]) -> int | None:
        """Rows per class after the advised augmentation of data with these class counts (None: not advised)."""
        return advised_rows(class_counts) if self.advised else None

    def summary(self) -> str:
        """One line for people: the expected lift and whether augmenting is advised."""
        lift = f"{self.lift:+.3f} ± {self.lift_se:.3f} balanced accuracy"
        where = f"{self.folds} held-out fold{'s' if self.folds > 1 else ''} of {self.eval_rows} rows"
        if self.lift_per_classifier:
            where += " with " + ", ".join(f"{k} {v:+.3f}" for k, v in self.lift_per_classifier.items())
        amount = f"each class to {ADVISED_ROWS_PER_CLASS} rows or twice the largest class"
        if self.advised:
            return f"expected lift: {lift} (synthetic rows from G, {amount}; estimated on {where})"
        return (
            f"augmenting is not advised: expected lift {lift} ({amount}), and no other amount or generator "
            f"tried helps; estimated on {where}"
        )


CLASSIFIERS = ("LogisticRegression", "RandomForest", "HistGradientBoosting")


def _classifiers(seed: int) -> list[Any]:
    """The standard classifiers whose mean lift is estimated, in the order of ``CLASSIFIERS`` (default settings,
    but fewer trees for the forest: the estimate runs inside every fit)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    return [
        LogisticRegression(max_iter=1000),
        RandomForestClassifier(n_estimators=50, random_state=seed, n_jobs=1),
        HistGradientBoostingClassifier(random_state=seed),
    ]


def _balanced_accuracy(truth: np.ndarray, pred: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Balanced accuracy of ``pred`` for each resample of row indices ``rows`` (resamples x rows)."""
    classes = np.unique(truth)
    hit = (pred == truth)[rows]
    per_class = []
    for c in classes:
        in_class = (truth == c)[rows]
        count = in_class.sum(axis=1)
        per_class.append(np.where(count > 0, (hit & in_class).sum(axis=1) / np.maximum(count, 1), np.nan))
    return np.nanmean(np.stack(per_class), axis=0)


def _subsample(X: np.ndarray, y: np.ndarray, limit: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if len(y) <= limit:
        return X, y
    keep = []
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        keep.append(rng.choice(rows, size=max(1, round(limit * len(rows) / len(y))), replace=False))
    picked = np.sort(np.concatenate(keep))
    return X[picked], y[picked]


def further_folds(
    y: np.ndarray, train_idx: np.ndarray, hold_idx: np.ndarray, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(training rows, held-out rows) of the folds beyond the model's own split, each holding out as many rows
    of each class as ``hold_idx`` does, disjoint from it and from each other (while the training rows allow)."""
    rng = np.random.default_rng(seed + 1)
    folds: list[tuple[np.ndarray, np.ndarray]] = []
    eval_rows = len(hold_idx)
    pools = {c: rng.permutation(train_idx[y[train_idx] == c]) for c in np.unique(y)}
    sizes = {c: int((y[hold_idx] == c).sum()) for c in pools}
    everything = np.sort(np.concatenate([train_idx, hold_idx]))
    for k in range(LIFT_MAX_FOLDS - 1):
        if eval_rows >= LIFT_MIN_EVAL_ROWS:
            break
        held = []
        for c, pool in pools.items():
            chunk = pool[k * sizes[c] : (k + 1) * sizes[c]]
            if len(chunk) < sizes[c] or len(pool) + sizes[c] - len(chunk) < 2:  # the class's rows run out
                return folds
            held.append(chunk)
        hold = np.sort(np.concatenate(held))
        folds.append((np.setdiff1d(everything, hold), hold))
        eval_rows += len(hold)
    return folds


def estimate_lift(folds: list[Fold], n_classes: int, seed: int = 0) -> AugmentationAdvice:
    """Estimate the lift of each candidate (generator, factor) on ``folds``; advise G at ``advised_rows`` unless
    every candidate is estimated to hurt."""
    rng = np.random.default_rng(seed)
    # per candidate: per fold, per classifier, predictions on the fold's held-out rows
    predictions: dict[tuple[str, float], list[list[np.ndarray]]] = {}
    baseline_predictions: list[list[np.ndarray]] = []
    real_rows = 0
    for fold in folds:
        X_real, y_real = _subsample(fold.X_train, fold.y_train, LIFT_MAX_REAL_ROWS, rng)
        real_rows = max(real_rows, len(y_real))
        counts = np.bincount(y_real, minlength=n_classes)
        baseline_predictions.append([clf.fit(X_real, y_real).predict(fold.X_eval) for clf in _classifiers(seed)])
        for name in GENERATORS:
            sampler = fold.samplers.get(name)
            if sampler is None:
                continue
            for factor in (None, *LIFT_FACTORS) if name == "gan" else LIFT_FACTORS:
                target = advised_rows(counts) if factor is None else int(round(factor * counts.max()))
                if factor is not None and target * n_classes > LIFT_MAX_ROWS:
                    continue
                check_stop()  # Ctrl+C / SIGTERM: the classifiers' fits add up to seconds on small data
                extra = np.maximum(target - counts, 0)
                synthetic = sampler(extra)
                X_aug = np.concatenate([X_real, synthetic])
                y_aug = np.concatenate([y_real, np.repeat(np.arange(n_classes), extra)])
                fitted = [clf.fit(X_aug, y_aug).predict(fold.X_eval) for clf in _classifiers(seed)]
                predictions.setdefault((name, factor), []).append(fitted)
    boots = [rng.integers(0, len(f.y_eval), size=(LIFT_BOOTSTRAP, len(f.y_eval))) for f in folds]
    identity = [np.arange(len(f.y_eval))[None, :] for f in folds]

    def gain(preds: list[list[np.ndarray]], rows: list[np.ndarray]) -> np.ndarray:
        """(augmented − real) balanced accuracy per classifier and resample, mean over folds."""
        per_fold = []
        for fold, fold_preds, base, index in zip(folds, preds, baseline_predictions, rows):
            per_fold.append(
                [
                    _balanced_accuracy(fold.y_eval, p, index) - _balanced_accuracy(fold.y_eval, b, index)
                    for p, b in zip(fold_preds, base)
                ]
            )
        return np.mean(per_fold, axis=0)

    candidates = []
    for (name, factor), preds in predictions.items():
        if len(preds) != len(folds):  # skipped in some fold (too many rows): not comparable
            continue
        point = gain(preds, identity)[:, 0]
        candidates.append(
            {
                "generator": name,
                "factor": factor,
                "lift": float(point.mean()),
                "lift_se": float(np.std(gain(preds, boots).mean(axis=0), ddof=1)),
                "per_classifier": {c: float(v) for c, v in zip(CLASSIFIERS, point)},
            }
        )
    baseline = float(
        np.mean(
            [
                np.mean([_balanced_accuracy(f.y_eval, b, i)[0] for b in base])
                for f, base, i in zip(folds, baseline_predictions, identity)
            ]
        )
    )
    eval_rows = int(sum(len(f.y_eval) for f in folds))
    common = {"folds": len(folds), "eval_rows": eval_rows, "real_rows_per_fold": real_rows, "baseline": baseline}
    chosen = next((c for c in candidates if c["generator"] == "gan" and c["factor"] is None), None)
    if chosen is None:  # no G to judge (a caller without one)
        return AugmentationAdvice(False, 0.0, 0.0, candidates=candidates, **common)
    best = max(candidates, key=lambda c: c["lift"])
    return AugmentationAdvice(
        best["lift"] >= 0,
        chosen["lift"],
        chosen["lift_se"],
        candidates=candidates,
        best_generator=best["generator"],
        best_factor=best["factor"],
        lift_per_classifier=chosen["per_classifier"],
        **common,
    )
