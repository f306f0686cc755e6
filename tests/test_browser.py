"""The web app end to end in a real headless browser: Debian's chromium driven by Playwright.

Upload the demo clip, paint a mask, run a short job, see the result in the before/after slider;
and a bad upload shows its message in the page. Needs /usr/bin/chromium (apt-get install
chromium): skipped without it on a developer's machine, a failure in CI (.ci/run installs it).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from vidprior.demo import demo_clip
from vidprior.server import launch
from vidprior.video import read_video

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.slow


def _browser_available() -> bool:
    if Path(CHROMIUM).is_file():
        return True
    if os.environ.get("CI"):
        pytest.fail("chromium is missing: .ci/run installs it with apt-get install chromium")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)")


@pytest.fixture
def server(tmp_path: Path):
    """`vidprior serve` in a child process with a fresh home folder; yields its URL and home."""
    process, url = launch(tmp_path / "home")
    yield url, tmp_path / "home"
    process.terminate()
    process.wait(30)


def test_upload_paint_run_and_compare_in_a_real_browser(server, tmp_path: Path):
    _browser_available()
    from playwright.sync_api import expect, sync_playwright

    url, home = server
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is not a video")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(url)

        page.set_input_files("#video-file", str(bad))
        page.click("#upload-video")
        expect(page.locator("#video-error")).to_contain_text("not a video we can read")

        page.set_input_files("#video-file", str(demo_clip()))
        page.click("#upload-video")
        expect(page.locator("#video-info")).to_contain_text("30 frames, 256×144")
        expect(page.locator("#video-error")).to_have_text("")

        # paint a stroke across the middle of frame 0 (the canvas is shown larger than 256x144)
        box = page.locator("#paint").bounding_box()
        page.mouse.move(box["x"] + 0.40 * box["width"], box["y"] + 0.5 * box["height"])
        page.mouse.down()
        page.mouse.move(box["x"] + 0.60 * box["width"], box["y"] + 0.5 * box["height"], steps=8)
        page.mouse.up()
        expect(page.locator("#keyframes")).to_contain_text("Painted frames: 0")
        page.locator("#scrub").fill("12")  # another frame shows the mask carried from frame 0, faintly
        carried = "() => { const c = document.getElementById('carried'); const d = c.getContext('2d')" \
                  ".getImageData(0, 0, c.width, c.height).data; let n = 0;" \
                  " for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; }"
        page.wait_for_function(f"({carried})() > 100")
        page.locator("#scrub").fill("0")

        page.select_option("#method", "telea")
        page.fill("#budget", "20s")
        page.click("#start")
        card = page.locator(".job").first
        expect(card.locator(".state")).to_have_text("done", timeout=90_000)
        expect(card.locator("a.download")).to_be_visible()
        after = card.locator("img.after")
        page.wait_for_function("img => img.complete && img.naturalWidth === 256", arg=after.element_handle())
        card.locator(".split").fill("30")
        assert "inset(0px 0px 0px 30%)" in after.evaluate("img => img.style.clipPath")
        page.screenshot(path=str(tmp_path / "page.png"))
        browser.close()
    assert requests and all(r.startswith(url) or r.startswith("data:") for r in requests)  # nothing external

    # the job ran on the painted mask: the result differs from the input inside the stroke only
    (job,) = list((home / "jobs").iterdir())
    result = read_video(job / "result.mp4").frames.astype(int)
    source = read_video(demo_clip()).frames.astype(int)
    stroke = (slice(None), slice(66, 78), slice(110, 146))
    outside = (slice(None), slice(0, 40), slice(0, 80))
    assert np.abs(result[stroke] - source[stroke]).mean() > 3 * np.abs(result[outside] - source[outside]).mean()
    assert len(list((job / "mask").glob("*.png"))) == 30
