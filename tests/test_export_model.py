"""A classmate's model of any architecture (python -m hw3lab.export_model, then
hw3lab.import_pth or an upload): a DANN with forward(x, alpha), a grey ADDA, a generator with z
of 100 and a VAE of other layouts (tests/exported_builds.py) predict, generate and reconstruct
in the lab exactly as their own code does; a build the lab cannot use is one message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hw3lab import export_model, import_pth
from hw3lab.checkpoints import read_manifest
from hw3lab.devtools.random_checkpoints import make_checkpoints
from hw3lab.exported import read_exported
from hw3lab.inference import ModelStore, gan_noise
from hw3lab.lab import LabContext, digits, gan, vae
from hw3lab.lab.own_models import OWN_TITLE, own_digits, upload_digits, upload_gan, upload_vae
from hw3lab.predict import predict_folder
from tests import exported_builds
from tests.test_cli_errors import one_error_line, refused

BUILD = Path(exported_builds.__file__)
TASK = "usps-mnistm"


def build(function: str) -> str:
    return f"{BUILD}:{function}"


def their_module(function: str):  # noqa: ANN201
    """The classmate's module(s), as their own evaluation code runs them: in eval mode."""
    built = export_model.load_build(build(function))
    if isinstance(built, tuple):
        return tuple(module.eval() for module in built)
    return built.eval()


