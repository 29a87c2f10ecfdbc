"""ThingsBoard's Python device SDK (``tb-mqtt-client`` 1.13.14, MQTT 5) against claimd.

Reference §6 row 8 (``TBDeviceMqttClient.claim``), rows 5/6 (``TBGatewayMqttClient.gw_claim``, also for
two children in one message), and the health of the SDK's session (§5.1): CONNACK with an assigned
client id, its SUBSCRIBEs acknowledged, its ``getSessionLimits`` RPC answered, keep-alive pings.
"""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Callable, Iterator
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from tb_device_mqtt import TBDeviceMqttClient
from tb_gateway_mqtt import TBGatewayMqttClient
from transport_helpers import (
    EMPTY_FAILURE_PAYLOAD,
    EMPTY_GOOD_PAYLOAD,
    HOST,
    NULL_SECRET_BODY,
    NULL_UUID,
    SECRET_BODY,
    PahoDevice,
    expire,
    uid,
)


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture
def tb_clients() -> Iterator[Callable[..., Any]]:
    """``connect(cls, port, token, **connect_kw)``: a connected TB client, stopped at teardown."""
    made: list[TBDeviceMqttClient] = []

    def connect(
        cls: type[TBDeviceMqttClient],
        port: int,
        token: str,
        before: Callable[[Any], None] | None = None,
        **connect_kw: Any,
    ) -> Any:
        client = cls(HOST, port=port, username=token)
        made.append(client)
        if before is not None:
            before(client)
        client.connect(**connect_kw)
        wait_until(client.is_connected, what="the TB client to connect")
        return client

    yield connect
    for client in made:
        try:
            client.disconnect()
        finally:
            client.stop()


def claim_acked(info: Any) -> None:
    """``TBPublishInfo.get()`` waited for the PUBACK: every message it wraps is published."""
    assert info.get() == 0
    infos = info.message_info if isinstance(info.message_info, list) else [info.message_info]
    assert infos and all(i.is_published() for i in infos), "no PUBACK for the claim message"


# §6 row 8: MQTT 5 with TBDeviceMqttClient.claim ---------------------------------------------------
def test_row_8_device_claim_with_tb_mqtt_client(world, live_server, tb_clients):
    device = world.device(name=uid("Test Claim device v5"))
    client = tb_clients(TBDeviceMqttClient, live_server.mqtt_port, device.token)

    claim_acked(client.claim(secret_key="value", duration=1))
    expire()
    world.expect_outcome(device.name, SECRET_BODY, "FAILURE")

    claim_acked(client.claim(secret_key="value", duration=60000))
    client.disconnect()  # as ThingsBoard's test does before the customer claims
    world.expect_success(device.name, SECRET_BODY, device.id)
    world.expect_outcome(device.name, SECRET_BODY, "CLAIMED")


def test_tb_client_claim_with_default_duration(world, live_server, tb_clients):
    device = world.device()
    client = tb_clients(TBDeviceMqttClient, live_server.mqtt_port, device.token)
    claim_acked(client.claim(secret_key="s3cret"))  # duration=30000 by default
    world.expect_outcome(device.name, {"secretKey": "wrong"}, "FAILURE")  # a wrong key spends the window
    claim_acked(client.claim(secret_key="s3cret"))
    world.expect_success(device.name, {"secretKey": "s3cret"}, device.id)


# §6 rows 5/6: gateways with TBGatewayMqttClient.gw_claim --------------------------------------------
def _assert_child(world, name: str, gateway) -> dict[str, Any]:
    r = world.tenant_device(name)
    assert r.status_code == 200, (r.status_code, r.text)
    child = r.json()
    assert child["name"] == name and child["type"] == "default"
    assert child["tenantId"] == {"entityType": "TENANT", "id": world.tenant_id}
    info = child.get("additionalInfo") or {}
    assert info.get("lastConnectedGateway") == gateway.id, child
    return child


