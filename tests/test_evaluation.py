"""`gantools evaluate` and gantools.evaluation: figures in range and meaningful, on real data and tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, run_cli, tiny_config

from gantools import workflows
from gantools.data import find_tables, read_table
from gantools.errors import GantoolsError
from gantools.evaluation import EvaluationReport, default_n_synthetic, evaluate_model, find_copies
from gantools.evaluation.coverage import class_coverage
from gantools.evaluation.detection import detection_auc
from gantools.evaluation.encoding import TableEncoder, column_kinds
from gantools.evaluation.fidelity import association_difference, cramers_v
from gantools.evaluation.report import SECTIONS
from gantools.model import TabularGAN

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EXAMPLES = ROOT / "examples"


def _assert_png(path: Path) -> None:
    from matplotlib.image import imread

    assert path.exists(), path
    assert path.read_bytes()[:8] == PNG_MAGIC
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


@pytest.fixture(scope="module")
def notes(banknote) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Banknote rows split into training rows (1,000) and held-out rows (372)."""
    rows = banknote.sample(frac=1.0, random_state=1).reset_index(drop=True)
    return rows.iloc[:1000].reset_index(drop=True), rows.iloc[1000:].reset_index(drop=True)


@pytest.fixture(scope="module")
def notes_model(notes) -> TabularGAN:
    return TabularGAN(tiny_config()).fit(notes[0], label="class")


@pytest.fixture(scope="module")
def notes_report(notes_model, notes, tmp_path_factory) -> EvaluationReport:
    train, held_out = notes
    out = tmp_path_factory.mktemp("eval") / "report"
    return evaluate_model(notes_model, held_out, out, n_synthetic=1000, seed=0, train=train)


@pytest.fixture(scope="module")
def encoder(notes, notes_model) -> TableEncoder:
    return TableEncoder(column_kinds(notes_model.schema_), notes[0])


# ---------------------------------------------------------------------------------------- the whole report
def test_banknote_figures_are_in_range(notes_report):
    r = notes_report
    assert r.rows == {"real": 372, "anomalous": 0, "synthetic": 1000, "train": 1000}
    for col in ["variance", "skewness", "curtosis", "entropy"]:
        e = r.fidelity[col]
        assert 0.0 <= e["ks"] <= 1.0 and e["wasserstein"] >= 0.0
        assert e["missing_real"] == e["missing_synthetic"] == 0.0
    # a model's rows are told apart from real ones better than chance, but not perfectly
    assert 0.4 < r.detection["auc"] < 1.0
    assert r.detection["rows_each"] == 372 and r.detection["folds"] == 5
    # fidelity against the noise floor of two real samples of the same data
    assert r.fidelity_reference["mean_ks"] < r.fidelity_summary["mean_ks"]
    assert 0.0 <= r.association["reference"] < 0.1 and 0.0 <= r.association["mean_abs_diff"] <= 1.0
    # a classifier trained on synthetic rows beats chance on real rows; one trained on real rows is near perfect
    hgb = r.utility["classifiers"]["HistGradientBoosting"]
    assert hgb["TRTR"]["balanced_accuracy"] > 0.95
    assert 0.6 < hgb["TSTR"]["balanced_accuracy"] <= 1.0
    assert hgb["ratio"]["balanced_accuracy"] == pytest.approx(
        hgb["TSTR"]["balanced_accuracy"] / hgb["TRTR"]["balanced_accuracy"]
    )
    assert set(r.utility["classifiers"]) == {"HistGradientBoosting", "LogisticRegression"}
    # continuous data: a generator does not reproduce training rows
    copies, dcr = r.privacy["copies"], r.privacy["dcr"]
    assert copies["exact"] == 0 and copies["near_share"] < 0.05
    assert 0 < dcr["synthetic_p5"] <= dcr["synthetic_median"] and 0 <= dcr["holdout_p5"] <= dcr["holdout_median"]
    # both classes are generated in the real rows' shares, and reach much of the real data
    for cls, e in r.coverage["per_class"].items():
        assert e["synthetic_share"] == pytest.approx(e["real_share"], abs=0.01), cls
        assert 0.0 < e["nn_coverage"] <= 1.0
    assert r.coverage["clusters"] == 10 and r.coverage["clusters_missed"] <= 5
    # no anomaly labels: the flagged share of normal held-out rows sits near the calibrated 1%
    assert r.anomaly["rows"] == 372 and r.anomaly["flagged_share"] < 0.1 and "auroc" not in r.anomaly


