"""Provisioning commands, the pure rules (domain/provisioning.py, provisioning_wire.py, device_jwt.py): what an owner may queue
(parse_request), what is shown again (redacted), what the device is sent (device_steps, encode_steps,
the CDDL's CBOR and its JSON form), what it answers (decode_reports / parse_reports), what an answer
does to a command (apply_report), and the device JWT's issuer and time rules.

Pure unit tests: no database, no network.
"""

from __future__ import annotations

import json
import string
import uuid
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claimd.domain.device_jwt import CLOCK_SKEW_S, MAX_JWT_LIFETIME_S, jwt_device_id, jwt_times_ok
from claimd.domain.errors import InvalidArgument
from claimd.domain.provisioning import (
    KINDS,
    MAX_CONFIG_PROPERTIES,
    MAX_SEC_TAG,
    SECRET_PLACEHOLDER,
    CommandRequest,
    CommandStatus,
    ProvisioningCommand,
    apply_report,
    device_steps,
    parse_request,
    redacted,
    step_types,
)
from claimd.domain.provisioning_wire import (
    MAX_REPORT_BYTES,
    MAX_REPORTS,
    DeviceReport,
    DeviceStep,
    ResponseType,
    StepType,
    decode_reports,
    encode_steps,
    parse_correlation,
    parse_reports,
)

CMD = uuid.UUID("0b7e6a3c-5d1f-4e2a-9c8b-1a2b3c4d5e6f")
C = str(CMD)
PEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----"
KEY_PEM = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----"

#: One valid request of every kind, with the parameters parse_request keeps.
VALID: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "clientPrivateKeyGeneration": ({"secTag": 16842753}, {"secTag": 16842753}),
    "cloudAccessKeyGeneration": ({"secTag": 0}, {"secTag": 0}),
    "certificateSigningRequest": (
        {"secTag": 16842753, "attributes": "O=Nordic,CN=dev", "keyUsage": "101010000"},
        {"secTag": 16842753, "attributes": "O=Nordic,CN=dev", "keyUsage": "101010000"},
    ),
    "clientCertificate": ({"secTag": 42, "content": PEM}, {"secTag": 42, "content": PEM}),
    "serverCertificate": ({"secTag": 42, "content": PEM}, {"secTag": 42, "content": PEM}),
    "clientPrivateKey": (
        {"secTag": 42, "content": KEY_PEM, "password": "pw"},
        {"secTag": 42, "content": KEY_PEM, "password": "pw"},
    ),
    "preSharedKey": (
        {"secTag": 7, "identity": "dev-1", "secret": "a1b2c3"},
        {"secTag": 7, "identity": "dev-1", "secret": "a1b2c3"},
    ),
    "atCommand": (
        {"setCommand": "%XSYSTEMMODE", "parameters": "1,0,1,0", "ignoreCmeErrors": [527]},
        {"setCommand": "%XSYSTEMMODE", "parameters": "1,0,1,0", "ignoreCmeErrors": [527]},
    ),
    "config": (
        {"interval": 60, "mode": "lte-m", "gps": True, "ratio": 0.5},
        {"interval": "60", "mode": "lte-m", "gps": "true", "ratio": "0.5"},
    ),
    "finished": ({}, {}),
}

REQUIRED = {
    "clientPrivateKeyGeneration": ["secTag"],
    "cloudAccessKeyGeneration": ["secTag"],
    "certificateSigningRequest": ["secTag", "attributes"],
    "clientCertificate": ["secTag", "content"],
    "serverCertificate": ["secTag", "content"],
    "clientPrivateKey": ["secTag", "content"],
    "preSharedKey": ["secTag", "identity", "secret"],
    "atCommand": ["setCommand"],
}
TEXT_PARAMS = [(kind, key) for kind, keys in REQUIRED.items() for key in keys if key not in ("secTag", "setCommand")]
TEXT_PARAMS += [("clientPrivateKey", "password"), ("atCommand", "parameters")]
SEC_TAG_KINDS = [kind for kind, keys in REQUIRED.items() if "secTag" in keys]


def raises_invalid(request: Any, *words: str) -> str:
    with pytest.raises(InvalidArgument) as info:
        parse_request(request)
    for word in words:
        assert word in info.value.message, info.value.message
    return info.value.message


def with_params(kind: str, **changes: Any) -> dict[str, Any]:
    params = dict(VALID[kind][0])
    for key, value in changes.items():
        if value is ...:
            params.pop(key, None)
        else:
            params[key] = value
    return {kind: params}


def request(kind: str, **params: Any) -> CommandRequest:
    return parse_request({kind: params})


# parse_request: valid --------------------------------------------------------------------------
def test_every_kind_has_a_valid_example():
    assert set(VALID) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_a_valid_request_of_every_kind_is_kept(kind):
    given_params, kept = VALID[kind]
    checked = parse_request({kind: given_params})
    assert checked == CommandRequest(kind, kept)


def test_optional_parameters_may_be_left_out_or_null():
    assert request("certificateSigningRequest", secTag=1, attributes="CN=x").params == {
        "secTag": 1,
        "attributes": "CN=x",
    }
    assert request("certificateSigningRequest", secTag=1, attributes="CN=x", keyUsage=None).params == {
        "secTag": 1,
        "attributes": "CN=x",
    }
    assert request("clientPrivateKey", secTag=1, content=KEY_PEM).params == {"secTag": 1, "content": KEY_PEM}
    assert request("clientPrivateKey", secTag=1, content=KEY_PEM, password=None).params == {
        "secTag": 1,
        "content": KEY_PEM,
    }
    assert request("atCommand", setCommand="%KEYGEN").params == {
        "setCommand": "%KEYGEN",
        "parameters": "",
        "ignoreCmeErrors": [],
    }


