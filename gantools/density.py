"""The generator's density at a record: ``−log p_G(x | y)``, estimated from G's own samples.

Why: tabular records usually have few columns, often fewer than G's latent dimensions, so G's manifold
fills the whole space and a record far from the training rows can still be reconstructed well: the
reconstruction residual only sees records off G's support (see benchmarks/results/anomaly_parts.md).
What tells a typical record from a rare one *inside* the support is how much of G's probability lies
near it. G has no tractable likelihood, so it is estimated the way GAN likelihoods are usually reported
(Goodfellow et al. 2014, Sec. 5): a Gaussian Parzen window over samples of G,

    log p_G(x | y) ≈ logsumexp_j(−‖x − g_j‖² / 2σ²) − log M − d log σ,   g_j ~ G(z, y), j = 1..M,

with the bandwidth σ per class chosen to maximise the likelihood of held-out normal rows. The M samples
per class are drawn once at fit time and stored with the weights, so scores are reproducible anywhere.
"""

from __future__ import annotations

import math

import torch

BANDWIDTHS = (0.05, 0.08, 0.12, 0.18, 0.25, 0.35, 0.5, 0.7, 1.0, 1.4, 2.0)


def log_parzen(
    queries: torch.Tensor, references: torch.Tensor, sigma: float, block: int = 4096, explain: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Gaussian-kernel log density of each query row under the reference rows (mean of M kernels).

    With ``explain``, also each query's squared gap per slot to the kernel-weighted mean of the references
    (what the record would have to change to sit where G puts its mass).
    """
    out, gaps = [], []
    ref_sq = (references * references).sum(dim=1)
    const = math.log(len(references)) + queries.shape[1] * math.log(sigma)
    for start in range(0, len(queries), block):
        q = queries[start : start + block]
        d2 = torch.addmm(ref_sq.unsqueeze(0), q, references.T, alpha=-2.0).add_((q * q).sum(dim=1, keepdim=True))
        logits = d2.clamp_(min=0.0).mul_(-0.5 / sigma**2)
        lse = torch.logsumexp(logits, dim=1)
        out.append(lse - const)
        if explain:
            weights = logits.sub_(lse.unsqueeze(1)).exp_()
            gaps.append((q - weights @ references) ** 2)
    empty = queries.new_zeros(0)
    value = torch.cat(out) if out else empty
    if not explain:
        return value, None
    return value, torch.cat(gaps) if gaps else queries.new_zeros(0, queries.shape[1])


def choose_bandwidth(holdout: torch.Tensor, references: torch.Tensor) -> float:
    """The bandwidth (from a fixed grid, in standardised units) under which held-out rows are most likely."""
    if len(holdout) == 0:
        return 0.35
    scores = [(log_parzen(holdout, references, s)[0].mean().item(), s) for s in BANDWIDTHS]
    return max(scores)[1]


class SampleDensity:
    """``−log p_G(x | y)`` for every row against its class, from stored samples of G (one set per class)."""

    def __init__(self, references: torch.Tensor, sigmas: list[float]) -> None:
        self.references = references  # (n_classes, M, d), in the scoring space
        self.sigmas = list(sigmas)

    def __call__(
        self, X: torch.Tensor, classes: torch.Tensor, explain: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``−log p_G`` per row against its class; with ``explain`` also the per-slot squared gaps."""
        value = torch.empty(len(X), dtype=X.dtype, device=X.device)
        gaps = torch.empty_like(X) if explain else None
        for c in torch.unique(classes).tolist():
            rows = classes == c
            v, g = log_parzen(X[rows], self.references[c], self.sigmas[c], explain=explain)
            value[rows] = -v
            if gaps is not None:
                gaps[rows] = g
        return value, gaps
