"""Reweighting G's samples by a real-vs-G classifier: the odds find where the samples are off."""

import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler

from gantools.density import Mixture
from gantools.density_ratio import MAX_WEIGHT_RATIO, MIN_SEPARATION, fit_log_odds, sample_log_weights, separation


def _wine() -> torch.Tensor:
    return torch.as_tensor(StandardScaler().fit_transform(load_wine().data), dtype=torch.float32)


def test_the_odds_are_high_where_real_rows_are_and_low_where_only_the_generator_puts_mass():
    rng = np.random.default_rng(0)
    rows = _wine()[rng.permutation(178)]  # the file is sorted by class: held-out rows drawn at random
    real, real_held = rows[:140], rows[140:]

    # a "generator" that covers the real rows but also puts half its mass far off in the first column
    def fake(n: int) -> torch.Tensor:
        base = rows[rng.integers(0, 140, n)] + 0.2 * torch.as_tensor(
            rng.normal(size=(n, rows.shape[1])), dtype=torch.float32
        )
        base[: n // 2, 0] += 4.0
        return base

    odds = fit_log_odds(real, fake(4096), real_held, fake(1024), seed=0)
    assert separation(odds, real_held, fake(1024)) > MIN_SEPARATION  # a difference the held-out rows show
    samples = fake(2000)
    log_w = sample_log_weights(odds, samples, temperature=1.0)
    assert math.isclose(float(torch.logsumexp(log_w.double(), 0)), 0.0, abs_tol=1e-6)
    on_support, off_support = log_w[1000:].exp().sum(), log_w[:1000].exp().sum()
    assert on_support > 0.8 and off_support < 0.2  # the spurious half loses most of its weight
    # a lower temperature flattens the weights
    flatter = sample_log_weights(odds, samples, temperature=0.5)
    assert flatter[:1000].exp().sum() > off_support


def test_no_sample_takes_more_than_its_share_however_sure_the_classifier_is():
    samples = torch.zeros(1000, 3)
    samples[0, 0] = 100.0  # one stray sample where the classifier's logit is unchecked: e^100 odds
    logit = torch.nn.Linear(3, 1)
    with torch.no_grad():
        logit.weight.copy_(torch.tensor([[1.0, 0.0, 0.0]]))
        logit.bias.zero_()
    weights = sample_log_weights(logit, samples, temperature=1.0).double().exp()
    assert math.isclose(float(weights.sum()), 1.0, rel_tol=1e-5)
    # capped at MAX_WEIGHT_RATIO times the mean, then renormalised: the rest keep nearly all the mass
    assert float(weights[0]) * len(samples) <= MAX_WEIGHT_RATIO * 1.01
    assert float(weights[1:].sum()) > 0.98


def test_weighted_mixture_moves_mass_to_the_heavier_samples_and_equal_weights_change_nothing():
    rows = _wine()
    plain = Mixture.summarise(rows, 16, seed=0)
    equal = Mixture.summarise(rows, 16, seed=0, log_weights=torch.full((len(rows),), -math.log(len(rows))))
    np.testing.assert_allclose(equal.log_density(rows, 0.5)[0], plain.log_density(rows, 0.5)[0], rtol=1e-5)
    heavy = torch.zeros(len(rows))
    heavy[:60] = 5.0  # the first 60 rows weigh e^5 times the others
    shifted = Mixture.summarise(rows, 16, seed=0, log_weights=heavy - torch.logsumexp(heavy, 0))
    gain = shifted.log_density(rows, 0.5)[0] - plain.log_density(rows, 0.5)[0]
    assert gain[:60].mean() > 0.5 and gain[60:].mean() < -0.5
    assert math.isclose(shifted.log_weights.exp().sum().item(), 1.0, rel_tol=1e-5)


def test_reweighting_is_a_setting_checked_at_fit_and_absent_from_models_saved_before(tmp_path):
    from gantools.config import TrainConfig
    from gantools.errors import GantoolsError
    from gantools.model import TabularGAN

    assert TrainConfig().density_reweighting == 0.0  # an option: no gain measured on the 13-set benchmark
    assert TrainConfig.from_dict({}).density_reweighting == 0.0  # saved before: unweighted
    frame = pd.DataFrame(load_wine().data[:, :4], columns=list("abcd"))
    with pytest.raises(GantoolsError, match="density_reweighting"):
        TabularGAN(TrainConfig(density_reweighting=2.0, epochs=1)).fit(frame)


def test_a_generator_that_matches_the_data_shows_no_separation_and_its_samples_stay_unweighted():
    rng = np.random.default_rng(1)

    def gaussian(n: int) -> torch.Tensor:
        return torch.as_tensor(rng.normal(size=(n, 4)), dtype=torch.float32)

    odds = fit_log_odds(gaussian(300), gaussian(4096), gaussian(80), gaussian(1024), seed=0)
    assert separation(odds, gaussian(80), gaussian(1024)) < MIN_SEPARATION


def test_fitted_model_records_the_separation_per_class_and_info_shows_it(tmp_path):
    from gantools.config import TrainConfig
    from gantools.datasets import load_banknote
    from gantools.model import TabularGAN
    from gantools.workflows import info as model_info

    frame = load_banknote()
    model = TabularGAN(TrainConfig(epochs=20, seed=0, density_reweighting=0.5)).fit(frame, label="class")
    separations = model.calibration_.density_separations
    assert len(separations) == 2 and all(np.isfinite(separations))
    model.save(tmp_path / "m")
    info = model_info(tmp_path / "m")["scoring"]["density_reweighting"]
    assert info["temperature"] == 0.5 and list(info["separation"]) == ["0", "1"]
