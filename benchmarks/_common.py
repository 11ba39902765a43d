"""Helpers shared by the benchmark scripts: data location, machine description, result files."""

from __future__ import annotations

import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from gantools.settings import data_dir

RESULTS = Path(__file__).resolve().parent / "results"


def shared_data() -> Path:
    folder = data_dir()
    if folder is None:
        sys.exit("shared datasets not found: set GANTOOLS_DATA to the folder holding banknote/, adbench/, adult/")
    return folder


def one_class_split(
    normal: np.ndarray, anomalies: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The one-class protocol's split: fit on a random 60% of the normal rows; test on the other 40% plus every
    anomaly. Returns (fit rows, test rows, test truth with 1 = anomaly); ``rng`` draws the permutation."""
    order = rng.permutation(len(normal))
    cut = int(0.6 * len(normal))
    test = np.vstack([normal[order[cut:]], anomalies])
    return normal[order[:cut]], test, np.r_[np.zeros(len(normal) - cut), np.ones(len(anomalies))]


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    import os

    return f"{cpu} ({os.cpu_count()} cores), {gpu}"


def versions() -> str:
    import pyod
    import sklearn
    import torch

    import gantools

    return (
        f"gantools {gantools.__version__}, torch {torch.__version__}, scikit-learn {sklearn.__version__}, "
        f"pyod {pyod.__version__}, pandas {pd.__version__}, numpy {np.__version__}, python {platform.python_version()}"
    )


def write_results(name: str, table: pd.DataFrame, summary: pd.DataFrame, notes: str = "") -> Path:
    """Write ``name``.csv (all runs) and ``name``.md (summary with command, machine, versions)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    table.to_csv(RESULTS / f"{name}.csv", index=False)
    command = "python " + " ".join(shlex.quote(a) for a in [str(Path(sys.argv[0]))] + sys.argv[1:])
    md = [
        f"# {name}",
        "",
        f"- command: `{command}`",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: {machine()}",
        f"- versions: {versions()}",
        "",
        summary.to_markdown(index=False, floatfmt=".4f") if _has_tabulate() else summary.to_string(index=False),
        "",
        notes,
    ]
    path = RESULTS / f"{name}.md"
    path.write_text("\n".join(md))
    return path


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401

        return True
    except ImportError:
        return False
