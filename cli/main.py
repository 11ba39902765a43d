"""`gantools train | augment | score | info | evaluate`: parse options, call one library function, print tables.

Exit codes: 0 success, 1 bad input (one line on stderr, no traceback), 2 usage error,
3 anomalies found (only with ``score --fail-on-anomaly``).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from gantools import workflows
from gantools._version import __version__
from gantools.config import (
    MULTI_CLASS_STEPS,
    ONE_CLASS_GENERATORS,
    ONE_CLASS_MIN_STEPS,
    ONE_CLASS_STEPS,
    ONE_CLASS_STEPS_PER_ROW,
    TrainConfig,
)
from gantools.errors import GantoolsError, UsageError
from gantools.image import workflows as image_workflows
from gantools.image.io import describe_skipped, is_image_source
from gantools.progress import make_progress
from gantools.settings import DEFAULT_MODEL_DIR

app = typer.Typer(
    help="Train a conditional GAN per dataset; generate labeled synthetic rows; score records for anomalies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# No markup: file names, columns and values from the data are printed as they are ("[x]" is not a style)
out_console = Console(markup=False)
err_console = Console(stderr=True, markup=False)

ModelOpt = Annotated[Path, typer.Option("--model", help="Model folder.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto (GPU when there is one), cpu or cuda.")]
FprOpt = Annotated[float, typer.Option("--fpr", help="False-positive rate on normal data that sets the threshold.")]


# train's options by the settings they set, for TrainConfig.validate's messages
TRAIN_OPTION_NAMES = {
    "epochs": "--epochs",
    "batch_size": "--batch-size",
    "holdout": "--holdout",
    "density_generators": "--generators",
}


def _say(label: str, style: str, message: str) -> None:
    """One line on stderr: a styled label (``Error:``, ``Note:``) and the message, printed as it is."""
    err_console.print(Text.assemble((label, style), " ", str(message)), highlight=False, soft_wrap=True)


def _note(message: str) -> None:
    _say("Note:", "yellow", message)


def _fail(message: str, code: int = 1) -> None:
    """The error line, then exit ``code`` (1: bad input, 2: bad usage)."""
    _say("Error:", "bold red", message)
    raise typer.Exit(code)


def _usage(message: str) -> None:
    _fail(message, 2)


def _call(fn, *args, **kwargs):
    """Call a library function; return (result, None), or (None, (one-line error, exit code)) on any failure."""
    try:
        return fn(*args, **kwargs), None
    except UsageError as exc:
        return None, (str(exc), 2)
    except GantoolsError as exc:
        return None, (str(exc), 1)
    except KeyboardInterrupt:
        return None, ("interrupted", 1)
    except Exception as exc:  # never show a traceback to the user unless asked to
        if os.environ.get("GANTOOLS_DEBUG"):
            raise
        return None, (f"unexpected {type(exc).__name__}: {exc} (run with --debug for details)", 1)


def _run(fn, *args, **kwargs):
    """Call a library function; a failure becomes one line on stderr and exit code 1 (2: bad usage)."""
    result, error = _call(fn, *args, **kwargs)
    if error is not None:
        _fail(*error)
    return result


def _parse_kinds(items: list[str]) -> dict[str, str]:
    kinds = {}
    for item in items:
        if "=" not in item:
            _usage(f"--kind '{item}' is not COLUMN=KIND (kinds: numeric, integer, categorical, boolean)")
        name, kind = item.rsplit("=", 1)
        kinds[name.strip()] = kind.strip()
    return kinds


def _version(value: bool) -> None:
    if value:
        out_console.print(f"gantools {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an unexpected error (as GANTOOLS_DEBUG=1 does).")
    ] = False,
) -> None:
    """gantools: conditional GANs for tabular augmentation and anomaly scoring."""
    if debug:
        os.environ["GANTOOLS_DEBUG"] = "1"
    else:
        warnings.showwarning = _show_warning


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning from the library (or one it calls) as one note, without the source line Python prints."""
    _note(str(message))


