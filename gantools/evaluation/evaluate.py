"""``evaluate_model``: a quality report of a trained model against real held-out rows, written to a folder."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gantools.errors import GantoolsError, UsageError
from gantools.evaluation import plots
from gantools.evaluation.anomaly import anomaly_figures
from gantools.evaluation.coverage import class_coverage
from gantools.evaluation.detection import detection_auc
from gantools.evaluation.encoding import TableEncoder, as_category, column_kinds, subsample
from gantools.evaluation.fidelity import association_difference, column_fidelity, summarise_fidelity
from gantools.evaluation.privacy import dcr_summary, find_copies
from gantools.evaluation.report import EvaluationReport
from gantools.evaluation.utility import tstr_trtr
from gantools.model import MIN_ROWS, TabularGAN, class_key
from gantools.output import atomic_folder, check_writable_folder

MIN_SYNTHETIC, MAX_SYNTHETIC = 1000, 20000
MAX_ASSOCIATION_ROWS = 5000
ONE_CLASS = "(one class)"


def default_n_synthetic(n_real: int) -> int:
    """As many synthetic rows as real ones, at least 1,000 and at most 20,000."""
    return int(min(max(n_real, MIN_SYNTHETIC), MAX_SYNTHETIC))


def evaluate_model(
    model: TabularGAN,
    real: pd.DataFrame,
    out_dir: str | Path,
    n_synthetic: int | None = None,
    seed: int = 0,
    anomaly_label: str | None = None,
    train: pd.DataFrame | None = None,
    fpr: float = 0.01,
    source: str = "the data",
    train_source: str = "the training rows",
    model_path: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> EvaluationReport:
    """Compare ``model``'s synthetic rows with ``real`` held-out rows; write report.md, report.json and PNG
    plots to ``out_dir`` (atomically: built in a temporary folder beside it, then renamed into place).

    ``train``: the rows the model was trained on, for TRTR and the privacy checks (skipped without them).
    ``anomaly_label``: a 0/1 column of ``real`` (1 = anomaly); anomalous rows then enter the anomaly
    section only. ``n_synthetic`` defaults to ``len(real)`` clamped to 1,000..20,000.
    """
    step = progress or (lambda message: None)
    if not hasattr(model, "nets_"):
        raise GantoolsError("the model is not trained yet; call fit first")
    if not isinstance(real, pd.DataFrame) or (train is not None and not isinstance(train, pd.DataFrame)):
        raise GantoolsError("real and training rows must be tables (pandas DataFrames)")
    if not 0.0 < fpr < 1.0:
        raise UsageError(f"--fpr must be between 0 and 1 (got {fpr})")
    out_dir = Path(out_dir)
    _check_out_dir(out_dir)
    schema, label = model.schema_, model.schema_.label
    keys = [class_key(c) for c in model.classes_]
    real = real.reset_index(drop=True)
    flags = _anomaly_flags(real, anomaly_label, source) if anomaly_label is not None else None
    schema.check_columns(real, source)
    normal = real[flags == 0].reset_index(drop=True) if flags is not None else real
    if len(normal) < MIN_ROWS:
        raise GantoolsError(f"{source} has {len(normal)} normal rows; at least {MIN_ROWS} are needed to evaluate")
    normal = _with_label(normal, model, source)
    if train is not None:
        schema.check_columns(train, train_source)
        train = _with_label(train.reset_index(drop=True), model, train_source)
        if len(train) < 2:
            raise GantoolsError(f"{train_source} has {len(train)} rows; at least 2 are needed")
    n = default_n_synthetic(len(real)) if n_synthetic is None else int(n_synthetic)
    if n < MIN_ROWS:
        raise UsageError(f"--n must be at least {MIN_ROWS} (got {n})")

    rng = np.random.default_rng(seed)
    real_classes = _classes(normal, label)
    mix = {k: float(np.mean(real_classes == k)) for k in keys} if label is not None else "original"
    step("Sampling synthetic rows")
    synthetic = model.sample(n, class_mix=mix, seed=seed)
    syn_classes = _classes(synthetic, label)
    reference = train if train is not None else normal
    # the label joins the columns compared (detection, associations) when it tells classes apart
    encoder = TableEncoder(column_kinds(schema, with_label=len(keys) > 1), reference)
    features = TableEncoder(column_kinds(schema, with_label=False), reference)
    skipped: dict[str, str] = {}
    notes: list[str] = []

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence and small-sample warnings of scikit-learn / scipy
        step("Fidelity")
        fidelity = column_fidelity(normal, synthetic, features)
        fidelity_ref = None
        if train is not None:
            fidelity_ref = summarise_fidelity(column_fidelity(normal, subsample(train, len(normal), rng), features))
        step("Associations")
        k = min(len(normal), len(synthetic), MAX_ASSOCIATION_ROWS)
        assoc_diff, assoc_real, assoc_syn = association_difference(
            subsample(normal, k, rng), subsample(synthetic, k, rng), encoder
        )
        association = _association(assoc_diff, assoc_real, assoc_syn)
        if train is not None:
            association["reference"] = association_difference(
                subsample(normal, k, rng), subsample(train, k, rng), encoder
            )[0]
        step("Detection")
        detection = detection_auc(normal, synthetic, encoder, seed)

        utility = None
        if label is None or len(keys) < 2:
            skipped["utility"] = "the model has one class; there is no classification task to measure"
        elif len(np.unique(real_classes)) < 2:
            skipped["utility"] = f"the real rows of {source} hold one class only; balanced accuracy needs two"
        else:
            step("Utility (TSTR / TRTR)")
            utility = tstr_trtr(synthetic, normal, label, features, train, seed)
            if train is None:
                skipped["TRTR"] = "needs the model's training rows (--train FILE)"

        privacy = None
        if train is None:
            skipped["privacy"] = (
                "needs the model's training rows (--train FILE): distances to the closest training record and "
                "copies of training rows are measured against them"
            )
        else:
            step("Privacy")
            copies = find_copies(synthetic, train, schema, holdout=normal, encoder=features)
            privacy = {
                "copies": copies.to_dict(),
                "dcr": dcr_summary(copies.dcr, copies.reference_dcr),
            }
            if copies.holdout_exact_share and copies.holdout_exact_share > 0.5 and copies.train_duplicate_share < 0.5:
                notes.append(
                    f"{copies.holdout_exact_share:.0%} of the real rows in {source} equal a training row: evaluate on "
                    "rows the model was not trained on, or the figures flatter it"
                )

        step("Coverage")
        real_x, syn_x = features.onehot(normal), features.onehot(synthetic)
        total = sum(model.class_counts_)
        train_shares = {k_: c / total for k_, c in zip(keys, model.class_counts_)}
        coverage = class_coverage(real_x, syn_x, real_classes, syn_classes, keys, train_shares, seed)

        step("Anomaly scores")
        scored = model.score(real[schema.names], fpr=fpr, source=source)
        scores = scored["score"].to_numpy()
        threshold = float(scored.attrs["threshold"])
        anomaly = anomaly_figures(scores, threshold, flags)
        anomaly["fpr_target"] = fpr

    advice = getattr(model, "augmentation_advice_", None)
    if advice is not None and not advice.advised:
        notes.append(f"{advice.summary()} (the lift estimate made when the model was fitted)")
    report = EvaluationReport(
        out_dir=out_dir,
        model={
            "path": model_path or "in memory",
            "label": label,
            "classes": keys if label is not None else [ONE_CLASS],
            "columns": len(schema.columns),
            "training_rows": model.history_.get("n_train_rows"),
            "augmentation_advice": None if advice is None else advice.to_dict(),
            "augmentation_summary": None if advice is None else advice.summary(),
        },
        rows={
            "real": len(normal),
            "anomalous": int(flags.sum()) if flags is not None else 0,
            "synthetic": len(synthetic),
            "train": len(train) if train is not None else 0,
        },
        seed=seed,
        fidelity=fidelity,
        fidelity_summary=summarise_fidelity(fidelity),
        fidelity_reference=fidelity_ref,
        association=association,
        detection=detection,
        utility=utility,
        privacy=privacy,
        coverage=coverage,
        anomaly=anomaly,
        skipped=skipped,
        warnings=notes,
    )
    step("Plots")
    with atomic_folder(out_dir, "the report", "--out") as tmp:
        drawn = {
            "marginals": lambda p: plots.marginals(normal, synthetic, encoder, p),
            "projection": lambda p: plots.projection(real_x, syn_x, real_classes, syn_classes, p, seed),
            "associations": lambda p: plots.associations(assoc_real, assoc_syn, p),
        }
        if privacy is not None:
            drawn["dcr"] = lambda p: plots.dcr(copies.dcr, copies.reference_dcr, copies.near_threshold, p)
        drawn["scores"] = lambda p: plots.score_histogram(scores, threshold, flags, p)
        if "curves" in anomaly:
            drawn["roc_pr"] = lambda p: plots.roc_pr(
                anomaly["curves"], anomaly["auroc"], anomaly["auprc"], anomaly["anomaly_share"], p
            )
        for name, draw in drawn.items():
            draw(tmp / f"{name}.png")
            report.plots[name] = out_dir / f"{name}.png"
        (tmp / "report.md").write_text(report.to_markdown(), encoding="utf-8")
        (tmp / "report.json").write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    return report


# ------------------------------------------------------------------------------------------------ helpers
def _anomaly_flags(real: pd.DataFrame, column: str, source: str) -> np.ndarray:
    if column not in real.columns:
        shown = ", ".join(map(str, real.columns))
        raise GantoolsError(f"--anomaly-label column '{column}' not in {source} (columns: {shown})")
    values = real[column]
    numbers = pd.to_numeric(values.astype(object).map(lambda v: int(v) if isinstance(v, bool) else v), errors="coerce")
    bad = values.isna() | ~numbers.isin([0, 1])
    if bad.any():
        found = ", ".join(sorted({repr(v) for v in values[bad].head(50).tolist()})[:5])
        raise GantoolsError(
            f"--anomaly-label column '{column}' in {source} must hold only 0 (normal) and 1 (anomaly); found {found}"
        )
    return numbers.to_numpy().astype(np.int64)


def _with_label(df: pd.DataFrame, model: TabularGAN, source: str) -> pd.DataFrame:
    """Check the label column (fill it in for a one-class model when absent); unknown classes are errors."""
    label = model.schema_.label
    if label is None:
        return df
    keys = [class_key(c) for c in model.classes_]
    if label not in df.columns:
        if len(keys) == 1:
            return df.assign(**{label: model.classes_[0]})
        shown = ", ".join(map(str, df.columns))
        raise GantoolsError(f"label column '{label}' of the model is not in {source} (columns: {shown})")
    values = as_category(df[label])
    unknown = sorted(set(values) - set(keys))
    if unknown:
        raise GantoolsError(
            f"label column '{label}' in {source} holds value(s) {', '.join(unknown[:5])} that the model does not "
            f"know (classes: {', '.join(keys)})"
        )
    return df


def _classes(df: pd.DataFrame, label: str | None) -> np.ndarray:
    if label is None:
        return np.full(len(df), ONE_CLASS, dtype=object)
    return as_category(df[label]).to_numpy()


def _association(diff: float, real: pd.DataFrame, synthetic: pd.DataFrame) -> dict[str, Any]:
    cols = list(real.columns)
    pairs = [
        {
            "a": cols[i],
            "b": cols[j],
            "real": real.iat[i, j],
            "synthetic": synthetic.iat[i, j],
            "diff": abs(real.iat[i, j] - synthetic.iat[i, j]),
        }
        for i in range(len(cols))
        for j in range(i + 1, len(cols))
    ]
    worst = sorted(pairs, key=lambda p: -p["diff"])[:5]
    return {
        "mean_abs_diff": diff,
        "pairs": len(pairs),
        "worst": worst,
        "real": real,
        "synthetic": synthetic,
        "reference": None,
    }


def _check_out_dir(out_dir: Path) -> None:
    """Before any work: one line when the report folder cannot be written, or would replace a folder that holds
    files and no report (someone else's data)."""
    check_writable_folder(out_dir, "--out")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / "report.md").exists():
        raise GantoolsError(f"folder '{out_dir}' holds files and no report.md; give a new or empty folder")
