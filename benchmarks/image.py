"""Image benchmarks (issue 27): one-class per digit, few labels, generation quality and speed.

    python benchmarks/image.py quality   [--data mnist|digits] [--steps N]        # fit on the 80% split
    python benchmarks/image.py oneclass  [--data mnist|digits] [--seeds 1] [--digits 0 1 ...] [--models DIR]
    python benchmarks/image.py fewlabels [--data mnist|digits] [--labels 10 50 100] [--seeds 3]

Data: the MNIST 10k test set in ``$GANTOOLS_DATA/mnist`` (IDX), or scikit-learn's ``load_digits`` (8x8, shown
at 28x28) for fast runs, split per class 80/20 (seeded). Results go to ``benchmarks/results/image_*``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, shared_data, write_results  # noqa: E402

from gantools.image import ImageConfig, ImageGAN, ImageSet, read_images  # noqa: E402
from gantools.image.output import grid, save_png  # noqa: E402
from gantools.image.quality import measure_quality, train_classifier  # noqa: E402


def load(name: str) -> ImageSet:
    if name == "mnist":
        return read_images(shared_data() / "mnist")
    if name == "digits":
        from sklearn.datasets import load_digits

        from gantools.image.io import _to_tensor

        bunch = load_digits()
        pixels = (bunch.images * (255.0 / 16.0)).round().astype(np.uint8)
        images = torch.stack([_to_tensor(a, 28, 1) for a in pixels])
        return ImageSet(images, bunch.target.astype(np.int64), [str(d) for d in range(10)],
                        [f"digits#{i}" for i in range(len(pixels))])  # fmt: skip
    raise SystemExit(f"unknown data '{name}' (mnist or digits)")


def split(data: ImageSet, seed: int, fraction: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Per class: a seeded ``fraction`` for training, the rest for testing."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for k in range(len(data.classes)):
        rows = rng.permutation(np.flatnonzero(data.labels == k))
        cut = int(round(fraction * len(rows)))
        train.append(rows[:cut])
        test.append(rows[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def subset(data: ImageSet, rows: np.ndarray) -> ImageSet:
    return ImageSet(data.images[rows], data.labels[rows], list(data.classes), [data.sources[i] for i in rows])


def config(args: argparse.Namespace, seed: int) -> ImageConfig:
    c = ImageConfig(seed=seed, device=args.device)
    if args.steps is not None:
        c.steps = args.steps
    for item in args.set or []:  # ImageConfig overrides, e.g. --set class_weight=0.5
        name, value = item.split("=", 1)
        setattr(c, name, json.loads(value))
    return c


# ------------------------------------------------------------------ quality and speed
def run_quality(args: argparse.Namespace) -> None:
    data = load(args.data)
    train_rows, test_rows = split(data, 0)
    train, test = subset(data, train_rows), subset(data, test_rows)
    started = time.perf_counter()
    model = ImageGAN(config(args, 0)).fit(train)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    fake, fake_labels = model.sample(args.generate, "balanced", seed=1)
    gen_seconds = time.perf_counter() - started
    per_class = torch.cat([fake[fake_labels == k][:10] for k in range(len(model.classes_))])
    grid_path = RESULTS / f"image_quality_{args.data}_grid.png"
    save_png(grid(per_class, columns=10), grid_path)
    # Quality against the 20% test split, with as many generated images per class as real ones
    mix = {c: float(n) for c, n in zip(model.classes_, np.bincount(test.labels))}
    judged, judged_labels = model.sample(len(test), mix, seed=2)
    # the judging CNN trains on the 80% split (as many images as the GAN saw), with random affine augmentation
    judge = train_classifier(train.images, train.labels, len(model.classes_), epochs=10, seed=0, augment=True)
    q = measure_quality(test.images, test.labels, judged, judged_labels, model.classes_, seed=0, classifier=judge)
    h = model.history_
    rows = [
        {"figure": "class-consistency, min over classes", "value": q.min_consistency},
        {"figure": "class-consistency, mean", "value": float(np.mean(list(q.class_consistency.values())))},
        {"figure": "coverage, min over classes", "value": q.min_coverage},
        {"figure": "Fréchet distance (judging CNN's features)", "value": q.frechet_distance},
        {"figure": "Fréchet distance, real vs real (floor)", "value": q.frechet_distance_real},
        {"figure": "precision", "value": q.precision},
        {"figure": "recall", "value": q.recall},
        {"figure": "judging CNN accuracy on real test images", "value": q.classifier_accuracy},
        {"figure": "fit seconds (GAN + encoder + calibration)", "value": fit_seconds},
        {"figure": "GAN steps", "value": h["gan_steps"]},
        {"figure": "training images/s (GAN phase)", "value": h["gan_images_per_second"]},
        {"figure": "generation images/s", "value": args.generate / gen_seconds},
    ]
    consistency, cover = list(q.class_consistency.values()), list(q.coverage.values())
    per_class_rows = pd.DataFrame({"class": model.classes_, "consistency": consistency, "coverage": cover})
    notes = (
        f"Fit on the 80% split ({len(train)} images), judged on the 20% split ({len(test)}) with as many generated "
        "images per class, in the feature space of a SmallCNN trained on the 80% split (10 epochs, random "
        f"affine); real vs real: the 20% split's halves. Device "
        f"{h['device']}, {torch.get_num_threads()} threads, {machine()}.\n\nPer class:\n\n"
        + per_class_rows.to_markdown(index=False, floatfmt=".3f")
        + f"\n\n![grid]({grid_path.name})\n"
    )
    write_results(f"image_quality_{args.data}{args.suffix}", pd.DataFrame(rows), pd.DataFrame(rows), notes)
    print(pd.DataFrame(rows).to_string(index=False))
    print(per_class_rows.to_string(index=False))


# ------------------------------------------------------------------ one class per digit
def _peers(train: np.ndarray, test: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    from sklearn.decomposition import PCA
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import NearestNeighbors
    from sklearn.svm import OneClassSVM

    out = {}
    nn = NearestNeighbors(n_neighbors=5).fit(train)
    out["KNN"] = nn.kneighbors(test)[0].mean(axis=1)
    out["IsolationForest"] = -IsolationForest(random_state=seed).fit(train).score_samples(test)
    out["OneClassSVM"] = -OneClassSVM(gamma="scale", nu=0.1).fit(train).score_samples(test)
    pca = PCA(n_components=0.9, random_state=seed).fit(train)
    out["PCA reconstruction"] = ((test - pca.inverse_transform(pca.transform(test))) ** 2).sum(axis=1)
    return out


@torch.no_grad()
def _diagnostics(model: ImageGAN, test: ImageSet) -> dict[str, np.ndarray]:
    """Candidate parts not in the score (for the next design step): the mean distance to the 5 nearest of
    10,000 generated images, in pixels and in D's features."""
    from sklearn.neighbors import NearestNeighbors

    from gantools.image.model import to_unit

    generated, _ = model.sample(10000, seed=5)
    y_gen, y_test = torch.zeros(len(generated), dtype=torch.long), torch.zeros(len(test), dtype=torch.long)
    f_test = model.discriminator_(to_unit(test.images), y_test)[1]
    f_gen = model.discriminator_(to_unit(generated), y_gen)[1]
    pixels = lambda x: x.flatten(1).float().numpy() / 255.0  # noqa: E731
    knn = lambda a, b: NearestNeighbors(n_neighbors=5).fit(a).kneighbors(b)[0].mean(axis=1)  # noqa: E731
    return {
        "diagnostic: kNN to generated, pixels": knn(pixels(generated), pixels(test.images)),
        "diagnostic: kNN to generated, D features": knn(f_gen.numpy(), f_test.numpy()),
    }


