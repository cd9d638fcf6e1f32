"""A student's own homework weights (python -m hw3lab.import_pth): every layout the homework's
code can save is recognised by its keys, the result predicts through hw3lab.predict under the
student's method name, and every bad file is one clear message (a pickle payload never runs)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hw3lab import import_pth, limits, predict
from hw3lab.checkpoints import CheckpointError, read_manifest, read_metadata
from hw3lab.import_pth import load_own_model, read_files
from hw3lab.inference import ModelStore
from tests import homework_reference as homework
from tests.test_cli_errors import one_error_line, refused

TASK = "usps-mnistm"


def homework_digits() -> tuple[dict, dict]:
    """State_dicts of the homework's own extractor and predictor classes (seeded)."""
    torch.manual_seed(0)
    return homework.Extractor().state_dict(), homework.Predictor().state_dict()


def save(path: Path, obj: object) -> str:
    torch.save(obj, path)
    return str(path)


def wrapped(state: dict) -> dict:
    """What nn.DataParallel's state_dict looks like."""
    return {f"module.{k}": v for k, v in state.items()}


def import_files(tmp_path: Path, *files: str, family: str = "digits") -> int:
    argv = ["--out", str(tmp_path / "out"), "--name", "mine", "--family", family, *files]
    return import_pth.main(argv + (["--task", TASK] if family == "digits" else []))


def run_predict(tmp_path: Path, method: str) -> int:
    folder = tmp_path / "images"
    folder.mkdir(exist_ok=True)
    for i in range(3):
        Image.fromarray(np.full((28, 28), 80 * i, np.uint8)).save(folder / f"{i}.png")
    return predict.main(["--target", "mnistm", "--images", str(folder), "--out",
                         str(tmp_path / "pred.csv"), "--checkpoints", str(tmp_path / "out"),
                         "--method", method, "--device", "cpu"])


@pytest.mark.parametrize("layout", ["separate", "reversed", "data_parallel", "one_dict",
                                    "one_dict_with_optimizer", "adda"])
def test_homework_digit_layouts_import_and_predict(layout: str, tmp_path: Path) -> None:
    extractor, predictor = homework_digits()
    if layout == "adda":  # the homework's ADDA names the head 'classify' and keeps a critic
        torch.manual_seed(0)
        head = homework.Predictor(head="classify")
        head.load_state_dict({k.replace("predict.", "classify."): v
                              for k, v in predictor.items()})
        files = [save(tmp_path / "tgt_encoder.pth", extractor),
                 save(tmp_path / "classifier.pth", head.state_dict()),
                 save(tmp_path / "critic.pth", homework.Predictor(outputs=2).state_dict())]
    elif layout in ("separate", "reversed", "data_parallel"):
        change = wrapped if layout == "data_parallel" else dict
        files = [save(tmp_path / "extractor.pth", change(extractor)),
                 save(tmp_path / "predictor.pth", change(predictor))]
        files = files[::-1] if layout == "reversed" else files
    else:
        bundle = {"extractor": extractor, "predictor": wrapped(predictor),
                  "domain_classifier": homework.Predictor(outputs=2).state_dict()}
        if layout == "one_dict_with_optimizer":
            optimizer = torch.optim.Adam(torch.nn.Linear(2, 2).parameters())
            bundle |= {"optimizer": optimizer.state_dict(), "epoch": 20, "args": ["--lr", 1]}
        files = [save(tmp_path / "dann.pth", bundle)]
    assert import_files(tmp_path, *files) == 0

    written = tmp_path / "out" / "digits" / f"{TASK}-mine.safetensors"
    metadata = read_metadata(written)
    assert metadata["method"] == "mine" and metadata["family"] == "digits"
    assert metadata["imported_from"] == [Path(f).name for f in files]
    assert f"digits/{TASK}-mine" in read_manifest(tmp_path / "out")["checkpoints"]
    model = ModelStore(tmp_path / "out", device="cpu").digits("usps", "mnistm", "mine")
    for key, value in extractor.items():  # stored in fp16, as every checkpoint
        torch.testing.assert_close(model.extractor.state_dict()[key], value.half().to(value.dtype))
    torch.testing.assert_close(model.predictor.state_dict()["predict.4.bias"],
                               predictor["predict.4.bias"].half().float())
    assert run_predict(tmp_path, "mine") == 0
    rows = (tmp_path / "pred.csv").read_text().splitlines()
    assert rows[0] == "image_name,label" and len(rows) == 4


@pytest.mark.parametrize("family", ["vae", "gan"])
def test_face_layouts_import(family: str, tmp_path: Path) -> None:
    if family == "vae":
        parts = {"encoder.pth": homework.Encoder(), "decoder.pth": homework.Decoder()}
    else:
        parts = {"G.pth": homework.Generator(), "D.pth": homework.Discriminator()}
    bundle = {name.removesuffix(".pth"): wrapped(m.state_dict()) for name, m in parts.items()}
    assert import_files(tmp_path, save(tmp_path / f"{family}.pth", bundle), family=family) == 0
    metadata = read_metadata(tmp_path / "out" / f"{family}.safetensors")
    assert metadata["family"] == family and metadata["width"] == 1.0
    store = ModelStore(tmp_path / "out", device="cpu")
    faces = (store.decode_latents(np.zeros((1, 128))) if family == "vae"
             else store.generate_faces([1]))
    assert faces.shape == (1, 64, 64, 3)


