"""LoRaWAN rules (domain/lorawan.py): EUI-64 text, claim authentication codes and their windows (the
test vectors of the reference, tts_lorawan.md §1.1), TTS ids, the claim by code; and the bulk
LoRaWAN claim row (domain/bulk.py).

Pure unit tests: no database, no network.
"""

from __future__ import annotations

import string
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claimd.domain.bulk import lorawan_claim_row
from claimd.domain.errors import InvalidArgument, PermissionDenied
from claimd.domain.lorawan import (
    TTS_ID_MAX_LENGTH,
    ZERO_EUI,
    ClaimCodeNotValid,
    ClaimCodeSpent,
    InvalidClaimCode,
    InvalidClaimCodeWindow,
    InvalidEUI,
    InvalidTtsId,
    check_code,
    check_code_usable,
    check_code_window,
    check_tts_id,
    code_usable,
    code_window_text,
    default_device_id,
    format_eui,
    is_zero_eui,
    normalize_code,
    parse_eui,
)

JOIN = "70B3D57ED0000000"
DEV = "70B3D57ED0000001"
# 2025-06-15T00:00:00Z and the next day, in epoch milliseconds
T0 = 1_749_945_600_000
T1 = T0 + 86_400_000

ME, OTHER = uuid.UUID(int=1), uuid.UUID(int=2)

CODE_ALPHABET = string.ascii_letters + string.digits


def _same_code(presented: str, expected: str) -> bool:
    """Whether two codes are one code under the case rule (their stored forms are equal)."""
    try:
        return normalize_code(presented) == normalize_code(expected)
    except InvalidClaimCode:
        return False


# ----------------------------------------------------------------------------------------------------
# check_code_usable (the proof, ownership and the block come first: services/claiming/lorawan_code.py, and
# tests/integration/test_claim_contract.py for the order)


def test_an_unspent_code_inside_its_window_claims() -> None:
    assert check_code_usable(spent=False, valid_from=T0, valid_to=T1, now_ms=T0) is None
    assert check_code_usable(spent=False, valid_from=None, valid_to=None, now_ms=T1 * 2) is None


@pytest.mark.parametrize("now", [T0 - 1, T0, T1 + 1])
def test_a_spent_code_comes_before_its_window(now) -> None:
    with pytest.raises(ClaimCodeSpent) as caught:
        check_code_usable(spent=True, valid_from=T0, valid_to=T1, now_ms=now)
    assert caught.value.code == "CLAIM_CODE_SPENT"
    assert isinstance(caught.value, PermissionDenied)


@pytest.mark.parametrize("now", [T0 - 1, T1 + 1])
def test_a_code_outside_its_window_is_not_valid_and_says_its_window(now) -> None:
    with pytest.raises(ClaimCodeNotValid) as caught:
        check_code_usable(spent=False, valid_from=T0, valid_to=T1, now_ms=now)
    assert caught.value.code == "CLAIM_CODE_NOT_VALID"
    assert caught.value.message.endswith(code_window_text(T0, T1))
    assert "2025-06-15T00:00:00Z" in caught.value.message and "2025-06-16T00:00:00Z" in caught.value.message


# ----------------------------------------------------------------------------------------------------
# TTS ids


@pytest.mark.parametrize(
    "value", ["abc", "my-app", "a1b", "0-00", "a-b-c", "eui-70b3d57ed0000001", "a" * TTS_ID_MAX_LENGTH, "0" * 3]
)
def test_valid_tts_ids(value) -> None:
    assert check_tts_id(value, "application_id") == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "ab",
        "a-b",
        "0-0",
        "a" * (TTS_ID_MAX_LENGTH + 1),
        "a--b",
        "-abc",
        "abc-",
        "ABC",
        "My-app",
        "a_b",
        "a.b",
        "a b",
        "abc\n",
        "ébc",
        None,
        123,
        b"abc",
    ],
)
def test_invalid_tts_ids(value) -> None:
    with pytest.raises(InvalidTtsId) as caught:
        check_tts_id(value, "target_device_id")
    assert caught.value.code == "INVALID_ID"
    assert isinstance(caught.value, InvalidArgument)
    assert "target_device_id" in caught.value.message


