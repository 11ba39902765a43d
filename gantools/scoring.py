"""Anomaly scores from the fitted networks: the parts, their calibration, the verdict.

For a record x scored against class y: ``z = E(x, y)``, ``x̂ = G(z, y)``.

- reconstruction part: the squared residual ``(x − x̂)²`` summed per column, each column divided by its
  typical residual on held-out normal rows (so a column G reconstructs precisely weighs more);
- discriminator part: the critic's feature residual ``‖f_D(x) − f_D(x̂)‖²`` (f-AnoGAN, Schlegl et al. 2019).

Each part is standardised robustly (median, IQR) on held-out normal rows; the score is their weighted sum.
With several classes a record is scored against the class it fits best (lowest score), unless a class is
given. The threshold is the (1 − fpr) quantile of the held-out normal scores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from gantools.training.trainer import Networks, decode

EPS = 1e-12


@dataclass
class RawParts:
    """Unstandardised parts for n records against one class each."""

    per_column: np.ndarray  # (n, n_columns) squared residual per schema column
    feature_residual: np.ndarray  # (n,)
    critic: np.ndarray  # (n,) D(x, y)


@torch.no_grad()
def raw_parts(
    nets: Networks,
    X: torch.Tensor,
    classes: torch.Tensor,
    feature_column_index: np.ndarray,
    n_columns: int,
    cat_slices: list[tuple[int, int]],
    batch_size: int = 16384,
    space: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> RawParts:
    """Reconstruct each row through E and G and measure the residuals, in batches.

    ``space`` maps rows to where the reconstruction residual is measured (see ``scoring_space``).
    """
    if len(X) == 0:
        return RawParts(np.zeros((0, n_columns)), np.zeros(0), np.zeros(0))
    col_index = torch.as_tensor(feature_column_index, device=X.device)
    per_col, feat, critic = [], [], []
    for start in range(0, len(X), batch_size):
        x = X[start : start + batch_size]
        y = classes[start : start + batch_size]
        x_hat = decode(nets.generator_ema, nets.encoder(x, y), y, cat_slices)
        sq = (x - x_hat) ** 2 if space is None else (space(x) - space(x_hat)) ** 2
        cols = torch.zeros(len(x), n_columns, device=X.device, dtype=sq.dtype).index_add_(1, col_index, sq)
        d_out, f_real = nets.discriminator(x, y)
        f_fake = nets.discriminator.features(x_hat)
        per_col.append(cols.cpu())
        feat.append(((f_real - f_fake) ** 2).mean(dim=1).cpu())
        critic.append(d_out.cpu())
    return RawParts(
        torch.cat(per_col).numpy().astype(np.float64),
        torch.cat(feat).numpy().astype(np.float64),
        torch.cat(critic).numpy().astype(np.float64),
    )


def _robust_location_scale(values: np.ndarray) -> tuple[float, float]:
    q25, q50, q75 = np.quantile(values, [0.25, 0.5, 0.75])
    scale = (q75 - q25) / 1.349
    if scale <= EPS:
        scale = float(np.std(values)) or 1.0
    return float(q50), float(scale)


@dataclass
class ScoreCalibration:
    """Everything needed to turn raw parts into calibrated scores; stored in the model's config.json."""

    column_scale: list[float]
    reconstruction_center: float
    reconstruction_scale: float
    discriminator_center: float
    discriminator_scale: float
    weight_reconstruction: float
    weight_discriminator: float
    weights_source: str = "default"
    holdout_scores: list[float] = field(default_factory=list)  # best-fitting class, held-out normal rows
    holdout_scores_by_class: dict[str, list[float]] = field(default_factory=dict)  # own class only

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoreCalibration:
        return cls(**data)

    @classmethod
    def fit(cls, parts: RawParts, weight_reconstruction: float, weight_discriminator: float) -> ScoreCalibration:
        """Standardise each part on ``parts`` (held-out normal rows, each against its own class)."""
        column_scale = np.median(parts.per_column, axis=0)
        fallback = np.mean(parts.per_column, axis=0)
        column_scale = np.where(column_scale > EPS, column_scale, np.where(fallback > EPS, fallback, 1.0))
        rec = (parts.per_column / column_scale).sum(axis=1)
        rc, rs = _robust_location_scale(rec)
        dc, ds = _robust_location_scale(parts.feature_residual)
        return cls(column_scale.tolist(), rc, rs, dc, ds, weight_reconstruction, weight_discriminator)

    def standardise(self, parts: RawParts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (score, reconstruction part, discriminator part), standardised."""
        rec_raw = (parts.per_column / np.asarray(self.column_scale)).sum(axis=1)
        rec = (rec_raw - self.reconstruction_center) / self.reconstruction_scale
        disc = (parts.feature_residual - self.discriminator_center) / self.discriminator_scale
        total = self.weight_reconstruction * rec + self.weight_discriminator * disc
        return total, rec, disc

    def contributions(self, parts: RawParts) -> np.ndarray:
        """Per-column share of the reconstruction part, in units of each column's typical residual."""
        return parts.per_column / np.asarray(self.column_scale)

    def threshold(self, fpr: float, class_key: str | None = None) -> float:
        """Score above which a record is flagged, so that about ``fpr`` of normal records are."""
        scores = self.holdout_scores if class_key is None else self.holdout_scores_by_class[class_key]
        return float(np.quantile(np.asarray(scores), 1.0 - fpr, method="higher"))
