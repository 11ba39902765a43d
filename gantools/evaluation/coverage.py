"""Class and mode coverage: does the generator reach every class and every region of the real data?"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestNeighbors

K_NEIGHBOURS = 5
MISSED_SHARE = 0.1  # a cluster is missed when it gets under 10% of its expected share of synthetic rows
ROWS_PER_CLUSTER = 30
MAX_CLUSTERS = 10
MAX_ROWS = 5000


def nn_coverage(real_x: np.ndarray, synthetic_x: np.ndarray, k: int = K_NEIGHBOURS) -> float:
    """Coverage (Naeem et al. 2020): share of real rows whose ball to their k-th nearest real neighbour
    holds at least one synthetic row. Call it with as many synthetic as real rows."""
    if len(real_x) <= k or len(synthetic_x) == 0:
        return float("nan")
    radius = NearestNeighbors(n_neighbors=k + 1).fit(real_x).kneighbors(real_x)[0][:, -1]
    nearest = NearestNeighbors(n_neighbors=1).fit(synthetic_x).kneighbors(real_x)[0][:, 0]
    return float(np.mean(nearest <= radius))


def cluster_coverage(real_x: np.ndarray, synthetic_x: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """k-means on the real rows (k = rows / 30, 2..10); each synthetic row goes to its nearest centre.

    A cluster is missed when its share of synthetic rows is under 10% of its share of real rows;
    ``covered_real_share`` is the share of real rows in clusters that are not missed.
    """
    k = int(min(MAX_CLUSTERS, len(real_x) // ROWS_PER_CLUSTER))
    if k < 2 or len(synthetic_x) == 0:
        return {"clusters": 0, "missed": 0, "covered_real_share": float("nan"), "shares": []}
    km = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(real_x)
    real_share = np.bincount(km.labels_, minlength=k) / len(real_x)
    syn_share = np.bincount(km.predict(synthetic_x), minlength=k) / len(synthetic_x)
    missed = syn_share < MISSED_SHARE * real_share
    return {
        "clusters": k,
        "missed": int(missed.sum()),
        "covered_real_share": float(real_share[~missed].sum()),
        "shares": [{"real": float(r), "synthetic": float(s)} for r, s in zip(real_share, syn_share)],
    }


def class_coverage(
    real_x: np.ndarray,
    synthetic_x: np.ndarray,
    real_classes: np.ndarray,
    synthetic_classes: np.ndarray,
    classes: list[str],
    train_shares: dict[str, float],
    seed: int = 0,
) -> dict[str, Any]:
    """Per class: share in the model's training data, in the real rows and in the synthetic rows,
    nearest-neighbour coverage and k-means clusters missed (both within the class); and the same overall."""
    rng = np.random.default_rng(seed)
    per_class = {}
    for cls in classes:
        r_idx = np.flatnonzero(real_classes == cls)
        s_idx = np.flatnonzero(synthetic_classes == cls)
        entry: dict[str, Any] = {
            "train_share": train_shares.get(cls, float("nan")),
            "real_share": float(len(r_idx) / max(len(real_classes), 1)),
            "synthetic_share": float(len(s_idx) / max(len(synthetic_classes), 1)),
            "real_rows": int(len(r_idx)),
        }
        entry.update(_coverage(real_x[r_idx], synthetic_x[s_idx], rng, seed))
        per_class[cls] = entry
    overall = _coverage(real_x, synthetic_x, rng, seed)
    return {"per_class": per_class, **overall}


def _coverage(real_x: np.ndarray, synthetic_x: np.ndarray, rng: np.random.Generator, seed: int) -> dict[str, Any]:
    n = min(len(real_x), len(synthetic_x), MAX_ROWS)
    real_x = real_x[_pick(len(real_x), n, rng)]
    synthetic_x = synthetic_x[_pick(len(synthetic_x), n, rng)]
    clusters = cluster_coverage(real_x, synthetic_x, seed)
    return {
        "nn_coverage": nn_coverage(real_x, synthetic_x),
        "clusters": clusters["clusters"],
        "clusters_missed": clusters["missed"],
        "covered_real_share": clusters["covered_real_share"],
    }


def _pick(size: int, n: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(size) if size <= n else np.sort(rng.choice(size, n, replace=False))
