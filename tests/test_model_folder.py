"""Untrusted model folders (issue 28): every file checksummed in a manifest, every JSON field typed, the
weights' shapes checked before anything is allocated; one flipped byte or an extra file is refused."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
import torch

from gantools.bundle import MANIFEST_FILE, _canonical, _entry
from gantools.errors import GantoolsError, UsageError
from gantools.image import ImageConfig, ImageGAN, ImageSet
from gantools.model import TabularGAN


def _flip(path: Path, position: int) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


def _reseal(folder: Path) -> None:
    """Rewrite the manifest for the files as they are now: what a forger who knows the format would do."""
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    manifest["files"] = {name: _entry((folder / name).read_bytes()) for name in manifest["files"]}
    (folder / MANIFEST_FILE).write_bytes(_canonical(manifest))


@pytest.fixture(scope="module")
def saved(banknote_model, tmp_path_factory) -> Path:
    return banknote_model.save(tmp_path_factory.mktemp("folder") / "model")


@pytest.fixture()
def copy(saved, tmp_path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "model"))


def test_an_untouched_folder_loads(saved):
    assert TabularGAN.load(saved, device="cpu").classes_ == [0, 1]


@pytest.mark.parametrize("name", ["config.json", "preprocessor.json", "weights.safetensors", "manifest.json"])
def test_one_flipped_byte_anywhere_is_refused(saved, tmp_path, name):
    size = (saved / name).stat().st_size
    positions = sorted({0, size - 1, size // 2, *random.Random(name).sample(range(size), 12)})
    for position in positions:
        folder = Path(shutil.copytree(saved, tmp_path / f"m{position}"))
        _flip(folder / name, position)
        with pytest.raises(GantoolsError, match=f"'{folder}'") as caught:
            TabularGAN.load(folder, device="cpu")
        assert "\n" not in str(caught.value)


def test_extra_missing_and_truncated_files_are_refused(copy):
    (copy / "notes.txt").write_text("hello")
    with pytest.raises(GantoolsError, match="does not list \\('notes.txt'\\)"):
        TabularGAN.load(copy)
    (copy / "notes.txt").unlink()
    (copy / "sub").mkdir()
    with pytest.raises(GantoolsError, match="does not list \\('sub'\\)"):
        TabularGAN.load(copy)
    (copy / "sub").rmdir()
    weights = copy / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(GantoolsError, match="truncated or changed"):
        TabularGAN.load(copy)
    weights.unlink()
    with pytest.raises(GantoolsError, match="weights.safetensors is missing"):
        TabularGAN.load(copy)


def test_an_image_model_is_not_read_as_a_table_and_an_old_format_is_refused(copy):
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, "format": "gantools-image"}))
    _reseal(copy)
    with pytest.raises(GantoolsError, match="holds an image model, not a gantools tabular model"):
        TabularGAN.load(copy)
    (copy / "config.json").write_text(json.dumps({**config, "format_version": 1}))
    _reseal(copy)
    with pytest.raises(GantoolsError, match="format 1 .*train it again"):
        TabularGAN.load(copy)
    (copy / "config.json").write_text(json.dumps({**config, "format_version": 99}))
    _reseal(copy)
    with pytest.raises(GantoolsError, match="upgrade gantools"):
        TabularGAN.load(copy)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["settings"].update(hidden="64"), "'hidden' is '64', not int"),
        (lambda c: c["settings"].update(lr_e=-1.0), "lr_e must be a positive number"),
        (lambda c: c["calibration"].update(reconstruction_scale=float("nan")), "'reconstruction_scale' is nan"),
        (lambda c: c["calibration"].update(column_scale="1,2"), "'column_scale' is '1,2', not list"),
        (lambda c: c.update(class_counts=[1]), "'classes' and 'class_counts' do not agree"),
        (lambda c: c.update(classes={"a": 1}), "'classes' and 'class_counts' do not agree"),
        (lambda c: c.update(history=[]), "'history' is not a JSON object"),
        # a forged config asking for huge networks: refused from the shapes, before any memory is taken
        (lambda c: c["settings"].update(hidden=10**9), "do not match its config.json"),
        (lambda c: c["settings"].update(n_layers=5), "do not match its config.json"),
        (lambda c: c.pop("calibration"), "cannot use \\(KeyError"),
    ],
)
def test_forged_json_fields_are_refused_with_one_line(copy, edit, message):
    config = json.loads((copy / "config.json").read_text())
    edit(config)
    (copy / "config.json").write_text(json.dumps(config))
    _reseal(copy)
    with pytest.raises(GantoolsError, match=message) as caught:
        TabularGAN.load(copy, device="cpu")
    assert "\n" not in str(caught.value)
    assert not isinstance(caught.value, UsageError)  # damaged data (exit 1), not the caller's usage (exit 2)
    assert f"'{copy}'" in str(caught.value) or "config.json" in str(caught.value)


def _first_column(pre: dict) -> tuple[dict, dict]:
    return pre["schema"]["columns"][0], pre["params"][0]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: _first_column(p)[0].update(kind="bogus"), "column 1 of the schema is not a name, a kind"),
        (lambda p: _first_column(p)[0].update(name=5), "column 1 of the schema is not a name"),
        (lambda p: _first_column(p)[0].update(dtype="no-such-type"), "'variance': dtype 'no-such-type' is not"),
        (lambda p: p["schema"].update(label="variance"), "the label 'variance' is also a feature column"),
        (lambda p: p.update(n_quantiles=10**12), "'n_quantiles' is 1000000000000, not between"),
        (lambda p: p.update(numeric_transform="magic"), "'numeric_transform' is 'magic'"),
        (lambda p: p["params"].pop(), "3 column parameters for 4 columns"),
        (lambda p: _first_column(p)[1].update(values=_first_column(p)[1]["values"][::-1]), "not in increasing order"),
        (lambda p: _first_column(p)[1].update(values=[]), "0 quantile values"),
        (lambda p: _first_column(p)[1].update(std=0.0), "'std' is not positive"),
        (lambda p: _first_column(p)[1].update(method="cubic"), "'variance' \\(numeric\\): 'method' is 'cubic'"),
        (lambda p: _first_column(p)[1].pop("z_hi"), "'z_hi' is missing"),
        (lambda p: p["params"].__setitem__(0, {"type": "categorical", "categories": ["a"]}), "'type' is 'categorical'"),
    ],
)
def test_forged_preprocessor_fields_are_refused_with_one_line(copy, edit, message):
    pre = json.loads((copy / "preprocessor.json").read_text())
    edit(pre)
    (copy / "preprocessor.json").write_text(json.dumps(pre))
    _reseal(copy)
    with pytest.raises(GantoolsError, match=f"preprocessor.json: .*{message}") as caught:
        TabularGAN.load(copy, device="cpu")
    assert "\n" not in str(caught.value) and "train again" in str(caught.value)


def test_image_model_folder_is_checked_too(tmp_path):
    images = torch.randint(0, 256, (24, 1, 28, 28), dtype=torch.uint8)
    data = ImageSet(images, torch.arange(24).remainder(2).numpy(), ["a", "b"], [f"i{k}" for k in range(24)])
    path = ImageGAN(ImageConfig(steps=2, encoder_steps=1, width=8, device="cpu")).fit(data).save(tmp_path / "img")
    assert ImageGAN.load(path, device="cpu").classes_ == ["a", "b"]
    with pytest.raises(GantoolsError, match="holds an image model, not a gantools tabular model"):
        TabularGAN.load(path)
    config = json.loads((path / "config.json").read_text())
    config["train_config"]["width"] = 4096
    (path / "config.json").write_text(json.dumps(config, indent=2))
    with pytest.raises(GantoolsError, match="config.json (does not match its checksum|is .* bytes)"):
        ImageGAN.load(path)
    _reseal(path)
    with pytest.raises(GantoolsError, match="do not match its config.json"):
        ImageGAN.load(path)
    (path / "preprocessor.json").write_text('{"resolution": 28.5, "channels": 1}')
    _reseal(path)
    with pytest.raises(GantoolsError, match="not the image size"):
        ImageGAN.load(path)


def test_the_library_never_unpickles():
    """No pickle, no torch.load (whose default unpickles), no np.load with pickles, anywhere in the package."""
    import re

    import gantools

    root = Path(gantools.__file__).parent
    offending = []
    for file in root.rglob("*.py"):
        text = file.read_text()
        if re.search(r"^\s*(import|from)\s+(c?pickle|dill|joblib)\b", text, re.M):
            offending.append(f"{file.name}: imports a pickler")
        if "torch.load(" in text and "weights_only=True" not in text:
            offending.append(f"{file.name}: torch.load without weights_only=True")
        if "allow_pickle=True" in text:
            offending.append(f"{file.name}: np.load(allow_pickle=True)")
    assert offending == []
