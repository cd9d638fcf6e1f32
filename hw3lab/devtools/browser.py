"""Steps of a real browser (Playwright on Debian's chromium) on the lab's page, shared by the
browser test and the screenshots."""

from __future__ import annotations

import shutil

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


# Vega's scene graph as the SVG renderer writes it: each data point is a path inside the
# group of its mark (legend symbols are role-legend-symbol, not role-mark).
POINT_PATHS = ".vega-embed svg .mark-symbol.role-mark path"


def hover_a_point(page, selector: str) -> tuple[float, float]:  # noqa: ANN001 - a Playwright page
    """Move the mouse onto a point of the Vega chart inside ``selector`` until its tooltip
    shows; where the mouse is. The points come from the chart's scene graph (one SVG element
    each), nearest the chart's centre first, keeping those that no other element covers."""
    points = page.locator(f"{selector} {POINT_PATHS}")
    try:
        points.first.wait_for(state="attached")
    except Exception as error:  # noqa: BLE001 - Playwright's timeout, said plainly
        raise AssertionError(
            f"{selector} drew no point as an SVG element within the page's timeout: the chart "
            "is not drawn, or not by Vega's SVG renderer (hw3lab.lab.charts.EMBED_OPTIONS)"
        ) from error
    page.locator(selector).scroll_into_view_if_needed()
    try:  # Gradio's progress overlay covers a chart that is being redrawn: wait it out
        centres = page.wait_for_function("""([selector, paths]) => {
            const chart = document.querySelector(selector).getBoundingClientRect();
            const middle = [chart.x + chart.width / 2, chart.y + chart.height / 2];
            const uncovered = [...document.querySelectorAll(selector + ' ' + paths)].map((path) => {
                const box = path.getBoundingClientRect();
                const x = box.x + box.width / 2, y = box.y + box.height / 2;
                return [x, y, Math.hypot(x - middle[0], y - middle[1]),
                        document.elementFromPoint(x, y) === path];
            }).filter((point) => point[3]).sort((a, b) => a[2] - b[2]).slice(0, 10);
            return uncovered.length ? uncovered : null;
        }""", arg=[selector, POINT_PATHS]).json_value()
    except Exception as error:  # noqa: BLE001 - Playwright's timeout, said plainly
        raise AssertionError(f"every point of {selector} stayed covered by another element "
                             "for the page's timeout") from error
    tooltip = page.locator("#vg-tooltip-element.visible")
    for x, y, _, _ in centres:
        page.mouse.move(x, y)
        try:  # the handlers are attached when the view is; a first hover may come before
            tooltip.wait_for(state="visible", timeout=3_000)
            return x, y
        except Exception:  # noqa: BLE001 - Playwright's timeout: off the point, then the next
            page.mouse.move(0, 0)
    raise AssertionError(f"no tooltip over any of {len(centres)} uncovered points of "
                         f"{selector} (hovered at their centres from Vega's scene graph)")
