"""Anomaly-detection benchmark, one-class protocol: gantools side by side with what users reach for instead.

For each dataset and seed: fit on 60% of the normal rows (seeded split), test on the other 40% plus all
anomalies; every method sees the same rows, standardised on the fitted rows. Reports AUROC, AUPRC, the
realised false-positive rate and recall at each method's own threshold for ``--fpr``, fit seconds and
scoring rows/s (measured on the test rows repeated to ``--throughput-rows`` rows, so that per-call
overheads do not decide it; PyOD's AnoGAN optimises a latent code per row, so it is timed on at most
``--slow-throughput-rows`` rows).

Methods:
- unsupervised, fitted on normal rows only: gantools, KNN, LOF (novelty), OneClassSVM, IsolationForest,
  ECOD, COPOD (PyOD), and PyOD's GAN detectors AnoGAN and ALAD with PyOD's defaults. They are slow on a
  CPU (AnoGAN: 500 epochs at batch 32, ~4 minutes for 120 rows on one core), so ALAD runs where the fit
  split has at most ``--gan-peers-max-rows`` rows and AnoGAN where it has at most ``--anogan-max-rows``,
  on the first ``--anogan-seeds`` seed(s);
- supervised references, for a user who has a few labels: RandomForest and HistGradientBoosting trained on
  the same normal rows plus k labeled anomalies (k = 5, 20; drawn per seed); they are tested on the same
  test rows minus those k anomalies, and skipped where fewer than 2k anomalies exist;
- ``gantools+k5``: gantools given the same 5 labeled anomalies (weights tuned on them, ``tune_weights``;
  the networks are those of the unsupervised fit), tested like the supervised references.

    python benchmarks/anomaly.py                                  # banknote, 3 seeds
    python benchmarks/anomaly.py --datasets all --seeds 3 --jobs 2  # banknote + the 12 ADBench sets
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from _common import RESULTS, one_class_split, shared_data, write_results

ADBENCH = [
    "14_glass",
    "18_Ionosphere",
    "23_mammography",
    "28_pendigits",
    "29_Pima",
    "2_annthyroid",
    "30_satellite",
    "32_shuttle",
    "38_thyroid",
    "40_vowels",
    "47_yeast",
    "6_cardio",
]
UNSUPERVISED = ["gantools", "KNN", "LOF", "OneClassSVM", "IsolationForest", "ECOD", "COPOD", "AnoGAN", "ALAD"]
GAN_PEERS = {"AnoGAN", "ALAD"}


def load_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    root = shared_data()
    if name == "banknote":
        df = pd.read_csv(root / "banknote" / "banknote.csv")
        return df.drop(columns="class").to_numpy(np.float64), df["class"].to_numpy()
    data = np.load(root / "adbench" / f"{name}.npz", allow_pickle=False)
    return data["X"].astype(np.float64), data["y"].astype(int)


@dataclass
class Options:
    fpr: float
    gan_epochs: int | None
    gan_peers_max_rows: int
    anogan_max_rows: int
    anogan_seeds: int
    throughput_rows: int
    slow_throughput_rows: int
    only: list[str] | None
    threads: int
    save_models: Path | None = None  # where each fitted gantools detector is saved (for re-scoring studies)


def unsupervised_methods(opts: Options, seed: int) -> dict[str, Callable[[], object]]:
    from pyod.models.alad import ALAD
    from pyod.models.anogan import AnoGAN
    from pyod.models.copod import COPOD
    from pyod.models.ecod import ECOD
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.lof import LOF
    from pyod.models.ocsvm import OCSVM

    from gantools import GANAnomalyDetector

    fpr = opts.fpr
    return {
        "gantools": lambda: GANAnomalyDetector(contamination=fpr, random_state=seed, epochs=opts.gan_epochs),
        "KNN": lambda: KNN(contamination=fpr),
        "LOF": lambda: LOF(contamination=fpr, novelty=True),
        "OneClassSVM": lambda: OCSVM(contamination=fpr),
        "IsolationForest": lambda: IForest(contamination=fpr, random_state=seed),
        "ECOD": lambda: ECOD(contamination=fpr),
        "COPOD": lambda: COPOD(contamination=fpr),
        "AnoGAN": lambda: AnoGAN(contamination=fpr, device="cpu"),
        "ALAD": lambda: ALAD(contamination=fpr, device="cpu"),
    }


def supervised_methods(seed: int) -> dict[str, Callable[[], object]]:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier

    return {
        "RandomForest": lambda: RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=1),
        "HistGradientBoosting": lambda: HistGradientBoostingClassifier(random_state=seed),
    }


def _rows_or_zero(name: str) -> int:
    """Rows of a dataset, for ordering; 0 if it cannot be read (its run then fails and is reported)."""
    try:
        return len(load_dataset(name)[0])
    except Exception:  # noqa: BLE001 - reported by the run itself
        return 0


def _rows_per_s(score: Callable[[np.ndarray], np.ndarray], rows: np.ndarray, target: int) -> float:
    data = np.resize(rows, (max(target, len(rows)), rows.shape[1])) if target > 0 else rows
    started = time.perf_counter()
    score(data)
    return len(data) / max(time.perf_counter() - started, 1e-9)


def _metrics(truth: np.ndarray, scores: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    return {
        "auroc": roc_auc_score(truth, scores),
        "auprc": average_precision_score(truth, scores),
        "fpr_realised": float(flagged[truth == 0].mean()),
        "recall": float(flagged[truth == 1].mean()),
    }


def run_seed(name: str, seed: int, opts: Options) -> list[dict]:
    """Every method on one dataset's split of one seed (one job of the run: resumable per dataset and seed)."""
    import torch
    from sklearn.preprocessing import StandardScaler

    torch.set_num_threads(opts.threads)
    import torch._dynamo  # noqa: F401  (torch imports it lazily on the first optimiser: not fit time)

    X, y = load_dataset(name)
    normal, anomalies = X[y == 0], X[y == 1]
    rows: list[dict] = []

    def record(method: str, metrics: dict, fit_s: float, rate: float) -> None:
        rows.append({"dataset": name, "seed": seed, "method": method, **metrics, "fit_seconds": fit_s,
                     "score_rows_per_s": rate})  # fmt: skip
        print(f"{name:14s} seed {seed} {method:22s} AUROC {metrics['auroc']:.4f} FPR {metrics['fpr_realised']:.3f} "
              f"fit {fit_s:7.1f}s {rate:10.0f} rows/s", flush=True)  # fmt: skip

    rng = np.random.default_rng(seed)
    fit_rows, test, truth = one_class_split(normal, anomalies, rng)
    scaler = StandardScaler().fit(fit_rows)
    fit_s, test_s = scaler.transform(fit_rows), scaler.transform(test)
    fitted_gantools = None
    for method, make in unsupervised_methods(opts, seed).items():
        if opts.only and method not in opts.only:
            continue
        if method in GAN_PEERS and len(fit_s) > opts.gan_peers_max_rows:
            continue
        if method == "AnoGAN" and (len(fit_s) > opts.anogan_max_rows or seed >= opts.anogan_seeds):
            continue
        torch.manual_seed(seed)
        det = make()
        t0 = time.perf_counter()
        det.fit(fit_s)
        fit_seconds = time.perf_counter() - t0
        scores = det.decision_function(test_s)
        target = opts.slow_throughput_rows if method == "AnoGAN" else opts.throughput_rows
        rate = _rows_per_s(det.decision_function, test_s[: opts.slow_throughput_rows] if method == "AnoGAN"
                           else test_s, target)  # fmt: skip
        record(method, _metrics(truth, scores, scores > det.threshold_), fit_seconds, rate)
        if method == "gantools":
            fitted_gantools = (det, fit_seconds)
            if opts.save_models is not None:
                det.save(opts.save_models / f"{name}_seed{seed}")

    # A user with a few labeled anomalies: k of them join the fit rows, the rest stay in the test.
    labeled_order = rng.permutation(len(anomalies))
    for k in (5, 20):
        if len(anomalies) < 2 * k:
            continue
        labeled = anomalies[labeled_order[:k]]
        keep = np.ones(len(test), bool)  # the test rows: held-out normal rows, then every anomaly
        keep[len(test) - len(anomalies) + labeled_order[:k]] = False
        test_k, truth_k = test_s[keep], truth[keep]
        X_sup = np.vstack([fit_s, scaler.transform(labeled)])
        y_sup = np.r_[np.zeros(len(fit_s)), np.ones(k)]
        for method, make in supervised_methods(seed).items():
            if opts.only and method not in opts.only:
                continue
            clf = make()
            t0 = time.perf_counter()
            clf.fit(X_sup, y_sup)
            fit_seconds = time.perf_counter() - t0
            scores = clf.predict_proba(test_k)[:, 1]
            rate = _rows_per_s(lambda a, c=clf: c.predict_proba(a), test_k, opts.throughput_rows)
            record(f"{method} (k={k})", _metrics(truth_k, scores, scores > 0.5), fit_seconds, rate)
        if k == 5 and fitted_gantools is not None:
            # The same model given the 5 labels: fit(X, y) would train the identical networks (same rows,
            # same seed) and then tune the weights; tune_weights does the second step on a copy.
            det, gan_fit_seconds = fitted_gantools
            det = copy.deepcopy(det)
            t0 = time.perf_counter()
            det.tune_weights(scaler.transform(labeled))
            fit_seconds = gan_fit_seconds + time.perf_counter() - t0
            scores = det.decision_function(test_k)
            rate = _rows_per_s(det.decision_function, test_k, opts.throughput_rows)
            record("gantools+k5", _metrics(truth_k, scores, scores > det.threshold_), fit_seconds, rate)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["banknote"], help="names, or 'all' for the 13 sets")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--fpr", type=float, default=0.05)
    parser.add_argument("--methods", nargs="*", help="only these methods")
    parser.add_argument("--gan-epochs", type=int, default=None, help="gantools epochs (default: automatic)")
    parser.add_argument("--gan-peers-max-rows", type=int, default=2500, help="ALAD only up to this many fit rows")
    parser.add_argument("--anogan-max-rows", type=int, default=500, help="AnoGAN only up to this many fit rows")
    parser.add_argument("--anogan-seeds", type=int, default=1, help="AnoGAN only on this many seeds")
    parser.add_argument("--throughput-rows", type=int, default=50_000)
    parser.add_argument("--slow-throughput-rows", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=1, help="datasets run in this many processes")
    parser.add_argument("--name", default=None, help="results file name (default: anomaly_<datasets>)")
    parser.add_argument("--resume", action="store_true", help="keep the datasets of an earlier stopped run")
    parser.add_argument("--summarise", action="store_true", help="with --resume: write the results of what is done")
    parser.add_argument(
        "--save-models",
        type=Path,
        default=None,
        help="save each gantools fit here as <dataset>_seed<seed> (to study scoring without refitting)",
    )
    args = parser.parse_args()
    datasets = ["banknote", *ADBENCH] if args.datasets == ["all"] else args.datasets
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    opts = Options(args.fpr, args.gan_epochs, args.gan_peers_max_rows, args.anogan_max_rows, args.anogan_seeds,
                   args.throughput_rows,
                   args.slow_throughput_rows, args.methods, threads, args.save_models)  # fmt: skip
    started = time.perf_counter()
    name = args.name or "anomaly_" + "_".join(datasets if len(datasets) <= 2 else ["all"])
    # Each finished (dataset, seed) is appended to <name>.partial.csv, so a long run that is stopped keeps what
    # it did; --resume skips the (dataset, seed) jobs already there.
    partial = RESULTS / f"{name}.partial.csv"
    done = pd.read_csv(partial) if args.resume and partial.exists() else pd.DataFrame()
    if not args.resume and partial.exists():
        partial.unlink()
    finished = set() if done.empty else set(zip(done["dataset"], done["seed"], strict=True))
    # Largest first, so that the long ones do not end up last on one worker.
    todo = [(d, seed) for d in sorted(datasets, key=lambda d: -_rows_or_zero(d)) for seed in range(args.seeds)]
    todo = [job for job in todo if job not in finished]
    if args.summarise:  # only what is in the partial file: the jobs still to do are listed, not run
        print("not run yet:", ", ".join(f"{d} seed {seed}" for d, seed in todo) or "none")
        todo = []
    results = [done.to_dict("records")] if not done.empty else []

    def keep(rows: list[dict]) -> None:
        results.append(rows)
        pd.DataFrame(rows).to_csv(partial, mode="a", header=not partial.exists(), index=False)

    failed: list[str] = []  # a job that fails is reported; the others' results are still kept

    def failure(job: tuple[str, int], error: BaseException) -> None:
        failed.append(f"{job[0]} seed {job[1]}")
        print(f"{job[0]} seed {job[1]}: FAILED: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        traceback.print_exception(error)

    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            futures = {pool.submit(run_seed, d, seed, opts): (d, seed) for d, seed in todo}
            for future in as_completed(futures):
                try:
                    keep(future.result())
                except Exception as error:  # noqa: BLE001 - reported, and the run goes on
                    failure(futures[future], error)
    else:
        for d, seed in todo:
            try:
                keep(run_seed(d, seed, opts))
            except Exception as error:  # noqa: BLE001 - reported, and the run goes on
                failure((d, seed), error)
    if failed:
        sys.exit(f"failed: {', '.join(failed)} (the others are in {partial}; rerun with --resume)")
    table = pd.DataFrame([row for rows in results for row in rows])
    table["dataset"] = pd.Categorical(
        table["dataset"], [d for d in datasets if d in set(table["dataset"])], ordered=True
    )
    table = table.sort_values(["dataset", "seed"], kind="stable")
    summary = (
        table.groupby(["dataset", "method"], sort=False, observed=True)
        .agg(
            auroc_mean=("auroc", "mean"),
            auroc_std=("auroc", "std"),
            auprc_mean=("auprc", "mean"),
            fpr_realised=("fpr_realised", "mean"),
            recall=("recall", "mean"),
            fit_seconds=("fit_seconds", "mean"),
            score_rows_per_s=("score_rows_per_s", "mean"),
        )
        .reset_index()
    )
    ran = set(zip(table["dataset"], table["seed"], strict=True))
    missing = [f"{d} seed {seed}" for d in datasets for seed in range(args.seeds) if (d, seed) not in ran]
    notes = [
        f"Not run yet (the run was stopped; continue with --resume): {', '.join(missing)}." if missing else "",
        f"Protocol: fit on 60% of the normal rows (seeded split), test on the other 40% plus all anomalies; "
        f"standardised on the fitted rows; {args.seeds} seeds; thresholds at fpr/contamination {args.fpr}; "
        f"{args.jobs} process(es) with {threads} torch thread(s) each; "
        f"wall time {time.perf_counter() - started:.0f} s.",
        "Supervised rows (k=...) and gantools+k5 are tested on the test rows minus their k labeled anomalies.",
    ]
    if len(datasets) > 1:
        notes += ["", "## Over the datasets", "", overview(table, datasets).to_markdown(floatfmt=".4f")]
    print(summary.to_string(index=False))
    print("wrote", write_results(name, table, summary, "\n".join(notes)))


def overview(table: pd.DataFrame, datasets: list[str]) -> pd.DataFrame:
    """Per method: mean AUROC over all sets it ran on and over the sets every method ran on, FPR, speed."""
    per_set = table.groupby(["method", "dataset"], observed=True)
    auroc = per_set["auroc"].mean().unstack()
    complete = [d for d in datasets if d in auroc.columns and auroc[d].notna().all()]
    out = pd.DataFrame(
        {
            "sets": auroc.notna().sum(axis=1),
            "auroc_mean": auroc.mean(axis=1),
            "auroc_mean_common_sets": auroc[complete].mean(axis=1) if complete else np.nan,
            "sets_below_gantools": (auroc.lt(auroc.loc["gantools"], axis=1)).sum(axis=1)
            if "gantools" in auroc.index
            else np.nan,
            "fpr_realised_mean": per_set["fpr_realised"].mean().groupby("method").mean(),
            "score_rows_per_s_median": per_set["score_rows_per_s"].mean().groupby("method").median(),
            "fit_seconds_mean": per_set["fit_seconds"].mean().groupby("method").mean(),
        }
    )
    return out.sort_values("auroc_mean", ascending=False)


if __name__ == "__main__":
    main()
