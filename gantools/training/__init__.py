"""Training: device choice, the GAN loop, the encoder loop."""

from gantools.training.device import resolve_device
from gantools.training.trainer import Networks, train_networks

__all__ = ["Networks", "resolve_device", "train_networks"]