# parse_request: the request object itself ------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [None, [], "config", 5, {}, {"config": {}, "finished": {}}],
    ids=["null", "list", "string", "number", "empty", "two-kinds"],
)
def test_a_request_is_an_object_with_exactly_one_kind(value):
    raises_invalid(value, "exactly one")


@pytest.mark.parametrize("kind", ["reboot", "Config", "FINISHED", ""])
def test_unknown_kinds_are_refused_and_the_known_ones_named(kind):
    message = raises_invalid({kind: {}}, "Unknown request type")
    assert all(k in message for k in KINDS)


@pytest.mark.parametrize("params", [None, [], "60", 1], ids=["null", "list", "string", "number"])
@pytest.mark.parametrize("kind", ["config", "finished", "preSharedKey"])
def test_parameters_are_an_object(kind, params):
    raises_invalid({kind: params}, "must be an object")


# parse_request: missing, extra, wrong types ---------------------------------------------------
@pytest.mark.parametrize(("kind", "key"), [(k, key) for k, keys in REQUIRED.items() for key in keys])
def test_each_required_parameter_is_required(kind, key):
    raises_invalid(with_params(kind, **{key: ...}), key)


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "config"])
def test_extra_parameters_are_refused(kind):
    raises_invalid(with_params(kind, bogus="1"), "bogus")


@pytest.mark.parametrize("kind", SEC_TAG_KINDS)
@pytest.mark.parametrize(
    "value",
    ["1", 1.0, True, None, [1], -1, MAX_SEC_TAG + 1],
    ids=["string", "float", "bool", "null", "list", "negative", "too-big"],
)
def test_sec_tag_is_an_integer_in_range(kind, value):
    raises_invalid(with_params(kind, secTag=value), "secTag", str(MAX_SEC_TAG))


@pytest.mark.parametrize("value", [0, 1, MAX_SEC_TAG])
def test_sec_tag_bounds_are_inclusive(value):
    assert request("clientPrivateKeyGeneration", secTag=value).params == {"secTag": value}


@pytest.mark.parametrize(("kind", "key"), TEXT_PARAMS)
@pytest.mark.parametrize(
    "value", [5, "", "   ", ["x"], {"a": "b"}, True], ids=["number", "empty", "blank", "list", "object", "bool"]
)
def test_text_parameters_are_non_empty_strings(kind, key, value):
    raises_invalid(with_params(kind, **{key: value}), key)


QUOTED_PARAMS = [p for p in TEXT_PARAMS if p != ("atCommand", "parameters")]


@pytest.mark.parametrize(("kind", "key"), QUOTED_PARAMS)
@pytest.mark.parametrize("bad", ['a"b', 'x",1,"y', "a\x00b"], ids=["quote", "quote-injection", "nul"])
def test_quotes_and_nul_cannot_reach_an_at_command(kind, key, bad):
    raises_invalid(with_params(kind, **{key: bad}), key)


@pytest.mark.parametrize("bad", ["1\r\nAT+CFUN=0", "1\nx", "a\x00b"], ids=["crlf", "lf", "nul"])
def test_raw_at_parameters_take_quotes_but_cannot_end_the_command(bad):
    quoted = request("atCommand", setCommand="+CGDCONT", parameters='0,"IP","iot.example"')
    assert quoted.params["parameters"] == '0,"IP","iot.example"' and quoted.params["setCommand"] == "+CGDCONT"
    raises_invalid(with_params("atCommand", parameters=bad), "parameters")


def test_at_text_is_at_most_8192_characters():
    assert request("clientCertificate", secTag=1, content="A" * 8192).params["content"] == "A" * 8192
    raises_invalid({"clientCertificate": {"secTag": 1, "content": "A" * 8193}}, "8192")


def test_at_text_keeps_newlines_of_a_pem():
    assert request("serverCertificate", secTag=1, content=PEM).params["content"] == PEM


# keyUsage, PSK, atCommand ----------------------------------------------------------------------
@pytest.mark.parametrize("usage", ["101010000", "000000000", "111111111"])
def test_key_usage_is_nine_binary_digits(usage):
    assert request("certificateSigningRequest", secTag=1, attributes="CN=x", keyUsage=usage).params["keyUsage"] == usage


@pytest.mark.parametrize(
    "usage",
    ["10101000", "1010100001", "10101000x", "2" * 9, "", 101010000, ["1"]],
    ids=["eight", "ten", "letter", "two", "empty", "number", "list"],
)
def test_bad_key_usage_is_refused(usage):
    raises_invalid({"certificateSigningRequest": {"secTag": 1, "attributes": "CN=x", "keyUsage": usage}}, "keyUsage")


@pytest.mark.parametrize("secret", ["a1b2c3", "ABCDEF", "00", "0123456789abcdefABCDEF00"])
def test_psk_secret_is_hexadecimal(secret):
    assert request("preSharedKey", secTag=1, identity="id", secret=secret).params["secret"] == secret


@pytest.mark.parametrize(
    "secret", ["abc", "zz", "0x12", "a1 b2", "a1b2-"], ids=["odd", "not-hex", "0x", "space", "dash"]
)
def test_psk_secret_that_is_not_hex_is_refused(secret):
    raises_invalid({"preSharedKey": {"secTag": 1, "identity": "id", "secret": secret}}, "hexadecimal")


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("%KEYGEN", "%KEYGEN"),
        ("AT%KEYGEN", "%KEYGEN"),
        ("%keygen", "%KEYGEN"),
        ("keygen", "%KEYGEN"),
        ("%XSYSTEMMODE", "%XSYSTEMMODE"),
        ("%CMNG", "%CMNG"),
        ("%X#1", "%X#1"),
        ("%" + "A" * 32, "%" + "A" * 32),
    ],
)
def test_at_set_command_is_normalised(given, normalised):
    assert request("atCommand", setCommand=given).params["setCommand"] == normalised