def test_report_folder_holds_markdown_json_and_valid_pngs(notes_report):
    folder = notes_report.out_dir
    assert notes_report.report_path == folder / "report.md"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(
        ["report.md", "report.json", "marginals.png", "projection.png", "associations.png", "dcr.png", "scores.png"]
    )
    for path in notes_report.plots.values():
        _assert_png(path)
    text = notes_report.report_path.read_text()
    for section in SECTIONS:
        assert f"## {section}" in text, section
    for plot in notes_report.plots.values():
        assert f"]({plot.name})" in text
    assert "Cramér's V" in text and "TSTR / TRTR" in text and "Skipped" not in text
    figures = json.loads((folder / "report.json").read_text())
    assert figures["detection"]["auc"] == pytest.approx(notes_report.detection["auc"])
    assert not list(folder.parent.glob(".report.*"))  # no temporary folder left beside it


def test_report_without_training_rows_says_what_is_skipped(notes_model, notes, tmp_path):
    report = evaluate_model(notes_model, notes[1].head(200), tmp_path / "r", n_synthetic=1000)
    assert report.privacy is None and "--train" in report.skipped["privacy"]
    assert report.utility["classifiers"]["HistGradientBoosting"].get("TRTR") is None  # TSTR alone
    assert report.utility["classifiers"]["HistGradientBoosting"]["TSTR"]["balanced_accuracy"] > 0.5
    text = report.report_path.read_text()
    assert "_Skipped: needs the model's training rows" in text and "TRTR skipped" in text
    # a second run replaces the first report as a whole
    again = evaluate_model(notes_model, notes[1].head(200), tmp_path / "r", n_synthetic=1000, train=notes[0])
    assert again.privacy is not None and (tmp_path / "r" / "dcr.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


# -------------------------------------------------------------------- each figure reacts to what it measures
def test_training_rows_given_as_synthetic_are_all_copies(notes_model, notes):
    train, held_out = notes
    copies = find_copies(train, train, notes_model.schema_, holdout=held_out)
    assert copies.exact_share == 1.0 and copies.near_share == 1.0
    assert copies.exact_unique_share == pytest.approx(1.0 - 2 * copies.train_duplicate_share, abs=0.02)
    assert copies.excess_exact_share > 0.9
    fresh = find_copies(held_out, train, notes_model.schema_)  # without held-out rows: train->train threshold
    assert fresh.exact_share < 0.05 and fresh.near_share < 0.1 and fresh.holdout_exact_share is None
    # features only (no label column): still copies
    assert find_copies(train.drop(columns="class"), train, notes_model.schema_).exact_share == 1.0


def test_shuffled_columns_raise_the_association_difference(notes_model, notes, encoder):
    train, held_out = notes
    rng = np.random.default_rng(0)
    shuffled = train.apply(lambda col: col.to_numpy()[rng.permutation(len(col))])
    broken, _, _ = association_difference(held_out, shuffled.head(372), encoder)
    faithful, _, _ = association_difference(held_out, train.head(372), encoder)
    model_rows = notes_model.sample(372, seed=0)
    learned, _, _ = association_difference(held_out, model_rows, encoder)
    assert broken > 0.25 and faithful < 0.1
    assert faithful < learned < broken


def test_detection_auc_is_chance_for_real_rows_and_high_for_shifted_rows(notes, encoder):
    train, held_out = notes
    assert detection_auc(held_out, train, encoder)["auc"] < 0.65
    shifted = train.assign(variance=train["variance"] + 2.0 * train["variance"].std())
    assert detection_auc(held_out, shifted, encoder)["auc"] > 0.95
    assert "skipped" in detection_auc(held_out.head(4), train, encoder)


def test_mode_collapse_shows_in_coverage(notes, notes_model):
    train, held_out = notes
    features = TableEncoder(column_kinds(notes_model.schema_, with_label=False), train)
    real_x = features.onehot(held_out)
    classes = held_out["class"].astype(str).to_numpy()

    def coverage(rows: pd.DataFrame) -> dict:
        return class_coverage(
            real_x, features.onehot(rows), classes, rows["class"].astype(str).to_numpy(), ["0", "1"], {}, seed=0
        )

    healthy = coverage(train)
    collapsed = coverage(train[train["variance"] > train["variance"].quantile(0.7)])  # one region only
    assert healthy["clusters_missed"] == 0 and healthy["nn_coverage"] > 0.8
    assert collapsed["clusters_missed"] >= 3 and collapsed["nn_coverage"] < 0.5
    assert collapsed["covered_real_share"] < healthy["covered_real_share"]


def test_cramers_v_is_zero_for_independent_and_one_for_identical_columns():
    rng = np.random.default_rng(0)
    a = pd.Series(rng.choice(list("abc"), 2000))
    b = pd.Series(rng.choice(list("xyz"), 2000))
    assert cramers_v(a, b) < 0.05
    assert cramers_v(a, a) == pytest.approx(1.0, abs=1e-3)


def test_default_number_of_synthetic_rows():
    assert [default_n_synthetic(n) for n in (10, 5000, 10**6)] == [1000, 5000, 20000]


# -------------------------------------------------------------------------------------------- anomaly labels
@pytest.fixture(scope="module")
def genuine_model() -> TabularGAN:
    """A one-class model of the example's genuine notes, as `gantools train genuine_notes.csv --label class`."""
    return TabularGAN(tiny_config()).fit(pd.read_csv(EXAMPLES / "genuine_notes.csv"), label="class")


def test_anomaly_section_with_labels(genuine_model, tmp_path):
    suspects = pd.concat([read_table(p) for p in find_tables([EXAMPLES / "suspect_notes"])], ignore_index=True)
    real = suspects.assign(forged=suspects["class"])  # 1 = forged = anomaly
    train = pd.read_csv(EXAMPLES / "genuine_notes.csv")
    report = evaluate_model(genuine_model, real, tmp_path / "r", anomaly_label="forged", train=train)
    a = report.anomaly
    assert report.rows == {"real": 153, "anomalous": 80, "synthetic": 1000, "train": 609}
    assert a["normal_rows"] == 153 and a["anomalous_rows"] == 80
    assert a["auroc"] > 0.8 and a["auprc"] > a["anomaly_share"] + 0.2
    assert a["fpr_at_threshold"] < 0.1 and 0.0 <= a["recall_at_threshold"] <= 1.0
    assert "one class" in report.skipped["utility"]
    assert "class" not in report.association["real"].columns  # one class: the label tells nothing apart
    _assert_png(report.plots["roc_pr"])
    _assert_png(report.plots["scores"])
    text = report.report_path.read_text()
    assert "AUROC" in text and "recall at the threshold" in text and "80 anomalous rows" in text


def test_bad_input_is_a_one_line_error_and_writes_nothing(notes_model, notes, tmp_path):
    _, held_out = notes
    out = tmp_path / "r"
    with pytest.raises(GantoolsError, match=r"--anomaly-label column 'nope' not in the data \(columns: variance"):
        evaluate_model(notes_model, held_out, out, anomaly_label="nope")
    with pytest.raises(GantoolsError, match="must hold only 0 \\(normal\\) and 1 \\(anomaly\\); found 2"):
        evaluate_model(notes_model, held_out.assign(flag=2), out, anomaly_label="flag")
    with pytest.raises(GantoolsError, match="label column 'class' of the model is not in"):
        evaluate_model(notes_model, held_out.drop(columns="class"), out)
    with pytest.raises(GantoolsError, match="holds value\\(s\\) 7 that the model does not know"):
        evaluate_model(notes_model, held_out.assign(**{"class": 7}), out)
    with pytest.raises(GantoolsError, match="lacks column\\(s\\) entropy"):
        evaluate_model(notes_model, held_out.drop(columns="entropy"), out)
    (tmp_path / "file").write_text("x")
    with pytest.raises(GantoolsError, match="is a file"):
        evaluate_model(notes_model, held_out, tmp_path / "file")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("x")
    with pytest.raises(GantoolsError, match="holds files and no report.md"):
        evaluate_model(notes_model, held_out, tmp_path / "busy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "file"]


# ----------------------------------------------------------------------------------------- mixed-type data
def test_mixed_types_with_missing_values(adult_slice, tmp_path):
    train, held_out = adult_slice.iloc[:1200], adult_slice.iloc[1200:1800]
    model = TabularGAN(tiny_config()).fit(train, label="income")
    report = evaluate_model(model, held_out, tmp_path / "r", n_synthetic=1000, train=train)
    kinds = {c: e["kind"] for c, e in report.fidelity.items()}
    assert kinds["workclass"] == "categorical" and kinds["age"] == "numeric" and "income" not in kinds
    for col, e in report.fidelity.items():
        assert 0.0 <= e.get("tv", e.get("ks")) <= 1.0, col
    assert report.fidelity["workclass"]["missing_real"] > 0.01
    assert report.fidelity["workclass"]["missing_synthetic"] > 0.0
    assert report.fidelity_summary["mean_tv"] is not None and report.fidelity_summary["mean_ks"] is not None
    assert "income" in report.association["real"].columns  # the label is part of the associations
    assert 0.5 <= report.detection["auc"] <= 1.0  # a tiny model of 14 mixed columns is easy to tell apart
    assert report.utility["classifiers"]["LogisticRegression"]["TRTR"]["balanced_accuracy"] > 0.6
    assert 0.0 <= report.privacy["copies"]["exact_share"] < 0.05
    for path in report.plots.values():
        _assert_png(path)
    assert "workclass" in report.report_path.read_text()


# ---------------------------------------------------------------------------------------------------- CLI
def test_workflow_reads_files_and_folders_and_reports_missing_ones(genuine_model, tmp_path):
    genuine_model.save(tmp_path / "model")
    with pytest.raises(GantoolsError, match="'nowhere.csv' not found"):
        workflows.evaluate("nowhere.csv", model_dir=tmp_path / "model", out=tmp_path / "r")
    with pytest.raises(GantoolsError, match="file 'missing.csv' not found"):
        workflows.evaluate(EXAMPLES / "suspect_notes", "missing.csv", tmp_path / "model", tmp_path / "r")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_cli_evaluate_on_the_examples(genuine_model, tmp_path):
    genuine_model.save(tmp_path / "gantools-model")  # what `gantools train genuine_notes.csv --label class` writes
    suspects, train = str(EXAMPLES / "suspect_notes"), str(EXAMPLES / "genuine_notes.csv")
    args = ["--train", train, "--anomaly-label", "class", "--out", "report", "--quiet"]
    result = run_cli("evaluate", suspects, *args, cwd=tmp_path, check=True)
    assert "Report written to report/report.md" in result.stdout
    assert "anomaly: AUROC / AUPRC" in result.stdout and "detection AUC" in result.stdout
    assert (tmp_path / "report" / "roc_pr.png").exists() and (tmp_path / "report" / "dcr.png").exists()
    figures = json.loads((tmp_path / "report" / "report.json").read_text())
    assert figures["rows"] == {"real": 153, "anomalous": 80, "synthetic": 1000, "train": 609}

    bad = run_cli("evaluate", suspects, "--anomaly-label", "forged", "--out", "r2", cwd=tmp_path)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    lines = [line for line in bad.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: --anomaly-label column 'forged' not in"), bad.stderr
    assert not (tmp_path / "r2").exists()
