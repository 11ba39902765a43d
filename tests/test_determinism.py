"""Determinism on the CPU (issue 28): the same data and --seed give the same model and byte-identical
synthetic rows and scores, across separate processes, with the two threads a 2-core machine gives torch
(the tests' other processes run one: conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli


@pytest.fixture(autouse=True)
def two_threads(monkeypatch):
    """Several threads: an operation whose backward adds with parallel atomics (indexing) differs run to run."""
    monkeypatch.setenv("OMP_NUM_THREADS", "2")


@pytest.mark.parametrize("label", [["--label", "class"], []], ids=["classes", "one-class"])
def test_same_seed_same_model_same_bytes(tmp_path, banknote, label):
    banknote.sample(300, random_state=0).to_csv(tmp_path / "notes.csv", index=False)
    outputs: dict[str, list[bytes]] = {"weights": [], "synthetic": [], "scores": []}
    for run in ("a", "b"):
        model = f"model_{run}"
        run_cli("train", "notes.csv", *label, "--model", model, "--epochs", "3", "--seed", "4", "--quiet",
                cwd=tmp_path, check=True)  # fmt: skip
        run_cli("augment", "--model", model, "--n", "200", "--seed", "9", "--out", f"syn_{run}.csv",
                cwd=tmp_path, check=True)  # fmt: skip
        run_cli("score", "notes.csv", "--model", model, "--out", f"scores_{run}.csv", cwd=tmp_path, check=True)
        outputs["weights"].append((tmp_path / model / "weights.safetensors").read_bytes())
        outputs["synthetic"].append((tmp_path / f"syn_{run}.csv").read_bytes())
        outputs["scores"].append((tmp_path / f"scores_{run}.csv").read_bytes())
    for name, (first, second) in outputs.items():
        assert first == second, f"{name} differ between two runs with the same seed"
    assert len(outputs["synthetic"][0].splitlines()) == 201


def test_image_model_same_seed_same_bytes(tmp_path):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (tmp_path / "imgs" / name).mkdir(parents=True)
        for k in range(12):
            Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(tmp_path / "imgs" / name / f"{k}.png")
    files: dict[str, list[bytes]] = {"weights": [], "grid": [], "scores": []}
    for run in ("a", "b"):
        model = f"model_{run}"
        run_cli("train", "imgs", "--model", model, "--epochs", "2", "--seed", "1", "--quiet", cwd=tmp_path, check=True)
        run_cli("augment", "--model", model, "--n", "20", "--seed", "2", "--out", f"syn_{run}", cwd=tmp_path,
                check=True)  # fmt: skip
        run_cli("score", "imgs", "--model", model, "--out", f"scores_{run}.csv", cwd=tmp_path, check=True)
        files["weights"].append((tmp_path / model / "weights.safetensors").read_bytes())
        files["grid"].append(b"".join(p.read_bytes() for p in sorted(Path(tmp_path / f"syn_{run}").rglob("*.png"))))
        files["scores"].append((tmp_path / f"scores_{run}.csv").read_bytes().replace(b"scores_b", b"scores_a"))
    for name, (first, second) in files.items():
        assert first == second, f"{name} differ between two runs with the same seed"
