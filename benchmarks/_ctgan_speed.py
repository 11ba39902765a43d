"""CTGAN's side of `speed.py`, run as a child process in the environment that has `ctgan` (``.venv-bench``).

`ctgan` pins pandas below 3, so it cannot share the project's environment: `speed.py` writes the training
rows to a CSV file, runs this script with that environment's Python, and reads one JSON object from the
last line of its standard output. This script imports neither gantools nor the other benchmark modules.

Fits ``CTGAN(epochs=...)`` on the rows (``--discrete``: the categorical columns, comma-separated), then
optionally writes ``--synthetic-n`` sampled rows to ``--synthetic-out`` (for TSTR and detection in the
parent) and times an in-memory ``sample(--sample-rows)``.

    .venv-bench/bin/python benchmarks/_ctgan_speed.py --train rows.csv --discrete a,b,label --epochs 300
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True, help="CSV of training rows")
    parser.add_argument("--discrete", default="", help="categorical columns, comma-separated")
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=500, help="CTGAN's default (a multiple of pac=10)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--device", default="auto", help="auto (GPU when there is one), cpu or cuda")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--synthetic-n", type=int, default=0, help="rows to sample and write to --synthetic-out")
    parser.add_argument("--synthetic-out", default=None)
    parser.add_argument("--sample-rows", type=int, default=0, help="rows of the timed in-memory sample()")
    args = parser.parse_args()

    import numpy as np
    import pandas as pd
    import torch
    from ctgan import CTGAN

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    frame = pd.read_csv(args.train)
    discrete = [c for c in args.discrete.split(",") if c]
    for column in discrete:  # categories as objects (missing stays NaN: CTGAN learns it as a category)
        frame[column] = frame[column].astype(object)
    gpu = args.device != "cpu" and torch.cuda.is_available()
    batch = max(10, min(args.batch_size, (len(frame) // 10) * 10))
    model = CTGAN(epochs=args.epochs, batch_size=batch, enable_gpu=gpu)
    model.set_random_state(args.seed)
    started, cpu = time.perf_counter(), time.process_time()
    model.fit(frame, discrete_columns=discrete)
    fit_seconds, fit_cpu = time.perf_counter() - started, time.process_time() - cpu
    steps = args.epochs * max(len(frame) // batch, 1)
    out = {
        "rows": len(frame),
        "columns": frame.shape[1],
        "epochs": args.epochs,
        "batch_size": batch,
        "steps": steps,
        "fit_seconds": fit_seconds,
        "fit_cpu_seconds": fit_cpu,
        "train_rows_per_s": len(frame) * args.epochs / fit_seconds,  # rows x epochs / fit seconds
        "device": "cuda" if gpu else "cpu",
        "threads": args.threads,
        "ctgan": __import__("ctgan").__version__,
        "torch": torch.__version__,
        "pandas": pd.__version__,
    }
    if args.synthetic_n > 0 and args.synthetic_out:
        started = time.perf_counter()
        model.sample(args.synthetic_n).to_csv(args.synthetic_out, index=False)
        out["synthetic_seconds"] = time.perf_counter() - started
    if args.sample_rows > 0:
        started = time.perf_counter()
        sampled = model.sample(args.sample_rows)
        seconds = time.perf_counter() - started
        out.update(sample_rows=len(sampled), sample_seconds=seconds, sample_rows_per_s=len(sampled) / seconds)
    sys.stdout.flush()
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