def test_default_device_id_is_eui_and_lower_case_deveui_and_a_valid_id() -> None:
    assert default_device_id(DEV) == "eui-70b3d57ed0000001"
    assert check_tts_id(default_device_id("AABBCCDDEEFF0011"), "id") == "eui-aabbccddeeff0011"


# ----------------------------------------------------------------------------------------------------
# code_window_text


def test_code_window_text() -> None:
    assert code_window_text(None, None) == ""
    assert code_window_text(T0, T1) == " (valid from 2025-06-15T00:00:00Z to 2025-06-16T00:00:00Z)"
    assert code_window_text(0, None) == " (valid from 1970-01-01T00:00:00Z to -)"
    assert code_window_text(None, T0 + 999) == " (valid from - to 2025-06-15T00:00:00Z)"


# ----------------------------------------------------------------------------------------------------
# EUI-64 text


@pytest.mark.parametrize(
    "text",
    ["70B3D57ED0000000", "70b3d57ed0000000", "70-B3-D5-7E-D0-00-00-00", "70:b3:d5:7e:d0:00:00:00"],
)
def test_parse_eui_forms(text: str) -> None:
    assert parse_eui(text) == "70B3D57ED0000000"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "70B3D57ED000000",
        "70B3D57ED00000000",
        "0x70B3D57ED00000",
        "70-B3-D5-7E-D0-00-00:00",
        "70 B3 D5 7E D0 00 00 00",
        "70B3D57ED000000G",
        "70B3D57ED0000000\n",
        "７0B3D57ED0000000",
        "70B3-D57E-D000-0000",
    ],
)
def test_parse_eui_refuses(text: str) -> None:
    with pytest.raises(InvalidEUI) as err:
        parse_eui(text, what="DevEUI")
    assert err.value.code == "INVALID_EUI" and "DevEUI" in err.value.message


def test_eui_conversions() -> None:
    assert format_eui(0x70B3D57ED0000000) == "70B3D57ED0000000"
    assert format_eui(bytes.fromhex("0004a310001aaed6")) == "0004A310001AAED6"
    assert format_eui(0) == ZERO_EUI
    assert parse_eui("70-b3-d5-7e-d0-00-00-00") == "70B3D57ED0000000"
    assert is_zero_eui("00-00-00-00-00-00-00-00") and not is_zero_eui("4242FFFFFFFFFFFF")
    for bad in (-1, 1 << 64, b"\x00" * 7, b"\x00" * 9):
        with pytest.raises(InvalidEUI):
            format_eui(bad)


# ----------------------------------------------------------------------------------------------------
# Claim authentication codes (§1.1)


@pytest.mark.parametrize("code", ["A", "C05EA29C", "c05ea29c", "Pin7", "0" * 32, "abcXYZ012"])
def test_valid_codes(code: str) -> None:
    assert check_code(code) == code


@pytest.mark.parametrize("code", ["", "0" * 33, "AB-CD", "AB CD", " ABCD", "ABCD\n", "ÄBCD", "١٢٣", "AB_CD", "AB:CD"])
def test_invalid_codes(code: str) -> None:
    with pytest.raises(InvalidClaimCode) as err:
        check_code(code)
    assert err.value.code == "INVALID_CLAIM_CODE"
    with pytest.raises(InvalidClaimCode):
        normalize_code(code)


def test_hex_codes_are_case_insensitive_others_case_sensitive() -> None:
    assert normalize_code("c05ea29c") == "C05EA29C"
    assert normalize_code("C05EA29C") == "C05EA29C"
    assert normalize_code("Pin7") == "Pin7"
    assert normalize_code("abcg") == "abcg"
    assert _same_code("c05ea29c", "C05EA29C")
    assert _same_code("C05Ea29c", "c05eA29C")
    assert not _same_code("pin7", "PIN7")
    assert _same_code("Pin7", "Pin7")
    assert not _same_code("C05EA29D", "C05EA29C")
    assert not _same_code("C05EA29C-", "C05EA29C")  # an invalid presented code is not the code
    assert not _same_code("", "C05EA29C")