def test_row_5_gateway_claim(world, live_server, tb_clients):
    gateway = world.device(name=uid("Test Claim gateway"), gateway=True)
    child_name = uid("Test claiming gateway device")
    assert world.tenant_device(child_name).status_code == 404
    client = tb_clients(TBGatewayMqttClient, live_server.mqtt_port, gateway.token)

    claim_acked(client.gw_claim(child_name, "value", 1))
    child = _assert_child(world, child_name, gateway)
    assert child["customerId"]["id"] == NULL_UUID  # owned like the (unassigned) gateway
    expire()
    world.expect_outcome(child_name, SECRET_BODY, "FAILURE")

    claim_acked(client.gw_claim(child_name, "value", 60000))
    client.disconnect()
    world.expect_success(child_name, SECRET_BODY, child["id"]["id"])
    world.expect_outcome(child_name, SECRET_BODY, "CLAIMED")


def test_row_6_gateway_claim_without_secret_and_duration(world, live_server, tb_clients):
    gateway = world.device(name=uid("Test Claim gateway"), gateway=True)
    child_name = uid("Test claiming gateway device empty payload")
    client = tb_clients(TBGatewayMqttClient, live_server.mqtt_port, gateway.token)

    claim_acked(client.gw_claim(child_name, None, None, claiming_request={child_name: EMPTY_FAILURE_PAYLOAD}))
    child = _assert_child(world, child_name, gateway)
    expire()
    world.expect_outcome(child_name, NULL_SECRET_BODY, "FAILURE")

    claim_acked(client.gw_claim(child_name, None, None, claiming_request={child_name: EMPTY_GOOD_PAYLOAD}))
    client.disconnect()
    world.expect_success(child_name, NULL_SECRET_BODY, child["id"]["id"])
    world.expect_outcome(child_name, NULL_SECRET_BODY, "CLAIMED")


def test_gateway_claims_two_children_in_one_message(world, live_server, tb_clients):
    gateway = world.device(name=uid("Test Claim gateway"), gateway=True)
    first, second = uid("gw child A"), uid("gw child B")
    client = tb_clients(TBGatewayMqttClient, live_server.mqtt_port, gateway.token)
    request = {
        first: {"secretKey": "secret-a", "durationMs": 60000},
        second: {"secretKey": "secret-b", "durationMs": "60000"},
    }  # string durations are accepted (§1.1)
    claim_acked(client.gw_claim(first, None, None, claiming_request=request))

    children = {name: _assert_child(world, name, gateway) for name in (first, second)}
    assert children[first]["id"] != children[second]["id"]
    world.expect_outcome(first, {"secretKey": "secret-b"}, "FAILURE")  # each child has its own key
    claim_acked(client.gw_claim(first, None, None, claiming_request=request))  # window spent: open it again
    world.expect_success(first, {"secretKey": "secret-a"}, children[first]["id"]["id"])
    world.expect_success(second, {"secretKey": "secret-b"}, children[second]["id"]["id"])


def test_gateway_claim_uses_an_existing_tenant_device(world, live_server, tb_clients):
    gateway = world.device(gateway=True)
    existing = world.device(name=uid("existing child"))
    new_name = uid("new child")
    client = tb_clients(TBGatewayMqttClient, live_server.mqtt_port, gateway.token)
    claim_acked(
        client.gw_claim(
            existing.name,
            None,
            None,
            claiming_request={existing.name: {"secretKey": "k1", "durationMs": 60000}, new_name: {"secretKey": "k2"}},
        )
    )
    assert world.tenant_device(existing.name).json()["id"]["id"] == existing.id
    _assert_child(world, new_name, gateway)
    world.expect_success(existing.name, {"secretKey": "k1"}, existing.id)
    world.expect_success(new_name, {"secretKey": "k2"})


