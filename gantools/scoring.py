"""Anomaly scores from the fitted networks: the parts, their calibration, the verdict.

For a record x scored against class y: ``z = E(x, y)``, ``x̂ = G(z, y)``.

- reconstruction part: the squared residual ``(x − x̂)²`` summed per column, each column divided by its
  typical residual on held-out normal rows (so a column G reconstructs precisely weighs more);
- discriminator part: the critic's feature residual ``‖f_D(x) − f_D(x̂)‖²`` (f-AnoGAN, Schlegl et al. 2019);
- density part: ``−log p_G(x | y)``, the generator's density at x, from G's stored samples (``density``).

Each part is standardised robustly (median, IQR) on held-out normal rows; the score is their weighted sum,
plus a corroboration term where E/G's and D's views agree that a record in the tail of G's density is
off-manifold (see ``ScoreCalibration``; its gate and ceiling mean E, G and D run on few rows).
With several classes a record is scored against the class it fits best (lowest score), unless a class is
given. The threshold is the (1 − fpr) quantile of the held-out normal scores.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch

from gantools.density import SampleDensity
from gantools.training.trainer import Networks, decode

EPS = 1e-12
# The corroboration term counts only evidence beyond what normal rows show: its margin is the
# CORROBORATION_QUANTILE of min(reconstruction, discriminator) over held-out normal rows, at least
# MIN_CORROBORATION_MARGIN robust standard deviations. A fixed margin of 2 let heavy-tailed parts push 4–12%
# of normal rows up (measured in benchmarks/results/anomaly_settings.md, "The corroboration margin").
CORROBORATION_QUANTILE = 0.99
MIN_CORROBORATION_MARGIN = 2.0
# ...and it counts only for records whose density part is beyond this quantile of the held-out normal
# rows' (the gate): it re-orders the tail of G's density, where G's samples are sparse and the density
# estimate least certain. Scoring then needs E, G and D for those rows alone (~10% of normal rows
# instead of all). On the 39 fits of the 13-set benchmark the gate at the 50th–95th percentile leaves
# mean AUROC unchanged to the fourth digit (benchmarks/results/anomaly_settings.md, "The corroboration gate").
CORROBORATION_GATE_QUANTILE = 0.9
# ...and up to a ceiling, the held-out rows' largest density part: a record past it is already more unusual
# by G's density alone than every held-out normal record, and the term lifts a record at most to that level
# (never above one the density alone puts past it). Then rows past the ceiling need no networks either:
# on the 39 fits, mean AUROC unchanged, rows needing E and G among the test rows 27% -> 17%.


@dataclass
class RawParts:
    """Unstandardised parts for n records against one class each."""

    per_column: np.ndarray  # (n, n_columns) squared residual per schema column
    feature_residual: np.ndarray  # (n,)
    critic: np.ndarray  # (n,) D(x, y)
    density: np.ndarray | None = None  # (n,) −log p_G(x | y); None when the model has no density part
    density_per_column: np.ndarray | None = None  # (n, n_columns) squared gap to G's nearby samples


@dataclass
class Records:
    """Rows to score, given two ways: as the scorer measures them and, on demand, as the networks see them.

    ``space_rows``: every row in the scoring space (``TabularPreprocessor.encode`` with a fill: no quantile
    round trip); ``preprocessed(index)``: the networks' encoding of the rows at ``index``, only asked for
    the rows that need E, G and D (past the density gate), so the rest are never quantile-mapped.
    """

    space_rows: torch.Tensor
    preprocessed: Callable[[torch.Tensor], torch.Tensor]

    def __len__(self) -> int:
        return len(self.space_rows)


@torch.no_grad()
def raw_parts(
    nets: Networks,
    X: torch.Tensor | Records,
    classes: torch.Tensor,
    feature_column_index: np.ndarray,
    n_columns: int,
    cat_slices: list[tuple[int, int]],
    batch_size: int = 4096,  # rows per batch: intermediates of 128–256-wide layers stay in cache
    space: Callable[[torch.Tensor], torch.Tensor] | None = None,
    density: SampleDensity | None = None,
    networks: bool = True,
    explain: bool = False,
    discriminator_rows: Callable[[torch.Tensor], torch.Tensor] | None = None,
    network_rows: Callable[[torch.Tensor], torch.Tensor | None] | None = None,
) -> RawParts:
    """Reconstruct each row through E and G and measure the residuals (and G's density), in batches.

    ``X``: preprocessed rows, or ``Records``. ``space`` maps preprocessed rows to where the reconstruction
    residual and the density are measured (see ``scoring_space``). ``networks=False`` skips E, G and D
    (their parts come back as NaN): for callers that only need the density part. ``explain`` adds the
    density part's per-column gaps. ``discriminator_rows`` maps the per-column reconstruction residuals
    of a batch to the rows whose score can depend on D (``ScoreCalibration.discriminator_rows``); D's
    parts of the others are NaN. ``network_rows`` maps the density part (−log p_G) to the rows whose
    score can depend on E, G and D at all (``ScoreCalibration.network_rows``; None: every row); their
    parts of the others are NaN. The density comes first, for every row; then the networks, for the rows
    that need them.
    """
    n = len(X)
    device = classes.device

    def space_rows(index: slice | torch.Tensor) -> torch.Tensor:
        if isinstance(X, Records):
            return X.space_rows[index]
        return X[index] if space is None else space(X[index])

    col_index = torch.as_tensor(feature_column_index, device=device)
    dens, dens_col = [], []
    if density is not None:
        for start in range(0, n, batch_size):
            rows = slice(start, start + batch_size)
            value, residual = density(space_rows(rows), classes[rows], explain=explain)
            dens.append(value)
            if residual is not None:
                dens_col.append(_by_column(residual, col_index, n_columns).cpu())
    dens_value = torch.cat(dens) if dens else None  # (n,) on the device: network_rows reads it

    def joined(chunks: list[torch.Tensor], shape: tuple[int, ...]) -> np.ndarray:
        return torch.cat(chunks).cpu().numpy().astype(np.float64) if chunks else np.zeros(shape)

    rec, fr, cr = np.full((n, n_columns), np.nan), np.full(n, np.nan), np.full(n, np.nan)
    if networks:
        need = None if network_rows is None or dens_value is None else network_rows(dens_value)
        index = torch.arange(n, device=device) if need is None else need.nonzero().squeeze(1)
        if isinstance(X, Records):
            x_all = X.preprocessed(index)
        else:
            x_all = X if need is None else X[index]  # every row: no copy
        per_col, feat, critic = [], [], []
        for start in range(0, len(index), batch_size):
            rows = index[start : start + batch_size]
            x, y = x_all[start : start + batch_size], classes[rows]
            x_s = X.space_rows[rows] if isinstance(X, Records) else (x if space is None else space(x))
            for out, part in zip((per_col, feat, critic), _network_parts(
                nets, x, y, x_s, col_index, n_columns, cat_slices, space, discriminator_rows
            )):  # fmt: skip
                out.append(part)
        picked = index.cpu().numpy()
        rec[picked] = joined(per_col, (0, n_columns))
        fr[picked], cr[picked] = joined(feat, (0,)), joined(critic, (0,))
    if density is None:
        return RawParts(rec, fr, cr)
    dens_np = dens_value.cpu().numpy().astype(np.float64) if dens_value is not None else np.zeros(0)
    return RawParts(rec, fr, cr, dens_np, joined(dens_col, (0, n_columns)) if explain else None)


def _network_parts(
    nets: Networks,
    x: torch.Tensor,
    y: torch.Tensor,
    x_s: torch.Tensor,
    col_index: torch.Tensor,
    n_columns: int,
    cat_slices: list[tuple[int, int]],
    space: Callable[[torch.Tensor], torch.Tensor] | None,
    discriminator_rows: Callable[[torch.Tensor], torch.Tensor] | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-column reconstruction residuals, D's feature residual and critic value of rows ``x`` (in ``space``:
    ``x_s``). D's parts are NaN for the rows ``discriminator_rows`` leaves out."""
    x_hat = decode(nets.generator_ema, nets.encoder(x, y), y, cat_slices)
    x_hat_s = x_hat if space is None else space(x_hat)
    residual = _by_column((x_s - x_hat_s) ** 2, col_index, n_columns)
    mask = None if discriminator_rows is None else discriminator_rows(residual)
    rows = slice(None) if mask is None else mask  # None: D for every row
    feat = torch.full((len(x),), float("nan"), dtype=x.dtype, device=x.device)
    critic = feat.clone()
    if mask is None or bool(mask.any()):
        d_out, f_real = nets.discriminator(x[rows], y[rows])
        feat[rows] = ((f_real - nets.discriminator.features(x_hat[rows])) ** 2).mean(dim=1)
        critic[rows] = d_out
    return residual, feat, critic


def _by_column(values: torch.Tensor, col_index: torch.Tensor, n_columns: int) -> torch.Tensor:
    """Sum the preprocessed slots of each schema column (one-hot blocks become one value)."""
    return torch.zeros(len(values), n_columns, device=values.device, dtype=values.dtype).index_add_(
        1, col_index, values
    )


def _agreement(std: np.ndarray) -> np.ndarray:
    """How unusual both network views find a record: min(reconstruction, discriminator), standardised."""
    return np.fmin(std[..., 0], std[..., 1])


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
    density_center: float = 0.0
    density_scale: float = 1.0
    weight_density: float = 0.0  # 0 in models saved before the density part existed
    density_sigmas: list[float] = field(default_factory=list)  # Parzen bandwidth per class
    # Corroborated off-manifold evidence: + weight · max(min(reconstruction, discriminator) − margin, 0).
    # Both E/G's reconstruction and D's features must find the record unusual for it to count, and more
    # so than all but 1% of held-out normal rows (``fit``; 2.0 in models saved before).
    corroboration_weight: float = 0.0  # 0 in models saved before it existed
    corroboration_margin: float = MIN_CORROBORATION_MARGIN
    # The term counts only where the standardised density part exceeds this (CORROBORATION_GATE_QUANTILE
    # of the held-out rows'); None in models saved before it existed: everywhere.
    corroboration_gate: float | None = None
    # ...and only up to this (the held-out rows' largest standardised density part); None: no ceiling.
    corroboration_ceiling: float | None = None
    holdout_scores: list[float] = field(default_factory=list)  # best-fitting class, held-out normal rows
    holdout_scores_by_class: dict[str, list[float]] = field(default_factory=dict)  # own class only

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScoreCalibration:
        known = {f.name for f in fields(cls)}  # models saved before kept facts no longer used (e.g. reweighting's)
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def fit(cls, parts: RawParts, weights: tuple[float, float, float], corroboration: float = 0.0) -> ScoreCalibration:
        """Standardise each part on ``parts`` (held-out normal rows, each against its own class).

        ``weights``: (reconstruction, discriminator, density); ``corroboration``: see the field.
        """
        column_scale = np.median(parts.per_column, axis=0)
        fallback = np.mean(parts.per_column, axis=0)
        column_scale = np.where(column_scale > EPS, column_scale, np.where(fallback > EPS, fallback, 1.0))
        rec = (parts.per_column / column_scale).sum(axis=1)
        rc, rs = _robust_location_scale(rec)
        dc, ds = _robust_location_scale(parts.feature_residual)
        gc, gs = _robust_location_scale(parts.density) if parts.density is not None else (0.0, 1.0)
        if parts.density is None:  # no density part: the two network views, equally
            return cls(column_scale.tolist(), rc, rs, dc, ds, 0.5, 0.5, "default")
        w_rec, w_disc, w_dens = weights
        cal = cls(column_scale.tolist(), rc, rs, dc, ds, w_rec, w_disc, "default", density_center=gc,
                  density_scale=gs, weight_density=w_dens, corroboration_weight=corroboration)  # fmt: skip
        std = cal.standardised_parts(parts)
        agreed = float(np.quantile(_agreement(std), CORROBORATION_QUANTILE))
        cal.corroboration_margin = max(MIN_CORROBORATION_MARGIN, agreed)
        cal.corroboration_gate = float(np.quantile(std[:, 2], CORROBORATION_GATE_QUANTILE))
        cal.corroboration_ceiling = float(np.max(std[:, 2]))
        return cal

    @property
    def weights(self) -> tuple[float, float, float]:
        return (self.weight_reconstruction, self.weight_discriminator, self.weight_density)

    def standardised_parts(self, parts: RawParts) -> np.ndarray:
        """(n, 3): reconstruction, discriminator and density parts, each standardised (0 typical)."""
        rec_raw = parts.per_column @ (1.0 / np.asarray(self.column_scale))
        rec = (rec_raw - self.reconstruction_center) / self.reconstruction_scale
        disc = (parts.feature_residual - self.discriminator_center) / self.discriminator_scale
        if parts.density is None:
            dens = np.zeros_like(rec)
        else:
            dens = (parts.density - self.density_center) / self.density_scale
        return np.stack([rec, disc, dens], axis=1)

    def standardise(self, parts: RawParts) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Return (score, reconstruction part, discriminator part, density part), standardised."""
        std = self.standardised_parts(parts)
        total = self.combine(std, self.weights, self.corroboration_weight)
        return total, std[:, 0], std[:, 1], std[:, 2]

    def combine(self, std: np.ndarray, weights: tuple[float, ...] | np.ndarray, corroboration: float) -> np.ndarray:
        """The score from standardised parts (``std[..., 0:3]``: reconstruction, discriminator, density)."""
        weights = np.asarray(weights, dtype=float)
        used = weights > 0  # parts left out (weight 0) may not have been computed (NaN)
        total = std[..., used] @ weights[used]
        if corroboration > 0:
            # fmin: D's part is NaN where it was skipped, which is only where the reconstruction part alone
            # keeps the term at 0 (see discriminator_rows); both network parts are NaN where the gate
            # keeps it at 0 (see network_rows): NaN > 0 is False.
            excess = _agreement(std) - self.corroboration_margin
            counts = excess > 0
            if self.corroboration_gate is not None:
                counts &= std[..., 2] > self.corroboration_gate
            lifted = total + corroboration * np.where(counts, excess, 0.0)
            if self.corroboration_ceiling is not None:
                counts &= std[..., 2] <= self.corroboration_ceiling
                lifted = np.minimum(lifted, np.maximum(total, self.corroboration_ceiling))
            total = np.where(counts, lifted, total)
        return total

    def discriminator_rows(self, per_column: torch.Tensor) -> torch.Tensor | None:
        """Rows (mask) whose score can depend on D, from their per-column reconstruction residuals.

        None when every row's can (D's part has a weight). Otherwise D enters the score only through the
        corroboration term, which is 0 unless the reconstruction part exceeds the margin: D is needed
        for those rows alone (a little below the margin, for float32 rounding).
        """
        if self.weight_discriminator > 0:
            return None
        if self.corroboration_weight <= 0:
            return torch.zeros(len(per_column), dtype=torch.bool, device=per_column.device)
        scale = torch.as_tensor(self.column_scale, dtype=per_column.dtype, device=per_column.device)
        rec = ((per_column / scale).sum(dim=1) - self.reconstruction_center) / self.reconstruction_scale
        return rec > self.corroboration_margin - 1e-3

    def network_rows(self, density: torch.Tensor) -> torch.Tensor | None:
        """Rows (mask) whose score can depend on E, G and D, from their density part (raw −log p_G).

        None when every row's can (a network part has a weight, or the model has no gate). Otherwise the
        networks enter the score only through the corroboration term, which is 0 below the density gate
        and above its ceiling (a little wider here, for float32 rounding).
        """
        if self.weight_reconstruction > 0 or self.weight_discriminator > 0 or self.corroboration_gate is None:
            return None
        if self.corroboration_weight <= 0:
            return torch.zeros(len(density), dtype=torch.bool, device=density.device)
        # float64, as ``standardised_parts`` computes it from the same float32 values: the same comparison
        standardised = (density.double() - self.density_center) / self.density_scale
        need = standardised > self.corroboration_gate - 1e-3
        if self.corroboration_ceiling is not None:
            need &= standardised <= self.corroboration_ceiling + 1e-3
        return need

    @property
    def needs_networks(self) -> bool:
        """Whether the score uses E, G and D (else the density part alone decides it)."""
        return self.weight_reconstruction > 0 or self.weight_discriminator > 0 or self.corroboration_weight > 0

    def contributions(self, parts: RawParts) -> np.ndarray:
        """Per-column contributions to the score's leading part (the one with the largest weight).

        Density: each column's squared gap (standardised units) between the record and the kernel-weighted
        mean of G's nearby samples; reconstruction: each column's residual in units of its typical one.
        """
        if parts.density_per_column is not None and self.weight_density >= max(
            self.weight_reconstruction, self.weight_discriminator
        ):
            return parts.density_per_column
        return parts.per_column / np.asarray(self.column_scale)

    def threshold(self, fpr: float, class_key: str | None = None) -> float:
        """Score above which a record is flagged, so that about ``fpr`` of normal records are."""
        scores = self.holdout_scores if class_key is None else self.holdout_scores_by_class[class_key]
        return float(np.quantile(np.asarray(scores), 1.0 - fpr, method="higher"))
