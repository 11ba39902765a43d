"""Interrupt and resume (issue 28): Ctrl+C / SIGTERM stops training between two steps, the model folder is
usable at once and holds a checkpoint, and ``train --resume`` continues to the same networks as a training
that was never stopped."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import gantools_exe, run_cli

from gantools.errors import GantoolsError
from gantools.image import ImageConfig, ImageGAN, ImageSet
from gantools.training.checkpoint import read_checkpoint


def _interrupt_cli_training(args: list[str], cwd, sig: int, delay: float) -> subprocess.CompletedProcess:
    """Run `gantools train ...` and send ``sig`` ``delay`` seconds after its GAN phase began."""
    env = {**os.environ, "TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1"}  # bars drawn: the test sees the phase
    proc = subprocess.Popen(
        [*gantools_exe(), "train", *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )  # fmt: skip
    drained: list[bytes] = []
    reader = threading.Thread(target=lambda: drained.extend(iter(lambda: proc.stderr.read1(4096), b"")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 600
    while b"Training GAN" not in b"".join(drained) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    if b"Training GAN" not in b"".join(drained):
        proc.kill()
        pytest.fail(f"training did not start: {b''.join(drained).decode(errors='replace')[-2000:]}")
    time.sleep(delay)
    proc.send_signal(sig)
    proc.wait(timeout=600)
    reader.join(timeout=10)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.read().decode(), b"".join(drained))


@pytest.mark.parametrize(("label", "sig"), [([], signal.SIGINT), (["--label", "class"], signal.SIGTERM)])
def test_stopped_at_a_random_point_and_resumed_trains_the_same_model(tmp_path, banknote, label, sig):
    banknote.sample(600, random_state=1).to_csv(tmp_path / "notes.csv", index=False)
    args = ["notes.csv", *label, "--epochs", "400", "--seed", "2"]
    run_cli("train", *args, "--model", "reference", "--quiet", cwd=tmp_path, check=True)
    delay = random.Random(str(label)).uniform(0.2, 2.0)
    stopped = _interrupt_cli_training([*args, "--model", "m"], tmp_path, sig, delay)
    assert stopped.returncode == 0, stopped.stderr[-2000:]
    assert "--resume continues it" in " ".join(stopped.stdout.split())
    checkpoint = json.loads((tmp_path / "m" / "config.json").read_text())["checkpoint"]
    reference_steps = json.loads((tmp_path / "reference" / "config.json").read_text())["history"]["gan_steps"]
    assert 0 <= checkpoint["step"] < reference_steps and not checkpoint["finished"]
    run_cli("augment", "--model", "m", "--n", "50", "--out", "now.csv", cwd=tmp_path, check=True)  # usable at once
    resumed = run_cli("train", *args, "--model", "m", "--resume", "--quiet", cwd=tmp_path, check=True)
    assert "interrupted" not in resumed.stdout
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    reference = json.loads((tmp_path / "reference" / "config.json").read_text())
    assert "checkpoint" not in config
    assert config["validation"] == reference["validation"]
    assert config["history"]["gan_steps"] == reference_steps
    # the same networks, bit for bit, as the training that was never stopped
    assert (tmp_path / "m" / "weights.safetensors").read_bytes() == (
        tmp_path / "reference" / "weights.safetensors"
    ).read_bytes()


def test_resume_refuses_other_data_and_a_finished_model(tmp_path, banknote):
    banknote.sample(300, random_state=1).to_csv(tmp_path / "notes.csv", index=False)
    banknote.sample(300, random_state=2).to_csv(tmp_path / "other.csv", index=False)
    result = run_cli("train", "notes.csv", "--resume", "--quiet", cwd=tmp_path)
    assert result.returncode == 1 and "no interrupted training in 'gantools-model'" in " ".join(result.stderr.split())
    stopped = _interrupt_cli_training(["notes.csv", "--epochs", "2000"], tmp_path, signal.SIGINT, 0.5)
    assert stopped.returncode == 0
    result = run_cli("train", "other.csv", "--epochs", "2000", "--resume", "--quiet", cwd=tmp_path)
    message = " ".join(result.stderr.split())
    assert result.returncode == 1 and "the data or settings differ from those of the interrupted training" in message
    run_cli("train", "notes.csv", "--epochs", "3", "--quiet", cwd=tmp_path, check=True)  # finished: no checkpoint
    result = run_cli("train", "notes.csv", "--epochs", "3", "--resume", "--quiet", cwd=tmp_path)
    assert result.returncode == 1 and "holds no checkpoint to resume" in " ".join(result.stderr.split())


IMAGE_CONFIG = dict(steps=12, encoder_steps=4, width=8, device="cpu", seed=1)


@pytest.fixture(scope="module")
def image_run() -> tuple[ImageSet, ImageGAN]:
    """40 noise images of two classes and the tiny model trained on them without a stop."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (40, 1, 28, 28), dtype=torch.uint8, generator=generator)
    data = ImageSet(images, (torch.arange(40) % 2).numpy(), ["a", "b"], [f"i{k}" for k in range(40)])
    return data, ImageGAN(ImageConfig(**IMAGE_CONFIG)).fit(data)