@given(st.text(CODE_ALPHABET, min_size=1, max_size=32))
def test_normalisation_is_idempotent_and_decides_equality(code: str) -> None:
    n = normalize_code(code)
    assert normalize_code(n) == n
    assert _same_code(code, n)
    is_hex = all(c in string.hexdigits for c in code)
    assert _same_code(code.swapcase(), code) == (is_hex or code.swapcase() == code)


def test_code_window_shape() -> None:
    check_code_window(None, None)
    check_code_window(1000, None)
    check_code_window(None, 1000)
    check_code_window(1000, 1000)
    check_code_window(1000, 2000)
    for bad in ((2000, 1000), (-1, None), (None, -5), (True, None), (1.5, None), ("1", None)):
        with pytest.raises(InvalidClaimCodeWindow) as err:
            check_code_window(*bad)  # type: ignore[arg-type]
        assert err.value.code == "INVALID_CLAIM_CODE_WINDOW"


def test_code_usable_window_ends_are_inclusive() -> None:
    assert code_usable(None, None, 5)
    assert code_usable(10, 20, 10) and code_usable(10, 20, 15) and code_usable(10, 20, 20)
    assert not code_usable(10, 20, 9) and not code_usable(10, 20, 21)
    assert code_usable(10, None, 10**15) and not code_usable(10, None, 9)
    assert code_usable(None, 20, 0) and not code_usable(None, 20, 21)
    assert code_usable(10, 10, 10) and not code_usable(10, 10, 11)


# ----------------------------------------------------------------------------------------------------
# lorawan_claim_row (bulk)

QR = "LW:D0:70B3D57ED0000000:70B3D57ED0000001:00000000:OC05EA29C"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f"{JOIN},{DEV},C05EA29C", ([JOIN, DEV, "C05EA29C"], None, None)),
        (f" {JOIN} , {DEV} , Pin7 , my-app ", ([JOIN, DEV, "Pin7"], "my-app", None)),
        (f"{JOIN},{DEV},C05EA29C,my-app,dev-1", ([JOIN, DEV, "C05EA29C"], "my-app", "dev-1")),
        (f"{JOIN},{DEV},C05EA29C,,dev-1", ([JOIN, DEV, "C05EA29C"], None, "dev-1")),
        (f"{JOIN},{DEV},C05EA29C,,", ([JOIN, DEV, "C05EA29C"], None, None)),
        (QR, ([QR], None, None)),
        (f"{QR},my-app", ([QR], "my-app", None)),
        (f'"{QR}",my-app,dev-1', ([QR], "my-app", "dev-1")),
        (
            "URN:DEV:LW:70B3D57ED0000000_70B3D57ED0000001_00000000_VC05EA29C",
            (["URN:DEV:LW:70B3D57ED0000000_70B3D57ED0000001_00000000_VC05EA29C"], None, None),
        ),
        (
            "URN:LW:DP:70B3D57ED0000000:70B3D57ED0000001:00000000,app-1",
            (["URN:LW:DP:70B3D57ED0000000:70B3D57ED0000001:00000000"], "app-1", None),
        ),
    ],
)
def test_lorawan_claim_rows(line, expected) -> None:
    assert lorawan_claim_row(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "",
        " ",
        ",a,b",
        f"{JOIN}",
        f"{JOIN},{DEV}",  # too few
        f"{JOIN},{DEV},C,app,dev,extra",  # too many
        f"{QR},app,dev,extra",
        f"{QR},a,b,c,d",
        f'"{JOIN},{DEV}',  # not CSV
    ],
)
def test_lorawan_claim_rows_refused(line) -> None:
    with pytest.raises(InvalidArgument):
        lorawan_claim_row(line)
