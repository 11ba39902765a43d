"""The training loop, in one place: a hinge-loss conditional GAN, then the encoder.

Data lives on the device as one tensor; a batch is an index slice drawn class-balanced (a class uniformly,
then a row of it), so rare classes are learned as well as common ones. The critic uses spectral
normalisation and a faster learning rate (TTUR); an EMA copy of G is what samples and reconstructs.
The encoder is trained afterwards with G and D frozen (izi_f of f-AnoGAN, Schlegl et al. 2019) plus a
latent cycle term (z -> G -> E -> z) so that E inverts G on the whole generated manifold.
Ctrl+C stops a phase early and keeps what was learned so far (the caller still saves a usable model).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from gantools.config import TrainConfig
from gantools.models import Discriminator, Encoder, Generator, activate_output
from gantools.preprocessing import TieIntervals
from gantools.training.snapshots import SnapshotSelector

ProgressFn = Callable[[str, int, int, dict[str, float]], None]


@dataclass
class Networks:
    generator: Generator
    generator_ema: Generator
    discriminator: Discriminator
    encoder: Encoder
    history: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False

    def eval(self) -> Networks:
        for net in (self.generator, self.generator_ema, self.discriminator, self.encoder):
            net.eval()
        return self


class ClassBalancedSampler:
    """Draws batches of row indices: a class uniformly at random, then a row of that class."""

    def __init__(self, y: torch.Tensor, n_classes: int, generator: torch.Generator) -> None:
        order = torch.argsort(y, stable=True)
        counts = torch.bincount(y, minlength=n_classes)
        present = torch.nonzero(counts > 0).squeeze(1)
        starts = torch.cumsum(counts, 0) - counts
        self.order, self.present, self.counts, self.starts = order, present, counts, starts
        self.rng = generator

    def __call__(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        device = self.order.device
        pick = torch.randint(len(self.present), (batch_size,), device=device, generator=self.rng)
        classes = self.present[pick]
        offset = (torch.rand(batch_size, device=device, generator=self.rng) * self.counts[classes]).long()
        rows = self.order[self.starts[classes] + offset]
        return rows, classes


def _ema_update(target: torch.nn.Module, source: torch.nn.Module, decay: float) -> None:
    """``target ← decay · target + (1 − decay) · source``, all parameters in one fused call (on a GPU one
    launch instead of one per tensor: training there is launch-bound, benchmarks/results/gpu_h100.md)."""
    with torch.no_grad():
        torch._foreach_lerp_(list(target.parameters()), list(source.parameters()), 1.0 - decay)
        for b_t, b_s in zip(target.buffers(), source.buffers()):
            b_t.copy_(b_s)


def build_networks(n_features: int, n_classes: int, config: TrainConfig, device: torch.device) -> Networks:
    """G, its EMA copy, D and E for a config whose sizes are resolved (``TrainConfig.resolve_sizes``)."""
    g = Generator(
        config.latent_dim, n_classes, n_features, config.hidden, config.n_layers, config.use_gaussian_base(n_classes)
    ).to(device)
    d = Discriminator(n_features, n_classes, config.hidden, config.n_layers + 1, config.d_dropout).to(device)
    e = Encoder(n_features, n_classes, config.latent_dim, config.hidden, config.n_layers).to(device)
    g_ema = copy.deepcopy(g).requires_grad_(False)
    return Networks(g, g_ema, d, e)


def train_networks(
    X: torch.Tensor,
    y: torch.Tensor,
    n_classes: int,
    cat_slices: list[tuple[int, int]],
    config: TrainConfig,
    progress: ProgressFn | None = None,
    validation: tuple[torch.Tensor, torch.Tensor] | None = None,
    gan_steps: int | None = None,
    encoder: bool = True,
    ties: TieIntervals | None = None,
) -> Networks:
    """Train G, D (and the EMA of G), then E, on the preprocessed rows ``X`` with class indices ``y``.

    ``validation`` (held-out rows and their classes) enables early stopping when the config asks for it.
    ``gan_steps`` overrides the number of GAN steps the config implies (0: G stays at its Gaussian base).
    ``encoder=False`` skips E's training (E stays untrained): for generators used only for their samples.
    ``ties``: the rows' tied values (``TabularPreprocessor.tie_intervals``): each batch draws them anew
    within their intervals (``TiedValueJitter``; the model passes them where ``TrainConfig.dequantize`` asks).
    """
    device = X.device
    config = config.resolve_sizes(n_classes, len(X))
    torch.manual_seed(config.seed)
    rng = torch.Generator(device=device).manual_seed(config.seed)
    nets = build_networks(X.shape[1], n_classes, config, device)
    g, g_ema, d = nets.generator, nets.generator_ema, nets.discriminator
    if g.gaussian_base:
        g.set_gaussian_base(*gaussian_moments(X, y, n_classes, cat_slices, config.latent_dim))
        g_ema.load_state_dict(g.state_dict())
    sampler = ClassBalancedSampler(y, n_classes, rng)
    batch = min(config.batch_size, max(len(X), 8))
    epochs = config.resolved_epochs(len(X))
    if gan_steps is None:
        gan_steps = epochs * config.steps_per_epoch(len(X))
    enc_steps = config.resolved_encoder_steps(gan_steps)
    opt_g = torch.optim.Adam(g.parameters(), lr=config.lr_g, betas=(0.5, 0.9))
    opt_d = torch.optim.Adam(d.parameters(), lr=config.lr_d, betas=(0.5, 0.9))
    use_ac = n_classes > 1 and config.ac_weight > 0
    batch_stats = config.use_minibatch_std(n_classes)
    tick = max(1, gan_steps // 100)
    numeric = numeric_slots(X.shape[1], cat_slices).to(device)
    jitter = None if ties is None else TiedValueJitter(ties, device)
    selector = None
    if validation is not None and len(validation[0]) > 0 and config.use_early_stopping(n_classes):
        selector = SnapshotSelector(
            *validation,
            cat_slices,
            config.latent_dim,
            config.gumbel_tau,
            config.seed,
            every=max(25, gan_steps // 40),
            patience=config.patience,
            posterior=g.gaussian_base,  # small data: the class posterior; otherwise each class's own fit
        )
    started = time.perf_counter()
    loss_d = loss_g = torch.zeros((), device=device)
    step = 0
    try:
        for step in range(1, gan_steps + 1):
            rows, classes = sampler(batch)
            real = X[rows] if jitter is None else jitter(rows, X[rows], rng)
            z = torch.randn(batch, config.latent_dim, device=device, generator=rng)
            fake = activate_output(g(z, classes), cat_slices, config.gumbel_tau)
            d_real, f_real = d(real, classes, batch_stats=batch_stats)
            d_fake, _ = d(fake.detach(), classes, batch_stats=batch_stats)
            loss_d = F.relu(1.0 - d_real).mean() + F.relu(1.0 + d_fake).mean()
            if use_ac:  # the auxiliary classifier learns the classes from real rows only
                loss_d = loss_d + config.ac_weight * F.cross_entropy(d.classifier(f_real), classes)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()

            d_fake, f_fake = d(fake, classes, batch_stats=batch_stats)
            loss_g = -d_fake.mean()
            if config.marginal_weight > 0 and len(numeric):
                fake_num, real_num = fake[:, numeric], real[:, numeric]
                distance = marginal_distance(fake_num, real_num)
                if config.marginal_projections > 0 and len(numeric) > 1:
                    directions = random_directions(len(numeric), config.marginal_projections, device, rng)
                    distance = distance + marginal_distance(fake_num @ directions, real_num @ directions)
                loss_g = loss_g + config.marginal_weight * distance
            if use_ac:
                loss_g = loss_g + config.ac_weight * F.cross_entropy(d.classifier(f_fake), classes)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            _ema_update(g_ema, g, config.ema_decay if step > 100 else 0.0)
            if progress and (step % tick == 0 or step in (1, gan_steps)):
                progress("gan", step, gan_steps, {"loss_d": loss_d.item(), "loss_g": loss_g.item()})
            if selector is not None and step == 1 and g.gaussian_base:
                selector.check(0, g_ema, d)  # the Gaussian G starts from competes too
            if selector is not None and step >= gan_steps // 10 and step % selector.every == 0:
                if selector.check(step, g_ema, d):
                    break
    except KeyboardInterrupt:
        nets.interrupted = True
    if selector is not None:
        selector.restore(g_ema, d)
        nets.history.update(
            selected_step=selector.selected_step,
            best_step=selector.best_step,
            validation_log_likelihood=selector.selected_value,
            stopped_early=step < gan_steps and not nets.interrupted,
        )
    nets.history.update(
        gan_steps=step,
        gan_epochs=epochs,
        gan_seconds=time.perf_counter() - started,
        final_loss_d=loss_d.item(),
        final_loss_g=loss_g.item(),
    )
    if nets.interrupted:  # stopped early: an encoder in proportion to the GAN steps actually taken
        enc_steps = min(enc_steps, config.resolved_encoder_steps(step))
    if encoder:
        _train_encoder(nets, X, sampler, batch, enc_steps, cat_slices, config, rng, progress, jitter)
    return nets.eval()


class TiedValueJitter:
    """Dequantisation of tied values for training: a value tied in the data is encoded at the middle of its
    flat segment of the quantile map (a point mass on the normal scale, which a continuous G cannot produce
    and a critic can exploit); each batch instead draws it uniformly within its probability interval, so
    that a quantile-mapped column is standard normal (up to its 1,000-level grid). Any draw maps back to
    the same value."""

    def __init__(self, ties: TieIntervals, device: torch.device) -> None:
        used = ties.width.any(axis=0)  # columns with some tied rows
        self.slots = torch.as_tensor(ties.slots[used], device=device)
        self.p_lo = torch.as_tensor(ties.p_lo[:, used], dtype=torch.float32, device=device)
        self.width = torch.as_tensor(ties.width[:, used], dtype=torch.float32, device=device)

    def __call__(self, rows: torch.Tensor, real: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if len(self.slots) == 0:
            return real
        p_lo, width = self.p_lo[rows], self.width[rows]
        u = torch.rand(p_lo.shape, device=real.device, generator=generator)
        z = torch.special.ndtri((p_lo + u * width).clamp_(1e-7, 1 - 1e-7))
        out = real.clone()
        out[:, self.slots] = torch.where(width > 0, z.to(real.dtype), real[:, self.slots])
        return out


def numeric_slots(n_features: int, cat_slices: list[tuple[int, int]]) -> torch.Tensor:
    """Indices of the slots outside every one-hot block."""
    numeric = torch.ones(n_features, dtype=torch.bool)
    for start, end in cat_slices:
        numeric[start:end] = False
    return torch.nonzero(numeric).squeeze(1)


def marginal_distance(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean over columns of the squared 1-D Wasserstein-2 distance between two equal-sized batches: each
    column's sorted values compared in order (the optimal 1-D coupling). 0 when every column's values agree.
    Given the batches' projections on random directions, it is the sliced Wasserstein distance."""
    return (fake.sort(dim=0).values - real.sort(dim=0).values).square().mean()


