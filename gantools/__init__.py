"""gantools: a conditional GAN per dataset, for augmentation and anomaly scoring of tables and images."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gantools._version import __version__
from gantools.config import TrainConfig
from gantools.errors import GantoolsError
from gantools.model import TabularGAN

if TYPE_CHECKING:
    from gantools.estimators import GANAnomalyDetector, GANAugmenter
    from gantools.image import ImageConfig, ImageGAN, read_images
    from gantools.oversampler import GANOverSampler

# The scikit-learn / PyOD / imbalanced-learn estimators load on first use: importing PyOD and
# imbalanced-learn costs about a second, which every CLI command (which does not use them) would pay.
_LAZY = {
    "GANAnomalyDetector": "gantools.estimators",
    "GANAugmenter": "gantools.estimators",
    "GANOverSampler": "gantools.oversampler",
    "ImageConfig": "gantools.image",
    "ImageGAN": "gantools.image",
    "read_images": "gantools.image",
}

__all__ = [
    "GANAnomalyDetector",
    "GANAugmenter",
    "GANOverSampler",
    "GantoolsError",
    "ImageConfig",
    "ImageGAN",
    "TabularGAN",
    "TrainConfig",
    "__version__",
    "read_images",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gantools' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
