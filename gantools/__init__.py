"""gantools: a conditional GAN per dataset, for augmentation and anomaly scoring of tabular data."""

from gantools._version import __version__
from gantools.config import TrainConfig
from gantools.errors import GantoolsError
from gantools.estimators import GANAnomalyDetector, GANAugmenter
from gantools.model import TabularGAN
from gantools.oversampler import GANOverSampler

__all__ = [
    "GANAnomalyDetector",
    "GANAugmenter",
    "GANOverSampler",
    "GantoolsError",
    "TabularGAN",
    "TrainConfig",
    "__version__",
]