def run_oneclass(args: argparse.Namespace) -> None:
    data = load(args.data)
    records = []
    for seed in range(args.seeds):
        train_rows, test_rows = split(data, seed)
        test = subset(data, test_rows)
        flat_test = test.images.flatten(1).float().numpy() / 255.0
        for digit in args.digits:
            mine = train_rows[data.labels[train_rows] == digit]
            train = ImageSet(data.images[mine], np.zeros(len(mine), np.int64), [str(digit)],
                             [data.sources[i] for i in mine])  # fmt: skip
            truth = (test.labels != digit).astype(int)
            model = _fitted(args, seed, digit, train)
            fit_seconds = model.history_["fit_seconds"]
            started = time.perf_counter()
            scores = model.score(test)
            score_seconds = time.perf_counter() - started
            results = {"gantools": scores["score"].to_numpy()}
            parts = ("reconstruction", "critic")
            results.update({f"gantools: {p}": scores[f"score_{p}"].to_numpy() for p in parts})
            results.update(_diagnostics(model, test))
            results.update(_peers(train.images.flatten(1).float().numpy() / 255.0, flat_test, seed))
            for method, values in results.items():
                records.append(
                    {
                        "data": args.data,
                        "seed": seed,
                        "digit": digit,
                        "method": method,
                        "auroc": roc_auc_score(truth, values),
                        "auprc": average_precision_score(truth, values),
                        "fpr_at_threshold": float(scores["is_anomaly"][truth == 0].mean())
                        if method == "gantools"
                        else np.nan,
                        "fit_seconds": fit_seconds if method == "gantools" else np.nan,
                        "score_seconds": score_seconds if method == "gantools" else np.nan,
                    }
                )
            line = {r["method"]: round(r["auroc"], 4) for r in records[-len(results) :]}
            print(f"seed {seed} digit {digit} fit {fit_seconds:.0f}s", line, flush=True)
            _write_oneclass(args, pd.DataFrame(records))


