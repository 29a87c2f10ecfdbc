"""The OpenAPI document says what every route answers (issue 21): each success a schema (or its
media type, or that it has no body), each 4xx the error body of its API family, and the schemas hold
what the code writes. Real answers are checked against the document end to end in
tests/e2e/test_schemathesis.py; here the document itself, and the JSON builders against it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import jsonschema_rs
import pytest
from starlette.requests import Request

from claimd.config import Settings
from claimd.domain.model import NULL_UUID, Authority, Customer, Device, Page, User
from claimd.entrypoints.http import errors
from claimd.entrypoints.http.app import create_app
from claimd.entrypoints.http.schemas import customer_json, device_json, page_json, user_json

#: Successes that have no body (ThingsBoard answers these 200 with an empty body).
EMPTY_SUCCESS = {
    "DELETE /api/customer/device/{deviceName}/claim",
    "POST /api/v1/{accessToken}/claim",  # the X-Claimd-Claim-Window header says what became of the window
    "DELETE /api/customer/{customerId}",
    "DELETE /api/tenant/{tenantId}",
    "DELETE /api/user/{userId}",
    "DELETE /api/device/{deviceId}",
    "POST /api/owner/CUSTOMER/{ownerId}/DEVICE/{deviceId}",
    "POST /api/owner/TENANT/{ownerId}/DEVICE/{deviceId}",
    "POST /api/plugins/telemetry/{entityType}/{entityId}/{scope}",
    "POST /api/plugins/telemetry/{entityType}/{entityId}/attributes/{scope}",
    "POST /api/plugins/telemetry/{deviceId}/{scope}",
    "DELETE /api/plugins/telemetry/{entityType}/{entityId}/{scope}",
    "DELETE /api/plugins/telemetry/{deviceId}/{scope}",
}
#: Operations with no success at all.
NO_SUCCESS = {
    "POST /api/user/sendActivationMail": "always 400: claimd sends no e-mail",
    "GET /v1/bulk-ops-requests/{opId}/upload.csv": "always 410: an upload is never served back",
}
#: Operations whose success is not declared yet, and why. An entry that is declared now fails the
#: test: take it out.
UNDECLARED = {
    "GET /healthz": "declared in app.py, not in this change (the health routes)",
    "GET /readyz": "declared in app.py, not in this change (the health routes)",
}
JSON_TYPES = ("application/json", "application/problem+json")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{method.upper()} {path}": op for path, item in document["paths"].items() for method, op in item.items()}


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema and len(schema) == 1:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def describes(document: dict[str, Any], schema: dict[str, Any]) -> bool:
    """Whether ``schema`` says what the body holds: not ``{}``, not FastAPI's bare ``dict``."""
    if "$ref" in schema:
        return True
    if "anyOf" in schema or "oneOf" in schema:
        return all(describes(document, s) for s in schema.get("anyOf", schema.get("oneOf")))
    if schema.get("type") == "array":
        return describes(document, schema.get("items", {}))
    if schema.get("type") == "object":
        return "properties" in schema
    return "type" in schema or "enum" in schema or "const" in schema


