"""gantools' anomaly AUROC under different training settings, on the anomaly benchmark's protocol.

Same split as ``anomaly.py`` (fit on 60% of the normal rows, test on the rest plus all anomalies,
standardised on the fitted rows). Each setting is a name and ``TrainConfig`` overrides as JSON; every
(dataset, seed, setting) is one fit. Reports the AUROC of the score and of each part, the realised FPR at
``--fpr``, fit seconds and scoring rows/s. This is where defaults such as the one-class width and number of
steps (``gantools.config.ONE_CLASS_HIDDEN`` / ``ONE_CLASS_STEPS``) were chosen.

    python benchmarks/anomaly_settings.py --datasets 2_annthyroid 6_cardio 30_satellite \\
        --setting 'h256 6k={"hidden":256,"target_steps":6000}' --setting 'h128 30k={"hidden":128,"target_steps":30000}'
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
from _common import one_class_split, write_results
from anomaly import load_dataset


def run_one(name: str, seed: int, setting: str, overrides: dict, fpr: float, threads: int) -> dict:
    import torch
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    from gantools.config import TrainConfig
    from gantools.model import TabularGAN

    torch.set_num_threads(threads)
    X, y = load_dataset(name)
    normal, anomalies = X[y == 0], X[y == 1]
    fit_rows, test, truth = one_class_split(normal, anomalies, np.random.default_rng(seed))
    scaler = StandardScaler().fit(fit_rows)
    columns = [f"x{i}" for i in range(X.shape[1])]
    fit_frame = pd.DataFrame(scaler.transform(fit_rows), columns=columns)
    test_frame = pd.DataFrame(scaler.transform(test), columns=columns)
    config = TrainConfig(seed=seed, device="cpu", **overrides)
    torch.manual_seed(seed)
    started = time.perf_counter()
    model = TabularGAN(config).fit(fit_frame)
    fit_seconds = time.perf_counter() - started
    out = model.score(test_frame, fpr=fpr)
    row = {"dataset": name, "seed": seed, "setting": setting, "auroc": roc_auc_score(truth, out["score"])}
    for part in ("density", "reconstruction", "discriminator"):
        row[f"auroc_{part}"] = roc_auc_score(truth, out[f"score_{part}"])
    row["fpr_realised"] = float(out["is_anomaly"].to_numpy()[truth == 0].mean())
    row["fit_seconds"] = fit_seconds
    many = pd.DataFrame(np.resize(test_frame.to_numpy(), (50_000, X.shape[1])), columns=columns)
    started = time.perf_counter()
    model.score(many, fpr=fpr, all_parts=False)
    row["score_rows_per_s"] = len(many) / (time.perf_counter() - started)
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", required=True)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--setting", action="append", required=True, help="NAME=JSON of TrainConfig overrides")
    parser.add_argument("--fpr", type=float, default=0.05)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--name", default="anomaly_settings")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per fit (default: CPUs / jobs)")
    args = parser.parse_args()
    settings = [(s.split("=", 1)[0], json.loads(s.split("=", 1)[1])) for s in args.setting]
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = [(d, seed, name, over) for name, over in settings for d in args.datasets for seed in seeds]
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(run_one, *job, args.fpr, threads) for job in jobs]
        rows = [f.result() for f in futures]
    table = pd.DataFrame(rows)
    summary = (
        table.groupby(["dataset", "setting"], sort=False).mean(numeric_only=True).drop(columns="seed").reset_index()
    )
    mean = table.groupby("setting", sort=False)[["auroc", "auroc_density", "fit_seconds"]].mean()
    notes = "## Mean over the datasets\n\n" + mean.to_markdown(floatfmt=".4f")
    print(summary.to_string(index=False))
    print("wrote", write_results(args.name, table, summary, notes))


if __name__ == "__main__":
    main()