def _assert_same_image_networks(reference: ImageGAN, resumed: ImageGAN) -> None:
    for name in ("generator_ema_", "discriminator_", "encoder_"):
        a, b = getattr(reference, name).state_dict(), getattr(resumed, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name


def test_image_training_interrupted_then_resumed_matches(tmp_path, image_run):
    data, reference = image_run
    config = IMAGE_CONFIG

    def stop_at_step_5(phase: str, step: int, total: int, metrics: dict) -> None:
        if phase == "gan" and step == 5:
            os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl+C: training stops before step 6

    stopped = ImageGAN(ImageConfig(**config)).fit(data, progress=stop_at_step_5)
    assert stopped.history_["interrupted"] and stopped.checkpoint_.step == 5
    stopped.save(tmp_path / "m")
    assert ImageGAN.load(tmp_path / "m").sample(4)[0].shape == (4, 1, 28, 28)  # usable as it is
    checkpoint = read_checkpoint(tmp_path / "m", "gantools-image")
    resumed = ImageGAN(ImageConfig(**config)).fit(data, resume=checkpoint)
    assert resumed.history_["gan_steps"] == 12 and resumed.checkpoint_ is None
    _assert_same_image_networks(reference, resumed)
    with pytest.raises(GantoolsError, match="images or settings differ"):
        ImageGAN(ImageConfig(**{**config, "steps": 13})).fit(data, resume=checkpoint)


def test_a_stop_during_the_lift_estimate_keeps_the_trained_model_resumable(tmp_path, banknote, monkeypatch):
    """SIGTERM while the classifiers of the lift estimate are fitted (after the GAN phase): the estimate
    stops at its next check, the model is saved as interrupted with the GAN phase's finished checkpoint."""
    import gantools.lift as lift
    from gantools import workflows
    from gantools.config import TrainConfig

    fitted = []
    real_classifiers = lift._classifiers

    def classifiers_then_a_signal(seed):
        fitted.append(seed)
        if len(fitted) == 2:  # the augmented candidates' first classifiers: a real signal, as `kill` sends
            os.kill(os.getpid(), signal.SIGTERM)
        return real_classifiers(seed)

    monkeypatch.setattr(lift, "_classifiers", classifiers_then_a_signal)
    rows = banknote.sample(200, random_state=0)
    model = workflows.train(rows, "class", tmp_path / "m", TrainConfig(epochs=3))
    assert model.history_["interrupted"] and model.augmentation_advice_ is None
    checkpoint = read_checkpoint(tmp_path / "m")
    assert checkpoint.finished  # the GAN phase had ended: --resume goes on with what came after it
    assert len(fitted) == 2  # stopped at the check after the signal, not at the end of the estimate
    resumed = workflows.train(rows, "class", tmp_path / "m", TrainConfig(epochs=3), resume=True)
    assert not resumed.history_["interrupted"] and resumed.augmentation_advice_ is not None
    _assert_signals_as_before()


def _assert_signals_as_before() -> None:
    """After a training: Python's own handlers back, no stop left pending, no block left open."""
    from gantools.training import stop

    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None)
    assert stop._depth == 0 and not stop._pending