def successes(op: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {status: answer for status, answer in op["responses"].items() if status.startswith("2")}


def test_every_success_declares_its_body(document: dict[str, Any]) -> None:
    undescribed: dict[str, str] = {}
    empty, no_success = set(), set()
    for label, op in operations(document).items():
        found = successes(op)
        if not found:
            no_success.add(label)
        for status, answer in found.items():
            content = answer.get("content")
            if status == "204":
                assert not content, f"{label}: a 204 has no body"
                continue
            if not content:
                empty.add(label)
                continue
            for media_type, body in content.items():
                schema = body.get("schema", {})
                if media_type in JSON_TYPES and not describes(document, schema):
                    undescribed[label] = f"{status} {media_type}: {json.dumps(schema)[:120]}"
                if media_type not in JSON_TYPES:
                    assert schema, f"{label} {status}: {media_type} without a schema"
    assert empty == EMPTY_SUCCESS
    assert no_success == set(NO_SUCCESS)
    assert set(undescribed) <= set(UNDECLARED), {k: v for k, v in undescribed.items() if k not in UNDECLARED}
    assert set(UNDECLARED) <= set(undescribed), (
        f"declared now, take out of UNDECLARED: {set(UNDECLARED) - set(undescribed)}"
    )


def test_empty_successes_say_so(document: dict[str, Any]) -> None:
    ops = operations(document)
    for label in EMPTY_SUCCESS:
        answer = ops[label]["responses"]["200"]
        assert "content" not in answer and answer["description"], label


def family(label: str) -> str:
    path = label.split(" ", 1)[1]
    if path.startswith("/v1/"):
        return "problem"
    if path.startswith("/api/v3/"):
        return "tts"
    return "thingsboard"


ERROR_BODIES = {
    "thingsboard": ("application/json", "ThingsBoardError"),
    "tts": ("application/json", "TtsError"),
}


def test_every_4xx_declares_its_family_error_body(document: dict[str, Any]) -> None:
    for label, op in operations(document).items():
        if label in UNDECLARED:
            continue
        responses = op["responses"]
        assert "422" not in responses, f"{label}: claimd answers a validation error 400, never 422"
        assert "4XX" in responses, f"{label}: no 4XX error body"
        content = responses["4XX"]["content"]
        if family(label) == "problem":
            assert list(content) == ["application/problem+json"], label
            assert set(content["application/problem+json"]["schema"]["required"]) == {
                "type",
                "title",
                "status",
                "detail",
                "instance",
                "code",
                "message",
            }, label
        else:
            media_type, name = ERROR_BODIES[family(label)]
            assert content == {media_type: {"schema": {"$ref": f"#/components/schemas/{name}"}}}, label


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    names = set(document["components"]["schemas"])

    def refs(value: Any) -> set[str]:
        if isinstance(value, dict):
            found = {value["$ref"].rsplit("/", 1)[1]} if isinstance(value.get("$ref"), str) else set()
            return found.union(*(refs(v) for v in value.values()))
        if isinstance(value, list):
            return set().union(*(refs(v) for v in value))
        return set()

    assert refs(document) <= names, refs(document) - names


# --- the builders' bodies against the declared schemas ------------------------------------------


def validator(document: dict[str, Any], name: str) -> jsonschema_rs.Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(schema)


TENANT, CUSTOMER = uuid.uuid4(), uuid.uuid4()
DEVICES = [
    Device(uuid.uuid4(), TENANT, None, "d-1", "default", 1_700_000_000_000),
    Device(
        uuid.uuid4(),
        TENANT,
        CUSTOMER,
        "d-2",
        "sensor",
        1_700_000_000_001,
        label="L",
        additional_info={"gateway": True, "ratio": 0.5},
    ),
]


@pytest.mark.parametrize("device", DEVICES)
def test_device_json_is_the_declared_device(document: dict[str, Any], device: Device) -> None:
    validator(document, "Device").validate(device_json(device))
    with pytest.raises(jsonschema_rs.ValidationError):
        validator(document, "Device").validate({**device_json(device), "undeclared": 1})


def test_customer_user_and_page_json_are_declared(document: dict[str, Any]) -> None:
    customer = Customer(CUSTOMER, TENANT, "C", 1_700_000_000_000, email=None, additional_info={"a": [1]})
    validator(document, "Customer").validate(customer_json(customer))
    users = [
        User(uuid.uuid4(), TENANT, CUSTOMER, "u@example.com", Authority.CUSTOMER_USER, 1, first_name="A"),
        User(uuid.uuid4(), NULL_UUID, None, "s@example.com", Authority.SYS_ADMIN, 2, enabled=True),
    ]
    for user in users:
        validator(document, "User").validate(user_json(user))
    validator(document, "DevicePageData").validate(page_json(Page(DEVICES, 12, 2), 0, device_json))
    validator(document, "UserPageData").validate(page_json(Page(users, 2, 10), 0, user_json))


def body_of(response: Any) -> Any:
    return json.loads(response.body)


def test_the_error_bodies_are_declared(document: dict[str, Any]) -> None:
    validator(document, "ThingsBoardError").validate(body_of(errors.error_response(404, "Not found")))
    validator(document, "TtsError").validate(body_of(errors.tts_response(400, "bad", "BAD", None)))
    request = Request(
        {"type": "http", "method": "GET", "path": "/v1/claimed-devices", "headers": [], "query_string": b""}
    )
    problem = body_of(errors.problem_response(request, 409, "taken", "DEVICE_OWNED_BY_ANOTHER"))
    schema = document["paths"]["/v1/claimed-devices"]["get"]["responses"]["4XX"]["content"]["application/problem+json"][
        "schema"
    ]
    jsonschema_rs.Draft202012Validator(schema).validate(problem)
