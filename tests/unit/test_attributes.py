"""Attribute bodies as ThingsBoard's telemetry API reads them, and the ``claimingData`` value (reference §2.3, §4)."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claimd.domain.attributes import (
    MAX_KEY_LENGTH,
    REDACTED,
    ClaimingData,
    cast_attribute_value,
    parse_attributes_body,
    parse_claiming_data,
)
from claimd.domain.errors import InvalidArgument

# --- cast_attribute_value ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("123", 123), ("-7", -7), ("0", 0), ("1.5", 1.5), ("-0.25", -0.25), ("1.0", 1.0), ("1e3", 1000.0)],
)
def test_numeric_strings_become_numbers(value, expected):
    result = cast_attribute_value(value)
    assert result == expected
    assert type(result) is type(expected)


def test_integer_string_stays_exact():
    assert cast_attribute_value("12345678901234567890") == 12345678901234567890


@pytest.mark.parametrize("value", ["true", "false", "abc", "", "1.", ".5", "0x10", "1,5", "12abc", "NaN", "Infinity"])
def test_non_numeric_strings_stay_strings(value):
    assert cast_attribute_value(value) == value


@pytest.mark.parametrize("value", ["1e999", "-1e999", "1" * 400])
def test_numbers_too_large_for_a_float_stay_strings(value):
    # inf is not JSON: reading the attribute back would fail.
    assert cast_attribute_value(value) == value


@pytest.mark.parametrize("value", [True, False, 5, 1.5, {"a": "1"}, ["1"]])
def test_non_strings_are_untouched(value):
    assert cast_attribute_value(value) == value
    assert type(cast_attribute_value(value)) is type(value)


# --- parse_attributes_body -----------------------------------------------------------------------


def _error(raw) -> str:
    with pytest.raises(InvalidArgument) as info:
        parse_attributes_body(raw)
    return info.value.message


def test_body_is_parsed_and_cast():
    body = {"claimingAllowed": True, "n": "42", "s": "true", "obj": {"secretKey": "abc", "expirationTime": 1}}
    assert parse_attributes_body(json.dumps(body)) == {
        "claimingAllowed": True,
        "n": 42,
        "s": "true",
        "obj": {"secretKey": "abc", "expirationTime": 1},
    }
    assert parse_attributes_body(json.dumps(body).encode()) == parse_attributes_body(json.dumps(body))


@pytest.mark.parametrize("raw", ["", "{", "nope", b"\xff", "{'a': 1}"])
def test_invalid_json(raw):
    assert _error(raw) == "Invalid JSON"


def test_deeply_nested_json_is_invalid_json():
    assert _error("[" * 100_000) == "Invalid JSON"


@pytest.mark.parametrize("raw", ["{}", "[]", '[{"a": 1}]', '"a"', "1", "true", "null"])
def test_empty_or_non_object(raw):
    assert _error(raw) == "No attributes data found in request body!"


@pytest.mark.parametrize("key", ["", " ", "\t"])
def test_blank_key(key):
    assert _error(json.dumps({key: 1})) == "Key cannot be blank"


def test_key_length_limit():
    assert parse_attributes_body(json.dumps({"k" * MAX_KEY_LENGTH: 1})) == {"k" * MAX_KEY_LENGTH: 1}
    assert "longer" in _error(json.dumps({"k" * (MAX_KEY_LENGTH + 1): 1}))


def test_null_value_rejected():
    message = _error('{"ok": 1, "claimingAllowed": null}')
    assert "claimingAllowed" in message


def test_true_string_does_not_become_boolean():
    assert parse_attributes_body('{"claimingAllowed": "true"}') == {"claimingAllowed": "true"}


# --- parse_claiming_data -------------------------------------------------------------------------


def test_claiming_data_object():
    assert parse_claiming_data({"secretKey": "abc", "expirationTime": 1758944381084}) == ClaimingData(
        "abc", 1758944381084
    )


def test_claiming_data_string():
    raw = json.dumps({"secretKey": "abc", "expirationTime": 1758944381084})
    assert parse_claiming_data(raw) == ClaimingData("abc", 1758944381084)


def test_missing_secret_is_empty():
    assert parse_claiming_data({"expirationTime": 5}) == ClaimingData("", 5)


def test_null_secret_is_empty():
    assert parse_claiming_data({"secretKey": None, "expirationTime": 5}) == ClaimingData("", 5)


def test_missing_expiration_is_zero():
    assert parse_claiming_data({"secretKey": "abc"}) == ClaimingData("abc", 0)
    assert parse_claiming_data({}) == ClaimingData("", 0)


def test_numeric_string_expiration():
    assert parse_claiming_data({"secretKey": "a", "expirationTime": "1758944381084"}).expiration_time == 1758944381084
    assert parse_claiming_data('{"secretKey": "a", "expirationTime": "42"}').expiration_time == 42


def test_unknown_property_rejected():
    with pytest.raises(InvalidArgument) as info:
        parse_claiming_data({"secretKey": "a", "expirationTime": 1, "durationMs": 5})
    assert "durationMs" in info.value.message


@pytest.mark.parametrize("secret", [123, True, {"a": 1}, ["a"], 1.5])
def test_non_string_secret_rejected(secret):
    with pytest.raises(InvalidArgument) as info:
        parse_claiming_data({"secretKey": secret, "expirationTime": 1})
    assert "secretKey" in info.value.message


@pytest.mark.parametrize("expiration", ["soon", "1.5", True, [1], {"a": 1}, 1.5])
def test_bad_expiration_rejected(expiration):
    with pytest.raises(InvalidArgument) as info:
        parse_claiming_data({"secretKey": "a", "expirationTime": expiration})
    assert "expirationTime" in info.value.message


@pytest.mark.parametrize("value", ["not json", "[1]", '"abc"', "null", 5, None, ["a"], True, "[" * 100_000])
def test_claiming_data_must_be_an_object(value):
    with pytest.raises(InvalidArgument):
        parse_claiming_data(value)


# --- ClaimingData.redacted -----------------------------------------------------------------------


def test_redacted_hides_the_secret():
    data = ClaimingData("s3cret-key", 1758944381084)
    assert data.redacted() == {"secretKey": REDACTED, "expirationTime": 1758944381084}


def test_redacted_empty_secret_stays_empty():
    assert ClaimingData("", 7).redacted() == {"secretKey": "", "expirationTime": 7}


@settings(max_examples=100, deadline=None)
@given(
    secret=st.text(min_size=1, max_size=40).filter(lambda s: s not in REDACTED),
    expiration=st.integers(min_value=0, max_value=2**62),
)
def test_redacted_never_contains_the_secret(secret, expiration):
    redacted = ClaimingData(secret, expiration).redacted()
    assert redacted == {"secretKey": REDACTED, "expirationTime": expiration}
    assert secret not in redacted["secretKey"]


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=20))
def test_cast_result_is_always_json(text):
    result = cast_attribute_value(text)
    json.dumps(result, allow_nan=False)  # raises on inf/nan
    if isinstance(result, float):
        assert math.isfinite(result)
