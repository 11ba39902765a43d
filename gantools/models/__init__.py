"""The networks: generator G(z, y), discriminator D(x, y), encoder E(x, y)."""

from gantools.models.networks import Discriminator, Encoder, GaussianGenerator, Generator, activate_output

__all__ = ["Discriminator", "Encoder", "GaussianGenerator", "Generator", "activate_output"]
