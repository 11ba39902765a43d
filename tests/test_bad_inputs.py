"""A corpus of bad inputs (``tests/bad_inputs/``, a file per case) through the real CLI: each gets exit code 1
and one line naming the file (and column, row) and what to do, never a traceback, and no output left behind."""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_cli

from gantools.image.io import read_images

CORPUS = Path(__file__).parent / "bad_inputs"

TRAIN_CASES = {
    "train_empty.csv": "is empty",
    "train_header_only.csv": "has 0 rows; at least 10 are needed",
    "train_semicolons.csv": "separates its values with semicolons, not commas; save it comma-separated",
    "train_latin1.csv": "is not UTF-8 text \\(byte 0xe9 at position 20\\); save it as UTF-8",
    "train_binary.csv": "holds binary data, not CSV text",
    "train_no_label_column.csv": "label column 'class' not in .* \\(columns: variance, skewness, curtosis, entropy",
    "train_duplicated_column.csv": "column 'variance' appears twice in .* \\(columns 1 and 3\\); rename or drop one",
    "train_tiny_class.csv": "class '7' of label 'class' has only 1 row",
    "train_newline_in_label.csv": "class 'two\\\\nlines' of label 'class' has only 1 row",  # still one line
    "train_text_in_numeric.csv": "column 'skewness' .* holds numbers but row 30 holds 'oops'.*--kind skewness=categ",
    "train_infinite.csv": "column 'variance' .* holds infinity at row 10; leave the cell empty",
    "train_huge.csv": "column 'variance' .* holds 1e\\+308, beyond ±1e\\+30 at row 10; rescale the column",
    "train_beyond_float32.csv": "column 'variance' .* holds 4e\\+38, beyond ±1e\\+30 at row 10",  # > float32's max
    "train_too_few_rows.csv": "has 5 rows; at least 10 are needed",
    "train_ragged.csv": "cannot read .*: Error tokenizing data. C error: Expected 6 fields in line 12, saw 8",
    "train_all_missing_column.csv": "column 'notes' .* has no values; drop it or fill it",
    "train_missing_label.csv": "label column 'class' .* is missing at row 20; fill or drop those rows",
    "train_zero_bytes.parquet": "cannot read .*: .*size is 0 bytes",
    "train_truncated.parquet": "cannot read .*: .*(magic bytes|footer)",
}

SCORE_CASES = {
    "score_missing_column.csv": "lacks column\\(s\\) entropy that the model was trained on",
    "score_text_in_numeric.csv": "column 'skewness' .* is numeric in the model but row 10 holds 'abc'",
    "score_infinite.csv": "column 'skewness' .* holds infinity at row 10",
    "score_empty.csv": "is empty",
    "score_truncated.parquet": "cannot read .*score_truncated.parquet",
    "score_zero_bytes.parquet": "cannot read .*: .*size is 0 bytes",
    "score_semicolons.csv": "separates its values with semicolons, not commas; save it comma-separated",
    "score_latin1.csv": "is not UTF-8 text \\(byte 0xe9 at position \\d+\\); save it as UTF-8",
    "score_binary.csv": "holds binary data, not CSV text",
    "score_duplicated_column.csv": "column 'variance' appears twice in .* \\(columns 1 and 3\\); rename or drop one",
    "score_huge.csv": "column 'skewness' .* holds 5e\\+38, beyond ±1e\\+30 at row 4; rescale the column",
}
SCORED_ROWS = {"good.csv": 60, "score_reordered_extra_columns.csv": 15, "score_unseen_category.csv": 11,
               "score_unseen_class.csv": 11, "score_missing_values.csv": 12}  # fmt: skip


def _one_line_error(result) -> str:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.stderr
    return " ".join(result.stderr.split())


def test_the_corpus_holds_every_case():
    named = set(TRAIN_CASES) | set(SCORE_CASES) | set(SCORED_ROWS)
    named |= {"README.md", "images", "train_one_class.csv", "score_header_only.csv"}
    assert {p.name for p in CORPUS.iterdir()} == named


@pytest.mark.parametrize("name", sorted(TRAIN_CASES))
def test_bad_training_file(tmp_path, name):
    result = run_cli("train", str(CORPUS / name), "--label", "class", "--epochs", "1", "--quiet", cwd=tmp_path)
    message = _one_line_error(result)
    assert name in message
    assert re.search(TRAIN_CASES[name], message), message
    assert not (tmp_path / "gantools-model").exists()  # nothing half-written
    assert [p.name for p in tmp_path.iterdir()] == []


