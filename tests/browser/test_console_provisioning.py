"""The console's provisioning and account pages in a real browser: one device with a generated key
shown once (QR code, label), a CSV of 1,000 devices as a bulk job watched to 100% with its report,
customers and users with their activation and reset links, the pages a customer user may not use,
CSRF on every new form, accessibility and screenshots."""

from __future__ import annotations

import csv
import io
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import check_page, sign_in
from http_helpers import World, uid

from claimd.adapters.attestation import new_private_key, public_pem_of

pytestmark = pytest.mark.browser


def admin_page(context: Any, server: Any) -> Any:
    page = context.new_page()
    sign_in(page, server.base_url, server.admin_email, server.admin_password)
    return page


def identities_csv(count: int, bad_rows: tuple[int, ...] = ()) -> tuple[bytes, list[str]]:
    """``count`` device identities sharing one key (a header row first); the rows in ``bad_rows``
    (numbered from 1) have a public key that is not one."""
    pem = public_pem_of(new_private_key())
    ids = [str(uuid.uuid4()) for _ in range(count)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "publicKey", "deviceType"])
    for n, device_id in enumerate(ids, start=1):
        writer.writerow([device_id, "not a key" if n in bad_rows else pem, "sensor"])
    return out.getvalue().encode(), ids


def upload(page: Any, content: bytes) -> str:
    page.get_by_label("Upload CSV").set_input_files({"name": "devices.csv", "mimeType": "text/csv", "buffer": content})
    page.get_by_role("button", name="Start the job").click()
    page.wait_for_url(re.compile(r".*/console/jobs/[0-9A-Z]{26}$"))
    return str(page.url.rsplit("/", 1)[1])


def report_rows(page: Any) -> list[dict[str, str]]:
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the report").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


# one device ------------------------------------------------------------------------------------
def test_one_device_with_its_key_shown_once(context: Any, web_server: Any, web_world: World) -> None:
    page = admin_page(context, web_server)
    page.get_by_role("link", name="Provisioning", exact=True).click()
    assert page.url == web_server.base_url + "/console/provisioning"
    check_page(page, "console-provisioning")
    name = uid("Boiler")
    page.get_by_label("Device name").fill(name)
    page.get_by_role("button", name="Create device").click()
    assert "The secret key is shown once" in page.get_by_role("status").inner_text()
    key = page.locator("#secret-key").inner_text().strip()
    link = page.locator("#claim-link").inner_text().strip()
    assert re.fullmatch(r"[A-Za-z0-9_-]{16}", key), key
    assert link.startswith(web_server.base_url + "/claim?deviceName=") and key in link
    assert page.get_by_role("img", name=f"QR code of the claim link of {name}").is_visible()
    label = page.get_by_role("link", name="Download label")
    assert (label.get_attribute("download") or "").endswith(".svg")
    check_page(page, "console-provisioning-created")

    # stored as a digest: the API shows it redacted, and no later page shows it
    device = web_world.admin.ok("get", "/api/tenant/devices", params={"deviceName": name})
    attributes = web_world.admin.ok(
        "get",
        f"/api/plugins/telemetry/DEVICE/{device['id']['id']}/values/attributes/SERVER_SCOPE",
        params={"keys": "claimingData"},
    )
    assert key not in str(attributes) and attributes[0]["value"]["expirationTime"] > 0
    page.goto(web_server.base_url + "/console/")
    page.go_back()  # the answer was not kept: no key on the way back
    assert key not in page.content()
    for path in ("/console/provisioning", "/console/", "/console/customers", "/console/devices"):
        page.goto(web_server.base_url + path)
        assert key not in page.content(), path

    # the key claims the device, once
    assert web_world.u1.claim(name, {"secretKey": key}).status_code == 200
    assert web_world.u2.claim(name, {"secretKey": key}).status_code != 200


def test_a_refused_device_says_why(context: Any, web_server: Any, web_world: World) -> None:
    taken = web_world.device()
    page = admin_page(context, web_server)
    page.goto(web_server.base_url + "/console/provisioning")
    page.get_by_label("Device name").fill(taken.name)
    page.get_by_role("button", name="Create device").click()
    assert "already exists" in page.get_by_role("alert").inner_text().lower()
    assert page.get_by_label("Device name").input_value() == taken.name
    assert page.locator("#secret-key").count() == 0


