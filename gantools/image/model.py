"""ImageGAN: a conditional image GAN per dataset, for augmentation and anomaly scoring.

Images live on the device as one uint8 tensor and are scaled to [-1, 1] in the step. The GAN trains with
hinge loss, spectral norm in D, an EMA copy of G and DiffAugment on both of D's inputs; then an encoder E is
trained with G and D frozen (as for tables: reconstruction of real and generated images plus D's feature
residual). The score of an image is calibrated with the tabular model's ``ScoreCalibration`` on held-out
images: the reconstruction error |x − G(E(x))|² per channel and D's verdict −D(x, y) (in the calibration's
third slot), each standardised, equally weighted; the threshold is a quantile of the held-out scores.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from gantools.bundle import IMAGE_FORMAT, load_weights, read_bundle, settings_checked, write_bundle
from gantools.class_mix import counts_from_fractions, parse_class_mix
from gantools.errors import GantoolsError, UsageError
from gantools.fields import checked_fields, matches
from gantools.image.io import RESOLUTIONS, ImageSet
from gantools.image.networks import ImageDiscriminator, ImageEncoder, ImageGenerator, diff_augment
from gantools.progress import training_progress
from gantools.scoring import RawParts, ScoreCalibration
from gantools.training.checkpoint import Autosave, Checkpoint, fingerprint, rng_states, set_rng_states
from gantools.training.device import resolve_device
from gantools.training.stop import check_stop, stoppable
from gantools.training.trainer import ClassBalancedSampler

ProgressFn = Callable[[str, int, int, dict[str, float]], None]
MIN_IMAGES_PER_CLASS = 2
MIN_STEPS, MAX_STEPS = 2000, 6000
SCORE_BATCH = 512
# (reconstruction, D's feature residual, −D(x, y)). One-class MNIST, the same networks: reconstruction + D's
# feature residual (the score before) 0.956 mean AUROC, all three equally 0.972, reconstruction + critic 0.976
# (min over digits 0.897 / 0.943 / 0.947; KNN on pixels 0.956): benchmarks/results/image_score_parts_s25.md
SCORE_WEIGHTS = (0.5, 0.0, 0.5)


@dataclass
class ImageConfig:
    """Training settings of an image model (all recorded in the model)."""

    steps: int | None = None  # GAN steps (batches of D then G); None: one per training image, 2,000 to 6,000
    encoder_steps: int | None = None  # None: a third of the GAN steps
    batch_size: int = 64
    latent_dim: int = 64
    width: int = 32  # channels of G's last and D's first conv (doubling with depth)
    lr: float = 2e-4
    # None: 1 − 20 / steps, an average over the last 5% of the run (0.99 at 2,000 steps, 0.9967 at 6,000). A fixed
    # 0.999 averaged half of a 2,000-step run on 100 images into faint, blurred digits (class-consistency 0.57
    # against 0.81 at 0.99; benchmarks/results/image_settings_s24.md)
    ema_decay: float | None = None
    diversity_weight: float = 0.3  # mode-seeking term (Mao et al. 2019): G pays for mapping two z's of a class alike
    # auxiliary classifier on D's features (AC-GAN): D learns the classes from real images, G pays cross-entropy
    # for images D reads as another class. 0.5: class-consistency 0.969 -> 0.994 (min 0.932 -> 0.969) on MNIST,
    # recall 0.73 -> 0.63 (benchmarks/results/image_quality_mnist_s24_ac.md, image_settings_s24.md)
    class_weight: float = 0.5
    holdout_fraction: float = 0.1  # held-out images that calibrate the score
    seed: int = 0
    device: str = "auto"

    def validate(self) -> None:
        for name in ("steps", "encoder_steps", "batch_size", "latent_dim", "width"):
            value = getattr(self, name)
            if value is None and name.endswith("steps"):
                continue
            if not isinstance(value, int) or value < (0 if name.endswith("steps") else 1):
                raise UsageError(f"{name} must be a whole number ≥ {0 if name.endswith('steps') else 1}, not {value}")
        for name in ("lr", "diversity_weight", "ema_decay", "class_weight"):
            value = getattr(self, name)
            if value is None and name == "ema_decay":
                continue
            low_ok = name != "lr"
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or (value < 0 or (value == 0 and not low_ok) or (name == "ema_decay" and value >= 1))
            ):
                bound = "in [0, 1)" if name == "ema_decay" else ("≥ 0" if low_ok else "> 0")
                raise UsageError(f"{name} must be a number {bound}, not {value!r}")
        if not 0 < self.holdout_fraction < 0.5:
            raise UsageError(f"holdout_fraction must be in (0, 0.5), not {self.holdout_fraction}")


def resolve_steps(config: ImageConfig, n_train: int) -> tuple[int, int]:
    """(GAN steps, encoder steps): as configured, or one GAN step per training image from 2,000 to 6,000
    and a third of that for the encoder."""
    steps = config.steps if config.steps is not None else int(min(max(n_train, MIN_STEPS), MAX_STEPS))
    return steps, config.encoder_steps if config.encoder_steps is not None else max(1, steps // 3)


def mixed_precision(device: torch.device) -> torch.autocast:
    """bfloat16 autocast on a GPU (no loss scaling needed); a no-op on the CPU."""
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")


def batch_of(config: ImageConfig, n_images: int) -> int:
    """Images per step: the configured batch, or fewer for a handful of images (at least 8)."""
    return min(config.batch_size, max(n_images, 8))


def to_unit(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return images.float().div_(127.5).sub_(1.0)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """float [-1, 1] -> uint8 [0, 255]."""
    return ((x.clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)


class ImageGAN:
    """A conditional GAN for a folder of images (``gantools.image.io.read_images``)."""

    def __init__(self, config: ImageConfig | None = None, verbose: bool = False) -> None:
        self.config = config or ImageConfig()
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        data: ImageSet,
        progress: ProgressFn | None = None,
        resume: Checkpoint | None = None,
        source: str = "the images",
        autosave: Autosave | None = None,
    ) -> ImageGAN:
        """Train G, D, E on ``data`` (minus a held-out share per class) and calibrate the score.

        Ctrl+C or SIGTERM stops training at the next step (the model is completed from what was learned;
        ``checkpoint_`` holds the state to continue from); ``resume``: a saved model's checkpoint (same images and
        settings) to continue from where it stopped. ``source`` names the images in errors; ``autosave`` writes the
        GAN phase's checkpoint now and then while it runs."""
        config = self.config
        config.validate()
        counts = np.bincount(data.labels[data.labels >= 0], minlength=len(data.classes))
        for name, count in zip(data.classes, counts):
            if count < MIN_IMAGES_PER_CLASS:
                raise GantoolsError(
                    f"class '{name}' of {source} has {count} readable image(s); at least {MIN_IMAGES_PER_CLASS} are "
                    "needed to train: add images to its folder, or remove the folder"
                )
        if data.images.shape[-1] not in RESOLUTIONS:
            raise GantoolsError(f"images must be {RESOLUTIONS} pixels square, not {tuple(data.images.shape[-2:])}")
        self.device_ = resolve_device(config.device)
        self.classes_ = list(data.classes)
        self.channels_, self.resolution_ = int(data.images.shape[1]), int(data.images.shape[-1])
        self.class_counts_ = counts.tolist()
        torch.manual_seed(config.seed)
        train_idx, hold_idx = _stratified_split(data.labels, config.holdout_fraction, config.seed)
        images = data.images.to(self.device_)
        labels = torch.as_tensor(data.labels, device=self.device_)
        self._build()
        self.steps_, self.encoder_steps_ = resolve_steps(config, len(train_idx))
        started = time.perf_counter()
        self._interrupted = False
        with training_progress(self.verbose and progress is None) as bars, stoppable():
            progress = progress or bars
            history, checkpoint = self._train_gan(images[train_idx], labels[train_idx], progress, resume, autosave)
            history.update(self._train_encoder(images[train_idx], labels[train_idx], progress))
        self.checkpoint_ = checkpoint if self._interrupted else None
        history["interrupted"] = self._interrupted
        history["device"] = str(self.device_)
        history["gan_images_per_second"] = (
            history["gan_steps"] * batch_of(config, len(train_idx)) / max(history["gan_seconds"], 1e-9)
        )
        history["fit_seconds"] = time.perf_counter() - started
        history["train_images"], history["holdout_images"] = len(train_idx), len(hold_idx)
        self.history_ = history
        self._calibrate(images[hold_idx], labels[hold_idx])
        return self

    def _build(self) -> None:
        c, k = self.config, len(self.classes_)
        args = (k, self.channels_, self.resolution_, c.width)
        self.generator_ = ImageGenerator(c.latent_dim, *args).to(self.device_)
        self.generator_ema_ = copy.deepcopy(self.generator_).requires_grad_(False)
        self.discriminator_ = ImageDiscriminator(*args).to(self.device_)
        self.encoder_ = ImageEncoder(c.latent_dim, *args).to(self.device_)

    def _train_gan(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        progress: ProgressFn | None,
        resume: Checkpoint | None,
        autosave: Autosave | None = None,
    ) -> tuple[dict, Checkpoint]:
        c = self.config
        g, d, g_ema = self.generator_, self.discriminator_, self.generator_ema_
        g.train(), d.train()
        opt_g = torch.optim.Adam(g.parameters(), c.lr, betas=(0.0, 0.99))
        opt_d = torch.optim.Adam(d.parameters(), c.lr, betas=(0.0, 0.99))
        rng = torch.Generator(device=self.device_).manual_seed(c.seed)
        sampler = ClassBalancedSampler(labels, len(self.classes_), rng)
        batch = batch_of(c, len(images))
        colour = self.channels_ == 3
        use_classes = c.class_weight > 0 and len(self.classes_) > 1
        steps = self.steps_
        ema_decay = c.ema_decay if c.ema_decay is not None else max(0.0, 1.0 - 20.0 / steps)
        tick = max(1, steps // 100)
        loss_d = loss_g = torch.zeros(())
        settings = {k: v for k, v in asdict(c).items() if k != "device"}
        key = fingerprint(images, labels, settings, steps)
        nets = {"generator": g, "generator_ema": g_ema, "discriminator": d}
        optimisers = {"opt_g": opt_g, "opt_d": opt_d}
        first, last = 1, steps
        if resume is not None:
            if resume.fingerprint != key:
                raise GantoolsError(
                    f"the images or settings differ from those of the interrupted training ({resume.where}); "
                    "--resume needs the same images and options (or train without --resume)"
                )
            _restore(resume, nets, optimisers, rng)
            first, last = resume.step + 1, (resume.step if resume.finished else steps)
            for opt in (opt_d, opt_g):  # the rate the linear decay had reached
                for group in opt.param_groups:
                    group["lr"] = c.lr * (1.0 - resume.step / steps)
        started, step = time.perf_counter(), first - 1
        try:
            for step in range(first, last + 1):
                check_stop()
                if autosave is not None:  # the state between two steps, as a stop captures it
                    autosave.maybe(lambda step=step: _capture(step - 1, False, key, nets, optimisers, rng))
                rows, classes = sampler(batch)
                real = to_unit(images[rows])
                z = torch.randn(batch, c.latent_dim, device=self.device_, generator=rng)
                half = batch // 2
                fake_classes = torch.cat([classes[:half], classes[:half], classes[2 * half :]])  # pairs of a class
                with mixed_precision(self.device_):
                    fake = g(z, fake_classes)
                    both = diff_augment(torch.cat([real, fake.detach()]), rng, colour)
                    scores, features = d(both, torch.cat([classes, fake_classes]))
                scores = scores.float()
                loss_d = F.relu(1.0 - scores[:batch]).mean() + F.relu(1.0 + scores[batch:]).mean()
                if use_classes:  # D learns the classes from real images only
                    loss_d = loss_d + c.class_weight * F.cross_entropy(d.classify(features[:batch]).float(), classes)
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
                with mixed_precision(self.device_):
                    score_fake, features_fake = d(diff_augment(fake, rng, colour), fake_classes)
                loss_g = -score_fake.float().mean()
                if use_classes:
                    logits = d.classify(features_fake).float()
                    loss_g = loss_g + c.class_weight * F.cross_entropy(logits, fake_classes)
                if c.diversity_weight > 0:
                    apart = (fake[:half] - fake[half : 2 * half]).float().abs().mean(dim=(1, 2, 3))
                    ratio = apart / (z[:half] - z[half : 2 * half]).abs().mean(dim=1)
                    loss_g = loss_g + c.diversity_weight / (ratio.mean() + 1e-5)
                opt_g.zero_grad(set_to_none=True)
                loss_g.backward()
                opt_g.step()
                for opt in (opt_d, opt_g):  # linear decay to 0: the last steps settle instead of wandering
                    for group in opt.param_groups:
                        group["lr"] = c.lr * (1.0 - step / steps)
                decay = ema_decay if step > 100 else 0.0
                with torch.no_grad():
                    for p_ema, p in zip(g_ema.parameters(), g.parameters()):
                        p_ema.lerp_(p, 1.0 - decay)
                    for b_ema, b in zip(g_ema.buffers(), g.buffers()):
                        b_ema.copy_(b)
                if progress and (step % tick == 0 or step in (1, steps)):
                    progress("gan", step, steps, {"loss_d": loss_d.item(), "loss_g": loss_g.item()})
        except KeyboardInterrupt:  # Ctrl+C / SIGTERM: keep what was learned, train the encoder, save
            step -= 1
            self._interrupted = True
        g_ema.eval()
        checkpoint = _capture(step, not self._interrupted, key, nets, optimisers, rng)
        if autosave is not None and autosave.written and not self._interrupted:  # a long GAN phase ended
            autosave.save(checkpoint)  # not redone if what comes after it (the encoder, calibration) is killed
        history = {
            "gan_steps": step,
            "gan_seconds": time.perf_counter() - started,
            "final_loss_d": float(loss_d.detach()),
            "final_loss_g": float(loss_g.detach()),
        }
        return history, checkpoint

    def _train_encoder(self, images: torch.Tensor, labels: torch.Tensor, progress: ProgressFn | None) -> dict:
        c = self.config
        g, d, e = self.generator_ema_, self.discriminator_, self.encoder_
        g.eval(), d.eval(), e.train()
        d.requires_grad_(False)
        opt = torch.optim.Adam(e.parameters(), 1e-3, betas=(0.9, 0.99))
        rng = torch.Generator(device=self.device_).manual_seed(c.seed + 1)
        sampler = ClassBalancedSampler(labels, len(self.classes_), rng)
        batch = batch_of(c, len(images))
        steps = self.encoder_steps_
        tick = max(1, steps // 100)
        loss = torch.zeros(())
        started, step = time.perf_counter(), 0
        try:
            for step in range(1, steps + 1):
                check_stop()
                rows, classes = sampler(batch)
                real = to_unit(images[rows])
                z = torch.randn(batch, c.latent_dim, device=self.device_, generator=rng)
                with torch.no_grad():
                    generated = g(z, classes)
                both = torch.cat([real, generated])
                both_classes = torch.cat([classes, classes])
                z_hat = e(both, both_classes)
                recon = g(z_hat, both_classes)
                _, f_recon = d(recon[:batch], classes)
                _, f_real = d(real, classes)
                loss = (
                    F.mse_loss(recon, both)
                    + F.mse_loss(f_recon, f_real.detach()) / max(float(f_real.detach().var()), 1e-6)
                    + 0.1 * F.mse_loss(z_hat[batch:], z)
                )
                opt.zero_grad(set_to_none=True)
                loss.backward()
                for group in opt.param_groups:  # cosine decay
                    group["lr"] = 1e-3 * 0.5 * (1.0 + math.cos(math.pi * (step - 1) / max(steps, 1)))
                opt.step()
                if progress and (step % tick == 0 or step in (1, steps)):
                    progress("encoder", step, steps, {"loss": loss.item()})
        except KeyboardInterrupt:
            step -= 1
            self._interrupted = True
        d.requires_grad_(True)
        e.eval()
        return {
            "encoder_steps": step,
            "encoder_seconds": time.perf_counter() - started,
            "final_loss_e": float(loss.detach()),
        }

    # ------------------------------------------------------------------ scoring
    @torch.no_grad()
    def _raw_parts(
        self, images: torch.Tensor, classes: torch.Tensor, with_feature: bool = False
    ) -> tuple[RawParts, torch.Tensor]:
        """Raw parts of each image against one class each, and the reconstructions (uint8). D's feature
        residual only ``with_feature`` (models saved before session 25 weigh it); 0 otherwise."""
        per_channel, feature, critic, recons = [], [], [], []
        g, d, e = self.generator_ema_, self.discriminator_, self.encoder_
        for start in range(0, len(images), SCORE_BATCH):
            x = to_unit(images[start : start + SCORE_BATCH].to(self.device_))
            y = classes[start : start + SCORE_BATCH].to(self.device_)
            x_hat = g(e(x, y), y)
            s_real, f_real = d(x, y)
            per_channel.append((x - x_hat).square().mean(dim=(2, 3)).cpu())
            if with_feature:
                feature.append((f_real - d(x_hat, y)[1]).square().mean(dim=1).cpu())
            else:
                feature.append(torch.zeros(len(x)))
            critic.append(s_real.cpu())
            recons.append(to_uint8(x_hat).cpu())
        critic_values = torch.cat(critic).double().numpy()
        # −D(x, y), how unreal D finds the image, is the score's second part (the calibration's density slot)
        parts = RawParts(
            torch.cat(per_channel).double().numpy(),
            torch.cat(feature).double().numpy(),
            critic_values,
            density=-critic_values,
        )
        return parts, torch.cat(recons)

    def _calibrate(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        parts, _ = self._raw_parts(images, labels)
        self.calibration_ = ScoreCalibration.fit(parts, SCORE_WEIGHTS)
        own = self.calibration_.standardise(parts)[0]
        best = self._best_class_scores(images)[0]
        self.calibration_.holdout_scores = best.tolist()
        self.calibration_.holdout_scores_by_class = {
            name: own[labels.cpu().numpy() == k].tolist() for k, name in enumerate(self.classes_)
        }

    @property
    def _weighs_feature(self) -> bool:
        """Whether the score weighs D's feature residual (models saved before session 25)."""
        return self.calibration_.weight_discriminator > 0

    def _best_class_scores(self, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """Per image: the lowest score over the classes, that class, and every class's standardised parts."""
        scores, parts_by_class = [], []
        for k in range(len(self.classes_)):
            parts, _ = self._raw_parts(images, torch.full((len(images),), k, dtype=torch.long), self._weighs_feature)
            total, rec, _, critic = self.calibration_.standardise(parts)
            scores.append(total)
            parts_by_class.append(np.stack([rec, critic], axis=1))
        matrix = np.stack(scores, axis=1)
        best = matrix.argmin(axis=1)
        return matrix[np.arange(len(images)), best], best, parts_by_class

    def score(self, data: ImageSet, fpr: float = 0.05, normal_class: str | None = None) -> pd.DataFrame:
        """One row per image: ``source``, ``score`` (higher = more anomalous), its parts, ``class``,
        ``is_anomaly`` at the threshold that flags about ``fpr`` of held-out normal images (``attrs``:
        ``threshold``)."""
        self._check_fitted()
        if not 0 < fpr < 1:
            raise UsageError(f"fpr must be in (0, 1), not {fpr}")
        images = data.images
        expected = (self.channels_, self.resolution_, self.resolution_)
        if tuple(images.shape[1:]) != expected:
            raise GantoolsError(f"images are {tuple(images.shape[1:])}; the model reads {expected}")
        if normal_class is not None:
            if normal_class not in self.classes_:
                raise UsageError(f"class '{normal_class}' is not one of the model's: {', '.join(self.classes_)}")
            k = self.classes_.index(normal_class)
            parts, _ = self._raw_parts(images, torch.full((len(images),), k, dtype=torch.long), self._weighs_feature)
            total, rec, _, critic = self.calibration_.standardise(parts)
            best = np.full(len(images), k)
            threshold = self.calibration_.threshold(fpr, normal_class)
        else:
            total, best, by_class = self._best_class_scores(images)
            chosen = np.stack([by_class[c][i] for i, c in enumerate(best)]) if len(best) else np.zeros((0, 2))
            rec, critic = chosen[:, 0], chosen[:, 1]
            threshold = self.calibration_.threshold(fpr)
        frame = pd.DataFrame(
            {
                "source": data.sources,
                "score": total,
                "score_reconstruction": rec,
                "score_critic": critic,
                "class": [self.classes_[c] for c in best],
                "is_anomaly": total > threshold,
            }
        )
        frame.attrs["threshold"] = float(threshold)
        return frame

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        """G(E(x, y), y) as uint8 images."""
        self._check_fitted()
        return self._raw_parts(images, classes)[1]

    # ------------------------------------------------------------------ sampling
    @torch.no_grad()
    def sample(
        self, n: int, class_mix: str | dict = "original", seed: int | None = None
    ) -> tuple[torch.Tensor, np.ndarray]:
        """``n`` generated images (uint8, (n, C, R, R)) and their class indices, class by class.

        ``class_mix``: ``original`` (the training images' mix), ``balanced``, ``"A=0.3,B=0.7"`` or a dict.
        """
        self._check_fitted()
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise UsageError(f"n must be a whole number ≥ 0, not {n!r}")
        fractions = parse_class_mix(class_mix, self.classes_, self.class_counts_)
        counts = counts_from_fractions(int(n), fractions)
        labels = torch.repeat_interleave(torch.arange(len(self.classes_)), torch.as_tensor(counts))
        rng = torch.Generator(device=self.device_).manual_seed(self.config.seed + 7 if seed is None else seed)
        out = []
        for start in range(0, int(n), SCORE_BATCH):
            y = labels[start : start + SCORE_BATCH].to(self.device_)
            z = torch.randn(len(y), self.config.latent_dim, device=self.device_, generator=rng)
            out.append(to_uint8(self.generator_ema_(z, y)).cpu())
        shape = (0, self.channels_, self.resolution_, self.resolution_)
        return (torch.cat(out) if out else torch.zeros(shape, dtype=torch.uint8)), labels.numpy()

    def sample_dataset(
        self, n: int, class_mix: str | dict = "original", seed: int | None = None
    ) -> torch.utils.data.TensorDataset:
        """``n`` generated images as a torchvision-ready dataset of (float image in [0, 1], class index)."""
        images, labels = self.sample(n, class_mix, seed)
        return torch.utils.data.TensorDataset(images.float() / 255.0, torch.as_tensor(labels))

    # ------------------------------------------------------------------ save / load
    def save(self, path: str | Path) -> Path:
        self._check_fitted()
        tensors = {}
        for name, net in (
            ("generator", self.generator_ema_),
            ("discriminator", self.discriminator_),
            ("encoder", self.encoder_),
        ):
            tensors.update({f"{name}.{k}": v for k, v in net.state_dict().items()})
        config = {
            "modality": "image",
            "train_config": asdict(self.config),
            "classes": self.classes_,
            "class_counts": self.class_counts_,
            "history": self.history_,
            "calibration": self.calibration_.to_dict(),
        }
        codec = {"resolution": self.resolution_, "channels": self.channels_}
        if getattr(self, "checkpoint_", None) is not None:
            config["checkpoint"], checkpoint_tensors = self.checkpoint_.to_bundle()
            tensors.update(checkpoint_tensors)
        return write_bundle(path, config, codec, tensors, IMAGE_FORMAT)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> ImageGAN:
        """Load a model folder written by ``save``: checked against its manifest, its JSON fields against
        their types and ranges, its weights against the networks the config names (one line when not)."""
        config, codec, tensors = read_bundle(path, IMAGE_FORMAT)
        with settings_checked(path):
            return cls._from_bundle(Path(path), device, config, codec, tensors)

    @classmethod
    def _from_bundle(
        cls, path: Path, device: str, config: dict, codec: dict, tensors: dict[str, torch.Tensor]
    ) -> ImageGAN:
        where = f"model in '{path}', config.json"
        settings = checked_fields(ImageConfig, config["train_config"], f"{where} train_config")
        model = cls(ImageConfig(**{**settings, "device": device}))
        try:
            model.config.validate()
        except UsageError as exc:  # a value out of range in the folder: damaged data, not the caller's usage
            raise GantoolsError(f"{where} train_config: {exc}; train again") from None
        model.device_ = resolve_device(device)
        classes, counts = config["classes"], config["class_counts"]
        if not matches(classes, list[str]) or not matches(counts, list[int]) or len(classes) != len(counts):
            raise GantoolsError(f"{where}: 'classes' and 'class_counts' do not agree; train again")
        model.classes_, model.class_counts_ = classes, counts
        if not matches(codec, dict[str, int]):
            raise GantoolsError(f"model in '{path}': preprocessor.json is not the image size; train again")
        model.resolution_, model.channels_ = codec["resolution"], codec["channels"]
        if model.resolution_ not in RESOLUTIONS or model.channels_ not in (1, 3):
            raise GantoolsError(f"model in '{path}' has an unsupported image size; train again")
        if not isinstance(config["history"], dict):
            raise GantoolsError(f"{where}: 'history' is not a JSON object; train again")
        model.history_ = config["history"]
        model.calibration_ = ScoreCalibration.from_dict(
            checked_fields(ScoreCalibration, config["calibration"], f"{where} calibration")
        )

        def build(on: torch.device) -> dict[str, torch.nn.Module]:
            c, args = model.config, (len(model.classes_), model.channels_, model.resolution_, model.config.width)
            return {
                "generator": ImageGenerator(c.latent_dim, *args).to(on),
                "discriminator": ImageDiscriminator(*args).to(on),
                "encoder": ImageEncoder(c.latent_dim, *args).to(on),
            }

        nets = load_weights(path, build, tensors, model.device_)
        model.generator_ema_, model.discriminator_, model.encoder_ = (
            nets["generator"], nets["discriminator"], nets["encoder"]
        )  # fmt: skip
        model.generator_ = model.generator_ema_
        return model

    def _check_fitted(self) -> None:
        if not hasattr(self, "calibration_"):
            raise GantoolsError("this ImageGAN is not fitted yet; call fit first")


def _capture(
    step: int, finished: bool, key: str, nets: dict[str, torch.nn.Module], optimisers: dict, rng: torch.Generator
) -> Checkpoint:
    """The GAN phase's state after ``step`` steps: networks (with spectral norm's vectors), Adam's moments and
    step counts, the random streams."""
    tensors = {f"{name}.{k}": v.detach().clone() for name, net in nets.items() for k, v in net.state_dict().items()}
    for name, opt in optimisers.items():
        for i, param in enumerate(opt.param_groups[0]["params"]):
            for k, v in opt.state.get(param, {}).items():
                tensors[f"{name}.{i}.{k}"] = v.detach().clone()
    tensors.update(rng_states(rng))
    return Checkpoint(step, finished, key, tensors)


def _restore(checkpoint: Checkpoint, nets: dict[str, torch.nn.Module], optimisers: dict, rng: torch.Generator) -> None:
    t = checkpoint.tensors
    try:
        for name, net in nets.items():
            net.load_state_dict({k[len(name) + 1 :]: v for k, v in t.items() if k.startswith(name + ".")})
        for name, opt in optimisers.items():
            for i, param in enumerate(opt.param_groups[0]["params"]):
                if f"{name}.{i}.step" in t:  # "step" stays on the CPU, as torch.optim keeps it
                    opt.state[param] = {
                        k: t[f"{name}.{i}.{k}"].to("cpu" if k == "step" else param.device)
                        for k in ("step", "exp_avg", "exp_avg_sq")
                    }
        set_rng_states(rng, t)
    except (KeyError, RuntimeError, ValueError) as exc:
        raise GantoolsError(f"the checkpoint does not fit this training ({exc}); train without --resume") from None


def _stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training, held-out) indices: about ``fraction`` of each class held out, at least 1, and 1 kept."""
    rng = np.random.default_rng(seed)
    train, hold = [], []
    for c in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == c))
        k = min(max(1, round(fraction * len(rows))), len(rows) - 1)
        hold.append(rows[:k])
        train.append(rows[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(hold))
