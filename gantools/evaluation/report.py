"""``EvaluationReport``: the figures of one evaluation as plain values, rendered as Markdown."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gantools.evaluation.fidelity import ASSOCIATION_METHOD

SECTIONS = (
    "Fidelity per column",
    "Pairwise associations",
    "Real-vs-synthetic detection",
    "Utility: TSTR vs TRTR",
    "Privacy",
    "Class and mode coverage",
    "Anomaly scores",
    "Plots",
)


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a table: ``n/a`` for None or NaN, percentages left to the caller."""
    if value is None:
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "n/a" if not math.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


def _g(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.3g}"


def pct(value: float | None, digits: int = 1) -> str:
    """A share as a percentage (``n/a`` for None or NaN)."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{100 * value:.{digits}f}%"


def md_table(headers: list[str], rows: list[list[Any]]) -> str:
    """A GitHub-flavoured Markdown table (cells formatted with ``fmt`` unless already text)."""
    cells = [[c if isinstance(c, str) else fmt(c) for c in row] for row in rows]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in cells]
    return "\n".join(lines)


def plain(value: Any) -> Any:
    """``value`` with numpy scalars, arrays and paths turned into JSON-ready Python values (NaN -> None)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass
class EvaluationReport:
    """The figures of ``evaluate_model`` (plain dicts and floats), the notes on skipped parts, the plots."""

    out_dir: Path
    model: dict[str, Any]
    rows: dict[str, int]
    seed: int
    fidelity: dict[str, dict[str, Any]]
    fidelity_summary: dict[str, float | None]
    fidelity_reference: dict[str, float | None] | None
    association: dict[str, Any]
    detection: dict[str, Any]
    utility: dict[str, Any] | None
    privacy: dict[str, Any] | None
    coverage: dict[str, Any]
    anomaly: dict[str, Any] | None
    skipped: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    plots: dict[str, Path] = field(default_factory=dict)

    @property
    def report_path(self) -> Path:
        """The Markdown file of the report."""
        return self.out_dir / "report.md"

    # -------------------------------------------------------------------- headline
    def headline(self) -> list[tuple[str, str]]:
        """(figure, value) pairs worth a glance, with what a good value looks like."""
        s, out = self.fidelity_summary, []
        if s.get("mean_ks") is not None:
            out.append(("fidelity: mean KS, numeric (0 = same)", fmt(s["mean_ks"])))
        if s.get("mean_tv") is not None:
            out.append(("fidelity: mean TV, categorical (0 = same)", fmt(s["mean_tv"])))
        out.append(("association difference (0 = same)", fmt(self.association.get("mean_abs_diff"))))
        if "auc" in self.detection:
            out.append(("detection AUC real vs synthetic (0.5 = indistinguishable)", fmt(self.detection["auc"])))
        if self.utility:
            hgb = self.utility["classifiers"].get("HistGradientBoosting", {})
            if hgb.get("ratio"):
                out.append(
                    ("utility: TSTR / TRTR, balanced accuracy (1 = as good)", fmt(hgb["ratio"]["balanced_accuracy"]))
                )
            elif hgb.get("TSTR"):
                out.append(("utility: TSTR balanced accuracy", fmt(hgb["TSTR"]["balanced_accuracy"])))
        if self.privacy:
            d = self.privacy["dcr"]
            out.append(
                (
                    "privacy: DCR synthetic vs held-out, 5th pct / median (synthetic ≪ held-out: copying)",
                    f"{fmt(d['synthetic_p5'])} vs {fmt(d['holdout_p5'])} / "
                    f"{fmt(d['synthetic_median'])} vs {fmt(d['holdout_median'])}",
                )
            )
            out.append(("privacy: exact copies of training rows", pct(self.privacy["copies"]["exact_share"])))
            out.append(("privacy: near copies", pct(self.privacy["copies"]["near_share"])))
        if self.model.get("augmentation_summary"):
            out.append(
                ("augmentation (lift estimated when fitted, on held-out folds)", self.model["augmentation_summary"])
            )
        out.append(("coverage: real rows with a synthetic neighbour (1 = all)", fmt(self.coverage.get("nn_coverage"))))
        out.append(
            (
                "coverage: k-means clusters missed",
                f"{self.coverage.get('clusters_missed', 0)} of {self.coverage.get('clusters', 0)}",
            )
        )
        a = self.anomaly
        if a:
            if "auroc" in a:
                out.append(("anomaly: AUROC / AUPRC", f"{fmt(a['auroc'])} / {fmt(a['auprc'])}"))
                out.append(
                    (
                        "anomaly: FPR / recall at threshold",
                        f"{pct(a['fpr_at_threshold'])} / {pct(a['recall_at_threshold'])}",
                    )
                )
            else:
                out.append(("anomaly: rows flagged", f"{a['flagged']} of {a['rows']} ({pct(a['flagged_share'])})"))
        return out

    def to_dict(self) -> dict[str, Any]:
        """Every figure as JSON-ready values (curves and raw distances left out)."""
        anomaly = {k: v for k, v in (self.anomaly or {}).items() if k != "curves"} if self.anomaly else None
        return plain(
            {
                "model": self.model,
                "rows": self.rows,
                "seed": self.seed,
                "fidelity": self.fidelity,
                "fidelity_summary": self.fidelity_summary,
                "fidelity_reference": self.fidelity_reference,
                "association": {k: v for k, v in self.association.items() if k not in ("real", "synthetic")},
                "detection": self.detection,
                "utility": self.utility,
                "privacy": self.privacy,
                "coverage": self.coverage,
                "anomaly": anomaly,
                "skipped": self.skipped,
                "warnings": self.warnings,
                "plots": {k: p.name for k, p in self.plots.items()},
            }
        )

    # -------------------------------------------------------------------- markdown
    def to_markdown(self) -> str:
        """The whole report as Markdown (plots linked by file name, relative to the report folder)."""
        m, r = self.model, self.rows
        parts = [
            "# gantools evaluation report",
            "",
            f"Model: `{m.get('path', 'in memory')}` — "
            + (f"label `{m['label']}`, classes {', '.join(m['classes'])}" if m.get("label") else "no label (one class)")
            + f"; {m.get('columns')} feature columns. "
            f"Real rows compared with synthetic rows: {r['real']} (rows the model should not have seen)"
            + (f"; {r['anomalous']} anomalous rows more, in the anomaly section only" if r.get("anomalous") else "")
            + f"; synthetic rows: {r['synthetic']} (class mix of the real rows, seed {self.seed}); "
            + (f"training rows: {r['train']}." if r.get("train") else "training rows: not given."),
            "",
        ]
        for warning in self.warnings:
            parts += [f"> **Warning:** {warning}", ""]
        parts += ["## Headline figures", "", md_table(["figure", "value"], [list(h) for h in self.headline()]), ""]
        parts += self._fidelity_md() + self._association_md() + self._detection_md() + self._utility_md()
        parts += self._privacy_md() + self._coverage_md() + self._anomaly_md() + self._plots_md()
        return "\n".join(parts).rstrip() + "\n"

    def _skip(self, key: str) -> list[str]:
        return [f"_Skipped: {self.skipped[key]}_", ""] if key in self.skipped else []

    def _fidelity_md(self) -> list[str]:
        out = [
            "## Fidelity per column",
            "",
            "Numeric columns: two-sample Kolmogorov-Smirnov statistic (0 = same distribution, 1 = disjoint) and "
            "Wasserstein distance on values standardised with the real rows' mean and standard deviation. "
            "Categorical columns: total-variation distance of the category frequencies (0 = same, 1 = disjoint; "
            "missing is a category). Missing-value rates of real and synthetic rows for every column.",
            "",
        ]
        rows = []
        for col, e in self.fidelity.items():
            rows.append(
                [
                    col,
                    e["kind"],
                    e.get("ks"),
                    e.get("wasserstein"),
                    e.get("tv"),
                    pct(e["missing_real"]),
                    pct(e["missing_synthetic"]),
                ]
            )
        out += [
            md_table(["column", "kind", "KS", "Wasserstein (sd)", "TV", "missing real", "missing synthetic"], rows),
            "",
        ]
        s, ref = self.fidelity_summary, self.fidelity_reference
        summary = [
            ["mean KS (numeric)", s["mean_ks"]],
            ["mean Wasserstein (numeric)", s["mean_wasserstein"]],
            ["mean TV (categorical)", s["mean_tv"]],
            ["largest missing-rate gap", s["max_missing_gap"]],
        ]
        keys = ["mean_ks", "mean_wasserstein", "mean_tv", "max_missing_gap"]
        if ref is not None:
            rows = [[name, value, ref[k]] for (name, value), k in zip(summary, keys)]
            out += [md_table(["summary", "synthetic vs real", "training vs real (noise floor)"], rows), ""]
            out += [
                "The last column compares the real training rows with the real evaluation rows: the distance two "
                "real samples of the same data already have.",
                "",
            ]
        else:
            out += [md_table(["summary", "synthetic vs real"], summary), ""]
        return out

    def _association_md(self) -> list[str]:
        a = self.association
        out = ["## Pairwise associations", "", f"Method: {ASSOCIATION_METHOD}.", ""]
        rows = [["mean absolute difference, all pairs", a["mean_abs_diff"]]]
        if a.get("reference") is not None:
            rows.append(["same, training vs real rows (noise floor)", a["reference"]])
        rows.append(["pairs compared", a["pairs"]])
        out += [md_table(["figure", "value"], rows), ""]
        if a.get("worst"):
            out += ["Largest differences:", ""]
            out += [
                md_table(
                    ["pair", "real", "synthetic", "|difference|"],
                    [[f"{w['a']} × {w['b']}", w["real"], w["synthetic"], w["diff"]] for w in a["worst"]],
                ),
                "",
            ]
        return out

    def _detection_md(self) -> list[str]:
        d = self.detection
        out = ["## Real-vs-synthetic detection", ""]
        if "skipped" in d:
            return out + [f"_Skipped: {d['skipped']}_", ""]
        out += [
            f"A HistGradientBoosting classifier (native categorical support) learns to tell {d['rows_each']} real rows "
            f"from {d['rows_each']} synthetic rows (features and label), {d['folds']}-fold cross-validated. ROC AUC "
            "0.5: it cannot tell them apart; 1.0: every synthetic row is recognisable.",
            "",
            md_table(
                ["figure", "value"], [["detection AUC (mean over folds)", d["auc"]], ["std over folds", d["auc_std"]]]
            ),
            "",
        ]
        return out

    def _utility_md(self) -> list[str]:
        out = ["## Utility: TSTR vs TRTR", ""] + self._skip("utility")
        u = self.utility
        if not u:
            return out
        out += [
            "Classifiers trained on synthetic rows (TSTR) or on the real training rows (TRTR), both tested on the "
            "real evaluation rows. Ratio TSTR / TRTR near 1: the synthetic rows teach the task as well as the real "
            "ones.",
            "",
        ]
        rows = []
        for name, row in u["classifiers"].items():
            for metric in ("balanced_accuracy", "macro_f1"):
                tstr = row.get("TSTR") or {}
                trtr = row.get("TRTR") or {}
                ratio = (row.get("ratio") or {}).get(metric)
                rows.append([name, metric.replace("_", " "), tstr.get(metric), trtr.get(metric), ratio])
        out += [md_table(["classifier", "metric", "TSTR", "TRTR", "TSTR / TRTR"], rows), ""]
        out += [f"- {note}" for note in u.get("notes", [])]
        if "TRTR" in self.skipped:
            out += [f"_TRTR skipped: {self.skipped['TRTR']}_"]
        return out + [""]

    def _privacy_md(self) -> list[str]:
        out = ["## Privacy", ""] + self._skip("privacy")
        p = self.privacy
        if not p:
            return out
        d, c = p["dcr"], p["copies"]
        out += [
            "Distance to closest record (DCR): Euclidean distance from a row to its nearest training row, with "
            "numbers standardised by the training rows and categories one-hot. If synthetic rows sit much closer "
            "to the training rows than new real rows do (ratio ≪ 1), the model reproduces its training data.",
            "",
            md_table(
                ["DCR", "synthetic -> train", "held-out real -> train", "ratio"],
                [
                    ["5th percentile", d["synthetic_p5"], d["holdout_p5"], d["ratio_p5"]],
                    ["median", d["synthetic_median"], d["holdout_median"], d["ratio_median"]],
                ],
            ),
            "",
            f"Copies: a synthetic row is an exact copy when all {len(c['columns'])} compared columns equal those of a "
            "training row (numbers at float32 precision); a near copy when its DCR is below the "
            f"{c['near_threshold_source']} ({_g(c['near_threshold'])}), exact copies included.",
            "",
            md_table(
                ["figure", "rows", "share"],
                [
                    ["exact copies of training rows", c["exact"], pct(c["exact_share"], 2)],
                    ["... of training rows that occur once", c["exact_unique"], pct(c["exact_unique_share"], 2)],
                    ["held-out real rows equal to a training row (natural rate)", "", pct(c["holdout_exact_share"], 2)],
                    ["exact copies beyond the natural rate", "", pct(c["excess_exact_share"], 2)],
                    ["training rows repeated within the training data", "", pct(c["train_duplicate_share"], 2)],
                    ["near copies", c["near"], pct(c["near_share"], 2)],
                ],
            ),
            "",
        ]
        return out

    def _coverage_md(self) -> list[str]:
        c = self.coverage
        out = [
            "## Class and mode coverage",
            "",
            "Shares of each class; nearest-neighbour coverage (Naeem et al. 2020: share of real rows whose ball to "
            "their 5th nearest real neighbour holds a synthetic row, equal numbers of real and synthetic rows; "
            "1 = every region of the real data is reached); k-means clusters of the real rows (about 30 rows "
            "each, at most 10) that receive under 10% of their expected share of synthetic rows (missed modes). "
            "Computed within each class and overall, on standardised numbers and one-hot categories.",
            "",
        ]
        rows = []
        for cls, e in c["per_class"].items():
            rows.append(
                [
                    cls,
                    pct(e["train_share"]),
                    pct(e["real_share"]),
                    pct(e["synthetic_share"]),
                    e["nn_coverage"],
                    f"{e['clusters_missed']} of {e['clusters']}",
                    pct(e["covered_real_share"]),
                ]
            )
        rows.append(
            [
                "**all**",
                "",
                "100.0%",
                "100.0%",
                c["nn_coverage"],
                f"{c['clusters_missed']} of {c['clusters']}",
                pct(c["covered_real_share"]),
            ]
        )
        headers = [
            "class",
            "training share",
            "real share",
            "synthetic share",
            "NN coverage",
            "clusters missed",
            "real rows in covered clusters",
        ]
        return out + [md_table(headers, rows), ""]

    def _anomaly_md(self) -> list[str]:
        out = ["## Anomaly scores", ""] + self._skip("anomaly")
        a = self.anomaly
        if not a:
            return out
        out += [
            f"Every real row scored with the model (`gantools score`); threshold {fmt(a['threshold'])}, calibrated "
            f"on the model's held-out normal rows at a false-positive rate of {fmt(a.get('fpr_target'), 3)}.",
            "",
        ]
        if "normal_rows" in a:
            rows = [
                ["rows: normal / anomalous", f"{a['normal_rows']} / {a['anomalous_rows']}"],
                ["AUROC", a.get("auroc")],
                ["AUPRC", a.get("auprc")],
                ["AUPRC of a random ranking (anomaly share)", a.get("anomaly_share")],
                ["false-positive rate at the threshold", pct(a["fpr_at_threshold"])],
                ["recall at the threshold", pct(a["recall_at_threshold"])],
                ["precision at the threshold", pct(a["precision_at_threshold"])],
                ["F1 at the threshold", a["f1_at_threshold"]],
            ]
        else:
            rows = [["rows scored", a["rows"]], ["rows flagged", f"{a['flagged']} ({pct(a['flagged_share'])})"]]
        out += [md_table(["figure", "value"], rows), ""]
        if "auroc" not in a and "normal_rows" in a:
            out += ["_AUROC and AUPRC need both normal and anomalous rows._", ""]
        return out

    def _plots_md(self) -> list[str]:
        titles = {
            "marginals": "Marginals, real vs synthetic",
            "projection": "2-D projection (PCA fitted on real rows), by class",
            "associations": "Association matrices",
            "dcr": "Distance to closest training record",
            "scores": "Anomaly scores and the threshold",
            "roc_pr": "ROC and precision-recall curves",
        }
        out = ["## Plots", ""]
        for key, path in self.plots.items():
            out += [f"### {titles.get(key, key)}", "", f"![{key}]({path.name})", ""]
        return out
