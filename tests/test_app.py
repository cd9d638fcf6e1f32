"""The lab end to end: the session's ``python app.py`` (tests/conftest.py), every tab's main
endpoint driven through ``gradio_client``, bad uploads answered with clear messages,
``--auth``, and ``--share`` without internet."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from hw3lab.data.examples import render_digits
from hw3lab.devtools.running_lab import running_lab
from hw3lab.lab.vae import SLIDER_COUNT
from tests.conftest import RunningLab
from tests.fixtures_ui import bad_images, picture

pytestmark = pytest.mark.slow

TASK = "usps->mnistm"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("uploads")
    images, _ = render_digits("usps", 3)
    for i, image in enumerate(images):
        Image.fromarray(image).save(directory / f"digit{i}.png")
    Image.new("RGB", (90, 120), (200, 150, 120)).save(directory / "face.jpg")
    with zipfile.ZipFile(directory / "batch.zip", "w") as archive:
        for i in range(3):
            archive.write(directory / f"digit{i}.png", f"folder/digit{i}.png")
    for name, (data, _) in bad_images().items():
        (directory / name).write_bytes(data)
    return directory


def is_image(output: object) -> bool:
    with picture(output) as image:
        return image.width > 10 and image.height > 10


def is_chart(plot: object, points: int) -> bool:
    """An interactive plot: the Vega-Lite spec of ``points`` points, each with a thumbnail."""
    assert isinstance(plot, dict) and plot.get("type") == "altair", plot
    rows = json.loads(plot["plot"])["data"]["values"]
    return len(rows) == points and all(r["image"].startswith("data:image/") for r in rows)


def test_vae_endpoints(client: Client, files: Path) -> None:
    assert is_image(client.predict("random", 3, None, api_name="/vae_start"))
    assert is_image(client.predict(*[0.5] * SLIDER_COUNT, api_name="/vae_decode"))
    panel, mse = client.predict([handle_file(files / "face.jpg")], None, 0,
                                api_name="/vae_reconstruct")
    assert is_image(panel) and mse["data"][0][0] == "face.jpg"
    assert is_image(client.predict(1, 8, api_name="/vae_random"))
    assert is_image(client.predict("random", 1, None, "upload", 0,
                                   handle_file(files / "face.jpg"), 4,
                                   api_name="/vae_interpolate"))
    assert is_chart(client.predict("VAE latents", 100, 20, "Smiling", api_name="/vae_tsne_run"),
                    100)


def test_gan_endpoints(client: Client, files: Path) -> None:
    face = client.predict(5, api_name="/gan_face")
    assert is_image(face) and face["orig_name"] == "gan-seed-5.png"  # what its download saves
    grid, seeds = client.predict(10, 32, api_name="/gan_grid")
    assert is_image(grid) and seeds.startswith("10, 11, 12")
    assert client.predict("4, 8", api_name="/gan_seeds")[1] == "4, 8"
    strip, gif = client.predict(1, 2, 4, api_name="/gan_interpolate")
    assert is_image(strip) and Image.open(gif).n_frames > 1
    seen, verdict = client.predict(handle_file(files / "face.jpg"), api_name="/gan_judge")
    assert is_image(seen) and "discriminator says" in verdict


def test_domain_adaptation_endpoints(client: Client, files: Path) -> None:
    sketch = {"background": None, "layers": [], "composite": handle_file(files / "digit1.png")}
    seen, chart, table = client.predict(TASK, sketch, api_name="/digits_sketch")
    assert is_image(seen) and is_image(chart) and table["data"][0][0] == "sketch"
    _, _, table = client.predict(TASK, [handle_file(files / f"digit{i}.png") for i in range(3)],
                                 api_name="/digits_upload")
    assert [row[0] for row in table["data"]] == ["digit0.png", "digit1.png", "digit2.png"]
    assert "label 2" in client.predict(TASK, 2, api_name="/digits_example")[2]["data"][0][0]
    accuracy = client.predict(api_name="/digits_accuracy")
    assert accuracy["data"][0][:3] == [TASK, "Source only", "50.0%"]
    assert is_chart(client.predict(TASK, 60, api_name="/digits_tsne"), 60)
    csv_path, summary = client.predict(TASK, "dann", [handle_file(files / "batch.zip")],
                                       api_name="/digits_batch")
    assert Path(csv_path).read_text().splitlines()[0] == "image_name,label"
    assert "Labelled 3" in summary


def test_interactive_tsne_endpoint(client: Client) -> None:
    assert is_chart(client.predict(f"{TASK} dann", 60, 10, "class", api_name="/tsne_run"), 60)


def test_models_endpoints(client: Client) -> None:
    card = client.predict("digits/usps-mnistm-dann", api_name="/model_card")
    assert card.startswith("### digits/usps-mnistm-dann") and "target test accuracy 50.00%" in card
    *_, note = client.predict("digits/usps-mnistm-dann", api_name="/model_curves")
    assert "keeps no per-epoch history" in note
    cards = client.predict(api_name="/model_cards")  # what fills the table on page load
    assert "digits/usps-mnistm-dann" in [row[0] for row in cards["data"]]


def test_bad_inputs_get_clear_messages(client: Client, files: Path) -> None:
    for name, (_, expected) in bad_images().items():
        if expected is None:
            continue
        with pytest.raises(AppError, match=expected):
            client.predict(TASK, [handle_file(files / name)], api_name="/digits_upload")
    blank = Image.new("RGBA", (280, 280), (255, 255, 255, 255))
    blank.save(files / "blank.png")
    sketch = {"background": None, "layers": [], "composite": handle_file(files / "blank.png")}
    with pytest.raises(AppError, match="blank"):
        client.predict(TASK, sketch, api_name="/digits_sketch")
    (files / "big.png").write_bytes(os.urandom(11 * 2**20))
    with pytest.raises(Exception, match="(?i)size|large|413"):
        client.predict(TASK, [handle_file(files / "big.png")], api_name="/digits_upload")
    with pytest.raises(AppError, match="64"):  # Gradio or our check, both clear
        client.predict(0, 1000, api_name="/gan_grid")
    assert is_image(client.predict(5, api_name="/gan_face"))  # still serving


def test_auth_refuses_anonymous_clients(running: RunningLab) -> None:
    with pytest.raises(Exception, match="(?i)login|auth|401|credentials"):
        Client(running.url, verbose=False)


def test_pictures_come_inline_and_leave_no_file(client: Client, running: RunningLab) -> None:
    """The lab's pictures are answered inside the event (hw3lab.ui.widgets.inline_png): a
    request writes nothing to Gradio's cache, and the browser fetches nothing more."""
    client.predict(424242, api_name="/gan_face")
    before = {path for path in running.gradio_cache.rglob("*") if path.is_file()}
    face = client.predict(424243, api_name="/gan_face")
    seen, chart, _ = client.predict(TASK, 3, api_name="/digits_example")
    assert all(is_image(output) for output in (face, seen, chart))
    after = {path for path in running.gradio_cache.rglob("*") if path.is_file()}
    assert {path.name for path in after - before} <= {"gan-seed-424243.png"}  # the lab's own