def _fitted(args: argparse.Namespace, seed: int, digit: int, train: ImageSet) -> ImageGAN:
    """The digit's model: fitted, or with ``--models DIR`` loaded from DIR when an earlier run saved it there
    (and saved there otherwise). A loaded model is calibrated again on its held-out images (the split ``fit``
    makes), so a change to scoring is measured on the same networks without training them again."""
    folder = Path(args.models) / (f"d{digit}" if seed == 0 else f"s{seed}_d{digit}") if args.models else None
    if folder is not None and (folder / "config.json").exists():
        from gantools.image.model import _stratified_split

        model = ImageGAN.load(folder, device=args.device)
        _, held = _stratified_split(train.labels, model.config.holdout_fraction, model.config.seed)
        model._calibrate(train.images[held].to(model.device_), torch.as_tensor(train.labels[held]).to(model.device_))
        return model
    model = ImageGAN(config(args, seed)).fit(train)
    if folder is not None:
        model.save(folder)
    return model


def _write_oneclass(args: argparse.Namespace, table: pd.DataFrame) -> None:
    per_digit = table.pivot_table(index="digit", columns="method", values="auroc", aggfunc="mean")
    summary = per_digit.mean().rename("mean AUROC").to_frame()
    summary["std over digits"] = per_digit.std()
    summary = summary.sort_values("mean AUROC", ascending=False).reset_index()
    notes = (
        "One-class per digit: fit on the digit's 80% split, test on its 20% plus the 20% of every other digit "
        "(anomalies). Peers on raw pixels in [0, 1]. gantools: reconstruction + critic (-D(x)), each "
        "standardised, calibrated on held-out images of the digit (fpr_at_threshold at --fpr 0.05).\n\n"
        "AUROC per digit:\n\n" + per_digit.reset_index().to_markdown(index=False, floatfmt=".4f") + "\n"
    )
    write_results(f"image_oneclass_{args.data}{args.suffix}", table, summary, notes)


# ------------------------------------------------------------------ few labels
def run_fewlabels(args: argparse.Namespace) -> None:
    data = load(args.data)
    records = []
    for seed in range(args.seed_start, args.seed_start + args.seeds):
        train_rows, test_rows = split(data, seed)
        test = subset(data, test_rows)
        rng = np.random.default_rng(1000 + seed)
        for n in args.labels:
            few = np.concatenate(
                [rng.choice(train_rows[data.labels[train_rows] == k], n, replace=False) for k in range(10)]
            )
            real = subset(data, np.sort(few))
            started = time.perf_counter()
            model = ImageGAN(config(args, seed)).fit(real)
            fit_seconds = time.perf_counter() - started
            fake, fake_labels = model.sample(args.synthetic, "balanced", seed=seed + 11)
            both_x, both_y = torch.cat([real.images, fake]), np.concatenate([real.labels, fake_labels])
            for method, (x, y, augment) in {
                "real": (real.images, real.labels, False),
                "real + random affine": (real.images, real.labels, True),
                "real + gantools": (both_x, both_y, False),
                "real + gantools + random affine": (both_x, both_y, True),
            }.items():
                cnn = train_classifier(x, y, 10, epochs=30, seed=seed, augment=augment, min_steps=args.cnn_steps)
                accuracy = float((cnn.predict(test.images) == test.labels).mean())
                records.append(
                    {"data": args.data, "seed": seed, "labels_per_class": n, "method": method,
                     "accuracy": accuracy, "gan_fit_seconds": fit_seconds}
                )  # fmt: skip
                print(f"seed {seed} n {n} {method}: {accuracy:.4f}", flush=True)
            _write_fewlabels(args, pd.DataFrame(records))


def _write_fewlabels(args: argparse.Namespace, table: pd.DataFrame) -> None:
    g = table.groupby(["labels_per_class", "method"])["accuracy"]
    summary = pd.DataFrame({"mean": g.mean(), "std": g.std(), "seeds": g.count()}).reset_index()
    notes = (
        "Few labels: n real images per class from the 80% split; the GAN fits on them only; a small CNN "
        "(gantools.image.quality.SmallCNN, 30 epochs, at least "
        f"{args.cnn_steps} steps) trains on real only, real + random affine (rotation ±10°, scale ±10%, shifts "
        f"±1/8), real + {args.synthetic} gantools images (balanced), and both; accuracy on the 20% test split.\n"
    )
    write_results(f"image_fewlabels_{args.data}{args.suffix}", table, summary, notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benchmark", choices=["quality", "oneclass", "fewlabels"])
    parser.add_argument("--data", default="mnist", choices=["mnist", "digits"])
    parser.add_argument("--steps", type=int, default=None, help="GAN steps (default: the library's)")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--seed-start", type=int, default=0, help="first seed (fewlabels)")
    parser.add_argument("--digits", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--labels", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--synthetic", type=int, default=5000, help="generated images added (fewlabels)")
    parser.add_argument("--cnn-steps", type=int, default=600, help="least CNN steps (fewlabels)")
    parser.add_argument("--generate", type=int, default=10000, help="images generated for the speed figure")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--suffix", default="", help="appended to the results' file names")
    parser.add_argument("--set", action="append", help="an ImageConfig override NAME=JSON (repeatable)")
    parser.add_argument("--models", default=None, help="oneclass: save fitted models here, reuse those found")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    {"quality": run_quality, "oneclass": run_oneclass, "fewlabels": run_fewlabels}[args.benchmark](args)


if __name__ == "__main__":
    main()
