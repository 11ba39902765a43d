"""Images: reading MNIST IDX and image folders (bad files skipped), a tiny conditional GAN, PNG outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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
    images, labels = model.sample(25, seed=1)
    assert images.shape == (25, 1, 28, 28) and labels.tolist()[:10] == list(range(10))
    folder, counts = write_image_folder(images, labels, model.classes_, tmp_path / "synthetic")
    assert sum(counts.values()) == 25 and (folder / "grid_3.png").exists()
    assert read_images(folder).images.shape[0] == 25  # the written PNGs read back (grids at top are one class)
    scores = model.score(digits)
    assert list(scores.columns) == ["source", "score", "reconstruction", "discriminator", "critic", "class",
                                    "is_anomaly"]  # fmt: skip
    assert np.isfinite(scores["score"]).all()
    model.save(tmp_path / "model")
    loaded = ImageGAN.load(tmp_path / "model", device="cpu")
    again, _ = loaded.sample(25, seed=1)
    assert torch.equal(again, images)
    assert np.allclose(loaded.score(digits)["score"], scores["score"], atol=1e-5)
