"""What ``gantools train --resume`` continues from: the GAN phase's whole state at a step boundary.

An interrupted training saves its model as usual (usable at once) and, beside the weights, a checkpoint:
G, its EMA and D (every stacked member), both optimisers' moments, the random streams, the step reached and
the early-stopping selector's snapshots, plus a fingerprint of the training rows and settings. Resuming
rebuilds the run from the same data and settings, loads that state and continues from the next step, so a
run stopped and resumed trains the same networks as one that was not. Stored in the model folder's weights
file (tensors under ``checkpoint.``) and config.json (``checkpoint``), so the manifest covers it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gantools.bundle import FORMAT, model_format, read_bundle
from gantools.errors import GantoolsError
from gantools.fields import matches

PREFIX = "checkpoint."


@dataclass
class Checkpoint:
    """A training's state at a step boundary: ``step`` GAN steps taken (``finished``: the GAN phase ended
    there, early stopping included), ``tensors`` by name, ``meta`` (JSON: counters, traces), ``fingerprint``
    of the data and settings it belongs to."""

    step: int
    finished: bool
    fingerprint: str
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_bundle(self) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
        """(config.json entry, weights-file tensors) for the model folder."""
        config = {"step": self.step, "finished": self.finished, "fingerprint": self.fingerprint, "meta": self.meta}
        return config, {PREFIX + k: v.detach().cpu().contiguous() for k, v in self.tensors.items()}

    @classmethod
    def from_bundle(cls, config: Any, tensors: dict[str, torch.Tensor], where: str) -> Checkpoint:
        """The checkpoint a model folder holds (``where`` names it); one line when it holds none or a bad one."""
        if config is None:
            raise GantoolsError(
                f"{where} holds no checkpoint to resume (its training was not interrupted, or was interrupted "
                "where it cannot resume); train without --resume"
            )
        shape = {"step": int, "finished": bool, "fingerprint": str, "meta": dict[str, Any]}
        if not isinstance(config, dict) or any(k not in config or not matches(config[k], t) for k, t in shape.items()):
            raise GantoolsError(f"{where}: its checkpoint entry in config.json is damaged; train without --resume")
        own = {k[len(PREFIX) :]: v for k, v in tensors.items() if k.startswith(PREFIX)}
        return cls(config["step"], config["finished"], config["fingerprint"], own, config["meta"])


def fingerprint(*parts: Any) -> str:
    """SHA-256 of tensors, arrays and JSON-able settings, in order: what a checkpoint belongs to."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, torch.Tensor):
            part = part.detach().cpu().numpy()
        if isinstance(part, np.ndarray):
            digest.update(str((part.dtype, part.shape)).encode())
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(repr(part).encode())
    return digest.hexdigest()


def rng_states(generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The training's random streams: its own generator, torch's global CPU one (Gumbel draws, dropout) and,
    on a GPU, CUDA's."""
    states = {"rng.generator": generator.get_state(), "rng.cpu": torch.get_rng_state()}
    if generator.device.type == "cuda":
        states["rng.cuda"] = torch.cuda.get_rng_state(generator.device)
    return states


def set_rng_states(generator: torch.Generator, tensors: dict[str, torch.Tensor]) -> None:
    generator.set_state(tensors["rng.generator"].cpu())
    torch.set_rng_state(tensors["rng.cpu"].cpu())
    if "rng.cuda" in tensors and generator.device.type == "cuda":
        torch.cuda.set_rng_state(tensors["rng.cuda"].cpu(), generator.device)


def read_checkpoint(model_dir: str | Path, fmt: str = FORMAT) -> Checkpoint:
    """The checkpoint of the interrupted training whose model is in ``model_dir`` (one line when none)."""
    if model_format(model_dir) is None:
        raise GantoolsError(f"--resume: no interrupted training in '{model_dir}' to continue; train without --resume")
    config, _, tensors = read_bundle(model_dir, fmt)
    return Checkpoint.from_bundle(config.get("checkpoint"), tensors, f"model in '{model_dir}'")
