"""``TabularGAN``: one conditional GAN with an encoder for one dataset, behind every use.

It owns the schema, the fitted preprocessor, the networks and the score calibration; it samples labeled
rows, scores records, and saves to / loads from a model folder. The scikit-learn / PyOD estimators, the
workflows and the CLI are thin layers over it.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from gantools.bundle import load_weights, read_bundle, settings_checked, write_bundle
from gantools.class_mix import counts_from_fractions, parse_class_mix
from gantools.config import TrainConfig
from gantools.data.schema import infer_schema
from gantools.density import Mixture, SampleDensity
from gantools.errors import GantoolsError, UsageError
from gantools.fields import checked_fields, matches
from gantools.lift import AugmentationAdvice, Fold, estimate_lift, further_folds
from gantools.models import GaussianGenerator, Generator
from gantools.preprocessing import ReadColumns, TabularPreprocessor
from gantools.progress import training_progress
from gantools.scoring import RawParts, Records, ScoreCalibration, raw_parts
from gantools.scoring_space import ScoringSpace
from gantools.training import Networks, resolve_device, train_networks
from gantools.training.checkpoint import Autosave, Checkpoint
from gantools.training.stop import stoppable
from gantools.training.trainer import build_networks, gaussian_moments

MIN_ROWS = 10
# (reconstruction, discriminator, density) and the corroboration weight. Without labels the score is G's
# density plus 0.25 × how far *both* the reconstruction and the discriminator views put the record beyond
# 99% of held-out normal rows (at least 2 robust σ; scoring.CORROBORATION_QUANTILE). Measured on 5 sets
# (benchmarks/results/anomaly_parts.md): density alone ranks best where G's manifold fills the space (few
# columns), the network views where G leaks mass between modes (banknote: density 0.81, reconstruction
# 1.00); a linear mix loses both ways, this rule keeps the best of each.
DEFAULT_WEIGHTS = (0.0, 0.0, 1.0)
DEFAULT_CORROBORATION = 0.25
DENSITY_SAMPLES = 16384  # samples of G per class that the density's mixture summarises
# With several generators each one's mixture gets its share of density_components, but no fewer than this:
# 85 components per generator (256 shared by three) summarised Pima's samples too coarsely (AUROC −0.010 on
# one fit where 128 gained +0.002; benchmarks/results/anomaly_settings.md, "Several generators, multiplied")
MIN_GENERATOR_COMPONENTS = 128
PARZEN_SAMPLES = 1024  # samples of G per class behind a plain Parzen window (density_components=0)


def class_key(value: Any) -> str:
    """The string a class is known by on the command line and in JSON."""
    return "" if value is None else str(value)


class TabularGAN:
    """A conditional tabular GAN (G, D, EMA of G) plus encoder E, fitted to one table."""

    def __init__(
        self,
        config: TrainConfig | None = None,
        column_kinds: Mapping[str, str] | None = None,
        verbose: bool = False,
        weights: tuple[float, float, float] = DEFAULT_WEIGHTS,
    ) -> None:
        self.config = config or TrainConfig()
        self.column_kinds = dict(column_kinds or {})
        self.verbose = verbose
        self.weights = weights

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        df: pd.DataFrame,
        label: str | None = None,
        source: str = "the data",
        anomalies: pd.DataFrame | None = None,
        anomalies_source: str = "the anomalies",
        resume: Checkpoint | None = None,
        autosave: Autosave | None = None,
    ) -> TabularGAN:
        """Infer the schema, hold out rows for calibration, train the networks, calibrate the scorer.

        ``anomalies``: a few known anomalous records (same columns; a label column is ignored). They are
        never trained on; they tune the weighting of the score's parts (see ``weights_source``).
        Ctrl+C or SIGTERM stops training at the next step: the model is completed from what was learned and
        ``checkpoint_`` holds the state to continue from; ``resume`` (a saved model's checkpoint, same data and
        settings) continues an interrupted training where it stopped; ``autosave`` writes the GAN phase's
        checkpoint now and then while it runs (for trainings killed where no signal handler runs).
        """
        if not isinstance(df, pd.DataFrame):
            raise GantoolsError("training data must be a table (pandas DataFrame)")
        if len(df) < MIN_ROWS:
            raise GantoolsError(f"{source} has {len(df)} rows; at least {MIN_ROWS} are needed to train")
        self.config.validate()
        df = df.reset_index(drop=True)
        self.schema_ = infer_schema(df, label, self.column_kinds, source)
        labels = df[label] if label is not None else pd.Series([None] * len(df))
        classes, y = _encode_classes(labels)
        counts = np.bincount(y, minlength=len(classes))
        for cls, count in zip(classes, counts):
            if count < 2:
                raise GantoolsError(
                    f"class '{cls}' of label '{label}' has only {count} row in {source}; each class needs at least 2"
                )
        self.classes_ = classes
        self.class_counts_ = counts.tolist()
        train_idx, hold_idx = _stratified_holdout(y, self.config.holdout, self.config.seed)
        smallest = int(np.bincount(y[train_idx], minlength=len(classes)).min())
        base = self.config.use_gaussian_base(len(classes), smallest)
        # the settings resolved for this data ("auto" and None decided): what trained, and how to rebuild on load;
        # ``config`` stays as asked, so a refit on other data resolves again
        features = df[self.schema_.names]
        self.preprocessor_ = TabularPreprocessor(self.schema_, numeric_transform=self.config.numeric_transform).fit(
            features.iloc[train_idx]
        )
        sizes = self.config.resolve_sizes(len(classes), len(train_idx), self.preprocessor_.n_features_out_)
        self.config_ = dataclasses.replace(sizes, gaussian_base=base)
        self._space = None
        self._missing_fill = None
        self._density = None
        self.device_ = resolve_device(self.config_.device)
        columns = self.preprocessor_.read(features)
        X = torch.as_tensor(self.preprocessor_.encode(columns), device=self.device_)
        y_t = torch.as_tensor(y, device=self.device_)
        # the density's generators (density_generators; 1 without the mixture density) train as one stack
        members = self.config_.density_generators if self.config_.density_components > 0 else 1
        started = time.perf_counter()
        with training_progress(self.verbose) as progress, stoppable():
            self.nets_ = train_networks(
                X[train_idx],
                y_t[train_idx],
                len(classes),
                self._cat_slices(),
                self.config_,
                progress,
                validation=(X[hold_idx], y_t[hold_idx]),
                members=members,
                resume=resume,
                autosave=autosave,
            )
            checkpoint = self.nets_.checkpoint
            self._members = self.nets_.members
            self.augmentation_advice_ = None
            lift_started = time.perf_counter()
            if len(classes) > 1 and not self.nets_.interrupted:
                try:
                    self.augmentation_advice_ = self._estimate_lift(X, y_t, train_idx, hold_idx, progress)
                except KeyboardInterrupt:  # Ctrl+C while estimating: the model as trained, no estimate
                    self.nets_.interrupted = True
            lift_seconds = time.perf_counter() - lift_started
            refit = self.config_.refit and self.nets_.history.get("selected_step") is not None
            if refit and not self.nets_.interrupted:
                self.nets_ = self._refit_all_rows(X, y_t, len(classes), self.nets_.history, progress)
        # interrupted anywhere: the GAN phase's state where it stopped (or ended) is what --resume continues from
        self.checkpoint_ = checkpoint if self.nets_.interrupted else None
        seconds = time.perf_counter() - started
        # several classes: the other candidate generator, a Gaussian per class from the rows G trained on
        self.gaussian_ = None
        if len(classes) > 1:
            rows = slice(None) if self.nets_.history.get("refit_on_all_rows") else torch.as_tensor(train_idx)
            moments = gaussian_moments(X[rows], y_t[rows], len(classes), self._cat_slices(), self.config_.latent_dim)
            self.gaussian_ = GaussianGenerator(*moments)
        self.history_ = {
            **self.nets_.history,
            "density_generators_trained": 1 + len(self._members),
            "train_seconds": seconds,
            "n_rows": len(df),
            "n_train_rows": len(train_idx),
            "n_holdout_rows": len(hold_idx),
            "interrupted": self.nets_.interrupted,
            "lift_seconds": lift_seconds,
            "device": str(self.device_),
            "gan_rows_per_second": self.nets_.history.get("gan_steps", 0)
            * min(self.config_.batch_size, len(train_idx))
            / max(self.nets_.history.get("gan_seconds", 1e-9), 1e-9),
        }
        self._calibrate(X[hold_idx], y_t[hold_idx])
        self._holdout_X = X[hold_idx]
        if anomalies is not None and len(anomalies) > 0:
            self.tune_weights(anomalies, anomalies_source)
        self.validation_ = self._validate(features.iloc[hold_idx], y[hold_idx])
        # the scores of the rows fitted on, when a caller sets them (GANAnomalyDetector: PyOD's decision_scores_);
        # saved with the model, so that they mean the same after loading
        self.training_scores_ = None
        return self

    def _refit_all_rows(
        self, X: torch.Tensor, y: torch.Tensor, n_classes: int, selection: dict, progress: Any
    ) -> Networks:
        """Train again on every row for as many GAN steps as early stopping selected (see ``TrainConfig.refit``).
        The density's further generators, if any, stay as trained on the training rows."""
        nets = train_networks(
            X, y, n_classes, self._cat_slices(), self.config_, progress, gan_steps=int(selection["selected_step"])
        )
        kept = ("selected_step", "best_step", "validation_log_likelihood", "stopped_early")
        nets.history.update({k: selection[k] for k in kept if k in selection}, refit_on_all_rows=True)
        return nets

    def _estimate_lift(
        self, X: torch.Tensor, y: torch.Tensor, train_idx: np.ndarray, hold_idx: np.ndarray, progress: Any
    ) -> AugmentationAdvice:
        """The expected lift of augmenting (``gantools.lift``): on the model's own split (G as trained on its
        training rows) and, while the held-out rows are few, on further folds with G trained again without
        their rows (no encoder; for as many steps as early stopping kept, as the refit on all rows does)."""
        n_classes, slices = len(self.classes_), self._cat_slices()
        y_np = y.cpu().numpy()
        splits = [(train_idx, hold_idx, self.nets_.generator_ema)]
        # as many steps as early stopping kept (what the refit on all rows trains too), else as many as taken
        selected = self.nets_.history.get("selected_step")
        steps = int(selected if selected is not None else self.nets_.history.get("gan_steps", 0))
        for k, (tr, ev) in enumerate(further_folds(y_np, train_idx, hold_idx, self.config_.seed), start=1):
            named = None
            if progress is not None:
                named = lambda phase, *a, k=k: progress(f"Estimating the lift: fold {k + 1}", *a)  # noqa: E731
            config = dataclasses.replace(self.config_, seed=self.config_.member_seed(k))
            tr_t = torch.as_tensor(tr, device=X.device)
            nets = train_networks(X[tr_t], y[tr_t], n_classes, slices, config, named, gan_steps=steps, encoder=False)
            if nets.interrupted:
                raise KeyboardInterrupt
            splits.append((tr, ev, nets.generator_ema))
        rng = np.random.default_rng(self.config_.seed)
        X_np, folds = X.cpu().numpy(), []
        for tr, ev, generator in splits:
            tr_t = torch.as_tensor(tr, device=X.device)
            moments = gaussian_moments(X[tr_t], y[tr_t], n_classes, slices, self.config_.latent_dim)
            gaussian = GaussianGenerator(*moments)
            samplers = {
                name: functools.partial(self._class_ordered_rows, generator=gen, rng=rng)
                for name, gen in (("gan", generator), ("gaussian", gaussian))
            }
            folds.append(Fold(X_np[tr], y_np[tr], X_np[ev], y_np[ev], samplers))
        return estimate_lift(folds, n_classes, self.config_.seed)

    def _class_ordered_rows(
        self, counts: np.ndarray, generator: torch.nn.Module, rng: np.random.Generator
    ) -> np.ndarray:
        return self._generate_matrix(counts, rng, order_by_class=True, generator=generator)[0]

    def _cat_slices(self) -> list[tuple[int, int]]:
        return [(b.start, b.end) for b in self.preprocessor_.blocks_ if b.kind == "cat"]

    def _scoring_space(self) -> ScoringSpace | None:
        if self.config_.residual_space != "original":
            return None
        if getattr(self, "_space", None) is None:  # derived from the preprocessor; built once
            self._space = ScoringSpace(self.preprocessor_.params_, self.preprocessor_.blocks_, self.device_)
        return self._space

    def _fit_density(self, X_hold: torch.Tensor, y_hold: torch.Tensor) -> None:
        """Summarise each generator's samples per class as a mixture; pick each bandwidth on held-out rows."""
        components = self.config_.density_components
        n = DENSITY_SAMPLES if components > 0 else PARZEN_SAMPLES
        n_classes = len(self.classes_)
        rng = np.random.default_rng(self.config_.seed + 1)
        space = self._scoring_space() or (lambda t: t)

        def draw(count: int, generator: Generator | None = None) -> torch.Tensor:
            matrix, _ = self._generate_matrix(np.full(n_classes, count), rng, order_by_class=True, generator=generator)
            return space(torch.as_tensor(matrix, device=self.device_)).reshape(n_classes, count, -1)

        generators = [None, *getattr(self, "_members", [])]
        share = _components_per_generator(components, len(generators))
        held = space(X_hold)
        held_by_class = [held[y_hold == c] for c in range(n_classes)]
        members = []
        for generator in generators:
            samples = draw(n, generator)
            members.append(
                [
                    Mixture.summarise(s, share, self.config_.seed) if components > 0 else Mixture.of_samples(s)
                    for s in samples
                ]
            )
        sigmas = [[m.choose_bandwidth(h) for m, h in zip(member, held_by_class)] for member in members]
        self._density = SampleDensity(members, sigmas)

    def _records(self, df: pd.DataFrame, lazy: bool) -> tuple[Records | torch.Tensor, ReadColumns]:
        """The rows of ``df`` for ``raw_parts``: in the scoring space directly, encoded for the networks
        when first asked (``lazy``: only the rows asked for, each time; else all rows, once); and the columns
        as read."""
        space = self._scoring_space()
        columns = self.preprocessor_.read(df)  # parsed once; each encoding below reads these

        def encode(values: ReadColumns) -> torch.Tensor:
            return torch.as_tensor(self.preprocessor_.encode(values), device=self.device_)

        if space is None or space.n_columns == 0:  # the encoding is the scoring space already
            return encode(columns), columns
        if getattr(self, "_missing_fill", None) is None:  # where a missing value's encoding maps to
            zeros = torch.zeros(1, self.preprocessor_.n_features_out_, device=self.device_)
            self._missing_fill = space(zeros)[0].cpu().numpy()
        space_rows = torch.as_tensor(self.preprocessor_.encode(columns, self._missing_fill))
        if lazy:
            preprocessed = lambda index: encode(columns.take(index.cpu().numpy()))  # noqa: E731
        else:
            every_row = functools.cache(lambda: encode(columns))  # encoded once, and only if asked
            preprocessed = lambda index: every_row()[index]  # noqa: E731
        return Records(space_rows.to(self.device_), preprocessed), columns

    def _raw_parts(
        self,
        X: torch.Tensor | Records,
        classes: torch.Tensor,
        networks: bool = True,
        explain: bool = False,
        all_parts: bool = True,
    ) -> RawParts:
        """Raw parts of each row against the given class; ``all_parts=False``: D only where it counts."""
        return raw_parts(
            self.nets_,
            X,
            classes,
            self.preprocessor_.feature_column_index,
            len(self.schema_.columns),
            self._cat_slices(),
            space=self._scoring_space(),
            density=getattr(self, "_density", None),
            networks=networks,
            explain=explain,
            discriminator_rows=None if all_parts else self.calibration_.discriminator_rows,
            network_rows=None if all_parts else self.calibration_.network_rows,
        )

    def _calibrate(self, X_hold: torch.Tensor, y_hold: torch.Tensor) -> None:
        if self.weights[2] > 0:
            self._fit_density(X_hold, y_hold)
        own = self._raw_parts(X_hold, y_hold)
        self.calibration_ = ScoreCalibration.fit(own, tuple(self.weights), DEFAULT_CORROBORATION)
        if self._density is not None:
            self.calibration_.density_sigmas = self._density.sigmas
        self._own_holdout = own, y_hold.cpu().numpy()
        self._set_holdout_scores(X_hold)

    def _set_holdout_scores(self, X_hold: torch.Tensor) -> None:
        """The held-out normal rows' scores under the current weights: what thresholds are read from."""
        own, y_np = self._own_holdout
        own_scores = self.calibration_.standardise(own)[0]
        self.calibration_.holdout_scores_by_class = {
            class_key(c): sorted(own_scores[y_np == i].tolist()) for i, c in enumerate(self.classes_)
        }
        best = self._score_matrix(X_hold)[0].min(axis=1)
        self.calibration_.holdout_scores = sorted(best.tolist())

    def _part_matrix(self, X: torch.Tensor) -> np.ndarray:
        """(n, n_classes, 3) standardised parts of every row against every class."""
        mats = []
        for i in range(len(self.classes_)):
            cls = torch.full((len(X),), i, dtype=torch.long, device=X.device)
            mats.append(self.calibration_.standardised_parts(self._raw_parts(X, cls)))
        return np.stack(mats, axis=1)

    def tune_weights(self, anomalies: pd.DataFrame, source: str = "the anomalies") -> TabularGAN:
        """Pick the parts' weights that best separate held-out normal rows from known anomalies.

        A grid over the simplex (steps of 0.1); AUROC of normal vs anomalous scores, minus a small
        penalty for moving away from the default weights (a handful of anomalies is a noisy guide).
        Thresholds are recalibrated. Needs the held-out rows, so only on a model fitted in this session.
        """
        from sklearn.metrics import roc_auc_score

        self._check_fitted()
        if getattr(self, "_holdout_X", None) is None:
            raise GantoolsError("weights can only be tuned on a freshly fitted model (train with --anomalies)")
        if len(anomalies) == 0:
            raise GantoolsError(f"{source} has no rows")
        self.schema_.check_columns(anomalies, source)
        X_anom = torch.as_tensor(self.preprocessor_.transform(anomalies[self.schema_.names]), device=self.device_)
        X_hold = self._holdout_X
        normal, anomalous = self._part_matrix(X_hold), self._part_matrix(X_anom)
        truth = np.r_[np.zeros(len(normal)), np.ones(len(anomalous))]
        cal = self.calibration_
        default = (np.asarray(cal.weights, dtype=float), cal.corroboration_weight)
        has_density = self._density is not None

        def auroc(setting: tuple[np.ndarray, float]) -> float:
            best_class = [cal.combine(parts, *setting).min(axis=1) for parts in (normal, anomalous)]
            return roc_auc_score(truth, np.concatenate(best_class))

        def distance(setting: tuple[np.ndarray, float]) -> float:
            return float(np.abs(setting[0] - default[0]).sum() + abs(setting[1] - default[1]))

        best, best_value = default, auroc(default)
        for a in range(11):
            for b in range(11 - a):
                w = np.array([a, b, 10 - a - b], dtype=float) / 10
                if not has_density and w[2] > 0:
                    continue
                for cw in (0.0, 0.25, 0.5) if has_density else (0.0,):
                    value = auroc((w, cw)) - 0.02 * distance((w, cw))
                    if value > best_value + 1e-9:
                        best, best_value = (w, cw), value
        before = auroc(default)
        cal.weight_reconstruction, cal.weight_discriminator, cal.weight_density = (float(v) for v in best[0])
        cal.corroboration_weight = float(best[1])
        cal.weights_source = (
            f"tuned on {len(anomalous)} labeled anomalies: held-out AUROC {auroc(best):.3f} "
            f"(default weights: {before:.3f})"
        )
        self.weights = cal.weights
        self._set_holdout_scores(X_hold)
        self.training_scores_ = None  # scored under the old weights: the caller scores the rows again
        return self

    def _score_matrix(
        self, X: torch.Tensor | Records, networks: bool = True, explain: bool = False, all_parts: bool = True
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, ...]], list[RawParts]]:
        """Scores of every row against every class: (n, n_classes), plus the parts per class."""
        totals, parts, raws = [], [], []
        for i in range(len(self.classes_)):
            cls = torch.full((len(X),), i, dtype=torch.long, device=self.device_)
            raw = self._raw_parts(X, cls, networks, explain, all_parts)
            standardised = self.calibration_.standardise(raw)
            totals.append(standardised[0])
            parts.append(standardised)
            raws.append(raw)
        return np.stack(totals, axis=1), parts, raws

    def _validate(self, hold: pd.DataFrame, y_hold: np.ndarray) -> dict[str, Any]:
        """Figures recorded in the model: how well samples match held-out rows, how scores sit on them."""
        import scipy.stats  # here, not at the top: scoring and sampling do not need it (half a second to import)

        n = max(2000, len(hold))
        fractions = np.bincount(y_hold, minlength=len(self.classes_)) / max(len(y_hold), 1)
        synthetic = self._generate(counts_from_fractions(n, fractions), np.random.default_rng(self.config_.seed))[0]
        ks, tv = [], []
        for spec in self.schema_.columns:
            real, fake = hold[spec.name].dropna(), synthetic[spec.name].dropna()
            if len(real) == 0 or len(fake) == 0:
                continue
            if spec.kind in ("numeric", "integer"):
                ks.append(scipy.stats.ks_2samp(real.astype(float), fake.astype(float)).statistic)
            else:
                p = real.astype(str).value_counts(normalize=True)
                q = fake.astype(str).value_counts(normalize=True)
                tv.append(0.5 * p.subtract(q, fill_value=0).abs().sum())
        scores = np.asarray(self.calibration_.holdout_scores)
        return {
            "holdout_rows": len(hold),
            "mean_ks_numeric": float(np.mean(ks)) if ks else None,
            "mean_tv_categorical": float(np.mean(tv)) if tv else None,
            "holdout_score_median": float(np.median(scores)),
            "holdout_score_p99": float(np.quantile(scores, 0.99)),
        }

    # --------------------------------------------------------------- sample
    def _generate(
        self, counts: np.ndarray, rng: np.random.Generator, generator: torch.nn.Module | None = None
    ) -> tuple[pd.DataFrame, np.ndarray]:
        matrix, y = self._generate_matrix(counts, rng, generator=generator)
        return self.preprocessor_.inverse_transform(matrix, rng), y

    def _generate_matrix(
        self,
        counts: np.ndarray,
        rng: np.random.Generator,
        order_by_class: bool = False,
        generator: Generator | GaussianGenerator | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows of G (or of ``generator``) in the preprocessed space (categories sampled one-hot), and
        their classes."""
        self._check_fitted()
        gen = torch.Generator(device=self.device_).manual_seed(int(rng.integers(2**31)))
        y = np.repeat(np.arange(len(self.classes_)), counts)
        if not order_by_class:
            rng.shuffle(y)
        out = []
        g = self.nets_.generator_ema if generator is None else generator
        with torch.no_grad():
            for start in range(0, len(y), 65536):
                cls = torch.as_tensor(y[start : start + 65536], device=self.device_)
                z = torch.randn(len(cls), self.config_.latent_dim, device=self.device_, generator=gen)
                raw = g(z, cls)
                for s, e in self._cat_slices():  # sample each category from its softmax (Gumbel-max)
                    u = torch.rand(raw[:, s:e].shape, device=self.device_, generator=gen).clamp_(1e-9, 1 - 1e-9)
                    noisy = raw[:, s:e] - torch.log(-torch.log(u))
                    raw[:, s:e] = F.one_hot(noisy.argmax(dim=1), e - s).to(raw.dtype)
                out.append(raw.cpu().numpy())
        matrix = np.concatenate(out) if out else np.zeros((0, self.preprocessor_.n_features_out_), np.float32)
        return matrix, y

    def sample(
        self,
        n: int,
        class_mix: str | Mapping[Any, float] = "original",
        seed: int | None = None,
        generator: str = "gan",
    ) -> pd.DataFrame:
        """``n`` synthetic rows in the training columns' order and dtypes, plus the label column (if any).

        ``generator``: "gan" (G) or "gaussian" (a Gaussian per class, from the moments of the rows G trained
        on; models of several classes): the baseline that the lift estimate weighs G against."""
        if n < 0:
            raise UsageError(f"--n must be at least 0 (got {n})")
        if generator not in ("gan", "gaussian"):
            raise UsageError(f"generator must be 'gan' or 'gaussian' (got {generator!r})")
        if generator == "gaussian" and getattr(self, "gaussian_", None) is None:
            raise GantoolsError("this model has no Gaussian per class (one class, or saved before it); use 'gan'")
        fractions = parse_class_mix(class_mix, [class_key(c) for c in self.classes_], self.class_counts_)
        rng = np.random.default_rng(seed)
        gaussian = self.gaussian_ if generator == "gaussian" else None
        frame, y = self._generate(counts_from_fractions(n, fractions), rng, gaussian)
        if self.schema_.label is not None:
            frame[self.schema_.label] = _restore_labels(
                np.asarray(self.classes_, dtype=object)[y], self.schema_.label_dtype
            )
        return frame

    # ---------------------------------------------------------------- score
    def score(
        self,
        df: pd.DataFrame,
        normal_class: Any = None,
        fpr: float = 0.01,
        explain: int = 0,
        source: str = "the data",
        all_parts: bool = True,
    ) -> pd.DataFrame:
        """Score every row: ``score`` (higher = more anomalous), its parts, the class, ``is_anomaly``.

        The label column, when present, is ignored. ``explain`` > 0 adds ``top_features``: the columns
        that contribute most to the score's leading part. ``all_parts=False`` computes only the parts the
        score depends on (the others come back as NaN, per row): faster when only ``score`` is needed.
        """
        self._check_fitted()
        self.check_score_options(normal_class, fpr, explain)
        self.schema_.check_columns(df, source)
        keys = [class_key(c) for c in self.classes_]
        networks = all_parts or self.calibration_.needs_networks or getattr(self, "_density", None) is None
        # networks for only some rows (past the density gate) of one class: encode just those rows for them
        lazy = not all_parts and (normal_class is not None or len(self.classes_) == 1)
        X, columns = self._records(df, lazy)  # reads the feature columns by name
        explain_density = explain > 0 and getattr(self, "_density", None) is not None
        if normal_class is not None:
            only = keys.index(class_key(normal_class))
            cls = torch.full((len(X),), only, dtype=torch.long, device=self.device_)
            raw = self._raw_parts(X, cls, networks, explain_density, all_parts)
            total, rec, disc, dens = self.calibration_.standardise(raw)
            best = np.full(len(X), only)
            contrib = self.calibration_.contributions(raw) if explain > 0 else None
            threshold = self.calibration_.threshold(fpr, keys[only])
        else:
            totals, parts, raws = self._score_matrix(X, networks, explain_density, all_parts)
            best = np.argmin(totals, axis=1) if len(X) else np.zeros(0, dtype=np.int64)
            rows = np.arange(len(X))
            total = totals[rows, best]
            rec = np.stack([p[1] for p in parts], axis=1)[rows, best]
            disc = np.stack([p[2] for p in parts], axis=1)[rows, best]
            dens = np.stack([p[3] for p in parts], axis=1)[rows, best]
            if explain > 0:
                contrib = np.stack([self.calibration_.contributions(r) for r in raws], axis=1)[rows, best]
            threshold = self.calibration_.threshold(fpr)
        out = pd.DataFrame(
            {
                "score": total,
                "score_discriminator": disc,
                "score_reconstruction": rec,
                "score_density": dens,
                "class": _restore_labels(np.asarray(self.classes_, dtype=object)[best], self.schema_.label_dtype)
                if len(X)
                else pd.Series([], dtype=object),
                "is_anomaly": (total > threshold).astype(np.int64),
            }
        )
        if explain > 0:
            names = np.asarray(self.schema_.names, dtype=object)
            top = np.argsort(-contrib, axis=1)[:, :explain]
            out["top_features"] = [";".join(names[t]) for t in top]
        out.attrs["threshold"] = threshold
        out.attrs["unfamiliar"] = self.preprocessor_.unfamiliar(columns)
        return out

    def check_score_options(self, normal_class: Any, fpr: float, explain: int = 0) -> None:
        """Fail with one line on an ``fpr`` outside (0, 1), a ``normal_class`` the model does not know or a
        negative ``explain``."""
        if not 0.0 < fpr < 1.0:
            raise UsageError(f"--fpr must be between 0 and 1 (got {fpr})")
        if isinstance(explain, bool) or not isinstance(explain, numbers.Integral) or explain < 0:
            raise UsageError(f"--explain must be a whole number of 0 or more (got {explain!r})")
        keys = [class_key(c) for c in self.classes_]
        if normal_class is not None and class_key(normal_class) not in keys:
            shown = ", ".join(keys) if self.schema_.label is not None else "none: the model was trained on one class"
            raise UsageError(f"--normal-class '{normal_class}' is not a class of the model (classes: {shown})")

    # ---------------------------------------------------------- persistence
    def to_config(self) -> dict[str, Any]:
        advice = getattr(self, "augmentation_advice_", None)
        return {
            "label": self.schema_.label,
            "classes": self.classes_,
            "class_counts": self.class_counts_,
            "settings": self.config_.to_dict(),
            "requested_settings": self.config.to_dict(),
            "column_kinds": self.column_kinds,
            "history": self.history_,
            "validation": self.validation_,
            "calibration": self.calibration_.to_dict(),
            "n_features_out": self.preprocessor_.n_features_out_,
            "augmentation_advice": None if advice is None else advice.to_dict(),
        }

    def save(self, path: str | Path) -> Path:
        """Write the model folder (config.json, weights.safetensors, preprocessor.json) atomically."""
        self._check_fitted()
        tensors: dict[str, torch.Tensor] = {}
        for prefix, net in (
            ("generator", self.nets_.generator),
            ("generator_ema", self.nets_.generator_ema),
            ("discriminator", self.nets_.discriminator),
            ("encoder", self.nets_.encoder),
        ):
            tensors.update({f"{prefix}.{k}": v for k, v in net.state_dict().items()})
        if getattr(self, "_density", None) is not None:
            tensors.update(self._density.tensors())
        if getattr(self, "gaussian_", None) is not None:
            tensors["gaussian.mean"] = self.gaussian_.mean
            tensors["gaussian.scale"] = self.gaussian_.scale
        if getattr(self, "training_scores_", None) is not None:
            tensors["training_scores"] = torch.as_tensor(self.training_scores_)
        config = self.to_config()
        if getattr(self, "checkpoint_", None) is not None:
            config["checkpoint"], checkpoint_tensors = self.checkpoint_.to_bundle()
            tensors.update(checkpoint_tensors)
        return write_bundle(path, config, self.preprocessor_.to_dict(), tensors)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> TabularGAN:
        """Load a model folder written by ``save`` (no pickle: JSON and safetensors only). The folder is
        checked against its manifest, every field of its JSON against its type, the weights against the
        networks the config names, and the model is used once on two generated rows: whatever is wrong is
        one ``GantoolsError`` line here, not a failure later."""
        config, pre, tensors = read_bundle(path)
        with settings_checked(path):
            model = cls._from_bundle(Path(path), device, config, pre, tensors)
            model.score(model.sample(2, seed=0))
        return model

    @classmethod
    def _from_bundle(
        cls, path: Path, device: str, config: dict[str, Any], pre: dict[str, Any], tensors: dict[str, torch.Tensor]
    ) -> TabularGAN:
        where = f"model in '{path}', config.json"
        resolved = TrainConfig.from_dict(checked_fields(TrainConfig, config["settings"], f"{where} settings"))
        # models saved before the asked-for settings were kept: a refit starts from the resolved ones
        requested = config.get("requested_settings", config["settings"])
        requested = TrainConfig.from_dict(checked_fields(TrainConfig, requested, f"{where} requested_settings"))
        for settings in (resolved, requested):
            try:
                settings.validate()
            except UsageError as exc:  # a value out of range in the folder: damaged data, not the caller's usage
                raise GantoolsError(f"{where} settings: {exc}; train again") from None
        kinds = config.get("column_kinds")
        if not matches(kinds, dict[str, str] | None):
            raise GantoolsError(f"{where}: 'column_kinds' is not a mapping of column names to kinds; train again")
        model = cls(dataclasses.replace(requested, device=device), kinds)
        model.config_ = dataclasses.replace(resolved, device=device)
        model.preprocessor_ = TabularPreprocessor.from_dict(pre, f"model in '{path}', preprocessor.json")
        model.schema_ = model.preprocessor_.schema
        classes, counts = config["classes"], config["class_counts"]
        if (
            not matches(classes, list[str | int | float | bool | None])
            or not matches(counts, list[int])
            or (len(classes) != len(counts) or not classes or min(counts) < 0)
        ):
            raise GantoolsError(f"{where}: 'classes' and 'class_counts' do not agree; train again")
        model.classes_, model.class_counts_ = classes, counts
        for name in ("history", "validation"):
            if not isinstance(config[name], dict):
                raise GantoolsError(f"{where}: '{name}' is not a JSON object; train again")
        model.history_ = config["history"]
        model.validation_ = config["validation"]
        model.calibration_ = ScoreCalibration.from_dict(
            checked_fields(ScoreCalibration, config["calibration"], f"{where} calibration")
        )
        model.weights = model.calibration_.weights
        model._density = None
        model.device_ = resolve_device(device)
        model.saved_with_ = config.get("gantools_version")
        # models saved before the training rows' scores were kept have none (None)
        scores = tensors.get("training_scores")
        model.training_scores_ = None if scores is None else scores.cpu().numpy()
        advice = config.get("augmentation_advice")  # None: one class, or saved before the lift estimate
        model.augmentation_advice_ = (
            None
            if advice is None
            else AugmentationAdvice(**checked_fields(AugmentationAdvice, advice, f"{where} augmentation_advice"))
        )
        model.gaussian_ = None  # None: one class, or saved before it
        if "gaussian.mean" in tensors:
            mean, scale = tensors["gaussian.mean"], tensors.get("gaussian.scale")
            width = model.preprocessor_.n_features_out_
            if scale is None or scale.shape[:1] != mean.shape[:1] or mean.shape[-1] != width:
                raise GantoolsError(f"model weights in '{path}' do not match its config.json; train again")
            model.gaussian_ = GaussianGenerator(mean, scale).to(model.device_)

        def build(on: torch.device) -> dict[str, torch.nn.Module]:
            nets = build_networks(model.preprocessor_.n_features_out_, len(model.classes_), model.config_, on)
            return {"generator": nets.generator, "generator_ema": nets.generator_ema,
                    "discriminator": nets.discriminator, "encoder": nets.encoder}  # fmt: skip

        nets = load_weights(path, build, tensors, model.device_)
        model.nets_ = Networks(nets["generator"], nets["generator_ema"], nets["discriminator"], nets["encoder"]).eval()
        if "density.references" in tensors:
            density = {k: v.to(model.device_) for k, v in tensors.items() if k.startswith("density.")}
            model._density = SampleDensity.from_tensors(density, model.calibration_.density_sigmas)
        elif model.calibration_.weight_density > 0:
            raise GantoolsError(f"model in '{path}' lacks the density samples its config.json names; train again")
        return model

    def _check_fitted(self) -> None:
        if not hasattr(self, "nets_"):
            raise GantoolsError("the model is not trained yet; call fit first")


def _encode_classes(labels: pd.Series) -> tuple[list[Any], np.ndarray]:
    if labels.isna().all():
        return [None], np.zeros(len(labels), dtype=np.int64)
    values = labels.to_numpy()
    uniques = pd.unique(labels)
    try:
        uniques = sorted(uniques)
    except TypeError:
        uniques = sorted(uniques, key=str)
    lookup = {v: i for i, v in enumerate(uniques)}
    y = np.fromiter((lookup[v] for v in values), dtype=np.int64, count=len(values))
    classes = [v.item() if hasattr(v, "item") else v for v in uniques]
    return classes, y


def _restore_labels(values: np.ndarray, dtype: str | None) -> pd.Series:
    series = pd.Series(values, dtype=object)
    if dtype is None:
        return series
    try:
        return series.astype(dtype)
    except (TypeError, ValueError):
        return series


def _components_per_generator(components: int, generators: int) -> int:
    """Each generator's share of the density's ``components``, at least MIN_GENERATOR_COMPONENTS (or all)."""
    if generators <= 1:
        return components
    return max(min(components, MIN_GENERATOR_COMPONENTS), components // generators)


def _stratified_holdout(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Hold out ``fraction`` of each class (at least one row, keeping at least one for training)."""
    rng = np.random.default_rng(seed)
    train, hold = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = min(max(1, int(round(fraction * len(idx)))), len(idx) - 1)
        hold.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(hold))
