"""Take the README's screenshots (docs/screenshots/) of the lab on the shipped checkpoints, in
a real browser: ``python -m hw3lab.devtools.screenshots [--data DIR] [--out docs/screenshots]``.

First each tab as a new visitor sees it with nothing pressed (``first-*.png``), then the
views after an action.

Starts ``app.py`` on a free local port (hw3lab/devtools/running_lab.py), drives Debian's
chromium with Playwright (hw3lab/devtools/browser.py, as the browser test does), and saves one
PNG per view.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from hw3lab.data.samples import load_sample
from hw3lab.devtools.browser import (
    CHROMIUM,
    FLAGS,
    POINT_PATHS,
    changed_source,
    hover_a_point,
    image_source,
    open_tab,
)
from hw3lab.devtools.running_lab import ROOT, running_lab

VIEWPORT = {"width": 1280, "height": 1000}


def take(url: str, out: Path, work: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.set_default_timeout(300_000)
        page.goto(url)
        page.get_by_text("hw3lab: VAE, DCGAN and domain adaptation").wait_for()

        def shoot(name: str) -> None:
            page.screenshot(path=str(out / name))
            print(out / name, flush=True)

        first_views(page, shoot)
        open_tab(page, "VAE")
        page.get_by_role("button", name="Start", exact=True).click()
        first = image_source(page, "#vae-face")
        page.locator("#vae-slider-10 input[type=range]").fill("1.5")  # the first attribute
        changed_source(page, "#vae-face", first)
        shoot("vae-sliders.png")

        open_tab(page, "GAN")
        page.locator("#gan-seed input").fill("42")
        page.get_by_role("button", name="Show", exact=True).first.click()
        image_source(page, "#gan-face")
        shoot("gan-seed.png")

        open_tab(page, "Domain adaptation")
        sample = load_sample("mnistm")  # a real MNIST-M test digit: usps->mnistm's target
        digit = work / "mnistm-7.png"
        Image.fromarray(sample.images[list(sample.targets).index(7)]).save(digit)
        page.get_by_role("tab", name="Upload", exact=True).click()
        page.locator("#digit-upload input[type=file]").set_input_files(str(digit))
        image_source(page, "#digit-chart")
        shoot("digits-upload.png")
        page.get_by_text("t-SNE of each method's features").click()
        page.locator("#digits-tsne-draw").click()
        hover_a_point(page, "#digits-tsne-plot")
        page.locator("#digits-tsne-plot").scroll_into_view_if_needed()
        hover_a_point(page, "#digits-tsne-plot")
        shoot("digits-tsne.png")

        open_tab(page, "Interactive t-SNE")
        page.get_by_role("button", name="Draw t-SNE").click()
        x, y = hover_a_point(page, "#tsne-plot")
        page.mouse.click(x, y)
        page.locator("#tsne-point img").wait_for(state="visible")
        page.mouse.move(x, y + 1)
        page.locator("#vg-tooltip-element.visible").wait_for()
        shoot("tsne.png")

        stage_sliders(page, shoot)

        open_tab(page, "Models")
        page.locator("#model-cards").get_by_text("digits/usps-mnistm-dann").first.wait_for()
        shoot("models.png")
        browser.close()


# the Training tab's sub-tabs: (tab name, stage slider, a picture that changes with the stage)
STAGE_SLIDERS = (("VAE", "vae-timeline-stage", "#vae-timeline-faces"),
                 ("GAN", "gan-timeline-stage", "#gan-timeline-faces"),
                 ("Domain adaptation", "digits-timeline-stage", None))


def stage_sliders(page, shoot) -> None:  # noqa: ANN001 - a Playwright page, a callback
    """Each stage slider of the Training tab moved to its middle stage, where its model's run
    recorded a timeline (``training-NAME.png``)."""
    open_tab(page, "Training")
    for tab, slider_id, picture in STAGE_SLIDERS:
        page.get_by_role("tab", name=tab, exact=True).last.click()  # the sub-tab, after the top
        slider = page.locator(f"#{slider_id} input[type=range]")
        if slider.is_disabled():
            print(f"no timeline for the Training tab's {tab}: no screenshot", flush=True)
            continue
        before = picture and image_source(page, picture)
        slider.fill(str(round(float(slider.get_attribute("max")) / 2)))
        if picture:
            changed_source(page, picture, before)
        page.wait_for_timeout(1_000)  # the charts redraw with the picture
        shoot(f"training-{slider_id.split('-')[0]}.png")


def first_views(page, shoot) -> None:  # noqa: ANN001 - a Playwright page, a callback
    """Each tab's first view, nothing pressed (computed when the lab started)."""
    image_source(page, "#vae-face")
    shoot("first-vae.png")
    open_tab(page, "GAN")
    image_source(page, "#gan-face")
    shoot("first-gan.png")
    open_tab(page, "Domain adaptation")
    image_source(page, "#digit-chart")
    shoot("first-digits.png")
    open_tab(page, "Interactive t-SNE")
    page.locator(f"#tsne-plot {POINT_PATHS}").first.wait_for(state="attached")
    shoot("first-tsne.png")
    open_tab(page, "Training")
    page.wait_for_timeout(1_000)  # its charts are initial values: drawn with the tab
    shoot("first-training.png")
    open_tab(page, "Models")
    page.locator("#model-cards").get_by_text("digits/usps-mnistm-dann").first.wait_for()
    shoot("first-models.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT / "no-hw3-data"),
                        help="hw3_data folder (default: none, the shipped sample)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = parser.parse_args()
    out = Path(args.out)
    with running_lab("--data", args.data, timeout=600) as (url, log, _):
        take(url, out, Path(log).parent)


if __name__ == "__main__":
    main()
