"""Quality of generated images without downloaded weights.

A small CNN that gantools trains on the real images gives the feature space and the labels:

- class-consistency: the share of generated images of class c that the CNN labels c;
- Fréchet distance between real and generated features (as FID, but in this CNN's feature space);
- precision / recall (Kynkäänniemi et al. 2019): the share of generated images inside the real images'
  k-NN manifold, and of real images inside the generated images' one;
- coverage per class (Naeem et al. 2020): the share of real images of a class whose k-NN ball holds a
  generated image of that class (a collapsed class has low coverage).

The same CNN serves the few-labels benchmark (``train_classifier`` on real or real + generated images).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

K_NEIGHBOURS = 3  # Kynkäänniemi et al. use k = 3
FEATURES = 128


class SmallCNN(nn.Module):
    """Two conv blocks and a 128-unit feature layer: a classifier of small images, and its features."""

    def __init__(self, channels: int, n_classes: int, width: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1),
            nn.BatchNorm2d(2 * width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(2 * width * 16, FEATURES),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(FEATURES, n_classes)
        self.dropout = nn.Dropout(0.3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.body(x)))

    @torch.no_grad()
    def features(self, images: torch.Tensor, batch: int = 1024) -> np.ndarray:
        """Feature vectors (n, 128) of uint8 images."""
        self.eval()
        out = [self.body(_unit(images[i : i + batch])) for i in range(0, len(images), batch)]
        return torch.cat(out).double().numpy() if out else np.zeros((0, FEATURES))

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch: int = 1024) -> np.ndarray:
        """Class indices of uint8 images."""
        self.eval()
        out = [self(_unit(images[i : i + batch])).argmax(1) for i in range(0, len(images), batch)]
        return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)


def _unit(images: torch.Tensor) -> torch.Tensor:
    return images.float().div(127.5).sub(1.0)


def train_classifier(
    images: torch.Tensor,
    labels: np.ndarray,
    n_classes: int,
    epochs: int = 30,
    seed: int = 0,
    augment: bool = False,
    min_steps: int = 300,
    batch_size: int = 64,
) -> SmallCNN:
    """A ``SmallCNN`` trained on uint8 images (N, C, R, R) with cross-entropy and Adam.

    ``epochs`` passes (at least ``min_steps`` steps, so a few dozen images still train); ``augment``:
    random shifts (up to 1/8 of the side) and small rotations and scalings, the classic augmentation.
    """
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    model = SmallCNN(int(images.shape[1]), n_classes)
    y = torch.as_tensor(labels, dtype=torch.long)
    steps = max(min_steps, math.ceil(epochs * len(images) / batch_size))
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 2e-3, total_steps=steps)
    model.train()
    for _ in range(steps):
        rows = torch.randint(0, len(images), (min(batch_size, len(images)),), generator=rng)
        x = _unit(images[rows])
        if augment:
            x = random_affine(x, rng)
        loss = F.cross_entropy(model(x), y[rows])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    model.eval()
    return model


def random_affine(x: torch.Tensor, rng: torch.Generator, degrees: float = 10.0, scale: float = 0.1) -> torch.Tensor:
    """Classic augmentation of a [-1, 1] batch: rotation ±``degrees``, scaling ±``scale``, shifts ±1/8."""
    n = len(x)
    angle = (torch.rand(n, generator=rng) * 2 - 1) * math.radians(degrees)
    factor = 1 + (torch.rand(n, generator=rng) * 2 - 1) * scale
    shift = (torch.rand(n, 2, generator=rng) * 2 - 1) * 0.25  # 1/8 of the side in [-1, 1] coordinates
    cos, sin = torch.cos(angle) / factor, torch.sin(angle) / factor
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid, padding_mode="zeros", align_corners=False) - 1  # background stays -1


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (the FID formula)."""
    if len(a) < 2 or len(b) < 2:
        return float("nan")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr((A B)^½) = Σ √λ(A^½ B A^½): symmetric eigenproblems, stable where A or B is singular
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(values.clip(min=0))) @ vectors.T
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a).clip(min=0)
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * np.sqrt(cross).sum())


def _knn_radius(x: np.ndarray, k: int) -> np.ndarray:
    d = torch.cdist(torch.as_tensor(x), torch.as_tensor(x))
    return d.kthvalue(min(k + 1, len(x)), dim=1).values.numpy()  # k+1: the point itself is at distance 0


