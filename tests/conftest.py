"""Shared fixtures: real data (bundled banknote, shared sets when present) and tiny trained models."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from gantools.config import TrainConfig
from gantools.datasets import load_banknote
from gantools.model import TabularGAN
from gantools.settings import data_dir

ROOT = Path(__file__).resolve().parents[1]

# One torch/OpenMP thread in the tests and in the CLI processes they start (unless OMP_NUM_THREADS is set):
# with two threads on two cores, any other load on the machine leaves OpenMP's threads waiting on each other
# at every small operation (a 25 s resume test took 640 s beside one other process; a CI run stalled in it).
# test_determinism.py runs with two threads on purpose.
torch.set_num_threads(int(os.environ.setdefault("OMP_NUM_THREADS", "1")))


def tiny_config(**overrides) -> TrainConfig:
    """Small networks, few steps: enough to learn something real in a few seconds on 2 CPU cores."""
    settings = dict(epochs=None, target_steps=300, hidden=64, encoder_steps=300, device="cpu", seed=0)
    settings.update(overrides)
    return TrainConfig(**settings)


@pytest.fixture(scope="session")
def banknote() -> pd.DataFrame:
    return load_banknote()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    folder = data_dir()
    if folder is None or not (folder / "adult" / "adult.csv").exists():
        pytest.skip("shared datasets not found (set GANTOOLS_DATA)")
    return folder


@pytest.fixture(scope="session")
def adult_slice(shared_data: Path) -> pd.DataFrame:
    from gantools.data import read_table

    return read_table(shared_data / "adult" / "adult.csv").sample(3000, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="session")
def banknote_model(banknote: pd.DataFrame) -> TabularGAN:
    """A two-class model of the banknote data (class 0 and 1), trained for a fixed number of steps.

    Scoring behaviour is what these tests check; snapshot selection has its own tests (test_training.py).
    1,000 steps: at 300 the held-out parts are so heavy-tailed (the corroboration margin, their 99th
    percentile, reached 60–150 robust σ) that telling the classes apart rested on chance (0.75–0.83 of
    rows; 0.89–0.98 at 1,000 steps over seeds 0–2).
    """
    return TabularGAN(tiny_config(early_stopping=False, target_steps=1000)).fit(banknote, label="class")


def gantools_exe() -> list[str]:
    exe = Path(sys.executable).with_name("gantools")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("gantools")
    if found:
        return [found]
    return [sys.executable, "-m", "gantools_cli.main"]


def run_cli(*args: str, cwd: Path, check: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    result = subprocess.run([*gantools_exe(), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(
            f"gantools {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result
