"""The four user-facing jobs (train, augment, score, info) as library functions; the CLI calls these."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gantools.bundle import IMAGE_FORMAT, model_format
from gantools.config import TrainConfig
from gantools.data.io import find_tables, iter_table_chunks, read_table
from gantools.errors import GantoolsError, UsageError
from gantools.lift import AugmentationAdvice
from gantools.model import TabularGAN, class_key
from gantools.output import AtomicTableWriter, check_output_path, check_writable_folder, write_table
from gantools.settings import DEFAULT_MODEL_DIR
from gantools.training.checkpoint import Autosave, read_checkpoint
from gantools.training.stop import stoppable

if TYPE_CHECKING:
    from gantools.evaluation import EvaluationReport

SCORE_COLUMNS = [
    "source",
    "row",
    "score",
    "score_discriminator",
    "score_reconstruction",
    "score_density",
    "class",
    "is_anomaly",
]


def train(
    data: str | Path | pd.DataFrame,
    label: str | None = None,
    model_dir: str | Path = DEFAULT_MODEL_DIR,
    config: TrainConfig | None = None,
    column_kinds: Mapping[str, str] | None = None,
    verbose: bool = False,
    anomalies: str | Path | pd.DataFrame | None = None,
    resume: bool = False,
) -> TabularGAN:
    """Train a model on a CSV/Parquet file or a DataFrame and write it to ``model_dir``.

    ``anomalies``: a file (or DataFrame) of a few known anomalous records; they tune the score's weights.
    ``resume``: continue the interrupted training whose model (with its checkpoint) is in ``model_dir``; the
    data and settings must be the same.
    """
    check_writable_folder(model_dir, "--model")
    checkpoint = read_checkpoint(model_dir) if resume else None
    autosave = Autosave(model_dir)  # its setting checked before the data are read
    if isinstance(data, pd.DataFrame):
        frame, source = data, "the DataFrame"
    else:
        frame, source = read_table(data), f"'{data}'"
    anomalies_frame, anomalies_source = None, "the anomalies"
    if isinstance(anomalies, pd.DataFrame):
        anomalies_frame = anomalies
    elif anomalies is not None:
        anomalies_frame, anomalies_source = read_table(anomalies), f"'{anomalies}'"
    with stoppable():  # a stop asked for after the training loops: the model is still completed and saved
        model = TabularGAN(config, column_kinds, verbose).fit(
            frame, label, source=source, anomalies=anomalies_frame, anomalies_source=anomalies_source,
            resume=checkpoint, autosave=autosave,
        )  # fmt: skip
        model.save(model_dir)
    autosave.remove()
    return model


def augment(
    model_dir: str | Path = DEFAULT_MODEL_DIR,
    n: int = 5000,
    class_mix: str | Mapping[Any, float] = "original",
    seed: int | None = None,
    out: str | Path | None = None,
    device: str = "auto",
    train: str | Path | pd.DataFrame | None = None,
) -> tuple[Path, pd.DataFrame, dict[str, Any] | None, AugmentationAdvice | None]:
    """Write ``n`` labeled synthetic rows to ``out`` (default synthetic.csv); return the path, the rows per
    class, the copies and the model's lift estimate (``gantools.lift``; None for one class or models saved
    before it). An image model writes PNGs to the folder ``out`` (default synthetic/; see
    ``gantools.image.workflows.augment_images``).

    ``train`` (the model's training data): the synthetic rows are checked against it for exact and near
    copies of training rows (``find_copies``' figures as a dict; None without ``train``).
    """
    if is_image_model(model_dir):
        if train is not None:
            raise UsageError("--train (the check for copies of training rows) applies to tabular models")
        from gantools.image.workflows import augment_images

        folder, summary = augment_images(model_dir, n, class_mix, seed, out or "synthetic", device)
        return folder, summary, None, None
    out = out or "synthetic.csv"
    check_output_path(out)
    model = TabularGAN.load(model_dir, device)
    train_frame = None
    if train is not None:
        train_frame = train if isinstance(train, pd.DataFrame) else read_table(train)
        where = "the training data" if isinstance(train, pd.DataFrame) else f"'{train}'"
        model.schema_.check_columns(train_frame, where)
    frame = model.sample(n, class_mix, seed)
    path = write_table(frame, out)
    label = model.schema_.label
    if label is not None:
        counts = frame[label].astype(str).value_counts().reindex([class_key(c) for c in model.classes_], fill_value=0)
    else:
        counts = pd.Series({"(one class)": len(frame)})
    summary = pd.DataFrame({"class": counts.index.astype(str), "rows": counts.to_numpy()})
    copies = None
    if train_frame is not None:
        from gantools.evaluation.privacy import find_copies

        copies = find_copies(frame, train_frame, model.schema_).to_dict()
    return path, summary, copies, model.augmentation_advice_


@dataclass
class ScoreReport:
    """What ``score`` wrote: per-file figures, the threshold, and the files that could not be scored."""

    out: Path
    threshold: float
    files: list[dict[str, Any]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    not_tables: list[str] = field(default_factory=list)  # files in the input folders that are not CSV/Parquet

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
    heatmaps: str | Path | None = None,
) -> ScoreReport:
    """Score every row of every CSV/Parquet file in ``inputs`` (folders searched recursively).

    Rows come out in input order, one per input row, with ``source``, ``row``, the score, its parts, the
    class, ``is_anomaly`` and the file's label column (ignored for scoring; empty where a file lacks it;
    named ``<label>_in_file`` when the label's name is one of these columns, e.g. ``class``). Rows whose
    label is a class the model never saw are scored against the known class they fit best and counted per
    file (``unseen_classes``: label value -> rows), and so are the values training never showed
    (``unfamiliar``: column -> rows with a category it never saw or a missing value where it saw none). Files
    that cannot be scored are listed in ``report.failed``; the others are still written; files in the folders
    that are not tables are skipped and listed in ``report.not_tables``. An image model scores image files and
    folders instead (``gantools.image.workflows.score_images``; ``heatmaps``: a folder for its residual
    overlays).
    """
    if is_image_model(model_dir):
        from gantools.image.workflows import score_images

        if explain:
            raise UsageError("--explain applies to tabular models; use --heatmaps DIR to see why an image scored")
        return score_images(inputs, model_dir, out, fpr, normal_class, heatmaps, device, on_chunk)
    if heatmaps is not None:
        raise UsageError("--heatmaps applies to image models; use --explain K for tables")
    check_output_path(out)
    model = TabularGAN.load(model_dir, device)
    report = ScoreReport(Path(out), float("nan"))
    files = find_tables(list(inputs), report.not_tables)
    model.check_score_options(normal_class, fpr, explain)  # bad options fail before any file is read
    label = model.schema_.label
    # The file's label is kept, under another name when it would hide an output column (a label called
    # "class" would otherwise overwrite the class each row was scored against).
    kept_label = label if label not in SCORE_COLUMNS + ["top_features"] else f"{label}_in_file"
    known_labels = {_label_text(class_key(c)) for c in model.classes_}
    writer = AtomicTableWriter(out)
    header: pd.DataFrame | None = None  # the output's columns, written alone when every file is header-only
    try:
        for path in files:
            offset, flagged, worst = 0, 0, -np.inf
            unseen: dict[str, int] = {}
            unfamiliar: dict[str, int] = {}
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
                        result[kept_label] = _file_labels(chunk, label)
                        _count_unseen(result[kept_label], known_labels, unseen)
                    if len(result):
                        writer.write(result)
                    elif header is None:
                        header = result
                    offset += len(chunk)
                    for column, count in scored.attrs["unfamiliar"].items():
                        unfamiliar[column] = unfamiliar.get(column, 0) + count
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
            report.files.append(
                {"file": str(path), "rows": offset, "flagged": flagged, "worst_score": worst, "unseen_classes": unseen,
                 "unfamiliar": unfamiliar}
            )  # fmt: skip
    except BaseException:
        writer.abort()
        raise
    if report.files:
        if writer.rows == 0 and header is not None:
            writer.write(_typed_header(header, model.schema_.label_dtype))
        writer.commit()
    else:
        writer.abort()  # nothing could be scored: leave no empty output behind
    if np.isnan(report.threshold):
        report.threshold = model.calibration_.threshold(fpr) if normal_class is None else float("nan")
    return report


def is_image_model(model_dir: str | Path) -> bool:
    """True when ``model_dir`` holds an image model."""
    return model_format(model_dir) == IMAGE_FORMAT


def _label_text(value: str) -> str:
    """A label as text, with numbers written one way ("1", "1.0" and " 1" are the same class)."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else repr(number)


def _count_unseen(labels: pd.Series, known: set[str], counts: dict[str, int]) -> None:
    """Add the rows whose label (in the scored file) is not a class of the model, by label value."""
    present = labels.dropna()
    if present.empty:
        return
    for value, n in present.value_counts().items():
        if _label_text(value) not in known:
            counts[str(value)] = counts.get(str(value), 0) + int(n)


def _file_labels(chunk: pd.DataFrame, label: str) -> pd.api.extensions.ExtensionArray:
    """The file's own label values as text: one column type for every file (missing where a file has none),
    so a Parquet output does not break when the first file lacks the label and a later one has it."""
    if label not in chunk.columns:
        return pd.array([pd.NA] * len(chunk), dtype="string")
    return chunk[label].astype("string").array  # an array, not a Series: no alignment on the chunk's index


def _typed_header(frame: pd.DataFrame, label_dtype: str | None) -> pd.DataFrame:
    """An empty result with a type for each column (a Parquet header needs them): the scored-against class
    as the model's labels, other untyped (object) columns as text."""
    types = {c: "string" for c in frame.columns if frame[c].dtype == object}
    if "class" in types and label_dtype is not None:
        try:
            frame = frame.astype({"class": label_dtype})
            del types["class"]
        except (TypeError, ValueError):
            pass
    return frame.astype(types)


def info(model_dir: str | Path = DEFAULT_MODEL_DIR) -> dict[str, Any]:
    """What a model is: schema, classes, settings, training history, validation figures, calibration."""
    if is_image_model(model_dir):
        from gantools.image.workflows import info_images

        return info_images(model_dir)
    model = TabularGAN.load(model_dir, "cpu")
    cfg = model.to_config()
    cal = cfg.pop("calibration")
    generators = len(cal["density_sigmas"]) // len(model.classes_) if cal["density_sigmas"] else 0
    return {
        "model": str(model_dir),
        "gantools_version": getattr(model, "saved_with_", None),
        "columns": [
            {"name": c.name, "kind": c.kind, "dtype": c.dtype, "missing": c.has_missing} for c in model.schema_.columns
        ],
        **cfg,
        "augmentation_summary": None if model.augmentation_advice_ is None else model.augmentation_advice_.summary(),
        "scoring": {
            "weights": {
                "reconstruction": cal["weight_reconstruction"],
                "discriminator": cal["weight_discriminator"],
                "density": cal.get("weight_density", 0.0),
                "source": cal["weights_source"],
            },
            # + weight · max(min(reconstruction, discriminator) − margin, 0) where the density part exceeds
            # the gate and up to the ceiling: the margin is the held-out rows' 99th percentile of that
            # minimum (a large one, an undertrained model, rarely fires), the gate their 90th percentile of
            # the density part, the ceiling its maximum (None in models saved before them)
            "corroboration": {
                "weight": cal["corroboration_weight"],
                "margin": cal["corroboration_margin"],
                "density_gate": cal["corroboration_gate"],
                "density_ceiling": cal["corroboration_ceiling"],
            },
            # G's density multiplies this many generators' (trained from different seeds); each has its
            # own bandwidth per class
            "density_generators": generators,
            "density_bandwidths": {
                str(c): cal["density_sigmas"][i :: len(model.classes_)] for i, c in enumerate(model.classes_)
            }
            if cal["density_sigmas"]
            else {},
            "threshold_fpr_0.01": model.calibration_.threshold(0.01),
            "holdout_rows": len(cal["holdout_scores"]),
        },
    }


def evaluate(
    data: str | Path | Sequence[str | Path],
    train: str | Path | None = None,
    model_dir: str | Path = DEFAULT_MODEL_DIR,
    out: str | Path = "gantools-report",
    n: int | None = None,
    anomaly_label: str | None = None,
    seed: int = 0,
    fpr: float = 0.01,
    device: str = "auto",
    progress: Callable[[str], None] | None = None,
) -> EvaluationReport:
    """Write a quality report of the model against real held-out rows (``data``: CSV/Parquet files or
    folders, read as one table) to the folder ``out``; return the ``EvaluationReport``. For an image model,
    ``data`` is a folder of held-out images (``gantools.image.workflows.evaluate_images``)."""
    if is_image_model(model_dir):
        from gantools.image.workflows import evaluate_images

        if train is not None or anomaly_label is not None:
            raise UsageError("--train and --anomaly-label apply to tabular models")
        if not isinstance(data, (str, Path)):
            raise GantoolsError("give one folder of held-out images")
        return evaluate_images(data, model_dir, out, n, seed, device, progress)
    from gantools.evaluation import evaluate_model  # matplotlib loads only when a report is made

    paths = find_tables([data] if isinstance(data, (str, Path)) else list(data))
    frames = [read_table(p) for p in paths]
    real = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    source = f"'{paths[0]}'" if len(paths) == 1 else f"the {len(paths)} files of {data}"
    train_frame = read_table(train) if train is not None else None
    model = TabularGAN.load(model_dir, device)
    return evaluate_model(
        model,
        real,
        out,
        n_synthetic=n,
        seed=seed,
        anomaly_label=anomaly_label,
        train=train_frame,
        fpr=fpr,
        source=source,
        train_source=f"'{train}'",
        model_path=str(model_dir),
        progress=progress,
    )
