"""Scoring throughput side by side: gantools vs IsolationForest and KNN on the anomaly benchmark's data.

Acceptance 3 of the anomaly issue compares scoring rows/s on the same data and CPU. `anomaly.py` records
one cold call per fit while other fits run beside it; this script measures in one quiet process, one
thread, each method's best of ``--repeats`` calls of ``decision_function`` on the seed-0 split of
`anomaly.py`'s protocol, on two streams of ``--rows`` rows each:

- ``test``: the protocol's test rows (40% of the normal rows plus every anomaly), repeated;
- ``normal``: the held-out normal rows alone, repeated: what a stream of mostly normal records costs.

gantools' cost depends on how many rows pass the density gate (only those need E, G and D), which
depends on how well G was trained, so gantools is fitted at its default length. The fits run first,
``--jobs`` at a time (one thread each, saved to a temporary folder); timing starts after all of them,
with nothing else running. ``--epochs`` shortens the fits (a smoke test only: the gate then passes a
different share of rows). ``--models DIR`` skips the fits and loads the seed-0 fits that
`anomaly.py --save-models DIR` kept (``DIR/<set>_seed0``: the same split and settings); their calibration
is recomputed with this version's code on the held-out rows it was made from (the model's own seeded
split of the fitted rows), so fits saved by an earlier commit score as fresh fits would (the density is
refitted from the saved networks: the model's own generator only, as further generators are not saved);
``--as-saved`` scores them as saved instead (fits saved by this version).

    python benchmarks/score_speed.py --jobs 2                  # the 13 sets
    python benchmarks/score_speed.py --models DIR              # with anomaly.py's saved fits
    python benchmarks/score_speed.py --datasets banknote 6_cardio
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


@dataclass
class Split:
    fit_rows: np.ndarray
    test: np.ndarray  # held-out normal rows, then every anomaly
    n_normal: int  # how many of ``test``'s rows are normal


def split(name: str) -> Split:
    """The seed-0 split of anomaly.py's protocol, standardised on the fitted rows."""
    from sklearn.preprocessing import StandardScaler

    X, y = load_dataset(name)
    normal, anomalies = X[y == 0], X[y == 1]
    order = np.random.default_rng(0).permutation(len(normal))
    cut = int(0.6 * len(normal))
    scaler = StandardScaler().fit(normal[order[:cut]])
    test = scaler.transform(np.vstack([normal[order[cut:]], anomalies]))
    return Split(scaler.transform(normal[order[:cut]]), test, len(normal) - cut)


def fit_gantools(name: str, epochs: int | None, folder: str) -> str:
    """Fit the default detector on ``name``'s split (one thread) and save it; returns the model folder."""
    import torch

    from gantools import GANAnomalyDetector

    torch.set_num_threads(1)
    started = time.perf_counter()
    det = GANAnomalyDetector(contamination=0.05, random_state=0, epochs=epochs).fit(split(name).fit_rows)
    path = det.save(Path(folder) / name)
    print(f"{name:14s} gantools fitted in {time.perf_counter() - started:.0f} s", flush=True)
    return str(path)


