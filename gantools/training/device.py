"""Picking the device: ``auto`` takes the GPU when there is one."""

from __future__ import annotations

import torch

from gantools.errors import GantoolsError, UsageError


def resolve_device(name: str = "auto") -> torch.device:
    """Map ``auto|cpu|cuda|cuda:N`` to a torch device, failing clearly when CUDA is asked for but absent."""
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise GantoolsError("--device cuda was asked for but no CUDA GPU is available; use --device cpu or auto")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise UsageError(f"unknown device '{name}'; use auto, cpu or cuda")