# a CSV of devices ------------------------------------------------------------------------------
def test_a_csv_of_1000_devices_runs_to_100_percent(context: Any, web_server: Any, web_world: World) -> None:
    content, ids = identities_csv(1000)
    page = admin_page(context, web_server)
    page.goto(web_server.base_url + "/console/provisioning")
    job = upload(page, content)
    bar = page.get_by_role("progressbar")
    assert bar.is_visible()
    # the page is not reloaded: its script moves the bar and the counters
    page.wait_for_function("document.getElementById('job-progress').value === 100", timeout=120_000)
    page.wait_for_function("document.getElementById('job-status').textContent.indexOf('Finished') === 0")
    assert page.url.endswith(f"/console/jobs/{job}")
    assert page.locator("#job-total").inner_text() == "1000"
    assert page.locator("#job-succeeded").inner_text() == "1000"
    assert page.locator("#job-failed").inner_text() == "0"
    assert "every row succeeded" in page.locator("#job-status").inner_text()
    check_page(page, "console-job")
    rows = report_rows(page)
    assert len(rows) == 1000
    assert {r["status"] for r in rows} == {"OK"}
    assert [r["deviceId"] for r in rows] == ids
    assert web_world.admin.ok("get", f"/api/device/{ids[-1]}")["type"] == "sensor"
    page.goto(web_server.base_url + "/console/provisioning")  # the job is listed
    assert page.get_by_role("link", name=f"Job {job}").is_visible()


def test_a_csv_with_bad_rows_reports_them(context: Any, web_server: Any) -> None:
    content, _ids = identities_csv(3, bad_rows=(2,))
    page = admin_page(context, web_server)
    page.goto(web_server.base_url + "/console/provisioning")
    upload(page, content)
    page.wait_for_function("document.getElementById('job-status').textContent.indexOf('Finished') === 0")
    assert "some rows failed" in page.locator("#job-status").inner_text()
    assert page.locator("#job-failed").inner_text() == "1"
    rows = report_rows(page)
    assert [r["status"] for r in rows] == ["OK", "ERROR", "OK"]
    assert rows[1]["message"]


def test_an_upload_without_a_file_or_rows_is_refused(context: Any, web_server: Any) -> None:
    page = admin_page(context, web_server)
    page.goto(web_server.base_url + "/console/provisioning")
    page.get_by_label("Upload CSV").set_input_files({"name": "empty.csv", "mimeType": "text/csv", "buffer": b"id\n"})
    page.get_by_role("button", name="Start the job").click()
    assert "no rows" in page.get_by_role("alert").inner_text()


# customers, users, activation and reset --------------------------------------------------------
def test_customers_users_activation_and_reset(context: Any, browser: Any, web_server: Any) -> None:
    page = admin_page(context, web_server)
    page.get_by_role("link", name="Customers", exact=True).click()
    title = uid("Hotel")
    page.get_by_label("Customer title").fill(title)
    page.get_by_role("button", name="Create customer").click()
    assert f"Created the customer {title}" in page.get_by_role("status").inner_text()
    check_page(page, "console-customers")
    email = f"{uid('guest')}@example.com"
    page.get_by_label("Customer", exact=True).select_option(label=title)
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Create user").click()
    link = page.locator("#user-link").inner_text().strip()
    assert "/activate?activateToken=" in link
    check_page(page, "console-customers-link")
    # a new link replaces the first one
    page.get_by_role("button", name=f"New activation link for {email}").click()
    newer = page.locator("#user-link").inner_text().strip()
    assert newer != link

    other = browser.new_context(viewport={"width": 390, "height": 844}, bypass_csp=True)
    try:
        user = other.new_page()
        user.goto(link)  # replaced: refused in words
        user.get_by_label("New password", exact=True).fill("first-password")
        user.get_by_label("Repeat the new password").fill("first-password")
        user.get_by_role("button", name="Set password").click()
        assert "not valid" in user.get_by_role("alert").inner_text()
        user.goto(newer)
        check_page(user, "activate")
        user.get_by_label("New password", exact=True).fill("first-password")
        user.get_by_label("Repeat the new password").fill("other-password")
        user.get_by_role("button", name="Set password").click()
        assert "differ" in user.get_by_role("alert").inner_text()
        user.get_by_label("New password", exact=True).fill("first-password")
        user.get_by_label("Repeat the new password").fill("first-password")
        user.get_by_role("button", name="Set password").click()
        user.wait_for_url(web_server.base_url + "/claim")

        # forgot the password: the admin hands out a reset link
        page.goto(web_server.base_url + "/console/customers")
        page.get_by_role("button", name=f"Password-reset link for {email}").click()
        reset = page.locator("#user-link").inner_text().strip()
        assert "/reset?resetToken=" in reset
        user.get_by_role("button", name="Sign out").click()
        user.goto(reset)
        assert user.get_by_role("heading", name="Choose a new password").is_visible()
        check_page(user, "reset")
        user.get_by_label("New password", exact=True).fill("second-password")
        user.get_by_label("Repeat the new password").fill("second-password")
        user.get_by_role("button", name="Set password").click()
        user.wait_for_url(web_server.base_url + "/claim")
        user.get_by_role("button", name="Sign out").click()
        sign_in(user, web_server.base_url, email, "first-password")
        assert "wrong" in user.get_by_role("alert").inner_text()
        sign_in(user, web_server.base_url, email, "second-password")
        assert user.url == web_server.base_url + "/claim"
        user.goto(reset)  # used once
        user.get_by_label("New password", exact=True).fill("third-password")
        user.get_by_label("Repeat the new password").fill("third-password")
        user.get_by_role("button", name="Set password").click()
        assert "not valid" in user.get_by_role("alert").inner_text()
    finally:
        other.close()


