"""Screenshots of the web app for the README: ``python docs/screenshots.py`` (Playwright + Debian's chromium).

Starts `vidprior serve` on a scratch folder, takes the demo clip, paints the pink cushion on the
first and the last frame (frame 15 shows the mask carried between them along the motion, with the
ring its 2-pixel growth adds), runs ``ilvi`` with a 40 s budget and captures docs/img/app-mask.png,
app-running.png (progress, elapsed time, the fit's preview) and app-compare.png (the result view:
the result playing beside the before/after slider, where the hole was drawn over the input).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from vidprior.server import launch

OUT = Path(__file__).parent / "img"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
CUSHION = {0: (143, 181, 80, 108), 29: (139, 176, 82, 110)}  # frame -> x0, x1, y0, y1 in video pixels


def paint(page, frame: int, area: tuple[int, int, int, int]) -> None:
    """Brush back and forth over ``area`` of ``frame``."""
    page.locator("#scrub").fill(str(frame))
    box = page.locator("#paint").bounding_box()
    scale = box["width"] / 256
    x0, x1, y0, y1 = area
    page.mouse.move(box["x"] + x0 * scale, box["y"] + y0 * scale)
    page.mouse.down()
    for i, y in enumerate(range(y0, y1 + 1, 4)):
        page.mouse.move(box["x"] + (x1 if i % 2 == 0 else x0) * scale, box["y"] + y * scale, steps=6)
    page.mouse.up()


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as home:
        process, url = launch(Path(home))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                page.goto(url)
                page.click("#use-demo")
                expect(page.locator("#video-info")).to_contain_text("30 frames")
                page.locator("#brush-size").fill("28")
                for frame, area in CUSHION.items():
                    paint(page, frame, area)
                page.locator("#scrub").fill("15")  # between the painted frames: the carried mask, faint
                page.wait_for_timeout(2500)
                page.select_option("#method", "ilvi")
                page.fill("#budget", "40s")
                page.screenshot(path=str(OUT / "app-mask.png"))
                page.click("#start")
                card = page.locator(".job").first
                expect(card.locator(".preview")).to_be_visible(timeout=120_000)
                page.wait_for_timeout(6000)
                page.screenshot(path=str(OUT / "app-running.png"))
                expect(card.locator(".state")).to_have_text("done", timeout=600_000)
                expect(page.locator("#viewer")).to_be_visible()
                page.locator("#compare-frame").fill("15")
                page.locator("#split").fill("62")
                page.locator("#result-video").evaluate("v => { v.currentTime = 0.5; }")
                page.locator("#viewer").scroll_into_view_if_needed()
                page.wait_for_timeout(2000)
                page.locator("#viewer").screenshot(path=str(OUT / "app-compare.png"))
                browser.close()
        finally:
            process.terminate()
            process.wait(60)
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()
