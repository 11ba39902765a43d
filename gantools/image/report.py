"""The quality report of an image model: sample grids, class-consistency, Fréchet distance, precision/recall and
coverage (``gantools.image.quality``), written as report.md + report.json + PNGs to a folder, atomically."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gantools.errors import GantoolsError, UsageError
from gantools.image.io import ImageSet
from gantools.image.model import ImageGAN
from gantools.image.output import _pil, _safe, grid
from gantools.image.quality import ImageQuality, measure_quality
from gantools.output import atomic_folder, check_writable_folder

MIN_IMAGES_PER_CLASS = 4  # the CNN trains on half of each class and k-NN balls need k + 1 = 4 images
CONSISTENCY_TARGET, COVERAGE_FLOOR = 0.95, 0.5


@dataclass
class ImageReport:
    """What ``write_image_report`` measured and where it wrote it."""

    out_dir: Path
    model: dict[str, Any]
    images: dict[str, int]
    quality: ImageQuality
    seed: int
    skipped: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    plots: dict[str, Path] = field(default_factory=dict)

    @property
    def report_path(self) -> Path:
        return self.out_dir / "report.md"

    def headline(self) -> list[tuple[str, str]]:
        q = self.quality
        worst = min(q.class_consistency, key=lambda c: q.class_consistency[c])
        least = min(q.coverage, key=lambda c: np.nan_to_num(q.coverage[c], nan=2.0))
        return [
            ("class-consistency, lowest class (1 = every image reads as its class)",
             f"{q.min_consistency:.3f} ({worst})"),
            ("class-consistency, mean", f"{np.mean(list(q.class_consistency.values())):.3f}"),
            ("Fréchet distance (real vs real floor)", f"{q.frechet_distance:.2f} ({q.frechet_distance_real:.2f})"),
            ("precision / recall (1 = realistic / diverse)", f"{q.precision:.3f} / {q.recall:.3f}"),
            ("coverage, lowest class (below 0.5: mode collapse)", f"{q.min_coverage:.3f} ({least})"),
            ("judging CNN's accuracy on real images", f"{q.classifier_accuracy:.3f}"),
        ]  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "images": self.images,
            "seed": self.seed,
            "quality": self.quality.to_dict(),
            "warnings": self.warnings,
            "plots": {k: p.name for k, p in self.plots.items()},
        }

    def to_markdown(self) -> str:
        q = self.quality
        lines = [
            f"# Image model quality: {self.model['path']}",
            "",
            f"Real images: {self.images['real']} from {self.model['data']}; generated: {self.images['generated']} "
            f"(the real images' class mix, seed {self.seed}). Features and labels come from a small CNN trained on "
            "half of the real images of each class (no downloaded weights); its accuracy on the other half is "
            f"{q.classifier_accuracy:.3f}.",
            "",
            "| figure | value |",
            "|---|---|",
            *[f"| {name} | {value} |" for name, value in self.headline()],
            "",
            "## Per class",
            "",
            "| class | class-consistency | coverage |",
            "|---|---|---|",
            *[f"| {c} | {q.class_consistency[c]:.3f} | {q.coverage[c]:.3f} |" for c in q.class_consistency],
            "",
        ]
        if self.warnings:
            lines += ["## Warnings", "", *[f"- {w}" for w in self.warnings], ""]
        lines += ["## Sample grids", "", *[f"![{k}]({p.name})" for k, p in self.plots.items()], ""]
        return "\n".join(lines)


def write_image_report(
    model: ImageGAN,
    real: ImageSet,
    out_dir: str | Path,
    n: int | None = None,
    seed: int = 0,
    source: str = "the images",
    model_path: str = "the model",
    progress: Callable[[str], None] | None = None,
) -> ImageReport:
    """Measure ``model``'s generated images against ``real`` (labels: the model's class indices) and write the
    report folder. ``n``: generated images (default: as many as real ones, in their class mix)."""
    step = progress or (lambda message: None)
    out_dir = Path(out_dir)
    check_writable_folder(out_dir, "--out")  # before the work, not after it
    counts = np.bincount(real.labels, minlength=len(model.classes_))
    small = [c for c, k in zip(model.classes_, counts) if k < MIN_IMAGES_PER_CLASS]
    if small:
        raise GantoolsError(
            f"{source} has fewer than {MIN_IMAGES_PER_CLASS} images of class(es) {', '.join(small[:5])}; "
            "give held-out images of every class"
        )
    n = int(n if n is not None else len(real))
    if n < 1:
        raise UsageError(f"--n must be at least 1 (got {n})")
    mix = {c: float(k) for c, k in zip(model.classes_, counts)}
    step("generating images")
    fake, fake_labels = model.sample(n, mix, seed)
    step("training the judging CNN and measuring")
    quality = measure_quality(real.images, real.labels, fake, fake_labels, model.classes_, seed=seed)
    warnings = []
    low = [c for c, v in quality.class_consistency.items() if v < CONSISTENCY_TARGET]
    if low:
        warnings.append(f"class-consistency below {CONSISTENCY_TARGET} for class(es) {', '.join(low)}")
    collapsed = [c for c, v in quality.coverage.items() if v < COVERAGE_FLOOR]
    if collapsed:
        warnings.append(f"coverage below {COVERAGE_FLOOR} (mode collapse?) for class(es) {', '.join(collapsed)}")
    if quality.classifier_accuracy < 0.9:
        warnings.append(
            f"the judging CNN reads only {quality.classifier_accuracy:.1%} of real held-out images right: "
            "class-consistency is a rough guide here (give more held-out images)"
        )
    report = ImageReport(
        out_dir=out_dir,
        model={"path": model_path, "data": source, "classes": model.classes_, "resolution": model.resolution_},
        images={"real": len(real), "generated": n},
        quality=quality,
        seed=seed,
        warnings=warnings,
    )
    step("writing the report")
    with atomic_folder(out_dir, "the report", "--out") as tmp:
        per_class = [fake[fake_labels == k][:10] for k in range(len(model.classes_))]
        _pil(grid(torch.cat(per_class), columns=10)).save(tmp / "samples.png")
        report.plots["samples (a row per class)"] = out_dir / "samples.png"
        real_rows = [real.images[real.labels == k][:10] for k in range(len(model.classes_))]
        _pil(grid(torch.cat(real_rows), columns=10)).save(tmp / "real.png")
        report.plots["real images (a row per class)"] = out_dir / "real.png"
        for k, name in enumerate(model.classes_):
            mine = fake[fake_labels == k][:100]
            if len(mine):
                _pil(grid(mine)).save(tmp / f"grid_{_safe(name)}.png")
        (tmp / "report.json").write_text(json.dumps(report.to_dict(), indent=2, default=float))
        (tmp / "report.md").write_text(report.to_markdown())
    return report