@app.command()
def train(
    data: Annotated[
        Path,
        typer.Argument(
            help="Training data: a CSV or Parquet file; or a folder of images (one sub-folder per class, or a flat "
            "folder for one class) or of MNIST IDX files."
        ),
    ],
    label: Annotated[
        str | None, typer.Option("--label", help="Class column; without it the data is one class.")
    ] = None,
    model: ModelOpt = DEFAULT_MODEL_DIR,
    epochs: Annotated[
        int | None,
        typer.Option(
            "--epochs",
            help=f"Passes over the data (default: about {MULTI_CLASS_STEPS:,} steps' worth with --label; without, "
            f"{ONE_CLASS_STEPS_PER_ROW} per training row, from {ONE_CLASS_MIN_STEPS:,} to {ONE_CLASS_STEPS:,})",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            help="Rows per training step (default: 256 with --label; without, 128 on tables of up to 10 encoded "
            "columns and under 2,000 training rows, 256 otherwise; images: 64).",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    device: DeviceOpt = "auto",
    holdout: Annotated[
        float | None,
        typer.Option(
            "--holdout",
            help="Share of rows held out for validation and calibration (default: 0.2; images: 0.1).",
            show_default=False,
        ),
    ] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", help="Override a column kind: COLUMN=numeric|integer|categorical|boolean (repeatable)."),
    ] = None,
    anomalies: Annotated[
        Path | None,
        typer.Option("--anomalies", help="A CSV/Parquet file of a few known anomalies: they tune the score's weights."),
    ] = None,
    refit: Annotated[
        bool,
        typer.Option(
            "--refit",
            help="After early stopping, train again on all rows for the chosen steps (for augmentation of small "
            "data; anomaly thresholds then become optimistic).",
        ),
    ] = False,
    generators: Annotated[
        int | None,
        typer.Option(
            "--generators",
            help=f"Generators trained from different seeds whose densities the anomaly score multiplies "
            f"(default: {ONE_CLASS_GENERATORS} without --label, 1 with); trained side by side as one stacked model.",
            show_default=False,
        ),
    ] = None,
    download: Annotated[
        bool,
        typer.Option("--download", help="Download MNIST into the folder DATA first (torchvision; needs a connection)."),
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue the interrupted training whose model is in --model (same DATA and options): Ctrl+C or "
            "SIGTERM stops training at the next step and saves a usable model with a checkpoint.",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """Fit one conditional GAN (+ encoder) to DATA and write the model folder."""
    if download or is_image_source(data):
        tabular_only = {"--label": label, "--kind": kind, "--anomalies": anomalies, "--generators": generators}
        given = [name for name, value in tabular_only.items() if value] + (["--refit"] if refit else [])
        if given:
            _usage(f"{', '.join(given)} apply to tables; an image folder's classes are its sub-folders")
        fitted = _run(image_workflows.train_images, data, model, epochs, batch_size, seed, device, holdout,
                      not quiet, download, resume)  # fmt: skip
        _print_image_training(fitted, model)
        return
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        device=device,
        holdout=0.2 if holdout is None else holdout,
        refit=refit,
        density_generators="auto" if generators is None else generators,
    )
    _run(config.validate, TRAIN_OPTION_NAMES)
    fitted = _run(workflows.train, data, label, model, config, _parse_kinds(kind or []), not quiet, anomalies, resume)
    hist, val = fitted.history_, fitted.validation_
    table = Table(title=f"Model written to {model}/", show_header=False)
    table.add_row("rows (train / held out)", f"{hist['n_train_rows']} / {hist['n_holdout_rows']}")
    table.add_row("columns", f"{len(fitted.schema_.columns)}")
    table.add_row(
        "classes",
        ", ".join(f"{c} ({n})" for c, n in zip(fitted.classes_, fitted.class_counts_))
        if fitted.schema_.label
        else "one class",
    )
    table.add_row("GAN steps / encoder steps", f"{hist['gan_steps']} / {hist['encoder_steps']}")
    if hist.get("density_generators_trained", 1) > 1:
        table.add_row("generators in the density", f"{hist['density_generators_trained']} (trained side by side)")
    if hist.get("selected_step") is not None:
        start = " (G's Gaussian start)" if hist["selected_step"] == 0 else ""
        again = "; trained again on all rows" if hist.get("refit_on_all_rows") else ""
        table.add_row("early stopping", f"kept step {hist['selected_step']}{start}, best {hist['best_step']}{again}")
    table.add_row(
        "training time", f"{hist['train_seconds']:.1f} s on {hist['device']} ({hist['gan_rows_per_second']:.0f} rows/s)"
    )
    if val.get("mean_ks_numeric") is not None:
        table.add_row("fidelity: mean KS, numeric (held out)", f"{val['mean_ks_numeric']:.3f}")
    if val.get("mean_tv_categorical") is not None:
        table.add_row("fidelity: mean TV, categorical (held out)", f"{val['mean_tv_categorical']:.3f}")
    advice = fitted.augmentation_advice_
    if advice is not None:
        table.add_row("augmentation", advice.summary(), style=None if advice.advised else "yellow")
    if anomalies is not None:
        table.add_row("score weights", fitted.calibration_.weights_source)
    if label is not None and len(fitted.classes_) == 1:
        table.add_row(
            "note", f"label '{label}' holds one class: a one-class model (scores how unlike these rows a record is)"
        )
    if hist["interrupted"]:
        table.add_row("note", _INTERRUPTED_NOTE, style="yellow")
    out_console.print(table)


_INTERRUPTED_NOTE = (
    "training was interrupted; the model holds what was learned so far (usable now); the same command with "
    "--resume continues it"
)


_RESUMABLE_NOTE = (
    "its training was interrupted; `gantools train` with the same data and options and --resume continues it"
)


def _print_image_training(fitted, model: Path) -> None:
    hist = fitted.history_
    table = Table(title=f"Model written to {model}/", show_header=False)
    table.add_row("images (train / held out)", f"{hist['train_images']} / {hist['holdout_images']}")
    table.add_row("image size", f"{fitted.resolution_} x {fitted.resolution_}, {fitted.channels_} channel(s)")
    table.add_row("classes", ", ".join(f"{c} ({n})" for c, n in zip(fitted.classes_, fitted.class_counts_)))
    table.add_row("GAN steps / encoder steps", f"{hist['gan_steps']} / {hist['encoder_steps']}")
    table.add_row(
        "training time",
        f"{hist['fit_seconds']:.1f} s on {hist['device']} ({hist['gan_images_per_second']:.0f} images/s)",
    )
    if hist.get("interrupted"):
        table.add_row("note", _INTERRUPTED_NOTE, style="yellow")
    out_console.print(table)


@app.command()
def augment(
    n: Annotated[int, typer.Option("--n", help="Number of synthetic rows (or images).")] = 5000,
    class_mix: Annotated[
        str, typer.Option("--class-mix", help="original, balanced, or LABEL=FRACTION,... e.g. 0=0.3,1=0.7")
    ] = "original",
    seed: Annotated[
        int | None, typer.Option("--seed", help="Random seed (default: random)", show_default=False)
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Output file (.csv or .parquet; default synthetic.csv); an image model writes PNGs in class "
            "folders and a grid per class to a folder (default synthetic/).",
            show_default=False,
        ),
    ] = None,
    model: ModelOpt = DEFAULT_MODEL_DIR,
    device: DeviceOpt = "auto",
    train: Annotated[
        Path | None,
        typer.Option("--train", help="The training data: check the rows for exact and near copies of it."),
    ] = None,
) -> None:
    """Write N labeled synthetic rows, in the training columns' order, dtypes and ranges (or N images)."""
    path, summary, copies, advice = _run(workflows.augment, model, n, class_mix, seed, out, device, train)
    if advice is not None and not advice.advised:
        _say("warning:", "yellow", f"{advice.summary()}; the rows were written as asked")
    unit = "images" if path.is_dir() else "rows"
    table = Table(title=f"Wrote {int(summary['rows'].sum())} {unit} to {path}")
    table.add_column("class")
    table.add_column(unit, justify="right")
    for row in summary.itertuples():
        table.add_row(str(row[1]), str(row[2]))
    if copies is not None:
        table.add_section()
        table.add_row(
            "exact copies of training rows",
            f"{copies['exact']} ({copies['exact_unique']} of rows unique in training; "
            f"training repeats {copies['train_duplicate_share']:.1%} of its own rows)",
        )
        if copies.get("near") is not None:
            table.add_row(
                "near copies (closer than 1% of training rows to each other)",
                f"{copies['near']} ({copies['near_share']:.2%})",
            )
    out_console.print(table)


@app.command()
def score(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="CSV/Parquet files or folders (searched recursively); image files or folders for an image model."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output file (.csv or .parquet).")] = Path("scores.csv"),
    fpr: FprOpt = 0.01,
    normal_class: Annotated[
        str | None,
        typer.Option(
            "--normal-class",
            help="Score against this class only (default: the class each record fits best)",
            show_default=False,
        ),
    ] = None,
    explain: Annotated[
        int, typer.Option("--explain", help="Add the K columns that contribute most to each score.")
    ] = 0,
    heatmaps: Annotated[
        Path | None,
        typer.Option(
            "--heatmaps",
            help="Image models: write image | reconstruction | residual overlay PNGs to this folder.",
            show_default=False,
        ),
    ] = None,
    fail_on_anomaly: Annotated[
        bool, typer.Option("--fail-on-anomaly", help="Exit with code 3 when any row is flagged (for pipelines).")
    ] = False,
    model: ModelOpt = DEFAULT_MODEL_DIR,
    device: DeviceOpt = "auto",
) -> None:
    """Score every row of every file (or every image): score, its parts, class, is_anomaly -> one output row each."""
    with make_progress(err_console, transient=True) as progress:
        task = progress.add_task("Scoring", total=None, info="")

        def on_chunk(source: str, rows: int) -> None:
            progress.update(task, advance=rows, info=Path(source).name)

        report, error = _call(
            workflows.score,
            inputs,
            model,
            out,
            fpr,
            normal_class,
            explain,
            device=device,
            on_chunk=on_chunk,
            heatmaps=heatmaps,
        )
    if error is not None:
        _fail(*error)
    table = Table(title=f"Scores written to {report.out}" if report.files else "Nothing written")
    table.add_column("file", overflow="fold")
    table.add_column("rows", justify="right")
    table.add_column("flagged", justify="right")
    table.add_column("worst score", justify="right")
    for f in report.files:
        worst = f"{f['worst_score']:.2f}" if f["rows"] else "no rows"
        table.add_row(f["file"], str(f["rows"]), str(f["flagged"]), worst)
    table.add_section()
    table.add_row(
        "total", str(report.rows), str(report.flagged), f"threshold {report.threshold:.2f} (fpr {fpr})", style="bold"
    )
    out_console.print(table)
    if heatmaps is not None and report.files:
        out_console.print(f"Heatmaps written to {heatmaps}/", highlight=False, soft_wrap=True)
    for f in report.files:
        if not f["rows"]:
            _note(f"{f['file']} holds no rows (a header only): nothing of it was scored")
        if f.get("skipped"):
            count = len(f["skipped"])
            _note(f"{f['file']}: skipped {count} unreadable or non-image file(s): {describe_skipped(f['skipped'])}")
        if f.get("unfamiliar"):
            values = ", ".join(f"{column} ({n} rows)" for column, n in f["unfamiliar"].items())
            _note(
                f"{f['file']}: values training never showed (a category it never saw, or a missing value where it "
                f"saw none): {values}; scored all the same (an unseen category adds to the score, a missing number "
                "counts as the column's centre)"
            )
        if f.get("unseen_classes"):
            values = ", ".join(f"'{v}' ({n} rows)" for v, n in sorted(f["unseen_classes"].items()))
            _note(
                f"{f['file']}: label values the model never saw: {values}; each row was scored against the known "
                "class it fits best (see the 'class' column)."
            )
    skipped = report.not_tables
    if skipped:
        _note(f"skipped {len(skipped)} file(s) that are not .csv or .parquet (first: {skipped[0]})")
    if report.failed:
        for message in report.failed:
            _say("Error:", "bold red", message)
        raise typer.Exit(1)
    if fail_on_anomaly and report.flagged:
        err_console.print(f"{report.flagged} row(s) flagged as anomalous (--fail-on-anomaly)", highlight=False)
        raise typer.Exit(3)


@app.command()
def info(
    model: ModelOpt = DEFAULT_MODEL_DIR,
    as_json: Annotated[bool, typer.Option("--json", help="Print everything as JSON.")] = False,
) -> None:
    """Show what the model is: schema, classes, settings, validation figures."""
    details = _run(workflows.info, model)
    if as_json:
        out_console.print_json(json.dumps(details, default=str))
        return
    if details.get("modality") == "image":
        _print_image_info(details, model)
        return
    cols = Table(title=f"Model {model}/ — columns")
    for name in ("column", "kind", "dtype", "missing values"):
        cols.add_column(name)
    for c in details["columns"]:
        cols.add_row(c["name"], c["kind"], c["dtype"], "yes" if c["missing"] else "")
    out_console.print(cols)
    hist, val, settings = details["history"], details["validation"], details["settings"]
    summary = Table(show_header=False, title="Training and validation")
    summary.add_row("label", str(details["label"]))
    summary.add_row("classes", ", ".join(f"{c} ({n})" for c, n in zip(details["classes"], details["class_counts"])))
    summary.add_row("settings", ", ".join(f"{k}={v}" for k, v in settings.items()))
    summary.add_row("rows (train / held out)", f"{hist['n_train_rows']} / {hist['n_holdout_rows']}")
    summary.add_row(
        "training",
        f"{hist['gan_steps']} GAN + {hist['encoder_steps']} encoder steps, "
        f"{hist['train_seconds']:.1f} s on {hist['device']}",
    )
    for key, value in val.items():
        summary.add_row(
            f"validation: {key}",
            "n/a" if value is None else (f"{value:.4g}" if isinstance(value, float) else str(value)),
        )
    if details.get("augmentation_summary"):
        summary.add_row("augmentation (lift estimated when fitted)", details["augmentation_summary"])
    w = details["scoring"]["weights"]
    summary.add_row(
        "score weights",
        f"reconstruction {w['reconstruction']:.3g}, discriminator {w['discriminator']:.3g}, "
        f"density {w['density']:.3g} ({w['source']})",
    )
    corr = details["scoring"]["corroboration"]
    if corr["weight"] > 0:
        summary.add_row(
            "corroboration",
            f"+{corr['weight']:.3g} x (min(reconstruction, discriminator) - {corr['margin']:.3g}) where positive "
            "(margin: held-out 99th percentile)"
            + ("" if corr["density_gate"] is None else f", for density > {corr['density_gate']:.3g} (its 90th)")
            + ("" if corr["density_ceiling"] is None else f", lifting to {corr['density_ceiling']:.3g} at most"),
        )
    if details["scoring"]["density_bandwidths"]:
        bands = ", ".join(
            f"{c}: {' / '.join(f'{s:g}' for s in per_g)}"
            for c, per_g in details["scoring"]["density_bandwidths"].items()
        )
        count = details["scoring"]["density_generators"]
        summary.add_row(
            "density bandwidth (per class" + (f", each of {count} generators)" if count > 1 else ")"), bands
        )
    summary.add_row("threshold at fpr 0.01", f"{details['scoring']['threshold_fpr_0.01']:.3f}")
    summary.add_row("gantools version", str(details.get("gantools_version", __version__)))
    if hist.get("interrupted"):
        summary.add_row("note", _RESUMABLE_NOTE, style="yellow")
    out_console.print(summary)


def _print_image_info(details: dict, model: Path) -> None:
    hist = details["history"]
    table = Table(show_header=False, title=f"Image model {model}/")
    table.add_row("classes", ", ".join(f"{c} ({n})" for c, n in zip(details["classes"], details["class_counts"])))
    table.add_row("image size", f"{details['resolution']} x {details['resolution']}, {details['channels']} channel(s)")
    table.add_row("settings", ", ".join(f"{k}={v}" for k, v in details["settings"].items()))
    table.add_row("images (train / held out)", f"{hist['train_images']} / {hist['holdout_images']}")
    table.add_row(
        "training",
        f"{hist['gan_steps']} GAN + {hist['encoder_steps']} encoder steps, {hist['fit_seconds']:.1f} s on "
        f"{hist.get('device', '?')}",
    )
    table.add_row("threshold at fpr 0.01", f"{details['threshold_fpr_0.01']:.3f}")
    if hist.get("interrupted"):
        table.add_row("note", _RESUMABLE_NOTE, style="yellow")
    out_console.print(table)


@app.command()
def evaluate(
    data: Annotated[
        Path,
        typer.Argument(
            help="Real rows the model has not seen: a CSV/Parquet file, or a folder of them; for an image model, "
            "a folder of held-out images (one sub-folder per class) or MNIST IDX files."
        ),
    ],
    train: Annotated[
        Path | None,
        typer.Option(
            "--train",
            help="The model's training data, for TSTR vs TRTR and the privacy checks (skipped without it).",
            show_default=False,
        ),
    ] = None,
    model: ModelOpt = DEFAULT_MODEL_DIR,
    out: Annotated[Path, typer.Option("--out", help="Report folder (report.md, report.json, PNG plots).")] = Path(
        "gantools-report"
    ),
    n: Annotated[
        int | None,
        typer.Option(
            "--n", help="Synthetic rows to compare (default: rows of DATA, 1,000..20,000)", show_default=False
        ),
    ] = None,
    anomaly_label: Annotated[
        str | None,
        typer.Option(
            "--anomaly-label",
            help="0/1 column of DATA (1 = anomaly): AUROC, AUPRC, FPR and recall of the anomaly scores.",
            show_default=False,
        ),
    ] = None,
    fpr: FprOpt = 0.01,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    device: DeviceOpt = "auto",
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress output.")] = False,
) -> None:
    """Quality report of the model against real held-out DATA: fidelity, utility, privacy, coverage, plots."""
    if quiet:
        report = _run(workflows.evaluate, data, train, model, out, n, anomaly_label, seed, fpr, device)
    else:
        with err_console.status("Evaluating") as status:

            def progress(message: str) -> None:
                status.update(f"Evaluating: {message}")

            report, error = _call(
                workflows.evaluate, data, train, model, out, n, anomaly_label, seed, fpr, device, progress
            )
        if error is not None:
            _fail(*error)
    table = Table(title=f"Evaluation of {model}/ on {data}", show_header=False)
    for name, value in report.headline():
        table.add_row(name, value)
    for reason in report.skipped.values():
        table.add_row("skipped", reason, style="yellow")
    for warning in report.warnings:
        table.add_row("warning", warning, style="yellow")
    out_console.print(table)
    out_console.print(f"Report written to {report.report_path}", highlight=False, soft_wrap=True)


if __name__ == "__main__":
    app()
