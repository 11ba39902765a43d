"""Train-on-synthetic, test-on-real (TSTR) on banknote-style data: does a classifier trained only on
gantools' synthetic rows do as well as one trained on the real rows?

For each seed: a stratified 70/30 split of the real data; a GANAugmenter fitted on the 70% with default
settings; ``--n`` synthetic rows at the original class mix; a RandomForest trained on the synthetic rows
only (TSTR) and one trained on the real 70% (TRTR); both tested on the real 30%.

    python benchmarks/augment_tstr.py                 # banknote, 3 seeds, 5000 rows
    python benchmarks/augment_tstr.py --dataset adult --seeds 1
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from _common import shared_data, write_results
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import balanced_accuracy_score, f1_score
from sklearn.model_selection import train_test_split

from gantools import GANAugmenter

DATASETS = {"banknote": ("banknote/banknote.csv", "class"), "adult": ("adult/adult.csv", "income")}


def load(name: str) -> tuple[pd.DataFrame, pd.Series]:
    from gantools.data import read_table

    path, label = DATASETS[name]
    df = read_table(shared_data() / path)
    return df.drop(columns=label), df[label]


def encode_for_forest(train: pd.DataFrame, *others: pd.DataFrame) -> list[pd.DataFrame]:
    """One-hot categoricals consistently across frames (RandomForest needs numbers); NaN -> -1."""
    frames = [train, *others]
    joined = pd.get_dummies(pd.concat(frames, keys=range(len(frames))), dummy_na=True).astype(float).fillna(-1)
    return [joined.xs(i) for i in range(len(frames))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="banknote", choices=sorted(DATASETS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    X, y = load(args.dataset)
    rows = []
    for seed in range(args.seeds):
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
        t0 = time.perf_counter()
        aug = GANAugmenter(random_state=seed).fit(X_tr, y_tr)
        fit_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        X_syn, y_syn = aug.sample(args.n, class_mix="original", random_state=seed)
        sample_seconds = time.perf_counter() - t0
        real_tr, syn_tr, test = encode_for_forest(X_tr, X_syn, X_te)
        result = {
            "dataset": args.dataset,
            "seed": seed,
            "fit_seconds": fit_seconds,
            "sample_rows_per_s": args.n / max(sample_seconds, 1e-9),
        }
        for source, (Xf, yf) in {"real (TRTR)": (real_tr, y_tr), "synthetic (TSTR)": (syn_tr, y_syn)}.items():
            clf = RandomForestClassifier(n_estimators=300, random_state=seed, n_jobs=-1).fit(Xf, np.asarray(yf))
            pred = clf.predict(test)
            key = "trtr" if source.startswith("real") else "tstr"
            result[f"{key}_balanced_accuracy"] = balanced_accuracy_score(y_te, pred)
            result[f"{key}_macro_f1"] = f1_score(y_te, pred, average="macro")
        result["ratio"] = result["tstr_balanced_accuracy"] / result["trtr_balanced_accuracy"]
        rows.append(result)
        print(
            f"seed {seed}: TRTR {result['trtr_balanced_accuracy']:.4f}  TSTR {result['tstr_balanced_accuracy']:.4f}  "
            f"ratio {result['ratio']:.4f}  fit {fit_seconds:.1f}s",
            flush=True,
        )
    table = pd.DataFrame(rows)
    figures = {
        "TRTR balanced accuracy": "trtr_balanced_accuracy",
        "TSTR balanced accuracy": "tstr_balanced_accuracy",
        "TSTR / TRTR": "ratio",
        "TRTR macro-F1": "trtr_macro_f1",
        "TSTR macro-F1": "tstr_macro_f1",
        "fit seconds": "fit_seconds",
        "sampling rows/s": "sample_rows_per_s",
    }
    summary = pd.DataFrame(
        {
            "metric": list(figures),
            "mean": [table[c].mean() for c in figures.values()],
            "std": [table[c].std() for c in figures.values()],
        }
    )
    print(summary.to_string(index=False))
    notes = (
        f"Protocol: stratified 70/30 split per seed; GANAugmenter (defaults) fitted on the 70%; {args.n} synthetic "
        "rows at the original class mix; RandomForest(300 trees) on synthetic only vs on the real 70%; "
        f"balanced accuracy on the real 30%; {args.seeds} seeds."
    )
    print("wrote", write_results(f"augment_tstr_{args.dataset}", table, summary, notes))


if __name__ == "__main__":
    main()
