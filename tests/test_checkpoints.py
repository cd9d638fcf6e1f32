"""Safetensors + JSON checkpoints: round trip, clear errors, atomic writes."""

from __future__ import annotations

import json
import os

import pytest
import torch

from hw3lab import checkpoints
from hw3lab.checkpoints import (
    CheckpointError,
    load_modules,
    load_state_strictly,
    read_manifest,
    record_in_manifest,
    save_checkpoint,
)
from hw3lab.errors import UserInputError
from hw3lab.models import Extractor, Generator, Predictor


def test_round_trip_in_fp16_with_metadata(tmp_path) -> None:
    extractor, predictor = Extractor(), Predictor()
    path = save_checkpoint(tmp_path / "m.safetensors",
                           {"extractor": extractor, "predictor": predictor},
                           {"family": "digits", "seed": 3, "metrics": {"accuracy": 0.5}})
    assert path.stat().st_size < 6_000_000  # fp16: about 2 bytes a parameter
    loaded_x, loaded_p = Extractor(), Predictor()
    metadata = load_modules(path, {"extractor": loaded_x, "predictor": loaded_p})
    assert metadata["seed"] == 3 and metadata["metrics"] == {"accuracy": 0.5}
    assert metadata["dtype"] == "torch.float16"
    for original, loaded in ((extractor, loaded_x), (predictor, loaded_p)):
        for key, value in original.state_dict().items():
            torch.testing.assert_close(loaded.state_dict()[key], value.half().to(value.dtype))


def test_missing_and_truncated_files(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="missing metadata"):
        load_modules(tmp_path / "none.safetensors", {"generator": Generator(0.125)})
    path = save_checkpoint(tmp_path / "g.safetensors", {"generator": Generator(0.125)}, {})
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="damaged or not a safetensors"):
        load_modules(path, {"generator": Generator(0.125)})
    checkpoints.metadata_path(path).write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_modules(path, {"generator": Generator(0.125)})


def test_wrong_shapes_are_named(tmp_path) -> None:
    path = save_checkpoint(tmp_path / "g.safetensors", {"generator": Generator(0.25)}, {})
    expected = r"wrong shapes .*decode\.0\.block\.0\.weight \(128, 128, 4, 4\) != \(128, 256"
    with pytest.raises(CheckpointError, match=expected):
        load_modules(path, {"generator": Generator(0.5)})


def test_missing_and_unexpected_keys_are_named() -> None:
    state = Predictor().state_dict()
    state["extra.weight"] = torch.zeros(1)
    del state["preprocess.block.0.bias"]
    with pytest.raises(CheckpointError) as error:
        load_state_strictly(Predictor(), state, "student.pth")
    assert "missing keys preprocess.block.0.bias" in str(error.value)
    assert "unexpected keys extra.weight" in str(error.value)


def test_writes_are_atomic(tmp_path, monkeypatch) -> None:
    path = save_checkpoint(tmp_path / "g.safetensors", {"generator": Generator(0.125)}, {"v": 1})
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints, "save_file", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"generator": Generator(0.125)}, {"v": 2})
    assert path.read_bytes() == before
    assert json.loads(checkpoints.metadata_path(path).read_text())["v"] == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_manifest_records_each_checkpoint(tmp_path) -> None:
    path = save_checkpoint(tmp_path / "sub" / "g.safetensors", {"generator": Generator(0.125)},
                           {"family": "gan", "metrics": {"score": 1.0}})
    record_in_manifest(tmp_path, "gan", path)
    entry = read_manifest(tmp_path)["checkpoints"]["gan"]
    assert entry["file"] == os.path.join("sub", "g.safetensors")
    assert entry["size_bytes"] == path.stat().st_size and entry["metrics"] == {"score": 1.0}
    (tmp_path / "manifest.json").write_text("[]")
    with pytest.raises(CheckpointError):
        read_manifest(tmp_path)


def test_provenance_names_the_command_and_revision() -> None:
    provenance = checkpoints.run_provenance(seed=7)
    assert provenance["seed"] == 7 and provenance["command"].startswith("python -m ")
    assert provenance["revision"]


def test_shipping_copies_weights_metadata_and_timeline(lab_checkpoints, tmp_path) -> None:
    """A run's checkpoint lands in the shipped folder byte for byte, with its timeline, and
    the manifest lists it; a name the run does not list is a plain error."""
    name = "digits/usps-mnistm-dann"
    entry = checkpoints.read_manifest(lab_checkpoints)["checkpoints"][name]
    assert entry.get("timeline"), "the lab's DANN fixture carries a timeline"
    shipped = checkpoints.ship_checkpoint(lab_checkpoints, tmp_path, name)
    for relative in (entry["file"], entry["timeline"]):
        assert (tmp_path / relative).read_bytes() == (lab_checkpoints / relative).read_bytes()
    assert checkpoints.metadata_path(shipped).is_file()
    listed = checkpoints.read_manifest(tmp_path)["checkpoints"][name]
    assert listed["file"] == entry["file"] and listed["timeline"] == entry["timeline"]
    with pytest.raises(UserInputError, match="lists no checkpoint"):
        checkpoints.ship_checkpoint(lab_checkpoints, tmp_path, "digits/nothing")
