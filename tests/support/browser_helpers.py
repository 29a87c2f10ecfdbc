"""Helpers of the browser tests (tests/browser): Debian's chromium through Playwright for Python,
offline contexts, the axe-core check with screenshots, and the fake camera's video.

Never ``playwright install``: ``launch`` uses ``/usr/bin/chromium`` (``.ci/run`` installs it)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from http_helpers import USER_PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_TESTS = Path(__file__).resolve().parents[1] / "browser"
SCREENSHOTS = BROWSER_TESTS / "screenshots"  # git-ignored
AXE = BROWSER_TESTS / "vendor" / "axe.min.js"  # vendored by scripts/vendor_web_assets.py
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def launch(p: Any, *args: str) -> Any:
    """Headless Debian chromium (Playwright's default sandbox setting: it runs as root here)."""
    return p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=list(args))


def offline_context(browser: Any, **options: Any) -> Any:
    """A phone-sized context whose requests may only go to 127.0.0.1 (the others are refused and
    listed in ``ctx.outside``); axe-core is injected inline, hence ``bypass_csp``."""
    ctx = browser.new_context(bypass_csp=True, viewport={"width": 390, "height": 844}, **options)
    ctx.outside = []

    def guard(route: Any) -> None:
        url = route.request.url
        if url.startswith(("http://127.0.0.1:", "blob:", "data:")):
            route.continue_()
        else:
            ctx.outside.append(url)
            route.abort()

    ctx.route("**/*", guard)
    ctx.set_default_timeout(10_000)
    return ctx


def check_page(page: Any, name: str) -> None:
    """Zero serious or critical axe-core violations, and screenshots at desktop and phone size."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate("async () => (await axe.run()).violations")
    found = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]]) for v in violations]
    assert not [v for v in found if v[1] in ("serious", "critical")], found
    SCREENSHOTS.mkdir(exist_ok=True)
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{size}.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})


def write_y4m(png: bytes, path: Path, width: int = 640, height: int = 480) -> None:
    """One 4:2:0 frame for Chromium's fake camera (which loops it): the PNG centred on white."""
    from PIL import Image

    label = Image.open(io.BytesIO(png)).convert("L")
    frame = Image.new("L", (width, height), 255)
    frame.paste(label, ((width - label.width) // 2, (height - label.height) // 2))
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + b"FRAME\n" + frame.tobytes() + chroma + chroma)


def sign_in(page: Any, base_url: str, email: str, password: str = USER_PASSWORD, path: str = "/") -> None:
    """Sign in on the page at ``path`` (the sign-in page, or a page that sends there) with the form."""
    page.goto(base_url + path)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
