"""``claimd device send-key``: the command is the device, and sends ThingsBoard's device-side claim message
over HTTP, MQTT and CoAP to a real ``claimd serve`` (SQLite, and PostgreSQL + Redis); each time a customer
then claims the device with that key (``claimd claim key``). A token no device has, and a device already
claimed, are exit 2 with the reason; the device's secrets come from files or the environment, never from
command-line values."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from cli_helpers import run_claimd as run
from http_helpers import NULL_UUID, USER_PASSWORD, World, new_customer_user, uid


def doors(world: World, live_server) -> list[str]:
    return [
        "--url",
        world.base_url,
        "--mqtt-host",
        "127.0.0.1",
        "--mqtt-port",
        str(live_server.mqtt_port),
        "--coap-host",
        "127.0.0.1",
        "--coap-port",
        str(live_server.coap_port),
    ]


def secret_file(path: Path, value: str) -> Path:
    path.write_text(value + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def customer(world: World) -> dict[str, str]:
    email = f"{uid('sim')}@example.com"
    new_customer_user(world.admin, world.c1_id, email)
    return {"CLAIMD_URL": world.base_url, "CLAIMD_USERNAME": email, "CLAIMD_PASSWORD": USER_PASSWORD}


@pytest.mark.parametrize("over", ["http", "mqtt", "coap"])
def test_send_key_opens_a_window_a_customer_claims(
    world: World, live_server, customer: dict[str, str], tmp_path: Path, over: str
) -> None:
    device = world.device()
    key = secrets.token_urlsafe(12)
    token_file, key_file = secret_file(tmp_path / "token", device.token), secret_file(tmp_path / "key", key)

    sent = run(
        tmp_path,
        {},
        "device",
        "send-key",
        "--access-token-file",
        str(token_file),
        "--secret-key-file",
        str(key_file),
        "--duration-ms",
        "60000",
        "--over",
        over,
        *doors(world, live_server),
        "--json",
    )
    assert sent.returncode == 0, (sent.stdout, sent.stderr)
    outcome = json.loads(sent.stdout)
    assert outcome["over"] == over and outcome["accepted"] is True and outcome["window"] == "opened"
    assert world.owner(device) == NULL_UUID

    claimed = run(tmp_path, customer, "claim", "key", device.name, "--key-file", str(key_file))
    assert claimed.returncode == 0, claimed.stderr
    assert world.owner(device) == world.c1_id

    # Claimed now: the device's message opens nothing, and says so.
    late = run(
        tmp_path,
        {"CLAIMD_ACCESS_TOKEN": device.token, "CLAIMD_SECRET_KEY": key},
        "device",
        "send-key",
        "--over",
        over,
        *doors(world, live_server),
    )
    assert late.returncode == 2 and late.stderr.startswith("claimd: the claim window did not open"), late.stderr


@pytest.mark.parametrize("over", ["http", "mqtt", "coap"])
def test_an_unknown_access_token_is_refused(world: World, live_server, tmp_path: Path, over: str) -> None:
    env = {"CLAIMD_ACCESS_TOKEN": uid("no-such-token"), "CLAIMD_SECRET_KEY": "k"}
    ran = run(tmp_path, env, "device", "send-key", "--over", over, *doors(world, live_server))
    assert ran.returncode == 2 and "access token" in ran.stderr and "refused" in ran.stderr, ran.stderr


def test_secrets_are_never_option_values(world: World, tmp_path: Path) -> None:
    for flag in ("--access-token", "--secret-key"):
        ran = run(tmp_path, {}, "device", "send-key", flag, "x", "--url", world.base_url)
        assert ran.returncode == 2 and "not accepted" in ran.stderr and f"{flag}-file" in ran.stderr
    missing = run(tmp_path, {"CLAIMD_SECRET_KEY": "k"}, "device", "send-key", "--url", world.base_url)
    assert missing.returncode == 2 and "CLAIMD_ACCESS_TOKEN" in missing.stderr
