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
import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from gantools.config import TrainConfig
from gantools.errors import GantoolsError
from gantools.models import Discriminator, Encoder, Generator, activate_output
from gantools.training.adam import Adam
from gantools.training.checkpoint import Autosave, Checkpoint, fingerprint, rng_states, set_rng_states
from gantools.training.snapshots import SnapshotSelector
from gantools.training.stacked import LEAK, StackedGAN
from gantools.training.stop import check_stop

ProgressFn = Callable[[str, int, int, dict[str, float]], None]


@dataclass
class Networks:
    generator: Generator
    generator_ema: Generator
    discriminator: Discriminator
    encoder: Encoder
    history: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False
    # the EMA generators of the further ensemble members (trained beside this one from other seeds)
    members: list[Generator] = field(default_factory=list)
    # the GAN phase's state where it stopped (interrupted, or at its end): what ``--resume`` continues from
    checkpoint: Checkpoint | None = None

    def eval(self) -> Networks:
        for net in (self.generator, self.generator_ema, self.discriminator, self.encoder, *self.members):
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


def build_networks(n_features: int, n_classes: int, config: TrainConfig, device: torch.device) -> Networks:
    """G, its EMA copy, D and E for a config whose sizes are resolved (``TrainConfig.resolve_sizes``)."""
    g = Generator(
        config.latent_dim, n_classes, n_features, config.hidden, config.n_layers, config.use_gaussian_base(n_classes)
    ).to(device)
    d = Discriminator(n_features, n_classes, config.hidden, config.n_layers + 1).to(device)
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
    members: int = 1,
    resume: Checkpoint | None = None,
    autosave: Autosave | None = None,
) -> Networks:
    """Train G, D (and the EMA of G), then E, on the preprocessed rows ``X`` with class indices ``y``.

    ``validation`` (held-out rows and their classes) enables early stopping when the config asks for it.
    ``gan_steps`` overrides the number of GAN steps the config implies (0: G stays at its Gaussian base).
    ``encoder=False`` skips E's training (E stays untrained).
    ``members`` > 1 trains that many GANs at once (stacked: ``gantools.training.stacked``), member k from
    seed ``config.member_seed(k)``; the first is the returned networks', the others' EMA generators come
    back as ``Networks.members``. With early stopping each member trains and stops on its own.
    ``resume``: a checkpoint of an interrupted run on the same rows and settings (``Networks.checkpoint``):
    the GAN phase continues from it (or, when it had ended, is not run again), exactly where it stopped.
    ``autosave``: where the GAN phase's checkpoint is written now and then while it runs (``Autosave``).
    """
    config = config.resolve_sizes(n_classes, len(X), X.shape[1])
    if gan_steps is None:
        gan_steps = config.resolved_epochs(len(X)) * config.steps_per_epoch(len(X))
    early = validation is not None and len(validation[0]) > 0 and config.use_early_stopping(n_classes)
    if early and members > 1:  # each member stops at its own step: trained one after another
        nets = train_networks(
            X, y, n_classes, cat_slices, config, progress, validation, gan_steps, encoder, 1, resume, autosave
        )
        for k in range(1, members):
            if nets.interrupted:
                break
            member_config = dataclasses.replace(config, seed=config.member_seed(k))
            named = None
            if progress is not None:
                named = lambda phase, *a, k=k: progress(f"Training generator {k + 1}/{members}", *a)  # noqa: E731
            other = train_networks(X, y, n_classes, cat_slices, member_config, named, validation, gan_steps, False)
            nets.interrupted = other.interrupted
            if not other.interrupted:
                nets.members.append(other.generator_ema)
        return nets.eval()
    ensemble = []
    for k in range(members):
        torch.manual_seed(config.member_seed(k))
        ensemble.append(build_networks(X.shape[1], n_classes, config, X.device))
    nets = ensemble[0]
    if nets.generator.gaussian_base:
        moments = gaussian_moments(X, y, n_classes, cat_slices, config.latent_dim)
        for member in ensemble:
            member.generator.set_gaussian_base(*moments)
    stacked = StackedGAN.from_modules([m.generator for m in ensemble], [m.discriminator for m in ensemble])
    rng = torch.Generator(device=X.device).manual_seed(config.seed)
    selector = None
    if early:
        selector = SnapshotSelector(
            *validation,
            cat_slices,
            config.latent_dim,
            config.gumbel_tau,
            config.seed,
            every=max(25, gan_steps // 40),
            patience=config.patience,
            posterior=nets.generator.gaussian_base,  # small data: the class posterior; otherwise each class's own fit
        )
    sampler = ClassBalancedSampler(y, n_classes, rng)
    batch = min(config.batch_size, max(len(X), 8))
    run = _GanRun(stacked, X, sampler, batch, n_classes, cat_slices, config, rng)
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k != "device"}
    key = fingerprint(X, y, *(validation or ()), settings, gan_steps, members)
    if autosave is not None:
        run.autosave = lambda step: autosave.maybe(lambda: run.capture(step, False, selector, key))
    if resume is None:
        step = run.train(gan_steps, progress, selector, nets)
    elif resume.fingerprint != key:
        raise GantoolsError(
            f"the data or settings differ from those of the interrupted training ({resume.where}); --resume "
            "needs the same data, label and options (or train without --resume)"
        )
    else:
        run.restore(resume, selector)
        step = resume.step if resume.finished else run.train(gan_steps, progress, selector, nets, resume.step)
    nets.checkpoint = run.capture(step, not run.interrupted, selector, key)
    if autosave is not None and autosave.written and not run.interrupted:  # a long GAN phase ended: not redone
        autosave.save(nets.checkpoint)  # if what comes after it (the encoder, calibration) is killed
    for k, member in enumerate(ensemble):
        stacked.export(k, member.generator, member.generator_ema, member.discriminator)
    nets.interrupted = run.interrupted
    if selector is not None:
        selector.restore(nets.generator_ema, nets.discriminator)
        nets.history.update(
            selected_step=selector.selected_step,
            best_step=selector.best_step,
            validation_log_likelihood=selector.selected_value,
            stopped_early=step < gan_steps and not nets.interrupted,
        )
    nets.history.update(
        gan_steps=step,
        gan_epochs=config.resolved_epochs(len(X)),
        gan_seconds=run.seconds,
        gan_members=members,
        final_loss_d=run.losses[0],
        final_loss_g=run.losses[1],
    )
    nets.members = [m.generator_ema for m in ensemble[1:]]  # stopped early too: all at the same step
    enc_steps = config.resolved_encoder_steps(gan_steps)
    if nets.interrupted:  # stopped early: an encoder in proportion to the GAN steps actually taken
        enc_steps = min(enc_steps, config.resolved_encoder_steps(step))
    if encoder:
        _train_encoder(nets, X, sampler, batch, enc_steps, cat_slices, config, rng, progress)
    return nets.eval()