@pytest.mark.parametrize("given", ["at%keygen", "At%KEYGEN"])
def test_a_lower_case_at_prefix_is_removed_too(given):
    assert request("atCommand", setCommand=given).params["setCommand"] == "%KEYGEN"


@pytest.mark.parametrize(
    "command",
    ["%KEYGEN=", "%KEYGEN=1", "", "AT", "%", "%%KEYGEN", "%1ABC", "% KEYGEN", "%" + "A" * 33, 5, None, ["%KEYGEN"]],
    ids=[
        "equals",
        "with-params",
        "empty",
        "bare-AT",
        "bare-%",
        "double-%",
        "digit-first",
        "space",
        "too-long",
        "number",
        "null",
        "list",
    ],
)
def test_bad_at_set_commands_are_refused(command):
    raises_invalid({"atCommand": {"setCommand": command}}, "setCommand")


@pytest.mark.parametrize("ignore", [[], [527], [0, 1, 2, 3, 4, 65535]])
def test_ignore_cme_errors_up_to_six_numbers(ignore):
    assert request("atCommand", setCommand="%CMNG", ignoreCmeErrors=ignore).params["ignoreCmeErrors"] == ignore


@pytest.mark.parametrize(
    "ignore",
    [[1, 2, 3, 4, 5, 6, 7], [-1], [65536], [True], ["527"], [5.0], "527", 527, {}],
    ids=["seven", "negative", "too-big", "bool", "string-item", "float-item", "string", "number", "object"],
)
def test_bad_ignore_cme_errors_are_refused(ignore):
    raises_invalid({"atCommand": {"setCommand": "%CMNG", "ignoreCmeErrors": ignore}}, "ignoreCmeErrors")


# config -----------------------------------------------------------------------------------------
def test_config_values_become_strings():
    checked = request("config", a=60, b=-1, c=1.5, d=True, e=False, f="x", g="")
    assert checked.params == {"a": "60", "b": "-1", "c": "1.5", "d": "true", "e": "false", "f": "x", "g": ""}


@pytest.mark.parametrize("value", [None, [], {}, ["1"], {"a": 1}], ids=["null", "list", "object", "list1", "object1"])
def test_config_values_are_scalars(value):
    raises_invalid({"config": {"k": value}}, "'k'")


def test_config_takes_at_most_ten_properties():
    ten = {f"k{i}": str(i) for i in range(MAX_CONFIG_PROPERTIES)}
    assert parse_request({"config": ten}).params == ten
    raises_invalid({"config": {**ten, "k10": "10"}}, str(MAX_CONFIG_PROPERTIES))


def test_config_may_be_empty():
    assert parse_request({"config": {}}) == CommandRequest("config", {})


def test_config_keys_are_1_to_255_characters():
    assert request("config", **{"k" * 255: "v"}).params == {"k" * 255: "v"}
    raises_invalid({"config": {"k" * 256: "v"}}, "1-255")
    raises_invalid({"config": {"": "v"}}, "1-255")


# redacted ---------------------------------------------------------------------------------------
def test_redacted_hides_a_private_key_and_its_password():
    checked = request("clientPrivateKey", secTag=42, content=KEY_PEM, password="pw")
    shown = redacted(checked)
    assert shown == {"clientPrivateKey": {"secTag": 42, "content": SECRET_PLACEHOLDER, "password": SECRET_PLACEHOLDER}}
    assert KEY_PEM not in json.dumps(shown) and checked.params["content"] == KEY_PEM  # not changed in place


def test_redacted_hides_the_psk_secret_but_not_its_identity():
    shown = redacted(request("preSharedKey", secTag=7, identity="dev-1", secret="a1b2c3"))
    assert shown == {"preSharedKey": {"secTag": 7, "identity": "dev-1", "secret": SECRET_PLACEHOLDER}}
    assert "a1b2c3" not in json.dumps(shown)


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("clientPrivateKey", "preSharedKey")])
def test_redacted_shows_other_requests_as_checked(kind):
    checked = parse_request({kind: VALID[kind][0]})
    assert redacted(checked) == {kind: checked.params}


# device_steps -----------------------------------------------------------------------------------
def at_steps(kind: str, **params: Any) -> list[tuple[str, str, str, tuple[int, ...]]]:
    steps = device_steps(CMD, request(kind, **params))
    assert all(s.type is StepType.AT for s in steps)
    return [(s.correlation_id, s.set_command, s.parameters, s.ignore_cme_errors) for s in steps]


def test_key_generation_is_keygen_with_public_key_output():
    for kind in ("clientPrivateKeyGeneration", "cloudAccessKeyGeneration"):
        assert at_steps(kind, secTag=16842753) == [(C, "%KEYGEN", "16842753,2,1", ())]


def test_csr_is_keygen_with_csr_output_attributes_and_key_usage():
    assert at_steps("certificateSigningRequest", secTag=16842753, attributes="O=Nordic,CN=dev") == [
        (C, "%KEYGEN", '16842753,2,0,"O=Nordic,CN=dev"', ())
    ]
    assert at_steps("certificateSigningRequest", secTag=5, attributes="CN=x", keyUsage="101010000") == [
        (C, "%KEYGEN", '5,2,0,"CN=x","101010000"', ())
    ]


