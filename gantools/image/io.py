"""Reading images: ImageFolder trees (one sub-folder per class), flat folders (one class) and MNIST IDX files.

Every image becomes one row of a uint8 tensor (N, C, R, R) at the model's resolution R (28, 32 or 64):
resized with antialiasing, grayscale (C = 1) unless some image has colour (C = 3). Corrupt, truncated or
non-image files are skipped and counted, never a traceback.
"""

from __future__ import annotations

import gzip
import struct
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gantools.errors import GantoolsError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm")
RESOLUTIONS = (28, 32, 64)
IDX_IMAGES = ("*images-idx3-ubyte", "*images-idx3-ubyte.gz", "*images.idx3-ubyte")


@dataclass
class ImageSet:
    """Images as one uint8 tensor (N, C, R, R), their class indices and where each came from."""

    images: torch.Tensor
    labels: np.ndarray
    classes: list[str]
    sources: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why)

    def __len__(self) -> int:
        return len(self.labels)


def is_image_source(path: str | Path) -> bool:
    """True when ``path`` is a folder of images (any depth 1 or 2) or of MNIST IDX files, not a table."""
    folder = Path(path)
    if not folder.is_dir():
        return False
    if _idx_files(folder) is not None:
        return True
    for entry in folder.iterdir():
        if entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES:
            return True
        if entry.is_dir() and any(f.suffix.lower() in IMAGE_SUFFIXES for f in entry.iterdir() if f.is_file()):
            return True
    return False


def choose_resolution(sizes: list[tuple[int, int]]) -> int:
    """The smallest supported resolution at least the images' median longer side (64 at most)."""
    if not sizes:
        return RESOLUTIONS[0]
    side = float(np.median([max(s) for s in sizes]))
    return next((r for r in RESOLUTIONS if r >= side), RESOLUTIONS[-1])


def read_images(
    path: str | Path,
    resolution: int | None = None,
    channels: int | None = None,
    classes: list[str] | None = None,
    limit_per_class: int | None = None,
) -> ImageSet:
    """Read an image source (see the module's docstring).

    ``resolution``/``channels``: as recorded in a model (None: chosen from the images). ``classes``: the
    model's class names: at scoring time a sub-folder named after a class is labelled with it, others get -1.
    """
    folder = Path(path)
    if not folder.exists():
        raise GantoolsError(f"'{folder}' does not exist")
    if folder.is_file():
        raise GantoolsError(f"'{folder}' is a file; give a folder of images (one sub-folder per class)")
    idx = _idx_files(folder)
    if idx is not None:
        return _read_idx(*idx, resolution, channels, limit_per_class)
    files, names, others = _listing(folder)
    if not files:
        raise GantoolsError(
            f"'{folder}' holds no image files ({', '.join(IMAGE_SUFFIXES[:4])}, ...); give a folder of images"
        )
    not_images = [(str(f), f"not an image file ({f.suffix or 'no suffix'})") for f in others]
    return read_image_files(
        files, names, resolution, channels, classes, limit_per_class, where=f"'{folder}'", skipped=not_images
    )


def read_image_files(
    files: list[Path],
    names: list[str],
    resolution: int | None = None,
    channels: int | None = None,
    classes: list[str] | None = None,
    limit_per_class: int | None = None,
    where: str = "the files",
    skipped: list[tuple[str, str]] | None = None,
) -> ImageSet:
    """Read image ``files`` whose classes are ``names`` (see ``read_images`` for the other arguments);
    ``skipped``: (file, why) of files already passed over (e.g. not images), counted with the unreadable."""
    known = list(classes) if classes is not None else sorted(set(names))
    index = {name: i for i, name in enumerate(known)}
    arrays, labels, sources = [], [], []
    skipped = list(skipped or [])
    taken: dict[int, int] = {}
    for file, name in zip(files, names):
        label = index.get(name, -1)
        if limit_per_class is not None and taken.get(label, 0) >= limit_per_class:
            continue
        try:
            arrays.append(_open(file))
        except Exception as exc:  # PIL raises many kinds of errors on bad files
            skipped.append((str(file), _reason(exc)))
            continue
        labels.append(label)
        sources.append(str(file))
        taken[label] = taken.get(label, 0) + 1
    if skipped:
        named = describe_skipped(skipped)
        warnings.warn(f"skipped {len(skipped)} unreadable or non-image file(s) in {where}: {named}", stacklevel=2)
    if not arrays:
        raise GantoolsError(
            f"no image in {where} could be read: {describe_skipped(skipped)}; give image files that open "
            f"({', '.join(IMAGE_SUFFIXES[:4])}, ...)"
        )
    if resolution is None:
        resolution = choose_resolution([a.shape[:2] for a in arrays])
    if channels is None:
        channels = 3 if any(a.ndim == 3 and a.shape[2] == 3 and not _is_gray(a) for a in arrays) else 1
    images = torch.stack([_to_tensor(a, resolution, channels) for a in arrays])
    return ImageSet(images, np.asarray(labels, dtype=np.int64), known, sources, skipped)


def describe_skipped(skipped: list[tuple[str, str]], shown: int = 5) -> str:
    """The skipped files and why, the first ``shown`` of them by name: ``a.txt (not an image file); ...``."""
    named = "; ".join(f"{file} ({why})" for file, why in skipped[:shown])
    return named + (f"; and {len(skipped) - shown} more" if len(skipped) > shown else "")