def random_directions(dim: int, k: int, device: torch.device, rng: torch.Generator) -> torch.Tensor:
    """``k`` directions drawn uniformly on the unit sphere of ``dim`` dimensions, as the columns of a matrix."""
    directions = torch.randn(dim, k, device=device, generator=rng)
    return directions / directions.norm(dim=0, keepdim=True).clamp_min(1e-12)


def gaussian_moments(
    X: torch.Tensor, y: torch.Tensor, n_classes: int, cat_slices: list[tuple[int, int]], latent_dim: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per class, a Gaussian over the numeric slots as ``(mean, scale)`` with ``z · scale ~ N(0, Σ)``.

    Σ is the sample covariance plus a small ridge (0.1% of the mean variance) so that it is never singular;
    with more slots than latent dimensions, its top ``latent_dim`` principal directions carry it. (Shrinking
    Σ towards its diagonal, Ledoit-Wolf, measured worse: correlated columns are what a class looks like.)
    One-hot blocks get the log of their (add-one smoothed) class frequencies as mean logits and no spread:
    categories drawn by their frequency in the class.
    """
    n_features = X.shape[1]
    num_idx = numeric_slots(n_features, cat_slices)
    mean = torch.zeros(n_classes, n_features)
    scale = torch.zeros(n_classes, latent_dim, n_features)
    X_cpu, y_cpu = X.detach().cpu().double(), y.detach().cpu()
    for c in range(n_classes):
        rows = X_cpu[y_cpu == c]
        if len(rows) == 0:
            continue
        for start, end in cat_slices:
            freq = (rows[:, start:end].sum(dim=0) + 1.0) / (len(rows) + (end - start))
            mean[c, start:end] = freq.log().float()
        if len(num_idx) == 0:
            continue
        values = rows[:, num_idx]
        mean[c, num_idx] = values.mean(dim=0).float()
        if len(rows) < 2:
            continue
        cov = torch.cov(values.T).reshape(len(num_idx), len(num_idx))
        cov += 1e-3 * max(float(cov.diagonal().mean()), 1e-12) * torch.eye(len(num_idx), dtype=cov.dtype)
        eigval, eigvec = torch.linalg.eigh(cov)
        k = min(latent_dim, len(num_idx))
        top = torch.argsort(eigval, descending=True)[:k]
        factor = eigvec[:, top] * eigval[top].clamp(min=0).sqrt()  # (n_num, k): factor @ factor.T ≈ Σ
        scale[c, :k][:, num_idx] = factor.T.float()
    return mean.to(X.device), scale.to(X.device)


def _train_encoder(
    nets: Networks,
    X: torch.Tensor,
    sampler: ClassBalancedSampler,
    batch: int,
    steps: int,
    cat_slices: list[tuple[int, int]],
    config: TrainConfig,
    rng: torch.Generator,
    progress: ProgressFn | None,
    jitter: TiedValueJitter | None = None,
) -> None:
    g, d, e = nets.generator_ema, nets.discriminator, nets.encoder
    g.requires_grad_(False)
    d.requires_grad_(False)
    d.eval()
    opt_e = torch.optim.Adam(e.parameters(), lr=config.lr_e, betas=(0.9, 0.99))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt_e, max(steps, 1))
    tick = max(1, steps // 100)
    started = time.perf_counter()
    loss = torch.zeros((), device=X.device)
    step = 0
    device = X.device
    try:
        for step in range(1, steps + 1):
            rows, classes = sampler(batch)
            real = X[rows] if jitter is None else jitter(rows, X[rows], rng)
            recon = decode(g, e(real, classes), classes, cat_slices)
            loss_x = F.mse_loss(recon, real)
            loss_f = F.mse_loss(d.features(recon), d.features(real))
            # Generated rows are unlimited draws from what G learned: reconstructing them too teaches E
            # the whole normal manifold, not only the training rows (which may be few).
            z = torch.randn(batch, config.latent_dim, device=device, generator=rng)
            with torch.no_grad():
                generated = decode(g, z, classes, cat_slices)
            z_hat = e(generated, classes)
            loss_gx = F.mse_loss(decode(g, z_hat, classes, cat_slices), generated)
            loss_z = F.mse_loss(z_hat, z)
            loss = loss_x + config.feature_weight * loss_f + config.generated_weight * loss_gx + 0.1 * loss_z
            opt_e.zero_grad(set_to_none=True)
            loss.backward()
            opt_e.step()
            sched.step()
            if progress and (step % tick == 0 or step in (1, steps)):
                progress("encoder", step, steps, {"loss": loss.item()})
    except KeyboardInterrupt:
        nets.interrupted = True
    nets.history.update(encoder_steps=step, encoder_seconds=time.perf_counter() - started, final_loss_e=loss.item())


def decode(g: Generator, z: torch.Tensor, classes: torch.Tensor, cat_slices: list[tuple[int, int]]) -> torch.Tensor:
    """G's deterministic output: numeric slots raw, one-hot blocks as softmax probabilities."""
    raw = g(z, classes)
    if not cat_slices:
        return raw
    parts, pos = [], 0
    for start, end in cat_slices:
        if start > pos:
            parts.append(raw[:, pos:start])
        parts.append(torch.softmax(raw[:, start:end], dim=1))
        pos = end
    if pos < raw.shape[1]:
        parts.append(raw[:, pos:])
    return torch.cat(parts, dim=1)
