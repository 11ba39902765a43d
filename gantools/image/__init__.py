"""Images: reading image folders and MNIST IDX files, the conditional image GAN, PNG outputs."""

from gantools.image.io import ImageSet, is_image_source, read_images
from gantools.image.model import ImageConfig, ImageGAN

__all__ = ["ImageConfig", "ImageGAN", "ImageSet", "is_image_source", "read_images"]
