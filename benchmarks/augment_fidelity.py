"""Fidelity of synthetic rows on the full training split: utility (TSTR vs TRTR), real-vs-synthetic
detection AUC and copies of training rows, for gantools next to CTGAN and a multivariate Gaussian per class.

Protocol (issue 6, acceptance 2-4): for each dataset and seed, a stratified 70/30 split of the real data;
the 70% (subsampled to ``--max-train-rows``, the same rows for every method) trains each generator;
as many synthetic rows as training rows, at the training class mix. Then, with gantools' evaluation
functions applied alike to every method:

- TSTR / TRTR: HistGradientBoosting and LogisticRegression trained on the synthetic rows vs the real training
  rows, balanced accuracy on the real 30%;
- detection AUC: a HistGradientBoosting classifier telling the real training rows from the synthetic rows,
  5-fold cross-validated (0.5: indistinguishable);
- copies: synthetic rows equal to a training row (all columns), and the training data's own duplicate share.

    python benchmarks/augment_fidelity.py                       # banknote and adult, 3 seeds
    python benchmarks/augment_fidelity.py --datasets banknote --seeds 1 --methods gantools mvgaussian
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from _common import write_results
from augment_small import AUGMENTERS, load
from sklearn.model_selection import train_test_split

from gantools.data.schema import infer_schema
from gantools.evaluation.detection import detection_auc
from gantools.evaluation.encoding import TableEncoder, column_kinds
from gantools.evaluation.privacy import find_copies
from gantools.evaluation.utility import tstr_trtr

DATASETS = ["banknote", "adult"]
METHODS = ["gantools", "CTGAN", "mvgaussian"]


def synthesise(method: str, X: pd.DataFrame, y: pd.Series, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """As many synthetic rows per class as the training data has (the augmenters append to the real rows)."""
    counts = y.value_counts()
    X_aug, y_aug = AUGMENTERS[method](X, y, 2 * int(counts.max()), seed)
    X_new, y_new = X_aug.iloc[len(X) :], y_aug.iloc[len(y) :]
    keep = np.concatenate(
        [np.flatnonzero(y_new.to_numpy() == c)[: int(counts[c])] for c in counts.index]
    )  # each class back to its training count: the training class mix
    return X_new.iloc[keep].reset_index(drop=True), y_new.iloc[keep].reset_index(drop=True)


def run(dataset: str, seed: int, methods: list[str], max_train_rows: int) -> list[dict]:
    X, y = load(dataset)
    label = str(y.name)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    if len(X_tr) > max_train_rows:
        X_tr, _, y_tr, _ = train_test_split(X_tr, y_tr, train_size=max_train_rows, stratify=y_tr, random_state=seed)
    X_tr, y_tr = X_tr.reset_index(drop=True), y_tr.reset_index(drop=True)
    train = X_tr.assign(**{label: y_tr.to_numpy()})
    test = X_te.reset_index(drop=True).assign(**{label: y_te.to_numpy()})
    schema = infer_schema(train, label, {}, dataset)
    encoder = TableEncoder(column_kinds(schema, with_label=False), train)
    rows = []
    for method in methods:
        t0 = time.perf_counter()
        try:
            X_syn, y_syn = synthesise(method, X_tr, y_tr, seed)
        except ImportError as exc:
            print(f"skipping {method}: {exc}", flush=True)
            continue
        seconds = time.perf_counter() - t0
        synthetic = X_syn[X_tr.columns].assign(**{label: y_syn.to_numpy()})
        utility = tstr_trtr(synthetic, test, label, encoder, real_train=train, seed=seed)
        detection = detection_auc(X_tr, X_syn[X_tr.columns], encoder, seed=seed)
        copies = find_copies(synthetic, train, schema)
        row = {
            "dataset": dataset,
            "seed": seed,
            "method": method,
            "train_rows": len(train),
            "fit_sample_seconds": seconds,
            "detection_auc": detection.get("auc", np.nan),
            "exact_copies": copies.exact,
            "exact_copy_share": copies.exact_share,
            "train_duplicate_share": copies.train_duplicate_share,
        }
        for clf, figures in utility["classifiers"].items():
            row[f"tstr_{clf}"] = figures["TSTR"]["balanced_accuracy"]
            row[f"trtr_{clf}"] = figures["TRTR"]["balanced_accuracy"]
            row[f"ratio_{clf}"] = figures["ratio"]["balanced_accuracy"]
        rows.append(row)
        print(
            f"{dataset:9s} seed {seed} {method:10s} detection AUC {row['detection_auc']:.3f}  TSTR/TRTR "
            + " ".join(f"{c} {row[f'ratio_{c}']:.3f}" for c in utility["classifiers"])
            + f"  copies {copies.exact}  ({seconds:.0f}s)",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--methods", nargs="+", default=METHODS)
    parser.add_argument("--max-train-rows", type=int, default=5000, help="subsample larger training splits")
    parser.add_argument("--name", default="augment_fidelity")
    args = parser.parse_args()
    started = time.perf_counter()
    table = pd.DataFrame(
        [row for d in args.datasets for s in range(args.seeds) for row in run(d, s, args.methods, args.max_train_rows)]
    )
    metrics = [c for c in table.columns if c.startswith(("tstr_", "trtr_", "ratio_"))]
    summary = (
        table.groupby(["dataset", "method"], sort=False)[
            ["detection_auc", *metrics, "exact_copies", "train_duplicate_share", "fit_sample_seconds"]
        ]
        .mean()
        .reset_index()
    )
    print(summary.to_string(index=False))
    notes = (
        f"Protocol: stratified 70/30 split per seed (training split subsampled to at most {args.max_train_rows} "
        "rows, the same rows for every method); as many synthetic rows as training rows, at the training class "
        "mix; TSTR/TRTR = balanced accuracy on the real 30% of a classifier trained on synthetic vs real "
        "training rows; detection AUC = HistGradientBoosting, 5-fold CV, real training rows vs synthetic rows; "
        f"exact copies = synthetic rows equal to a training row. {args.seeds} seeds; wall time "
        f"{time.perf_counter() - started:.0f} s."
    )
    print("wrote", write_results(args.name, table, summary, notes))


if __name__ == "__main__":
    main()
