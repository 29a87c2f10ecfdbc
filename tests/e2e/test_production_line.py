"""The production line, end to end, as a new user runs it: a 10,000-device CSV with generated claim keys
imported through ``claimd devices import`` (its progress bar drawn on a terminal), a PDF label sheet
printed from the result file, one label decoded from the rasterised page with a real QR decoder, and
that device claimed by a customer with the decoded payload (``claimd claim qr``). On SQLite and on
PostgreSQL + Redis."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cli_helpers import admin_env, run_claimd, run_claimd_on_a_terminal
from http_helpers import USER_PASSWORD, World, uid
from label_decoding import decoded_pages

ROWS = 10_000


@pytest.mark.slow
def test_import_print_scan_and_claim_a_production_run(world: World, live_server, tmp_path: Path) -> None:
    """Budget: ~20 s a backend (10,000 rows imported, one page of labels, four CLI processes)."""
    admin = admin_env(world, live_server)
    prefix = uid("line")
    upload = tmp_path / "run.csv"
    upload.write_text("name,claim_key,tags\n" + "".join(f"{prefix}-{n:05d},generate,run-1\n" for n in range(ROWS)))

    ran, drawn = run_claimd_on_a_terminal(tmp_path, admin, "devices", "import", str(upload))
    status, out = ran.returncode, ran.stdout
    assert status == 0, (out, drawn)
    assert f"{ROWS:,}/{ROWS:,}".replace(",", "") in drawn.replace(",", "") and "━" in drawn  # the bar, full
    results = tmp_path / "run.csv.results.jsonl"
    assert str(results) in out
    assert stat.S_IMODE(results.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(lines) == ROWS and all(line["error"] is None and line["claimLink"] for line in lines)

    printed = run_claimd(tmp_path, {}, "labels", str(results), "--rows", "1-24", "--out", "sheet.pdf")
    assert printed.returncode == 0 and "24 labels on a4-3x8" in printed.stdout, printed.stderr
    [page] = decoded_pages((tmp_path / "sheet.pdf").read_bytes())
    by_link = {line["claimLink"]: line for line in lines[:24]}
    assert page == set(by_link)
    scanned = sorted(page)[5]  # any label of the page: the camera reads this one

    email = world.u1.ok("get", "/api/auth/user")["email"]
    customer = {"CLAIMD_URL": world.base_url, "CLAIMD_USERNAME": email, "CLAIMD_PASSWORD": USER_PASSWORD}
    claimed = run_claimd(tmp_path, customer, "claim", "qr", scanned, "--json")
    assert claimed.returncode == 0, (claimed.stdout, claimed.stderr)
    device = world.admin.ok("get", f"/api/device/{by_link[scanned]['deviceId']}")
    assert device["customerId"]["id"] == world.c1_id and device["name"] == by_link[scanned]["name"]
