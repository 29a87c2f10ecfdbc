"""The HTTP device API ``POST /api/v1/{accessToken}/claim`` (reference §1.1, §1.4; issue §5).

ThingsBoard answers malformed payloads with a 500; claimd answers 400 with a message (issue §5).
"""

from __future__ import annotations

import httpx
import pytest
from http_helpers import WINDOW_HEADER, assert_error, device_message, uid


def test_accepted_message_is_200_with_an_empty_body_and_the_window_header(world):
    device = world.device()
    r = device_message(world.base_url, device.token, {"secretKey": "value", "durationMs": 60000})
    assert r.status_code == 200 and r.content == b""
    assert r.headers[WINDOW_HEADER] == "opened"
    # the window is real: the customer claims with its key
    assert world.u1.claim(device.name, {"secretKey": "value"}).json()["response"] == "SUCCESS"


@pytest.mark.parametrize("token", ["no-such-token", "x" * 200])
def test_unknown_token_is_401_with_an_empty_body(world, token):
    # the token is checked before the payload is read: even a malformed one gets the bare 401
    for r in (
        device_message(world.base_url, token, {"secretKey": "value"}),
        device_message(world.base_url, token),
        device_message(world.base_url, token, raw=b"{not json"),
    ):
        assert r.status_code == 401 and r.content == b"", (r.status_code, r.text)
        assert WINDOW_HEADER not in r.headers


def test_empty_body_is_accepted(world):
    device = world.device()
    r = device_message(world.base_url, device.token)
    assert r.status_code == 200 and r.content == b"" and r.headers[WINDOW_HEADER] == "opened"
    # an empty body means secretKey "": claimable with {} and with no key at all
    assert world.u1.claim(device.name, {}).json()["response"] == "SUCCESS"


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/octet-stream"])
def test_any_content_type_is_accepted(world, content_type):
    device = world.device()
    r = device_message(
        world.base_url, device.token, raw=b'{"secretKey":"ct","durationMs":60000}', content_type=content_type
    )
    assert r.status_code == 200 and r.content == b"" and r.headers[WINDOW_HEADER] == "opened"
    assert world.u1.claim(device.name, {"secretKey": "ct"}).status_code == 200


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b'{"secretKey": "a"',
        b"\xff\xfe",
        b"{'secretKey': 'single quotes'}",
    ],
)
def test_malformed_json_is_400_with_a_message(world, raw):
    device = world.device()
    assert_error(device_message(world.base_url, device.token, raw=raw), 400, 31)
    # nothing was registered: a claim finds no claim data
    assert world.u1.claim(device.name, {}).json() == "FAILURE"


@pytest.mark.parametrize("raw", [b"[]", b'["secretKey"]', b'"value"', b"42", b"true", b"null"])
def test_non_object_json_is_400_with_a_message(world, raw):
    device = world.device()
    assert_error(device_message(world.base_url, device.token, raw=raw), 400, 31)


@pytest.mark.parametrize(
    "payload",
    [
        {"secretKey": None},
        {"secretKey": {"a": 1}},
        {"secretKey": ["a"]},
        {"secretKey": "v", "durationMs": "soon"},
        {"secretKey": "v", "durationMs": "12.5.3"},
        {"secretKey": "v", "durationMs": None},
        {"secretKey": "v", "durationMs": {"ms": 1}},
        {"secretKey": "v", "durationMs": True},
    ],
    ids=[
        "key-null",
        "key-object",
        "key-array",
        "duration-word",
        "duration-dots",
        "duration-null",
        "duration-object",
        "duration-bool",
    ],
)
def test_wrong_field_types_are_400_with_a_message(world, payload):
    device = world.device()
    body = assert_error(device_message(world.base_url, device.token, payload), 400, 31)
    assert "secretKey" in body["message"] or "durationMs" in body["message"], body


def test_numeric_secret_is_read_as_text(world):
    device = world.device()
    world.window(device, {"secretKey": 123, "durationMs": 60000})
    assert world.u1.claim(device.name, {"secretKey": "123"}).json()["response"] == "SUCCESS"


def test_numeric_string_duration_is_accepted(world):
    device = world.device()
    world.window(device, {"secretKey": "s", "durationMs": "600000"})
    assert world.u1.claim(device.name, {"secretKey": "s"}).json()["response"] == "SUCCESS"


@pytest.mark.parametrize("duration", [0, -5])
def test_non_positive_duration_uses_the_default(world, duration):
    device = world.device()
    world.window(device, {"secretKey": "d", "durationMs": duration})
    assert world.u1.claim(device.name, {"secretKey": "d"}).json()["response"] == "SUCCESS"


def test_unknown_fields_are_ignored(world):
    device = world.device()
    world.window(device, {"secretKey": "u", "durationMs": 60000, "deviceName": "other", "extra": [1]})
    assert world.u1.claim(device.name, {"secretKey": "u"}).json()["response"] == "SUCCESS"


def test_device_api_needs_no_jwt_and_ignores_one(world):
    device = world.device()
    r = httpx.post(
        f"{world.base_url}/api/v1/{device.token}/claim",
        json={"secretKey": "j"},
        headers={"X-Authorization": "Bearer garbage"},
    )
    assert r.status_code == 200 and r.headers[WINDOW_HEADER] == "opened"


def test_get_on_the_device_claim_path_is_not_allowed(world):
    device = world.device()
    r = httpx.get(f"{world.base_url}/api/v1/{device.token}/claim")
    assert r.status_code == 405
    assert world.u1.claim(device.name, {}).json() == "FAILURE"


def test_token_of_another_device_opens_only_that_device(world):
    a, b = world.device(), world.device(name=uid("other"))
    world.window(a, {"secretKey": "a", "durationMs": 60000})
    assert world.u1.claim(b.name, {"secretKey": "a"}).json() == "FAILURE"
    assert world.u1.claim(a.name, {"secretKey": "a"}).json()["response"] == "SUCCESS"
