"""The four user-facing jobs (train, augment, score, info) as library functions; the CLI calls these."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gantools.config import TrainConfig
from gantools.data.io import find_tables, iter_table_chunks, read_table
from gantools.errors import GantoolsError
from gantools.model import TabularGAN, class_key
from gantools.output import AtomicTableWriter, check_output_path, write_table
from gantools.settings import DEFAULT_MODEL_DIR

SCORE_COLUMNS = ["source", "row", "score", "score_discriminator", "score_reconstruction", "class", "is_anomaly"]


def train(
    data: str | Path | pd.DataFrame,
    label: str | None = None,
    model_dir: str | Path = DEFAULT_MODEL_DIR,
    config: TrainConfig | None = None,
    column_kinds: Mapping[str, str] | None = None,
    verbose: bool = False,
) -> TabularGAN:
    """Train a model on a CSV/Parquet file or a DataFrame and write it to ``model_dir``."""
    if isinstance(data, pd.DataFrame):
        frame, source = data, "the DataFrame"
    else:
        frame, source = read_table(data), f"'{data}'"
    model = TabularGAN(config, column_kinds, verbose).fit(frame, label, source=source)
    model.save(model_dir)
    return model


def augment(
    model_dir: str | Path = DEFAULT_MODEL_DIR,
    n: int = 5000,
    class_mix: str | Mapping[Any, float] = "original",
    seed: int | None = None,
    out: str | Path = "synthetic.csv",
    device: str = "auto",
) -> tuple[Path, pd.DataFrame]:
    """Write ``n`` labeled synthetic rows to ``out``; return the path and the rows per class."""
    check_output_path(out)
    model = TabularGAN.load(model_dir, device)
    frame = model.sample(n, class_mix, seed)
    path = write_table(frame, out)
    label = model.schema_.label
    if label is not None:
        counts = frame[label].astype(str).value_counts().reindex([class_key(c) for c in model.classes_], fill_value=0)
    else:
        counts = pd.Series({"(one class)": len(frame)})
    summary = pd.DataFrame({"class": counts.index.astype(str), "rows": counts.to_numpy()})
    return path, summary


@dataclass
class ScoreReport:
    """What ``score`` wrote: per-file figures, the threshold, and the files that could not be scored."""

    out: Path
    threshold: float
    files: list[dict[str, Any]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(f["rows"] for f in self.files)

    @property
    def flagged(self) -> int:
        return sum(f["flagged"] for f in self.files)


def score(
    inputs: Sequence[str | Path],
    model_dir: str | Path = DEFAULT_MODEL_DIR,
    out: str | Path = "scores.csv",
    fpr: float = 0.01,
    normal_class: str | None = None,
    explain: int = 0,
    chunk_rows: int = 100_000,
    device: str = "auto",
    on_chunk: Callable[[str, int], None] | None = None,
) -> ScoreReport:
    """Score every row of every CSV/Parquet file in ``inputs`` (folders searched recursively).

    Rows come out in input order, one per input row, with ``source``, ``row``, the score, its parts, the
    class, ``is_anomaly`` and the file's label column (ignored for scoring; empty where a file lacks it;
    named ``<label>_in_file`` when the label's name is one of these columns, e.g. ``class``). Files that
    cannot be scored are listed in ``report.failed``; the others are still written.
    """
    check_output_path(out)
    model = TabularGAN.load(model_dir, device)
    files = find_tables(list(inputs))
    model.check_score_options(normal_class, fpr)  # bad options fail before any file is read
    label = model.schema_.label
    # The file's label is kept, under another name when it would hide an output column (a label called
    # "class" would otherwise overwrite the class each row was scored against).
    kept_label = label if label not in SCORE_COLUMNS + ["top_features"] else f"{label}_in_file"
    report = ScoreReport(Path(out), float("nan"))
    writer = AtomicTableWriter(out)
    try:
        for path in files:
            offset, flagged, worst = 0, 0, -np.inf
            try:
                for chunk in iter_table_chunks(path, chunk_rows):
                    scored = model.score(chunk, normal_class, fpr, explain, source=f"'{path}'")
                    report.threshold = scored.attrs["threshold"]
                    result = pd.concat(
                        [
                            pd.DataFrame({"source": str(path), "row": np.arange(offset, offset + len(chunk))}),
                            scored.reset_index(drop=True),
                        ],
                        axis=1,
                    )
                    if label is not None:  # always the same columns, whichever files hold the label
                        result[kept_label] = chunk[label].to_numpy() if label in chunk.columns else pd.NA
                    writer.write(result)
                    offset += len(chunk)
                    flagged += int(scored["is_anomaly"].sum())
                    if len(scored):
                        worst = max(worst, float(scored["score"].max()))
                    if on_chunk:
                        on_chunk(str(path), len(chunk))
            except GantoolsError as exc:
                report.failed.append(str(exc) if offset == 0 else f"{exc} (after {offset} rows of '{path}')")
                if offset == 0:
                    continue
            worst = worst if offset else float("nan")
            report.files.append({"file": str(path), "rows": offset, "flagged": flagged, "worst_score": worst})
    except BaseException:
        writer.abort()
        raise
    if report.files:
        writer.commit()
    else:
        writer.abort()  # nothing could be scored: leave no empty output behind
    if np.isnan(report.threshold):
        report.threshold = model.calibration_.threshold(fpr) if normal_class is None else float("nan")
    return report


def info(model_dir: str | Path = DEFAULT_MODEL_DIR) -> dict[str, Any]:
    """What a model is: schema, classes, settings, training history, validation figures, calibration."""
    model = TabularGAN.load(model_dir, "cpu")
    cfg = model.to_config()
    cal = cfg.pop("calibration")
    return {
        "model": str(model_dir),
        "gantools_version": getattr(model, "saved_with_", None),
        "columns": [
            {"name": c.name, "kind": c.kind, "dtype": c.dtype, "missing": c.has_missing} for c in model.schema_.columns
        ],
        **cfg,
        "scoring": {
            "weights": {
                "reconstruction": cal["weight_reconstruction"],
                "discriminator": cal["weight_discriminator"],
                "source": cal["weights_source"],
            },
            "threshold_fpr_0.01": model.calibration_.threshold(0.01),
            "holdout_rows": len(cal["holdout_scores"]),
        },
    }
