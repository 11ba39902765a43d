"""The small-data training machinery: the Gaussian base of G and snapshot selection on held-out rows."""

from __future__ import annotations

import numpy as np
import torch
from conftest import tiny_config

from gantools.config import TrainConfig
from gantools.model import TabularGAN
from gantools.models import Generator
from gantools.training.snapshots import SnapshotSelector
from gantools.training.trainer import gaussian_moments


def _banknote_matrix(banknote, rows_per_class: int = 30) -> tuple[torch.Tensor, torch.Tensor]:
    few = banknote.groupby("class").head(rows_per_class)
    X = torch.as_tensor(few.drop(columns="class").to_numpy(), dtype=torch.float32)
    X = (X - X.mean(0)) / X.std(0)
    return X, torch.as_tensor(few["class"].to_numpy().copy())


def _ridged_cov(rows: np.ndarray) -> np.ndarray:
    cov = np.cov(rows, rowvar=False)
    return cov + 1e-3 * cov.diagonal().mean() * np.eye(len(cov))


def test_gaussian_moments_match_each_class(banknote):
    X, y = _banknote_matrix(banknote)
    mean, scale = gaussian_moments(X, y, 2, [], latent_dim=16)
    for c in (0, 1):
        rows = X[y == c].double().numpy()
        np.testing.assert_allclose(mean[c].numpy(), rows.mean(0), atol=1e-5)
        covariance = (scale[c].T @ scale[c]).double().numpy()
        np.testing.assert_allclose(covariance, _ridged_cov(rows), atol=1e-4)


def test_gaussian_moments_low_rank_and_categories():
    rng = np.random.default_rng(0)
    numeric = rng.normal(size=(40, 6)) @ rng.normal(size=(6, 6))
    colour = np.eye(3)[rng.choice(3, size=40, p=[0.6, 0.3, 0.1])]
    X = torch.as_tensor(np.hstack([numeric, colour]), dtype=torch.float32)
    y = torch.zeros(40, dtype=torch.long)
    mean, scale = gaussian_moments(X, y, 1, [(6, 9)], latent_dim=2)
    assert torch.count_nonzero(scale[0, :, 6:]) == 0  # no spread on the one-hot logits
    expected = (colour.sum(0) + 1) / (40 + 3)
    np.testing.assert_allclose(torch.softmax(mean[0, 6:], 0).numpy(), expected, rtol=1e-5)
    eigval = np.linalg.eigvalsh(_ridged_cov(numeric))[::-1]
    kept = np.linalg.eigvalsh((scale[0, :, :6].T @ scale[0, :, :6]).double().numpy())[::-1][:2]
    np.testing.assert_allclose(kept, eigval[:2], rtol=1e-4)  # the two leading directions, exactly


def test_generator_starts_at_its_gaussian(banknote):
    X, y = _banknote_matrix(banknote, rows_per_class=200)
    g = Generator(16, 2, 4, 32, 2, gaussian_base=True)
    g.set_gaussian_base(*gaussian_moments(X, y, 2, [], 16))
    torch.manual_seed(0)
    with torch.no_grad():
        sample = g(torch.randn(20000, 16), torch.ones(20000, dtype=torch.long)).double().numpy()
    target = _ridged_cov(X[y == 1].double().numpy())
    np.testing.assert_allclose(np.cov(sample, rowvar=False), target, atol=0.05)
    np.testing.assert_allclose(sample.mean(0), X[y == 1].double().mean(0).numpy(), atol=0.03)


def _selector(rows: torch.Tensor, patience: int = 2) -> SnapshotSelector:
    return SnapshotSelector(
        rows, torch.zeros(len(rows), dtype=torch.long), [], 3, 0.2, seed=0, every=10, patience=patience
    )


def _gaussian_generator(shift: float) -> Generator:
    g = Generator(3, 1, 3, 16, 1, gaussian_base=True)
    g.set_gaussian_base(torch.full((1, 3), shift), torch.eye(3).unsqueeze(0))
    return g


