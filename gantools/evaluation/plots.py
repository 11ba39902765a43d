"""The report's figures as PNG files (matplotlib's Agg renderer; pyplot and its global state are not used)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.decomposition import PCA

from gantools.evaluation.encoding import TableEncoder, as_category

REAL, SYNTHETIC = "#1f77b4", "#ff7f0e"
NORMAL, ANOMALY = "#2ca02c", "#d62728"
MAX_MARGINALS = 24
MAX_BARS = 12
DPI = 100


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, format="png")
    return path


def marginals(
    real: pd.DataFrame, synthetic: pd.DataFrame, encoder: TableEncoder, path: Path, max_columns: int = MAX_MARGINALS
) -> Path:
    """A grid with one panel per column (at most ``max_columns``): histograms of numbers, bars of the
    most frequent categories, real beside synthetic."""
    cols = list(encoder.kinds)[:max_columns]
    ncols = min(4, max(1, len(cols)))
    nrows = max(1, -(-len(cols) // ncols))
    fig = Figure(figsize=(4 * ncols, 3.2 * nrows))  # fixed spacing: a layout engine costs seconds for 24 panels
    fig.subplots_adjust(left=0.04, right=0.98, top=1 - 0.75 / (3.2 * nrows), bottom=0.8 / (3.2 * nrows), hspace=0.75)
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, col in zip(axes, cols):
        if encoder.kinds[col] == "numeric":
            r = encoder.standardised(real, col) * encoder.std[col] + encoder.mean[col]
            s = encoder.standardised(synthetic, col) * encoder.std[col] + encoder.mean[col]
            r, s = r[np.isfinite(r)], s[np.isfinite(s)]
            both = np.concatenate([r, s])
            if len(both):
                bins = np.histogram_bin_edges(both, bins=30)
                ax.hist(r, bins=bins, density=True, alpha=0.55, color=REAL, label="real")
                ax.hist(s, bins=bins, density=True, alpha=0.55, color=SYNTHETIC, label="synthetic")
            ax.set_yticks([])  # densities: the shapes matter, not the numbers
        else:
            p = as_category(real[col]).value_counts(normalize=True)
            q = as_category(synthetic[col]).value_counts(normalize=True)
            top = list(p.index[:MAX_BARS])
            x = np.arange(len(top))
            ax.bar(x - 0.2, p.reindex(top, fill_value=0).to_numpy(), 0.4, color=REAL, label="real")
            ax.bar(x + 0.2, q.reindex(top, fill_value=0).to_numpy(), 0.4, color=SYNTHETIC, label="synthetic")
            ax.set_xticks(x, [str(t)[:12] for t in top], rotation=45, ha="right", fontsize=7)
        ax.set_title(str(col), fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes[len(cols) :]:
        ax.set_visible(False)
    if cols:
        axes[0].legend(fontsize=7)
    shown = f" (first {len(cols)} of {len(encoder.kinds)} columns)" if len(encoder.kinds) > len(cols) else ""
    fig.suptitle(f"Marginals: real vs synthetic{shown}")
    return _save(fig, path)


def projection(
    real_x: np.ndarray,
    synthetic_x: np.ndarray,
    real_classes: np.ndarray,
    synthetic_classes: np.ndarray,
    path: Path,
    seed: int = 0,
    max_points: int = 3000,
) -> Path:
    """Real and synthetic rows on the first two principal components of the real rows, coloured by class."""
    rng = np.random.default_rng(seed)
    components = min(2, real_x.shape[1], len(real_x))
    pca = PCA(n_components=components, random_state=seed).fit(real_x)
    fig = Figure(figsize=(11, 4.8), layout="constrained")
    axes = fig.subplots(1, 2, sharex=True, sharey=True)
    classes = sorted(set(real_classes.tolist()) | set(synthetic_classes.tolist()))
    colours = {c: f"C{i % 10}" for i, c in enumerate(classes)}
    for ax, x, y, title in (
        (axes[0], real_x, real_classes, "real"),
        (axes[1], synthetic_x, synthetic_classes, "synthetic"),
    ):
        keep = rng.permutation(len(x))[:max_points]
        points = pca.transform(x[keep]) if len(keep) else np.zeros((0, components))
        if points.shape[1] == 1:
            points = np.column_stack([points, np.zeros(len(points))])
        for c in classes:
            sel = y[keep] == c
            ax.scatter(points[sel, 0], points[sel, 1], s=6, alpha=0.5, color=colours[c], label=str(c))
        ax.set_title(f"{title} ({len(x)} rows)")
        ax.set_xlabel("PC 1")
    axes[0].set_ylabel("PC 2")
    if len(classes) > 1:
        axes[1].legend(title="class", fontsize=8, markerscale=2)
    fig.suptitle("2-D projection (PCA fitted on real rows; standardised numbers, one-hot categories)")
    return _save(fig, path)


def associations(real: pd.DataFrame, synthetic: pd.DataFrame, path: Path) -> Path:
    """Heat maps of the association matrices of real and synthetic rows and their absolute difference."""
    n = len(real)
    size = min(16.0, 3.0 + 0.35 * n)
    width = 3 * size / 1.6
    height = width / 3.6 + 0.9
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=1.1 / width, right=0.97, bottom=1.1 / height, top=1 - 0.35 / height, wspace=0.45)
    axes = fig.subplots(1, 3)
    labels = [str(c)[:14] for c in real.columns]
    panels = (
        (real.to_numpy(), "real", "coolwarm", -1),
        (synthetic.to_numpy(), "synthetic", "coolwarm", -1),
        (np.abs(real.to_numpy() - synthetic.to_numpy()), "|difference|", "viridis", 0),
    )
    for ax, (matrix, title, cmap, vmin) in zip(axes, panels):
        image = ax.imshow(matrix, cmap=cmap, vmin=vmin, vmax=1)
        ax.set_title(title)
        ax.set_xticks(range(n), labels, rotation=90, fontsize=7)
        ax.set_yticks(range(n), labels, fontsize=7)
        fig.colorbar(image, ax=ax, shrink=0.7)
    return _save(fig, path)


def dcr(synthetic: np.ndarray, holdout: np.ndarray, near_threshold: float | None, path: Path) -> Path:
    """Histograms of the distance to the closest training record, synthetic vs held-out real rows."""
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    both = np.concatenate([synthetic, holdout])
    bins = np.histogram_bin_edges(both[np.isfinite(both)], bins=40) if len(both) else 10
    ax.hist(holdout, bins=bins, density=True, alpha=0.55, color=REAL, label="held-out real -> train")
    ax.hist(synthetic, bins=bins, density=True, alpha=0.55, color=SYNTHETIC, label="synthetic -> train")
    if near_threshold is not None:
        ax.axvline(near_threshold, color="k", linestyle="--", label=f"near-copy threshold {near_threshold:.3g}")
    ax.set_xlabel("distance to closest training record (standardised units)")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    return _save(fig, path)


def score_histogram(scores: np.ndarray, threshold: float, labels: np.ndarray | None, path: Path) -> Path:
    """Histogram of anomaly scores (normal vs anomalous rows when labels are known) with the threshold.

    A long tail is folded into the last bin (said on the axis) so that the threshold region stays readable.
    """
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    keep = np.isfinite(scores)
    finite = scores[keep]
    labels = labels[keep] if labels is not None else None
    xlabel = "anomaly score (higher = more anomalous)"
    if len(finite):
        low = min(float(finite.min()), threshold)
        high = max(float(np.quantile(finite, 0.98)), threshold + 0.25 * (threshold - low))
        if finite.max() > high:
            xlabel += f"; scores above {high:.3g} in the last bin"
            finite = np.minimum(finite, high)
        bins = np.linspace(low, max(high, low + 1e-9), 51)
    else:
        bins = 10
    if labels is None:
        ax.hist(finite, bins=bins, color=REAL, alpha=0.7, label="all rows")
        ax.set_ylabel("rows")
    else:
        ax.hist(finite[labels == 0], bins=bins, color=NORMAL, alpha=0.6, density=True, label="normal (label 0)")
        ax.hist(finite[labels == 1], bins=bins, color=ANOMALY, alpha=0.6, density=True, label="anomaly (label 1)")
        ax.set_ylabel("density")
    ax.axvline(threshold, color="k", linestyle="--", label=f"threshold {threshold:.3g}")
    ax.set_xlabel(xlabel)
    ax.legend(fontsize=8)
    return _save(fig, path)


def roc_pr(curves: dict[str, np.ndarray], auroc: float, auprc: float, base_rate: float, path: Path) -> Path:
    """ROC and precision-recall curves side by side."""
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    roc, pr = fig.subplots(1, 2)
    roc.plot(curves["fpr"], curves["tpr"], color=ANOMALY, label=f"AUROC {auroc:.3f}")
    roc.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    roc.set_xlabel("false-positive rate")
    roc.set_ylabel("true-positive rate (recall)")
    roc.set_title("ROC")
    roc.legend(fontsize=8)
    pr.plot(curves["recall"], curves["precision"], color=ANOMALY, label=f"AUPRC {auprc:.3f}")
    pr.axhline(base_rate, color="grey", linestyle=":", label=f"chance ({base_rate:.3f})")
    pr.set_xlabel("recall")
    pr.set_ylabel("precision")
    pr.set_title("Precision-recall")
    pr.set_ylim(0, 1.02)
    pr.legend(fontsize=8)
    return _save(fig, path)
