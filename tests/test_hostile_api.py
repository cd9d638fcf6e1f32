"""A shared lab under hostile use, through its API: every endpoint answers out-of-range,
wrong-typed, huge and malformed arguments with a clear message (never a stack trace or a bare
"Error") and keeps serving; ``--auth`` refuses anonymous calls; no file outside the lab's own
folders is served, whatever the path looks like.

The session's one lab (tests/conftest.py: random small checkpoints, no data, behind ``--auth``)
serves every test.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from hw3lab import limits
from hw3lab.data.examples import render_digits
from hw3lab.lab.vae import SLIDER_COUNT
from tests.conftest import AUTH, RunningLab
from tests.fixtures_ui import bad_images, picture

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

TASK = "usps->mnistm"
# Sent wherever a number is expected (NaN and infinities go as JSON literals: see test_nan_...).
NUMBERS: list[Any] = ["abc", None, "nan", "-inf", "", -5, 10**30, 10**400, "9" * 100_000,
                      [1, 2], {"a": 1}]
# Sent wherever a task, method, feature space, colouring or starting face is expected.
CHOICES: list[Any] = ["nope", 12, None, "x" * 100_000, [TASK]]
GENERIC = {"", "error", "none", "an error occurred."}


def sketch(path: Path | None) -> dict[str, Any]:
    return {"background": None, "layers": [],
            "composite": None if path is None else handle_file(path)}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("hostile")
    digit, _ = render_digits("usps", 1)
    Image.fromarray(digit[0]).save(directory / "digit.png")
    Image.new("RGB", (90, 120), (200, 150, 120)).save(directory / "face.jpg")
    for name, (data, _) in bad_images().items():
        (directory / name).write_bytes(data)
    (directory / "truncated.png").write_bytes((directory / "digit.png").read_bytes()[:60])
    (directory / "garbage.zip").write_bytes(os.urandom(2000))
    with zipfile.ZipFile(directory / "many.zip", "w") as archive:
        for i in range(limits.MAX_BATCH_FILES + 1):
            archive.writestr(f"d{i}.png", b"x")
    with zipfile.ZipFile(directory / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("big.png", bytes(limits.MAX_ZIP_BYTES + 1))
    with zipfile.ZipFile(directory / "escape.zip", "w") as archive:
        archive.writestr("../../escape.png", (directory / "digit.png").read_bytes())
    return directory


@pytest.fixture(scope="module")
def lab(running: RunningLab) -> str:
    return running.url


@pytest.fixture(scope="module")
def http(lab: str) -> Iterator[httpx.Client]:
    """Plain HTTP with the login cookie, for what gradio_client cannot send."""
    with httpx.Client(base_url=lab, timeout=60) as session:
        session.post("login", data={"username": AUTH[0], "password": AUTH[1]}).raise_for_status()
        yield session


def refused(client: Client, endpoint: str, *args: Any) -> str:
    """The message of the error ``endpoint`` answers ``args`` with; fails if it succeeds or the
    message is not one a user can act on."""
    with pytest.raises(AppError) as caught:
        client.predict(*args, api_name=endpoint)
    message = str(caught.value)
    assert_clear(message, f"{endpoint}{tuple(str(a)[:30] for a in args)}")
    return message


def assert_clear(message: str, what: str) -> None:
    assert message.strip().lower() not in GENERIC, f"{what}: generic error {message!r}"
    assert "Traceback" not in message and 'File "' not in message, f"{what}: {message}"
    assert len(message) < 600, f"{what}: a {len(message)}-character message"


def still_serves(client: Client) -> None:
    assert picture(client.predict(1, api_name="/gan_face")).width > 10


ENDPOINTS: dict[str, tuple[list[Any], list[int], list[int]]] = {
    # endpoint: (valid arguments, positions of numbers, positions of choices)
    "/vae_decode": ([0.0] * SLIDER_COUNT, [0, SLIDER_COUNT - 1], []),
    "/vae_start": (["random", 3, None], [1], [0]),
    "/vae_random": ([0, 4], [0, 1], []),
    "/vae_interpolate": (["random", 1, None, "random", 2, None, 4], [1, 4, 6], [0, 3]),
    "/vae_tsne_run": (["VAE latents", 100, 20, "Smiling"], [1, 2], [0, 3]),
    "/gan_face": ([1], [0], []),
    "/gan_grid": ([0, 4], [0, 1], []),
    "/gan_interpolate": ([1, 2, 4], [0, 1, 2], []),
    "/digits_example": ([TASK, 1], [1], [0]),
    "/digits_recompute": ([TASK], [], [0]),
    "/digits_tsne": ([TASK, 60], [1], [0]),
    "/digits_batch": ([TASK, "dann", None], [], [0, 1]),
    "/tsne_run": ([f"{TASK} dann", 60, 10, "class"], [1, 2], [0, 3]),
    "/model_card": (["digits/usps-mnistm-dann"], [], [0]),
    "/model_curves": (["digits/usps-mnistm-dann"], [], [0]),
}


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_numbers_and_choices(client: Client, files: Path, endpoint: str) -> None:
    valid, numbers, choices = ENDPOINTS[endpoint]
    if endpoint == "/digits_batch":
        valid = [TASK, "dann", [handle_file(files / "digit.png")]]
    for position, values in [(p, NUMBERS) for p in numbers] + [(p, CHOICES) for p in choices]:
        for value in values:
            arguments = list(valid)
            arguments[position] = value
            refused(client, endpoint, *arguments)
    still_serves(client)


def test_seed_lists(client: Client) -> None:
    for text in [None, "", "   ", "-1, 2", "1.5", "1e9999", "1 " * 100_000, "x" * 100_000, [1],
                 {"seeds": 1}, "2147483648"]:
        refused(client, "/gan_seeds", text)
    assert client.predict("4, 8", api_name="/gan_seeds")[1] == "4, 8"


def test_malformed_images_everywhere(client: Client, files: Path) -> None:
    cases = {name: expected for name, (_, expected) in bad_images().items() if expected}
    cases["truncated.png"] = "not a readable image"
    for name, expected in cases.items():
        upload = handle_file(files / name)
        for endpoint, arguments in [("/digits_upload", (TASK, [upload])),
                                    ("/gan_judge", (upload,)),
                                    ("/vae_start", ("upload", 0, upload)),
                                    ("/vae_reconstruct", ([upload], None, 0))]:
            assert expected in refused(client, endpoint, *arguments), (endpoint, name)
    for name in ("notes.png", "empty.png", "dot.png"):  # Gradio decodes a sketch itself
        refused(client, "/digits_sketch", TASK, sketch(files / name))
    refused(client, "/digits_sketch", TASK, sketch(None))
    for value in (None, 12, "sketch", {"composite": 5}, [1, 2]):
        refused(client, "/digits_sketch", TASK, value)
    for value in (None, 12, "/etc/passwd", {"path": "/etc/passwd"}):
        refused(client, "/gan_judge", value)
        refused(client, "/digits_upload", TASK, value)
        refused(client, "/vae_reconstruct", value, None, 0)
    refused(client, "/vae_reconstruct", None, {"path": "x"}, 0)
    still_serves(client)


def test_file_counts_and_zips(client: Client, files: Path, http: httpx.Client) -> None:
    digit = handle_file(files / "digit.png")
    too_many = [digit] * (limits.MAX_UPLOAD_FILES + 1)
    assert "at most" in refused(client, "/digits_upload", TASK, too_many)
    assert "at most" in refused(client, "/vae_reconstruct", too_many, None, 0)
    assert "no file" in refused(client, "/digits_upload", TASK, [])
    for name, expected in [("garbage.zip", "not a readable zip"), ("many.zip", "at most"),
                           ("bomb.zip", "unpacks to more than")]:
        assert expected in refused(client, "/digits_batch", TASK, "dann",
                                   [handle_file(files / name)])
    csv_path, _ = client.predict(TASK, "dann", [handle_file(files / "escape.zip")],
                                 api_name="/digits_batch")
    assert Path(csv_path).read_text().splitlines()[1].startswith("escape.png,")
    assert not (files.parent.parent / "escape.png").exists()
    # A batch of MAX_BATCH_FILES + 1 entries, all naming one uploaded file (cheap to send).
    uploaded = http.post("gradio_api/upload",
                         files={"files": ("digit.png", (files / "digit.png").read_bytes())})
    path = uploaded.json()[0]
    batch = [{"path": path, "meta": {"_type": "gradio.FileData"}}] * (limits.MAX_BATCH_FILES + 1)
    event, message = raw_call(http, "digits_batch", json.dumps({"data": [TASK, "dann", batch]}))
    assert event == "error" and "at most" in message
    still_serves(client)


def raw_call(http: httpx.Client, endpoint: str, body: str) -> tuple[str, str]:
    """POST ``body`` as written (so NaN and Infinity can be sent) to an endpoint; the last event
    of its answer and that event's message or data."""
    answer = http.post(f"gradio_api/call/{endpoint}", content=body,
                       headers={"Content-Type": "application/json"})
    answer.raise_for_status()
    stream = http.get(f"gradio_api/call/{endpoint}/{answer.json()['event_id']}").text
    event = [line[7:] for line in stream.splitlines() if line.startswith("event: ")][-1]
    data = json.loads([line[6:] for line in stream.splitlines() if line.startswith("data: ")][-1])
    return event, data.get("error") if isinstance(data, dict) else json.dumps(data)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_and_infinity_in_raw_json(http: httpx.Client, client: Client, literal: str) -> None:
    for endpoint, arguments in [("gan_face", [literal]), ("gan_grid", ["0", literal]),
                                ("vae_decode", [literal] * SLIDER_COUNT),
                                ("tsne_run", [json.dumps("VAE latents"), "100", literal,
                                              json.dumps("Smiling")])]:
        event, message = raw_call(http, endpoint, '{"data": [' + ", ".join(arguments) + "]}")
        assert event == "error", (endpoint, literal, message)
        assert_clear(message, f"{endpoint}({literal})")
        assert "must be" in message
    still_serves(client)