def export(tmp: Path, name: str, *flags: str) -> Path:
    out = tmp / f"{name}.pt2"
    assert export_model.main([*flags, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each classmate's model exported once, as the docs tell them to."""
    tmp = tmp_path_factory.mktemp("exported")
    return {
        "dann": export(tmp, "dann", "--task", TASK, "--build", build("dann"),
                       "--forward-args", "0", "--features", "feature"),
        "adda": export(tmp, "adda", "--task", TASK, "--build", build("adda"), "--input",
                       "gray", "--normalize", "0.5,0.5"),
        "gan": export(tmp, "gan", "--family", "gan", "--build", build("generator"),
                      "--latent", "100", "--scale", "-1,1"),
        "vae": export(tmp, "vae", "--family", "vae", "--build", build("vae")),
    }


@pytest.fixture(scope="module")
def checkpoints(exported: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The exported files imported into one checkpoint folder, by the command line."""
    out = tmp_path_factory.mktemp("checkpoints")
    for name in ("dann", "adda"):
        assert import_pth.main(["--task", TASK, "--name", f"their_{name}", "--out", str(out),
                                str(exported[name])]) == 0
    for family in ("gan", "vae"):
        assert import_pth.main(["--family", family, "--out", str(out),
                                str(exported[family])]) == 0
    return out


def random_digits(count: int, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (count, 28, 28, 3), dtype=np.uint8)


def their_probabilities(function: str, images: np.ndarray) -> np.ndarray:
    """What the classmate's own code gives: their module on their own input convention."""
    module = their_module(function)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().contiguous() / 255
    with torch.no_grad():
        if function == "dann":
            out = module(x, 0.0)[0]
        else:  # grey as their loader makes it (PIL's convert('L')), Normalize(0.5, 0.5)
            grey = np.stack([np.asarray(Image.fromarray(i).convert("L")) for i in images])
            out = module((torch.from_numpy(grey)[:, None].float() / 255 - 0.5) / 0.5)
    return out.softmax(1).numpy()


@pytest.mark.parametrize("function", ["dann", "adda"])
def test_imported_digit_model_predicts_as_the_classmates_code(checkpoints: Path,
                                                              function: str) -> None:
    images = random_digits(40)
    store = ModelStore(checkpoints, "cpu")
    got = store.classify_digits(images, "usps", "mnistm", f"their_{function}")
    expected = their_probabilities(function, images)
    assert np.abs(got - expected).max() < 1e-5
    assert (got.argmax(1) == expected.argmax(1)).all()
    entry = read_manifest(checkpoints)["checkpoints"][f"digits/{TASK}-their_{function}"]
    assert entry["file"].endswith(".pt2") and entry["exported"] is True


def test_predict_and_evaluate_name_the_imported_method(checkpoints: Path, tmp_path: Path) -> None:
    images = random_digits(30, seed=5)
    for i, image in enumerate(images):
        Image.fromarray(image).save(tmp_path / f"{i:03d}.png")
    rows = predict_folder(tmp_path, "mnistm", "their_dann", ModelStore(checkpoints, "cpu"))
    expected = their_probabilities("dann", images).argmax(1)
    assert [label for _, label in rows] == expected.tolist()


def test_features_are_the_named_submodules_output(checkpoints: Path) -> None:
    images = random_digits(6)
    store = ModelStore(checkpoints, "cpu")
    features = store.digit_features(images, "usps", "mnistm", "their_dann")
    module = their_module("dann")
    with torch.no_grad():
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float().contiguous() / 255
        expected = module.feature(x)
    assert np.allclose(features, expected.flatten(1).numpy(), atol=1e-5)
    # without --features, the logits stand for the features
    adda = store.digit_features(images, "usps", "mnistm", "their_adda")
    assert adda.shape == (6, 10)


def test_many_inputs_run_in_chunks_with_the_same_answers(checkpoints: Path) -> None:
    images = random_digits(600, seed=9)  # two chunks of 256 and a padded remainder of 88
    store = ModelStore(checkpoints, "cpu")
    whole = store.classify_digits(images, "usps", "mnistm", "their_dann")
    one = np.concatenate([store.classify_digits(images[i:i + 1], "usps", "mnistm",
                                                "their_dann") for i in (0, 300, 599)])
    assert np.abs(whole[[0, 300, 599]] - one).max() < 1e-5


def test_gan_faces_follow_the_seed_rule_for_any_noise_size(checkpoints: Path) -> None:
    store = ModelStore(checkpoints, "cpu")
    faces = store.generate_faces([3, 11])
    module = their_module("generator")
    z = torch.stack([torch.randn(100, generator=torch.Generator().manual_seed(s))
                     for s in (3, 11)])
    assert torch.equal(z, gan_noise([3, 11], 100))
    with torch.no_grad():
        expected = ((module(z.view(2, 100, 1, 1)).clamp(-1, 1) + 1) * 127.5).round()
    expected = expected.to(torch.uint8).permute(0, 2, 3, 1).numpy()
    assert np.abs(faces.astype(int) - expected.astype(int)).max() <= 1
    assert np.isnan(store.realness(faces)).all()  # no discriminator: no score, no error


def test_lab_shows_an_imported_gan_without_a_realness_score(checkpoints: Path) -> None:
    ctx = LabContext(checkpoints, checkpoints / "no-data")
    path = gan.face(ctx, 3)
    assert Path(path).is_file()
    strip, gif = gan.interpolate(ctx, 3, 4, 3)  # between two seeds' noise of 100 numbers
    assert strip.ndim == 3 and Path(gif).is_file()


def test_vae_reconstructs_as_the_classmates_code(checkpoints: Path) -> None:
    store = ModelStore(checkpoints, "cpu")
    faces = np.random.default_rng(0).integers(0, 256, (4, 64, 64, 3), dtype=np.uint8)
    mean, logvar = store.encode_faces(faces)
    rebuilt = store.decode_latents(mean)
    encoder, decoder = their_module("vae")
    with torch.no_grad():
        mu, expected_logvar = encoder(torch.from_numpy(faces).permute(0, 3, 1, 2).float() / 255)
        expected = (decoder(mu) * 255).round().permute(0, 2, 3, 1).numpy()
    assert np.allclose(mean, mu.numpy(), atol=1e-4)
    assert np.allclose(logvar, expected_logvar.numpy(), atol=1e-4)
    assert np.abs(rebuilt.astype(int) - expected.astype(int)).max() <= 1


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> LabContext:
    directory = make_checkpoints(tmp_path_factory.mktemp("lab"), methods=("dann",))
    return LabContext(directory, directory / "no-data")


def test_lab_upload_of_an_exported_digit_model(lab: LabContext,
                                               exported: dict[str, Path]) -> None:
    token, note = upload_digits(lab, "usps->mnistm", [str(exported["dann"])])
    assert OWN_TITLE in note and "usps->mnistm" in note
    images = random_digits(3)
    results = digits.predict_all(lab, "usps", "mnistm", images, token)
    assert np.abs(results[OWN_TITLE] - their_probabilities("dann", images)).max() < 1e-5
    chart = digits.feature_tsne(lab, "usps->mnistm", 50, token)
    assert OWN_TITLE in str(chart)
    assert "switch the task" in str(own_digits(lab, token, "mnistm", "svhn"))


def test_lab_upload_of_an_exported_gan_and_vae(lab: LabContext, exported: dict[str, Path],
                                               tmp_path: Path) -> None:
    token, note = upload_gan(lab, [str(exported["gan"])])
    assert "no discriminator" in note
    grid = gan._scored(lab, [3], token)
    assert grid.ndim == 3
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "face.png")
    _, verdict = gan.judge(lab, str(tmp_path / "face.png"), token)
    assert "no discriminator" in verdict
    token, _ = upload_vae(lab, [str(exported["vae"])])
    panel, table = vae.reconstruct(lab, None, np.full((64, 64, 3), 128, np.uint8), 0, token)
    assert table[-1][2] != "-"
    shipped_only = vae.random_faces(lab, 1, 4)
    both = vae.random_faces(lab, 1, 4, token)  # the exported VAE's z has 16 numbers, not 128
    assert both.shape[1] == shipped_only.shape[1] and both.shape[0] > shipped_only.shape[0]


def test_a_file_of_another_family_is_named(exported: dict[str, Path], tmp_path: Path,
                                           capsys: pytest.CaptureFixture) -> None:
    argv = ["--task", TASK, "--out", str(tmp_path), str(exported["gan"])]
    assert refused(import_pth.main, argv) == 2
    one_error_line(capsys, "holds a gan model", "--family gan")


def test_a_file_for_another_task_is_named(exported: dict[str, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture) -> None:
    argv = ["--task", "svhn-usps", "--out", str(tmp_path), str(exported["dann"])]
    assert refused(import_pth.main, argv) == 2
    one_error_line(capsys, "exported for usps-mnistm")


@pytest.mark.parametrize(("function", "flags", "fragments"), [
    ("dann", [], ["forward takes 2 arguments", "--forward-args 0"]),
    ("seven_classes", [], ["(5, 7)", "N x 10 logits"]),
    ("data_dependent", [], ["torch.export cannot capture"]),
    ("missing_checkpoint", [], ["failed", "FileNotFoundError", "dann_usps_mnistm.pth"]),
    ("dann", ["--forward-args", "0", "--features", "nothing.here"], ["--features nothing.here"]),
    ("adda", [], ["fails on a batch"]),  # a grey model exported as RGB
])
def test_a_build_the_lab_cannot_use_is_one_message(function: str, flags: list[str],
                                                   fragments: list[str], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "m.pt2"
    argv = ["--task", TASK, "--build", build(function), *flags, "--out", str(out)]
    assert refused(export_model.main, argv) == 2
    one_error_line(capsys, *fragments)
    assert not out.exists()


def test_a_generator_of_the_wrong_size_is_one_message(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture) -> None:
    argv = ["--family", "gan", "--build", build("generator"), "--latent", "64", "--out",
            str(tmp_path / "g.pt2")]
    assert refused(export_model.main, argv) == 2
    one_error_line(capsys, "the generator")


def test_the_exported_file_holds_no_pickle_and_its_convention(exported: dict[str, Path]) -> None:
    archive = read_exported(exported["adda"])
    assert archive.convention.channels == "gray" and archive.convention.mean == (0.5,)
    import zipfile
    with zipfile.ZipFile(exported["adda"]) as z:
        sample_inputs = [i for i in z.infolist() if "sample_inputs" in i.filename]
        assert all(i.file_size == 0 for i in sample_inputs)
        assert not any(i.filename.endswith((".pt", ".pkl")) and i.file_size for i in
                       z.infolist())
