"""Locations the library reads from, as settings (environment variables with sensible defaults)."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_MODEL_DIR = Path("gantools-model")


def data_dir() -> Path | None:
    """Folder of the shared datasets: ``$GANTOOLS_DATA``, else ``../shared/data`` when it exists."""
    env = os.environ.get("GANTOOLS_DATA")
    if env:
        return Path(env)
    for candidate in (Path.cwd() / ".." / "shared" / "data", Path(__file__).resolve().parents[2] / "shared" / "data"):
        if candidate.is_dir():
            return candidate.resolve()
    return None