def _listing(folder: Path) -> tuple[list[Path], list[str], list[Path]]:
    """Image files with their class (the sub-folder's name, or the folder's for a flat folder), and the other
    files where images are read (hidden files such as .DS_Store aside)."""
    files, names, others = [], [], []
    visible = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    top = [p for p in visible if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    for sub in (p for p in visible if p.is_dir()):
        for file in sorted(sub.rglob("*")):
            if not file.is_file() or file.name.startswith("."):
                continue
            if file.suffix.lower() in IMAGE_SUFFIXES:
                files.append(file)
                names.append(sub.name)
            else:
                others.append(file)
    if not files:  # a flat folder: one class named after it (with sub-folders, top-level files such as
        # sample grids are not training images, as in torchvision's ImageFolder)
        files, names = top, [folder.name] * len(top)
        others = [p for p in visible if p.is_file() and p.suffix.lower() not in IMAGE_SUFFIXES]
    return files, names, others


def _open(file: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(file) as img:
        img.load()  # truncated files fail here
        if img.mode.startswith("I") or img.mode == "F":  # 16-bit, 32-bit integer or float grey: scaled, not clipped
            return _grey_to_8bit(np.asarray(img, dtype=np.float64), img.mode)
        if img.mode in ("L", "1"):
            return np.asarray(img.convert("L"))
        return np.asarray(img.convert("RGB"))


def _grey_to_8bit(values: np.ndarray, mode: str) -> np.ndarray:
    """Grey values of more than 8 bits as 0..255: 16-bit ones (``I;16``, or ``I`` holding values above 255) divided
    by 257, floats in [0, 1] times 255, others clipped. (PIL's own conversion clips: a 16-bit scan came out 99%
    white, a float image in [0, 1] black.)"""
    finite = values[np.isfinite(values)]
    top = float(finite.max()) if finite.size else 0.0
    if mode.startswith("I;16") or (mode == "I" and top > 255):
        values = values / 257.0
    elif mode == "F" and finite.size and finite.min() >= 0 and top <= 1:
        values = values * 255.0
    return np.nan_to_num(values, nan=0.0, posinf=255.0, neginf=0.0).round().clip(0, 255).astype(np.uint8)


def _is_gray(a: np.ndarray) -> bool:
    return bool((a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all())


def _to_tensor(a: np.ndarray, resolution: int, channels: int) -> torch.Tensor:
    t = torch.from_numpy(np.array(a, copy=True))
    t = t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1)
    if channels == 3 and t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    elif channels == 1 and t.shape[0] == 3:
        t = (0.299 * t[0].float() + 0.587 * t[1].float() + 0.114 * t[2].float()).round().clamp(0, 255).unsqueeze(0)
    if tuple(t.shape[1:]) != (resolution, resolution):
        t = torch.nn.functional.interpolate(
            t[None].float(), size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False
        )[0]
    return t.round().clamp(0, 255).to(torch.uint8)


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:120]


# ------------------------------------------------------------------ MNIST IDX
def _idx_files(folder: Path) -> tuple[Path, Path | None] | None:
    for pattern in IDX_IMAGES:
        found = sorted(folder.glob(pattern))
        if found:
            images = found[0]
            stem = images.name.replace("images-idx3", "labels-idx1").replace("images.idx3", "labels.idx1")
            labels = folder / stem
            return images, labels if labels.exists() else None
    return None


def _idx_array(path: Path) -> np.ndarray:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
        zero, dtype, dims = struct.unpack(">HBB", data[:4])
        if zero != 0 or dtype != 0x08:
            raise ValueError("not an unsigned-byte IDX file")
        shape = struct.unpack(f">{dims}I", data[4 : 4 + 4 * dims])
        return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)
    except (OSError, EOFError, ValueError, struct.error) as exc:
        raise GantoolsError(f"'{path}' is not a readable IDX file ({_reason(exc)}); download it again") from None


def _read_idx(
    images_path: Path, labels_path: Path | None, resolution: int | None, channels: int | None, limit: int | None
) -> ImageSet:
    images = _idx_array(images_path)
    if images.ndim != 3:
        raise GantoolsError(f"'{images_path}' holds {images.ndim}-D data; IDX images are (count, rows, columns)")
    labels = _idx_array(labels_path).astype(np.int64) if labels_path is not None else np.zeros(len(images), np.int64)
    if len(labels) != len(images):
        raise GantoolsError(f"'{labels_path}' has {len(labels)} labels for {len(images)} images in '{images_path}'")
    values = np.unique(labels)
    keep = np.arange(len(labels))
    if limit is not None:
        keep = np.sort(np.concatenate([np.flatnonzero(labels == v)[:limit] for v in values]))
    remap = {v: i for i, v in enumerate(values)}
    resolution = resolution or choose_resolution([images.shape[1:]])
    tensor = torch.from_numpy(images[keep].copy()).unsqueeze(1)
    if tensor.shape[-1] != resolution:
        tensor = torch.stack([_to_tensor(images[i], resolution, 1) for i in keep])
    if (channels or 1) == 3:
        tensor = tensor.expand(-1, 3, -1, -1).contiguous()
    sources = [f"{images_path.name}#{i}" for i in keep]
    return ImageSet(tensor, np.array([remap[v] for v in labels[keep]]), [str(v) for v in values], sources)