def test_certificates_and_keys_are_cmng_writes_of_their_type():
    assert at_steps("serverCertificate", secTag=42, content=PEM) == [(C, "%CMNG", f'0,42,0,"{PEM}"', ())]
    assert at_steps("clientCertificate", secTag=42, content=PEM) == [(C, "%CMNG", f'0,42,1,"{PEM}"', ())]
    assert at_steps("clientPrivateKey", secTag=42, content=KEY_PEM) == [(C, "%CMNG", f'0,42,2,"{KEY_PEM}"', ())]
    assert at_steps("clientPrivateKey", secTag=42, content=KEY_PEM, password="pw") == [
        (C, "%CMNG", f'0,42,2,"{KEY_PEM}","pw"', ())
    ]


def test_a_psk_is_two_steps_identity_then_key():
    assert at_steps("preSharedKey", secTag=7, identity="dev-1", secret="a1b2c3") == [
        (f"{C}.0", "%CMNG", '0,7,4,"dev-1"', ()),
        (f"{C}.1", "%CMNG", '0,7,3,"a1b2c3"', ()),
    ]


def test_an_at_command_is_sent_as_given():
    assert at_steps("atCommand", setCommand="AT%xsystemmode", parameters="1,0,1,0", ignoreCmeErrors=[527, 528]) == [
        (C, "%XSYSTEMMODE", "1,0,1,0", (527, 528))
    ]
    assert at_steps("atCommand", setCommand="%KEYGEN") == [(C, "%KEYGEN", "", ())]


def test_config_and_finished_steps():
    (config,) = device_steps(CMD, request("config", interval=60, mode="lte-m"))
    assert config == DeviceStep(C, StepType.CONFIG, properties=(("interval", "60"), ("mode", "lte-m")))
    (finished,) = device_steps(CMD, request("finished"))
    assert finished == DeviceStep(C, StepType.FINISHED)


@pytest.mark.parametrize("kind", KINDS)
def test_step_types_match_the_steps(kind):
    checked = parse_request({kind: VALID[kind][0]})
    assert [s.type for s in device_steps(CMD, checked)] == step_types(checked)
    assert len(step_types(checked)) == (2 if kind == "preSharedKey" else 1)


def test_steps_done_are_not_sent_again():
    psk = request("preSharedKey", secTag=7, identity="dev-1", secret="a1b2c3")
    assert [s.correlation_id for s in device_steps(CMD, psk, 0)] == [f"{C}.0", f"{C}.1"]
    assert [(s.correlation_id, s.parameters) for s in device_steps(CMD, psk, 1)] == [(f"{C}.1", '0,7,3,"a1b2c3"')]
    assert device_steps(CMD, psk, 2) == []
    assert device_steps(CMD, request("finished"), 1) == []


# the wire forms of steps ------------------------------------------------------------------------
def all_steps() -> list[DeviceStep]:
    ids = [uuid.UUID(int=i + 1) for i in range(4)]
    return (
        device_steps(ids[0], request("config", interval=60))
        + device_steps(ids[1], request("atCommand", setCommand="%KEYGEN", parameters="1,2,0", ignoreCmeErrors=[527]))
        + device_steps(ids[2], request("preSharedKey", secTag=7, identity="id", secret="a1"))
        + device_steps(ids[3], request("finished"))
    )


def test_cbor_items_follow_the_cddl():
    config, keygen, psk0, psk1, finished = all_steps()
    u = [str(uuid.UUID(int=i + 1)) for i in range(4)]
    assert config.cbor_item() == [u[0], 1, {"interval": "60"}]
    assert keygen.cbor_item() == [u[1], 0, "%KEYGEN", "1,2,0", [527]]
    assert psk0.cbor_item() == [f"{u[2]}.0", 0, "%CMNG", '0,7,4,"id"', []]
    assert psk1.cbor_item() == [f"{u[2]}.1", 0, "%CMNG", '0,7,3,"a1"', []]
    assert finished.cbor_item() == [u[3], 2]


def test_json_items_are_objects():
    config, keygen, psk0, _, finished = all_steps()
    u = [str(uuid.UUID(int=i + 1)) for i in range(4)]
    assert config.json_item() == {"correlationId": u[0], "type": "CONFIG", "properties": {"interval": "60"}}
    assert keygen.json_item() == {
        "correlationId": u[1],
        "type": "AT",
        "setCommand": "%KEYGEN",
        "parameters": "1,2,0",
        "ignoreCmeErrors": [527],
    }
    assert psk0.json_item()["correlationId"] == f"{u[2]}.0"
    assert finished.json_item() == {"correlationId": u[3], "type": "FINISHED"}


def test_encode_steps_round_trips_in_cbor_and_json():
    steps = all_steps()
    encoded = encode_steps(steps, cbor=True)
    assert cbor2.loads(encoded) == [s.cbor_item() for s in steps]
    as_json = encode_steps(steps, cbor=False)
    assert json.loads(as_json) == [s.json_item() for s in steps]
    assert b" " not in as_json  # compact: a device's buffer is small
    assert cbor2.loads(encode_steps([], cbor=True)) == [] and json.loads(encode_steps([], cbor=False)) == []


def answer(item: list[Any]) -> list[Any]:
    """What a device answers to one CBOR command item."""
    correlation, kind = item[0], item[1]
    return {0: [correlation, 100, "OK"], 1: [correlation, 101], 2: [correlation, 102]}[kind]


def test_a_device_answering_the_encoded_steps_is_understood():
    steps = all_steps()
    commands = cbor2.loads(encode_steps(steps, cbor=True))
    reports = decode_reports(cbor2.dumps([answer(item) for item in commands]), cbor=True)
    assert [(r.command_id, r.step) for r in reports] == [parse_correlation(s.correlation_id) for s in steps]
    assert [r.type for r in reports] == [
        ResponseType.CONFIG_ACK,
        ResponseType.AT,
        ResponseType.AT,
        ResponseType.AT,
        ResponseType.FINISHED_ACK,
    ]