def test_snapshot_selector_stops_after_patience_and_restores_the_best():
    rows = torch.randn(200, 3, generator=torch.Generator().manual_seed(0))
    g, d = _gaussian_generator(0.0), torch.nn.Linear(3, 1)
    selector = _selector(rows)
    assert selector.check(0, g, d) is False
    best = selector.log_likelihood(g)
    worse = _gaussian_generator(3.0)  # far from the held-out rows
    assert selector.check(10, worse, d) is False
    assert selector.check(20, worse, d) is True  # two checks without a gain: stop
    selector.restore(worse, d)
    assert selector.selected_step == 0
    assert abs(selector.log_likelihood(worse) - best) < 1e-6


def test_snapshot_selector_keeps_the_earliest_within_one_standard_error():
    d = torch.nn.Linear(3, 1)
    few = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    few = few - few.mean(0) + 0.3
    selector = _selector(few, patience=5)
    for step, shift in enumerate([0.0, 0.3]):  # the later snapshot fits a little better, on 4 rows only
        selector.check(10 * step, _gaussian_generator(shift), d)
    assert selector.best_step == 10
    selector.restore(_gaussian_generator(0.0), d)
    assert selector.selected_step == 0  # the gain is within noise: the earlier snapshot stays

    many = torch.randn(2000, 3, generator=torch.Generator().manual_seed(2)) + 0.3
    selector = _selector(many, patience=5)
    for step, shift in enumerate([0.0, 0.3]):
        selector.check(10 * step, _gaussian_generator(shift), d)
    selector.restore(_gaussian_generator(0.0), d)
    assert selector.selected_step == 10  # on 2,000 rows the same gain is real


def test_multiclass_fit_selects_a_snapshot_and_round_trips(banknote, tmp_path):
    few = banknote.groupby("class").sample(25, random_state=0)
    model = TabularGAN(tiny_config(target_steps=400, patience=3)).fit(few, "class")
    history = model.history_
    assert 0 <= history["selected_step"] <= history["gan_steps"] <= 400
    assert np.isfinite(history["validation_log_likelihood"])
    assert model.nets_.generator_ema.gaussian_base
    model.save(tmp_path / "m")
    loaded = TabularGAN.load(tmp_path / "m")
    assert loaded.config_.gaussian_base is True  # "auto" resolved at fit: 20 training rows per class
    a, b = model.sample(50, "original", seed=3), loaded.sample(50, "original", seed=3)
    np.testing.assert_allclose(a.drop(columns="class").to_numpy(), b.drop(columns="class").to_numpy(), rtol=1e-5)


def test_configs_saved_before_the_gaussian_base_load_without_it():
    old = TrainConfig().to_dict()
    del old["gaussian_base"]
    assert TrainConfig.from_dict(old).use_gaussian_base(3) is False
    assert TrainConfig.from_dict(TrainConfig().to_dict()).use_gaussian_base(3, smallest_class_rows=20) is True
    assert TrainConfig().use_gaussian_base(3, smallest_class_rows=20_000) is False  # large data: the GAN alone
    assert TrainConfig().use_gaussian_base(1, smallest_class_rows=20) is False  # one class: anomaly scoring


def test_snapshot_selector_posterior_rewards_telling_classes_apart():
    gen = torch.Generator().manual_seed(3)
    rows = torch.cat([torch.randn(100, 3, generator=gen) - 2, torch.randn(100, 3, generator=gen) + 2])
    classes = torch.cat([torch.zeros(100, dtype=torch.long), torch.ones(100, dtype=torch.long)])
    apart = Generator(3, 2, 3, 16, 1, gaussian_base=True)
    apart.set_gaussian_base(torch.tensor([[-2.0] * 3, [2.0] * 3]), torch.eye(3).expand(2, 3, 3).clone())
    mixed = Generator(3, 2, 3, 16, 1, gaussian_base=True)  # each class spread over both clusters
    mixed.set_gaussian_base(torch.zeros(2, 3), 2.2 * torch.eye(3).expand(2, 3, 3).clone())
    posterior = SnapshotSelector(rows, classes, [], 3, 0.2, seed=0, every=10, patience=2, posterior=True)
    likelihood = SnapshotSelector(rows, classes, [], 3, 0.2, seed=0, every=10, patience=2, posterior=False)
    assert posterior.log_likelihood(apart) > -0.05  # log p(y | x) near 0: classes told apart
    assert posterior.log_likelihood(mixed) < np.log(0.75)  # close to a coin flip
    assert likelihood.log_likelihood(apart) > likelihood.log_likelihood(mixed)


