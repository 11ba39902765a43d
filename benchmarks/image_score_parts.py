"""Which parts, weighted how, make the image anomaly score: AUROC of each part and of sums of them, per digit,
on the one-class MNIST models that ``image.py oneclass --models DIR`` saved (no training here).

    python benchmarks/image_score_parts.py --models DIR [--digits 0 1 ...] [--suffix _s25]

Parts, each standardised as the calibration does (median, IQR) on the model's held-out images: ``rec``
|x − G(E(x))|², ``pool`` the same after 2x2 average pooling, ``feat`` D's feature residual, ``critic`` −D(x).
Peer: KNN on raw pixels.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results  # noqa: E402
from image import load, split, subset  # noqa: E402

from gantools.image import ImageGAN  # noqa: E402
from gantools.image.model import _stratified_split, to_unit  # noqa: E402
from gantools.scoring import _robust_location_scale  # noqa: E402

SUMS = {
    "rec + feat (the score before session 25)": {"rec": 1, "feat": 1},
    "rec + feat + critic": {"rec": 1, "feat": 1, "critic": 1},
    "rec + feat + 2 critic": {"rec": 1, "feat": 1, "critic": 2},
    "rec + feat + 0.5 critic": {"rec": 1, "feat": 1, "critic": 0.5},
    "rec + critic (the score since session 25)": {"rec": 1, "critic": 1},
    "feat + critic": {"feat": 1, "critic": 1},
    "pool + feat + critic": {"pool": 1, "feat": 1, "critic": 1},
    "pool + feat": {"pool": 1, "feat": 1},
}


@torch.no_grad()
def raw_parts(model: ImageGAN, images: torch.Tensor) -> dict[str, np.ndarray]:
    g, d, e = model.generator_ema_, model.discriminator_, model.encoder_
    out: dict[str, list[torch.Tensor]] = {"rec": [], "pool": [], "feat": [], "critic": []}
    for start in range(0, len(images), 512):
        x = to_unit(images[start : start + 512])
        y = torch.zeros(len(x), dtype=torch.long)
        x_hat = g(e(x, y), y)
        s_real, f_real = d(x, y)
        f_hat = d(x_hat, y)[1]
        out["rec"].append((x - x_hat).square().mean(dim=(1, 2, 3)))
        out["pool"].append(F.avg_pool2d(x - x_hat, 2).square().mean(dim=(1, 2, 3)))
        out["feat"].append((f_real - f_hat).square().mean(dim=1))
        out["critic"].append(-s_real)
    return {k: torch.cat(v).double().numpy() for k, v in out.items()}


def standardised(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """As the model's calibration standardises a part (median, IQR / 1.349)."""
    center, scale = _robust_location_scale(reference)
    return (values - center) / scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", required=True)
    parser.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--suffix", default="")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load("mnist")
    train_rows, test_rows = split(data, 0)
    test = subset(data, test_rows)
    flat = lambda im: im.flatten(1).float().numpy() / 255.0  # noqa: E731
    records = []
    for digit in args.digits:
        folder = Path(args.models) / f"d{digit}"
        if not (folder / "config.json").exists():
            print(f"no model in {folder}: skipped", flush=True)
            continue
        model = ImageGAN.load(folder, device="cpu")
        mine = train_rows[data.labels[train_rows] == digit]
        _, held = _stratified_split(np.zeros(len(mine), np.int64), model.config.holdout_fraction, model.config.seed)
        reference, measured = raw_parts(model, data.images[mine][held]), raw_parts(model, test.images)
        parts = {k: standardised(measured[k], reference[k]) for k in measured}
        scores = {f"part: {k}": v for k, v in parts.items()}
        scores.update({name: sum(w * parts[k] for k, w in mix.items()) for name, mix in SUMS.items()})
        knn = NearestNeighbors(n_neighbors=5).fit(flat(data.images[mine]))
        scores["KNN (raw pixels)"] = knn.kneighbors(flat(test.images))[0].mean(axis=1)
        truth = (test.labels != digit).astype(int)
        for name, values in scores.items():
            records.append({"digit": digit, "score": name, "auroc": roc_auc_score(truth, values)})
        print(digit, {r["score"]: round(r["auroc"], 4) for r in records[-len(scores) :]}, flush=True)
    table = pd.DataFrame(records)
    per_digit = table.pivot_table(index="score", columns="digit", values="auroc")
    summary = pd.DataFrame({"mean AUROC": per_digit.mean(axis=1), "min over digits": per_digit.min(axis=1)})
    summary = summary.sort_values("mean AUROC", ascending=False).reset_index()
    notes = (
        "One-class MNIST models (fit on the digit's 80% split, seed 0); test: its 20% plus every other digit's "
        "20%. Parts standardised on the model's held-out images.\n\nAUROC per digit:\n\n"
        + per_digit.reset_index().to_markdown(index=False, floatfmt=".4f")
        + "\n"
    )
    write_results(f"image_score_parts{args.suffix}", table, summary, notes)


if __name__ == "__main__":
    main()
