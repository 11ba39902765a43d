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
import math
import os
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gantools.bundle import FORMAT, model_format, read_bundle, write_bundle
from gantools.errors import GantoolsError, UsageError
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
    where: str = "the checkpoint"  # the folder it was read from, for messages (not saved)

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
        return cls(config["step"], config["finished"], config["fingerprint"], own, config["meta"], where)


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
    """The checkpoint of the interrupted training whose model is (or was to be) in ``model_dir``: the more
    recently written of the model's own (a stop by a signal) and its autosave (a training killed outside
    Python's reach: SIGKILL, out of memory, power); one line when there is none."""
    candidates = []  # (when written, config, tensors, where), each folder read (and checked) once
    autosave = autosave_path(model_dir)
    for folder, kind, where in ((autosave, fmt + AUTOSAVE_SUFFIX, f"autosave '{autosave}'"),
                                (Path(model_dir), fmt, f"model in '{model_dir}'")):  # fmt: skip
        found = model_format(folder)
        if found is None or (folder == autosave and found != kind):  # another kind's autosave is not ours
            continue
        config, _, tensors = read_bundle(folder, kind)
        if config.get("checkpoint") is not None or not candidates:  # a finished model: only to say so
            candidates.append(((folder / "manifest.json").stat().st_mtime_ns, config, tensors, where))
    if not candidates:
        raise GantoolsError(f"--resume: no interrupted training in '{model_dir}' to continue; train without --resume")
    _, config, tensors, where = max(candidates, key=lambda c: c[0])  # the newer of two checkpoints
    return Checkpoint.from_bundle(config.get("checkpoint"), tensors, where)


# ------------------------------------------------------------------------------------------------ autosave
AUTOSAVE_SUFFIX = "-autosave"  # its folder: the model folder's name + ".autosave"; its format: the model's + this
AUTOSAVE_SECONDS = 60.0  # at most one autosave a minute: a fit shorter than that writes none


def autosave_path(model_dir: str | Path) -> Path:
    folder = Path(model_dir).absolute()  # "." has no name to add to
    return folder.with_name(folder.name + ".autosave")


def autosave_interval() -> float:
    """Seconds between autosaves: ``AUTOSAVE_SECONDS``, or ``GANTOOLS_AUTOSAVE_SECONDS`` (a number above 0)."""
    text = os.environ.get("GANTOOLS_AUTOSAVE_SECONDS")
    if text is None:
        return AUTOSAVE_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise UsageError(f"GANTOOLS_AUTOSAVE_SECONDS is {text!r}; give a number of seconds above 0, or unset it")
    return seconds


class Autosave:
    """Writes the GAN phase's checkpoint beside the model folder (``<model>.autosave/``) every
    ``autosave_interval()`` seconds, so that a training killed where no signal handler runs (SIGKILL, the
    out-of-memory killer, a power cut) can still be resumed (``train --resume``). Written atomically, as a model
    folder is (checksummed manifest); removed once the model is saved. A folder of that name that is not an
    autosave is never touched, and an autosave that cannot be written (a full disk) stops the autosaving with a
    warning, not the training."""

    def __init__(self, model_dir: str | Path, fmt: str = FORMAT) -> None:
        self.path, self.fmt = autosave_path(model_dir), fmt + AUTOSAVE_SUFFIX
        self.every = autosave_interval()
        self.last: float | None = None  # the clock starts at the first step asked about, not at construction
        self.written = False
        self.off = self.path.exists() and model_format(self.path) != self.fmt  # someone else's folder

    def due(self) -> bool:
        if self.last is None:
            self.last = time.monotonic()
        return not self.off and time.monotonic() - self.last >= self.every

    def maybe(self, capture: Callable[[], Checkpoint]) -> None:
        """Write ``capture()`` when an autosave is due (called between two training steps)."""
        if self.due():
            self.save(capture())

    def save(self, checkpoint: Checkpoint) -> None:
        if self.off:
            return
        config, tensors = checkpoint.to_bundle()
        try:
            write_bundle(self.path, {"checkpoint": config}, {}, tensors, self.fmt)
        except (OSError, GantoolsError) as exc:
            self.off = True
            warnings.warn(f"could not write the autosave '{self.path}' ({exc}); training goes on without it",
                          stacklevel=2)  # fmt: skip
            return
        self.written = True
        self.last = time.monotonic()

    def remove(self) -> None:
        """The model is saved (finished, or with its own checkpoint): the autosave says nothing more."""
        if model_format(self.path) == self.fmt:
            shutil.rmtree(self.path, ignore_errors=True)