def test_network_sizes_follow_the_number_of_classes():
    one, several = TrainConfig().resolve_sizes(1), TrainConfig().resolve_sizes(3, 500, 40)
    assert (one.hidden, one.batch_size, one.target_steps) == (64, 256, 10000)  # anomaly scoring: narrower, faster
    assert (one.lr_g, one.lr_d) == (8e-4, 1.6e-3)
    wide, narrow = TrainConfig().resolve_sizes(1, 1000, 11), TrainConfig().resolve_sizes(1, 1000, 10)
    assert (wide.hidden, wide.batch_size, narrow.hidden, narrow.batch_size) == (128, 256, 64, 128)
    large = TrainConfig().resolve_sizes(1, 2000, 10)  # at the step cap: batches of 256 on a narrow table too
    assert (large.hidden, large.batch_size, large.target_steps) == (64, 256, 10000)
    assert (several.hidden, several.batch_size, several.target_steps) == (128, 256, 6000)
    assert (several.lr_g, several.lr_d) == (2e-4, 4e-4)
    assert TrainConfig(batch_size=32).resolve_sizes(1, 1000, 40).batch_size == 32
    given = TrainConfig(hidden=48, target_steps=500).resolve_sizes(1)
    assert (given.hidden, given.target_steps) == (48, 500)  # what the user asked for is kept
    old = TrainConfig.from_dict({"target_steps": 6000})  # saved before sizes and rates were automatic
    assert (old.hidden, old.lr_g, old.lr_d) == (256, 2e-4, 4e-4)
    assert TrainConfig(lr_g=1e-3).resolve_sizes(1).lr_g == 1e-3
    # one class: steps grow with the training rows, between 2,000 and 10,000
    steps = [TrainConfig().resolve_sizes(1, n).target_steps for n in (40, 98, 487, 1200, 5000)]
    assert steps == [2000, 2000, 2435, 6000, 10000]
    assert TrainConfig().resolve_sizes(2, 5000).target_steps == 6000


def test_one_class_model_stores_and_reloads_its_resolved_width(banknote, tmp_path):
    genuine = banknote[banknote["class"] == 0].drop(columns="class").head(200)
    model = TabularGAN(tiny_config(hidden=None, target_steps=40, encoder_steps=20)).fit(genuine)
    assert model.config_.hidden == 64 and model.nets_.generator_ema is not None
    assert model.config.hidden is None  # the parameter stays as asked (scikit-learn's rule); config_ is resolved
    loaded = TabularGAN.load(model.save(tmp_path / "m"))
    assert loaded.config_.hidden == 64 and loaded.config.hidden is None
    np.testing.assert_allclose(loaded.score(genuine)["score"], model.score(genuine)["score"], rtol=1e-5, atol=1e-6)
    # refitting on two classes resolves "auto" and None again, for two classes: the fitted object and the
    # loaded one alike
    both = banknote.groupby("class").head(100)
    for refitted in (model, loaded):
        refitted.fit(both, label="class")
        resolved = refitted.config_
        assert (resolved.hidden, resolved.density_generators, resolved.marginal_weight) == (128, 1, 0.0)
        assert resolved.target_steps == 40 and refitted.config.hidden is None


def test_marginal_distance_compares_each_columns_sorted_values():
    from gantools.training.trainer import marginal_distance

    real = torch.tensor([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    assert float(marginal_distance(real[[2, 0, 1]], real)) == 0.0  # the order of the rows does not matter
    fake = torch.tensor([[1.5, 10.0], [0.5, 30.0], [1.0, 20.0]])  # column 0 at half the scale
    expected = ((0.5**2 + 1.0**2 + 1.5**2) / 3 + 0.0) / 2
    assert abs(float(marginal_distance(fake, real)) - expected) < 1e-6
