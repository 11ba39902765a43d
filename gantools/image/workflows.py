"""The user-facing jobs on images (train, augment, score, evaluate, info); ``gantools.workflows`` and the
CLI send image folders and image models here."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from gantools.bundle import IMAGE_FORMAT
from gantools.errors import GantoolsError, UsageError
from gantools.image.io import IMAGE_SUFFIXES, ImageSet, is_image_source, read_image_files, read_images
from gantools.image.model import ImageConfig, ImageGAN, batch_of
from gantools.image.output import write_heatmaps, write_image_folder
from gantools.output import AtomicTableWriter, check_output_path, check_writable_folder
from gantools.settings import DEFAULT_MODEL_DIR
from gantools.training.checkpoint import Autosave, read_checkpoint
from gantools.training.stop import stoppable

MNIST_FOLDER = "MNIST/raw"  # where torchvision's download puts the IDX files


def download_mnist(folder: str | Path, train: bool = True) -> Path:
    """MNIST's IDX files through torchvision's download (cached in ``folder``); the folder that holds them."""
    try:
        from torchvision.datasets import MNIST
    except ImportError:
        raise GantoolsError("--download needs torchvision: pip install torchvision") from None
    try:
        MNIST(str(folder), train=train, download=True)
    except Exception as exc:  # network errors come in many types
        raise GantoolsError(f"MNIST could not be downloaded into '{folder}' ({exc}); check the connection") from None
    return Path(folder) / MNIST_FOLDER


def _source(data: str | Path, download: bool) -> Path:
    folder = Path(data)
    if download:
        raw = folder / MNIST_FOLDER
        return raw if is_image_source(raw) else download_mnist(folder)
    if (folder / MNIST_FOLDER).is_dir() and is_image_source(folder / MNIST_FOLDER):
        return folder / MNIST_FOLDER  # a folder torchvision downloaded into earlier
    return folder


def train_images(
    data: str | Path,
    model_dir: str | Path = DEFAULT_MODEL_DIR,
    epochs: float | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    device: str = "auto",
    holdout: float | None = None,
    verbose: bool = False,
    download: bool = False,
    resume: bool = False,
) -> ImageGAN:
    """Train an image model on a folder (ImageFolder tree, flat folder or MNIST IDX files) and write it to
    ``model_dir``. ``epochs``: passes over the training images (default: one step per training image, 2,000
    to 6,000 steps; the encoder a third of that). ``resume``: continue the interrupted training whose model is
    in ``model_dir`` (same images and options)."""
    config = ImageConfig(seed=seed, device=device)
    if batch_size is not None:
        config.batch_size = batch_size
    if holdout is not None:
        config.holdout_fraction = holdout
    config.validate()
    check_writable_folder(model_dir, "--model")
    checkpoint = read_checkpoint(model_dir, IMAGE_FORMAT) if resume else None
    autosave = Autosave(model_dir, IMAGE_FORMAT)  # its setting checked before the images are read
    source = _source(data, download)
    images = read_images(source)
    if epochs is not None:
        if not isinstance(epochs, (int, float)) or not epochs > 0 or not math.isfinite(epochs):
            raise UsageError(f"--epochs must be a number above 0 (got {epochs!r})")
        n_train = len(images) * (1 - config.holdout_fraction)
        config.steps = max(1, round(epochs * n_train / batch_of(config, round(n_train))))
    with stoppable():  # a stop asked for after the training loops: the model is still completed and saved
        model = ImageGAN(config, verbose).fit(images, resume=checkpoint, source=f"'{source}'", autosave=autosave)
        model.save(model_dir)
    autosave.remove()
    return model


def augment_images(
    model_dir: str | Path = DEFAULT_MODEL_DIR,
    n: int = 5000,
    class_mix: str | Mapping[Any, float] = "original",
    seed: int | None = None,
    out: str | Path = "synthetic",
    device: str = "auto",
) -> tuple[Path, pd.DataFrame]:
    """Write ``n`` generated images as PNGs in ``out/<class>/`` plus ``out/grid_<class>.png``; return the
    folder and the images per class."""
    if Path(out).suffix.lower() in (".csv", ".parquet"):
        raise UsageError(f"'{out}' is a table's name; an image model writes a folder: --out synthetic/")
    model = ImageGAN.load(model_dir, device)
    images, labels = model.sample(n, class_mix, seed)
    folder, counts = write_image_folder(images, labels, model.classes_, out)
    summary = pd.DataFrame({"class": model.classes_, "rows": [counts.get(c, 0) for c in model.classes_]})
    return folder, summary


def _inputs(inputs: Sequence[str | Path]) -> list[Path]:
    """Folders and image files as given; a missing path is an error at once (nothing is scored)."""
    paths = []
    for item in inputs:
        path = Path(item)
        if not path.exists():
            raise GantoolsError(f"'{path}' does not exist")
        paths.append(path)
    if not paths:
        raise GantoolsError("no input given; pass image files or folders")
    return paths


def _read_one(path: Path, model: ImageGAN) -> ImageSet:
    if path.is_file():
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            raise GantoolsError(f"'{path}' is not an image file ({', '.join(IMAGE_SUFFIXES[:4])}, ...)")
        where = f"'{path}'"
        shape = (model.resolution_, model.channels_, model.classes_)
        return read_image_files([path], [path.parent.name], *shape, where=where)
    return read_images(path, model.resolution_, model.channels_, model.classes_)


def score_images(
    inputs: Sequence[str | Path],
    model_dir: str | Path = DEFAULT_MODEL_DIR,
    out: str | Path = "scores.csv",
    fpr: float = 0.01,
    normal_class: str | None = None,
    heatmaps: str | Path | None = None,
    device: str = "auto",
    on_chunk: Callable[[str, int], None] | None = None,
) -> Any:
    """Score every image of every folder or file in ``inputs``: one row per image (``source``, ``score``,
    its parts, ``class``, ``is_anomaly``) to ``out``; ``heatmaps``: a folder of residual overlays.

    Returns ``gantools.workflows.ScoreReport`` (``failed``: inputs that could not be read; the others are
    written, with the unreadable or non-image files they held as ``skipped``: (file, why) per input).
    """
    from gantools.workflows import ScoreReport

    check_output_path(out)
    if heatmaps is not None:
        check_writable_folder(heatmaps, "--heatmaps")  # before the scoring, not after it
    model = ImageGAN.load(model_dir, device)
    if not 0 < fpr < 1:
        raise UsageError(f"--fpr must be between 0 and 1 (got {fpr})")
    if normal_class is not None and normal_class not in model.classes_:
        raise UsageError(f"--normal-class '{normal_class}' is not one of the model's: {', '.join(model.classes_)}")
    report = ScoreReport(Path(out), model.calibration_.threshold(fpr, normal_class))
    writer = AtomicTableWriter(out)
    maps_images, maps_recons, maps_sources = [], [], []
    try:
        for path in _inputs(inputs):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # skipped files are reported per input below
                    data = _read_one(path, model)
            except GantoolsError as exc:
                report.failed.append(str(exc))
                continue
            scored = model.score(data, fpr, normal_class)
            report.threshold = scored.attrs["threshold"]
            writer.write(scored)
            report.files.append(
                {
                    "file": str(path),
                    "rows": len(scored),
                    "flagged": int(scored["is_anomaly"].sum()),
                    "worst_score": float(scored["score"].max()),
                    "skipped": data.skipped,  # (file, why) of the unreadable or non-image files passed over
                }
            )
            if heatmaps is not None:
                classes = torch.as_tensor([model.classes_.index(c) for c in scored["class"]], dtype=torch.long)
                maps_images.append(data.images)
                maps_recons.append(model.reconstruct(data.images, classes))
                maps_sources += data.sources
            if on_chunk:
                on_chunk(str(path), len(scored))
        if report.files and heatmaps is not None:
            write_heatmaps(torch.cat(maps_images), torch.cat(maps_recons), maps_sources, heatmaps)
    except BaseException:
        writer.abort()
        raise
    if report.files:
        writer.commit()
    else:
        writer.abort()
    return report


def _aligned(data: ImageSet, model: ImageGAN, source: str) -> ImageSet:
    """The images with labels as indices into the model's classes (by class name)."""
    if len(model.classes_) == 1:
        data.labels = np.zeros(len(data), dtype=np.int64)
        return data
    index = {name: k for k, name in enumerate(model.classes_)}
    names = [data.classes[k] if k >= 0 else None for k in data.labels]
    unknown = sorted({n for n in names if n not in index}, key=str)
    if unknown:
        shown = ", ".join("(no class folder)" if n is None else f"'{n}'" for n in unknown[:5])
        raise GantoolsError(
            f"{source} holds images of classes the model does not know: {shown}; give one sub-folder per class "
            f"({', '.join(model.classes_[:10])})"
        )
    data.labels = np.array([index[n] for n in names], dtype=np.int64)
    data.classes = list(model.classes_)
    return data


