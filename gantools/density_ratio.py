"""How much more likely real rows are than G's samples at a point: a real-vs-generated classifier's odds.

G's density is only as good as G. Where G puts too much mass (over-sharp modes, spurious bridges between
modes) or too little, a classifier trained to tell real training rows from G's samples finds it: at the
optimum its logit is ``log p_data(x) − log p_G(x)`` (the logistic-loss discriminator of a GAN against the
final G). Weighting each of G's samples by its odds turns the samples of G into samples of a corrected
density (likelihood-free importance weighting, Grover et al. 2019; discriminator rejection sampling,
Azadi et al. 2019, keeps or drops samples by the same ratio). The weights are tempered, ``odds ** τ``:
where the classifier separates the two easily the raw odds are extreme, a few samples take all the weight
and the estimate gets noisier, not better (measured in benchmarks/results/anomaly_settings.md).

The classifier works in the scoring space, on fresh samples of G (not those the density summarises), and
stops when its loss on held-out real rows (against other fresh samples) stops improving. Its odds are used
only where it tells held-out real rows from yet other samples of G clearly (``separation``): where G
already matches the data as far as the held-out rows can show, the weights would only add the
classifier's noise (seen on small sets: glass, 98 training rows).
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

MAX_STEPS = 3000
CHECK_EVERY = 100
PATIENCE = 5  # checks without a gain in held-out loss before stopping
HIDDEN = 128
BATCH = 256
# G's samples are weighted only where the classifier separates held-out real rows from G's samples by
# at least this many standard errors (``separation``)
MIN_SEPARATION = 2.0
MAX_WEIGHT_RATIO = 10.0  # largest weight of one sample, relative to the mean weight


def _classifier(n_features: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(n_features, HIDDEN), nn.LeakyReLU(0.2), nn.Linear(HIDDEN, HIDDEN), nn.LeakyReLU(0.2),
        nn.Linear(HIDDEN, 1),
    )  # fmt: skip


def fit_log_odds(
    real: torch.Tensor,
    generated: torch.Tensor,
    real_holdout: torch.Tensor,
    generated_holdout: torch.Tensor,
    seed: int,
    max_steps: int | None = None,
) -> nn.Module:
    """Train a real-vs-generated classifier; its output is the log odds ``log p_data/p_G`` (up to the prior).

    Real and generated rows are drawn in equal numbers per step, so the odds need no prior correction.
    Kept: the state with the lowest logistic loss on the held-out rows, checked every CHECK_EVERY steps,
    for at most ``max_steps`` (None: MAX_STEPS) and at least CHECK_EVERY steps.
    """
    device = real.device
    torch.manual_seed(seed)
    model = _classifier(real.shape[1]).to(device)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.5, 0.999), weight_decay=1e-4)
    picker = torch.Generator(device=device).manual_seed(seed)

    def loss_of(real_rows: torch.Tensor, generated_rows: torch.Tensor) -> torch.Tensor:
        return F.softplus(-model(real_rows)).mean() + F.softplus(model(generated_rows)).mean()

    best, best_state, since = float("inf"), copy.deepcopy(model.state_dict()), 0
    steps = max(CHECK_EVERY, min(MAX_STEPS, max_steps or MAX_STEPS))
    with torch.enable_grad():
        for step in range(1, steps + 1):
            r = torch.randint(len(real), (BATCH,), device=device, generator=picker)
            g = torch.randint(len(generated), (BATCH,), device=device, generator=picker)
            loss = loss_of(real[r], generated[g])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            if step % CHECK_EVERY:
                continue
            with torch.no_grad():
                held = float(loss_of(real_holdout, generated_holdout))
            if held < best - 1e-4:
                best, best_state, since = held, copy.deepcopy(model.state_dict()), 0
            else:
                since += 1
                if since >= PATIENCE:
                    break
    model.load_state_dict(best_state)
    return model.eval().requires_grad_(False)


@torch.no_grad()
def separation(log_odds: nn.Module, real_holdout: torch.Tensor, generated_holdout: torch.Tensor) -> float:
    """How clearly the classifier tells held-out real rows from G's samples: its logistic loss below
    chance (log 4), in standard errors. Below MIN_SEPARATION, no difference between the data and G is
    shown, and weighting G's samples by the classifier's odds only adds its noise."""
    if len(real_holdout) < 2 or len(generated_holdout) < 2:
        return 0.0
    real_loss = F.softplus(-log_odds(real_holdout)).squeeze(1).double()
    generated_loss = F.softplus(log_odds(generated_holdout)).squeeze(1).double()
    loss = real_loss.mean() + generated_loss.mean()
    error = math.sqrt(real_loss.var() / len(real_loss) + generated_loss.var() / len(generated_loss))
    return float((math.log(4.0) - loss) / max(error, 1e-12))


@torch.no_grad()
def sample_log_weights(log_odds: nn.Module, samples: torch.Tensor, temperature: float) -> torch.Tensor:
    """Log importance weights of G's samples: ``temperature · log odds``, normalised to sum to 1.

    No sample weighs more than MAX_WEIGHT_RATIO times the mean weight (truncated importance sampling,
    Ionides 2008): the classifier's logit is unchecked where neither real rows nor G's samples lie, and a
    few stray samples of G there must not take the mixture's mass.
    """
    log_w = log_odds(samples).squeeze(1).double() * temperature
    return _capped(log_w - torch.logsumexp(log_w, dim=0), MAX_WEIGHT_RATIO).to(samples.dtype)


def _capped(log_w: torch.Tensor, ratio: float) -> torch.Tensor:
    """Normalised log weights with every weight clipped at one level c, the c at which the largest is
    ``ratio`` times the mean after renormalising: ``c = ratio · Σ min(w, c) / n`` (found by bisection on
    log c; the left side grows more slowly than the right, so the root is unique)."""
    n = len(log_w)
    if n == 0 or float(log_w.max()) <= math.log(ratio / n):
        return log_w
    low, high = float(log_w.min()), float(log_w.max())  # the excess changes sign between them
    for _ in range(100):
        mid = 0.5 * (low + high)
        clipped = torch.logsumexp(log_w.clamp(max=mid), dim=0)
        if mid > math.log(ratio / n) + float(clipped):  # clipped at mid, the largest is still too heavy
            high = mid
        else:
            low = mid
    log_w = log_w.clamp(max=low)
    return log_w - torch.logsumexp(log_w, dim=0)
