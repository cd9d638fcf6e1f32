"""The lab in a real browser (Debian chromium through Playwright): switch tabs, move a slider,
draw and upload digits, upload your own digit model (its predictions fill the 'your model'
column) and GAN, hover and click the interactive t-SNE plots (a thumbnail in the tooltip, the
clicked point shown large, the wheel zooms), see the Models tab; images must change, and the
page fetches nothing from anywhere but the lab (no CDN). Saves screenshots to
``$HW3LAB_SCREENSHOTS`` (default runs/screenshots/, git-ignored; the README's pictures in
docs/screenshots/ come from ``python -m hw3lab.devtools.screenshots``, the shipped
checkpoints). Skipped only where chromium is absent."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import torch
from PIL import Image

from hw3lab.data.examples import render_digits
from hw3lab.devtools.browser import (
    CHROMIUM,
    FLAGS,
    POINT_PATHS,
    changed_source,
    hover_a_point,
    image_source,
    open_tab,
)
from hw3lab.devtools.running_lab import ROOT
from hw3lab.models import Discriminator, Generator
from tests import homework_reference as homework
from tests.conftest import AUTH, RunningLab

SHOTS = Path(os.environ.get("HW3LAB_SCREENSHOTS") or ROOT / "runs" / "screenshots")
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
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        except Exception as error:  # noqa: BLE001 - say which browser, and why, in one line
            pytest.fail(f"{chromium_version()} at {CHROMIUM} does not start under Playwright "
                        f"{playwright_version()}: {str(error).splitlines()[0]}")
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


def chromium_version() -> str:
    """What ``chromium --version`` prints (the browser the tests drive)."""
    try:
        return subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True,
                              timeout=30).stdout.strip() or "chromium (no version printed)"
    except (OSError, subprocess.SubprocessError) as error:
        return f"chromium (--version failed: {error})"


def playwright_version() -> str:
    from importlib.metadata import version

    return version("playwright")


def shoot(page, name: str) -> None:  # noqa: ANN001
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name))


def drawn_size(page, selector: str) -> tuple[float, float]:  # noqa: ANN001
    """The size the image inside ``selector`` is drawn at (its box, less object-fit's
    margins), and that it is upscaled without blur."""
    return page.eval_on_selector(f"{selector} img", """image => {
        const box = image.getBoundingClientRect();
        const scale = Math.min(box.width / image.naturalWidth, box.height / image.naturalHeight);
        if (getComputedStyle(image).imageRendering !== 'pixelated') return [0, 0];
        return [image.naturalWidth * scale, image.naturalHeight * scale];
    }""")


SEED_LIST = "#gan-seed-list textarea"


def new_visitor(page, url: str):  # noqa: ANN001, ANN201 - Playwright objects
    """A page of a browser that has not seen the lab (its own context), logged in."""
    context = page.context.browser.new_context(viewport={"width": 1200, "height": 900})
    login = context.request.post(url + "login", form={"username": AUTH[0],
                                                      "password": AUTH[1]})
    assert login.ok, login.status
    visitor = context.new_page()
    visitor.set_default_timeout(TIMEOUT_MS)
    return visitor


def test_every_tab_shows_a_result_on_first_load(page, running: RunningLab  # noqa: ANN001
                                                ) -> None:
    """A fresh page, nothing pressed: every tab shows its first view, computed when the lab
    started, and opening the page sends the lab no event."""
    fresh = new_visitor(page, running.url)
    sent: list[str] = []
    fresh.on("request", lambda request: sent.append(f"{request.method} {request.url}"))
    fresh.goto(running.url)
    assert image_source(fresh, "#vae-face").startswith("data:image/png")  # inside the page
    assert min(drawn_size(fresh, "#vae-face")) >= 192
    open_tab(fresh, "GAN")
    image_source(fresh, "#gan-face")
    assert min(drawn_size(fresh, "#gan-face")) >= 192
    fresh.get_by_role("tab", name="Attribute sliders", exact=True).click()
    assert min(drawn_size(fresh, "#gan-edited")) >= 192
    fresh.get_by_role("tab", name="Grid", exact=True).click()
    image_source(fresh, "#gan-grid")
    assert fresh.locator(SEED_LIST).input_value() == ", ".join(str(s) for s in range(32))
    open_tab(fresh, "Domain adaptation")
    image_source(fresh, "#digit-chart")
    assert min(drawn_size(fresh, "#digit-seen")) >= 150  # two digits side by side, 28 px each
    for table, text in (("#digit-table", "mnistm test image 0"),
                        ("#digit-accuracy", "usps->mnistm")):  # the accuracy table: open
        fresh.wait_for_function("""([table, text]) => [...document.querySelectorAll(
            table + ' tbody tr')].some((row) => row.offsetParent !== null
                                       && row.textContent.includes(text))""", arg=[table, text])
    # the sketchpad is ready to draw: its brush is chosen, no "select the draw tool"
    fresh.wait_for_function("""() => {
        const brush = document.querySelector('#digit-sketch button[aria-label="Brush"]');
        return brush && brush.classList.contains('highlight');
    }""")
    assert fresh.get_by_text("select the draw tool to start").count() == 0
    shoot(fresh, "digits-first-view.png")
    open_tab(fresh, "Interactive t-SNE")  # the default view, drawn with its points
    fresh.locator(f"#tsne-plot {POINT_PATHS}").first.wait_for(state="attached")
    shoot(fresh, "tsne-first-view.png")
    open_tab(fresh, "Training")  # opens on the first model with a timeline: here the VAE's
    fresh.locator(f"#vae-timeline-plot {POINT_PATHS}").first.wait_for(state="attached")
    image_source(fresh, "#vae-timeline-faces")
    open_tab(fresh, "Models")
    fresh.locator("#model-cards").get_by_text("digits/usps-mnistm-dann").first.wait_for()
    events = [request for request in sent if "/queue/join" in request or "/call/" in request]
    assert events == [], events
    fresh.context.close()


def test_shared_seeds_in_the_url_open_the_grid(page, running: RunningLab) -> None:  # noqa: ANN001
    shared = new_visitor(page, running.url)
    shared.goto(running.url + "?seeds=7,8,9")
    open_tab(shared, "GAN")
    shared.get_by_role("tab", name="Grid", exact=True).click()
    shared.wait_for_function("(selector) => document.querySelector(selector).value === "
                             "'7, 8, 9'", arg=SEED_LIST)
    shared.context.close()


def test_vae_slider_changes_the_face(page) -> None:  # noqa: ANN001
    open_tab(page, "VAE")
    opening = image_source(page, "#vae-face")  # the mean latent's face, from the start
    page.get_by_role("button", name="Start", exact=True).click()
    first = changed_source(page, "#vae-face", opening)  # seed 0's random latent
    page.locator("#vae-slider-0 input[type=range]").fill("2.5")
    changed_source(page, "#vae-face", first)
    shoot(page, "vae-sliders.png")


def test_gan_seed_gives_a_face(page) -> None:  # noqa: ANN001
    open_tab(page, "GAN")
    first = image_source(page, "#gan-face")  # seed 0's face, there from the start
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


def wait_for_row(page, name: str, own_suffix: str) -> None:  # noqa: ANN001
    """Wait until the predictions' first row is ``name``'s (its first cell starts so) and its
    'your model' cell ends with ``own_suffix``. (Read from the rows' textContent: Gradio's
    table keeps its first row in a hidden sizing table too.)"""
    page.wait_for_function("""([name, suffix]) => [...document.querySelectorAll(
            '#digit-table tbody tr')].some((row) => {
        const cells = [...row.querySelectorAll('td')];
        return cells.length > 1 && cells[0].textContent.trim().startsWith(name)
            && cells[cells.length - 1].textContent.trim().endsWith(suffix);
    })""", arg=[name, own_suffix])


def test_your_model_fills_its_column(page, tmp_path: Path) -> None:  # noqa: ANN001
    """The 'your model' column stayed '-' in the browser: a digit classified before the upload
    kept it, and so did one classified while the model was still loading (an event reads the
    session's state when it starts). Now the shown digit is classified again once the model
    has loaded, and every digit after it includes the model."""
    open_tab(page, "Domain adaptation")
    page.get_by_role("tab", name="Upload", exact=True).click()
    image, _ = render_digits("usps", 4)
    digit = tmp_path / "digit3.png"
    Image.fromarray(image[3]).save(digit)
    page.locator("#digit-upload input[type=file]").set_input_files(str(digit))
    wait_for_row(page, "digit3.png", "-")  # no model of yours yet
    torch.manual_seed(0)
    files = [tmp_path / "extractor.pth", tmp_path / "predictor.pth"]
    torch.save(homework.Extractor().state_dict(), files[0])
    torch.save(homework.Predictor().state_dict(), files[1])
    page.get_by_text("Your own model: compare it with the shipped ones").click()
    page.locator("#own-digits-upload input[type=file]").set_input_files([str(f) for f in files])
    page.locator("#own-digits-status").get_by_text("Loaded").wait_for()
    wait_for_row(page, "digit3.png", "%)")  # the digit shown, classified again
    page.get_by_role("tab", name="Examples", exact=True).click()
    page.locator("#digit-example-number input").fill("2")
    page.locator("#digit-example-number input").press("Enter")
    wait_for_row(page, "mnistm test image 2,", "%)")  # the next digit: with your model
    shoot(page, "digits-own-model.png")


def test_your_gan_uploads_beside_the_shipped_one(page, tmp_path: Path) -> None:  # noqa: ANN001
    torch.manual_seed(0)
    files = [tmp_path / "G.pth", tmp_path / "D.pth"]
    torch.save(Generator(0.125).state_dict(), files[0])
    torch.save(Discriminator(0.125).state_dict(), files[1])
    open_tab(page, "GAN")
    page.get_by_role("button", name="Show", exact=True).first.click()
    alone = image_source(page, "#gan-face")
    page.get_by_text("Your own GAN: compare it with the shipped one").click()
    page.locator("#own-gan-upload input[type=file]").set_input_files([str(f) for f in files])
    page.locator("#own-gan-status").get_by_text("Loaded").wait_for()
    page.get_by_role("button", name="Show", exact=True).first.click()
    both = changed_source(page, "#gan-face", alone)
    heights = page.evaluate("""([a, b]) => Promise.all([a, b].map((src) => new Promise((done) => {
        const image = new Image(); image.onload = () => done(image.naturalHeight);
        image.src = src; })))""", [alone, both])
    assert heights[1] > 2 * heights[0]  # the same seed's face by your generator, underneath
    shoot(page, "gan-own-model.png")


def test_models_tab_fills_on_load(page) -> None:  # noqa: ANN001
    open_tab(page, "Models")
    page.locator("#model-cards").get_by_text("digits/usps-mnistm-dann").first.wait_for()
    page.get_by_text("keeps no per-epoch history").first.wait_for()
    shoot(page, "models.png")


def tooltip_thumbnail(page) -> tuple[str, int, int]:  # noqa: ANN001
    """The tooltip's picture (its data: URI and its decoded width) and its point number."""
    image = page.locator("#vg-tooltip-element.visible img")
    image.wait_for(state="visible")
    source = image.get_attribute("src") or ""
    width = page.evaluate("() => document.querySelector('#vg-tooltip-element img').naturalWidth")
    point = page.locator("#vg-tooltip-element tr").filter(has_text="point").locator("td.value")
    return source, width, int(point.inner_text())


def test_tsne_hover_shows_a_thumbnail_and_a_click_keeps_it(page) -> None:  # noqa: ANN001
    open_tab(page, "Interactive t-SNE")
    page.get_by_role("button", name="Draw t-SNE").click()
    x, y = hover_a_point(page, "#tsne-plot")
    source, width, point = tooltip_thumbnail(page)
    assert source.startswith("data:image/webp;base64,") and width == 32  # the decoded face
    shoot(page, "tsne-hover.png")
    page.mouse.click(x, y)
    page.locator("#tsne-point img").wait_for(state="visible")
    page.get_by_text(f"Test face {point} (decoded latent)").first.wait_for()
    assert page.locator("#tsne-point-number input").input_value() == str(point)
    chart = page.locator("#tsne-plot .vega-embed svg").first
    before = chart.inner_html()
    page.mouse.move(x, y)
    page.mouse.wheel(0, -400)  # zoom in around the point: the points move
    page.wait_for_function("""([selector, before]) =>
        document.querySelector(selector).innerHTML !== before""",
                           arg=["#tsne-plot .vega-embed svg", before])
    shoot(page, "tsne.png")


def test_digit_tsne_hover_shows_the_digit(page) -> None:  # noqa: ANN001
    open_tab(page, "Domain adaptation")
    page.get_by_text("t-SNE of each method's features").click()
    page.locator("#digits-tsne-draw").click()
    hover_a_point(page, "#digits-tsne-plot")
    source, width, _ = tooltip_thumbnail(page)
    assert source.startswith("data:image/webp;base64,") and width == 28
    shown_height = page.evaluate(
        "() => document.querySelector('#vg-tooltip-element img').getBoundingClientRect().height")
    assert shown_height == 96  # enlarged by the page's head style, from any tab
    assert "test digit, label" in page.locator("#vg-tooltip-element").inner_text()
    shoot(page, "digits-tsne-hover.png")


def test_nothing_is_fetched_from_elsewhere(page, running: RunningLab) -> None:  # noqa: ANN001
    lab = urlparse(running.url).netloc
    foreign = {url for url in REQUESTED if urlparse(url).scheme in ("http", "https", "ws", "wss")
               and urlparse(url).netloc != lab}
    assert REQUESTED and not foreign, sorted(foreign)[:5]