# parse_correlation ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (C, (CMD, 0)),
        (f"{C}.0", (CMD, 0)),
        (f"{C}.1", (CMD, 1)),
        (f"{C}.17", (CMD, 17)),
        (C.upper(), (CMD, 0)),
    ],
)
def test_correlation_ids(value, expected):
    assert parse_correlation(value) == expected


@pytest.mark.parametrize(
    "value",
    [None, 5, b"x", "", "not-a-uuid", f"{C}.x", f"{C}.-1", f"{C}.1.2", f"{C}.1a", C + ".1" + "0" * 64, "abc." + C],
)
def test_bad_correlation_ids_are_none(value):
    assert parse_correlation(value) is None


@pytest.mark.parametrize("tail", ["²", "¹²", "①"])
def test_a_step_of_unicode_digits_is_not_a_correlation_id(tail):
    assert parse_correlation(f"{C}.{tail}") is None


@settings(database=None)
@given(st.uuids(), st.integers(min_value=0, max_value=10**8 - 1))
def test_correlation_ids_round_trip(command_id, step):
    assert parse_correlation(f"{command_id}.{step}") == (command_id, step)
    assert parse_correlation(str(command_id)) == (command_id, 0)


# decode_reports / parse_reports: every response type ----------------------------------------------
REPORTS = [
    ([C, 99, 527, "+CME ERROR: 527"], DeviceReport(CMD, 0, ResponseType.ERROR, "+CME ERROR: 527", 527)),
    ([f"{C}.1", 99, 0, ""], DeviceReport(CMD, 1, ResponseType.ERROR, "", 0)),
    ([C, 100, "MIIBCSR"], DeviceReport(CMD, 0, ResponseType.AT, "MIIBCSR")),
    ([f"{C}.1", 100, ""], DeviceReport(CMD, 1, ResponseType.AT, "")),
    ([C, 101], DeviceReport(CMD, 0, ResponseType.CONFIG_ACK)),
    ([C, 102], DeviceReport(CMD, 0, ResponseType.FINISHED_ACK)),
]
JSON_OBJECTS = [
    ({"correlationId": C, "type": "ERROR", "cmeError": 527, "message": "+CME ERROR: 527"}, REPORTS[0][1]),
    ({"correlationId": f"{C}.1", "type": "error"}, DeviceReport(CMD, 1, ResponseType.ERROR, "", 0)),
    ({"correlationId": C, "type": 99, "cmeError": 527, "message": "+CME ERROR: 527"}, REPORTS[0][1]),
    ({"correlationId": C, "type": "AT", "message": "MIIBCSR"}, REPORTS[2][1]),
    ({"correlationId": C, "type": "at"}, DeviceReport(CMD, 0, ResponseType.AT, "")),
    ({"correlationId": C, "type": 100, "message": "MIIBCSR"}, REPORTS[2][1]),
    ({"correlationId": C, "type": "CONFIG_ACK"}, REPORTS[4][1]),
    ({"correlationId": C, "type": "config_ack"}, REPORTS[4][1]),
    ({"correlationId": C, "type": 101}, REPORTS[4][1]),
    ({"correlationId": C, "type": "FINISHED_ACK"}, REPORTS[5][1]),
    ({"correlationId": C, "type": 102}, REPORTS[5][1]),
]


@pytest.mark.parametrize(("item", "expected"), REPORTS)
def test_every_response_type_in_cbor(item, expected):
    assert decode_reports(cbor2.dumps([item]), cbor=True) == [expected]
    assert parse_reports([item], json_form=False) == [expected]
    assert expected.ok is (expected.type is not ResponseType.ERROR)


@pytest.mark.parametrize(("item", "expected"), REPORTS)
def test_every_response_type_in_json_array_form(item, expected):
    assert decode_reports(json.dumps([item]).encode(), cbor=False) == [expected]


@pytest.mark.parametrize(("item", "expected"), JSON_OBJECTS)
def test_every_response_type_in_json_object_form(item, expected):
    assert decode_reports(json.dumps([item]).encode(), cbor=False) == [expected]
    assert parse_reports([item], json_form=True) == [expected]


def test_json_object_and_array_forms_mix_in_one_body():
    body = json.dumps([{"correlationId": C, "type": "CONFIG_ACK"}, [f"{C}.1", 100, "x"]]).encode()
    assert decode_reports(body, cbor=False) == [
        DeviceReport(CMD, 0, ResponseType.CONFIG_ACK),
        DeviceReport(CMD, 1, ResponseType.AT, "x"),
    ]


def test_reports_keep_their_order_and_a_tuple_is_a_list():
    items = [[C, 101], (f"{C}.1", 102)]
    assert [r.step for r in parse_reports(items, json_form=False)] == [0, 1]
    assert len(parse_reports([[C, 101]] * MAX_REPORTS, json_form=False)) == MAX_REPORTS


def test_long_messages_are_cut():
    (error,) = parse_reports([[C, 99, 1, "e" * 10_000]], json_form=False)
    (at,) = parse_reports([[C, 100, "m" * 20_000]], json_form=False)
    assert error.message == "e" * 4096 and at.message == "m" * 16384


# decode_reports / parse_reports: malformed --------------------------------------------------------
def decode_invalid(body: bytes, *words: str, cbor: bool) -> str:
    with pytest.raises(InvalidArgument) as info:
        decode_reports(body, cbor=cbor)
    for word in words:
        assert word in info.value.message, info.value.message
    return info.value.message


@pytest.mark.parametrize("body", [b"\xff", b"\x9f\x01", b"\x1c"], ids=["break", "unterminated", "reserved"])
def test_a_body_that_is_not_cbor(body):
    decode_invalid(body, "CBOR", cbor=True)


