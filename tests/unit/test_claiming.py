"""The claim decision table, the claim-window rules and the device claim message (reference §1.1, §2.2, §2.3, §2.5)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claimd.domain.claiming import (
    MAX_EXPIRATION_MS,
    ClaimData,
    ClaimResponse,
    DeviceClaimMessage,
    Proof,
    WindowVerdict,
    check_proof,
    decide_claim,
    may_open_window,
    parse_device_claim,
    reclaim_restores_claiming_allowed,
    window_expiry,
)
from claimd.domain.errors import InvalidArgument, InvalidPayload

NOW = 1_700_000_000_000
DIGEST = b"\x01" * 32
OTHER_DIGEST = b"\x02" * 32


# --- check_proof ---------------------------------------------------------------------------------


def test_no_claim_data_is_no_proof():
    assert check_proof(None, DIGEST, NOW) is Proof.NONE


def test_matching_live_data_is_valid():
    assert check_proof(ClaimData(DIGEST, NOW + 1000), DIGEST, NOW) is Proof.VALID


def test_expired_data_is_invalid_even_with_the_right_key():
    assert check_proof(ClaimData(DIGEST, NOW - 1), DIGEST, NOW) is Proof.INVALID


def test_wrong_digest_is_invalid():
    assert check_proof(ClaimData(DIGEST, NOW + 1000), OTHER_DIGEST, NOW) is Proof.INVALID


def test_digest_of_another_length_is_invalid():
    assert check_proof(ClaimData(DIGEST, NOW + 1000), DIGEST[:16], NOW) is Proof.INVALID
    assert check_proof(ClaimData(DIGEST, NOW + 1000), b"", NOW) is Proof.INVALID


def test_expiry_boundary_equal_is_still_valid():
    # ThingsBoard: expired iff now > expirationTime.
    assert check_proof(ClaimData(DIGEST, NOW), DIGEST, NOW) is Proof.VALID


def test_expiry_boundary_one_ms_later_is_invalid():
    assert check_proof(ClaimData(DIGEST, NOW), DIGEST, NOW + 1) is Proof.INVALID


def test_expired_and_wrong_key_is_invalid():
    assert check_proof(ClaimData(DIGEST, NOW - 1), OTHER_DIGEST, NOW) is Proof.INVALID


def test_claim_data_is_expired():
    data = ClaimData(DIGEST, NOW)
    assert not data.is_expired(NOW - 1)
    assert not data.is_expired(NOW)
    assert data.is_expired(NOW + 1)


# --- decide_claim --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("proof", "assigned", "response", "clears"),
    [
        (Proof.INVALID, False, ClaimResponse.FAILURE, False),
        (Proof.INVALID, True, ClaimResponse.FAILURE, False),  # key/expiry checked before ownership
        (Proof.NONE, False, ClaimResponse.FAILURE, False),
        (Proof.NONE, True, ClaimResponse.CLAIMED, False),
        (Proof.VALID, False, ClaimResponse.SUCCESS, True),
        (Proof.VALID, True, ClaimResponse.CLAIMED, True),
    ],
)
def test_decision_table(proof, assigned, response, clears):
    decision = decide_claim(proof, assigned)
    assert decision.response is response
    assert decision.clear_claim_attributes is clears
    assert decision.assigns is (response is ClaimResponse.SUCCESS)


def test_only_valid_unassigned_assigns():
    assigning = [(p, a) for p in Proof for a in (False, True) if decide_claim(p, a).assigns]
    assert assigning == [(Proof.VALID, False)]


def test_claim_response_wire_values():
    assert [r.value for r in ClaimResponse] == ["SUCCESS", "FAILURE", "CLAIMED"]


@settings(max_examples=50, deadline=None)
@given(proof=st.sampled_from(Proof))
def test_assigned_device_never_succeeds(proof):
    decision = decide_claim(proof, True)
    assert decision.response is not ClaimResponse.SUCCESS
    assert not decision.assigns


@settings(max_examples=100, deadline=None)
@given(
    stored=st.binary(min_size=0, max_size=40),
    presented=st.binary(min_size=0, max_size=40),
    expiration=st.integers(min_value=0, max_value=2**62),
    now=st.integers(min_value=0, max_value=2**62),
    assigned=st.booleans(),
)
def test_end_to_end_decision_properties(stored, presented, expiration, now, assigned):
    data = ClaimData(stored, expiration)
    decision = decide_claim(check_proof(data, presented, now), assigned)
    if decision.response is ClaimResponse.SUCCESS:
        assert not assigned and stored == presented and now <= expiration
    if stored != presented or now > expiration:
        assert decision.response is ClaimResponse.FAILURE
        assert not decision.clear_claim_attributes


# --- window rules --------------------------------------------------------------------------------


@pytest.mark.parametrize("allow_by_default", [True, False])
@pytest.mark.parametrize("claiming_allowed", [True, False, None, "true", 1])
def test_assigned_device_cannot_open_a_window(allow_by_default, claiming_allowed):
    verdict = may_open_window(
        allow_by_default=allow_by_default, device_assigned=True, claiming_allowed=claiming_allowed
    )
    assert verdict is WindowVerdict.ALREADY_CLAIMED


@pytest.mark.parametrize("claiming_allowed", [True, False, None, "true", 1, "false", 0])
def test_allow_by_default_ignores_claiming_allowed(claiming_allowed):
    verdict = may_open_window(allow_by_default=True, device_assigned=False, claiming_allowed=claiming_allowed)
    assert verdict is WindowVerdict.ALLOWED


def test_without_default_boolean_true_allows():
    verdict = may_open_window(allow_by_default=False, device_assigned=False, claiming_allowed=True)
    assert verdict is WindowVerdict.ALLOWED


@pytest.mark.parametrize("claiming_allowed", [None, False, "true", "True", 1, 1.0, [True], {"value": True}])
def test_without_default_anything_but_boolean_true_is_not_allowed(claiming_allowed):
    verdict = may_open_window(allow_by_default=False, device_assigned=False, claiming_allowed=claiming_allowed)
    assert verdict is WindowVerdict.NOT_ALLOWED


def test_window_expiry_uses_duration():
    assert window_expiry(NOW, 60_000, 86_400_000) == NOW + 60_000
    assert window_expiry(NOW, 1, 86_400_000) == NOW + 1


@pytest.mark.parametrize("duration", [0, -1, -86_400_000])
def test_window_expiry_non_positive_duration_uses_default(duration):
    assert window_expiry(NOW, duration, 86_400_000) == NOW + 86_400_000


def test_window_expiry_is_capped_to_fit_64_bits():
    assert window_expiry(NOW, 10**30, 86_400_000) == MAX_EXPIRATION_MS
    assert window_expiry(NOW, 2**63 - 1, 86_400_000) < 2**63 - NOW


@pytest.mark.parametrize(
    ("allow_by_default", "was_assigned", "restores"),
    [(False, True, True), (True, True, False), (False, False, False), (True, False, False)],
)
def test_reclaim_restores_claiming_allowed(allow_by_default, was_assigned, restores):
    assert reclaim_restores_claiming_allowed(allow_by_default=allow_by_default, was_assigned=was_assigned) is restores


# --- parse_device_claim --------------------------------------------------------------------------


@pytest.mark.parametrize("payload", [None, b"", "", "   ", b" \n\t ", b"{}", "{}", " { } "])
def test_empty_payload_means_no_key_and_default_duration(payload):
    assert parse_device_claim(payload) == DeviceClaimMessage("", 0)


def test_full_message():
    assert parse_device_claim(b'{"secretKey":"value","durationMs":60000}') == DeviceClaimMessage("value", 60000)
    assert parse_device_claim('{"secretKey":"value","durationMs":60000}') == DeviceClaimMessage("value", 60000)


def test_only_duration():
    assert parse_device_claim(b'{"durationMs":1}') == DeviceClaimMessage("", 1)


def test_only_secret():
    assert parse_device_claim(b'{"secretKey":"abc"}') == DeviceClaimMessage("abc", 0)


@pytest.mark.parametrize(
    ("raw", "secret"),
    [("123", "123"), ("true", "true"), ("false", "false"), ("-7", "-7"), ("1.5", "1.5"), ('""', "")],
)
def test_scalar_secret_is_stringified(raw, secret):
    assert parse_device_claim(f'{{"secretKey": {raw}}}').secret_key == secret


def test_secret_is_case_and_space_preserving():
    assert parse_device_claim('{"secretKey": " AbC "}').secret_key == " AbC "


@pytest.mark.parametrize(
    ("raw", "duration"), [('"600000"', 600000), ("600000", 600000), ("60000.0", 60000), ("-5", -5), ("0", 0)]
)
def test_duration_forms(raw, duration):
    assert parse_device_claim(f'{{"durationMs": {raw}}}').duration_ms == duration


def test_duration_is_an_int():
    assert type(parse_device_claim('{"durationMs": 60000.0}').duration_ms) is int
    assert type(parse_device_claim('{"durationMs": "600000"}').duration_ms) is int


def test_unknown_keys_ignored():
    msg = parse_device_claim(b'{"secretKey":"k","durationMs":5,"deviceName":"x","extra":{"a":[1]}}')
    assert msg == DeviceClaimMessage("k", 5)


@pytest.mark.parametrize("payload", [b"[]", b'["secretKey"]', b'"text"', b"42", b"true", b"null"])
def test_non_object_json_is_invalid(payload):
    with pytest.raises(InvalidPayload):
        parse_device_claim(payload)


@pytest.mark.parametrize("payload", [b"{", b"not json", b"{'secretKey': 'a'}", b'{"secretKey":"a",}', b"{}}"])
def test_invalid_json_is_invalid(payload):
    with pytest.raises(InvalidPayload):
        parse_device_claim(payload)


@pytest.mark.parametrize("raw", ["null", "{}", '{"a": 1}', "[]", '["a"]'])
def test_secret_null_object_or_array_is_invalid(raw):
    with pytest.raises(InvalidPayload) as info:
        parse_device_claim(f'{{"secretKey": {raw}}}')
    assert "secretKey" in info.value.message


@pytest.mark.parametrize("raw", ['"abc"', '"60s"', '"1.5"', '""', "1.5", "true", "false", "null", "{}", "[]"])
def test_bad_duration_is_invalid(raw):
    with pytest.raises(InvalidPayload) as info:
        parse_device_claim(f'{{"durationMs": {raw}}}')
    assert "durationMs" in info.value.message


@pytest.mark.parametrize("payload", [b"\xff\xfe", b'{"secretKey":"\xc3"}', b"\x80"])
def test_invalid_utf8_is_invalid(payload):
    with pytest.raises(InvalidPayload):
        parse_device_claim(payload)


def test_deeply_nested_json_is_invalid_payload():
    with pytest.raises(InvalidPayload):
        parse_device_claim(b"[" * 100_000)
    with pytest.raises(InvalidPayload):
        parse_device_claim(b'{"x":' * 100_000)


def test_invalid_payload_is_an_invalid_argument():
    # Every door maps InvalidArgument; InvalidPayload must stay one of them.
    assert issubclass(InvalidPayload, InvalidArgument)


STORABLE = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")


@settings(max_examples=100, deadline=None)
@given(  # storable text: a NUL or a lone surrogate is refused (claimd.domain.inputs)
    secret=st.text(STORABLE, max_size=50),
    duration=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    extra=st.dictionaries(
        st.text(STORABLE, max_size=8).filter(lambda k: k not in ("secretKey", "durationMs")),
        st.integers() | st.text(STORABLE, max_size=5),
        max_size=3,
    ),
)
def test_round_trip(secret, duration, extra):
    payload = json.dumps({**extra, "secretKey": secret, "durationMs": duration})
    assert parse_device_claim(payload) == DeviceClaimMessage(secret, duration)
    assert parse_device_claim(payload.encode()) == DeviceClaimMessage(secret, duration)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
_claimish = st.fixed_dictionaries({}, optional={"secretKey": _json_values, "durationMs": _json_values}).map(
    lambda d: json.dumps(d).encode()
)


@settings(max_examples=200, deadline=None)
@given(
    payload=st.binary(max_size=64) | st.text(max_size=64).map(lambda t: t.encode("utf-8", "surrogatepass")) | _claimish
)
def test_arbitrary_bytes_only_raise_invalid_payload(payload):
    try:
        msg = parse_device_claim(payload)
    except InvalidPayload:
        return
    assert isinstance(msg.secret_key, str)
    assert type(msg.duration_ms) is int