def _inside(points: np.ndarray, centres: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Per point: inside at least one ball (centre, radius)."""
    d = torch.cdist(torch.as_tensor(points), torch.as_tensor(centres))
    return (d <= torch.as_tensor(radius)[None, :]).any(dim=1).numpy()


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = K_NEIGHBOURS) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of feature sets."""
    if len(real) <= k or len(fake) <= k:
        return float("nan"), float("nan")
    precision = _inside(fake, real, _knn_radius(real, k)).mean()
    recall = _inside(real, fake, _knn_radius(fake, k)).mean()
    return float(precision), float(recall)


def coverage(real: np.ndarray, fake: np.ndarray, k: int = K_NEIGHBOURS) -> float:
    """Coverage (Naeem et al. 2020): share of real points whose k-NN ball holds a generated point."""
    if len(real) <= k or len(fake) == 0:
        return float("nan")
    radius = _knn_radius(real, k)
    d = torch.cdist(torch.as_tensor(real), torch.as_tensor(fake)).min(dim=1).values.numpy()
    return float((d <= radius).mean())


@dataclass
class ImageQuality:
    """Figures of generated images against real ones (see the module's docstring)."""

    classifier_accuracy: float  # the CNN on real images it did not train on (how far its labels can be trusted)
    class_consistency: dict[str, float]
    frechet_distance: float
    frechet_distance_real: float  # real vs real (two halves): the floor for this many images
    precision: float
    recall: float
    coverage: dict[str, float]

    @property
    def min_consistency(self) -> float:
        return float(min(self.class_consistency.values()))

    @property
    def min_coverage(self) -> float:
        return float(np.nanmin(list(self.coverage.values())))

    def to_dict(self) -> dict:
        return {
            "classifier_accuracy": self.classifier_accuracy,
            "class_consistency": self.class_consistency,
            "class_consistency_min": self.min_consistency,
            "frechet_distance": self.frechet_distance,
            "frechet_distance_real_vs_real": self.frechet_distance_real,
            "precision": self.precision,
            "recall": self.recall,
            "coverage": self.coverage,
            "coverage_min": self.min_coverage,
        }


def measure_quality(
    real: torch.Tensor,
    real_labels: np.ndarray,
    fake: torch.Tensor,
    fake_labels: np.ndarray,
    classes: list[str],
    seed: int = 0,
    classifier: SmallCNN | None = None,
) -> ImageQuality:
    """Quality of ``fake`` images against ``real`` ones (uint8, same shape; class indices into ``classes``).

    Without ``classifier``, a ``SmallCNN`` is trained on half of the real images (per class) and its
    accuracy measured on the other half (with one, on every real image); the Fréchet distance between the
    halves is the real-vs-real floor.
    """
    rng = np.random.default_rng(seed)
    first, second = [], []
    for k in range(len(classes)):
        rows = rng.permutation(np.flatnonzero(real_labels == k))
        first.append(rows[: len(rows) // 2])
        second.append(rows[len(rows) // 2 :])
    a, b = np.concatenate(first), np.concatenate(second)
    judged = np.arange(len(real))  # a classifier trained elsewhere is judged on every real image
    if classifier is None:
        classifier = train_classifier(real[a], real_labels[a], len(classes), seed=seed, augment=True)
        judged = b
    accuracy = float((classifier.predict(real[judged]) == real_labels[judged]).mean()) if len(judged) else np.nan
    predicted = classifier.predict(fake)
    f_real, f_fake = classifier.features(real), classifier.features(fake)
    consistency, cover = {}, {}
    for k, name in enumerate(classes):
        mine = fake_labels == k
        consistency[name] = float((predicted[mine] == k).mean()) if mine.any() else float("nan")
        cover[name] = coverage(f_real[real_labels == k], f_fake[mine])
    precision, recall = precision_recall(f_real, f_fake)
    return ImageQuality(
        classifier_accuracy=accuracy,
        class_consistency=consistency,
        frechet_distance=frechet_distance(f_real, f_fake),
        frechet_distance_real=frechet_distance(f_real[a], f_real[b]),
        precision=precision,
        recall=recall,
        coverage=cover,
    )


__all__ = [
    "ImageQuality",
    "SmallCNN",
    "coverage",
    "frechet_distance",
    "measure_quality",
    "precision_recall",
    "random_affine",
    "train_classifier",
]
