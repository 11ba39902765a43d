"""Conditional image networks at 28, 32 or 64 pixels: a DCGAN-style G, a projection D with spectral norm
(Miyato & Koyama 2018), a convolutional E, and DiffAugment (Zhao et al. 2020) for D's inputs.

Images enter the networks in [-1, 1]; G ends in tanh.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

LEAK = 0.2


def _start(resolution: int) -> tuple[int, int]:
    """(side of G's first feature map, number of 2x upsamplings) for a resolution."""
    if resolution == 28:
        return 7, 2
    if resolution == 32:
        return 8, 2
    if resolution == 64:
        return 8, 3
    raise ValueError(f"resolution must be 28, 32 or 64, not {resolution}")


class ImageGenerator(nn.Module):
    """G(z, y): z ⊕ embed(y) -> a (width·2^k)-channel map -> k upsampling conv blocks -> tanh image."""

    def __init__(self, latent_dim: int, n_classes: int, channels: int, resolution: int, width: int) -> None:
        super().__init__()
        side, ups = _start(resolution)
        self.latent_dim, self.side = latent_dim, side
        top = width * 2 ** (ups - 1)
        self.embed = nn.Embedding(n_classes, latent_dim)
        self.project = nn.Sequential(nn.Linear(2 * latent_dim, top * side * side), nn.BatchNorm1d(top * side * side))
        blocks: list[nn.Module] = []
        ch = top
        for i in range(ups):
            out = max(width, ch // 2) if i < ups - 1 else width
            blocks += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(ch, out, 3, padding=1, bias=False),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
            ]
            ch = out
        self.body = nn.Sequential(*blocks)
        self.out = nn.Conv2d(ch, channels, 3, padding=1)
        self.top = top

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.project(torch.cat([z, self.embed(y)], dim=1)))
        h = h.view(len(z), self.top, self.side, self.side)
        return torch.tanh(self.out(self.body(h)))


class _ConvFeatures(nn.Module):
    """Strided conv blocks down to a feature vector (shared shape of D's and E's bodies)."""

    def __init__(self, channels: int, resolution: int, width: int, sn: bool) -> None:
        super().__init__()
        wrap = spectral_norm if sn else (lambda m: m)
        _, downs = _start(resolution)
        layers: list[nn.Module] = []
        ch = channels
        for i in range(downs):
            out = width * 2**i
            layers += [wrap(nn.Conv2d(ch, out, 4, stride=2, padding=1)), nn.LeakyReLU(LEAK, inplace=True)]
            ch = out
        layers += [wrap(nn.Conv2d(ch, ch * 2, 3, padding=1)), nn.LeakyReLU(LEAK, inplace=True)]
        self.body = nn.Sequential(*layers)
        self.features = ch * 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).sum(dim=(2, 3))  # global sum pooling (as in SN-GAN's projection D)


class ImageDiscriminator(nn.Module):
    """D(x, y) = ψ(φ(x)) + embed(y)·φ(x): projection conditioning, spectral norm on every weight."""

    def __init__(self, n_classes: int, channels: int, resolution: int, width: int) -> None:
        super().__init__()
        self.phi = _ConvFeatures(channels, resolution, width, sn=True)
        self.psi = spectral_norm(nn.Linear(self.phi.features, 1))
        self.embed = spectral_norm(nn.Embedding(n_classes, self.phi.features))
        self.classify = spectral_norm(nn.Linear(self.phi.features, n_classes))  # auxiliary classifier (AC-GAN)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(scores (n,), features (n, f)); ``classify(features)``: class logits."""
        f = self.phi(x)
        return self.psi(f).squeeze(1) + (self.embed(y) * f).sum(dim=1), f


class ImageEncoder(nn.Module):
    """E(x, y) -> z: conv features, plus the class's embedding, to the latent space."""

    def __init__(self, latent_dim: int, n_classes: int, channels: int, resolution: int, width: int) -> None:
        super().__init__()
        self.phi = _ConvFeatures(channels, resolution, width, sn=False)
        self.embed = nn.Embedding(n_classes, self.phi.features)
        self.head = nn.Linear(self.phi.features, latent_dim)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.head(F.leaky_relu(self.phi(x) + self.embed(y), LEAK))


def diff_augment(x: torch.Tensor, generator: torch.Generator | None = None, colour: bool = True) -> torch.Tensor:
    """DiffAugment's colour, translation (1/8 of the side) and cutout (half the side), differentiable in x,
    applied alike to real and generated batches before D."""
    n, device = len(x), x.device

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, device=device, generator=generator)

    if colour:
        x = x + (rand(n, 1, 1, 1) - 0.5)  # brightness
        if x.shape[1] > 1:
            mean = x.mean(dim=1, keepdim=True)
            x = (x - mean) * (rand(n, 1, 1, 1) * 2) + mean  # saturation
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * (rand(n, 1, 1, 1) + 0.5) + mean  # contrast
    side = x.shape[-1]
    shift = side // 8
    if shift > 0:  # translation with zero padding (in [-1, 1] images: padding with mid-grey)
        dx = torch.randint(-shift, shift + 1, (n, 1, 1), device=device, generator=generator)
        dy = torch.randint(-shift, shift + 1, (n, 1, 1), device=device, generator=generator)
        grid = torch.arange(side, device=device)
        gx = (grid.view(1, 1, side) + dx).clamp(-1, side)  # (n, 1, side)
        gy = (grid.view(1, side, 1) + dy).clamp(-1, side)  # (n, side, 1)
        padded = F.pad(x, (1, 1, 1, 1))
        index_y = (gy + 1).expand(n, side, side)
        index_x = (gx + 1).expand(n, side, side)
        batch = torch.arange(n, device=device).view(n, 1, 1)
        x = padded.permute(0, 2, 3, 1)[batch, index_y, index_x].permute(0, 3, 1, 2)
    cut = side // 2
    if cut > 0:  # a square of half the side (centred anywhere, clipped at the borders) set to 0
        cx = torch.randint(0, side, (n, 1, 1), device=device, generator=generator)
        cy = torch.randint(0, side, (n, 1, 1), device=device, generator=generator)
        grid = torch.arange(side, device=device)
        inside_x = ((grid.view(1, 1, side) - cx + cut // 2) >= 0) & ((grid.view(1, 1, side) - cx + cut // 2) < cut)
        inside_y = ((grid.view(1, side, 1) - cy + cut // 2) >= 0) & ((grid.view(1, side, 1) - cy + cut // 2) < cut)
        x = x * (~(inside_x & inside_y)).unsqueeze(1).to(x.dtype)
    return x
