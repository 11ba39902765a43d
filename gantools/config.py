"""Training settings as one dataclass, stored in the model's config.json."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from gantools.errors import GantoolsError, UsageError

NUMERIC_TRANSFORMS = ("auto", "standard", "quantile")  # how numeric columns are encoded (gantools.preprocessing)

SMALL_CLASS_ROWS = 250  # a class with fewer training rows than this is "small data" (see gaussian_base)
# Network width, batch, training length and learning rates when not given. One class (anomaly scoring):
# networks sized by the table's width (encoded columns): up to ONE_CLASS_NARROW_FEATURES, 64 wide, wider
# tables 128 wide; batches of 128 on narrow tables while the steps grow with the rows (fewer than 2,000
# training rows), 256 otherwise. All at 4x the base learning rates, 5 steps per training row from 2,000 to
# 10,000: ~9x less training than the previous default (128 wide, 100 steps per row up to 60,000 at the
# base rates). Measured (benchmarks/results/speed_settings.md): 64 wide lost most on the wide tables
# (cardio, 21 columns: 128 wide +0.010 AUROC over 3 seeds); batches of 128 tied batches of 256 on small
# narrow tables (banknote, glass, Pima, yeast) at about half the cost, lost on wide ones (cardio, vowels)
# and on a large narrow one (mammography, at the step cap). Several classes (augmentation, early stopping
# on): the sizes and rates the small-data benchmarks were measured with.
ONE_CLASS_NARROW_FEATURES = 10
ONE_CLASS_NARROW_HIDDEN, ONE_CLASS_WIDE_HIDDEN = 64, 128
ONE_CLASS_SMALL_BATCH, ONE_CLASS_BATCH = 128, 256  # small: narrow tables below the step cap
ONE_CLASS_STEPS, ONE_CLASS_MIN_STEPS, ONE_CLASS_STEPS_PER_ROW = 10000, 2000, 5
ONE_CLASS_LR_G, ONE_CLASS_LR_D = 8e-4, 1.6e-3
# Several classes: 128 wide (256 until session 21: on Adult 128 wide fitted 1.6x faster with better TSTR and
# detection AUC, 2 seeds; benchmarks/results/speed_settings.md, "Session 21").
MULTI_CLASS_HIDDEN, MULTI_CLASS_BATCH, MULTI_CLASS_STEPS = 128, 256, 6000
SAVED_HIDDEN = 256  # the width of models saved before it was stored (their config.json has no "hidden")
MULTI_CLASS_LR_G, MULTI_CLASS_LR_D = 2e-4, 4e-4  # the critic learns faster (two time-scale update rule)
# One-class models (anomaly scoring) multiply the densities of this many independently trained generators
# (TrainConfig.density_generators; benchmarks/results/anomaly_settings.md, "Several generators")
ONE_CLASS_GENERATORS = 3
# One-class models add the marginal term to G's loss at this weight (TrainConfig.marginal_weight; the
# critic's hinge loss is of order 1; benchmarks/results/anomaly_settings.md, "Session 15")
ONE_CLASS_MARGINAL_WEIGHT = 1.0
MEMBER_SEED_STRIDE = 7919  # generator k of an ensemble trains with seed + k × this (k = 0: the model's own)


@dataclass
class TrainConfig:
    """Settings of one training run. ``None`` means: chosen from the data size (see ``resolve``)."""

    epochs: int | None = None  # None: enough epochs for about ``target_steps`` GAN steps
    target_steps: int | None = None  # None: see resolve_sizes (one class: by training rows; several: 6,000)
    batch_size: int | None = None  # None: by the class count and, for one class, the table's width
    latent_dim: int = 16
    hidden: int | None = None  # None: by the class count and, for one class, the table's width (resolve_sizes)
    n_layers: int = 2
    lr_g: float | None = None  # None: ONE_CLASS_LR_G with one class, MULTI_CLASS_LR_G with several
    lr_d: float | None = None  # None: ONE_CLASS_LR_D / MULTI_CLASS_LR_D (the critic learns faster: TTUR)
    lr_e: float = 1e-3
    # None: a quarter of the GAN steps, between 200 and 2,000 (half measured no better on 7 sets, 3 seeds:
    # benchmarks/results/speed_settings.md)
    encoder_steps: int | None = None
    ema_decay: float = 0.999
    gumbel_tau: float = 0.2
    # G = a per-class Gaussian (set from the class moments) + an MLP that adversarial training adds on
    # top. "auto": on with several classes when some class has fewer than SMALL_CLASS_ROWS training rows
    # (small-data augmentation: measured in benchmarks/results/augment_small.md), off otherwise. Resolved
    # to True/False when training starts, and stored so.
    gaussian_base: bool | str = "auto"
    # Early stopping on held-out rows (gantools/training/snapshots.py): G's EMA is checked every
    # gan_steps / 40 steps, training stops after ``patience`` checks without a gain, and the earliest
    # snapshot within one standard error of the best is kept. "auto": on with several classes
    # (augmentation), off for one class (anomaly scoring, calibrated on those same held-out rows).
    early_stopping: bool | str = "auto"
    patience: int = 10
    # After early stopping, train again on all rows (held-out ones included; the preprocessing stays as
    # fitted) for the selected number of steps, as scikit-learn's searches refit: on few rows every row
    # counts. The held-out rows then no longer give honest calibration or validation figures, so this is
    # for augmentation (GANAugmenter and GANOverSampler turn it on), not for anomaly scoring.
    refit: bool = False
    # The critic sees each batch's spread (minibatch std), against mode dropping. "auto": on with several
    # classes (augmentation: coverage of every class matters), off for one-class data (anomaly scoring: a
    # tight support matters). Measured on banknote, 3 seeds: on, TSTR/TRTR 0.975 (off: one seed fell to
    # 0.88); on for one class, anomaly AUROC 0.955 (off: 0.998).
    minibatch_std: bool | str = "auto"
    # G's loss adds this times the squared 1-D Wasserstein-2 distance between the numeric columns of each
    # fake and real batch (``trainer.marginal_distance``), against G shrinking a column's spread (measured:
    # a column of annthyroid at half the data's spread after 60,000 steps). "auto": ONE_CLASS_MARGINAL_WEIGHT
    # for one class (anomaly scoring), 0 with several (not yet measured on the augmentation benchmarks; a
    # weight given with several classes compares the class-balanced batch's pooled columns, not each class's);
    # resolved when training starts, and stored so.
    marginal_weight: float | str = "auto"
    ac_weight: float = 1.0  # auxiliary-classifier loss (with several classes): keeps classes apart
    feature_weight: float = 0.1  # weight of the discriminator-feature residual in the encoder loss
    generated_weight: float = 1.0  # weight of reconstructing generated rows in the encoder loss
    # Where the scorer measures reconstruction residuals: "original" (quantile-mapped columns back in
    # standardised original units, so tails count) or "preprocessed" (the space G works in).
    residual_space: str = "original"
    # G's density part (gantools/density.py): a mixture of this many components summarising 16,384
    # samples of G per class (with several generators, shared equally among them, at least
    # model.MIN_GENERATOR_COMPONENTS each); 0: a plain Parzen window over 1,024 samples (models saved before).
    density_components: int = 256
    # How many independently trained generators G's density part multiplies (the first is the model's own
    # G; the others are G and D trained again from other seeds, no encoder, kept only as their mixtures).
    # They train side by side as one stacked model (one after another with early stopping); they share
    # ``density_components``. "auto":
    # ONE_CLASS_GENERATORS for one class (anomaly scoring), 1 with several (augmentation: sampling uses
    # the first G only); resolved when training starts, and stored so.
    density_generators: int | str = "auto"
    # How numeric columns are encoded for the networks (``TabularPreprocessor``): "auto" (skewed or spiky
    # columns quantile-mapped, the others standardised), "standard" or "quantile" for every column.
    numeric_transform: str = "auto"
    holdout: float = 0.2  # share of rows held out for validation and score calibration
    seed: int = 0
    device: str = "auto"

    def validate(self, names: Mapping[str, str] | None = None) -> TrainConfig:
        """Refuse bad settings with one line (``GantoolsError``) before any work; returns ``self``.

        ``names`` maps settings to what the caller calls them (the CLI: ``{"epochs": "--epochs"}``); a renamed
        setting's message leaves out the library's "'auto' or None" alternatives, which such callers spell
        as an option left out."""
        names = names or {}

        def whole(name: str, value: Any, least: int, auto: bool = False, none: bool = False) -> None:
            if (auto and value == "auto") or (none and value is None):
                return
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
                allowed = " or ".join([*(["'auto'"] if auto else []), *(["None"] if none else [])])
                prefix = f"{allowed} or " if allowed and name not in names else ""
                label = names.get(name, name)
                raise UsageError(f"{label} must be {prefix}a whole number of {least} or more (got {value!r})")

        def positive(name: str, value: Any) -> None:
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 < value < math.inf:
                raise UsageError(f"{names.get(name, name)} must be a positive number (got {value!r})")

        whole("epochs", self.epochs, 1, none=True)
        whole("target_steps", self.target_steps, 1, none=True)
        whole("batch_size", self.batch_size, 2, none=True)
        whole("hidden", self.hidden, 1, none=True)
        whole("encoder_steps", self.encoder_steps, 0, none=True)
        for name in ("lr_g", "lr_d"):
            if getattr(self, name) is not None:
                positive(name, getattr(self, name))
        positive("lr_e", self.lr_e)
        if self.numeric_transform not in NUMERIC_TRANSFORMS:
            choices = ", ".join(NUMERIC_TRANSFORMS)
            raise UsageError(f"numeric_transform must be one of {choices} (got {self.numeric_transform!r})")
        weight = self.marginal_weight
        if weight != "auto" and (
            isinstance(weight, bool) or not isinstance(weight, numbers.Real) or not 0 <= weight < math.inf
        ):
            raise UsageError(f"marginal_weight must be 'auto' or a finite number of 0 or more (got {weight!r})")
        whole("density_components", self.density_components, 0)
        whole("density_generators", self.density_generators, 1, auto=True)
        if self.density_generators != "auto" and self.density_generators > 1 and self.density_components == 0:
            raise GantoolsError(
                f"density_generators={self.density_generators} needs the mixture density (density_components > 0); "
                "a plain Parzen window (density_components=0) uses one generator"
            )
        if isinstance(self.holdout, bool) or not isinstance(self.holdout, numbers.Real) or not 0 < self.holdout < 1:
            raise UsageError(f"{names.get('holdout', 'holdout')} must be between 0 and 1 (got {self.holdout!r})")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        if float(data.get("d_dropout") or 0) > 0:  # models saved with a critic that had dropout layers
            raise GantoolsError("this model was saved with d_dropout, which gantools no longer has; train it again")
        known = {f.name for f in fields(cls)}  # settings since removed are ignored
        # models saved before these options: no Gaussian base, a plain Parzen window as density
        data = {
            "gaussian_base": False,
            "density_components": 0,
            "density_generators": 1,
            "marginal_weight": 0.0,
            **data,
        }
        data.setdefault("hidden", SAVED_HIDDEN)  # the width every model had before it was automatic
        data.setdefault("lr_g", MULTI_CLASS_LR_G)  # ...and the learning rates
        data.setdefault("lr_d", MULTI_CLASS_LR_D)
        return cls(**{k: v for k, v in data.items() if k in known})

    def member_seed(self, k: int) -> int:
        """The training seed of the ensemble's k-th generator (0: the model's own networks)."""
        return self.seed + MEMBER_SEED_STRIDE * k

    def steps_per_epoch(self, n_rows: int) -> int:
        return max(1, -(-n_rows // self.batch_size))

    def resolved_epochs(self, n_rows: int) -> int:
        if self.epochs is not None:
            return self.epochs
        assert self.target_steps is not None, "resolve_sizes first"
        return max(1, -(-self.target_steps // self.steps_per_epoch(n_rows)))

    def resolve_sizes(self, n_classes: int, n_rows: int | None = None, n_features: int | None = None) -> TrainConfig:
        """This config with ``hidden``, ``batch_size``, ``target_steps`` and the learning rates set where they
        are None (and the number of density generators and the marginal weight where they are "auto").

        From the number of classes, and for one class from the number of training rows ``n_rows`` (None: as
        many as make ONE_CLASS_STEPS) and the encoded columns ``n_features`` (None: a narrow table).
        """
        one = n_classes == 1
        steps = self.target_steps
        if steps is None and one:
            per_row = ONE_CLASS_STEPS if n_rows is None else ONE_CLASS_STEPS_PER_ROW * n_rows
            steps = min(ONE_CLASS_STEPS, max(ONE_CLASS_MIN_STEPS, per_row))
        elif steps is None:
            steps = MULTI_CLASS_STEPS
        wide = n_features is not None and n_features > ONE_CLASS_NARROW_FEATURES
        if one:
            hidden = ONE_CLASS_WIDE_HIDDEN if wide else ONE_CLASS_NARROW_HIDDEN
            # small batches while the steps grow with the rows; at the step cap, every row needs its visits
            few_rows = n_rows is not None and ONE_CLASS_STEPS_PER_ROW * n_rows < ONE_CLASS_STEPS
            batch = ONE_CLASS_SMALL_BATCH if few_rows and not wide else ONE_CLASS_BATCH
        else:
            hidden, batch = MULTI_CLASS_HIDDEN, MULTI_CLASS_BATCH
        hidden = self.hidden if self.hidden is not None else hidden
        batch = self.batch_size if self.batch_size is not None else batch
        generators = self.density_generators
        if generators == "auto":
            generators = ONE_CLASS_GENERATORS if one else 1
        marginal = self.marginal_weight
        if marginal == "auto":
            marginal = ONE_CLASS_MARGINAL_WEIGHT if one else 0.0
        lr_g = self.lr_g if self.lr_g is not None else (ONE_CLASS_LR_G if one else MULTI_CLASS_LR_G)
        lr_d = self.lr_d if self.lr_d is not None else (ONE_CLASS_LR_D if one else MULTI_CLASS_LR_D)
        return replace(
            self,
            hidden=hidden,
            batch_size=batch,
            lr_g=lr_g,
            lr_d=lr_d,
            target_steps=steps,
            density_generators=int(generators),
            marginal_weight=float(marginal),  # plain numbers: the config is saved as JSON
        )

    def use_minibatch_std(self, n_classes: int) -> bool:
        if self.minibatch_std == "auto":
            return n_classes > 1
        return bool(self.minibatch_std)

    def use_gaussian_base(self, n_classes: int, smallest_class_rows: int | None = None) -> bool:
        if self.gaussian_base == "auto":
            return n_classes > 1 and smallest_class_rows is not None and smallest_class_rows < SMALL_CLASS_ROWS
        return bool(self.gaussian_base)

    def use_early_stopping(self, n_classes: int) -> bool:
        if self.early_stopping == "auto":
            return n_classes > 1
        return bool(self.early_stopping)

    def resolved_encoder_steps(self, gan_steps: int) -> int:
        if self.encoder_steps is not None:
            return self.encoder_steps
        return max(200, min(2000, gan_steps // 4))
