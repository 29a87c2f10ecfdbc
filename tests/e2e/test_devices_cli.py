"""``claimd devices`` and ``claimd jobs`` as a production line runs them: the real command, as a separate
process, against a real ``claimd serve`` (SQLite, and PostgreSQL + Redis). A tenant admin imports a
production run with generated claim keys (progress, a 0600 result file, a summary, exit 1 for a bad
row), the result file is served once (``claimd jobs results`` then says 410), devices are created,
listed, shown and deleted, and the connection comes from a profile of the user's config file."""

from __future__ import annotations

import json
import secrets
import socket
import stat
from pathlib import Path

from cli_helpers import admin_env
from cli_helpers import run_claimd as run
from cli_helpers import run_claimd_on_a_terminal as run_on_a_terminal
from http_helpers import World, uid

ROWS = 200
BAD_ROW = 57  # its name is too long: one failed row, the others imported


def test_import_a_production_run(world: World, live_server, tmp_path: Path) -> None:
    env = admin_env(world, live_server)
    prefix = uid("line")
    upload = tmp_path / "run.csv"
    names = [f"{prefix}-{i:03d}" for i in range(1, ROWS + 1)]
    names[BAD_ROW - 1] = "x" * 300
    upload.write_text("name,claim_key\n" + "".join(f"{name},generate\n" for name in names))
    results = tmp_path / "run.csv.results.jsonl"

    ran, drawn = run_on_a_terminal(tmp_path, env, "devices", "import", str(upload))
    assert ran.returncode == 1, drawn  # one row failed, the others were imported
    assert f"{ROWS}/{ROWS}" in drawn  # the progress bar, on the terminal
    assert stat.S_IMODE(results.stat().st_mode) == 0o600
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    assert [r["row"] for r in rows] == list(range(1, ROWS + 1))
    good = [r for r in rows if r["row"] != BAD_ROW]
    assert all(r["error"] is None and r["deviceId"] and r["claimKey"] and r["name"].startswith(prefix) for r in good)
    assert len({r["claimKey"] for r in good}) == ROWS - 1
    (bad,) = [r for r in rows if r["row"] == BAD_ROW]
    assert bad["error"] and bad["claimKey"] is None and bad["deviceId"] is None
    # the summary: counts, the failed row with its error, and where the secrets are
    assert f"rows       {ROWS}" in ran.stdout and f"succeeded  {ROWS - 1}" in ran.stdout
    assert "failed     1" in ran.stdout and str(results) in ran.stdout
    failed_line = next(line for line in ran.stdout.splitlines() if line.startswith(f"{BAD_ROW} "))
    assert "255 characters" in failed_line
    job_id = next(job["bulkOpsRequestId"] for job in world.admin.ok("get", "/v1/bulk-ops-requests")["items"])

    # The results are served once: a second download is refused, and says why.
    again = tmp_path / "again.jsonl"
    second = run(tmp_path, env, "jobs", "results", job_id, "--out", str(again))
    assert second.returncode == 2 and "410" in second.stderr and "only in that first download" in second.stderr
    assert not again.exists()

    # The job, as `claimd jobs` sees it.
    status = run(tmp_path, env, "jobs", "status", job_id, "--json")
    assert status.returncode == 0, status.stderr
    job = json.loads(status.stdout)
    assert (job["endpoint"], job["total"], job["succeeded"], job["failed"]) == ("IMPORT_DEVICES", ROWS, ROWS - 1, 1)
    waited = run(tmp_path, env, "jobs", "wait", job_id)
    assert waited.returncode == 1 and "failed     1" in waited.stdout and waited.stderr == ""
    listed = run(tmp_path, env, "jobs", "list")
    assert listed.returncode == 0 and job_id in listed.stdout and "IMPORT_DEVICES" in listed.stdout

    # A second run with the same file would overwrite the first results: refused before anything is sent.
    before = world.admin.ok("get", "/v1/bulk-ops-requests")["total"]
    rerun = run(tmp_path, env, "devices", "import", str(upload))
    assert rerun.returncode == 2 and "exists" in rerun.stderr and "not overwritten" in rerun.stderr
    assert world.admin.ok("get", "/v1/bulk-ops-requests")["total"] == before


def test_import_json_lines_for_scripts(world: World, live_server, tmp_path: Path) -> None:
    env = admin_env(world, live_server)
    upload, out = tmp_path / "run.jsonl", tmp_path / "codes.jsonl"
    upload.write_text("".join(json.dumps({"name": uid("nd"), "claim_key": "generate"}) + "\n" for _ in range(3)))
    ran = run(
        tmp_path,
        env,
        "devices",
        "import",
        str(upload),
        "--out",
        str(out),
        "--claim-key-length",
        "25",
        "--claim-key-alphabet",
        "0123456789",
        "--idempotency-key",
        secrets.token_hex(8),
        "--json",
    )
    assert ran.returncode == 0, ran.stderr
    answer = json.loads(ran.stdout)  # stdout is one JSON object
    assert answer["resultsFile"] == str(out) and (answer["total"], answer["failed"]) == (3, 0)
    assert answer["status"] in ("SUCCEEDED", "FAILED") and answer["bulkOpsRequestId"]
    keys = [json.loads(line)["claimKey"] for line in out.read_text().splitlines()]
    assert len(keys) == 3 and all(len(k) == 25 and k.isdigit() for k in keys)


