"""Network width, batch and steps of a model of several classes on Adult: fit time against TSTR and detection AUC.

Each variant: ``TabularGAN(TrainConfig(seed, **variant)).fit`` on Adult's stratified 70% (``speed.py``'s split),
as many synthetic rows sampled as training rows, TSTR / TRTR (HistGradientBoosting, balanced accuracy on the
real 30%) and real-vs-synthetic detection AUC (0.5 = indistinguishable), as in ``speed.py``. One JSON line
per fit is appended to ``--out`` (the session-21 figures: ``results/multi_class_width_s21.csv``).

    python benchmarks/multi_class_width.py --variants base h128 h128b512s3k --seeds 0 1
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import adult_quality, load_adult  # noqa: E402

VARIANTS = {
    "base": {},  # the defaults
    "h256": {"hidden": 256},
    "h128": {"hidden": 128},
    "h64": {"hidden": 64},
    "h128b512s3k": {"hidden": 128, "batch_size": 512, "target_steps": 3000},
    "h64b512s3k": {"hidden": 64, "batch_size": 512, "target_steps": 3000},
    "h128b1024s1500": {"hidden": 128, "batch_size": 1024, "target_steps": 1500},
    "h64b1024s1500": {"hidden": 64, "batch_size": 1024, "target_steps": 1500},
}


def main() -> None:
    from gantools import TabularGAN, TrainConfig

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", nargs="+", default=["base"], choices=sorted(VARIANTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("multi_class_width.jsonl"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for seed in args.seeds:
        _, train, test, _ = load_adult(seed, None)
        for name in args.variants:
            started = time.perf_counter()
            model = TabularGAN(TrainConfig(seed=seed, **VARIANTS[name])).fit(train, label="income")
            fit = time.perf_counter() - started
            started = time.perf_counter()
            synthetic = model.sample(len(train))
            sample_seconds = time.perf_counter() - started
            hist = model.history_
            row = {
                "variant": name,
                "seed": seed,
                "fit_s": round(fit, 1),
                "gan_s": hist.get("gan_seconds"),
                "steps": hist.get("gan_steps"),
                "rows_per_s": hist.get("gan_rows_per_second"),
                "sample_rows_per_s": len(train) / sample_seconds,
                **adult_quality(train, test, synthetic, seed),
            }
            print(json.dumps(row), flush=True)
            with args.out.open("a") as out:
                out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