class _GanRun:
    """The GAN steps of every stacked member, with their optimisers."""

    def __init__(
        self,
        stacked: StackedGAN,
        X: torch.Tensor,
        sampler: ClassBalancedSampler,
        batch: int,
        n_classes: int,
        cat_slices: list[tuple[int, int]],
        config: TrainConfig,
        rng: torch.Generator,
    ) -> None:
        self.stacked, self.X, self.sampler, self.batch = stacked, X, sampler, batch
        self.cat_slices, self.config, self.rng = cat_slices, config, rng
        self.opt_g = Adam([stacked.g_flat], config.lr_g, (0.5, 0.9), grads=[stacked.g_grad])
        self.opt_d = Adam([stacked.d_flat], config.lr_d, (0.5, 0.9), grads=[stacked.d_grad])
        self.use_ac = n_classes > 1 and config.ac_weight > 0
        self.batch_stats = config.use_minibatch_std(n_classes)
        self.numeric = numeric_slots(X.shape[1], cat_slices).to(X.device)
        self.marginal = config.marginal_weight > 0 and len(self.numeric) > 0
        self.ema_pairs = ([stacked.g_ema_flat], [stacked.g_flat])
        self.interrupted = False
        self.seconds = 0.0
        self.losses = (0.0, 0.0)
        # the state after that many steps, to the autosave when one is due (set by train_networks)
        self.autosave: Callable[[int], None] | None = None

    def step(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """One step of D then G for every member; returns the summed losses (D, G)."""
        stacked, config, batch, k = self.stacked, self.config, self.batch, self.stacked.members
        rows, classes = self.sampler(k * batch)
        rows, classes = rows.view(k, batch), classes.view(k, batch)
        real = self.X[rows]
        z = torch.randn(k, batch, config.latent_dim, device=real.device, generator=self.rng)
        fake = activate_output(stacked.generate(z, classes), self.cat_slices, config.gumbel_tau)
        # the critic's step: real and fake rows in one pass, spectral norm's power iteration once
        weights = stacked.spectral_weights(power_iteration=True)
        both, both_classes = torch.cat([real, fake.detach()], 1), torch.cat([classes, classes], 1)
        scores, features = stacked.critic(weights, both, both_classes, self.batch_stats, 2)
        d_real, d_fake = scores[:, :batch], scores[:, batch:]
        loss_d = (F.relu(1.0 - d_real).mean(1) + F.relu(1.0 + d_fake).mean(1)).sum()
        if self.use_ac:  # the auxiliary classifier learns the classes from real rows only
            logits = stacked.classify(weights, features[:, :batch])
            loss_d = loss_d + config.ac_weight * k * F.cross_entropy(logits.flatten(0, 1), classes.flatten())
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        # G's step against the updated critic, with no gradients into the critic's weights
        with torch.no_grad():
            weights = stacked.spectral_weights(power_iteration=False)
        d_fake, f_fake = stacked.critic(weights, fake, classes, self.batch_stats, 1)
        loss_g = -d_fake.mean(1).sum()
        if self.marginal:
            fake_num, real_num = fake[..., self.numeric], real[..., self.numeric]
            loss_g = loss_g + config.marginal_weight * k * marginal_distance(fake_num, real_num)
        if self.use_ac:
            logits = stacked.classify(weights, f_fake)
            loss_g = loss_g + config.ac_weight * k * F.cross_entropy(logits.flatten(0, 1), classes.flatten())
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        decay = config.ema_decay if step > 100 else 0.0
        with torch.no_grad():
            torch._foreach_lerp_(*self.ema_pairs, 1.0 - decay)
        return loss_d, loss_g

    def train(
        self,
        gan_steps: int,
        progress: ProgressFn | None,
        selector: SnapshotSelector | None,
        nets: Networks,
        start: int = 0,
    ) -> int:
        """Steps ``start + 1`` to ``gan_steps`` (fewer when early stopping or Ctrl+C stops them); the steps
        taken in all."""
        k, tick = self.stacked.members, max(1, gan_steps // 100)
        started = time.perf_counter()
        loss_d = loss_g = torch.zeros(())
        step = start
        try:
            for step in range(start + 1, gan_steps + 1):
                check_stop()
                if self.autosave is not None:
                    self.autosave(step - 1)  # the state between two steps, as a stop would capture it
                loss_d, loss_g = self.step(step)
                if progress and (step % tick == 0 or step in (1, gan_steps)):
                    progress("gan", step, gan_steps, {"loss_d": loss_d.item() / k, "loss_g": loss_g.item() / k})
                if selector is not None and step == 1 and nets.generator.gaussian_base:
                    self.stacked.export(0, nets.generator, nets.generator_ema, nets.discriminator)
                    selector.check(0, nets.generator_ema, nets.discriminator)  # the Gaussian start competes too
                if selector is not None and step >= gan_steps // 10 and step % selector.every == 0:
                    self.stacked.export(0, nets.generator, nets.generator_ema, nets.discriminator)
                    if selector.check(step, nets.generator_ema, nets.discriminator):
                        break
        except KeyboardInterrupt:  # the step in progress did not start (check_stop) or did not finish
            self.interrupted, step = True, step - 1
        self.seconds = time.perf_counter() - started
        self.losses = (float(loss_d.detach()) / k, float(loss_g.detach()) / k)
        return step

    def capture(self, step: int, finished: bool, selector: SnapshotSelector | None, key: str) -> Checkpoint:
        """The run's state after ``step`` steps (G, its EMA, D with spectral norm's vectors, the optimisers,
        the random streams, the selector's snapshots)."""
        s = self.stacked
        tensors = {"g": s.g_flat.detach().clone(), "g_ema": s.g_ema_flat.clone(), "d": s.d_flat.detach().clone()}
        for name, (u, v) in s.sn_vectors.items():
            tensors[f"sn.{name}.u"], tensors[f"sn.{name}.v"] = u.clone(), v.clone()
        meta: dict = {"losses": list(self.losses)}
        for label, opt in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            for i, (m, v) in enumerate(zip(opt.exp_avg, opt.exp_avg_sq)):
                tensors[f"{label}.{i}.m"], tensors[f"{label}.{i}.v"] = m.clone(), v.clone()
            meta[f"{label}_steps"] = list(opt.steps)
        tensors.update(rng_states(self.rng))
        if selector is not None:
            selector_tensors, meta["selector"] = selector.state()
            tensors.update({f"selector.{k}": v for k, v in selector_tensors.items()})
        return Checkpoint(step, finished, key, tensors, meta)

    def restore(self, checkpoint: Checkpoint, selector: SnapshotSelector | None) -> None:
        """Load ``capture``'s state (from a run on the same rows and settings: its fingerprint matched)."""
        s, t = self.stacked, checkpoint.tensors
        pairs = [(s.g_flat, "g"), (s.g_ema_flat, "g_ema"), (s.d_flat, "d")]
        for name, (u, v) in s.sn_vectors.items():
            pairs += [(u, f"sn.{name}.u"), (v, f"sn.{name}.v")]
        for label, opt in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            for i, (m, v) in enumerate(zip(opt.exp_avg, opt.exp_avg_sq)):
                pairs += [(m, f"{label}.{i}.m"), (v, f"{label}.{i}.v")]
        try:
            with torch.no_grad():
                for target, name in pairs:
                    target.copy_(t[name].view_as(target))
            for label, opt in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
                opt.steps = [int(n) for n in checkpoint.meta[f"{label}_steps"]][: len(opt.steps)]
            set_rng_states(self.rng, t)
            self.losses = tuple(float(x) for x in checkpoint.meta["losses"])
            if selector is not None:
                selector.load_state({k[9:]: v for k, v in t.items() if k.startswith("selector.")}, checkpoint.meta)
        except (KeyError, RuntimeError, ValueError, TypeError) as exc:
            raise GantoolsError(f"the checkpoint does not fit this training ({exc}); train without --resume") from None


def numeric_slots(n_features: int, cat_slices: list[tuple[int, int]]) -> torch.Tensor:
    """Indices of the slots outside every one-hot block."""
    numeric = torch.ones(n_features, dtype=torch.bool)
    for start, end in cat_slices:
        numeric[start:end] = False
    return torch.nonzero(numeric).squeeze(1)


def marginal_distance(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean over columns of the squared 1-D Wasserstein-2 distance between two equal-sized batches (rows on
    the second-to-last axis; members of a stack on the first): each column's sorted values compared in order
    (the optimal 1-D coupling). 0 when every column's values agree."""
    return (fake.sort(dim=-2).values - real.sort(dim=-2).values).square().mean()


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
) -> None:
    """E with G and D frozen: each step reconstructs a batch of real rows and one of G's rows (one pass of E
    and of G over both, one pass of D's features over the reconstructions and the real rows)."""
    g, e = nets.generator_ema, nets.encoder
    g.requires_grad_(False)
    features = _frozen_features(nets.discriminator)
    opt_e = Adam(e.parameters(), config.lr_e, (0.9, 0.99))
    tick = max(1, steps // 100)
    started = time.perf_counter()
    loss = torch.zeros((), device=X.device)
    step = 0
    try:
        for step in range(1, steps + 1):
            check_stop()
            rows, classes = sampler(batch)
            real = X[rows]
            # Generated rows are unlimited draws from what G learned: reconstructing them too teaches E
            # the whole normal manifold, not only the training rows (which may be few).
            z = torch.randn(batch, config.latent_dim, device=X.device, generator=rng)
            both_classes = torch.cat([classes, classes])
            with torch.no_grad():
                generated = decode(g, z, classes, cat_slices)
            z_hat = e(torch.cat([real, generated]), both_classes)
            recon = decode(g, z_hat, both_classes, cat_slices)
            loss_x = F.mse_loss(recon[:batch], real)
            f_both = features(torch.cat([recon[:batch], real]))
            loss_f = F.mse_loss(f_both[:batch], f_both[batch:])
            loss_gx = F.mse_loss(recon[batch:], generated)
            loss_z = F.mse_loss(z_hat[batch:], z)
            loss = loss_x + config.feature_weight * loss_f + config.generated_weight * loss_gx + 0.1 * loss_z
            opt_e.zero_grad()
            loss.backward()
            opt_e.step(config.lr_e * 0.5 * (1.0 + math.cos(math.pi * (step - 1) / max(steps, 1))))  # cosine decay
            if progress and (step % tick == 0 or step in (1, steps)):
                progress("encoder", step, steps, {"loss": loss.item()})
    except KeyboardInterrupt:
        nets.interrupted, step = True, step - 1
    nets.history.update(
        encoder_steps=step, encoder_seconds=time.perf_counter() - started, final_loss_e=float(loss.detach())
    )


def _frozen_features(d: Discriminator) -> Callable[[torch.Tensor], torch.Tensor]:
    """D's feature map f(x) with its spectrally normalised weights computed once (D is frozen)."""
    d.eval()
    with torch.no_grad():
        layers = [(m.weight.detach().clone(), m.bias.detach().clone()) for m in d.body if isinstance(m, nn.Linear)]

    def features(x: torch.Tensor) -> torch.Tensor:
        for weight, bias in layers:
            x = F.leaky_relu(F.linear(x, weight, bias), LEAK)
        return x

    return features


def decode(g: Generator, z: torch.Tensor, classes: torch.Tensor, cat_slices: list[tuple[int, int]]) -> torch.Tensor:
    """G's deterministic output: numeric slots raw, one-hot blocks as softmax probabilities."""
    raw = g(z, classes)
    if not cat_slices:
        return raw
    parts, pos = [], 0
    for start, end in cat_slices:
        if start > pos:
            parts.append(raw[..., pos:start])
        parts.append(torch.softmax(raw[..., start:end], dim=-1))
        pos = end
    if pos < raw.shape[-1]:
        parts.append(raw[..., pos:])
    return torch.cat(parts, dim=-1)
