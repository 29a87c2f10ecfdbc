"""The Things Stack's device import files (domain/lorawan_import.py): timestamps, EndDevice JSON and
device CSV rows read into LoRaWAN drafts.

Pure unit tests: no database, no network.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claimd.domain.errors import InvalidArgument
from claimd.domain.lorawan import (
    ZERO_EUI,
    InvalidClaimCode,
    InvalidClaimCodeWindow,
    InvalidEUI,
    LorawanDraft,
)
from claimd.domain.lorawan_import import csv_header, draft_from_csv, draft_from_json, parse_timestamp

JOIN = "70B3D57ED0000000"
DEV = "70B3D57ED0000001"
# 2025-06-15T00:00:00Z and the next day, in epoch milliseconds
T0 = 1_749_945_600_000
T1 = T0 + 86_400_000

hex16 = st.text(alphabet="0123456789abcdefABCDEF", min_size=16, max_size=16)


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
