"""The lab's operations, called directly as the tabs' callbacks are (no server): each tab's
features, bad inputs, and missing checkpoints or data degrading to a clear message."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from gradio import processing_utils
from PIL import Image

from hw3lab import limits
from hw3lab.data.examples import render_digits
from hw3lab.data.samples import load_sample
from hw3lab.devtools.random_checkpoints import make_checkpoints
from hw3lab.lab import LabContext, digits, gan, tsne, vae
from hw3lab.lab.inputs import sketch_digit
from hw3lab.methods import METHODS
from hw3lab.ui import gradio_cache
from hw3lab.ui.app import build_lab
from hw3lab.ui.widgets import user_errors
from tests.fixtures_ui import bad_images, pixels, png_bytes

TASK = "usps->mnistm"
SLIDERS = vae.SLIDER_COUNT


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """Each bad (or merely odd) image of the issue written to a file: name -> path."""
    paths = {}
    for name, (data, _) in bad_images().items():
        (tmp_path / name).write_bytes(data)
        paths[name] = str(tmp_path / name)
    return paths


def a_face(tmp_path: Path, name: str = "face.jpg", size: tuple[int, int] = (120, 90)) -> str:
    pixels = np.random.default_rng(len(name)).integers(0, 256, (size[1], size[0], 3), np.uint8)
    Image.fromarray(pixels).save(tmp_path / name)
    return str(tmp_path / name)


def test_vae_sliders_move_the_face_and_starts_are_reproducible(lab: LabContext) -> None:
    base, face = vae.start_face(lab, "random", 7, None)
    assert face.shape == (256, 256, 3) and len(base) == 128
    again, _ = vae.start_face(lab, "random", 7, None)
    assert base == again
    still = vae.decode_sliders(lab, base, *[0] * SLIDERS)
    np.testing.assert_array_equal(still, face)
    smiling = [0] * SLIDERS
    smiling[limits.PRINCIPAL_DIRECTIONS + 9] = 2.0
    assert not np.array_equal(vae.decode_sliders(lab, base, *smiling), face)
    principal = [2.5] + [0] * (SLIDERS - 1)
    assert not np.array_equal(vae.decode_sliders(lab, None, *principal),
                              vae.decode_sliders(lab, None, *[0] * SLIDERS))
    test_base, _ = vae.start_face(lab, "test face", 3, None)  # no data: the shipped sample's
    np.testing.assert_allclose(test_base, lab.store.encode_faces(
        load_sample("face").images[3:4])[0][0])


def test_vae_slider_values_are_checked(lab: LabContext) -> None:
    decode = user_errors(vae.decode_sliders)
    with pytest.raises(gr.Error, match="between -3 and 3"):
        decode(lab, None, 9, *[0] * (SLIDERS - 1))
    with pytest.raises(gr.Error, match="slider values"):
        decode(lab, None, 0)
    with pytest.raises(gr.Error, match="test face number"):
        user_errors(vae.start_face)(lab, "test face", 10_000, None)


def test_vae_reconstruction_random_grid_and_interpolation(lab: LabContext,
                                                          tmp_path: Path) -> None:
    uploads = [a_face(tmp_path, f"face{i}.png") for i in range(3)]
    panel, table = vae.reconstruct(lab, uploads, None, 0)
    assert panel.ndim == 3 and [row[0] for row in table] == ["face0.png", "face1.png",
                                                             "face2.png", "mean"]
    assert all(float(row[1]) >= 0 for row in table)
    grid = vae.random_faces(lab, 4, 32)
    np.testing.assert_array_equal(grid, vae.random_faces(lab, 4, 32))
    assert not np.array_equal(grid, vae.random_faces(lab, 5, 32))
    strip = vae.interpolate(lab, "random", 1, None, "upload", 0, uploads[0], 6)
    assert strip.shape[1] > 5 * strip.shape[0]


def test_gan_seeds_grid_interpolation_and_judge(lab: LabContext, tmp_path: Path) -> None:
    face = Path(gan.face(lab, 11))
    assert face.name == "gan-seed-11.png" and Image.open(face).width > 64
    picture, seeds = gan.grid(lab, 100, 32)
    assert seeds == ", ".join(str(s) for s in range(100, 132))
    np.testing.assert_array_equal(pixels(gan.from_seed_list(lab, seeds)[0]), pixels(picture))
    np.testing.assert_array_equal(pixels(gan.shared_seeds(lab, {"seeds": seeds})[0]),
                                  pixels(picture))
    strip, gif = gan.interpolate(lab, 1, 2, 5)
    assert strip.ndim == 3 and Image.open(gif).n_frames == 8
    seen, verdict = gan.judge(lab, a_face(tmp_path))
    assert seen.shape == (256, 256, 3) and "discriminator says" in verdict
    with pytest.raises(gr.Error, match="seed"):
        user_errors(gan.from_seed_list)(lab, "1, -2")
    with pytest.raises(gr.Error, match="between 1 and 64"):
        user_errors(gan.grid)(lab, 0, 65)


def sketch_of_a_one(background: int = 255, ink: int = 0) -> dict:
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[:, :, :3] = background
    canvas[:, :, 3] = 255
    canvas[40:240, 130:150, :3] = ink
    return {"background": None, "layers": [], "composite": canvas}


def test_digit_sketch_examples_and_uploads(lab: LabContext, files: dict[str, str]) -> None:
    seen, chart, table = digits.classify_sketch(lab, TASK, sketch_of_a_one())
    assert seen.shape == (168, 348, 3) and chart.ndim == 3
    assert len(table[0]) == len(digits.prediction_headers("image"))
    assert seen[:, 180:].max() > 200  # the model's view: a bright stroke on black
    digits.classify_sketch(lab, TASK, sketch_of_a_one(background=0, ink=255))
    _, _, table = digits.classify_example(lab, TASK, 3)
    assert table[0][0] == "mnistm test image 3, label 3"  # no data: the shipped sample
    assert len(digits.examples(lab, TASK)) == digits.EXAMPLES
    with pytest.raises(gr.Error, match="blank"):
        user_errors(digits.classify_sketch)(lab, TASK, sketch_of_a_one(ink=255))
    with pytest.raises(gr.Error, match="blank"):
        user_errors(digits.classify_sketch)(lab, TASK, None)
    with pytest.raises(gr.Error, match="task must be one of"):
        user_errors(digits.classify_example)(lab, "usps->svhn", 0)


def test_every_bad_image_gets_a_clear_message(lab: LabContext, files: dict[str, str]) -> None:
    classify = user_errors(digits.classify_uploads)
    for name, (_, expected) in bad_images().items():
        if expected is None:  # RGBA, 16-bit, palette, animated GIF: converted, then used
            _, _, table = classify(lab, TASK, [files[name]])
            assert table[0][0] == name
        else:
            with pytest.raises(gr.Error, match=expected):
                classify(lab, TASK, [files[name]])
    with pytest.raises(gr.Error, match="no file uploaded"):
        classify(lab, TASK, [])
    with pytest.raises(gr.Error, match="at most 32 files"):
        classify(lab, TASK, [files["rgba.png"]] * 33)
    with pytest.raises(gr.Error, match="too large"):
        user_errors(gan.judge)(lab, files["huge.png"])


def test_batch_csv_from_files_and_zip(lab: LabContext, tmp_path: Path,
                                      files: dict[str, str]) -> None:
    images, _ = render_digits("mnistm", 5)
    archive = tmp_path / "digits.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for i, image in enumerate(images):
            handle.writestr(f"nested/../{i:05d}.png", png_bytes(Image.fromarray(image)))
        handle.writestr("readme.txt", "not an image")
    path, summary = digits.batch_csv(lab, TASK, "dann", [str(archive), files["notes.png"]])
    lines = Path(path).read_text().splitlines()
    assert lines[0] == "image_name,label" and len(lines) == 6
    assert lines[1].startswith("00000.png,") and "Skipped 1" in summary
    with pytest.raises(gr.Error, match="method must be one of"):
        user_errors(digits.batch_csv)(lab, TASK, "magic", [str(archive)])
    bomb = tmp_path / "many.zip"
    with zipfile.ZipFile(bomb, "w") as handle:
        for i in range(limits.MAX_BATCH_FILES + 1):
            handle.writestr(f"{i}.png", b"")
    with pytest.raises(gr.Error, match="at most 500"):
        user_errors(digits.batch_csv)(lab, TASK, "dann", [str(bomb)])


def test_accuracy_table_and_feature_tsne(lab: LabContext) -> None:
    rows = digits.accuracy_table(lab)
    assert rows[1] == [TASK, "DANN", "50.0%", "90.0%", "manifest"]
    assert rows[len(METHODS)][:2] == ["mnistm->svhn", "Source only"]
    assert rows[len(METHODS)][-1] == "not trained"  # the lab's checkpoints: usps->mnistm only
    with pytest.raises(gr.Error, match="needs hw3_data"):
        user_errors(digits.accuracy_table)(lab, TASK)
    plot = digits.feature_tsne(lab, TASK, 60)
    columns = plot["hconcat"]  # one per method, its plots by class over by domain
    assert [c["vconcat"][1]["title"] for c in columns] == [
        f"{method.title} by domain" for method in METHODS.values()]
    rows = plot["data"]["values"]  # the digits once, with every method's coordinates
    assert len(rows) == 60 and {"x0", f"y{len(METHODS) - 1}", "class", "domain"} <= set(rows[0])
    assert rows[0]["image"].startswith("data:image/webp;base64,")


def test_interactive_tsne_is_cached_and_clicks_find_points(
        lab: LabContext, monkeypatch: pytest.MonkeyPatch) -> None:
    plot, embedded = tsne.run_tsne(lab, tsne.VAE_SPACE, 100, 20, "Smiling")
    def recomputed(*_: object, **__: object) -> None:
        raise AssertionError("a cached t-SNE setting was computed again")

    monkeypatch.setattr("sklearn.manifold.TSNE", recomputed)
    again, _ = tsne.run_tsne(lab, tsne.VAE_SPACE, 100, 20, "Smiling")
    assert again == plot
    monkeypatch.undo()
    row = plot["data"]["values"][17]  # what the point's tooltip shows
    assert row["point"] == 17 and row["labels"].startswith("test face 17: ")
    assert [row["x"], row["y"]] == pytest.approx(embedded.points[17], abs=1e-3)
    thumbnail = Image.open(io.BytesIO(base64.b64decode(row["image"].split(",", 1)[1])))
    assert thumbnail.size == (32, 32)  # the decoded face, halved
    face, caption = tsne.point_at(lab, embedded, row["point"])  # a click sends its number
    assert caption.startswith("Test face 17 (decoded latent): ")
    assert face.shape == (256, 256, 3)
    plot, embedded = tsne.run_tsne(lab, f"{TASK} adda", 60, 10, "domain")
    assert {r["group"] for r in plot["data"]["values"]} == {"source usps", "target mnistm"}
    digit, caption = tsne.point_at(lab, embedded, 45)
    assert digit.shape == (224, 224, 3) and caption == f"Point 45: {embedded.captions[45]}"
    for bad in (60, -1, "x", None, 1.5):
        with pytest.raises(gr.Error, match="point number"):
            user_errors(tsne.point_at)(lab, embedded, bad)
    with pytest.raises(gr.Error, match="perplexity"):
        user_errors(tsne.run_tsne)(lab, tsne.VAE_SPACE, 100, 500, "Smiling")
    with pytest.raises(gr.Error, match="colouring"):
        user_errors(tsne.run_tsne)(lab, tsne.VAE_SPACE, 100, 20, "class")
    with pytest.raises(gr.Error, match="draw a t-SNE plot first"):
        user_errors(tsne.point_at)(lab, None, 1)


def test_missing_checkpoints_degrade_to_a_message(tmp_path: Path) -> None:
    empty = LabContext(tmp_path / "none", tmp_path / "no-data")
    build_lab(empty)  # every tab still builds, on the atomic image cache
    assert processing_utils.save_pil_to_cache is gradio_cache.save_pil_to_cache
    with pytest.raises(gr.Error, match="No VAE checkpoint in .*python -m train.vae"):
        user_errors(vae.random_faces)(empty, 0, 4)
    with pytest.raises(gr.Error, match="No GAN checkpoint"):
        user_errors(gan.face)(empty, 0)
    with pytest.raises(gr.Error, match="No digit checkpoints for usps-mnistm"):
        user_errors(digits.classify_example)(empty, TASK, 0)
    with pytest.raises(gr.Error, match="No VAE checkpoint"):
        user_errors(tsne.run_tsne)(empty, tsne.VAE_SPACE, 100, 20, "Smiling")
    assert digits.accuracy_table(empty)[0][-1] == "not trained"


def test_gradios_image_cache_writes_each_picture_once(tmp_path: Path) -> None:
    """The lab's replacement of Gradio's image cache (what a gallery's pictures go through):
    the same picture again is served from its file, which is not rewritten in place, so a
    download in progress never reads a file being rewritten (Gradio's own cache rewrites it)."""
    image = Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3))
    first = Path(gradio_cache.save_pil_to_cache(image, str(tmp_path), "image", "png"))
    written = first.stat()
    again = Path(gradio_cache.save_pil_to_cache(image.copy(), str(tmp_path), "image", "png"))
    assert again == first and again.stat().st_ino == written.st_ino
    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(image))
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_changed_gradio_stops_the_lab_from_starting(monkeypatch: pytest.MonkeyPatch) -> None:
    def other(img: Image.Image, cache_dir: str, format: str = "png") -> str:
        return cache_dir

    monkeypatch.setattr(processing_utils, "save_pil_to_cache", other)
    with pytest.raises(gradio_cache.GradioChangedError, match="now takes .*review"):
        gradio_cache.atomic_gradio_image_cache()
    monkeypatch.delattr(processing_utils, "save_pil_to_cache")
    with pytest.raises(gradio_cache.GradioChangedError, match="is gone"):
        build_lab(LabContext(Path("none")))