@pytest.mark.parametrize("body", [b"{", b"[1,", b"\xff\xfe\x00", b"nope"], ids=["brace", "open", "binary", "word"])
def test_a_body_that_is_not_json(body):
    decode_invalid(body, "JSON", cbor=False)


@pytest.mark.parametrize("cbor", [True, False])
def test_an_empty_body(cbor):
    decode_invalid(b"", "non-empty", cbor=cbor)


@pytest.mark.parametrize(
    "value",
    [{}, {"correlationId": C, "type": 101}, C, 5, None, []],
    ids=["map", "one-object", "string", "number", "null", "empty-list"],
)
def test_the_body_is_a_non_empty_array(value):
    decode_invalid(cbor2.dumps(value), "non-empty array", cbor=True)
    decode_invalid(json.dumps(value).encode(), "non-empty array", cbor=False)


def test_at_most_100_reports_at_once():
    items = [[C, 101]] * (MAX_REPORTS + 1)
    decode_invalid(cbor2.dumps(items), str(MAX_REPORTS), cbor=True)
    decode_invalid(json.dumps(items).encode(), str(MAX_REPORTS), cbor=False)


@pytest.mark.parametrize("cbor", [True, False])
def test_an_oversized_body(cbor):
    decode_invalid(b"[" + b" " * MAX_REPORT_BYTES + b"]", str(MAX_REPORT_BYTES), cbor=cbor)


def test_a_body_of_exactly_the_limit_is_read():
    body = json.dumps([[C, 101]]).encode()
    body = body + b" " * (MAX_REPORT_BYTES - len(body))
    assert len(body) == MAX_REPORT_BYTES
    assert decode_reports(body, cbor=False) == [DeviceReport(CMD, 0, ResponseType.CONFIG_ACK)]


MALFORMED_ITEMS = [
    pytest.param(5, "[correlation_id, type", id="not-a-list"),
    pytest.param([C], "[correlation_id, type", id="one-field"),
    pytest.param([], "[correlation_id, type", id="empty-item"),
    pytest.param([C, 99, "527", "m"], "99", id="error-cme-string"),
    pytest.param([C, 99, True, "m"], "99", id="error-cme-bool"),
    pytest.param([C, 99, 527], "99", id="error-no-message"),
    pytest.param([C, 99, 527, 5], "99", id="error-message-number"),
    pytest.param([C, 99, 527, "m", "x"], "99", id="error-extra"),
    pytest.param([C, 100], "100", id="at-no-message"),
    pytest.param([C, 100, 5], "100", id="at-message-number"),
    pytest.param([C, 100, "m", "x"], "100", id="at-extra"),
    pytest.param([C, 101, "x"], "101", id="config-ack-extra"),
    pytest.param([C, 102, 1], "102", id="finished-ack-extra"),
    pytest.param([C, 103], "Unknown response type", id="type-103"),
    pytest.param([C, 0], "Unknown response type", id="type-0"),
    pytest.param([C, "101"], "Unknown response type", id="type-string"),
    pytest.param([C, None], "Unknown response type", id="type-null"),
    pytest.param([C, [101]], "Unknown response type", id="type-list"),
    pytest.param(["not-a-uuid", 101], "correlation", id="bad-correlation"),
    pytest.param([f"{C}.x", 101], "correlation", id="bad-step"),
    pytest.param([5, 101], "correlation", id="numeric-correlation"),
    pytest.param([None, 101], "correlation", id="null-correlation"),
    pytest.param([C + ".1" + "0" * 64, 101], "correlation", id="long-correlation"),
]


@pytest.mark.parametrize(("item", "word"), MALFORMED_ITEMS)
def test_malformed_items_in_cbor(item, word):
    decode_invalid(cbor2.dumps([[C, 101], item]), word, cbor=True)


@pytest.mark.parametrize(("item", "word"), MALFORMED_ITEMS)
def test_malformed_items_in_json(item, word):
    word = word if isinstance(item, list) else "object"  # the JSON form also takes objects
    decode_invalid(json.dumps([item]).encode(), word, cbor=False)


@pytest.mark.parametrize(
    ("item", "word"),
    [
        ({"type": "CONFIG_ACK"}, "correlation"),
        ({"correlationId": "x", "type": "CONFIG_ACK"}, "correlation"),
        ({"correlationId": C}, "Unknown response type"),
        ({"correlationId": C, "type": "REBOOTED"}, "Unknown response type"),
        ({"correlationId": C, "type": "ERROR", "cmeError": "527"}, "99"),
        ({"correlationId": C, "type": "ERROR", "message": None}, "99"),
        ({"correlationId": C, "type": "AT", "message": 5}, "100"),
        ("text", "object"),
        (5, "object"),
        (None, "object"),
    ],
    ids=[
        "no-id",
        "bad-id",
        "no-type",
        "unknown-type",
        "cme-string",
        "message-null",
        "at-message-number",
        "string",
        "number",
        "null",
    ],
)
def test_malformed_json_objects(item, word):
    decode_invalid(json.dumps([item]).encode(), word, cbor=False)


@pytest.mark.parametrize("item", [[10**5000, 101], [C, 10**5000]], ids=["correlation", "type"])
def test_a_huge_cbor_integer_is_an_invalid_argument(item):
    decode_invalid(cbor2.dumps([item]), cbor=True)


# hypothesis: nothing but InvalidArgument ------------------------------------------------------------
# Integers stay within 64 bits (a bignum is test_a_huge_cbor_integer_is_an_invalid_argument), and
# correlation tails avoid non-decimal digits (test_a_step_of_unicode_digits_is_not_a_correlation_id).
def _no_odd_digits(text: str) -> bool:
    return not any(ch.isdigit() and not ch.isdecimal() for ch in text)