@pytest.mark.parametrize("phase", ["_calibrate", "_validate"])
def test_a_stop_after_the_training_loops_still_saves_the_finished_model(tmp_path, banknote, monkeypatch, phase):
    """SIGINT during calibration or validation (no loop left to stop): the model is completed and saved, not
    lost; it is a finished model (no checkpoint), since every step had been taken."""
    from gantools import workflows
    from gantools.config import TrainConfig
    from gantools.model import TabularGAN

    real_phase = getattr(TabularGAN, phase)

    def phase_with_a_signal(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl+C in the middle of the phase
        return real_phase(self, *args, **kwargs)

    monkeypatch.setattr(TabularGAN, phase, phase_with_a_signal)
    workflows.train(banknote.sample(200, random_state=0), None, tmp_path / "m", TrainConfig(epochs=2))
    loaded = TabularGAN.load(tmp_path / "m", device="cpu")
    assert not loaded.history_["interrupted"] and len(loaded.score(banknote.head(5))) == 5
    with pytest.raises(GantoolsError, match="holds no checkpoint"):
        read_checkpoint(tmp_path / "m")
    _assert_signals_as_before()


def test_a_killed_training_resumes_from_its_autosave(tmp_path, banknote):
    """SIGKILL (no handler runs: the out-of-memory killer, a power cut) during the GAN phase: no model, but the
    autosave beside it; --resume continues from it to the same networks, bit for bit, and removes it."""
    banknote.sample(600, random_state=1).to_csv(tmp_path / "notes.csv", index=False)
    args = ["notes.csv", "--label", "class", "--epochs", "400", "--seed", "2"]
    run_cli("train", *args, "--model", "reference", "--quiet", cwd=tmp_path, check=True)
    env = {**os.environ, "GANTOOLS_AUTOSAVE_SECONDS": "0.5"}
    proc = subprocess.Popen([*gantools_exe(), "train", *args, "--model", "m", "--quiet"], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    autosave = tmp_path / "m.autosave" / "config.json"
    deadline = time.monotonic() + 600
    while not autosave.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(random.Random(0).uniform(0.0, 1.0))  # some steps and autosaves later
    proc.kill()
    assert proc.wait(timeout=60) == -signal.SIGKILL, "the training ended before it could be killed"
    assert not (tmp_path / "m").exists()
    step = json.loads(autosave.read_text())["checkpoint"]["step"]
    reference = json.loads((tmp_path / "reference" / "config.json").read_text())
    assert 0 <= step < reference["history"]["gan_steps"]
    fresh = run_cli("train", *args, "--model", "m", "--quiet", "--epochs", "401", "--resume", cwd=tmp_path)
    assert fresh.returncode == 1 and "the data or settings differ" in " ".join(fresh.stderr.split())
    run_cli("train", *args, "--model", "m", "--resume", "--quiet", cwd=tmp_path, check=True)
    assert not (tmp_path / "m.autosave").exists()
    assert json.loads((tmp_path / "m" / "config.json").read_text())["validation"] == reference["validation"]
    assert (tmp_path / "m" / "weights.safetensors").read_bytes() == (
        tmp_path / "reference" / "weights.safetensors"
    ).read_bytes()


def _autosave_killed_after(folder: Path, fmt: str, steps: int):
    """An autosave writing at every step, as if the process were killed once ``steps`` steps were saved."""
    from gantools.training.checkpoint import Autosave

    autosave = Autosave(folder, fmt)
    autosave.every, write = 0.0, autosave.save
    autosave.save = lambda checkpoint: write(checkpoint) if checkpoint.step <= steps else None
    return autosave


def test_image_training_resumes_from_an_autosave(tmp_path, image_run):
    (data, reference), config = image_run, IMAGE_CONFIG
    ImageGAN(ImageConfig(**config)).fit(data, autosave=_autosave_killed_after(tmp_path / "m", "gantools-image", 7))
    checkpoint = read_checkpoint(tmp_path / "m", "gantools-image")
    assert checkpoint.step == 7 and not checkpoint.finished and "autosave" in checkpoint.where
    _assert_same_image_networks(reference, ImageGAN(ImageConfig(**config)).fit(data, resume=checkpoint))
    # a GAN phase that ended is autosaved as finished: a kill in the encoder's phase does not redo it
    ImageGAN(ImageConfig(**config)).fit(data, autosave=_autosave_killed_after(tmp_path / "e", "gantools-image", 99))
    finished = read_checkpoint(tmp_path / "e", "gantools-image")
    assert finished.step == 12 and finished.finished
    _assert_same_image_networks(reference, ImageGAN(ImageConfig(**config)).fit(data, resume=finished))


def test_the_newer_checkpoint_is_resumed_and_a_foreign_autosave_is_named(tmp_path, image_run):
    """A model stopped by a signal after an older run's autosave was left: the model's own checkpoint (newer)
    is resumed; an autosave newer than it, of other images, is refused with a line naming it."""
    (data, reference), config = image_run, IMAGE_CONFIG
    other = ImageSet(255 - data.images, data.labels, data.classes, data.sources)
    ImageGAN(ImageConfig(**config)).fit(other, autosave=_autosave_killed_after(tmp_path / "m", "gantools-image", 4))

    def stop_at_step_5(phase: str, step: int, total: int, metrics: dict) -> None:
        if phase == "gan" and step == 5:
            os.kill(os.getpid(), signal.SIGINT)

    ImageGAN(ImageConfig(**config)).fit(data, progress=stop_at_step_5).save(tmp_path / "m")
    checkpoint = read_checkpoint(tmp_path / "m", "gantools-image")
    assert checkpoint.step == 5 and checkpoint.where == f"model in '{tmp_path / 'm'}'"
    _assert_same_image_networks(reference, ImageGAN(ImageConfig(**config)).fit(data, resume=checkpoint))
    ImageGAN(ImageConfig(**config)).fit(other, autosave=_autosave_killed_after(tmp_path / "m", "gantools-image", 4))
    with pytest.raises(GantoolsError, match=r"images or settings differ .*\(autosave '.*m\.autosave'\)"):
        ImageGAN(ImageConfig(**config)).fit(data, resume=read_checkpoint(tmp_path / "m", "gantools-image"))


def test_autosave_never_touches_a_foreign_folder_nor_stops_training(tmp_path, image_run, monkeypatch):
    from gantools.errors import UsageError
    from gantools.training import checkpoint as checkpoints

    data, config = image_run[0], IMAGE_CONFIG
    (tmp_path / "m.autosave").mkdir()
    (tmp_path / "m.autosave" / "mine.txt").write_text("a user's file")
    autosave = checkpoints.Autosave(tmp_path / "m", "gantools-image")
    autosave.every = 0.0
    ImageGAN(ImageConfig(**config)).fit(data, autosave=autosave)
    autosave.remove()
    assert [p.name for p in (tmp_path / "m.autosave").iterdir()] == ["mine.txt"] and not autosave.written

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(checkpoints, "write_bundle", full_disk)
    autosave = checkpoints.Autosave(tmp_path / "n", "gantools-image")
    autosave.every = 0.0
    with pytest.warns(UserWarning, match=r"could not write the autosave .*No space left on device\); training goes on"):
        model = ImageGAN(ImageConfig(**config)).fit(data, autosave=autosave)
    assert model.history_["gan_steps"] == 12
    monkeypatch.setenv("GANTOOLS_AUTOSAVE_SECONDS", "soon")
    with pytest.raises(UsageError, match="GANTOOLS_AUTOSAVE_SECONDS is 'soon'; give a number of seconds above 0"):
        checkpoints.Autosave(tmp_path / "m")


def test_one_class_stacked_training_resumes_from_an_autosave(tmp_path, banknote):
    """One class: three generators trained side by side (stacked); the autosave holds them all."""
    from gantools.bundle import FORMAT
    from gantools.config import TrainConfig
    from gantools.model import TabularGAN

    rows = banknote[banknote["class"] == 0].drop(columns="class").head(200)
    reference = TabularGAN(TrainConfig(epochs=2, seed=3)).fit(rows)
    killed_at = reference.history_["gan_steps"] // 2
    TabularGAN(TrainConfig(epochs=2, seed=3)).fit(
        rows, autosave=_autosave_killed_after(tmp_path / "m", FORMAT, killed_at)
    )
    checkpoint = read_checkpoint(tmp_path / "m")
    assert checkpoint.step == killed_at and not checkpoint.finished
    resumed = TabularGAN(TrainConfig(epochs=2, seed=3)).fit(rows, resume=checkpoint)
    assert resumed.history_["density_generators_trained"] == 3
    generators = [(m.nets_.generator_ema, *m._members) for m in (reference, resumed)]
    for a, b in zip(*generators):
        assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    np.testing.assert_array_equal(reference.score(rows)["score"], resumed.score(rows)["score"])
