"""Small, readable MLP networks for a conditional tabular GAN with an encoder.

- ``Generator``: G(z, y) from the latent ``z`` and a learned class embedding; raw outputs, made into
  table-shaped values by ``activate_output`` (identity for numeric slots, Gumbel-softmax for one-hot blocks).
- ``Discriminator``: D(x, y) with spectral normalisation and projection conditioning (Miyato & Koyama 2018):
  ``D(x, y) = w·f(x) + embed(y)·f(x)``; ``features`` exposes f(x) for the f-AnoGAN feature residual;
  ``classifier`` gives auxiliary class logits from f(x).
- ``Encoder``: E(x, y) -> z, trained after the GAN so that G(E(x, y), y) reconstructs x.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm


def _embedded_input(linear: nn.Linear, embed: nn.Embedding, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``linear(x) + embed(y)``. Without gradients (scoring, sampling, the encoder's targets) and when every
    row has the same class (how rows are scored: against one class at a time), the class's embedding is
    folded into the bias: one pass less over the (rows × width) activations, equal up to float rounding."""
    if not torch.is_grad_enabled() and len(y) > 0 and bool((y == y[0]).all()):
        return F.linear(x, linear.weight, linear.bias + embed.weight[y[0]])
    return linear(x) + embed(y)


def _class_gaussian(z: torch.Tensor, y: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``mean_y + z · scale_y`` for each row: the per-class Gaussian of ``trainer.gaussian_moments``."""
    return mean[y] + torch.bmm(z.unsqueeze(1), scale[y]).squeeze(1)


class ResidualBlock(nn.Module):
    """LayerNorm -> Linear -> SiLU with a skip connection."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.linear = nn.Linear(width, width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + F.silu(self.linear(self.norm(h)))


class Generator(nn.Module):
    """G(z, y) = MLP(z, y), or with ``gaussian_base``: mean_y + z · scale_y + MLP(z, y).

    The base is a per-class (low-rank) Gaussian set from the data's moments before training
    (``set_gaussian_base``); adversarial training then refines it and the MLP adds what a Gaussian
    cannot express. On few rows a Gaussian cannot memorise them, which is what regularises G there.
    """

    def __init__(
        self, latent_dim: int, n_classes: int, n_features: int, hidden: int, n_layers: int, gaussian_base: bool = False
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.embed = nn.Embedding(n_classes, hidden)
        self.inp = nn.Linear(latent_dim, hidden)
        self.blocks = nn.Sequential(*[ResidualBlock(hidden) for _ in range(n_layers)])
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, n_features))
        self.gaussian_base = gaussian_base
        if gaussian_base:
            self.base_mean = nn.Parameter(torch.zeros(n_classes, n_features))
            self.base_scale = nn.Parameter(torch.zeros(n_classes, latent_dim, n_features))

    def set_gaussian_base(self, mean: torch.Tensor, scale: torch.Tensor) -> None:
        """Start from the Gaussian ``mean_y + z · scale_y``: the MLP's output layer starts at zero."""
        with torch.no_grad():
            self.base_mean.copy_(mean)
            self.base_scale.copy_(scale)
            self.out[1].weight.zero_()
            self.out[1].bias.zero_()

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = self.out(self.blocks(_embedded_input(self.inp, self.embed, z, y)))
        if self.gaussian_base:
            h = h + _class_gaussian(z, y, self.base_mean, self.base_scale)
        return h


class GaussianGenerator(nn.Module):
    """A Gaussian per class, ``mean_y + z · scale_y`` (``trainer.gaussian_moments``): G's Gaussian base alone,
    without an MLP or training. One-hot blocks get their class frequencies' logits (categories drawn by
    frequency when sampled). A candidate generator for augmentation (``gantools.lift``)."""

    def __init__(self, mean: torch.Tensor, scale: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("scale", scale)

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return _class_gaussian(z, y, self.mean, self.scale)


class Discriminator(nn.Module):
    def __init__(self, n_features: int, n_classes: int, hidden: int, n_layers: int, dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width_in = n_features
        for _ in range(n_layers):
            layers += [spectral_norm(nn.Linear(width_in, hidden)), nn.LeakyReLU(0.2)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width_in = hidden
        self.body = nn.Sequential(*layers)
        self.head = spectral_norm(nn.Linear(hidden, 1))
        self.embed = spectral_norm(nn.Embedding(n_classes, hidden))
        # Auxiliary class logits (AC-GAN, Odena et al. 2017): pushes G to make each class recognisable.
        self.classifier = nn.Linear(hidden, n_classes)
        self.spread_head = spectral_norm(nn.Linear(1, 1))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor, y: torch.Tensor, batch_stats: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the critic value (n,) and the features f(x) (n, hidden).

        ``batch_stats`` (training only) lets the critic see how spread out the batch is (minibatch
        standard deviation, Karras et al. 2018), so a generator that drops modes is penalised.
        """
        h = self.body(x)
        out = self.head(h).squeeze(1) + (self.embed(y) * h).sum(dim=1)
        if batch_stats:
            spread = h.std(dim=0, unbiased=False).mean().expand(len(h), 1)
            out = out + self.spread_head(spread).squeeze(1)
        return out, h


class Encoder(nn.Module):
    def __init__(self, n_features: int, n_classes: int, latent_dim: int, hidden: int, n_layers: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(n_classes, hidden)
        self.inp = nn.Linear(n_features, hidden)
        self.blocks = nn.Sequential(*[ResidualBlock(hidden) for _ in range(n_layers)])
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, latent_dim))

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.out(self.blocks(_embedded_input(self.inp, self.embed, x, y)))


def activate_output(
    raw: torch.Tensor, cat_slices: list[tuple[int, int]], tau: float = 0.2, hard: bool = False
) -> torch.Tensor:
    """Numeric slots pass through; each one-hot block becomes a Gumbel-softmax sample (``hard``: one-hot).
    Slots are on the last axis (rows, or members × rows, before it)."""
    if not cat_slices:
        return raw
    parts = []
    pos = 0
    for start, end in cat_slices:
        if start > pos:
            parts.append(raw[..., pos:start])
        parts.append(F.gumbel_softmax(raw[..., start:end], tau=tau, hard=hard, dim=-1))
        pos = end
    if pos < raw.shape[-1]:
        parts.append(raw[..., pos:])
    return torch.cat(parts, dim=-1)
