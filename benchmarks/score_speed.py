"""Scoring throughput side by side: gantools vs IsolationForest and KNN on the anomaly benchmark's data.

Acceptance 3 of the anomaly issue compares scoring rows/s on the same data and CPU. `anomaly.py` records
one cold call per fit while other fits run beside it; this script measures in one quiet process, one
thread, each method's best of ``--repeats`` calls of ``decision_function`` on the test rows of the seed-0
split (`anomaly.py`'s protocol) repeated to ``--rows`` rows. Scoring cost hardly depends on how long G was
trained (only the share of rows that reach D's part does), so gantools is fitted for ``--epochs`` passes
over the data, with the default networks, density and calibration.

    python benchmarks/score_speed.py                     # the 13 sets
    python benchmarks/score_speed.py --datasets banknote 6_cardio
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_results  # noqa: E402
from anomaly import ADBENCH, load_dataset  # noqa: E402


def best_rate(score, data: np.ndarray, repeats: int) -> tuple[float, float]:
    """(first call's rows/s, best call's rows/s)."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        score(data)
        times.append(time.perf_counter() - started)
    return len(data) / times[0], len(data) / min(times)


def run(name: str, rows: int, repeats: int, epochs: int) -> list[dict]:
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from sklearn.preprocessing import StandardScaler

    from gantools import GANAnomalyDetector

    X, y = load_dataset(name)
    normal, anomalies = X[y == 0], X[y == 1]
    order = np.random.default_rng(0).permutation(len(normal))
    cut = int(0.6 * len(normal))
    scaler = StandardScaler().fit(normal[order[:cut]])
    fit_rows = scaler.transform(normal[order[:cut]])
    test = scaler.transform(np.vstack([normal[order[cut:]], anomalies]))
    data = np.resize(test, (max(rows, len(test)), test.shape[1]))
    methods = {
        "gantools": GANAnomalyDetector(contamination=0.05, random_state=0, epochs=epochs),
        "IsolationForest": IForest(contamination=0.05, random_state=0),
        "KNN": KNN(contamination=0.05),
    }
    out = []
    for method, det in methods.items():
        det.fit(fit_rows)
        first, best = best_rate(det.decision_function, data, repeats)
        out.append({"dataset": name, "columns": test.shape[1], "method": method, "first_rows_per_s": first,
                    "best_rows_per_s": best})  # fmt: skip
        print(f"{name:14s} {method:16s} first {first:10.0f} best {best:10.0f} rows/s", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["banknote", *ADBENCH])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2, help="gantools training passes (cost does not depend on it)")
    parser.add_argument("--name", default="score_speed")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    table = pd.DataFrame([r for name in args.datasets for r in run(name, args.rows, args.repeats, args.epochs)])
    best = table.pivot(index="dataset", columns="method", values="best_rows_per_s")
    best["gantools / IsolationForest"] = best["gantools"] / best["IsolationForest"]
    best["gantools / KNN"] = best["gantools"] / best["KNN"]
    columns = table.drop_duplicates("dataset").set_index("dataset")["columns"]
    summary = best.join(columns).reset_index()
    median = {"dataset": "median", **{c: summary[c].median() for c in summary.columns if c != "dataset"}}
    summary = pd.concat([summary, pd.DataFrame([median])], ignore_index=True)
    path = write_results(args.name, table, summary, "Best of the repeated calls, rows/s, one thread.")
    print(summary.round(3).to_string(index=False))
    print(f"written: {path}")


if __name__ == "__main__":
    main()
