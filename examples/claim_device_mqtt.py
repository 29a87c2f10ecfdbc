"""A device opens its claim window over MQTT with ThingsBoard's own Python SDK (tb-mqtt-client).

Run it, answer the questions (Enter keeps the default), then claim the device as a customer:
    POST /api/customer/device/{deviceName}/claim  {"secretKey": "<the secret you typed>"}

    pip install tb-mqtt-client mmh3
    python examples/claim_device_mqtt.py
"""

from __future__ import annotations

import sys

from tb_device_mqtt import TBDeviceMqttClient


def ask(question: str, default: str) -> str:
    answer = input(f"{question} [{default}]: ").strip()
    return answer or default


def main() -> int:
    host = ask("claimd host", "localhost")
    port = int(ask("claimd MQTT port", "1883"))
    token = ask("device access token", "")
    if not token:
        print("an access token is needed: it is how claimd knows which device this is", file=sys.stderr)
        return 2
    secret = ask("secret key the customer will type", "")
    duration_ms = int(ask("claim window in milliseconds", "60000"))

    client = TBDeviceMqttClient(host, port=port, username=token)
    client.connect()
    try:
        result = client.claim(secret_key=secret, duration=duration_ms).get()  # waits for the PUBACK
    finally:
        client.disconnect()
    if result != 0:
        print(f"the claim message was not delivered (paho result {result})", file=sys.stderr)
        return 1
    print(f"claim window sent: the device can be claimed for {duration_ms / 1000:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