# who may use the console -----------------------------------------------------------------------
def test_a_customer_user_is_sent_away_from_the_console(context: Any, web_server: Any, web_world: World) -> None:
    content, _ids = identities_csv(1)
    r = web_world.admin.post("/v1/device-identities/bulk", content=content, headers={"Content-Type": "text/csv"})
    assert r.status_code == 202, r.text
    job = r.json()["bulkOpsRequestId"]
    page = context.new_page()
    sign_in(page, web_server.base_url, web_world.u1.ok("get", "/api/auth/user")["email"])
    for path in ("/console/provisioning", "/console/customers", f"/console/jobs/{job}"):
        page.goto(web_server.base_url + path)
        assert page.url == web_server.base_url + "/claim", path
    for path in (f"/console/jobs/{job}/progress", f"/console/jobs/{job}/report.csv"):
        r = page.request.get(web_server.base_url + path, max_redirects=0)
        assert r.status in (303, 401), (path, r.status)
        assert "succeeded" not in r.text()
    r = page.request.post(
        web_server.base_url + "/console/customers", form={"csrf_token": csrf(context), "title": uid("Nope")}
    )
    assert r.url == web_server.base_url + "/claim"
    titles = [c["title"] for c in web_world.admin.ok("get", "/api/customers", params={"pageSize": 1000})["data"]]
    assert not any(t.startswith("Nope") for t in titles)


# CSRF ------------------------------------------------------------------------------------------
def csrf(context: Any) -> str:
    return str({c["name"]: c["value"] for c in context.cookies()}["claimd_csrf"])


def test_every_new_form_refuses_a_post_without_its_csrf_token(context: Any, web_server: Any, web_world: World) -> None:
    page = admin_page(context, web_server)
    base = web_server.base_url
    post = page.request.post
    name = uid("csrf")

    r = post(base + "/console/provisioning", form={"csrf_token": "wrong", "device_name": name})
    assert r.status == 403 and "expired" in r.text()
    assert web_world.admin.get("/api/tenant/devices", params={"deviceName": name}).status_code == 404

    content, ids = identities_csv(1)
    r = post(
        base + "/console/provisioning/csv",
        multipart={"csrf_token": "wrong", "file": {"name": "d.csv", "mimeType": "text/csv", "buffer": content}},
    )
    assert r.status == 403 and "expired" in r.text()
    assert web_world.admin.get(f"/api/device/{ids[0]}").status_code == 404

    r = post(base + "/console/customers", form={"title": name})
    assert r.status == 403
    titles = [c["title"] for c in web_world.admin.ok("get", "/api/customers", params={"pageSize": 1000})["data"]]
    assert name not in titles

    email = f"{name}@example.com"
    r = post(base + "/console/customers/users", form={"csrf_token": "", "customer": web_world.c1_id, "email": email})
    assert r.status == 403
    users = web_world.admin.ok("get", f"/api/customer/{web_world.c1_id}/users", params={"pageSize": 1000})["data"]
    assert email not in [u["email"] for u in users]

    user = web_world.admin.ok(
        "post",
        "/api/user",
        params={"sendActivationMail": "false"},
        json={
            "email": email,
            "authority": "CUSTOMER_USER",
            "customerId": {"entityType": "CUSTOMER", "id": web_world.c1_id},
        },
    )
    link = web_world.admin.get(f"/api/user/{user['id']['id']}/activationLink").text
    token = link.split("activateToken=")[1]
    r = post(base + f"/console/customers/users/{user['id']['id']}/link", form={"csrf_token": "wrong"})
    assert r.status == 403 and "activateToken" not in r.text()

    for kind, field in (("activate", token), ("reset", "some-reset-token")):
        r = post(
            base + f"/{kind}",
            form={"csrf_token": "wrong", "token": field, "password": "p" * 8, "password_again": "p" * 8},
        )
        assert r.status == 403 and "expired" in r.text()
    # the activation token was not spent: it still works, with the token
    r = post(
        base + "/activate",
        form={"csrf_token": csrf(context), "token": token, "password": "p" * 8, "password_again": "p" * 8},
    )
    assert r.ok and r.url == base + "/claim"
