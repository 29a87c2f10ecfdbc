"""GET /metrics of a real ``claimd serve``: each claim counted once, under the door it came through,
the proof it presented and how it ended; failed guesses and lockouts; bulk rows and jobs; MQTT
connections and sessions; HTTP latencies by route template, with no secret anywhere; the token."""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import paho.mqtt.client as mqtt
import pytest
from http_helpers import claim_path, device_message, make_world, uid, wait_for_op
from live_fixtures import serving
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client.parser import text_string_to_metric_families

from claimd.adapters.attestation import mint_token, new_private_key, public_pem_of

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
KEY_BODY = {"secretKey": "metrics-key-1"}
WINDOW = {"secretKey": "metrics-key-1", "durationMs": 60000}


def scrape(base_url: str, headers: dict[str, str] | None = None) -> Samples:
    r = httpx.get(base_url + "/metrics", headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version="), r.headers
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def delta(before: Samples, after: Samples, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """Every series of ``name`` that changed, and by how much."""
    keys = {labels for n, labels in (*before, *after) if n == name}
    changes = {labels: after.get((name, labels), 0.0) - before.get((name, labels), 0.0) for labels in keys}
    return {labels: d for labels, d in changes.items() if d}


def claims(door: str, proof: str, outcome: str) -> frozenset[tuple[str, str]]:
    return frozenset({"door": door, "proof": proof, "outcome": outcome}.items())


def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the metrics did not get there in time"
        time.sleep(0.05)


# claims through each door, counted once -------------------------------------------------------------


def test_a_rest_claim_is_counted_once_under_its_door_proof_and_outcome(world, live_server):
    device = world.device()
    before = scrape(live_server.base_url)
    world.window(device, WINDOW)
    r = world.u1.claim(device.name, KEY_BODY)
    assert r.status_code == 200 and r.json()["response"] == "SUCCESS", r.text
    after = scrape(live_server.base_url)
    assert delta(before, after, "claimd_claims_total") == {claims("REST", "secret_key", "success"): 1}
    assert delta(before, after, "claimd_claim_windows_total") == {
        frozenset({"door": "HTTP_DEVICE", "outcome": "opened"}.items()): 1
    }
    assert delta(before, after, "claimd_failed_guesses_total") == {}

    r = world.u2.claim(device.name, KEY_BODY)  # another customer, too late
    assert r.status_code == 400 and r.json() == "CLAIMED"
    again = scrape(live_server.base_url)
    assert delta(after, again, "claimd_claims_total") == {claims("REST", "secret_key", "already_claimed"): 1}


def test_wrong_keys_and_unknown_names_are_failed_guesses(world, live_server):
    device = world.device()
    world.window(device, WINDOW)
    before = scrape(live_server.base_url)
    r = world.u1.claim(device.name, {"secretKey": "not-the-key"})
    assert r.status_code == 400 and r.json() == "FAILURE"
    r = world.u1.claim(uid("no-such-device"), KEY_BODY)
    assert r.status_code == 404
    after = scrape(live_server.base_url)
    assert delta(before, after, "claimd_claims_total") == {
        claims("REST", "secret_key", "wrong_secret"): 1,
        claims("REST", "secret_key", "not_found"): 1,
    }
    assert delta(before, after, "claimd_failed_guesses_total") == {frozenset({("kind", "claim")}): 2}
    assert delta(before, after, "claimd_lockouts_total") == {}  # the shared server's lockouts are loose


class Mqtt311:
    """A plain paho MQTT 3.1.1 device."""

    def __init__(self, port: int, token: str) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=uid("cid"), protocol=mqtt.MQTTv311, reconnect_on_failure=False
        )
        self.client.username_pw_set(token)
        self.port = port
        self.reason: int | None = None
        self.client.on_connect = lambda _c, _u, _f, reason, _p: setattr(self, "reason", reason.value)

    def connect(self) -> int | None:
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        until(lambda: self.reason is not None, 5)
        return self.reason

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_an_mqtt_window_its_session_and_a_refused_connect(world, live_server):
    device = world.device()
    base = live_server.base_url
    before = scrape(base)
    client = Mqtt311(live_server.mqtt_port, device.token)
    try:
        assert client.connect() == 0
        during = scrape(base)
        assert value(during, "claimd_mqtt_sessions") == value(before, "claimd_mqtt_sessions") + 1
        info = client.client.publish("v1/devices/me/claim", b'{"secretKey":"metrics-key-1","durationMs":60000}', qos=1)
        info.wait_for_publish(timeout=5)
        assert info.is_published()
    finally:
        client.close()
    until(lambda: value(scrape(base), "claimd_mqtt_sessions") == value(before, "claimd_mqtt_sessions"))
    refused = Mqtt311(live_server.mqtt_port, uid("wrong-token"))
    try:
        assert refused.connect() == 135  # paho's reason for 3.1.1's return code 5 (not authorized)
    finally:
        refused.close()
    r = world.u1.claim(device.name, KEY_BODY)
    assert r.status_code == 200, r.text
    after = scrape(base)
    assert delta(before, after, "claimd_mqtt_connections_total") == {
        frozenset({"protocol": "3.1.1", "outcome": "accepted"}.items()): 1,
        frozenset({"protocol": "3.1.1", "outcome": "refused"}.items()): 1,
    }
    assert delta(before, after, "claimd_claim_windows_total") == {
        frozenset({"door": "MQTT", "outcome": "opened"}.items()): 1
    }
    assert delta(before, after, "claimd_claims_total") == {claims("REST", "secret_key", "success"): 1}


def test_token_claims_are_counted_by_outcome(world, live_server):
    key = new_private_key()
    device_id = str(uuid.uuid4())
    r = world.admin.post("/v1/device-identities", json={"id": device_id, "publicKey": public_pem_of(key)})
    assert r.status_code == 201, r.text
    token = mint_token(key, uuid.UUID(device_id))
    before = scrape(live_server.base_url)
    assert world.u1.post("/v1/claimed-devices", json={"claimToken": token}).status_code == 201
    assert world.u1.post("/v1/claimed-devices", json={"claimToken": token}).status_code == 200  # already yours
    assert world.u2.post("/v1/claimed-devices", json={"claimToken": token}).status_code == 409
    assert world.u1.delete(f"/v1/claimed-devices/{device_id}").status_code == 204  # a release: not a claim
    assert world.u2.post("/v1/claimed-devices", json={"claimToken": token}).status_code == 403  # replayed
    forged = mint_token(new_private_key(), uuid.UUID(device_id))
    assert world.u2.post("/v1/claimed-devices", json={"claimToken": forged}).status_code == 403
    after = scrape(live_server.base_url)
    assert delta(before, after, "claimd_claims_total") == {
        claims("REST", "token", "success"): 1,
        claims("REST", "token", "already_yours"): 1,
        claims("REST", "token", "already_claimed"): 1,
        claims("REST", "token", "spent"): 1,
        claims("REST", "token", "wrong_secret"): 1,
    }
    assert delta(before, after, "claimd_failed_guesses_total") == {frozenset({("kind", "claim")}): 2}


def test_bulk_rows_jobs_and_claims_through_the_bulk_door(world, live_server):
    base = live_server.base_url
    key = new_private_key()
    ids = [str(uuid.uuid4()) for _ in range(2)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "publicKey"])
    for device_id in ids:
        writer.writerow([device_id, public_pem_of(key)])
    before = scrape(base)
    r = world.admin.post(
        "/v1/device-identities/bulk", content=out.getvalue().encode(), headers={"Content-Type": "text/csv"}
    )
    assert r.status_code == 202, r.text
    wait_for_op(world.admin, r.json()["bulkOpsRequestId"])
    rows = [mint_token(key, uuid.UUID(ids[0])), "not-a-token", mint_token(new_private_key(), uuid.uuid4())]
    r = world.u1.post("/v1/claimed-devices", content="\n".join(rows).encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 202, r.text
    op = wait_for_op(world.u1, r.json()["bulkOpsRequestId"])
    assert (op["succeeded"], op["failed"]) == (1, 2), op

    def finished() -> bool:
        return sum(delta(before, scrape(base), "claimd_bulk_jobs_finished_total").values()) == 2

    until(finished)
    after = scrape(base)
    assert delta(before, after, "claimd_bulk_rows_total") == {
        frozenset({"operation": "REGISTER_PUBLIC_KEYS", "outcome": "ok"}.items()): 2,
        frozenset({"operation": "CLAIM_DEVICE_OWNERSHIP", "outcome": "ok"}.items()): 1,
        frozenset({"operation": "CLAIM_DEVICE_OWNERSHIP", "outcome": "failed"}.items()): 2,
    }
    assert delta(before, after, "claimd_bulk_jobs_started_total") == {
        frozenset({("operation", "REGISTER_PUBLIC_KEYS")}): 1,
        frozenset({("operation", "CLAIM_DEVICE_OWNERSHIP")}): 1,
    }
    assert delta(before, after, "claimd_bulk_jobs_finished_total") == {
        frozenset({"operation": "REGISTER_PUBLIC_KEYS", "outcome": "completed"}.items()): 1,
        frozenset({"operation": "CLAIM_DEVICE_OWNERSHIP", "outcome": "completed"}.items()): 1,
    }
    assert value(after, "claimd_bulk_jobs_running") == 0
    assert delta(before, after, "claimd_claims_total") == {
        claims("BULK", "token", "success"): 1,
        claims("BULK", "token", "invalid"): 1,
        claims("BULK", "token", "not_found"): 1,
    }


# HTTP latencies, and no secret in /metrics -----------------------------------------------------------


def test_latencies_are_by_route_template_and_no_secret_or_name_shows(world, live_server):
    base = live_server.base_url
    device = world.device(name=uid("Metrics device/with slash"), token=uid("secret-access-token"))
    before = scrape(base)
    assert device_message(base, device.token, WINDOW).status_code == 200
    assert world.u1.claim(device.name, KEY_BODY).status_code == 200
    assert httpx.get(f"{base}/api/v1/{uid('another-token')}/attributes", timeout=30).status_code in (401, 404)
    assert httpx.get(f"{base}/{uid('no-such-path')}", timeout=30).status_code == 404
    assert httpx.request("PROPFIND", f"{base}/healthz", timeout=30).status_code == 405
    text = httpx.get(base + "/metrics", timeout=30).text
    after = scrape(base)
    count = "claimd_http_request_duration_seconds_count"
    window = {"method": "POST", "route": "/api/v1/{accessToken}/claim", "status": "2xx"}
    assert value(after, count, **window) == value(before, count, **window) + 1
    claim = {"method": "POST", "route": "/api/customer/device/{deviceName:path}/claim", "status": "2xx"}
    assert value(after, count, **claim) == value(before, count, **claim) + 1
    assert value(after, count, method="GET", route="unmatched", status="4xx") >= 1
    assert value(after, count, method="other", route="/healthz", status="4xx") >= 1  # no client-chosen method
    assert value(after, "claimd_http_request_duration_seconds_bucket", le="+Inf", **window) >= 1
    routes = {dict(labels).get("route") for name, labels in after if name == count}
    assert all(r == "unmatched" or r.startswith("/") for r in routes), routes
    for secret in (
        device.token,
        device.name,
        "another-token",
        "no-such-path",
        "PROPFIND",
        world.u1.token,
        world.admin_user["email"],
        KEY_BODY["secretKey"],
        str(device.id),
    ):
        assert secret not in text, secret


def test_metrics_is_open_without_a_token_and_not_in_the_api_schema(live_server):
    r = httpx.get(live_server.base_url + "/metrics", timeout=30)
    assert r.status_code == 200 and "claimd_info{" in r.text and "claimd_mqtt_sessions " in r.text
    assert "/metrics" not in httpx.get(live_server.base_url + "/openapi.json", timeout=30).json()["paths"]


# the token, and lockouts (a server of their own) ------------------------------------------------------

METRICS_TOKEN = "metrics-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def guarded(tmp_path_factory) -> Iterator:
    env = {"CLAIMD_METRICS_TOKEN": METRICS_TOKEN, "CLAIMD_CLAIM_LOCKOUT_FREE_DEVICE": "1"}
    with serving("sqlite", tmp_path_factory.mktemp("claimd-metrics"), env) as server:
        yield server


def test_the_metrics_token_is_required_when_set(guarded):
    url = guarded.base_url + "/metrics"
    for headers in (
        {},
        {"Authorization": "Bearer wrong-token-of-some-length"},
        {"Authorization": METRICS_TOKEN},
        {"Authorization": f"Basic {METRICS_TOKEN}"},
        {"X-Authorization": f"Bearer {METRICS_TOKEN}"},
        {"Authorization": f"Bearer {METRICS_TOKEN}x"},
    ):
        r = httpx.get(url, headers=headers, timeout=30)
        assert r.status_code == 401, (headers, r.status_code)
        assert r.headers["www-authenticate"].startswith("Bearer") and METRICS_TOKEN not in r.text
    ok = httpx.get(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=30)
    assert ok.status_code == 200 and "claimd_info" in ok.text
    assert METRICS_TOKEN not in ok.text


def test_lockouts_and_locked_out_attempts(guarded):
    auth = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    world = make_world(guarded.base_url, guarded.admin_email, guarded.admin_password)
    try:
        device = world.device()
        world.window(device, WINDOW)
        before = scrape(guarded.base_url, auth)
        wrong = {"secretKey": "wrong"}
        assert world.u1.claim(device.name, wrong).json() == "FAILURE"  # the device's free failure
        assert world.u1.claim(device.name, wrong).json() == "FAILURE"  # past it: the device is locked
        r = world.u1.post(claim_path(device.name), json=KEY_BODY)  # even the right key, while locked
        assert r.status_code == 429, r.text
        after = scrape(guarded.base_url, auth)
        kind = frozenset({("kind", "claim")})
        assert delta(before, after, "claimd_failed_guesses_total") == {kind: 2}
        assert delta(before, after, "claimd_lockouts_total") == {kind: 1}
        assert delta(before, after, "claimd_locked_out_attempts_total") == {kind: 1}
        assert delta(before, after, "claimd_claims_total") == {
            claims("REST", "secret_key", "wrong_secret"): 2,
            claims("REST", "secret_key", "locked_out"): 1,
        }
    finally:
        for api in world.apis:
            api.close()
