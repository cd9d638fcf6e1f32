"""A crafted .pt2 never runs anything: each bad file (a pickle payload in every member that
torch.export.load would unpickle, code in a symbolic size, an operator outside ATen core, a
10^12-element intermediate, metadata that lies about a shape, a wrong output shape, a truncated
or damaged zip, a file over the upload limit) is one message, its payload's marker file never
appears, and the lab keeps serving."""

from __future__ import annotations

import json
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch

from hw3lab import export_model, import_pth, limits
from hw3lab.devtools.random_checkpoints import make_checkpoints
from hw3lab.exported import Convention, ExportedModelError, allowed_operator, read_exported
from hw3lab.lab import LabContext, digits
from hw3lab.lab.own_models import OWN_TITLE, upload_digits
from hw3lab.ui.widgets import user_errors
from tests import exported_builds
from tests.test_cli_errors import one_error_line, refused
from tests.test_import_pth import Payload

TASK = "usps-mnistm"
Files = dict[str, bytes]


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A good export of a classmate's DANN, the base of every crafted file."""
    out = tmp_path_factory.mktemp("good") / "dann.pt2"
    convention = Convention("digits", TASK)
    export_model.export_model("digits", exported_builds.dann(), convention, out, (0.0,))
    return out


def craft(good: Path, out: Path, change: Callable[[Files], None]) -> Path:
    """``good``'s members (names less the archive's root folder), changed, as ``out``."""
    with zipfile.ZipFile(good) as archive:
        members = {i.filename: archive.read(i) for i in archive.infolist()}
    root = next(iter(members)).split("/")[0] + "/"
    files = {name[len(root):]: data for name, data in members.items()}
    change(files)
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(root + name, data)
    return out


def payload(marker: Path) -> bytes:
    return pickle.dumps(Payload(str(marker)))


def edit_json(files: Files, member: str, edit: Callable[[dict], None]) -> None:
    data = json.loads(files[member])
    edit(data)
    files[member] = json.dumps(data).encode()


WEIGHTS = "data/weights/model_weights_config.json"
CONSTANTS = "data/constants/model_constants_config.json"
GRAPH = "models/model.json"


def pickled_weight(marker: Path) -> Callable[[Files], None]:
    def change(files: Files) -> None:
        def edit(config: dict) -> None:
            entry = next(iter(config["config"].values()))
            entry["use_pickle"] = True
            files[f"data/weights/{entry['path_name']}"] = payload(marker)
        edit_json(files, WEIGHTS, edit)
    return change


def pickled_constant(marker: Path) -> Callable[[Files], None]:
    def change(files: Files) -> None:
        files["data/constants/tensor_constant_0"] = payload(marker)
        edit_json(files, CONSTANTS, lambda c: c["config"].update(
            {"c": {"path_name": "tensor_constant_0", "is_param": False, "use_pickle": True,
                   "tensor_meta": None}}))
    return change


def object_constant(prefix: str) -> Callable[[Path], Callable[[Files], None]]:
    def make(marker: Path) -> Callable[[Files], None]:
        def change(files: Files) -> None:
            files[f"data/constants/{prefix}0"] = payload(marker)
            edit_json(files, CONSTANTS, lambda c: c["config"].update(
                {"obj": {"path_name": f"{prefix}0", "is_param": False, "use_pickle": True,
                         "tensor_meta": None}}))
        return change
    return make


def member(name: str) -> Callable[[Path], Callable[[Files], None]]:
    def make(marker: Path) -> Callable[[Files], None]:
        return lambda files: files.update({name: payload(marker)})
    return make


def code_in_a_size(marker: Path) -> Callable[[Files], None]:
    def edit(model: dict) -> None:
        values = model["graph_module"]["graph"]["tensor_values"]
        values["x"]["sizes"][0] = {"as_expr": {"expr_str": f"open({str(marker)!r}, 'w')",
                                               "hint": {"as_int": 4}}}
    return lambda files: edit_json(files, GRAPH, edit)


# Every member or config entry torch.export.load (or its sympy parsing) would run code from.
PAYLOADS = {
    "a weight marked use_pickle": pickled_weight,
    "a constant marked use_pickle": pickled_constant,
    "a custom object constant": object_constant("custom_obj_"),
    "an opaque object constant": object_constant("opaque_obj_"),
    "pickled sample inputs": member("data/sample_inputs/model.pt"),
    "legacy pickled weights": member("data/weights/model.pt"),
    "legacy pickled constants": member("data/constants/model.pt"),
    "compiled code": member("data/aotinductor/model/model.so"),
    "an unknown extra file": member("extra/notes.pkl"),
    "code in a symbolic size": code_in_a_size,
}


def test_the_payload_is_live(tmp_path: Path) -> None:
    """The crafted payload does run when unpickled: the tests below would see it."""
    marker = tmp_path / "pwned"
    pickle.loads(payload(marker))
    assert marker.exists()


