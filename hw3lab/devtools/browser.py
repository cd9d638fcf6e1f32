"""Steps of a real browser (Playwright on Debian's chromium) on the lab's page, shared by the
browser test and the screenshots."""

from __future__ import annotations

import io
import shutil

import numpy as np
from PIL import Image

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update"]


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


def hover_a_point(page, selector: str) -> tuple[float, float]:  # noqa: ANN001
    """Move the mouse onto a point of the Vega chart inside ``selector`` until its tooltip
    shows (points are the coloured pixels of the canvas); where the mouse is."""
    canvas = page.locator(f"{selector} canvas").first
    canvas.wait_for(state="visible")
    canvas.scroll_into_view_if_needed()
    pixels = np.asarray(Image.open(io.BytesIO(canvas.screenshot())).convert("RGB"), np.int16)
    box = canvas.bounding_box()  # where it is once scrolled into view
    assert box is not None
    ys, xs = np.nonzero(pixels.max(axis=2) - pixels.min(axis=2) > 80)  # coloured, not grey
    centre = np.array([pixels.shape[0] / 2, pixels.shape[1] / 2])
    order = np.argsort(np.hypot(ys - centre[0], xs - centre[1]))
    tooltip = page.locator("#vg-tooltip-element.visible")
    for i in order[::max(1, len(order) // 40)]:
        x, y = box["x"] + float(xs[i]) + 0.5, box["y"] + float(ys[i]) + 0.5
        page.mouse.move(x, y)
        try:
            tooltip.wait_for(state="visible", timeout=500)
            return x, y
        except Exception:  # noqa: BLE001 - Playwright's timeout: try the next point
            continue
    raise AssertionError(f"no tooltip over any point of {selector}")
