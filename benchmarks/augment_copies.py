"""Exact and near copies of training rows among gantools' synthetic rows on the small-data benchmark's sets
(issue 29, acceptance 3): for each dataset and n rows per class (``augment_small.py``'s split and draw, the
given seed), ``GANOverSampler`` brings each class to 500 rows; ``find_copies`` (``gantools.evaluation``)
counts synthetic rows equal to a training row (float32 precision, every column and the label) and near ones.

    python benchmarks/augment_copies.py --ns 10 50 --seed 0
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from _common import write_results
from augment_small import DATASETS, load


def main() -> None:
    import torch
    from sklearn.model_selection import train_test_split

    from gantools import GANOverSampler
    from gantools.data.schema import infer_schema
    from gantools.evaluation.privacy import find_copies

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=DATASETS)
    parser.add_argument("--ns", nargs="+", type=int, default=[10, 50])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--name", default="augment_copies")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows, started = [], time.perf_counter()
    for dataset in args.datasets:
        X, y = load(dataset)
        X_pool, _, y_pool, _ = train_test_split(X, y, test_size=0.3, stratify=y, random_state=0)
        for n in args.ns:
            if n > int(y_pool.value_counts().min()):
                continue
            rng = np.random.default_rng(1000 * args.seed + n)  # augment_small.py's draw
            picked = np.concatenate(
                [rng.choice(np.flatnonzero(y_pool.to_numpy() == c), size=n, replace=False) for c in sorted(y.unique())]
            )
            X_small, y_small = X_pool.iloc[picked].reset_index(drop=True), y_pool.iloc[picked].reset_index(drop=True)
            sampler = GANOverSampler({c: args.target for c in sorted(y.unique())}, random_state=args.seed)
            X_res, y_res = sampler.fit_resample(X_small, y_small)
            real = X_small.assign(**{str(y.name): y_small.to_numpy()})
            synthetic = X_res.iloc[len(X_small) :].assign(**{str(y.name): np.asarray(y_res)[len(X_small) :]})
            schema = infer_schema(real, str(y.name), {}, dataset)
            copies = find_copies(synthetic.reset_index(drop=True), real, schema)
            rows.append(
                {
                    "dataset": dataset,
                    "n": n,
                    "seed": args.seed,
                    "synthetic_rows": copies.n_synthetic,
                    "exact_copies": copies.exact,
                    "near_copies": copies.near,
                    "near_share": copies.near_share,
                }
            )
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    notes = (
        f"Exact: equal to a training row on every column and the label (float32); near: closer to a training row "
        f"than {0.01:.0%} of training rows are to each other. Wall time {time.perf_counter() - started:.0f} s. "
        f"Total exact copies: {int(table['exact_copies'].sum())} of {int(table['synthetic_rows'].sum())} rows."
    )
    print("wrote", write_results(args.name, table, table, notes))


if __name__ == "__main__":
    main()
