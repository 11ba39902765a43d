"""The model folder: data, not code. config.json + preprocessor.json + weights.safetensors + manifest.json.

Writing goes to a temporary sibling folder that replaces the target in one rename, so a crash never leaves
a half-written model. Loading never unpickles and trusts nothing: the manifest lists every file with its
size and SHA-256, in canonical JSON; a folder with a file missing, changed (one flipped byte), or added, or
a manifest not in canonical form, is refused with one line before any file is parsed. (Checksums catch
damage and tampering by hand, not a forger who rewrites the manifest: the loaders validate every field
they read, and safetensors and JSON run no code.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file

from gantools._version import __version__
from gantools.errors import GantoolsError, ModelNotFoundError
from gantools.output import atomic_folder, give_usual_mode

FORMAT = "gantools-tabular"
IMAGE_FORMAT = "gantools-image"
FORMAT_VERSION = 2  # 2: manifest.json with every file's checksum
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"
PREPROCESSOR_FILE = "preprocessor.json"
MANIFEST_FILE = "manifest.json"
BUNDLE_FILES = (CONFIG_FILE, PREPROCESSOR_FILE, WEIGHTS_FILE)
MAX_JSON_BYTES = 256 * 2**20  # a config or preprocessor larger than this is not one gantools wrote


def write_bundle(
    path: str | Path,
    config: dict[str, Any],
    preprocessor: dict[str, Any],
    tensors: dict[str, torch.Tensor],
    fmt: str = FORMAT,
) -> Path:
    """Write the files of a model folder and their manifest atomically (replacing an existing model there);
    ``fmt``: the model's kind (``FORMAT`` tables, ``IMAGE_FORMAT`` images)."""
    config = {"format": fmt, "format_version": FORMAT_VERSION, "gantools_version": __version__, **config}
    with atomic_folder(path, "the model", "--model") as tmp:
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2, default=_json_default))
        (tmp / PREPROCESSOR_FILE).write_text(json.dumps(preprocessor, default=_json_default))
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp / WEIGHTS_FILE))
        give_usual_mode(tmp / WEIGHTS_FILE)  # safetensors makes it private to the user
        files = {name: _entry((tmp / name).read_bytes()) for name in BUNDLE_FILES}
        (tmp / MANIFEST_FILE).write_bytes(_canonical({"format": fmt, "files": files}))
    return Path(path)


def model_format(path: str | Path) -> str | None:
    """The kind of model a folder claims to hold (``FORMAT`` or ``IMAGE_FORMAT``); None when it holds no
    readable model. (A claim only: ``read_bundle`` checks the folder.)"""
    try:
        return json.loads((Path(path) / CONFIG_FILE).read_text()).get("format")
    except (OSError, ValueError, AttributeError):
        return None


def read_bundle(path: str | Path, fmt: str = FORMAT) -> tuple[dict[str, Any], dict[str, Any], dict[str, torch.Tensor]]:
    """Read and check a model folder of kind ``fmt``: (config, preprocessor, tensors). Every problem, from a
    missing folder to one flipped byte, is one clear line (``GantoolsError``)."""
    folder = Path(path)
    if not (folder / CONFIG_FILE).is_file():
        raise ModelNotFoundError(f"no model in '{folder}'; run `gantools train DATA` first (or pass --model DIR)")
    contents, manifest_format = _verified_files(folder)
    try:
        config = json.loads(contents[CONFIG_FILE])
        preprocessor = json.loads(contents[PREPROCESSOR_FILE])
    except (ValueError, UnicodeDecodeError) as exc:
        raise GantoolsError(f"model in '{folder}' is damaged ({exc}); train again") from None
    if not isinstance(config, dict) or not isinstance(preprocessor, dict):
        raise GantoolsError(f"model in '{folder}' is damaged (its JSON files are not objects); train again")
    if config.get("format") != fmt:
        kind = "image" if fmt == IMAGE_FORMAT else "tabular"
        found = {FORMAT: "a tabular model", IMAGE_FORMAT: "an image model"}.get(
            config.get("format"), "no gantools model"
        )
        raise GantoolsError(f"'{folder}' holds {found}, not a gantools {kind} model")
    if manifest_format != config["format"]:
        raise GantoolsError(f"model in '{folder}': {MANIFEST_FILE} is damaged or was edited; train again")
    version = config.get("format_version")
    if not isinstance(version, int) or version != FORMAT_VERSION:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        hint = "upgrade gantools" if newer else "train it again with this gantools"
        raise GantoolsError(
            f"model in '{folder}' is in format {version!r} (gantools {config.get('gantools_version')!s:.20}); "
            f"this gantools {__version__} reads format {FORMAT_VERSION}: {hint}"
        )
    try:
        tensors = load_safetensors(contents[WEIGHTS_FILE])
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise GantoolsError(f"model weights in '{folder / WEIGHTS_FILE}' cannot be read ({exc}); train again") from None
    return config, preprocessor, tensors


