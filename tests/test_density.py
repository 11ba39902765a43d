"""G's density part: the Parzen window is exact where its fast path cuts corners, the mixture summarises it."""

import math

import numpy as np
import torch
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler

from gantools.density import Mixture, SampleDensity, log_parzen


def _wine() -> torch.Tensor:
    return torch.as_tensor(StandardScaler().fit_transform(load_wine().data), dtype=torch.float32)


def test_parzen_matches_a_float64_reference_far_from_the_samples():
    rows = _wine()
    queries = torch.cat([rows[:50], rows[:50] * 6.0])  # far rows: most kernels underflow
    refs = rows[50:]
    for sigma in (0.05, 0.5, 2.0):
        value, gaps = log_parzen(queries, refs, sigma, explain=True)
        d2 = torch.cdist(queries.double(), refs.double()) ** 2
        expected = torch.logsumexp(-d2 / (2 * sigma**2), 1) - math.log(len(refs)) - refs.shape[1] * math.log(sigma)
        np.testing.assert_allclose(value.double(), expected, rtol=1e-5, atol=1e-3)
        weights = torch.softmax(-d2 / (2 * sigma**2), 1)
        np.testing.assert_allclose(gaps.double(), (queries.double() - weights @ refs.double()) ** 2, atol=1e-3)


def test_mixture_summarises_the_parzen_window_of_its_samples():
    rng = np.random.default_rng(0)
    rows = _wine()
    noise = torch.as_tensor(rng.normal(size=(4096, rows.shape[1])), dtype=torch.float32)
    samples = rows[rng.integers(0, len(rows), 4096)] + 0.3 * noise
    mixture = Mixture.summarise(samples, 128, seed=0)
    assert len(mixture.centres) <= 128 and math.isclose(mixture.log_weights.exp().sum().item(), 1.0, rel_tol=1e-5)
    assert (mixture.spreads >= 0).all()
    parzen = log_parzen(rows, samples, 1.0)[0]
    summary = mixture.log_density(rows, 1.0)[0]
    subsample = log_parzen(rows, samples[:128], 1.0)[0]  # a window over as many samples: the same cost
    # each group's kernels merged by their moments: close to the window of all samples at this bandwidth,
    # far closer than a window over 128 of them
    gap, sub_gap = (summary - parzen).abs().median(), (subsample - parzen).abs().median()
    assert gap < 0.1 and gap < 0.25 * sub_gap
    assert np.corrcoef(summary, parzen)[0, 1] > max(0.95, np.corrcoef(subsample, parzen)[0, 1])


def test_density_saves_and_loads_with_classes_of_different_sizes():
    rows = _wine()
    mixtures = [Mixture.summarise(rows[:120], 64, seed=0), Mixture.of_samples(rows[120:])]
    density = SampleDensity(mixtures, [0.5, 0.7])
    again = SampleDensity.from_tensors(density.tensors(), [0.5, 0.7])
    classes = torch.tensor([0] * 30 + [1] * 30)
    np.testing.assert_allclose(again(rows[:60], classes)[0], density(rows[:60], classes)[0], rtol=1e-6)
    # a model saved before the mixture: plain samples, read as a Parzen window
    old = SampleDensity.from_tensors({"density.references": rows[None, :100]}, [0.5])
    expected = -log_parzen(rows[:10], rows[:100], 0.5)[0]
    np.testing.assert_allclose(old(rows[:10], torch.zeros(10, dtype=torch.long))[0], expected)


def test_several_generators_multiply_their_densities_and_save_as_one():
    rows = _wine()
    first = [Mixture.summarise(rows[:60], 16, seed=0), Mixture.summarise(rows[60:120], 16, seed=0)]
    second = [Mixture.summarise(rows[30:90], 16, seed=1), Mixture.of_samples(rows[90:150])]
    density = SampleDensity([first, second], [[0.5, 0.7], [0.35, 1.0]])
    assert density.sigmas == [0.5, 0.7, 0.35, 1.0]  # generator by generator: what the calibration stores
    classes = torch.tensor([0] * 20 + [1] * 20)
    queries = rows[-40:]
    value, gaps = density(queries, classes, explain=True)
    for c in (0, 1):
        rows_c = classes == c
        own = [
            m[c].log_density(queries[rows_c], s[c], explain=True)
            for m, s in ((first, [0.5, 0.7]), (second, [0.35, 1.0]))
        ]
        # the mean of each generator's -log p: the log of the densities' geometric mean
        np.testing.assert_allclose(value[rows_c], -(own[0][0] + own[1][0]) / 2, rtol=1e-5)
        np.testing.assert_allclose(gaps[rows_c], (own[0][1] + own[1][1]) / 2, rtol=1e-5, atol=1e-6)
    # a record likely under one generator only scores worse than under that one alone
    alone = SampleDensity(first, [0.5, 0.7])(queries, classes)[0]
    assert not torch.allclose(alone, value)
    again = SampleDensity.from_tensors(density.tensors(), density.sigmas)
    assert len(again.members) == 2
    np.testing.assert_allclose(again(queries, classes)[0], value, rtol=1e-6)