def test_a_user_chosen_method_needs_a_valid_name_and_an_existing_file(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    extractor, predictor = homework_digits()
    files = [save(tmp_path / "e.pth", extractor), save(tmp_path / "p.pth", predictor)]
    assert import_files(tmp_path, *files) == 0
    capsys.readouterr()
    assert import_files(tmp_path, *files) == 2
    one_error_line(capsys, "mine.safetensors exists", "--force")
    assert import_pth.main(["--out", str(tmp_path / "out"), "--task", TASK, "--name", "../x",
                            *files]) == 2
    one_error_line(capsys, "a method name is 1-32 letters")
    assert refused(import_pth.main, ["--out", str(tmp_path / "out"), *files]) == 2
    one_error_line(capsys, "a digit model needs --task, one of usps-mnistm")
    assert run_predict(tmp_path, "theirs") == 2
    one_error_line(capsys, "missing checkpoint",
                   "(method 'theirs' of usps-mnistm); methods there: mine")


class Payload:
    """Unpickling this would create a marker file: the side effect the reader must prevent."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (open, (self.marker, "w"))


def test_pickle_payload_is_refused_and_never_runs(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture) -> None:
    marker = tmp_path / "pwned"
    with open(tmp_path / "legacy.pth", "wb") as handle:
        pickle.dump({"extract.0.block.0.weight": Payload(str(marker))}, handle)
    save(tmp_path / "zipped.pth", {"extract.0.block.0.weight": Payload(str(marker))})
    for name in ("legacy.pth", "zipped.pth"):
        assert import_files(tmp_path, str(tmp_path / name)) == 2
        one_error_line(capsys, f"{name} is not a plain state_dict", "refused without running")
    assert not marker.exists()


def test_wrong_keys_and_shapes_are_named(tmp_path: Path) -> None:
    extractor, predictor = homework_digits()
    predictor["predict.9.weight"] = torch.zeros(1)
    del predictor["preprocess.block.0.bias"]
    extractor["extract.0.block.0.weight"] = torch.zeros(64, 1, 3, 3)
    states = {"e.pth": extractor, "p.pth": predictor}
    with pytest.raises(CheckpointError) as error:
        load_own_model("digits", states)
    assert "e.pth does not fit Extractor: wrong shapes extract.0.block.0.weight (64, 1, 3, 3)" \
        in str(error.value)
    del states["e.pth"]
    with pytest.raises(CheckpointError, match="no extractor in p.pth"):
        load_own_model("digits", states)
    states["e.pth"] = homework_digits()[0]
    with pytest.raises(CheckpointError, match="p.pth does not fit Predictor: missing keys "
                       "preprocess.block.0.bias; unexpected keys predict.9.weight"):
        load_own_model("digits", states)
    with pytest.raises(CheckpointError, match="x.pth has keys that belong to no part of a "
                       "digits model .*: fc.weight, fc.bias"):
        load_own_model("digits", {"x.pth": {"fc.weight": torch.zeros(1),
                                            "fc.bias": torch.zeros(1)}})
    with pytest.raises(CheckpointError, match="several extractors"):
        load_own_model("digits", {"a.pth": homework_digits()[0], "b.pth": homework_digits()[0],
                                  "p.pth": homework_digits()[1]})


def test_the_wrong_family_is_named(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    generator = save(tmp_path / "G.pth", homework.Generator().state_dict())
    critic = save(tmp_path / "D.pth", homework.Discriminator().state_dict())
    assert import_files(tmp_path, generator, critic) == 2
    one_error_line(capsys, "G.pth, D.pth hold a gan model's generator, discriminator, not a "
                   "digits model: give --family gan")
    extractor, predictor = homework_digits()
    files = [save(tmp_path / "e.pth", extractor), save(tmp_path / "p.pth", predictor)]
    assert import_files(tmp_path, *files, family="vae") == 2
    one_error_line(capsys, "hold a digits model's extractor, predictor", "give --family digits")


def test_empty_huge_and_odd_files(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "empty.pth").write_bytes(b"")
    with open(tmp_path / "huge.pth", "wb") as handle:  # sparse: no disk is used
        handle.truncate(limits.MAX_MODEL_FILE_BYTES + 1)
    (tmp_path / "text.pth").write_text("not a checkpoint")
    save(tmp_path / "list.pth", [torch.zeros(1)])
    save(tmp_path / "nothing.pth", {"epoch": 3})
    expected = {"empty.pth": "empty.pth is empty",
                "huge.pth": "huge.pth is 400.0 MB, over the limit of 400 MB a file",
                "text.pth": "text.pth is not a plain state_dict",
                "list.pth": "list.pth holds a list, not a state_dict",
                "nothing.pth": "nothing.pth holds no tensors",
                "absent.pth": "missing file"}
    for name, message in expected.items():
        assert import_files(tmp_path, str(tmp_path / name)) == 2
        one_error_line(capsys, message)
    with pytest.raises(CheckpointError, match="given twice"):
        read_files([tmp_path / "nothing.pth", tmp_path / "nothing.pth"])