def test_a_label_with_one_class_trains_a_one_class_model(tmp_path):
    """Not an error: the README's first example trains on genuine notes only, keeping their label column."""
    result = run_cli("train", str(CORPUS / "train_one_class.csv"), "--label", "class", "--epochs", "2", "--quiet",
                     cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "1 (60)" in result.stdout and "label 'class' holds one class: a one-class model" in result.stdout


@pytest.fixture(scope="module")
def scoring_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bad_scoring")
    run_cli("train", str(CORPUS / "good.csv"), "--label", "class", "--epochs", "5", "--quiet", cwd=folder, check=True)
    return folder


@pytest.mark.parametrize("name", sorted(SCORE_CASES))
def test_bad_file_to_score(scoring_dir, name):
    out = f"scores_{name}.csv"
    result = run_cli("score", str(CORPUS / name), "--out", out, cwd=scoring_dir)
    message = _one_line_error(result)
    assert name in message
    assert re.search(SCORE_CASES[name], message), message


def test_a_folder_of_good_and_bad_files_scores_the_good_ones(scoring_dir):
    folder = scoring_dir / "mixed"
    folder.mkdir()
    for name in [*SCORE_CASES, *SCORED_ROWS]:
        shutil.copy(CORPUS / name, folder / name)
    shutil.copy(CORPUS / "images" / "notes.txt", folder / "notes.txt")  # not a table: skipped and said
    result = run_cli("score", "mixed", "--out", "mixed.csv", cwd=scoring_dir)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == len(SCORE_CASES)
    assert all(any(name in line for line in errors) for name in SCORE_CASES)
    scores = pd.read_csv(scoring_dir / "mixed.csv")
    assert scores.groupby(scores["source"].map(lambda s: Path(s).name)).size().to_dict() == SCORED_ROWS
    # extra and reordered columns are matched by name; a class the model never saw is said, and scored
    said = " ".join(result.stderr.split())
    assert "label values the model never saw: '5'" in said
    # values training never showed are said per file, and scored: a new category, a gap in a complete column
    assert "score_unseen_category.csv: values training never showed" in said and "grade (1 rows)" in said
    assert re.search("score_missing_values.csv: values training never showed .*: variance \\(2 rows\\)", said)
    assert "skipped 1 file(s) that are not .csv or .parquet (first: mixed/notes.txt)" in " ".join(result.stderr.split())


def test_a_header_only_file_scores_no_rows_and_says_so(scoring_dir):
    """Not an error (a pipeline's batch may be empty): its columns are checked, no rows come out, it is said."""
    result = run_cli("score", str(CORPUS / "score_header_only.csv"), "--out", "none.csv", cwd=scoring_dir)
    assert result.returncode == 0, result.stderr
    assert "holds no rows (a header only)" in " ".join(result.stderr.split())
    assert "no rows" in result.stdout and "nan" not in result.stdout
    scores = pd.read_csv(scoring_dir / "none.csv")
    assert len(scores) == 0 and {"score", "is_anomaly", "class"} <= set(scores.columns)


def test_an_output_path_that_cannot_be_written(scoring_dir):
    (scoring_dir / "a_file").write_text("x")
    result = run_cli("score", str(CORPUS / "good.csv"), "--out", "a_file/scores.csv", cwd=scoring_dir)
    assert "'a_file' is a file, not a folder; choose another --out" in _one_line_error(result)
    result = run_cli("augment", "--out", "a_file/rows.csv", cwd=scoring_dir)
    assert "'a_file' is a file, not a folder" in _one_line_error(result)
    # refused before training, not after
    result = run_cli("train", str(CORPUS / "good.csv"), "--label", "class", "--model", "a_file/m", cwd=scoring_dir)
    message = _one_line_error(result)
    assert "cannot write to 'a_file/m': 'a_file' is a file; choose another --model" in message
    assert "Model written" not in result.stdout
    # the report folder of evaluate: refused before the evaluation, not after it
    result = run_cli("evaluate", str(CORPUS / "good.csv"), "--out", "a_file/report", "--quiet", cwd=scoring_dir)
    assert "cannot write to 'a_file/report': 'a_file' is a file; choose another --out" in _one_line_error(result)


def test_image_folder_with_bad_and_foreign_files_skips_and_counts_them(tmp_path):
    from PIL import Image

    folder = tmp_path / "digits"
    for name in ("a", "b"):
        (folder / name).mkdir(parents=True)
        for k in range(3):
            Image.new("L", (28, 28), color=40 * k).save(folder / name / f"{k}.png")
    for bad in (CORPUS / "images").iterdir():
        shutil.copy(bad, folder / "a" / bad.name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images = read_images(folder)
    assert images.images.shape[0] == 6
    assert sorted(Path(f).name for f, _ in images.skipped) == sorted(p.name for p in (CORPUS / "images").iterdir())
    assert dict((Path(f).name, why) for f, why in images.skipped)["notes.txt"] == "not an image file (.txt)"
    assert any("skipped 4 unreadable or non-image file(s)" in str(w.message) for w in caught)
