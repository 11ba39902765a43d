"""Training time and throughput with default settings, measured the way a user runs it.

Runs ``gantools train`` (a real subprocess, default settings) on the bundled banknote data and reads the
timings the model records: wall time of the command, training seconds, GAN steps and rows/s.

    python benchmarks/train_speed.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from _common import write_results

from gantools.datasets import banknote_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--name", default="train_speed_banknote", help="results file name")
    args = parser.parse_args()
    exe = Path(sys.executable).with_name("gantools")
    rows = []
    for seed in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            subprocess.run(
                [
                    str(exe),
                    "train",
                    banknote_path(),
                    "--label",
                    "class",
                    "--seed",
                    str(seed),
                    "--quiet",
                    "--device",
                    args.device,
                ],
                cwd=tmp,
                check=True,
                capture_output=True,
            )
            wall = time.perf_counter() - t0
            hist = json.loads((Path(tmp) / "gantools-model" / "config.json").read_text())["history"]
        rows.append(
            {
                "seed": seed,
                "command_wall_seconds": wall,
                "train_seconds": hist["train_seconds"],
                "gan_seconds": hist["gan_seconds"],
                "encoder_seconds": hist["encoder_seconds"],
                "gan_steps": hist["gan_steps"],
                "encoder_steps": hist["encoder_steps"],
                "train_rows": hist["n_train_rows"],
                "gan_rows_per_second": hist["gan_rows_per_second"],
                "device": hist["device"],
            }
        )
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    summary = table.drop(columns=["seed", "device"]).agg(["mean", "std"]).T.reset_index(names="figure")
    notes = (
        "`gantools train banknote.csv --label class` with default settings (1,372 rows; 20% held out). "
        "gan_rows_per_second = GAN steps x batch size / GAN seconds (rows seen by the critic per second)."
    )
    print(summary.to_string(index=False))
    print("wrote", write_results(args.name, table, summary, notes))


if __name__ == "__main__":
    main()