def test_a_refused_file_imports_nothing_and_leaves_no_file(world: World, live_server, tmp_path: Path) -> None:
    env = admin_env(world, live_server)
    upload = tmp_path / "bad.csv"
    upload.write_text("nom,claim_key\nd-1,generate\n")
    ran = run(tmp_path, env, "devices", "import", str(upload), "--no-progress")
    assert ran.returncode == 2 and "400" in ran.stderr, ran.stderr
    assert not (tmp_path / "bad.csv.results.jsonl").exists()
    odd = tmp_path / "devices.txt"
    odd.write_text("name\nd-1\n")
    guessed = run(tmp_path, env, "devices", "import", str(odd))
    assert guessed.returncode == 2 and "--format csv" in guessed.stderr


def test_create_list_show_delete(world: World, live_server, tmp_path: Path) -> None:
    env = admin_env(world, live_server)
    prefix = uid("cli")
    made = run(tmp_path, env, "devices", "create", f"{prefix}-a", "--type", "meter", "--label", "Hall 2", "--json")
    assert made.returncode == 0, made.stderr
    device_id = json.loads(made.stdout)["id"]["id"]
    assert run(tmp_path, env, "devices", "create", f"{prefix}-b").returncode == 0
    world.admin.ok("post", "/api/device", json={"name": f"other-{prefix}", "type": "default"})

    listed = run(tmp_path, env, "devices", "list", "--name-prefix", prefix)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["NAME", "ID", "TYPE", "LABEL", "CUSTOMER"]
    assert [line.split()[0] for line in lines[1:]] == [f"{prefix}-a", f"{prefix}-b"]  # not other-…
    first = run(tmp_path, env, "devices", "list", "--name-prefix", prefix, "--limit", "1", "--json")
    assert [d["name"] for d in json.loads(first.stdout)] == [f"{prefix}-a"]
    meters = run(tmp_path, env, "devices", "list", "--name-prefix", prefix, "--type", "meter", "--json")
    assert [d["name"] for d in json.loads(meters.stdout)] == [f"{prefix}-a"]

    by_name = run(tmp_path, env, "devices", "show", f"{prefix}-a")
    assert by_name.returncode == 0 and device_id in by_name.stdout and "meter" in by_name.stdout
    by_id = run(tmp_path, env, "devices", "show", device_id, "--json")
    assert json.loads(by_id.stdout)["label"] == "Hall 2"

    gone = run(tmp_path, env, "devices", "delete", device_id)
    assert gone.returncode == 0 and f"deleted {device_id}" in gone.stdout
    missing = run(tmp_path, env, "devices", "show", device_id)
    assert missing.returncode == 2 and "no device" in missing.stderr
    not_an_id = run(tmp_path, env, "devices", "delete", f"{prefix}-b")
    assert not_an_id.returncode == 2 and "not a device id" in not_an_id.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_profile_says_where_and_who(world: World, live_server, tmp_path: Path) -> None:
    created = world.admin.post("/v1/api-keys", json={"name": uid("line-key")})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    key_file = tmp_path / "factory.key"
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    config = tmp_path / ".config" / "claimd" / "config.toml"
    config.parent.mkdir(parents=True)
    down = f"http://127.0.0.1:{free_port()}"
    config.write_text(
        f'default_profile = "factory"\n\n[profiles.factory]\nurl = "{world.base_url}"\napi_key_file = "{key_file}"\n\n'
        f'[profiles.old]\nurl = "{down}"\nusername = "{live_server.admin_email}"\n'
    )
    name = uid("prof")
    made = run(tmp_path, {}, "devices", "create", name)  # the default profile: its URL and API key
    assert made.returncode == 0, made.stderr
    assert run(tmp_path, {}, "devices", "show", name).returncode == 0

    unknown = run(tmp_path, {"CLAIMD_PROFILE": "lab"}, "devices", "list")
    assert unknown.returncode == 2 and "known profiles: factory, old" in unknown.stderr
    stopped = run(tmp_path, {"CLAIMD_PASSWORD": "x"}, "devices", "--profile", "old", "list")
    assert stopped.returncode == 2
    assert f"cannot reach claimd at {down}: is `claimd serve` running?" in stopped.stderr
    # the environment wins over the profile, the command line over the environment
    wrong = run(tmp_path, {"CLAIMD_USERNAME": live_server.admin_email, "CLAIMD_PASSWORD": "nope"}, "jobs", "list")
    assert wrong.returncode == 2 and "wrong e-mail or password" in wrong.stderr
    bad_key = tmp_path / "bad.key"
    bad_key.write_text("claimd_not-a-real-key-0000000000000000\n")
    bad_key.chmod(0o600)
    refused = run(tmp_path, {}, "devices", "--api-key-file", str(bad_key), "list")
    assert refused.returncode == 2 and "the API key was refused" in refused.stderr
    right = run(tmp_path, {"CLAIMD_URL": down}, "devices", "--url", world.base_url, "show", name)
    assert right.returncode == 0, right.stderr