# the SDK's session -----------------------------------------------------------------------------------
def test_tb_client_session_is_healthy(world, live_server, tb_clients):
    device = world.device()
    seen: dict[str, Any] = {"subacks": [], "connack": None, "log": []}

    def instrument(client: TBDeviceMqttClient) -> None:
        paho = client._client
        original_on_connect = paho.on_connect

        def on_connect(c, userdata, flags, reason_code, properties, *extra):
            seen["connack"] = (reason_code.value, properties)
            original_on_connect(c, userdata, flags, reason_code, properties, *extra)

        paho.on_connect = on_connect
        paho.on_subscribe = lambda c, u, mid, codes, props: seen["subacks"].append((mid, [rc.value for rc in codes]))
        paho.on_log = lambda c, u, level, text: seen["log"].append((time.monotonic(), text))

    client = tb_clients(TBDeviceMqttClient, live_server.mqtt_port, device.token, before=instrument, keepalive=1)

    # CONNACK: accepted, with an assigned client identifier (the SDK connects with an empty one)
    reason, properties = wait_until(lambda: seen["connack"], what="CONNACK")
    assert reason == 0
    assigned = getattr(properties, "AssignedClientIdentifier", None)
    assert isinstance(assigned, str) and assigned, properties

    # four SUBSCRIBEs, each acknowledged with one granted-QoS code
    wait_until(lambda: len(seen["subacks"]) >= 4, what="4 SUBACKs")
    assert len(seen["subacks"]) == 4, seen["subacks"]
    assert all(len(codes) == 1 and codes[0] in (0, 1) for _mid, codes in seen["subacks"]), seen["subacks"]

    # getSessionLimits answered: the SDK applied the service configuration
    wait_until(lambda: client.rate_limits_received, what="the getSessionLimits answer")

    # keep-alive: with keepalive=1 paho pings every second and the session stays up
    start = time.monotonic()
    time.sleep(3.5)
    assert client.is_connected() and client._client.is_connected()
    pingresps = [t for t, text in seen["log"] if "Received PINGRESP" in text and t >= start]
    assert len(pingresps) >= 2, [text for _t, text in seen["log"]]
    assert not any("Received DISCONNECT" in text for _t, text in seen["log"])
    claim_acked(client.claim(secret_key="alive", duration=60000))
    world.expect_success(device.name, {"secretKey": "alive"}, device.id)


@pytest.mark.parametrize("gateway", [False, True], ids=["device", "gateway"])
def test_get_session_limits_rpc_answer(world, live_server, gateway):
    device = world.device(gateway=gateway)
    paho = PahoDevice(live_server.mqtt_port, device.token, protocol=mqtt.MQTTv5).connect()
    try:
        _rc, mid = paho.client.subscribe("v1/devices/me/rpc/response/+", qos=1)
        wait_until(lambda: mid in paho.subacks, what="SUBACK")
        assert paho.subacks[mid] in ([0], [1])
        assert (
            paho.publish("v1/devices/me/rpc/request/1", {"method": "getSessionLimits", "params": {"timeout": 5000}})
            == 0
        )
        try:
            message = paho.messages.get(timeout=5)
        except queue.Empty:
            pytest.fail("no answer to getSessionLimits on v1/devices/me/rpc/response/1")
        assert message.topic == "v1/devices/me/rpc/response/1"
        answer = json.loads(message.payload)
        assert isinstance(answer["maxPayloadSize"], int) and answer["maxPayloadSize"] > 0
        assert isinstance(answer["maxInflightMessages"], int) and answer["maxInflightMessages"] > 0
        assert set(answer["rateLimits"]) >= {"messages", "telemetryMessages", "telemetryDataPoints"}
        assert ("gatewayRateLimits" in answer) is gateway
    finally:
        paho.close()


def test_tb_client_unknown_token_is_refused_with_0x86(live_server):
    paho_seen: dict[str, Any] = {}
    client = TBDeviceMqttClient(HOST, port=live_server.mqtt_port, username=uid("unknown-token"))
    original = client._client.on_connect

    def on_connect(c, userdata, flags, reason_code, properties, *extra):
        paho_seen.setdefault("reason", reason_code.value)
        original(c, userdata, flags, reason_code, properties, *extra)

    client._client.on_connect = on_connect
    try:
        client.connect(min_reconnect_delay=30)  # one attempt is enough to see the CONNACK
        wait_until(lambda: "reason" in paho_seen, what="CONNACK")
        assert paho_seen["reason"] == 0x86  # Bad user name or password (§1.2)
        assert not client.is_connected()
    finally:
        client.stop()
        client.disconnect()
