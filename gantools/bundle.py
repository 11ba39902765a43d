"""The model folder: data, not code. config.json + weights.safetensors + preprocessor.json.

Writing goes to a temporary sibling folder that replaces the target in one rename, so a crash never leaves
a half-written model. Loading never unpickles: JSON and safetensors only, with checks and clear errors.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from gantools._version import __version__
from gantools.errors import GantoolsError, ModelNotFoundError
from gantools.output import atomic_folder, give_usual_mode

FORMAT = "gantools-tabular"
IMAGE_FORMAT = "gantools-image"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
PREPROCESSOR_FILE = "preprocessor.json"


def write_bundle(
    path: str | Path,
    config: dict[str, Any],
    preprocessor: dict[str, Any],
    tensors: dict[str, torch.Tensor],
    fmt: str = FORMAT,
) -> Path:
    """Write the three files of a model folder atomically (replacing an existing model there); ``fmt``: the
    model's kind (``FORMAT`` tables, ``IMAGE_FORMAT`` images)."""
    config = {"format": fmt, "format_version": FORMAT_VERSION, "gantools_version": __version__, **config}
    with atomic_folder(path, "the model", "--model") as tmp:
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2, default=_json_default))
        (tmp / PREPROCESSOR_FILE).write_text(json.dumps(preprocessor, default=_json_default))
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp / WEIGHTS_FILE))
        give_usual_mode(tmp / WEIGHTS_FILE)  # safetensors makes it private to the user
    return Path(path)


def model_format(path: str | Path) -> str | None:
    """The kind of model in a folder (``FORMAT`` or ``IMAGE_FORMAT``); None when it holds no readable model."""
    try:
        return json.loads((Path(path) / CONFIG_FILE).read_text()).get("format")
    except (OSError, ValueError, AttributeError):
        return None


def read_bundle(path: str | Path, fmt: str = FORMAT) -> tuple[dict[str, Any], dict[str, Any], dict[str, torch.Tensor]]:
    """Read and check a model folder of kind ``fmt``; every problem is one clear line."""
    folder = Path(path)
    if not (folder / CONFIG_FILE).exists():
        raise ModelNotFoundError(f"no model in '{folder}'; run `gantools train DATA` first (or pass --model DIR)")
    try:
        config = json.loads((folder / CONFIG_FILE).read_text())
        preprocessor = json.loads((folder / PREPROCESSOR_FILE).read_text())
    except FileNotFoundError as exc:
        raise GantoolsError(
            f"model in '{folder}' is incomplete: {Path(exc.filename).name} is missing; train again"
        ) from None
    except json.JSONDecodeError as exc:
        raise GantoolsError(f"model in '{folder}' is damaged ({exc.msg}); train again") from None
    if config.get("format") != fmt:
        kind = "image" if fmt == IMAGE_FORMAT else "tabular"
        found = {FORMAT: "a tabular model", IMAGE_FORMAT: "an image model"}.get(
            config.get("format"), "no gantools model"
        )
        raise GantoolsError(f"'{folder}' holds {found}, not a gantools {kind} model")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise GantoolsError(
            f"model in '{folder}' was written by gantools {config.get('gantools_version')} (format "
            f"{config.get('format_version')}); this gantools {__version__} reads format {FORMAT_VERSION}: "
            "upgrade gantools"
        )
    weights = folder / WEIGHTS_FILE
    if not weights.exists():
        raise GantoolsError(f"model in '{folder}' is incomplete: {WEIGHTS_FILE} is missing; train again")
    try:
        tensors = load_file(str(weights))
    except Exception as exc:  # safetensors raises its own error types
        raise GantoolsError(f"model weights in '{weights}' cannot be read ({exc}); train again") from None
    return config, preprocessor, tensors


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in JSON")