def test_auth_refuses_calls_without_credentials(lab: str, client: Client) -> None:
    with httpx.Client(base_url=lab, timeout=30) as anonymous:
        assert anonymous.post("gradio_api/call/gan_face", json={"data": [1]}).status_code == 401
        assert anonymous.get("config").status_code == 401
        wrong = anonymous.post("login", data={"username": AUTH[0], "password": "guess"})
        assert wrong.status_code >= 400
        assert anonymous.post("gradio_api/call/gan_face", json={"data": [1]}).status_code == 401
    with pytest.raises(Exception, match="(?i)login|auth|401|credentials"):
        Client(lab, verbose=False)
    with pytest.raises(Exception, match="(?i)login|auth|401|credentials"):
        Client(lab, auth=(AUTH[0], "guess"), verbose=False)
    still_serves(client)


SECRET_PATHS = ["/etc/passwd", "/proc/self/environ", str(Path(__file__).resolve()),
                str(Path(__file__).resolve().parent.parent / "app.py")]


def file_routes(path: str) -> Iterator[str]:
    """The ways a path can be asked for through Gradio's file routes."""
    encoded = path.replace("/", "%2F")
    escape = "../../../../../.." + path
    for prefix in ("gradio_api/file=", "file=", "gradio_api/file%3D", "static/", "assets/",
                   "gradio_api/static/", "gradio_api/file=/tmp/gradio/"):
        yield from (prefix + path, prefix + encoded, prefix + escape,
                    prefix + escape.replace("../", "%2e%2e%2f"), prefix + "..%2F" * 6 + path)


def test_no_file_outside_the_lab_is_served(http: httpx.Client, client: Client) -> None:
    for secret in SECRET_PATHS:
        content = Path(secret).read_bytes()[:40]
        for route in file_routes(secret):
            answer = http.get(route)
            assert answer.status_code in (400, 403, 404), (route, answer.status_code)
            assert not content or content not in answer.content, route
        event, message = raw_call(http, "gan_judge", json.dumps(
            {"data": [{"path": secret, "meta": {"_type": "gradio.FileData"}}]}))
        assert event == "error" and "not uploaded" in message.replace("was not", "not"), message
    # The lab's own outputs are served (the refusals above are not just a broken route); the
    # server's path, from a raw call (gradio_client hands back its own downloaded copy).
    event, outputs = raw_call(http, "gan_interpolate", '{"data": [1, 2, 4]}')
    assert event == "complete", outputs
    served = http.get("gradio_api/file=" + json.loads(outputs)[1]["path"])  # the GIF
    assert served.status_code == 200 and Image.open(io.BytesIO(served.content)).width > 10
