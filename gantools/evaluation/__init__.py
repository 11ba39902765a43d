"""Evaluation of a trained model against real held-out rows: fidelity, utility, privacy, coverage, anomaly
scores and plots, written as a report folder (report.md, report.json, PNG files)."""

from gantools.evaluation.evaluate import default_n_synthetic, evaluate_model
from gantools.evaluation.privacy import CopyReport, find_copies
from gantools.evaluation.report import EvaluationReport

__all__ = ["CopyReport", "EvaluationReport", "default_n_synthetic", "evaluate_model", "find_copies"]
