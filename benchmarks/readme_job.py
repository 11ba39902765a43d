"""The README's main job, timed as a user runs it, next to CTGAN's default fit on the same rows.

In a copy of ``examples/``: ``gantools train genuine_notes.csv --label class``, ``gantools augment --n 5000``,
``gantools score suspect_notes/`` (real child processes, default settings), each timed from start to exit;
then, in the same run, ``CTGAN(epochs=300)`` (its default) fitted on the same 609 notes
(``_ctgan_speed.py`` in the ``.venv-bench`` environment, which has ``ctgan``; skipped when it is missing).

    python benchmarks/readme_job.py --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from _common import write_results

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = [
    ("train", ["train", "genuine_notes.csv", "--label", "class"]),
    ("augment", ["augment", "--n", "5000"]),
    ("score", ["score", "suspect_notes/"]),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--ctgan-python", default=str(ROOT / ".venv-bench" / "bin" / "python"))
    parser.add_argument("--name", default="readme_job")
    args = parser.parse_args()
    exe = Path(sys.executable).with_name("gantools")
    rows = []
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp) / "examples"
            shutil.copytree(ROOT / "examples", work)
            total = 0.0
            for step, command in COMMANDS:
                started = time.perf_counter()
                subprocess.run([str(exe), *command], cwd=work, check=True, capture_output=True)
                seconds = time.perf_counter() - started
                total += seconds
                rows.append({"repeat": repeat, "step": f"gantools {step}", "seconds": seconds})
            history = json.loads((work / "gantools-model" / "config.json").read_text())["history"]
            rows.append({"repeat": repeat, "step": "gantools: the three commands", "seconds": total})
            rows.append(
                {
                    "repeat": repeat,
                    "step": "gantools train: fit inside the command",
                    "seconds": history["train_seconds"],
                }
            )
            if Path(args.ctgan_python).exists():
                notes = pd.read_csv(work / "genuine_notes.csv").drop(columns="class")
                notes.to_csv(Path(tmp) / "notes.csv", index=False)
                started = time.perf_counter()
                helper = str(ROOT / "benchmarks" / "_ctgan_speed.py")
                command = [args.ctgan_python, helper, "--train", str(Path(tmp) / "notes.csv"), "--epochs", "300"]
                command += ["--threads", str(os.cpu_count() or 1), "--device", "cpu"]
                out = subprocess.run(command, check=True, capture_output=True, text=True)
                wall = time.perf_counter() - started
                fit = json.loads(out.stdout.strip().splitlines()[-1])["fit_seconds"]
                rows.append({"repeat": repeat, "step": "CTGAN(epochs=300).fit on the same notes", "seconds": fit})
                rows.append({"repeat": repeat, "step": "CTGAN: the whole child process", "seconds": wall})
        print(pd.DataFrame(rows[-7:]).to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    summary = table.groupby("step", sort=False)["seconds"].agg(["mean", "std", "min", "max"]).reset_index()
    notes = (
        "The README's main job from a copy of `examples/` (609 genuine notes; 487 trained on, 122 held out), "
        "default settings, `torch` threads = all cores; CTGAN fitted on the same 609 notes' four columns in the "
        "same run (a child process in `.venv-bench`)."
    )
    print(summary.to_string(index=False))
    print("wrote", write_results(args.name, table, summary, notes))


if __name__ == "__main__":
    main()