def evaluate_images(
    data: str | Path,
    model_dir: str | Path = DEFAULT_MODEL_DIR,
    out: str | Path = "gantools-report",
    n: int | None = None,
    seed: int = 0,
    device: str = "auto",
    progress: Callable[[str], None] | None = None,
) -> Any:
    """Quality report of an image model against real held-out images (``data``: a folder with one sub-folder
    per class, or MNIST IDX files): sample grids, class-consistency, Fréchet distance, precision/recall and
    coverage in the feature space of a small CNN trained on ``data``. Returns ``ImageReport``."""
    from gantools.image.report import write_image_report

    model = ImageGAN.load(model_dir, device)
    real = _aligned(read_images(_source(data, False), model.resolution_, model.channels_, model.classes_), model,
                    f"'{data}'")  # fmt: skip
    return write_image_report(model, real, out, n=n, seed=seed, source=str(data), model_path=str(model_dir),
                              progress=progress)  # fmt: skip


def info_images(model_dir: str | Path = DEFAULT_MODEL_DIR) -> dict[str, Any]:
    """What an image model is: classes, image size, settings, training history, calibration."""
    model = ImageGAN.load(model_dir, "cpu")
    return {
        "model": str(model_dir),
        "modality": "image",
        "classes": model.classes_,
        "class_counts": model.class_counts_,
        "resolution": model.resolution_,
        "channels": model.channels_,
        "settings": {k: v for k, v in vars(model.config).items() if k != "device"},
        "history": model.history_,
        "threshold_fpr_0.01": model.calibration_.threshold(0.01),
        "holdout_images": len(model.calibration_.holdout_scores),
    }
