"""The lab in a real browser (Debian chromium through Playwright): switch tabs, move a slider,
draw and upload digits, upload your own model, see the Models tab; images must change, and
the page fetches nothing from anywhere but the lab (no CDN). Saves screenshots to
``$HW3LAB_SCREENSHOTS`` (default runs/screenshots/, git-ignored; the README's pictures in
docs/screenshots/ come from ``HW3LAB_SCREENSHOTS=docs/screenshots``). Skipped only where
chromium is absent."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import torch
from PIL import Image

from hw3lab.data.examples import render_digits
from tests import homework_reference as homework
from tests.conftest import AUTH, RunningLab
from tests.running_lab import ROOT

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(os.environ.get("HW3LAB_SCREENSHOTS") or ROOT / "runs" / "screenshots")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update"]
TIMEOUT_MS = 30_000
REQUESTED: list[str] = []  # every URL the page asks for, checked to be the lab's own

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="Debian chromium is not installed"),
]


@pytest.fixture(scope="module")
def page(running: RunningLab) -> Iterator:
    """A browser page on the session's lab, logged in (the login form's own request)."""
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.set_default_timeout(TIMEOUT_MS)
        page.on("request", lambda request: REQUESTED.append(request.url))
        login = page.context.request.post(running.url + "login",
                                          form={"username": AUTH[0], "password": AUTH[1]})
        assert login.ok, login.status
        page.goto(running.url)
        page.get_by_text("hw3lab: VAE, DCGAN and domain adaptation").wait_for()
        yield page
        browser.close()


def image_source(page, selector: str) -> str:  # noqa: ANN001 - a Playwright page
    """The ``src`` of the image inside ``selector`` once it has one."""
    image = page.locator(f"{selector} img").first
    image.wait_for(state="visible")
    return image.get_attribute("src") or ""


def changed_source(page, selector: str, before: str) -> str:  # noqa: ANN001
    """Wait until the image inside ``selector`` shows something other than ``before``."""
    page.wait_for_function(
        """([selector, before]) => {
            const image = document.querySelector(selector + ' img');
            return image && image.src && image.src !== before;
        }""", arg=[selector, before])
    return image_source(page, selector)


def open_tab(page, name: str) -> None:  # noqa: ANN001
    page.get_by_role("tab", name=name, exact=True).first.click()


def shoot(page, name: str) -> None:  # noqa: ANN001
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


def test_vae_slider_changes_the_face(page) -> None:  # noqa: ANN001
    open_tab(page, "VAE")
    page.get_by_role("button", name="Start", exact=True).click()
    first = image_source(page, "#vae-face")
    page.locator("#vae-slider-0 input[type=range]").fill("2.5")
    changed_source(page, "#vae-face", first)
    shoot(page, "vae-sliders.png")


def test_gan_seed_gives_a_face(page) -> None:  # noqa: ANN001
    open_tab(page, "GAN")
    page.get_by_role("button", name="Show", exact=True).click()
    first = image_source(page, "#gan-face")
    page.locator("#gan-seed input").fill("42")
    page.get_by_role("button", name="Show", exact=True).click()
    changed_source(page, "#gan-face", first)
    shoot(page, "gan-seed.png")


def test_draw_and_upload_a_digit(page, tmp_path: Path) -> None:  # noqa: ANN001
    open_tab(page, "Domain adaptation")
    page.locator("#digit-sketch button[aria-label=Brush]").click()
    canvas = page.locator("#digit-sketch canvas").first
    canvas.wait_for(state="visible")
    box = canvas.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x, y + step * box["height"] * 0.06)
    page.mouse.up()
    page.locator("#classify-sketch").click()
    image_source(page, "#digit-chart")
    drawn = image_source(page, "#digit-seen")
    shoot(page, "digits-sketch.png")
    image, _ = render_digits("usps", 4)
    path = tmp_path / "three.png"
    Image.fromarray(image[3]).save(path)
    page.get_by_role("tab", name="Upload", exact=True).click()
    page.locator("#digit-upload input[type=file]").set_input_files(str(path))
    changed_source(page, "#digit-seen", drawn)
    shoot(page, "digits-upload.png")


def test_your_model_uploads(page, tmp_path: Path) -> None:  # noqa: ANN001
    torch.manual_seed(0)
    files = [tmp_path / "extractor.pth", tmp_path / "predictor.pth"]
    torch.save(homework.Extractor().state_dict(), files[0])
    torch.save(homework.Predictor().state_dict(), files[1])
    open_tab(page, "Domain adaptation")
    page.get_by_text("Your own model: compare it with the shipped ones").click()
    page.locator("#own-digits-upload input[type=file]").set_input_files([str(f) for f in files])
    page.get_by_text("for this session only").wait_for()
    shoot(page, "digits-own-model.png")


def test_models_tab_fills_on_load(page) -> None:  # noqa: ANN001
    open_tab(page, "Models")
    page.locator("#model-cards").get_by_text("digits/usps-mnistm-dann").first.wait_for()
    page.get_by_text("keeps no per-epoch history").first.wait_for()
    shoot(page, "models.png")


def test_tsne_click_shows_a_point(page) -> None:  # noqa: ANN001
    open_tab(page, "Interactive t-SNE")
    page.get_by_role("button", name="Draw t-SNE").click()
    image_source(page, "#tsne-plot")
    page.locator("#tsne-plot img").click(position={"x": 200, "y": 200})
    page.get_by_text("(decoded latent)").first.wait_for()
    shoot(page, "tsne.png")


def test_nothing_is_fetched_from_elsewhere(page, running: RunningLab) -> None:  # noqa: ANN001
    lab = urlparse(running.url).netloc
    foreign = {url for url in REQUESTED if urlparse(url).scheme in ("http", "https", "ws", "wss")
               and urlparse(url).netloc != lab}
    assert REQUESTED and not foreign, sorted(foreign)[:5]
