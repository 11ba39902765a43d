"""The CUDA path: training, sampling, scoring and saving on the GPU (skipped where there is none).

The rest of the suite pins ``device="cpu"`` so that results are the same on every CI machine; these tests
train on ``cuda`` and check what a user moving between machines relies on: a model trained on the GPU
loads and scores on the CPU with the same scores, and the GPU path learns as well as the CPU one.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import run_cli, tiny_config
from sklearn.metrics import roc_auc_score

from gantools import GANAnomalyDetector, GANOverSampler
from gantools.model import TabularGAN

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")


def test_model_trained_on_gpu_scores_the_same_on_cpu(banknote, tmp_path):
    model = TabularGAN(tiny_config(device="cuda", early_stopping=False, target_steps=1000)).fit(banknote, "class")
    assert model.device_.type == "cuda"
    assert next(model.nets_.generator_ema.parameters()).is_cuda
    rows = model.sample(200, seed=0)
    assert len(rows) == 200 and set(rows["class"]) <= {0, 1}
    on_gpu = model.score(banknote.drop(columns="class").head(300))
    model.save(tmp_path / "m")
    on_cpu = TabularGAN.load(tmp_path / "m", device="cpu").score(banknote.drop(columns="class").head(300))
    np.testing.assert_allclose(on_cpu["score"], on_gpu["score"], rtol=1e-3, atol=1e-3)
    assert (on_cpu["class"] == on_gpu["class"]).mean() > 0.99


def test_detector_on_gpu_ranks_forged_notes_like_on_cpu(banknote):
    genuine = banknote[banknote["class"] == 0].drop(columns="class").to_numpy()
    forged = banknote[banknote["class"] == 1].drop(columns="class").to_numpy()
    truth = np.r_[np.zeros(len(genuine) - 500), np.ones(len(forged))]
    test = np.vstack([genuine[500:], forged])
    aurocs = {}
    for device in ("cuda", "cpu"):
        det = GANAnomalyDetector(contamination=0.05, epochs=200, hidden=64, random_state=0, device=device)
        det.fit(genuine[:500])
        aurocs[device] = roc_auc_score(truth, det.decision_function(test))
        assert det.predict(genuine[500:]).mean() < 0.2
    assert aurocs["cuda"] > 0.85
    assert abs(aurocs["cuda"] - aurocs["cpu"]) < 0.08  # same recipe; GPU kernels differ in rounding only


def test_oversampler_on_gpu_balances_classes(banknote):
    X, y = banknote.drop(columns="class"), banknote["class"].to_numpy()
    keep = np.r_[np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:60]]
    X_res, y_res = GANOverSampler(epochs=30, hidden=32, device="cuda", random_state=0).fit_resample(
        X.iloc[keep], y[keep]
    )
    assert np.bincount(y_res)[0] == np.bincount(y_res)[1]


def test_cli_trains_on_gpu_and_scores_on_cpu(banknote, tmp_path):
    banknote[banknote["class"] == 0].drop(columns="class").to_csv(tmp_path / "genuine.csv", index=False)
    banknote[banknote["class"] == 1].drop(columns="class").to_csv(tmp_path / "forged.csv", index=False)
    run_cli("train", "genuine.csv", "--epochs", "30", "--device", "cuda", "--quiet", cwd=tmp_path, check=True)
    result = run_cli("score", "forged.csv", "--device", "cpu", "--out", "scores.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "scores.csv").exists()


def test_image_model_trained_on_gpu_with_mixed_precision_loads_on_cpu(shared_data, tmp_path):
    from gantools.image import ImageConfig, ImageGAN, read_images

    digits = read_images(shared_data / "mnist", limit_per_class=20)
    model = ImageGAN(ImageConfig(steps=50, encoder_steps=20, width=16, device="cuda")).fit(digits)
    assert next(model.generator_ema_.parameters()).is_cuda
    on_gpu = model.score(digits)
    images, _ = model.sample(30, seed=1)
    model.save(tmp_path / "m")
    loaded = ImageGAN.load(tmp_path / "m", device="cpu")
    again, _ = loaded.sample(30, seed=1)
    assert images.shape == again.shape == (30, 1, 28, 28)
    np.testing.assert_allclose(loaded.score(digits)["score"], on_gpu["score"], rtol=1e-2, atol=1e-2)