def test_some_methods_missing_still_classifies(tmp_path: Path) -> None:
    partial = LabContext(make_checkpoints(tmp_path, ("source_only", "dann"), faces=False),
                         tmp_path / "no-data")
    _, _, table = digits.classify_example(partial, TASK, 0)
    assert table[0][3:] == ["no checkpoint"] * (len(METHODS) - 2) + ["-"]  # no own model
    columns = digits.feature_tsne(partial, TASK, 50)["hconcat"]
    assert [c.get("data", {}).get("values", [{}])[0].get("text") for c in columns] == [
        None, None] + ["no checkpoint"] * (len(METHODS) - 2)


def test_limits_parse_and_refuse() -> None:
    assert limits.parse_seed_list("1, 2 3") == [1, 2, 3]
    for bad in ("", "1.5", "x", " ".join(["1"] * 65), "99999999999"):
        with pytest.raises(limits.LimitError):
            limits.parse_seed_list(bad)
    for bad in (None, "nan", float("inf"), True, [1], -1):
        with pytest.raises(limits.LimitError):
            limits.SEED.check_int(bad, "the seed")
    assert limits.SEED.check_int("12", "the seed") == 12


def test_sketch_and_rendered_digits() -> None:
    first, labels = render_digits("svhn", 20, seed=3)
    np.testing.assert_array_equal(first, render_digits("svhn", 20, seed=3)[0])
    assert first.shape == (20, 28, 28, 3) and list(labels[:10]) == list(range(10))
    digit = sketch_digit(sketch_of_a_one()["composite"])
    assert digit.shape == (28, 28, 3) and digit[:4].max() == 0 and digit.max() > 200


