"""The generator's density at a record: ``−log p_G(x | y)``, estimated from G's own samples.

Why: tabular records usually have few columns, often fewer than G's latent dimensions, so G's manifold
fills the whole space and a record far from the training rows can still be reconstructed well: the
reconstruction residual only sees records off G's support (see benchmarks/results/anomaly_parts.md).
What tells a typical record from a rare one *inside* the support is how much of G's probability lies
near it. G has no tractable likelihood, so it is estimated the way GAN likelihoods are usually reported
(Goodfellow et al. 2014, Sec. 5): a Gaussian Parzen window over samples of G,

    log p_G(x | y) ≈ logsumexp_j(−‖x − g_j‖² / 2σ²) − log M − d log σ,   g_j ~ G(z, y), j = 1..M,

with the bandwidth σ per class chosen to maximise the likelihood of held-out normal rows.

A Parzen window over M samples is a noisy estimate of G's density (from one draw of 1,024 samples to the
next, anomaly AUROC moved by ±0.006) and costs M kernels per scored row. So the window is taken over
many samples (16,384 per class) and then summarised: k-means groups the samples into K components, each
a Gaussian at its centre c_k, weighted by its share of the samples w_k, with the within-group spread v_k
(per column) added to the kernel's σ²:

    log p_G(x | y) ≈ logsumexp_k(log w_k − ‖x − c_k‖² / 2s_k² − d log s_k),   s_k² = σ² + v_k.

This is the Parzen window of the many samples with each group's kernels merged by their first two
moments: less noise (more samples) at a fraction of the cost (K = 256 instead of 1,024 kernels per row).
Measured in benchmarks/results/anomaly_settings.md. The mixture is fitted once at fit time and stored
with the weights, so scores are reproducible anywhere.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

BANDWIDTHS = (0.05, 0.08, 0.12, 0.18, 0.25, 0.35, 0.5, 0.7, 1.0, 1.4, 2.0)
# Kernel terms more than this far (in log units) below a row's largest one are taken as 0: below e^-80
# relative to the largest they cannot change a float32 sum, and exp of such arguments takes the slow
# underflow path of the vectorised exp (tens of times slower), which dominated scoring.
LOG_FLOOR = -80.0
# The kernels are evaluated in base 2 (log2 of each kernel, then exp2): torch's float32 exp2 is ~4× faster
# than its exp on the CPU (0.13 vs 0.6 ns per value, AVX-512; benchmarks/results/anomaly_settings.md,
# "Session 14"), with the same relative accuracy (~1e-7); the factor log2(e) is folded into the matrix
# product's weights, so it costs nothing per value.
LOG2_E = 1.0 / math.log(2.0)
BLOCK_ELEMENTS = 1 << 18  # query rows per block × components: the kernel block stays in the CPU's cache


def _log_mixtures(
    queries: torch.Tensor,
    centres: torch.Tensor,
    variance: torch.Tensor,
    log_weights: torch.Tensor,
    groups: int,
    block: int | None = None,
    explain: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log density of each query under ``groups`` mixtures stacked as equal runs of components: (n, groups).

    Component k has centre ``centres[k]``, variance ``variance[k]`` (per column) and log weight
    ``log_weights[k]`` (−inf pads a shorter mixture). With ``explain``, also each query's squared gap per
    slot to each mixture's responsibility-weighted mean of its centres: (n, groups, d).
    """
    n_total, d = centres.shape
    size = n_total // groups
    offset = log_weights - 0.5 * d * variance.log()
    # log kernel_k(q) = offset_k − ‖q − c_k‖² / 2v_k = [q, ‖q‖²] · [c_k / v_k, −1 / 2v_k] + bias_k: one matrix
    # product per block gives every log kernel value of every mixture (the expansion of ‖q − c_k‖² as
    # before, its terms scaled before they are summed instead of after: the same float32 rounding)
    # (in log2 units: see LOG2_E)
    weights = LOG2_E * torch.cat([centres / variance.unsqueeze(1), (-0.5 / variance).unsqueeze(1)], dim=1).T
    bias = LOG2_E * (offset - 0.5 * (centres * centres).sum(dim=1) / variance).unsqueeze(0)
    block = block or max(64, BLOCK_ELEMENTS // max(n_total, 1))
    out, gaps = [], []
    for start in range(0, len(queries), block):
        q = queries[start : start + block]
        kernel = torch.addmm(bias, torch.cat([q, (q * q).sum(dim=1, keepdim=True)], dim=1), weights)
        kernel = kernel.view(len(q), groups, size)
        top = kernel.amax(dim=2, keepdim=True)
        kernel.sub_(top).clamp_(min=LOG_FLOOR * LOG2_E).exp2_()  # kernel values relative to the row's largest
        total = kernel.sum(dim=2, keepdim=True)
        out.append(((total.log2() + top) / LOG2_E).squeeze(2))
        if explain:
            means = torch.einsum("ngk,gkd->ngd", kernel.div_(total), centres.view(groups, size, d))
            gaps.append((q.unsqueeze(1) - means) ** 2)
    value = torch.cat(out) if out else queries.new_zeros(0, groups)
    if not explain:
        return value, None
    return value, torch.cat(gaps) if gaps else queries.new_zeros(0, groups, d)


class Mixture:
    """Isotropic Gaussian components: centres (K, d), log weights (K,), spreads v_k (K,)."""

    def __init__(self, centres: torch.Tensor, log_weights: torch.Tensor, spreads: torch.Tensor) -> None:
        self.centres = centres
        self.log_weights = log_weights
        self.spreads = spreads

    @classmethod
    def of_samples(cls, samples: torch.Tensor, log_weights: torch.Tensor | None = None) -> Mixture:
        """Every sample its own component, no spread: the plain Parzen window (``log_weights``: the
        samples' normalised log weights; None: equal)."""
        m = len(samples)
        if log_weights is None:
            log_weights = torch.full((m,), -math.log(max(m, 1)), dtype=samples.dtype, device=samples.device)
        return cls(samples, log_weights, torch.zeros(m, dtype=samples.dtype, device=samples.device))

    @classmethod
    def summarise(
        cls, samples: torch.Tensor, components: int, seed: int = 0, log_weights: torch.Tensor | None = None
    ) -> Mixture:
        """Group ``samples`` into ``components`` by k-means; each group becomes one weighted component.

        ``log_weights``: the samples' normalised log importance weights (None: equal). A group's weight
        is the sum of its samples' weights, its centre and spread their weighted mean and variance.
        """
        from sklearn.cluster import KMeans
        from sklearn.exceptions import ConvergenceWarning

        if len(samples) <= components:
            return cls.of_samples(samples, log_weights)
        data = samples.detach().cpu().double().numpy()
        if log_weights is None:
            weights = np.full(len(data), 1.0 / len(data))
        else:
            weights = np.exp(log_weights.detach().cpu().double().numpy())
            weights /= weights.sum()
        with warnings.catch_warnings():  # fewer distinct samples than components: the empty ones are dropped
            warnings.simplefilter("ignore", ConvergenceWarning)
            labels = KMeans(components, n_init=1, max_iter=30, random_state=seed).fit(data).labels_
        mass = np.bincount(labels, weights=weights, minlength=components)
        used = mass > 0
        centres = np.zeros((components, data.shape[1]))
        np.add.at(centres, labels, data * weights[:, None])
        centres = centres[used] / mass[used, None]
        remap = np.cumsum(used) - 1
        squared = ((data - centres[remap[labels]]) ** 2).sum(axis=1)
        spreads = np.bincount(remap[labels], weights=squared * weights, minlength=len(centres))
        spreads = spreads / mass[used] / data.shape[1]
        log_w = np.log(mass[used] / mass.sum())

        def tensor(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(a, dtype=samples.dtype, device=samples.device)

        return cls(tensor(centres), tensor(log_w), tensor(spreads))

    def log_density(
        self, queries: torch.Tensor, sigma: float, block: int | None = None, explain: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Log density of each query row under the mixture with kernel bandwidth ``sigma``.

        With ``explain``, also each query's squared gap per slot to the responsibility-weighted mean of
        the centres (what the record would have to change to sit where G puts its mass).
        """
        value, gaps = _log_mixtures(queries, self.centres, sigma**2 + self.spreads, self.log_weights, 1, block, explain)
        return value.squeeze(1), None if gaps is None else gaps.squeeze(1)

    def choose_bandwidth(self, holdout: torch.Tensor) -> float:
        """The σ (from a fixed grid, in standardised units) under which held-out rows are most likely."""
        if len(holdout) == 0:
            return 0.35
        means = torch.stack([self.log_density(holdout, s)[0].double().mean() for s in BANDWIDTHS])
        return BANDWIDTHS[int(means.argmax())]


def log_parzen(
    queries: torch.Tensor, references: torch.Tensor, sigma: float, block: int | None = None, explain: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Plain Gaussian Parzen window: log of the mean of the references' kernels at each query row."""
    return Mixture.of_samples(references).log_density(queries, sigma, block, explain)


def choose_bandwidth(holdout: torch.Tensor, references: torch.Tensor) -> float:
    """The Parzen bandwidth (from ``BANDWIDTHS``) under which held-out rows are most likely."""
    return Mixture.of_samples(references).choose_bandwidth(holdout)


class SampleDensity:
    """``−log p_G(x | y)`` for every row against its class: one mixture and one bandwidth per class.

    With several generators (``members``: independently trained G's, each summarised the same way), the
    value is the mean of their ``−log p`` (the log of the densities' geometric mean): a record must be
    likely under every G to score as normal, so mass that one G put where the data has none is discounted
    by the others. (Pooling their samples into one mixture keeps that mass instead:
    benchmarks/results/anomaly_settings.md, "Several generators".)
    """

    def __init__(self, mixtures: list[Mixture] | list[list[Mixture]], sigmas: list[float] | list[list[float]]) -> None:
        if mixtures and isinstance(mixtures[0], Mixture):  # one generator
            mixtures, sigmas = [mixtures], [sigmas]
        self.members: list[list[Mixture]] = [list(m) for m in mixtures]
        self.member_sigmas: list[list[float]] = [list(map(float, s)) for s in sigmas]
        self._stacks: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}  # per class, built once

    @property
    def mixtures(self) -> list[Mixture]:
        """The first generator's mixture per class."""
        return self.members[0]

    @property
    def sigmas(self) -> list[float]:
        """Every generator's bandwidth per class, generator by generator (the first's come first)."""
        return [s for member in self.member_sigmas for s in member]

    def _stacked(self, c: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Class ``c``'s mixtures of every generator as one stack (centres, variances, log weights), each
        padded to the same number of components, so that one pass evaluates them all."""
        if c not in self._stacks:
            mixtures = [member[c] for member in self.members]
            size = max(len(m.centres) for m in mixtures)
            centres, variance, log_w = [], [], []
            for m, sigmas in zip(mixtures, self.member_sigmas):
                pad = size - len(m.centres)
                centres.append(torch.cat([m.centres, m.centres.new_zeros(pad, m.centres.shape[1])]))
                variance.append(torch.cat([sigmas[c] ** 2 + m.spreads, m.spreads.new_ones(pad)]))
                log_w.append(torch.cat([m.log_weights, m.log_weights.new_full((pad,), -math.inf)]))
            self._stacks[c] = torch.cat(centres), torch.cat(variance), torch.cat(log_w)
        return self._stacks[c]

    def __call__(
        self, X: torch.Tensor, classes: torch.Tensor, explain: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``−log p_G`` per row against its class; with ``explain`` also the per-slot squared gaps."""
        value = torch.empty(len(X), dtype=X.dtype, device=X.device)
        gaps = torch.empty_like(X) if explain else None
        present = torch.unique(classes).tolist()
        for c in present:
            rows = slice(None) if len(present) == 1 else classes == c  # one class: no copies
            log_p, g = _log_mixtures(X[rows], *self._stacked(c), len(self.members), explain=explain)
            # NaN only where squared distances overflow float32 (values ~1e19 standard deviations out):
            # as far from G's mass as it gets, not "no evidence"
            value[rows] = torch.nan_to_num(-log_p.mean(dim=1), nan=math.inf)
            if gaps is not None:
                gaps[rows] = g.mean(dim=1)
        return value, gaps

    def tensors(self) -> dict[str, torch.Tensor]:
        """What is saved with the weights (components padded to the largest class's count); the first
        generator's under ``density.``, the k-th's under ``density.member{k}.``."""
        out: dict[str, torch.Tensor] = {}
        for k, mixtures in enumerate(self.members):
            prefix = "density." if k == 0 else f"density.member{k}."
            size = max(len(m.centres) for m in mixtures)

            def padded(t: torch.Tensor, fill: float, size: int = size) -> torch.Tensor:
                pad = t.new_full((size - len(t), *t.shape[1:]), fill)
                return torch.cat([t, pad])

            out[prefix + "references"] = torch.stack([padded(m.centres, 0.0) for m in mixtures])
            out[prefix + "log_weights"] = torch.stack([padded(m.log_weights, -math.inf) for m in mixtures])
            out[prefix + "spreads"] = torch.stack([padded(m.spreads, 0.0) for m in mixtures])
        return out

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], sigmas: list[float]) -> SampleDensity:
        """Inverse of ``tensors`` (``sigmas`` as ``SampleDensity.sigmas`` gives them); models saved before
        the mixture hold plain samples (a Parzen window)."""
        refs = tensors["density.references"]
        if "density.log_weights" not in tensors:
            return cls([Mixture.of_samples(r) for r in refs], sigmas)
        n_classes = len(refs)
        members = []
        for k in range(len(sigmas) // max(n_classes, 1)):
            prefix = "density." if k == 0 else f"density.member{k}."
            mixtures = []
            for centres, log_w, spreads in zip(
                tensors[prefix + "references"], tensors[prefix + "log_weights"], tensors[prefix + "spreads"]
            ):
                keep = torch.isfinite(log_w)
                mixtures.append(Mixture(centres[keep], log_w[keep], spreads[keep]))
            members.append(mixtures)
        per_member = [list(sigmas[k * n_classes : (k + 1) * n_classes]) for k in range(len(members))]
        return cls(members, per_member)