def _verified_files(folder: Path) -> tuple[dict[str, bytes], Any]:
    """The bytes of each file the manifest lists, after checking that the folder holds exactly those files,
    of the listed sizes and SHA-256 sums; and the format the manifest names."""
    manifest_path = folder / MANIFEST_FILE
    if not manifest_path.is_file():
        raise GantoolsError(
            f"model in '{folder}' has no {MANIFEST_FILE} (written by an older gantools, or not by gantools); "
            "train it again"
        )
    raw = _read_limited(manifest_path, 1 << 20)
    try:
        manifest = json.loads(raw)
        files = manifest["files"]
        ok = _canonical(manifest) == raw and set(files) == set(BUNDLE_FILES)
        ok = ok and all(
            set(e) == {"bytes", "sha256"} and isinstance(e["bytes"], int) and isinstance(e["sha256"], str)
            for e in files.values()
        )
    except (ValueError, UnicodeDecodeError, TypeError, KeyError, AttributeError):
        ok = False
    if not ok:
        raise GantoolsError(f"model in '{folder}': {MANIFEST_FILE} is damaged or was edited; train again")
    present = {p.name for p in folder.iterdir()}
    extra = sorted(present - set(files) - {MANIFEST_FILE})
    if extra:
        raise GantoolsError(
            f"model in '{folder}' holds a file its manifest does not list ('{extra[0]}'); a model folder holds "
            "only what gantools wrote: remove it, or train again"
        )
    contents = {}
    for name, entry in files.items():
        file = folder / name
        if not file.is_file():
            raise GantoolsError(f"model in '{folder}' is incomplete: {name} is missing; train again")
        size = file.stat().st_size
        if size != entry["bytes"]:
            raise GantoolsError(
                f"model in '{folder}': {name} is {size:,} bytes, its manifest says {entry['bytes']:,} "
                "(truncated or changed); train again"
            )
        data = _read_limited(file, MAX_JSON_BYTES if name.endswith(".json") else size)
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise GantoolsError(
                f"model in '{folder}': {name} does not match its checksum in {MANIFEST_FILE} (damaged or "
                "changed); train again"
            )
        contents[name] = data
    return contents, manifest.get("format")


def _read_limited(file: Path, limit: int) -> bytes:
    try:
        with open(file, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as exc:
        raise GantoolsError(f"cannot read '{file}' ({exc.strerror}); check its permissions") from None
    if len(data) > limit:
        raise GantoolsError(f"'{file}' is larger than a gantools model file can be; train again")
    return data


def _entry(data: bytes) -> dict[str, Any]:
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _canonical(value: Any) -> bytes:
    """One byte string per JSON value (sorted keys, no spaces, ASCII): any edit to the text changes the value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in JSON")


@contextmanager
def settings_checked(path: str | Path) -> Iterator[None]:
    """Around building a model from a folder's JSON: any error the values cause (a wrong type or shape that
    slipped past the field checks) becomes one ``GantoolsError`` line naming the folder."""
    try:
        yield
    except GantoolsError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError, RuntimeError) as exc:
        detail = f"{type(exc).__name__}: {exc}"[:200]
        raise GantoolsError(f"model in '{path}' holds settings gantools cannot use ({detail}); train again") from None


def load_weights(
    folder: str | Path,
    build: Callable[[torch.device], dict[str, torch.nn.Module]],
    tensors: dict[str, torch.Tensor],
    device: torch.device,
) -> dict[str, torch.nn.Module]:
    """Networks ``build(device)`` makes (named prefix -> module) with the weights ``tensors`` holds under
    ``prefix.``. The networks are first built on the meta device (no memory) and every parameter's name
    and shape compared with the file's, so that a config naming huge networks allocates nothing."""
    with torch.device("meta"):
        shapes = build(torch.device("meta"))
    for prefix, net in shapes.items():
        for key, value in net.state_dict().items():
            stored = tensors.get(f"{prefix}.{key}")
            if stored is None or tuple(stored.shape) != tuple(value.shape) or stored.dtype != value.dtype:
                raise GantoolsError(
                    f"model weights in '{folder}' do not match its config.json ({prefix}.{key}); train again"
                )
    nets = build(device)
    for prefix, net in nets.items():
        state = {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
        try:
            net.load_state_dict(state)
        except RuntimeError:
            raise GantoolsError(f"model weights in '{folder}' do not match its config.json; train again") from None
        net.eval()
    return nets