def test_share_link_failure_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    from hw3lab.ui import app

    def offline(*_: object, **__: object) -> None:
        raise httpx.ConnectError("no network")

    monkeypatch.setattr(httpx, "get", offline)
    assert app.share_possible() is False
    with pytest.raises(SystemExit):
        app.parse_args(["--auth", "nopassword"])
    assert app.parse_args(["--auth", "u:p:q"]).auth == "u:p:q"


def test_pixels_of_bad_arrays_are_refused(lab: LabContext) -> None:
    with pytest.raises(gr.Error, match="too small"):
        user_errors(vae.reconstruct)(lab, None, np.zeros((1, 1, 3), np.uint8), 0)
    with pytest.raises(gr.Error, match="not an image"):
        user_errors(vae.reconstruct)(lab, None, np.zeros(5), 0)


@pytest.mark.real_data
def test_with_real_data_examples_latents_and_recomputed_accuracy(real_data: Path,
                                                                 tmp_path: Path) -> None:
    lab = LabContext(make_checkpoints(tmp_path, ("source_only",)), real_data)
    (tmp_path / "vae_latents.safetensors").unlink()  # built from the real test faces instead
    assert "test image" in digits.examples(lab, TASK)[0][1]
    panel, table = vae.reconstruct(lab, None, None, 10)
    assert len(table) == 11 and panel.shape[1] > panel.shape[0]
    _, embedded = tsne.run_tsne(lab, tsne.VAE_SPACE, 100, 20, "Male")
    face, _ = tsne.point_at(lab, embedded, 7)
    assert face.shape == (256, 512, 3)  # the real test face beside its decoded latent
    rows = digits.accuracy_table(lab, TASK)
    assert rows[0][-1] == "recomputed now" and rows[0][2].endswith("%")
