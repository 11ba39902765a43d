"""Writing images: PNG files in class folders and sample grids, each folder or file written atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch

from gantools.errors import GantoolsError
from gantools.output import atomic_folder


def _pil(image: torch.Tensor):
    from PIL import Image

    array = image.permute(1, 2, 0).numpy()
    return Image.fromarray(array[..., 0] if array.shape[2] == 1 else array)


def save_png(image: torch.Tensor, path: str | Path) -> Path:
    """One uint8 (C, H, W) image as a PNG, written to a temporary file renamed into place."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".png", dir=target.parent)
    os.close(handle)
    try:
        _pil(image).save(tmp, format="PNG")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def grid(images: torch.Tensor, columns: int = 10, padding: int = 2) -> torch.Tensor:
    """uint8 images (N, C, H, W) tiled into one uint8 image, ``columns`` per row."""
    if len(images) == 0:
        raise GantoolsError("no images to put in a grid")
    n, c, h, w = images.shape
    columns = min(columns, n)
    rows = -(-n // columns)
    out = torch.full((c, padding + rows * (h + padding), padding + columns * (w + padding)), 255, dtype=torch.uint8)
    for i in range(n):
        top, left = padding + (i // columns) * (h + padding), padding + (i % columns) * (w + padding)
        out[:, top : top + h, left : left + w] = images[i]
    return out


def write_image_folder(
    images: torch.Tensor, labels: np.ndarray, classes: list[str], out: str | Path, grid_per_class: int = 100
) -> tuple[Path, dict[str, int]]:
    """``out/<class>/<index>.png`` for every image and ``out/grid_<class>.png`` (its first images), written to a
    temporary sibling folder that replaces ``out`` in one rename. Returns the folder and images per class."""
    counts: dict[str, int] = {}
    with atomic_folder(out, "the images", "--out") as tmp:
        for k, name in enumerate(classes):
            rows = np.flatnonzero(labels == k)
            if len(rows) == 0:
                continue
            folder = tmp / _safe(name)
            folder.mkdir()
            digits = len(str(len(rows)))
            for i, row in enumerate(rows):
                _pil(images[row]).save(folder / f"{i:0{digits}d}.png", format="PNG")
            _pil(grid(images[rows[:grid_per_class]])).save(tmp / f"grid_{_safe(name)}.png", format="PNG")
            counts[name] = len(rows)
    return Path(out), counts


def _safe(name: str) -> str:
    """A class name as a folder name (path separators and leading dots replaced)."""
    cleaned = "".join("_" if ch in '/\\:*?"<>|' else ch for ch in str(name)).lstrip(".")
    return cleaned or "_"


def heatmap_strip(image: torch.Tensor, reconstruction: torch.Tensor) -> torch.Tensor:
    """One uint8 RGB strip: the image | its reconstruction G(E(x)) | |x − G(E(x))| in red over the image."""
    x, x_hat = image.float(), reconstruction.float()
    if x.shape[0] == 1:
        x, x_hat = x.expand(3, -1, -1), x_hat.expand(3, -1, -1)
    residual = (x - x_hat).abs().mean(dim=0)
    heat = residual / max(float(residual.max()), 1.0)
    grey = x.mean(dim=0) * 0.5
    overlay = torch.stack([grey + heat * (255 - grey), grey * (1 - heat), grey * (1 - heat)])
    gap = torch.full((3, x.shape[1], 2), 255.0)
    return torch.cat([x, gap, x_hat, gap, overlay], dim=2).round().clamp(0, 255).to(torch.uint8)


def write_heatmaps(images: torch.Tensor, reconstructions: torch.Tensor, sources: list[str], out: str | Path) -> Path:
    """``out/<nnnnn>_<file name>.png`` per image (``heatmap_strip``), the folder written atomically."""
    with atomic_folder(out, "the heatmaps", "--heatmaps") as tmp:
        digits = max(5, len(str(len(images))))
        for i, (image, recon, source) in enumerate(zip(images, reconstructions, sources)):
            stem = _safe(Path(source.split("#")[0]).stem + ("_" + source.split("#")[1] if "#" in source else ""))
            _pil(heatmap_strip(image, recon)).save(tmp / f"{i:0{digits}d}_{stem}.png", format="PNG")
    return Path(out)
