"""The CLI as a user runs it: real subprocesses on real files."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, run_cli

EXAMPLES = ROOT / "examples"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, banknote) -> Path:
    """A folder where `gantools train` ran on two-class banknote data."""
    folder = tmp_path_factory.mktemp("cli")
    banknote.to_csv(folder / "notes.csv", index=False)
    run_cli("train", "notes.csv", "--label", "class", "--epochs", "30", "--quiet", cwd=folder, check=True)
    return folder


def test_train_writes_the_model_folder(workdir):
    model = workdir / "gantools-model"
    assert sorted(p.name for p in model.iterdir()) == [
        "config.json",
        "manifest.json",
        "preprocessor.json",
        "weights.safetensors",
    ]


def test_train_small_data_reports_early_stopping_and_refit(tmp_path, banknote):
    banknote.groupby("class").head(20).to_csv(tmp_path / "few.csv", index=False)
    result = run_cli("train", "few.csv", "--label", "class", "--epochs", "150", "--refit", cwd=tmp_path, check=True)
    assert "early stopping" in result.stdout and "trained again on all rows" in result.stdout
    config = json.loads((tmp_path / "gantools-model" / "config.json").read_text())
    assert config["settings"]["gaussian_base"] is True and config["settings"]["refit"] is True


def test_augment_writes_labeled_rows_and_a_table(workdir, banknote):
    result = run_cli("augment", "--n", "500", "--class-mix", "balanced", "--seed", "1", cwd=workdir, check=True)
    assert "Wrote 500 rows" in result.stdout
    rows = pd.read_csv(workdir / "synthetic.csv")
    assert list(rows.columns) == list(banknote.columns)
    assert rows["class"].value_counts().to_dict() == {0: 250, 1: 250}
    assert rows.dtypes.equals(banknote.dtypes)


def test_score_folder_of_csv_and_parquet(workdir, banknote):
    folder = workdir / "suspect"
    (folder / "deeper").mkdir(parents=True)
    banknote.head(25).to_csv(folder / "a.csv", index=False)
    banknote.tail(15).drop(columns="class").to_parquet(folder / "deeper" / "b.parquet", index=False)
    result = run_cli("score", "suspect", "--out", "out.csv", "--fpr", "0.05", "--explain", "2", cwd=workdir, check=True)
    assert "Scores written to out.csv" in result.stdout
    scores = pd.read_csv(workdir / "out.csv")
    for col in [
        "source",
        "row",
        "score",
        "score_discriminator",
        "score_reconstruction",
        "score_density",
        "class",
        "is_anomaly",
        "top_features",
    ]:
        assert col in scores.columns
    assert len(scores) == 40
    assert scores["row"].tolist() == list(range(25)) + list(range(15))
    assert scores["source"].str.endswith("a.csv").sum() == 25
    assert scores["is_anomaly"].isin([0, 1]).all()
    # the label column is kept where the file has it, beside the scored-against class
    assert scores["class"].notna().all()
    assert scores["class_in_file"].iloc[:25].tolist() == banknote["class"].head(25).tolist()


def test_default_score_command_writes_scores_csv(workdir):
    run_cli("score", str(EXAMPLES / "suspect_notes"), cwd=workdir, check=True)
    assert len(pd.read_csv(workdir / "scores.csv")) == 233


def test_info_describes_the_model(workdir):
    result = run_cli("info", cwd=workdir, check=True)
    assert "variance" in result.stdout and "threshold at fpr 0.01" in result.stdout
    as_json = run_cli("info", "--json", cwd=workdir, check=True)
    assert '"label": "class"' in as_json.stdout
    scoring = json.loads(as_json.stdout)["scoring"]
    assert scoring["corroboration"]["margin"] >= 2.0 and scoring["corroboration"]["weight"] > 0
    assert isinstance(scoring["corroboration"]["density_gate"], float)
    assert set(scoring["density_bandwidths"]) == {"0", "1"} and "corroboration" in result.stdout


def _assert_one_line_error(result, *fragments, code=1):
    """Exit ``code`` (1: bad input, 2: bad usage), one line starting with 'Error:', no traceback."""
    assert result.returncode == code, result
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert lines and lines[-1].startswith("Error:"), result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr


def test_no_model_says_to_train_first(tmp_path):
    _assert_one_line_error(run_cli("augment", cwd=tmp_path), "run `gantools train")
    _assert_one_line_error(run_cli("score", str(EXAMPLES / "suspect_notes"), cwd=tmp_path), "run `gantools train")
    assert not (tmp_path / "scores.csv").exists()


def test_bad_training_input(tmp_path, banknote):
    _assert_one_line_error(run_cli("train", "missing.csv", cwd=tmp_path), "missing.csv", "not found")
    banknote.head(50).to_csv(tmp_path / "n.csv", index=False)
    _assert_one_line_error(
        run_cli("train", "n.csv", "--label", "kind", cwd=tmp_path), "label column 'kind'", "variance"
    )
    _assert_one_line_error(run_cli("train", "n.csv", "--device", "tpu", cwd=tmp_path), "unknown device", code=2)
    assert not (tmp_path / "gantools-model").exists()


def test_mismatched_file_is_reported_and_the_rest_written(workdir, banknote):
    folder = workdir / "mixed"
    folder.mkdir()
    banknote.head(10).to_csv(folder / "good.csv", index=False)
    banknote.head(10).drop(columns="entropy").to_csv(folder / "wrong.csv", index=False)
    result = run_cli("score", "mixed", "--out", "mixed.csv", cwd=workdir)
    _assert_one_line_error(result, "wrong.csv", "entropy")
    assert len(pd.read_csv(workdir / "mixed.csv")) == 10


def test_usage_errors_exit_2(workdir):
    result = run_cli("augment", "--n", "many", cwd=workdir)
    assert result.returncode == 2
    _assert_one_line_error(run_cli("score", "nowhere/", cwd=workdir), "nowhere", "not found")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "notes.csv", "--epochs", "0"], "--epochs must be"),
        (["train", "notes.csv", "--holdout", "1.5"], "--holdout must be between 0 and 1"),
        (["train", "notes.csv", "--batch-size", "0"], "--batch-size must be"),
        (["train", "notes.csv", "--kind", "variance"], "--kind 'variance' is not COLUMN=KIND"),
        (["train", "notes.csv", "--kind", "variance=colour"], "kind 'colour' for column 'variance' is not one of"),
        (["train", "notes.csv", "--device", "tpu"], "unknown device 'tpu'"),
        (["augment", "--n", "-5"], "--n must be at least 0"),
        (["augment", "--out", "x.json"], ".csv or .parquet"),
        (["augment", "--class-mix", "0=0.5,9=0.5"], "unknown class"),
        (["score", "notes.csv", "--fpr", "5"], "--fpr must be between 0 and 1"),
        (["score", "notes.csv", "--explain", "-3"], "--explain must be a whole number of 0 or more"),
        (["score", "notes.csv", "--heatmaps", "maps"], "--heatmaps applies to image models"),
        (["evaluate", "notes.csv", "--n", "1"], "--n must be at least"),
    ],
)
def test_option_values_out_of_range_are_usage_errors(workdir, args, message):
    """Bad values of options are bad usage (exit 2, as for options that cannot be parsed), one line, before any
    work; bad data is exit 1."""
    model = workdir / "gantools-model"
    before = {p.name: p.stat().st_mtime_ns for p in model.iterdir()}
    existing = {p.name for p in workdir.iterdir()}
    result = run_cli(*args, "--model", str(model), cwd=workdir)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0], result.stderr
    assert {p.name: p.stat().st_mtime_ns for p in model.iterdir()} == before  # nothing trained or written
    assert not {"x.json", "scores.csv", "gantools-report"} & {p.name for p in workdir.iterdir()} - existing


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_interrupted_training_leaves_a_usable_model(tmp_path, banknote, sig):
    import os
    import signal
    import subprocess
    import threading
    import time

    from conftest import gantools_exe

    banknote.to_csv(tmp_path / "notes.csv", index=False)
    # Progress bars drawn as on a terminal, so that the test sees when the GAN phase has begun (a fixed wait
    # was too short where starting CUDA took long: the signal then came before any step).
    env = {**os.environ, "TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1"}
    proc = subprocess.Popen(
        [*gantools_exe(), "train", "notes.csv", "--label", "class", "--epochs", "100000"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,  # no preexec_fn (unsafe beside threads): training handles SIGINT even where it was ignored
    )
    drained: list[bytes] = []

    def drain() -> None:
        for chunk in iter(lambda: proc.stderr.read1(4096), b""):
            drained.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    deadline = time.monotonic() + 900  # a loaded machine can take minutes to import torch and start
    while b"Training GAN" not in b"".join(drained) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    if b"Training GAN" not in b"".join(drained):  # a signal before training would test something else
        proc.kill()
        pytest.fail(f"training did not start: {b''.join(drained).decode(errors='replace')[-2000:]}")
    time.sleep(3)  # some steps into the (very long) GAN phase
    proc.send_signal(getattr(signal, sig))
    proc.wait(timeout=300)  # stderr is read by the thread alone; stdout (a short table) is read after the exit
    stdout = proc.stdout.read().decode()
    reader.join(timeout=10)
    assert proc.returncode == 0, b"".join(drained).decode(errors="replace")[-2000:]
    assert "interrupted" in stdout
    assert "--resume" in run_cli("info", cwd=tmp_path, check=True).stdout  # info says it can be resumed
    result = run_cli("augment", "--n", "100", cwd=tmp_path, check=True)
    assert "Wrote 100 rows" in result.stdout
    run_cli("score", "notes.csv", cwd=tmp_path, check=True)
    assert len(pd.read_csv(tmp_path / "scores.csv")) == len(banknote)


def test_fail_on_anomaly_exit_code(workdir, banknote):
    odd = banknote.head(3).copy()
    odd["variance"] = banknote["variance"].max() + 50  # far outside anything seen in training
    odd.to_csv(workdir / "odd.csv", index=False)
    result = run_cli("score", "odd.csv", "--out", "odd_scores.csv", "--fail-on-anomaly", cwd=workdir)
    assert result.returncode == 3, result.stderr
    assert "flagged" in result.stderr and "Traceback" not in result.stderr
    assert pd.read_csv(workdir / "odd_scores.csv")["is_anomaly"].sum() == 3  # the output is still written
    plain = run_cli("score", "odd.csv", "--out", "odd_scores.csv", cwd=workdir)
    assert plain.returncode == 0


def test_corrupt_parquet_and_label_in_some_files_only(workdir, banknote):
    folder = workdir / "several"
    folder.mkdir()
    banknote.head(6).drop(columns="class").to_csv(folder / "a_no_label.csv", index=False)
    banknote.tail(4).to_csv(folder / "b_with_label.csv", index=False)
    (folder / "c_broken.parquet").write_bytes(b"not parquet at all")
    result = run_cli("score", "several", "--out", "several.csv", cwd=workdir)
    _assert_one_line_error(result, "c_broken.parquet")
    scores = pd.read_csv(workdir / "several.csv")  # one header for all files, readable
    assert len(scores) == 10
    assert scores["class"].notna().all()  # the class each row was scored against, never overwritten
    assert scores["class_in_file"].isna().sum() == 6  # the file's own label, kept under another name
    assert scores["class_in_file"].iloc[6:].tolist() == banknote["class"].tail(4).tolist()


def test_help_shows_computed_defaults(tmp_path):
    # typer renders help with rich: square brackets would be eaten as markup
    assert "default: about" in run_cli("train", "--help", cwd=tmp_path, check=True).stdout


def test_train_with_known_anomalies_tunes_and_reports_weights(tmp_path, banknote):
    banknote[banknote["class"] == 0].drop(columns="class").to_csv(tmp_path / "genuine.csv", index=False)
    banknote[banknote["class"] == 1].head(5).to_csv(tmp_path / "known_forged.csv", index=False)
    result = run_cli("train", "genuine.csv", "--anomalies", "known_forged.csv", "--epochs", "20", "--generators", "2",
                     "--quiet", cwd=tmp_path, check=True)  # fmt: skip
    assert "tuned on 5 labeled anomalies" in result.stdout
    assert re.search(r"generators in the density\s*│\s*2 ", result.stdout)
    info = run_cli("info", "--json", cwd=tmp_path, check=True)
    assert "tuned on 5 labeled anomalies" in info.stdout
    assert json.loads(info.stdout)["scoring"]["density_generators"] == 2
    assert "each of 2 generators" in run_cli("info", cwd=tmp_path, check=True).stdout
    _assert_one_line_error(run_cli("train", "genuine.csv", "--generators", "0", cwd=tmp_path), "--generators", code=2)
    refused = run_cli("train", "genuine.csv", "--batch-size", "1", cwd=tmp_path)  # others: test_option_values_...
    _assert_one_line_error(refused, "--batch-size must be", code=2)
    assert "None" not in refused.stderr and "'auto'" not in refused.stderr
    banknote.head(3).drop(columns=["variance"]).to_csv(tmp_path / "bad.csv", index=False)
    bad = run_cli("train", "genuine.csv", "--anomalies", "bad.csv", "--epochs", "2", "--quiet", cwd=tmp_path)
    assert bad.returncode == 1 and "bad.csv" in bad.stderr and "variance" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_score_reports_label_values_the_model_never_saw(workdir, banknote):
    rows = banknote.head(12).copy()
    rows["class"] = [0, 1, 7, 7, 1.0, 0, 0, 9, 1, 1, 0, 0]  # 7 and 9 are not classes; 1.0 is class 1
    rows.to_csv(workdir / "new_classes.csv", index=False)
    result = run_cli("score", "new_classes.csv", "--out", "unseen.csv", cwd=workdir, check=True)
    note = result.stderr.split("never saw:")[1].split(";")[0]  # the CSV column reads as floats: 7.0, 9.0
    assert re.fullmatch(r" '7(\.0)?' \(2 rows\), '9(\.0)?' \(1 rows\)", note), note
    scores = pd.read_csv(workdir / "unseen.csv")
    assert len(scores) == 12 and set(scores["class"]) <= {0, 1}  # scored against known classes


def test_augment_checks_copies_of_the_training_rows(workdir):
    result = run_cli("augment", "--n", "300", "--seed", "2", "--train", "notes.csv", "--out", "syn_checked.csv",
                     cwd=workdir, check=True)  # fmt: skip
    assert "exact copies of training rows" in result.stdout and "near copies" in result.stdout
    exact = int(result.stdout.split("exact copies of training rows")[1].split("│")[1].split("(")[0])
    assert exact == 0  # a GAN's continuous rows do not copy banknote's measurements
    bad = run_cli("augment", "--n", "5", "--train", "missing.csv", cwd=workdir)
    assert bad.returncode == 1 and "missing.csv" in bad.stderr and "Traceback" not in bad.stderr