correlations = st.one_of(
    st.uuids().map(str),
    st.builds(lambda u, t: f"{u}.{t}", st.uuids(), st.text(max_size=8).filter(_no_odd_digits)),
    st.text(max_size=20),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    correlations,
    st.sampled_from([99, 100, 101, 102, "ERROR", "AT", "CONFIG_ACK", "FINISHED_ACK"]),
)
json_like = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(
            st.sampled_from(["correlationId", "type", "cmeError", "message", "x"]) | st.text(max_size=5),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)
report_like = st.one_of(
    st.lists(
        st.tuples(correlations, st.sampled_from([99, 100, 101, 102, 0, 103]), st.lists(scalars, max_size=3)).map(
            lambda t: [t[0], t[1], *t[2]]
        ),
        min_size=1,
        max_size=5,
    ),
    st.lists(
        st.fixed_dictionaries(
            {"correlationId": correlations, "type": scalars}, optional={"cmeError": scalars, "message": scalars}
        ),
        min_size=1,
        max_size=5,
    ),
)


def _only_invalid_argument(fn: Any, *args: Any, **kw: Any) -> None:
    try:
        result = fn(*args, **kw)
    except InvalidArgument as exc:
        assert exc.message  # noqa: PT017 - either outcome is allowed; both are checked
    else:
        assert isinstance(result, list) and result
        assert all(isinstance(r, DeviceReport) for r in result)


@settings(max_examples=200, deadline=None, database=None)
@given(st.one_of(json_like, report_like), st.booleans())
def test_parse_reports_raises_nothing_but_invalid_argument(value, json_form):
    _only_invalid_argument(parse_reports, value, json_form=json_form)


@settings(max_examples=200, deadline=None, database=None)
@given(st.binary(max_size=1024), st.booleans())
def test_decode_reports_of_arbitrary_bytes_raises_nothing_but_invalid_argument(body, cbor):
    _only_invalid_argument(decode_reports, body, cbor=cbor)


@settings(max_examples=150, deadline=None, database=None)
@given(st.one_of(json_like, report_like))
def test_decode_reports_of_any_cbor_or_json_value_raises_nothing_but_invalid_argument(value):
    _only_invalid_argument(decode_reports, cbor2.dumps(value), cbor=True)
    _only_invalid_argument(decode_reports, json.dumps(value).encode(), cbor=False)


@settings(max_examples=200, deadline=None, database=None)
@given(st.sampled_from(KINDS), json_like)
def test_parse_request_raises_nothing_but_invalid_argument(kind, params):
    try:
        checked = parse_request({kind: params})
    except InvalidArgument as exc:
        assert exc.message  # noqa: PT017 - either outcome is allowed; both are checked
    else:
        assert checked.kind == kind
        steps = device_steps(CMD, checked)  # whatever is accepted can be sent
        assert len(steps) == len(step_types(checked))
        cbor2.loads(encode_steps(steps, cbor=True))


config_keys = st.text(alphabet=string.ascii_letters + string.digits + "_-.", min_size=1, max_size=30)
config_values = st.one_of(st.text(max_size=40), st.integers(min_value=-(2**53), max_value=2**53), st.booleans())


@settings(max_examples=100, deadline=None, database=None)
@given(st.dictionaries(config_keys, config_values, max_size=MAX_CONFIG_PROPERTIES), st.booleans())
def test_any_config_reaches_the_device_as_strings(properties, cbor):
    (step,) = device_steps(CMD, parse_request({"config": properties}))
    decoded = cbor2.loads(encode_steps([step], cbor=True)) if cbor else json.loads(encode_steps([step], cbor=False))
    sent = decoded[0][2] if cbor else decoded[0]["properties"]
    assert set(sent) == set(properties) and all(isinstance(v, str) for v in sent.values())
    for key, value in properties.items():
        expected = ("true" if value else "false") if isinstance(value, bool) else str(value)
        assert sent[key] == expected


# apply_report -----------------------------------------------------------------------------------
AT, CONFIG, FINISHED = StepType.AT, StepType.CONFIG, StepType.FINISHED


def stored(status=CommandStatus.IN_PROGRESS, steps_done=0, response=None, kind="atCommand") -> ProvisioningCommand:
    return ProvisioningCommand(
        CMD, uuid.uuid4(), uuid.uuid4(), None, 1, kind, None, "sealed", 2, steps_done, status, response, None, 0, 0
    )


def ok(step: int = 0, message: str | None = "OK") -> DeviceReport:
    return DeviceReport(CMD, step, ResponseType.AT if message is not None else ResponseType.CONFIG_ACK, message)


def error(step: int = 0) -> DeviceReport:
    return DeviceReport(CMD, step, ResponseType.ERROR, "+CME ERROR: 527", 527)


def test_a_success_mid_way_is_in_progress():
    progress = apply_report(stored(CommandStatus.PENDING, kind="preSharedKey"), [AT, AT], ok(0, "first"))
    assert progress is not None
    assert (progress.status, progress.steps_done) == (CommandStatus.IN_PROGRESS, 1)
    assert progress.response == {"messages": ["first"], "preSharedKey": {"message": "first"}}


def test_the_last_step_succeeds_and_messages_accumulate():
    progress = apply_report(stored(steps_done=1, response={"messages": ["first"]}), [AT, AT], ok(1, "second"))
    assert progress is not None
    assert (progress.status, progress.steps_done) == (CommandStatus.SUCCEEDED, 2)
    assert progress.response == {"messages": ["first", "second"], "atCommand": {"message": "second"}}


def test_a_csr_is_shown_as_nrf_cloud_shows_it():
    progress = apply_report(stored(kind="certificateSigningRequest"), [AT], ok(0, "MIIB.CSR"))
    assert progress is not None and progress.response["certificateSigningRequest"] == {"csr": "MIIB.CSR"}