def recalibrate(det: Any, fit_rows: np.ndarray) -> None:
    """Recompute a loaded fit's calibration (gate, thresholds, ...) on the held-out rows it was fitted with."""
    import torch

    from gantools.model import _stratified_holdout

    model = det.model_
    train, hold = _stratified_holdout(np.zeros(len(fit_rows), dtype=int), model.config_.holdout, model.config_.seed)

    def encoded(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        frame = det._frame(rows)
        X = torch.as_tensor(model.preprocessor_.transform(frame[model.schema_.names]), device=model.device_)
        return X, torch.zeros(len(X), dtype=torch.long, device=model.device_)

    model._calibrate(*encoded(fit_rows[hold]), *encoded(fit_rows[train]))
    det._finish_fit(None)


def run(name: str, rows: int, repeats: int, model: str, device: str, saved: bool) -> list[dict]:
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN

    from gantools import GANAnomalyDetector

    data = split(name)
    streams = {
        "test": np.resize(data.test, (max(rows, len(data.test)), data.test.shape[1])),
        "normal": np.resize(data.test[: data.n_normal], (rows, data.test.shape[1])),
    }
    gan = GANAnomalyDetector.load(model, contamination=0.05, device=device)
    if saved:
        recalibrate(gan, data.fit_rows)
    methods = {
        "gantools": gan,
        "IsolationForest": IForest(contamination=0.05, random_state=0).fit(data.fit_rows),
        "KNN": KNN(contamination=0.05).fit(data.fit_rows),
    }
    out = []
    for stream, rows_of in streams.items():
        for method, det in methods.items():
            first, best = best_rate(det.decision_function, rows_of, repeats)
            row = {"dataset": name, "columns": data.test.shape[1], "stream": stream, "method": method,
                   "first_rows_per_s": first, "best_rows_per_s": best}  # fmt: skip
            if method == "gantools":  # share of the rows that passed the density gate (needed E and G)
                parts = det.model_.score(det._frame(rows_of), all_parts=False)
                row["network_share"] = float(parts["score_reconstruction"].notna().mean())
            out.append(row)
            print(f"{name:14s} {stream:7s} {method:16s} first {first:10.0f} best {best:10.0f} rows/s", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["banknote", *ADBENCH])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None, help="gantools training passes (default: its own)")
    parser.add_argument("--jobs", type=int, default=1, help="gantools fits at a time (before any timing)")
    parser.add_argument("--models", type=Path, help="folder of anomaly.py --save-models fits: no fitting here")
    parser.add_argument(
        "--as-saved", action="store_true", help="with --models: score the fits as saved (no recalibration)"
    )
    parser.add_argument("--device", default="cpu", help="where gantools scores (the others: the CPU)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads while timing")
    parser.add_argument("--name", default="score_speed")
    args = parser.parse_args()
    import torch

    with tempfile.TemporaryDirectory() as folder:
        if args.models is not None:
            models = {name: str(args.models / f"{name}_seed0") for name in args.datasets}
        else:
            with ProcessPoolExecutor(args.jobs) as pool:
                fitted = pool.map(fit_gantools, args.datasets, [args.epochs] * len(args.datasets),
                                  [folder] * len(args.datasets))  # fmt: skip
                models = dict(zip(args.datasets, fitted))
        torch.set_num_threads(args.threads)
        table = pd.DataFrame(
            [
                r
                for name in args.datasets
                for r in run(
                    name,
                    args.rows,
                    args.repeats,
                    models[name],
                    args.device,
                    args.models is not None and not args.as_saved,
                )
            ]
        )
    parts = []
    for stream, rows in table.groupby("stream", sort=False):
        best = rows.pivot(index="dataset", columns="method", values="best_rows_per_s")
        best["gantools / IsolationForest"] = best["gantools"] / best["IsolationForest"]
        best["gantools / KNN"] = best["gantools"] / best["KNN"]
        best["gantools network share"] = rows[rows.method == "gantools"].set_index("dataset")["network_share"]
        best.insert(0, "stream", stream)
        parts.append(best.reset_index())
    summary = pd.concat(parts, ignore_index=True)
    columns = table.drop_duplicates("dataset").set_index("dataset")["columns"]
    summary["columns"] = summary["dataset"].map(columns)
    medians = [
        {"dataset": "median", "stream": stream, **g.drop(columns=["dataset", "stream"]).median().to_dict()}
        for stream, g in summary.groupby("stream", sort=False)
    ]
    summary = pd.concat([summary, pd.DataFrame(medians)], ignore_index=True)
    notes = (
        f"Best of the repeated calls, rows/s, {args.threads} torch thread(s), gantools on {args.device}. "
        "network share: rows that passed the density gate."
    )
    path = write_results(args.name, table, summary, notes)
    print(summary.round(3).to_string(index=False))
    print(f"written: {path}")


if __name__ == "__main__":
    main()
