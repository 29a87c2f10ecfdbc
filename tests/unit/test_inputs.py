"""The one input rule (claimd.domain.inputs): text that may be stored, and JSON that may be parsed."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claimd.domain.claiming import parse_device_claim, parse_gateway_claim
from claimd.domain.errors import InvalidArgument, InvalidPayload
from claimd.domain.inputs import (
    MAX_JSON_DEPTH,
    MAX_TEXT_LENGTH,
    JsonScan,
    check_name,
    check_text,
    json_problem,
    text_problem,
)

NUL = "contains a NUL character"
SURROGATE = "contains a lone surrogate (not valid Unicode)"
DEEP = f"is nested deeper than {MAX_JSON_DEPTH} levels"

# --- text --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [("a\x00b", NUL), ("\ud800", SURROGATE), ("a\udfffb", SURROGATE), ("plain", None), ("😀 ü", None), ("", None)],
)
def test_text_problem(value, problem):
    assert text_problem(value) == problem


def test_check_text_names_the_value_and_bounds_its_length():
    assert check_text("ok", "name") == "ok"
    with pytest.raises(InvalidArgument, match=r"^Device name contains a NUL character$"):
        check_text("a\x00", "Device name")
    with pytest.raises(InvalidArgument, match="longer than 10 characters"):
        check_text("x" * 11, "tag", max_length=10)
    with pytest.raises(InvalidArgument, match=f"longer than {MAX_TEXT_LENGTH}"):
        check_text("x" * (MAX_TEXT_LENGTH + 1), "tag")


# --- JSON --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (b"[" * 5000, DEEP),  # refused before any parser recursed into it (the input)
        (b'{"a":' * 5000, DEEP),
        (b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH, None),
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), DEEP),
        (b"[[[]]]" * 100, None),  # depth, not the number of brackets
        (b'{"a": "' + b"[" * 100 + b'"}', None),  # brackets inside strings are text
        (b'{"a": "\\"' + b"[" * 100 + b'"}', None),  # an escaped quote does not end the string
        (b'{"a": "\\\\"}' + b"[" * 100, DEEP),  # an escaped backslash does
        (b'{"role": "a\\u0000"}', NUL),
        (b'{"role": "a\x00"}', NUL),
        (b'["a"]\x00', NUL),
        (b'{"\\ud800": 1}', SURROGATE),  # a lone high surrogate (the attribute key of the issue)
        (b'{"\\uDBFF": 1}', SURROGATE),
        (b'{"k": "\\udc00"}', SURROGATE),  # a lone low one
        (b'{"k": "\\ud800\\u0041"}', SURROGATE),  # a high one followed by something else
        (b'{"k": "\\ud800"', SURROGATE),  # cut at the end of the text
        (b'{"k": "\\ud83d\\ude00"}', None),  # a pair is one character
        (b'{"k": "\\u00e9\\n\\t\\\\\\/"}', None),
        (b'{"k": "\\x"}', None),  # a bad escape is the parser's to report
        (b'{"a": 1}\n{"b": [2]}\n', None),  # NDJSON
    ],
)
def test_json_problem(text, problem):
    assert json_problem(text) == problem


@given(st.binary(max_size=64), st.data())
@settings(max_examples=300, deadline=None)
def test_chunked_scan_finds_what_a_whole_scan_finds(prefix, data):
    """A body arrives in chunks that may cut an escape anywhere: the answer must not depend on where."""
    text = prefix + rb'{"k": "\ud800\udc00 \u0000 \"[[" , "x": [[["\ud800"]]]}' + b"[" * 40
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=6)))
    scan, found, last = JsonScan(), None, 0
    for cut in [*cuts, len(text)]:
        found = found or scan.feed(text[last:cut], final=cut == len(text))
        last = cut
    assert found == json_problem(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=20,
)


@given(json_values, st.booleans())
@settings(max_examples=300, deadline=None)
def test_json_problem_agrees_with_the_text_rule(value, ensure_ascii):
    """What json.dumps writes is refused exactly when a string in it could not be stored."""
    text = json.dumps(value, ensure_ascii=ensure_ascii).encode("utf-8", "surrogatepass")

    def strings(v):
        if isinstance(v, str):
            yield v
        elif isinstance(v, list):
            for item in v:
                yield from strings(item)
        elif isinstance(v, dict):
            for key, item in v.items():
                yield key
                yield from strings(item)

    storable = all(text_problem(s) is None for s in strings(value))
    if ensure_ascii:  # every NUL and surrogate is an escape the scan must see
        assert (json_problem(text) is None) == storable
    elif storable:  # raw surrogates are invalid UTF-8: the decoder's to refuse, not the scan's
        assert json_problem(text) is None


# --- names -------------------------------------------------------------------------------------


def test_check_name():
    assert check_name("  gateway child 1 ") == "gateway child 1"
    for bad, why in [
        ("", "should be specified"),
        ("   ", "should be specified"),
        ("a\x00", "NUL"),
        ("\ud800", "surrogate"),
        ("x" * 256, "longer than 255"),
    ]:
        with pytest.raises(InvalidArgument, match=why):
            check_name(bad)


# --- device payloads (MQTT, CoAP, HTTP device API) ---------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b'{"secretKey": "a\\u0000"}',
        b'{"secretKey": "\\ud800"}',
        b'{"secretKey": "k", "x": "\\udc00"}',
        b"[" * 5000,
    ],
)
def test_device_claim_messages_follow_the_text_rule(payload):
    """A secretKey is hashed as UTF-8: a lone surrogate cannot be; a NUL would be stored elsewhere."""
    with pytest.raises(InvalidPayload):
        parse_device_claim(payload)


@pytest.mark.parametrize(
    "payload",
    [
        b'{"a\\u0000": {"secretKey": "k"}}',
        b'{"\\ud800": {"secretKey": "k"}}',
        b'{"dev": ' + b"[" * 5000 + b"}",
    ],
)
def test_gateway_claim_messages_follow_the_text_rule(payload):
    """A gateway names child devices by its keys: they become device names in the store."""
    with pytest.raises(InvalidPayload):
        parse_gateway_claim(payload)


@pytest.mark.parametrize("name", ["a\ud800", "a\x00"])
def test_lorawan_device_texts_follow_the_text_rule(name):
    """LoRaWAN names and serials arrive in CSV and JSON imports, not only through the HTTP edge."""
    from claimd.domain.lorawan_import import draft_from_json

    with pytest.raises(InvalidArgument):
        draft_from_json(
            {
                "dev_eui": "70B3D57ED0000001",
                "join_eui": "70B3D57ED0000000",
                "claim_authentication_code": "ABCD1234",
                "name": name,
            }
        )
    with pytest.raises(InvalidArgument):
        draft_from_json(
            {
                "dev_eui": "70B3D57ED0000001",
                "join_eui": "70B3D57ED0000000",
                "claim_authentication_code": "ABCD1234",
                "serial_number": name,
            }
        )


@pytest.mark.parametrize("body", [b'{"\\ud800": 1}', b'{"a\\u0000": 1}'])
def test_attribute_keys_follow_the_text_rule(body):
    """The key is stored as text (the issue's lone-surrogate key was a 500 on both databases)."""
    from claimd.domain.attributes import parse_attributes_body

    with pytest.raises(InvalidArgument, match=r"^Key "):
        parse_attributes_body(body)


@pytest.mark.parametrize("tag", ["a\x00b", "a\ud800"])
def test_tags_follow_the_text_rule(tag):
    from claimd.domain.ownership import check_tag

    with pytest.raises(InvalidArgument):
        check_tag(tag)