@pytest.mark.parametrize("status", [CommandStatus.PENDING, CommandStatus.IN_PROGRESS])
def test_a_single_step_command_succeeds_from_either_open_status(status):
    progress = apply_report(stored(status), [AT], ok(0, "done"))
    assert progress is not None and progress.status is CommandStatus.SUCCEEDED and progress.steps_done == 1


def test_an_ack_adds_no_message():
    progress = apply_report(stored(kind="config"), [CONFIG], ok(0, None))
    assert progress is not None and progress.response == {"messages": []}


@pytest.mark.parametrize(
    ("step_type", "answer"),
    [
        (AT, ResponseType.CONFIG_ACK),
        (CONFIG, ResponseType.AT),
        (FINISHED, ResponseType.CONFIG_ACK),
        (CONFIG, ResponseType.FINISHED_ACK),
    ],
)
def test_an_answer_of_the_wrong_type_for_the_step_is_not_applied(step_type, answer):
    report = DeviceReport(CMD, 0, answer, "x" if answer is ResponseType.AT else None)
    assert apply_report(stored(), [step_type], report) is None


def test_an_error_fails_the_command_with_its_cme_error():
    progress = apply_report(stored(steps_done=1, response={"messages": ["first"]}), [AT, AT], error(1))
    assert progress is not None
    assert progress.status is CommandStatus.FAILED and progress.steps_done == 1
    assert progress.response == {
        "messages": ["first"],
        "cmeError": 527,
        "message": "+CME ERROR: 527",
        "atCommand": {"message": "+CME ERROR: 527", "cmeError": 527},
    }


def test_apply_report_does_not_change_the_stored_response_in_place():
    response = {"messages": ["first"]}
    apply_report(stored(steps_done=1, response=response), [AT, AT, AT], ok(1, "second"))
    assert response == {"messages": ["first"]}


@pytest.mark.parametrize("status", [CommandStatus.SUCCEEDED, CommandStatus.FAILED, CommandStatus.CANCELLED])
@pytest.mark.parametrize("report", [ok(0), error(0)], ids=["ok", "error"])
def test_a_closed_command_is_not_changed(status, report):
    assert apply_report(stored(status), [AT], report) is None


@pytest.mark.parametrize(("steps_done", "step"), [(0, 1), (1, 0), (1, 2), (0, 5)])
@pytest.mark.parametrize("report", [ok, error], ids=["ok", "error"])
def test_an_answer_to_another_step_is_not_applied(steps_done, step, report):
    assert apply_report(stored(steps_done=steps_done), [AT, AT, AT], report(step)) is None


def test_open_statuses():
    assert {s for s in CommandStatus if s.is_open} == {CommandStatus.PENDING, CommandStatus.IN_PROGRESS}


# the device JWT ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "issuer",
    [C, f"nRF9160.{C}", f"nrf-{C}", C.upper(), CMD.hex, f"nRF9160.{CMD.hex.upper()}"],
    ids=["bare", "nRF9160-prefix", "other-prefix", "upper", "no-dashes", "prefix-no-dashes-upper"],
)
def test_jwt_device_id(issuer):
    assert jwt_device_id(issuer) == CMD


@pytest.mark.parametrize(
    "issuer",
    [None, 5, "", "nRF9160.", "junk", C[:-1], f"{C}.suffix", "nRF9160.1234", [C]],
    ids=["null", "number", "empty", "prefix-only", "junk", "short", "suffix", "short-hex", "list"],
)
def test_jwt_device_id_of_junk_is_none(issuer):
    assert jwt_device_id(issuer) is None


NOW = 1_750_000_000


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({}, False),
        ({"iat": NOW}, False),
        ({"exp": NOW + 300}, True),
        ({"exp": NOW + 300, "iat": NOW}, True),
        ({"exp": NOW - CLOCK_SKEW_S - 1}, False),
        ({"exp": NOW - CLOCK_SKEW_S}, True),
        ({"exp": NOW - 1}, True),
        ({"exp": NOW + MAX_JWT_LIFETIME_S + CLOCK_SKEW_S}, True),
        ({"exp": NOW + MAX_JWT_LIFETIME_S + CLOCK_SKEW_S + 1}, False),
        ({"exp": NOW + 10**6}, False),
        ({"exp": NOW + 120, "iat": NOW + CLOCK_SKEW_S}, True),
        ({"exp": NOW + 120, "iat": NOW + CLOCK_SKEW_S + 1}, False),
        ({"exp": NOW + 300, "iat": NOW + 300 - MAX_JWT_LIFETIME_S}, True),
        ({"exp": NOW + 300, "iat": NOW + 300 - MAX_JWT_LIFETIME_S - 1}, False),
        ({"exp": NOW + 300, "iat": NOW - 3600}, False),
        ({"exp": str(NOW + 300)}, False),
        ({"exp": float(NOW + 300)}, False),
        ({"exp": True}, False),
        ({"exp": None}, False),
        ({"exp": NOW + 300, "iat": str(NOW)}, False),
        ({"exp": NOW + 300, "iat": float(NOW)}, False),
        ({"exp": NOW + 300, "iat": None}, True),
    ],
    ids=[
        "empty",
        "iat-only",
        "exp",
        "exp-iat",
        "expired-beyond-skew",
        "expired-within-skew",
        "just-expired",
        "furthest-ahead",
        "too-far-ahead",
        "far-ahead",
        "iat-at-skew",
        "iat-in-future",
        "lifetime-360",
        "lifetime-361",
        "lifetime-hour",
        "exp-string",
        "exp-float",
        "exp-bool",
        "exp-null",
        "iat-string",
        "iat-float",
        "iat-null",
    ],
)
def test_jwt_times(claims, expected):
    assert jwt_times_ok(claims, NOW) is expected
