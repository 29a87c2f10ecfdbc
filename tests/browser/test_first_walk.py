"""Issue 23's "Done when", in a real browser against a fresh ``claimd serve``: the tenant admin signs in,
creates a customer and its user, the user sets a password through the activation link, the admin
provisions a device with a generated key and downloads its label, and the customer, on a phone-sized
window, scans that label with the camera, claims the device and sees it on "My devices"."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import launch, offline_context, sign_in, write_y4m
from live_fixtures import serving

pytestmark = pytest.mark.browser

PASSWORD = "customer-password-1"


def label_png(browser: Any, svg: bytes, path: Path) -> bytes:
    """The downloaded label as it prints: the SVG drawn by the browser, saved as a PNG."""
    ctx = offline_context(browser)
    try:
        page = ctx.new_page()
        page.set_viewport_size({"width": 400, "height": 460})
        page.set_content(
            f'<img id="label" alt="label" src="data:image/svg+xml;base64,{base64.b64encode(svg).decode()}">'
        )
        page.wait_for_function("document.getElementById('label').complete")
        page.locator("#label").screenshot(path=str(path))
    finally:
        ctx.close()
    return path.read_bytes()


def test_the_first_walk(playwright_driver: Any, browser: Any, tmp_path: Path) -> None:
    with serving("sqlite", tmp_path / "claimd") as server:
        base = server.base_url
        admin = offline_context(browser)
        page = admin.new_page()
        page.set_viewport_size({"width": 1280, "height": 800})

        # the tenant admin signs in at / and lands on the console
        sign_in(page, base, server.admin_email, server.admin_password)
        assert page.url == base + "/console/"

        # a customer and its user, on /console/customers
        page.get_by_role("link", name="Customers", exact=True).click()
        page.get_by_label("Customer title").fill("Acme Homes")
        page.get_by_role("button", name="Create customer").click()
        assert "Created the customer Acme Homes" in page.get_by_role("status").inner_text()
        email = "buyer@acme.example"
        page.get_by_label("Customer", exact=True).select_option(label="Acme Homes")
        page.get_by_label("Email").fill(email)
        page.get_by_role("button", name="Create user").click()
        link = page.locator("#user-link").inner_text().strip()
        assert link.startswith(base + "/activate?activateToken="), link

        # the user opens the activation link in a browser of their own and sets a password
        fresh = offline_context(browser)
        user_page = fresh.new_page()
        user_page.goto(link)
        user_page.get_by_label("New password", exact=True).fill(PASSWORD)
        user_page.get_by_label("Repeat the new password").fill(PASSWORD)
        user_page.get_by_role("button", name="Set password").click()
        user_page.wait_for_url(base + "/claim")  # signed in, on the claim page
        fresh.close()

        # a device with a generated key, and its label
        page.get_by_role("link", name="Provisioning", exact=True).click()
        page.get_by_label("Device name").fill("Thermostat 0001")
        page.get_by_label("Device type").fill("thermostat")
        page.get_by_role("button", name="Create device").click()
        assert "shown once" in page.get_by_role("status").inner_text()
        key = page.locator("#secret-key").inner_text().strip()
        assert len(key) == 16
        with page.expect_download() as download:
            page.get_by_role("link", name="Download label").click()
        svg = tmp_path / "label.svg"
        download.value.save_as(svg)
        assert b"Thermostat 0001" in svg.read_bytes()
        png = label_png(browser, svg.read_bytes(), tmp_path / "label.png")
        # a second device, whose label the customer will photograph instead
        page.get_by_role("link", name="Provisioning", exact=True).click()
        page.get_by_label("Device name").fill("Thermostat 0002")
        page.get_by_role("button", name="Create device").click()
        with page.expect_download() as download:
            page.get_by_role("link", name="Download label").click()
        svg2 = tmp_path / "label2.svg"
        download.value.save_as(svg2)
        photo = tmp_path / "label2.png"
        photo.write_bytes(label_png(browser, svg2.read_bytes(), tmp_path / "label2-shot.png"))
        admin.close()

        # the customer, on a phone, scans the label with the camera and claims
        video = tmp_path / "label.y4m"
        write_y4m(png, video)
        camera = launch(
            playwright_driver,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        )
        try:
            phone = offline_context(camera)  # 390×844
            page = phone.new_page()
            sign_in(page, base, email, PASSWORD)
            assert page.url == base + "/claim"
            page.get_by_role("button", name="Scan QR code").click()
            page.wait_for_function(
                "() => document.getElementById('device_name').value === 'Thermostat 0001'", timeout=15_000
            )
            assert page.get_by_label("Secret key").input_value() == key
            page.get_by_role("button", name="Claim", exact=True).click()
            status = page.get_by_role("status").filter(has_text="You now own")
            assert "Thermostat 0001" in status.inner_text()
            status.get_by_role("link", name="My devices").click()
            page.wait_for_url(re.compile(r".*/my/devices$"))
            assert "Thermostat 0001" in page.get_by_role("main").inner_text()

            # and the second one from an uploaded photo of its label
            page.goto(base + "/claim")  # loaded: the page's script listens to the file control before it is used
            page.get_by_label("Upload photo").set_input_files(str(photo))
            page.wait_for_function(
                "() => document.getElementById('device_name').value === 'Thermostat 0002'", timeout=15_000
            )
            page.get_by_role("button", name="Claim", exact=True).click()
            assert "Thermostat 0002" in page.get_by_role("status").filter(has_text="You now own").inner_text()
            assert phone.outside == []
            phone.close()
        finally:
            camera.close()
