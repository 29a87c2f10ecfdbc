"""LoRaWAN claim rules (domain/lorawan.py, after "LoRaWAN identities and claims by claim
authentication code"), the bulk LoRaWAN claim row (domain/bulk.py) and the in-memory failure limiter
(adapters/limits.py).

Pure unit tests: no database, no network.
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claimd.adapters import limits
from claimd.adapters.limits import MemoryFailureLimiter
from claimd.domain.bulk import lorawan_claim_row
from claimd.domain.errors import InvalidArgument, PermissionDenied
from claimd.domain.lorawan import (
    TTS_ID_MAX_LENGTH,
    ZERO_EUI,
    ClaimCodeNotValid,
    ClaimCodeSpent,
    CodeClaimOutcome,
    DeviceAccessDenied,
    InvalidClaimCode,
    InvalidClaimCodeWindow,
    InvalidEUI,
    InvalidTtsId,
    Lockout,
    LorawanDraft,
    check_tts_id,
    code_window_text,
    csv_header,
    decide_code_claim,
    default_device_id,
    draft_from_csv,
    draft_from_json,
    parse_timestamp,
)
from claimd.domain.ownership import DeviceBlocked, OwnedByAnother

JOIN = "70B3D57ED0000000"
DEV = "70B3D57ED0000001"
# 2025-06-15T00:00:00Z and the next day, in epoch milliseconds
T0 = 1_749_945_600_000
T1 = T0 + 86_400_000

ME, OTHER = uuid.UUID(int=1), uuid.UUID(int=2)

hex16 = st.text(alphabet="0123456789abcdefABCDEF", min_size=16, max_size=16)


# ----------------------------------------------------------------------------------------------------
# decide_code_claim


def decide(**overrides: object) -> CodeClaimOutcome:
    args: dict[str, object] = {
        "proven": True,
        "dev_eui": DEV,
        "owner": None,
        "caller": ME,
        "spent": False,
        "usable": True,
        "blocked": False,
        "window": "",
    }
    args.update(overrides)
    return decide_code_claim(**args)  # type: ignore[arg-type]


def test_a_proven_free_usable_code_claims() -> None:
    assert decide() is CodeClaimOutcome.CLAIM


@pytest.mark.parametrize("owner", [None, ME, OTHER])
@pytest.mark.parametrize("spent", [False, True])
@pytest.mark.parametrize("usable", [False, True])
@pytest.mark.parametrize("blocked", [False, True])
def test_not_proven_is_always_device_access_denied(owner, spent, usable, blocked) -> None:
    with pytest.raises(DeviceAccessDenied) as caught:
        decide(proven=False, owner=owner, spent=spent, usable=usable, blocked=blocked)
    assert caught.value.code == "DEVICE_ACCESS_DENIED"
    assert isinstance(caught.value, PermissionDenied)
    assert DEV in caught.value.message  # the same message whatever was wrong
    # nothing in the answer tells who owns the device or why else it would be refused
    assert "claimed" not in caught.value.message and "spent" not in caught.value.message


@pytest.mark.parametrize("spent", [False, True])
@pytest.mark.parametrize("usable", [False, True])
@pytest.mark.parametrize("blocked", [False, True])
def test_the_owner_claiming_again_is_already_yours_whatever_else(spent, usable, blocked) -> None:
    assert decide(owner=ME, spent=spent, usable=usable, blocked=blocked) is CodeClaimOutcome.ALREADY_YOURS


@pytest.mark.parametrize("spent", [False, True])
@pytest.mark.parametrize("usable", [False, True])
@pytest.mark.parametrize("blocked", [False, True])
def test_another_owner_comes_before_spent_window_and_block(spent, usable, blocked) -> None:
    with pytest.raises(OwnedByAnother):
        decide(owner=OTHER, spent=spent, usable=usable, blocked=blocked)


@pytest.mark.parametrize("usable", [False, True])
@pytest.mark.parametrize("blocked", [False, True])
def test_a_spent_code_comes_before_window_and_block(usable, blocked) -> None:
    with pytest.raises(ClaimCodeSpent) as caught:
        decide(spent=True, usable=usable, blocked=blocked)
    assert caught.value.code == "CLAIM_CODE_SPENT"


@pytest.mark.parametrize("blocked", [False, True])
def test_a_code_outside_its_window_is_not_valid_and_says_its_window(blocked) -> None:
    window = code_window_text(T0, T1)
    with pytest.raises(ClaimCodeNotValid) as caught:
        decide(usable=False, blocked=blocked, window=window)
    assert caught.value.code == "CLAIM_CODE_NOT_VALID"
    assert caught.value.message.endswith(window)
    assert "2025-06-15T00:00:00Z" in caught.value.message and "2025-06-16T00:00:00Z" in caught.value.message


def test_a_blocked_device_is_refused_last() -> None:
    with pytest.raises(DeviceBlocked):
        decide(blocked=True)


# ----------------------------------------------------------------------------------------------------
# Lockout


def test_lock_ms_is_free_then_base_then_doubling_up_to_max() -> None:
    lockout = Lockout(3, base_ms=1_000, max_ms=10_000)
    assert [lockout.lock_ms(n) for n in range(-2, 10)] == [
        0,
        0,
        0,
        0,
        0,
        0,  # -2 .. 3: nothing up to the free failures
        1_000,
        2_000,
        4_000,
        8_000,  # 4 .. 7
        10_000,
        10_000,  # 8, 9: capped
    ]


def test_lock_ms_without_free_failures_locks_from_the_first() -> None:
    lockout = Lockout(0, base_ms=500, max_ms=60_000)
    assert lockout.lock_ms(0) == 0
    assert lockout.lock_ms(1) == 500
    assert lockout.lock_ms(2) == 1_000


def test_lockout_defaults() -> None:
    lockout = Lockout(5)
    assert (lockout.base_ms, lockout.max_ms, lockout.forget_ms) == (1_000, 3_600_000, 86_400_000)
    assert lockout.lock_ms(5) == 0 and lockout.lock_ms(6) == 1_000


@pytest.mark.parametrize("failures", [100, 10_000, 10**9, 2**63, 10**100])
def test_huge_failure_counts_stay_at_max(failures) -> None:
    lockout = Lockout(5, base_ms=1_000, max_ms=3_600_000)
    assert lockout.lock_ms(failures) == 3_600_000
    # an absurd max still gives a bounded, quickly computed integer
    wide = Lockout(0, base_ms=1_000, max_ms=10**40)
    value = wide.lock_ms(failures)
    assert isinstance(value, int) and 0 < value <= 10**40 and value.bit_length() < 64


@settings(max_examples=300, deadline=None, database=None)
@given(
    free=st.integers(0, 50),
    base=st.integers(1, 10**6),
    max_ms=st.integers(1, 10**10),
    a=st.integers(-5, 10**6),
    b=st.integers(-5, 10**6),
)
def test_lock_ms_is_monotone_and_bounded(free, base, max_ms, a, b) -> None:
    lockout = Lockout(free, base_ms=base, max_ms=max_ms)
    low, high = sorted((a, b))
    assert 0 <= lockout.lock_ms(low) <= lockout.lock_ms(high) <= max_ms
    if high <= free:
        assert lockout.lock_ms(high) == 0
    if high == free + 1:
        assert lockout.lock_ms(high) == min(base, max_ms)


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
# parse_timestamp


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        (0, 0),
        (T0, T0),
        (str(T0), T0),
        (f"  {T0} ", T0),
        ("2025-06-15T00:00:00Z", T0),
        ("2025-06-15T00:00:00z", T0),
        ("2025-06-15T00:00:00.250Z", T0 + 250),
        ("2025-06-15T00:00:00.123456789Z", T0 + 123),  # TTS's nanoseconds
        ("2025-06-15T02:00:00+02:00", T0),
        ("2025-06-14T19:00:00-05:00", T0),
        ("2025-06-15T00:00:00+00:00", T0),
        ("2025-06-15T00:00:00", T0),  # naive: UTC
        (" 2025-06-15T00:00:00Z ", T0),
    ],
)
def test_parse_timestamp_accepts_epoch_ms_and_rfc3339(value, expected) -> None:
    assert parse_timestamp(value, "valid_from") == expected


@pytest.mark.parametrize(
    "value",
    [True, False, "garbage", "12abc", "1e3", "-5", 1.5, [], {}, "2025-13-01T00:00:00Z", "2025-06-15T25:00:00Z", "T0"],
)
def test_parse_timestamp_refuses_bools_and_garbage(value) -> None:
    with pytest.raises(InvalidClaimCodeWindow) as caught:
        parse_timestamp(value, "valid_to")
    assert "valid_to" in caught.value.message


@pytest.mark.parametrize("value", ["²", "1²"])
def test_parse_timestamp_refuses_non_ascii_digit_strings(value) -> None:
    with pytest.raises(InvalidClaimCodeWindow):
        parse_timestamp(value, "valid_from")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2004-01-11T03:31:03.195Z", 1_073_791_863_195),
        ("2038-01-19T06:40:50.365Z", 2_147_496_050_365),
    ],
)
def test_parse_timestamp_keeps_every_millisecond(text, expected) -> None:
    assert parse_timestamp(text, "valid_to") == expected


# ----------------------------------------------------------------------------------------------------
# draft_from_json


def test_draft_from_tts_end_device_json() -> None:
    body = {
        "ids": {
            "device_id": "dev-1",
            "dev_eui": "70b3d57ed0000001",
            "join_eui": "70b3d57ed0000000",
            "application_ids": {"application_id": "ignored"},
        },
        "claim_authentication_code": {
            "value": "c05ea29c",
            "valid_from": "2025-06-15T00:00:00Z",
            "valid_to": "2025-06-16T00:00:00Z",
        },
        "lora_alliance_profile_ids": {"vendor_id": 1, "vendor_profile_id": 65535},
        "serial_number": "SN-001",
        "unknown_field": {"kept": False},
    }
    assert draft_from_json(body) == LorawanDraft(
        dev_eui=DEV,
        join_eui=JOIN,
        code="C05EA29C",
        valid_from=T0,
        valid_to=T1,
        vendor_id=1,
        profile_id=65535,
        serial="SN-001",
        name="dev-1",
    )


def test_draft_from_flat_json_with_a_string_code() -> None:
    body = {
        "dev_eui": "70-b3-d5-7e-d0-00-00-01",
        "join_eui": "70:B3:D5:7E:D0:00:00:00",
        "claim_authentication_code": "Pin7",
        "valid_from": T0,
        "valid_to": str(T1),
        "vendor_id": "0x10",
        "vendor_profile_id": 2,
        "name": "My sensor",
    }
    draft = draft_from_json(body)
    assert draft == LorawanDraft(
        dev_eui=DEV,
        join_eui=JOIN,
        code="Pin7",
        valid_from=T0,
        valid_to=T1,
        vendor_id=16,
        profile_id=2,
        serial=None,
        name="My sensor",
    )


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("c05ea29c", "C05EA29C"),  # hex: upper case
        ("abcdef0123", "ABCDEF0123"),
        ("Pin7", "Pin7"),  # not hex: kept as given
        ("secretCode", "secretCode"),
        ({"value": "deadbeef"}, "DEADBEEF"),
        ({"value": "Zz9"}, "Zz9"),
        (None, None),  # generated later
        ("", None),
        ({}, None),
    ],
)
def test_draft_code_forms(code, expected) -> None:
    assert draft_from_json({"dev_eui": DEV, "claim_authentication_code": code}).code == expected


@pytest.mark.parametrize("code", ["a-b", "a b", "x" * 33, 1234, ["ab"], "ü1"])
def test_draft_refuses_bad_codes(code) -> None:
    with pytest.raises(InvalidClaimCode):
        draft_from_json({"dev_eui": DEV, "claim_authentication_code": code})


@pytest.mark.parametrize("join", [None, "", ZERO_EUI])
def test_draft_join_eui_defaults_to_zero(join) -> None:
    body = {"ids": {"dev_eui": DEV}} if join is None else {"ids": {"dev_eui": DEV, "join_eui": join}}
    assert draft_from_json(body).join_eui == ZERO_EUI


@pytest.mark.parametrize("dev", [ZERO_EUI, "00-00-00-00-00-00-00-00"])
def test_draft_refuses_a_zero_dev_eui(dev) -> None:
    with pytest.raises(InvalidEUI):
        draft_from_json({"dev_eui": dev, "join_eui": JOIN})


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"join_eui": JOIN},
        {"dev_eui": ""},
        {"dev_eui": 1234},
        {"dev_eui": "70B3D57ED000001"},
        {"dev_eui": "70B3D57ED000000G"},
        {"dev_eui": DEV, "join_eui": 5},
        {"dev_eui": DEV, "join_eui": "xyz"},
    ],
)
def test_draft_refuses_missing_or_bad_euis(body) -> None:
    with pytest.raises(InvalidEUI):
        draft_from_json(body)


@pytest.mark.parametrize("value", [0, 1, 255, 65535, "65535", "0xFFFF", None, ""])
def test_draft_vendor_ids_from_json_are_numbers_0_to_65535(value) -> None:
    draft = draft_from_json(
        {"dev_eui": DEV, "lora_alliance_profile_ids": {"vendor_id": value, "vendor_profile_id": value}}
    )
    expected = 0 if value in (None, "") else int(value, 0) if isinstance(value, str) else value
    assert (draft.vendor_id, draft.profile_id) == (expected, expected)


@pytest.mark.parametrize("value", [-1, 65536, 2**40, True, 1.0, "x", "0x10000", [1]])
@pytest.mark.parametrize("field", ["vendor_id", "vendor_profile_id"])
def test_draft_refuses_vendor_ids_out_of_range(field, value) -> None:
    with pytest.raises(InvalidArgument):
        draft_from_json({"dev_eui": DEV, "lora_alliance_profile_ids": {field: value}})
    with pytest.raises(InvalidArgument):
        draft_from_json({"dev_eui": DEV, field: value})  # flat


@pytest.mark.parametrize("serial", ["SN 1", "SN:1", "SN\t1", "x" * 65, 12])
def test_draft_refuses_bad_serial_numbers(serial) -> None:
    with pytest.raises(InvalidArgument):
        draft_from_json({"dev_eui": DEV, "serial_number": serial})


def test_draft_keeps_a_printable_serial_and_drops_an_empty_one() -> None:
    assert draft_from_json({"dev_eui": DEV, "serial_number": "YY-WW_N/1.2"}).serial == "YY-WW_N/1.2"
    assert draft_from_json({"dev_eui": DEV, "serial_number": ""}).serial is None


@pytest.mark.parametrize("body", [None, [], [{"dev_eui": DEV}], "70B3D57ED0000001", 5, True])
def test_draft_refuses_what_is_not_an_object(body) -> None:
    with pytest.raises(InvalidArgument):
        draft_from_json(body)


@pytest.mark.parametrize("body", [{"ids": [1], "dev_eui": DEV}, {"dev_eui": DEV, "lora_alliance_profile_ids": "x"}])
def test_draft_refuses_ids_and_profile_that_are_not_objects(body) -> None:
    with pytest.raises(InvalidArgument):
        draft_from_json(body)


@pytest.mark.parametrize(
    "window", [{"valid_from": T1, "valid_to": T0}, {"valid_from": -1}, {"valid_to": "soon"}, {"valid_from": True}]
)
def test_draft_refuses_bad_windows(window) -> None:
    with pytest.raises(InvalidClaimCodeWindow):
        draft_from_json({"dev_eui": DEV, "claim_authentication_code": {"value": "AB", **window}})


def test_draft_window_may_be_one_instant_or_open() -> None:
    assert draft_from_json({"dev_eui": DEV, "valid_from": T0, "valid_to": T0}).valid_to == T0
    draft = draft_from_json({"dev_eui": DEV, "valid_to": "2025-06-16T00:00:00Z"})
    assert (draft.valid_from, draft.valid_to) == (None, T1)


@settings(max_examples=200, deadline=None, database=None)
@given(dev=hex16.filter(lambda s: int(s, 16) != 0), join=hex16)
def test_draft_from_json_round_trips_any_hex_dev_eui_to_upper_case(dev, join) -> None:
    draft = draft_from_json({"ids": {"dev_eui": dev, "join_eui": join}})
    assert draft.dev_eui == dev.upper()
    assert draft.join_eui == join.upper()
    flat = draft_from_json({"dev_eui": dev.lower(), "join_eui": join.lower()})
    assert (flat.dev_eui, flat.join_eui) == (draft.dev_eui, draft.join_eui)


# ----------------------------------------------------------------------------------------------------
# CSV


TTS_HEADER = [
    "id",
    "dev_eui",
    "app_eui",
    "claim_authentication_code",
    "vendor_id",
    "vendor_profile_id",
    "serial_number",
    "valid_from",
    "valid_to",
    "frequency_plan_id",
]


def test_csv_header_knows_tts_names_and_ignores_unknown_columns() -> None:
    assert csv_header(TTS_HEADER) == [
        "name",
        "dev_eui",
        "join_eui",
        "code",
        "vendor_id",
        "profile_id",
        "serial",
        "valid_from",
        "valid_to",
        None,
    ]


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["\ufeffdev_eui", "join_eui"], ["dev_eui", "join_eui"]),  # a BOM on the first cell
        (["\ufeffid", "DevEUI", "JoinEUI"], ["name", "dev_eui", "join_eui"]),
        ([" Dev_EUI ", " AppEUI", "owner_token"], ["dev_eui", "join_eui", "code"]),
        (
            ["device_id", "deveui", "claim_code", "profile_id", "serial"],
            ["name", "dev_eui", "code", "profile_id", "serial"],
        ),
    ],
)
def test_csv_header_variants(names, expected) -> None:
    assert csv_header(names) == expected


@pytest.mark.parametrize("names", [[], ["id", "join_eui", "claim_authentication_code"], ["dev-eui"], ["devEUIs"]])
def test_csv_header_without_dev_eui_is_refused(names) -> None:
    with pytest.raises(InvalidArgument) as caught:
        csv_header(names)
    assert "dev_eui" in caught.value.message


def test_draft_from_csv_row_under_a_tts_header() -> None:
    meanings = csv_header(TTS_HEADER)
    row = [
        "dev-1",
        " 70b3d57ed0000001 ",
        "70B3D57ED0000000",
        "c05ea29c",
        "00A1",
        "ffff",
        "SN-1",
        "2025-06-15T00:00:00Z",
        str(T1),
        "EU_863_870",
    ]
    assert draft_from_csv(meanings, row) == LorawanDraft(
        dev_eui=DEV,
        join_eui=JOIN,
        code="C05EA29C",
        valid_from=T0,
        valid_to=T1,
        vendor_id=0xA1,
        profile_id=0xFFFF,
        serial="SN-1",
        name="dev-1",
    )


def test_draft_from_csv_with_empty_cells() -> None:
    meanings = csv_header(["dev_eui", "join_eui", "claim_authentication_code", "vendor_id"])
    draft = draft_from_csv(meanings, ["70B3D57ED0000001", "", "", ""])
    assert draft == LorawanDraft(dev_eui=DEV, join_eui=ZERO_EUI)
    assert draft_from_csv(meanings, ["70B3D57ED0000001", "", "Pin7", "10"]).vendor_id == 16  # hex


@pytest.mark.parametrize("row", [["70B3D57ED0000001"], ["70B3D57ED0000001", "", "Pin7"]])
def test_draft_from_csv_refuses_short_rows(row) -> None:
    """Issue 20: a short row was read with its missing cells empty, e.g. a code silently generated."""
    meanings = csv_header(["dev_eui", "join_eui", "claim_authentication_code", "vendor_id"])
    with pytest.raises(InvalidArgument) as caught:
        draft_from_csv(meanings, row)
    assert f"{len(row)} cells" in caught.value.message and "header 4" in caught.value.message


@pytest.mark.parametrize("vendor", ["10000", "-1", "0x", "zz", "1.5"])
def test_draft_from_csv_refuses_bad_hex_vendor_ids(vendor) -> None:
    meanings = csv_header(["dev_eui", "vendor_id"])
    with pytest.raises(InvalidArgument):
        draft_from_csv(meanings, [DEV, vendor])


def test_draft_from_csv_refuses_too_many_cells() -> None:
    meanings = csv_header(["dev_eui", "join_eui"])
    with pytest.raises(InvalidArgument) as caught:
        draft_from_csv(meanings, [DEV, JOIN, "extra"])
    assert "3 cells" in caught.value.message and "header 2" in caught.value.message


def test_draft_from_csv_refuses_a_row_without_dev_eui_and_a_zero_dev_eui() -> None:
    meanings = csv_header(["join_eui", "dev_eui"])
    with pytest.raises(InvalidEUI):
        draft_from_csv(meanings, [JOIN, ""])
    with pytest.raises(InvalidEUI):
        draft_from_csv(meanings, [JOIN, ZERO_EUI])


# ----------------------------------------------------------------------------------------------------
# code_window_text


def test_code_window_text() -> None:
    assert code_window_text(None, None) == ""
    assert code_window_text(T0, T1) == " (valid from 2025-06-15T00:00:00Z to 2025-06-16T00:00:00Z)"
    assert code_window_text(0, None) == " (valid from 1970-01-01T00:00:00Z to -)"
    assert code_window_text(None, T0 + 999) == " (valid from - to 2025-06-15T00:00:00Z)"


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


# ----------------------------------------------------------------------------------------------------
# MemoryFailureLimiter: ``locked`` only reads (how long the most locked key stays locked, or 0);
# ``fail`` counts one failure on every key, locks those past ``free`` and returns the longest lock.

DEVICE_LOCK = Lockout(2, base_ms=1_000, max_ms=8_000, forget_ms=60_000)


async def test_memory_limiter_is_free_up_to_free_failures_then_locks_doubling_up_to_max() -> None:
    limiter = MemoryFailureLimiter()
    keys = [("dev:x", DEVICE_LOCK)]
    assert await limiter.locked(keys, T0) == 0  # never failed
    assert [await limiter.fail(keys, T0) for _ in range(2)] == [0, 0]  # the free failures cost nothing
    assert await limiter.locked(keys, T0) == 0
    assert await limiter.fail(keys, T0) == 1_000  # the 3rd, past free: locked
    assert await limiter.locked(keys, T0) == 1_000
    assert await limiter.locked(keys, T0 + 999) == 1  # the lock runs down with time
    assert await limiter.locked(keys, T0 + 1_000) == 0
    # each failure after the lock has run out locks for twice as long, up to max_ms
    now, locks = T0 + 1_000, []
    for _ in range(5):
        locks.append(await limiter.fail(keys, now))
        assert await limiter.locked(keys, now) == locks[-1]
        now += locks[-1]
    assert locks == [2_000, 4_000, 8_000, 8_000, 8_000]


async def test_memory_limiter_locked_only_reads() -> None:
    limiter = MemoryFailureLimiter()
    keys = [("dev:x", DEVICE_LOCK)]
    for _ in range(20):  # asking, however often, counts nothing...
        assert await limiter.locked(keys, T0) == 0
    assert [await limiter.fail(keys, T0) for _ in range(3)] == [0, 0, 1_000]  # ...the 3rd failure is the 3rd
    for _ in range(20):  # nor does asking while locked make the lock longer
        assert await limiter.locked(keys, T0 + 500) == 500
    assert await limiter.fail(keys, T0 + 1_000) == 2_000  # the 4th failure, not the 24th


async def test_memory_limiter_a_failure_while_locked_counts_and_never_shortens_the_lock() -> None:
    """Keys spanning devices (a user, an address) may fail while another attempt has just locked them."""
    limiter = MemoryFailureLimiter()
    keys = [("user:u", Lockout(1, base_ms=1_000, max_ms=60_000))]
    assert await limiter.fail(keys, T0) == 0
    assert await limiter.fail(keys, T0) == 1_000  # 2nd: locked until T0 + 1 s
    assert await limiter.fail(keys, T0 + 100) == 2_000  # 3rd: counted although locked, until T0 + 2.1 s
    assert await limiter.fail(keys, T0 + 200) == 4_000  # 4th
    short = [("user:v", Lockout(0, base_ms=1_000, max_ms=1_000))]
    assert await limiter.fail(short, T0) == 1_000
    assert await limiter.fail(short, T0 + 500) == 1_000  # a new lock of 1 s from now: until T0 + 1.5 s
    assert await limiter.locked(short, T0 + 1_400) == 100


async def test_memory_limiter_the_most_locked_key_decides() -> None:
    limiter = MemoryFailureLimiter()
    device, user = ("dev:x", Lockout(0, base_ms=1_000)), ("user:u", Lockout(0, base_ms=5_000))
    assert await limiter.fail([device, user], T0) == 5_000  # counted on both: both locked
    assert await limiter.locked([device, user], T0) == 5_000
    assert await limiter.locked([user, device], T0) == 5_000
    assert await limiter.locked([device], T0) == 1_000
    assert await limiter.locked([user], T0) == 5_000
    assert await limiter.locked([("addr:a", Lockout(5)), device], T0 + 100) == 900
    assert await limiter.locked([], T0) == 0
    # fail counts every key, and returns the longest lock even when the key that holds it is free
    address = ("addr:a", Lockout(5))
    assert await limiter.fail([address, device], T0 + 100) == 2_000  # device's 2nd failure: 2 s from now
    assert await limiter.fail([address, user], T0 + 100) == 10_000  # user's 2nd failure: 10 s
    assert [await limiter.fail([address], T0 + 100) for _ in range(3)] == [0, 0, 0]  # address: 3rd..5th
    assert await limiter.fail([address], T0 + 100) == 1_000  # its 6th: both earlier calls counted it


async def test_memory_limiter_keys_are_independent() -> None:
    limiter = MemoryFailureLimiter()
    a, b = ("dev:a", DEVICE_LOCK), ("dev:b", DEVICE_LOCK)
    assert [await limiter.fail([a], T0) for _ in range(3)] == [0, 0, 1_000]
    assert await limiter.locked([b], T0) == 0  # b has its own count
    assert [await limiter.fail([b], T0) for _ in range(3)] == [0, 0, 1_000]
    assert await limiter.locked([("dev:c", DEVICE_LOCK)], T0) == 0
    assert await limiter.fail([("dev:c", DEVICE_LOCK)], T0) == 0


async def test_memory_limiter_forgets_after_forget_ms_without_failure() -> None:
    limiter = MemoryFailureLimiter()
    keys = [("dev:x", Lockout(1, base_ms=1_000, forget_ms=60_000))]
    assert await limiter.fail(keys, T0) == 0
    # within forget_ms the count goes on: the 2nd failure locks
    assert await limiter.fail(keys, T0 + 60_000) == 1_000
    # more than forget_ms after the last failure the count starts again
    later = T0 + 60_000 + 60_001
    assert await limiter.fail(keys, later) == 0
    assert await limiter.fail(keys, later + 1) == 1_000  # the 2nd failure of the new count


async def test_memory_limiter_drops_forgotten_keys_past_its_size_but_keeps_locks(monkeypatch) -> None:
    monkeypatch.setattr(limits, "MAX_MEMORY_KEYS", 3)
    limiter = MemoryFailureLimiter()
    forgetful, locking = Lockout(5, forget_ms=1_000), Lockout(0, base_ms=60_000, forget_ms=1_000)
    for name in ("a", "b", "c"):
        await limiter.fail([(f"dev:{name}", forgetful)], T0)
    await limiter.fail([("dev:locked", locking)], T0)
    assert len(limiter._counts) == 4
    await limiter.fail([("dev:recent", forgetful)], T0 + 1_500)  # past the size: a, b and c are forgotten
    assert sorted(limiter._counts) == ["dev:locked", "dev:recent"]
    assert await limiter.locked([("dev:locked", locking)], T0 + 1_500) == 58_500  # a lock is never dropped


@settings(max_examples=100, deadline=None, database=None)
@given(free=st.integers(0, 5), base=st.integers(1, 10_000), max_ms=st.integers(1, 100_000), n=st.integers(1, 30))
async def test_memory_limiter_n_failures_at_once_lock_for_lock_ms_n(free, base, max_ms, n) -> None:
    limiter = MemoryFailureLimiter()
    lockout = Lockout(free, base_ms=base, max_ms=max_ms)
    waits = [await limiter.fail([("k", lockout)], T0) for _ in range(n)]
    assert waits == [lockout.lock_ms(i) for i in range(1, n + 1)]
    assert await limiter.locked([("k", lockout)], T0) == lockout.lock_ms(n)
