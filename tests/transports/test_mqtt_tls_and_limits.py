"""MQTT over TLS (a certificate made here, a real paho client) and the bound on open connections."""

from __future__ import annotations

import datetime
import socket
import ssl
import time

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from servers import free_port, start_server
from transport_helpers import make_world, uid

from claimd.entrypoints.mqtt.v311 import encode_connect


def self_signed(tmp_path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(tmp)
    tls_port = free_port()
    server = start_server(
        tmp,
        extra_env={
            "CLAIMD_MQTT_TLS_PORT": str(tls_port),
            "CLAIMD_MQTT_TLS_CERT": cert,
            "CLAIMD_MQTT_TLS_KEY": key,
            "CLAIMD_MQTT_MAX_CONNECTIONS": "5",
        },
    )
    try:
        yield server, tls_port, cert
    finally:
        server.stop()


def test_a_device_opens_its_window_over_tls(tls_server):
    server, tls_port, cert = tls_server
    world = make_world(server.base_url, server.admin_email, server.admin_password)
    try:
        device = world.device(uid("tls"))
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="tls-dev", protocol=mqtt.MQTTv311)
        client.username_pw_set(device.token)
        client.tls_set(ca_certs=cert, cert_reqs=ssl.CERT_REQUIRED)
        client.connect("localhost", tls_port)
        client.loop_start()
        try:
            info = client.publish("v1/devices/me/claim", b'{"secretKey": "over-tls", "durationMs": 60000}', qos=1)
            info.wait_for_publish(timeout=10)
            assert info.is_published()
        finally:
            client.disconnect()
            client.loop_stop()
        world.expect_success(device.name, {"secretKey": "over-tls"})
    finally:
        world.close()


def test_open_connections_are_bounded(tls_server):
    server, _, _ = tls_server
    held = []
    try:
        for _ in range(5):
            s = socket.create_connection(("127.0.0.1", server.mqtt_port), timeout=5)
            held.append(s)
        time.sleep(0.3)
        extra = socket.create_connection(("127.0.0.1", server.mqtt_port), timeout=5)
        extra.sendall(encode_connect(f"over-{uid()}", username="whatever"))
        try:
            answer = extra.recv(16)
        except ConnectionResetError:
            answer = b""
        assert answer == b""  # the sixth connection is closed at once (reset), without a CONNACK
        extra.close()
        for s in held:
            s.close()
        held.clear()
        time.sleep(0.5)
        again = socket.create_connection(("127.0.0.1", server.mqtt_port), timeout=5)
        again.sendall(encode_connect("after-close", username="unknown-token"))
        assert again.recv(4) == bytes((0x20, 2, 0, 5))  # served again: a CONNACK (refused, unknown token)
        again.close()
    finally:
        for s in held:
            s.close()
    assert server.process.poll() is None
