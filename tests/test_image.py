"""Images: reading MNIST IDX and image folders (bad files skipped), a tiny conditional GAN, PNG outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from gantools.errors import GantoolsError
from gantools.image import ImageConfig, ImageGAN, is_image_source, read_images
from gantools.image.output import write_image_folder

TINY = ImageConfig(steps=6, encoder_steps=3, batch_size=16, width=8, latent_dim=16)


@pytest.fixture(scope="module")
def digits(shared_data: Path):
    return read_images(shared_data / "mnist", limit_per_class=12)


def test_idx_images_are_read_per_class(digits):
    assert digits.images.shape == (120, 1, 28, 28) and digits.images.dtype == torch.uint8
    assert digits.classes == [str(d) for d in range(10)]
    assert np.bincount(digits.labels).tolist() == [12] * 10
    assert int(digits.images.max()) == 255  # real pixels, not an empty tensor


def test_image_folder_skips_bad_files_and_resizes(tmp_path: Path, digits):
    for k, name in enumerate(["cat", "dog"]):
        (tmp_path / name).mkdir()
        for i in range(3):
            Image.fromarray(digits.images[k * 12 + i, 0].numpy()).convert("RGB").resize((40, 40)).save(
                tmp_path / name / f"{i}.png"
            )
    (tmp_path / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    assert is_image_source(tmp_path)
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        images = read_images(tmp_path)
    assert images.classes == ["cat", "dog"] and len(images) == 6
    assert images.images.shape == (6, 1, 64, 64)  # grey RGB files stay one channel; 40 px -> 64
    assert images.skipped[0][0].endswith("broken.png")


def test_empty_folder_is_one_clear_error(tmp_path: Path):
    with pytest.raises(GantoolsError, match="holds no image files"):
        read_images(tmp_path)


def test_tiny_model_samples_scores_saves_and_loads(tmp_path: Path, digits):
    model = ImageGAN(TINY).fit(digits)
    images, labels = model.sample(25, "balanced", seed=1)
    assert images.shape == (25, 1, 28, 28) and np.bincount(labels).tolist() == [3] * 5 + [2] * 5
    folder, counts = write_image_folder(images, labels, model.classes_, tmp_path / "synthetic")
    assert sum(counts.values()) == 25 and (folder / "grid_3.png").exists()
    assert read_images(folder).images.shape[0] == 25  # the written PNGs read back (grids at top are one class)
    scores = model.score(digits)
    assert list(scores.columns) == [
        "source", "score", "score_reconstruction", "score_critic", "class", "is_anomaly"
    ]  # fmt: skip
    assert np.isfinite(scores["score"]).all()
    model.save(tmp_path / "model")
    loaded = ImageGAN.load(tmp_path / "model", device="cpu")
    again, _ = loaded.sample(25, "balanced", seed=1)
    assert torch.equal(again, images)
    assert np.allclose(loaded.score(digits)["score"], scores["score"], atol=1e-5)


def test_class_mix_and_dataset(digits):
    model = ImageGAN(TINY).fit(digits)
    _, labels = model.sample(40, {"3": 1.0, "7": 3.0}, seed=0)
    assert np.bincount(labels, minlength=10)[[3, 7]].tolist() == [10, 30] and len(labels) == 40
    dataset = model.sample_dataset(12, seed=0)
    image, label = dataset[0]
    assert image.shape == (1, 28, 28) and 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    with pytest.raises(GantoolsError, match="unknown class"):
        model.sample(5, {"cat": 1.0})


def test_quality_figures_tell_real_from_noise(digits):
    """The judging CNN's figures: real images judged against other real images score well, noise badly."""
    from gantools.image.quality import measure_quality, train_classifier

    more = read_images(digits_path(), limit_per_class=40)
    half = np.arange(len(more)) % 2 == 0
    real, other = more.images[half], more.images[~half]
    judge = train_classifier(real, more.labels[half], 10, seed=0)  # one judge for both comparisons
    good = measure_quality(real, more.labels[half], other, more.labels[~half], more.classes, classifier=judge)
    noise = torch.randint(0, 256, other.shape, generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    bad = measure_quality(real, more.labels[half], noise, more.labels[~half], more.classes, classifier=judge)
    assert (judge.predict(other) == more.labels[~half]).mean() > 0.6  # it reads unseen real digits
    assert good.min_coverage > bad.min_coverage and good.precision > bad.precision
    assert good.frechet_distance < bad.frechet_distance
    assert np.mean(list(good.class_consistency.values())) > np.mean(list(bad.class_consistency.values()))


def digits_path() -> Path:
    from gantools.settings import data_dir

    return data_dir() / "mnist"


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory) -> Path:
    """An ImageFolder tree of real handwritten digits (3 classes of 24 PNGs, 8 x 8 pixels: scikit-learn's bundled
    copy of the UCI digits, so that the test needs no download and no shared data) and one broken file."""
    from sklearn.datasets import load_digits

    folder = tmp_path_factory.mktemp("digits")
    digits = load_digits()
    for k in (0, 1, 7):
        (folder / "train" / str(k)).mkdir(parents=True)
        for i, row in enumerate(np.flatnonzero(digits.target == k)[:24]):
            pixels = np.round(digits.images[row] * 255 / 16).astype(np.uint8)
            Image.fromarray(pixels).save(folder / "train" / str(k) / f"{i}.png")
    (folder / "train" / "7" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    return folder


def test_cli_on_image_folders_end_to_end(digit_folder: Path):
    from conftest import run_cli

    work = digit_folder
    result = run_cli("train", "train", "--epochs", "3", "--batch-size", "16", "--quiet", cwd=work, check=True)
    assert "Model written to gantools-model/" in result.stdout and "28 x 28" in result.stdout
    info = run_cli("info", "--json", cwd=work, check=True)
    assert '"modality": "image"' in info.stdout

    augmented = run_cli("augment", "--n", "30", "--class-mix", "balanced", "--seed", "3", cwd=work, check=True)
    assert "Wrote 30 images to synthetic" in " ".join(augmented.stdout.split())
    pngs = sorted((work / "synthetic").rglob("*.png"))
    assert len([p for p in pngs if p.parent.name in ("0", "1", "7")]) == 30
    assert (work / "synthetic" / "grid_7.png").exists()
    back = read_images(work / "synthetic")
    assert back.classes == ["0", "1", "7"] and len(back) == 30  # real PNG files that read back

    scored = run_cli("score", "train", "synthetic/7/00.png", "--heatmaps", "maps", cwd=work, check=True)
    assert "Heatmaps written to maps" in scored.stdout and "skipped 1 unreadable" in " ".join(scored.stderr.split())
    scores = pd.read_csv(work / "scores.csv")
    assert list(scores.columns) == [
        "source", "score", "score_reconstruction", "score_critic", "class", "is_anomaly"
    ]  # fmt: skip
    assert len(scores) == 72 + 1 and np.isfinite(scores["score"]).all()
    assert set(scores["class"].astype(str)) <= {"0", "1", "7"}
    maps = sorted((work / "maps").glob("*.png"))
    assert len(maps) == 73
    with Image.open(maps[0]) as strip:
        assert strip.size == (3 * 28 + 4, 28) and strip.mode == "RGB"

    report = run_cli("evaluate", "train", "--out", "report", "--quiet", cwd=work, check=True)
    assert "class-consistency" in report.stdout
    for name in ("report.md", "report.json", "samples.png", "real.png", "grid_0.png"):
        assert (work / "report" / name).exists(), name

    wrong = run_cli("train", "train", "--label", "class", cwd=work)
    assert wrong.returncode == 2 and "--label apply to tables" in wrong.stderr and "Traceback" not in wrong.stderr
    table_out = run_cli("augment", "--out", "x.csv", cwd=work)
    assert table_out.returncode == 2 and "image model writes a folder" in table_out.stderr
    nowhere = run_cli("score", "nowhere", cwd=work)
    assert nowhere.returncode == 1 and "'nowhere' does not exist" in nowhere.stderr

    # bad image inputs and outputs: one line, exit 1, refused before the work, nothing written
    (work / "zero.png").write_bytes(b"")
    zero = run_cli("score", "zero.png", "--out", "zero.csv", cwd=work)
    assert zero.returncode == 1 and "Traceback" not in zero.stderr
    assert "no image in 'zero.png' could be read: zero.png (" in " ".join(zero.stderr.split())
    assert not (work / "zero.csv").exists()
    (work / "a_file").write_text("x")
    for args, option in ((["augment", "--out", "a_file/synthetic"], "--out"),
                         (["score", "train", "--out", "s2.csv", "--heatmaps", "a_file/maps"], "--heatmaps"),
                         (["evaluate", "train", "--out", "a_file/report"], "--out")):  # fmt: skip
        refused = run_cli(*args, cwd=work)
        assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
        assert f"'a_file' is a file; choose another {option}" in " ".join(refused.stderr.split())
    assert not (work / "s2.csv").exists()
    (work / "small" / "a").mkdir(parents=True)
    (work / "small" / "b").mkdir()
    for png in sorted((work / "train" / "0").glob("*.png"))[:3]:
        (work / "small" / "a" / png.name).write_bytes(png.read_bytes())
    (work / "small" / "b" / "0.png").write_bytes((work / "train" / "1" / "0.png").read_bytes())
    (work / "small" / "b" / "1.png").write_bytes(b"")
    small = run_cli("train", "small", "--model", "small_model", "--quiet", cwd=work)
    assert small.returncode == 1 and not (work / "small_model").exists()
    said = " ".join(small.stderr.split())
    assert "class 'b' of 'small' has 1 readable image(s); at least 2 are needed" in said, said
    assert "Note: skipped 1 unreadable or non-image file(s) in 'small': small/b/1.png (" in said
    assert "UserWarning" not in said and "warnings.warn" not in said  # the library's warning as one note


def test_default_steps_follow_the_training_images():
    from gantools.image.model import resolve_steps

    assert resolve_steps(ImageConfig(), 300) == (2000, 666)  # small sets: at least 2,000 steps
    assert resolve_steps(ImageConfig(), 4500) == (4500, 1500)  # one step per training image
    assert resolve_steps(ImageConfig(), 50_000) == (6000, 2000)  # at most 6,000
    assert resolve_steps(ImageConfig(steps=10, encoder_steps=4), 50_000) == (10, 4)
    with pytest.raises(GantoolsError, match="steps must be a whole number"):
        ImageConfig(steps=-1).validate()
    with pytest.raises(GantoolsError, match="diversity_weight must be a number ≥ 0"):
        ImageConfig(diversity_weight=float("nan")).validate()
    with pytest.raises(GantoolsError, match="lr must be a number > 0"):
        ImageConfig(lr=0).validate()


def test_a_folder_torchvision_downloaded_into_is_read_without_downloading(tmp_path: Path, shared_data: Path):
    import shutil

    from gantools.image.workflows import MNIST_FOLDER, _source

    raw = tmp_path / MNIST_FOLDER
    raw.mkdir(parents=True)
    for file in (shared_data / "mnist").glob("*idx*"):
        shutil.copy(file, raw / file.name)
    assert _source(tmp_path, download=True) == raw  # cached: no connection needed
    assert _source(tmp_path, download=False) == raw
    assert len(read_images(_source(tmp_path, False), limit_per_class=2)) == 20


def test_sixteen_bit_and_float_images_are_scaled_not_clipped(tmp_path: Path):
    """A 16-bit scan and a float image in [0, 1] read as the same grey ramp as its 8-bit copy (PIL's own
    conversion clipped them: 99% white, all black)."""
    ramp = np.linspace(0, 1, 28 * 28).reshape(28, 28)
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
    Image.fromarray(np.round(ramp * 255).astype(np.uint8)).save(tmp_path / "a" / "eight.png")
    Image.fromarray(np.round(ramp * 65535).astype("<u2")).save(tmp_path / "b" / "sixteen.png")
    Image.fromarray(ramp.astype(np.float32)).save(tmp_path / "c" / "float.tif")
    images = read_images(tmp_path)
    assert images.classes == ["a", "b", "c"] and not images.skipped
    eight = images.images[0].int()
    for k in (1, 2):
        assert (images.images[k].int() - eight).abs().max() <= 1