def test_torch_export_load_would_run_a_pickled_weight(good: Path, tmp_path: Path) -> None:
    """Why the lab never hands an upload to torch.export.load: this file runs code there."""
    marker = tmp_path / "pwned"
    bad = craft(good, tmp_path / "bad.pt2", pickled_weight(marker))
    try:
        torch.export.load(bad)
    except Exception:  # noqa: BLE001, S110 - it may fail after running the payload
        pass
    assert marker.exists()


@pytest.mark.parametrize("what", list(PAYLOADS))
def test_a_payload_in_any_member_is_refused_and_never_runs(
        what: str, good: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    marker = tmp_path / "pwned"
    bad = craft(good, tmp_path / "bad.pt2", PAYLOADS[what](marker))
    with pytest.raises(ExportedModelError):
        read_exported(bad)
    argv = ["--task", TASK, "--out", str(tmp_path / "out"), str(bad)]
    assert refused(import_pth.main, argv) == 2
    one_error_line(capsys, "bad.pt2")
    assert not marker.exists()
    assert not (tmp_path / "out" / "digits").exists()


def retarget(index: int, target: str) -> Callable[[Files], None]:
    def edit(model: dict) -> None:
        nodes = model["graph_module"]["graph"]["nodes"]
        nodes[index]["target"] = target
    return lambda files: edit_json(files, GRAPH, edit)


def node_index(good: Path, target: str) -> int:
    with zipfile.ZipFile(good) as archive:
        name = next(n for n in archive.namelist() if n.endswith(GRAPH))
        nodes = json.loads(archive.read(name))["graph_module"]["graph"]["nodes"]
    return next(i for i, n in enumerate(nodes) if n["target"] == target)


@pytest.mark.parametrize("target", [
    "builtins.eval", "os.system", "torch.ops.mylib.evil.default",
    "torch.ops.higher_order.cond", "torch.ops.aten.nonzero.default",
    "torch.ops.aten.copy_.default", "torch.ops.aten.bernoulli.p",
    "torch.ops.aten.relu.default.__globals__", "torch.ops.aten._local_scalar_dense.default",
    "torch.ops.aten.empty.memory_format", "torch.ops.aten.empty_strided.default",
])
def test_an_operator_outside_aten_core_is_refused(target: str, good: Path,
                                                  tmp_path: Path) -> None:
    index = node_index(good, "torch.ops.aten.relu.default")
    bad = craft(good, tmp_path / "bad.pt2", retarget(index, target))
    with pytest.raises(ExportedModelError, match="not an ATen core operator"):
        read_exported(bad)


def test_the_allowed_operators_are_core_aten_only() -> None:
    assert allowed_operator("torch.ops.aten.convolution.default") is not None
    assert allowed_operator("torch.ops.aten.sym_size.int") is not None
    for target in ("torch.ops.aten.nonzero.default", "torch.ops.aten.add_.Tensor",
                   "torch.ops.aten.conv2d.default", "torch.ops.aten.rand.default",
                   "torch.ops.aten.no_such_op.default"):
        assert allowed_operator(target) is None, target


def huge_intermediate(files: Files) -> None:
    def edit(model: dict) -> None:
        values = model["graph_module"]["graph"]["tensor_values"]
        name = next(n for n in values if n.startswith("relu"))
        values[name]["sizes"] = [{"as_int": 10**6}, {"as_int": 10**6}]
    edit_json(files, GRAPH, edit)


def test_a_10_to_the_12_element_intermediate_is_refused_before_running(good: Path,
                                                                       tmp_path: Path) -> None:
    bad = craft(good, tmp_path / "bad.pt2", huge_intermediate)
    with pytest.raises(ExportedModelError, match="over the lab's limit of 1024 MB; nothing "
                                                 "was run"):
        read_exported(bad)


def lying_view(files: Files) -> None:
    """A view whose arguments no longer match the shape its metadata claims."""
    def edit(model: dict) -> None:
        for node in model["graph_module"]["graph"]["nodes"]:
            if node["target"] == "torch.ops.aten.view.default":
                node["inputs"][1]["arg"] = {"as_sym_ints": [{"as_int": -1}, {"as_int": 1}]}
                return
    edit_json(files, GRAPH, edit)


def test_metadata_that_lies_about_a_shape_is_refused(good: Path, tmp_path: Path) -> None:
    bad = craft(good, tmp_path / "bad.pt2", lying_view)
    with pytest.raises(ExportedModelError, match="does not describe its own computation|fails"):
        read_exported(bad)


def test_a_wrong_output_shape_is_refused(tmp_path: Path) -> None:
    """A file written without the exporter's checks, whose model gives 7 classes."""
    from torch.export.pt2_archive._package import package_pt2
    module = exported_builds.seven_classes().eval()
    batch = torch.export.Dim("batch", min=1, max=4096)
    program = torch.export.export(module, (torch.rand(5, 3, 28, 28),),
                                  dynamic_shapes=({0: batch},)).run_decompositions()
    program.example_inputs = None
    bad = tmp_path / "seven.pt2"
    package_pt2(str(bad), exported_programs={"model": program},
                extra_files={"hw3lab.json": json.dumps(Convention("digits", TASK).to_json())})
    with pytest.raises(ExportedModelError, match="returns 1 x 7.*needs N x 10 logits"):
        read_exported(bad)


def test_a_fixed_batch_export_is_refused(tmp_path: Path) -> None:
    from torch.export.pt2_archive._package import package_pt2
    program = torch.export.export(exported_builds.seven_classes().eval(),
                                  (torch.rand(5, 3, 28, 28),)).run_decompositions()
    program.example_inputs = None
    bad = tmp_path / "fixed.pt2"
    package_pt2(str(bad), exported_programs={"model": program},
                extra_files={"hw3lab.json": json.dumps(Convention("digits", TASK).to_json())})
    with pytest.raises(ExportedModelError, match="fixed batch size"):
        read_exported(bad)


def test_a_truncated_zip_is_one_message(good: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "cut.pt2"
    bad.write_bytes(good.read_bytes()[:good.stat().st_size // 2])
    argv = ["--task", TASK, "--out", str(tmp_path / "out"), str(bad)]
    assert refused(import_pth.main, argv) == 2
    one_error_line(capsys, "cut.pt2 is not a complete .pt2 archive")


def test_a_damaged_weight_is_one_message(good: Path, tmp_path: Path) -> None:
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as archive:
        info = next(i for i in archive.infolist() if i.filename.endswith("weight_0"))
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 8
    data[start] ^= 0xFF  # inside the payload: its CRC no longer matches
    bad = tmp_path / "flipped.pt2"
    bad.write_bytes(bytes(data))
    with pytest.raises(ExportedModelError, match="not a complete .pt2 archive"):
        read_exported(bad)


def test_no_description_is_refused(good: Path, tmp_path: Path) -> None:
    bad = craft(good, tmp_path / "bare.pt2", lambda files: files.pop("extra/hw3lab.json"))
    with pytest.raises(ExportedModelError, match="python -m hw3lab.export_model"):
        read_exported(bad)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> LabContext:
    directory = make_checkpoints(tmp_path_factory.mktemp("lab"), methods=("dann",),
                                 faces=False)
    return LabContext(directory, directory / "no-data")


def test_the_lab_refuses_each_bad_upload_and_keeps_serving(lab: LabContext, good: Path,
                                                           tmp_path: Path) -> None:
    upload = user_errors(upload_digits)
    marker = tmp_path / "pwned"
    bad_files = [craft(good, tmp_path / f"bad{i}.pt2", make(marker))
                 for i, make in enumerate(PAYLOADS.values())]
    bad_files.append(craft(good, tmp_path / "huge.pt2", huge_intermediate))
    oversize = tmp_path / "oversize.pt2"
    oversize.write_bytes(good.read_bytes() + b"\0" * (limits.MAX_MODEL_UPLOAD_BYTES + 1))
    bad_files.append(oversize)
    for bad in bad_files:
        with pytest.raises(gr.Error) as refusal:
            upload(lab, "usps->mnistm", [str(bad)])
        assert "\n" not in str(refusal.value.message) and bad.name in refusal.value.message
    assert "over the limit of 16 MB" in refusal.value.message
    assert not marker.exists()
    token, _ = upload(lab, "usps->mnistm", [str(good)])  # still serving, the good file works
    images = np.random.default_rng(0).integers(0, 256, (2, 28, 28, 3), dtype=np.uint8)
    assert digits.predict_all(lab, "usps", "mnistm", images, token)[OWN_TITLE].shape == (2, 10)


def test_a_model_over_the_work_limit_is_refused_before_running(
        good: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bound on every call's time: FLOPs and elements an input, counted on meta tensors."""
    read_exported(good)  # within the lab's limit
    monkeypatch.setattr(limits, "MAX_EXPORTED_WORK_PER_IMAGE", 1e5)
    with pytest.raises(ExportedModelError, match="GFLOP an input, over the lab's limit"):
        read_exported(good)


@pytest.mark.parametrize("mangle", [
    lambda m: m["graph_module"]["graph"].update(nodes=[{"target": 1}]),
    lambda m: m["graph_module"]["signature"].update(input_specs=[{"a": 1, "b": 2}]),
    lambda m: m["graph_module"]["graph"]["nodes"][0].update(inputs=[{"arg": {}}]),
    lambda m: m["graph_module"].pop("graph"),
    lambda m: m["graph_module"]["graph"]["tensor_values"].update(x={"dtype": 99}),
])
def test_a_malformed_graph_is_one_message(mangle: Callable[[dict], None], good: Path,
                                          tmp_path: Path) -> None:
    bad = craft(good, tmp_path / "bad.pt2", lambda files: edit_json(files, GRAPH, mangle))
    with pytest.raises(ExportedModelError):
        read_exported(bad)