def test_share_without_internet_keeps_serving_locally(tmp_path: Path) -> None:
    with running_lab("--checkpoints", str(tmp_path), "--share") as (url, log, _):
        client = Client(url, verbose=False)
        with pytest.raises(AppError, match="No GAN checkpoint"):
            client.predict(1, api_name="/gan_face")
        output = log.read_text()
    public = "Running on public URL" in output
    assert public or output.count("No public link") == 1, output


def test_nothing_about_the_server_reaches_a_visitor(client: Client, running: RunningLab,
                                                   lab_checkpoints: Path) -> None:
    """The served page and every error message name the lab's folders by their public names
    (issue 12: a shared link reaches anyone)."""
    import httpx

    from hw3lab.lab.context import PROJECT
    from tests.conftest import AUTH

    private = {str(PROJECT), os.path.realpath(lab_checkpoints), str(lab_checkpoints),
               str(Path.home())}
    with httpx.Client(base_url=running.url, timeout=60) as http:
        http.post("login", data={"username": AUTH[0], "password": AUTH[1]}).raise_for_status()
        pages = [http.get(path).text for path in ("", "config", "gradio_api/info")]
    assert not [p for p in private if any(p in page for page in pages)]
    assert f"`{lab_checkpoints.name}`" in pages[1]
    messages = []
    for endpoint, arguments in client.view_api(return_format="dict",
                                               print_info=False)["named_endpoints"].items():
        count = len(arguments["parameters"])
        for values in ([None] * count, ["mnistm->svhn"] + [1] * (count - 1))[:1 + (count > 0)]:
            try:
                client.predict(*values, api_name=endpoint)
            except AppError as error:
                messages.append(f"{endpoint}: {error}")
    for endpoint, arguments in (("/tsne_run", ("svhn->usps dann", 100, 20, "class")),
                                ("/digits_batch", ("svhn->usps", "dann", None)),
                                ("/digits_example", ("mnistm->svhn", 0))):
        with pytest.raises(AppError) as caught:
            client.predict(*arguments, api_name=endpoint)
        messages.append(str(caught.value))
    assert any(f"{lab_checkpoints.name}/digits" in message for message in messages)
    assert not [m for m in messages if any(p in m for p in private)]


def test_training_timelines_answer_a_stage(client: Client) -> None:
    """The three stage endpoints of the Training tab, on the session lab's timelines."""
    chart, decoded, caption = client.predict(1, "Smiling", api_name="/vae_timeline")
    assert is_image(decoded) and "epoch 4" in caption
    assert json.loads(chart["plot"])["title"].endswith("epoch 4")
    faces, curves, caption = client.predict(2, api_name="/gan_timeline")
    assert is_image(faces) and "stage 3 of 3" in caption
    chart, curves, caption = client.predict(TASK, "dann", 0, api_name="/digits_timeline")
    assert "**dann on usps->mnistm** after epoch 2" in caption
    with pytest.raises(AppError, match="stage"):
        client.predict(7, api_name="/gan_timeline")
