"""LoRaWAN device QR codes (domain/lorawan_qr.py): the CRC-16/MODBUS checksum and the device QR code
texts TTS reads (TR005, its drafts 2 and 3, a bare DevEUI) with the test vectors of the reference
(tts_lorawan.md §5.1-§5.3, §6).

Pure unit tests: no database, no network.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claimd.domain.errors import ClaimdError, InvalidArgument, NotFound
from claimd.domain.lorawan import (
    ZERO_EUI,
    InvalidClaimCode,
    InvalidClaimCodeWindow,
    InvalidEUI,
    format_eui,
    normalize_code,
)
from claimd.domain.lorawan_qr import (
    FORMAT_DEV_EUI,
    FORMAT_TR005,
    FORMAT_TR005_DRAFT2,
    FORMAT_TR005_DRAFT3,
    MAX_QR_TEXT_BYTES,
    QR_FORMATS,
    DeviceQRCode,
    QRBadChecksum,
    QRCodeError,
    QRFormatNotFound,
    QRInvalidCharacter,
    QRInvalidEUI,
    QRInvalidFormat,
    QRInvalidProfileID,
    QRTooLong,
    QRUnknownFormat,
    crc16_modbus,
    format_tr005,
    parse_qr,
    qr_format,
)

SPEC_EXAMPLE = "LW:D0:1122334455667788:AABBCCDDEEFF0011:AABB1122:OAABBCCDDEEFF:SYYWWNNNNNN:PFOOBAR:CAF2C"
WORKED_BODY = "LW:D0:70B3D57ED0000000:0004A310001AAED6:00000000:OC05EA29C"
WORKED_EXAMPLE = WORKED_BODY + ":C536C"

# TTS's vectors (lora_alliance_tr005*_test.go, dev_eui_test.go)
J42 = "42FFFFFFFFFFFFFF"
D42 = "4242FFFFFFFFFFFF"
TTS_SIMPLE = f"LW:D0:{J42}:{D42}:42FFFF42"
TTS_EXTENSIONS = f"LW:D0:{J42}:{D42}:42FFFF42:CCHECKSUM:O0102:SSERIAL:PPROPRIETARY"
TTS_EMPTY_EXTENSIONS = f"LW:D0:{J42}:{D42}:42FFFF42:O:S:P"
TTS_42 = DeviceQRCode(join_eui=J42, dev_eui=D42, vendor_id=0x42FF, profile_id=0xFF42)


def with_checksum(body: str) -> str:
    return f"{body}:C{crc16_modbus(body.encode()):04X}"


# ----------------------------------------------------------------------------------------------------
# CRC-16/MODBUS (§5.2)


def test_crc16_modbus_check_value() -> None:
    assert crc16_modbus(b"123456789") == 0x4B37  # the catalogue's check value for CRC-16/MODBUS
    assert crc16_modbus(b"") == 0xFFFF


def test_crc_of_the_spec_example_is_its_printed_checksum() -> None:
    body = SPEC_EXAMPLE.rsplit(":C", 1)[0]
    assert crc16_modbus(body.encode()) == 0xAF2C


def test_crc_of_the_second_worked_example() -> None:
    assert crc16_modbus(WORKED_BODY.encode()) == 0x536C


# ----------------------------------------------------------------------------------------------------
# TR005 final (§5.1, §5.3)


def test_spec_example_parses_and_verifies() -> None:
    fid, qr = parse_qr(SPEC_EXAMPLE)
    assert fid == FORMAT_TR005
    assert qr == DeviceQRCode(
        join_eui="1122334455667788",
        dev_eui="AABBCCDDEEFF0011",
        vendor_id=0xAABB,
        profile_id=0x1122,
        owner_token="AABBCCDDEEFF",
        serial="YYWWNNNNNN",
        proprietary="FOOBAR",
        checksum="AF2C",
    )
    assert qr.product_id == "AABB1122"


def test_spec_example_is_what_format_tr005_writes() -> None:
    assert (
        format_tr005(
            "1122334455667788",
            "AABBCCDDEEFF0011",
            vendor_id=0xAABB,
            profile_id=0x1122,
            owner_token="AABBCCDDEEFF",
            serial="YYWWNNNNNN",
            proprietary="FOOBAR",
        )
        == SPEC_EXAMPLE
    )


def test_second_worked_example_generated_and_parsed() -> None:
    assert format_tr005("70b3d57ed0000000", "0004A310001AAED6", owner_token="C05EA29C") == WORKED_EXAMPLE
    assert format_tr005("70B3D57ED0000000", "0004A310001AAED6", owner_token="C05EA29C", checksum=False) == WORKED_BODY
    fid, qr = parse_qr(WORKED_EXAMPLE)
    assert fid == FORMAT_TR005
    assert (qr.join_eui, qr.dev_eui, qr.owner_token, qr.checksum) == (
        "70B3D57ED0000000",
        "0004A310001AAED6",
        "C05EA29C",
        "536C",
    )
    assert (qr.vendor_id, qr.profile_id, qr.serial, qr.proprietary) == (0, 0, "", "")
    assert parse_qr(WORKED_BODY)[1].checksum is None  # no C: nothing to verify


def test_tts_simple_vector() -> None:
    assert parse_qr(TTS_SIMPLE) == (FORMAT_TR005, TTS_42)
    assert parse_qr(TTS_SIMPLE, FORMAT_TR005) == (FORMAT_TR005, TTS_42)
    assert format_tr005(J42, D42, vendor_id=0x42FF, profile_id=0xFF42, checksum=False) == TTS_SIMPLE


def test_tts_extensions_vector_with_its_fake_checksum_is_a_format_error() -> None:
    # TTS stores "CHECKSUM" as the checksum; claimd verifies, and checksum text that is not hex is malformed.
    with pytest.raises(QRInvalidFormat) as err:
        parse_qr(TTS_EXTENSIONS)
    assert err.value.code == "QR_INVALID_FORMAT"
    assert "checksum" in err.value.message


@pytest.mark.parametrize(
    "text",
    [
        # the TTS vector with a real checksum, C last (TR005's own placement)
        with_checksum(f"LW:D0:{J42}:{D42}:42FFFF42:O0102:SSERIAL:PPROPRIETARY"),
        # ... and C first, as TTS re-emits it: the checksum covers the text without its C field
        (
            f"LW:D0:{J42}:{D42}:42FFFF42:C"
            f"{crc16_modbus(f'LW:D0:{J42}:{D42}:42FFFF42:O0102:SSERIAL:PPROPRIETARY'.encode()):04X}"
            ":O0102:SSERIAL:PPROPRIETARY"
        ),
    ],
)
def test_tts_extensions_vector_with_a_real_checksum(text: str) -> None:
    fid, qr = parse_qr(text)
    assert fid == FORMAT_TR005
    assert (qr.owner_token, qr.serial, qr.proprietary) == ("0102", "SERIAL", "PROPRIETARY")
    assert (qr.join_eui, qr.dev_eui, qr.vendor_id, qr.profile_id) == (J42, D42, 0x42FF, 0xFF42)
    assert qr.checksum is not None and len(qr.checksum) == 4
    # claimd writes it back in its own order, O S P and C last, which verifies again
    again = format_tr005(
        J42,
        D42,
        vendor_id=qr.vendor_id,
        profile_id=qr.profile_id,
        owner_token=qr.owner_token,
        serial=qr.serial,
        proprietary=qr.proprietary,
    )
    assert again == with_checksum(f"LW:D0:{J42}:{D42}:42FFFF42:O0102:SSERIAL:PPROPRIETARY")


def test_tts_empty_extensions_vector_canonicalises_to_no_extensions() -> None:
    fid, qr = parse_qr(TTS_EMPTY_EXTENSIONS)
    assert (fid, qr) == (FORMAT_TR005, TTS_42)
    assert (
        format_tr005(
            J42, D42, vendor_id=qr.vendor_id, profile_id=qr.profile_id, owner_token=qr.owner_token, checksum=False
        )
        == TTS_SIMPLE
    )
    assert parse_qr(f"{TTS_SIMPLE}:C")[1].checksum is None  # a bare "C" is an empty extension, skipped


@pytest.mark.parametrize("format_id", [None, FORMAT_TR005])
@pytest.mark.parametrize(
    ("text", "error", "code"),
    [
        (f"LW:D0:{J42}:{D42}", QRInvalidFormat, "QR_INVALID_FORMAT"),  # TTS Invalid/Parts: 4 parts
        ("LW:D0", QRInvalidFormat, "QR_INVALID_FORMAT"),
        ("LW", QRInvalidFormat, "QR_INVALID_FORMAT"),
        (f"LW:D1:{J42}:{D42}:42FFFF42", QRInvalidFormat, "QR_INVALID_FORMAT"),  # only D0 is defined
        (f"LW:D0:42FFFFFFFF:{D42}:42FFFF42", QRInvalidEUI, "QR_INVALID_EUI"),  # TTS Invalid/EUI: 10 hex
        (f"LW:D0:{J42}:4242FFFFFFFFFFFFFF:42FFFF42", QRInvalidEUI, "QR_INVALID_EUI"),
        (f"LW:D0:{J42}:4242FFFFFFFFFFFG:42FFFF42", QRInvalidEUI, "QR_INVALID_EUI"),
        (f"LW:D0:{J42}:42-42-FF-FF-FF-FF-FF-FF:42FFFF42", QRInvalidEUI, "QR_INVALID_EUI"),
        (f"LW:D0:{J42}:{D42}:42FFFF42AABB", QRInvalidProfileID, "QR_INVALID_PROFILE_ID"),  # TTS Invalid/ProdID
        (f"LW:D0:{J42}:{D42}:42FFFF4", QRInvalidProfileID, "QR_INVALID_PROFILE_ID"),
        (f"LW:D0:{J42}:{D42}:", QRInvalidProfileID, "QR_INVALID_PROFILE_ID"),
        (f"LW:D0:{J42}:{D42}:42FFFFXX", QRInvalidProfileID, "QR_INVALID_PROFILE_ID"),
        (SPEC_EXAMPLE[:-4] + "AF2D", QRBadChecksum, "QR_BAD_CHECKSUM"),
        (SPEC_EXAMPLE.replace("FOOBAR", "FOOBAZ"), QRBadChecksum, "QR_BAD_CHECKSUM"),
        (SPEC_EXAMPLE + "0", QRInvalidFormat, "QR_INVALID_FORMAT"),  # 5 hex digits
        (SPEC_EXAMPLE + ":CAF2C", QRInvalidFormat, "QR_INVALID_FORMAT"),  # two checksums
        (SPEC_EXAMPLE[:-4] + "XYZW", QRInvalidFormat, "QR_INVALID_FORMAT"),
    ],
)
def test_invalid_tr005_texts(text: str, error: type[QRCodeError], code: str, format_id: str | None) -> None:
    with pytest.raises(error) as err:
        parse_qr(text, format_id)
    assert err.value.code == code
    assert isinstance(err.value, InvalidArgument)


def test_wrong_checksum_error_says_what_it_expected() -> None:
    with pytest.raises(QRBadChecksum) as err:
        parse_qr(SPEC_EXAMPLE[:-4] + "0000")
    assert "0000" in err.value.message and "AF2C" in err.value.message


def test_checksum_is_hex_in_either_case_and_need_not_be_zero_padded() -> None:
    assert parse_qr(SPEC_EXAMPLE[:-4] + "af2c")[1].checksum == "AF2C"
    # find a text whose CRC has a leading zero digit and write it unpadded
    for n in range(10_000):
        body = f"{TTS_SIMPLE}:S{n}"
        crc = crc16_modbus(body.encode())
        if crc < 0x1000:
            break
    else:  # pragma: no cover - 1 in 16 texts qualifies
        pytest.fail("no CRC below 0x1000")
    qr = parse_qr(f"{body}:C{crc:X}")[1]
    assert qr.checksum == f"{crc:04X}"
    assert parse_qr(f"{body}:C{crc:04X}")[1] == qr


def test_empty_eui_fields_are_the_zero_eui() -> None:
    fid, qr = parse_qr("LW:D0::0004A310001AAED6:00000000:OC05EA29C")
    assert fid == FORMAT_TR005 and qr.join_eui == ZERO_EUI
    assert parse_qr("LW:D0:::00000000")[1].dev_eui == ZERO_EUI
    assert parse_qr(f"URN:DEV:LW:_{D42}_00000000")[1].join_eui == ZERO_EUI
    assert parse_qr(f"URN:LW:DP::{D42}:00000000")[1].join_eui == ZERO_EUI


def test_euis_are_case_insensitive_and_come_out_upper_case() -> None:
    qr = parse_qr(f"LW:D0:{J42.lower()}:{D42.lower()}:42ffff42")[1]
    assert (qr.join_eui, qr.dev_eui, qr.vendor_id, qr.profile_id) == (J42, D42, 0x42FF, 0xFF42)


def test_extensions_order_free_unknown_ignored_last_wins() -> None:
    text = f"{TTS_SIMPLE}:PPROP:XUNKNOWN:SSER:O1111:O2222::Z"
    qr = parse_qr(text)[1]
    assert (qr.owner_token, qr.serial, qr.proprietary, qr.checksum) == ("2222", "SER", "PROP", None)
    assert parse_qr(with_checksum(text))[1].checksum is not None


def test_tr005_extension_values_take_any_character_but_colon() -> None:
    qr = parse_qr(f"{TTS_SIMPLE}:Oab c#%_/é:S-x-")[1]
    assert (qr.owner_token, qr.serial) == ("ab c#%_/é", "-x-")
    # a checksum over non-ASCII text is computed over its UTF-8 bytes
    text = with_checksum(f"{TTS_SIMPLE}:Pé")
    assert parse_qr(text)[1].proprietary == "é"


def test_headers_are_case_sensitive() -> None:
    for text in (TTS_SIMPLE.lower(), "urn:dev:lw:" + f"{J42}_{D42}_42FFFF42"):
        with pytest.raises(QRUnknownFormat):
            parse_qr(text)


def test_surrounding_whitespace_is_ignored() -> None:
    assert parse_qr(f"  {SPEC_EXAMPLE}\r\n")[1] == parse_qr(SPEC_EXAMPLE)[1]
    assert parse_qr(f"{D42}\n") == (FORMAT_DEV_EUI, DeviceQRCode(join_eui=None, dev_eui=D42))


def test_bytes_are_read_as_utf8() -> None:
    assert parse_qr(SPEC_EXAMPLE.encode()) == parse_qr(SPEC_EXAMPLE)
    with pytest.raises(QRUnknownFormat):
        parse_qr(f"{TTS_SIMPLE}:O\ud800")  # a lone surrogate (JSON "\ud800") is not UTF-8 text
    with pytest.raises(QRInvalidFormat):
        parse_qr(f"{TTS_SIMPLE}:O\ud800", FORMAT_TR005)
    multibyte = f"{TTS_SIMPLE}:P" + "é" * ((MAX_QR_TEXT_BYTES - len(TTS_SIMPLE)) // 2)
    assert len(multibyte) <= MAX_QR_TEXT_BYTES < len(multibyte.encode())
    with pytest.raises(QRTooLong):
        parse_qr(multibyte)


def test_too_long_text_is_refused() -> None:
    long = f"{TTS_SIMPLE}:P" + "X" * MAX_QR_TEXT_BYTES
    for text in (long, long.encode()):
        with pytest.raises(QRTooLong) as err:
            parse_qr(text)
        assert err.value.code == "QR_TOO_LONG"
    just_fits = f"{TTS_SIMPLE}:P" + "X" * (MAX_QR_TEXT_BYTES - len(TTS_SIMPLE) - 2)
    assert len(just_fits) == MAX_QR_TEXT_BYTES
    assert parse_qr(just_fits)[1].proprietary.startswith("XXX")


# ----------------------------------------------------------------------------------------------------
# TR005 draft 2 (URN:LW:DP:) and draft 3 (URN:DEV:LW:)


@pytest.mark.parametrize("format_id", [None, FORMAT_TR005_DRAFT2])
@pytest.mark.parametrize(
    ("text", "token", "serial", "proprietary"),
    [
        (f"URN:LW:DP:{J42}:{D42}:42FFFF42", "", "", ""),  # Simple
        (f"URN:LW:DP:{J42}:{D42}:42FFFF42:%V0102", "0102", "", ""),  # the reference's vector
        (f"URN:LW:DP:{J42}:{D42}:42FFFF42:%V0102%SSERIAL%PPROPRIETARY", "0102", "SERIAL", "PROPRIETARY"),
        (f"URN:LW:DP:{J42}:{D42}:42FFFF42:%V%S%P", "", "", ""),  # EmptyExtensions
        (f"URN:LW:DP:{J42}:{D42}:42FFFF42:%25VABCD", "ABCD", "", ""),  # WithEscape
        (f"URN:LW:DP:{J42}:{D42}:42FFFF42:%SA%25PB$*+-./%XIGNORED", "", "A", "B$*+-./"),
    ],
)
def test_draft2_vectors(text: str, token: str, serial: str, proprietary: str, format_id: str | None) -> None:
    fid, qr = parse_qr(text, format_id)
    assert fid == FORMAT_TR005_DRAFT2
    assert qr == DeviceQRCode(J42, D42, 0x42FF, 0xFF42, owner_token=token, serial=serial, proprietary=proprietary)


@pytest.mark.parametrize("format_id", [None, FORMAT_TR005_DRAFT3])
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"URN:DEV:LW:{J42}_{D42}_42FFFF42", TTS_42),  # Simple
        (
            f"URN:DEV:LW:{J42}_{D42}_42FFFF42_V0102_SSERIAL_PPROPRIETARY",
            DeviceQRCode(J42, D42, 0x42FF, 0xFF42, owner_token="0102", serial="SERIAL", proprietary="PROPRIETARY"),
        ),
        (f"URN:DEV:LW:{J42}_{D42}_42FFFF42_V_S_P", TTS_42),  # EmptyExtensions
        (
            "URN:DEV:LW:70B3D57ED0000000_0004A31000FFFFFF_00000000_VD53FFFFF",  # real-world sticker
            DeviceQRCode("70B3D57ED0000000", "0004A31000FFFFFF", owner_token="D53FFFFF"),
        ),
    ],
)
def test_draft3_vectors(text: str, expected: DeviceQRCode, format_id: str | None) -> None:
    assert parse_qr(text, format_id) == (FORMAT_TR005_DRAFT3, expected)


@pytest.mark.parametrize(
    ("text", "format_id", "error"),
    [
        (f"URN:LW:DP:42FFFFFFFF:{D42}:42FFFF42", FORMAT_TR005_DRAFT2, QRInvalidEUI),
        (f"URN:LW:DP:{J42}:{D42}:42FFFF42AABB", FORMAT_TR005_DRAFT2, QRInvalidProfileID),
        (f"URN:LW:DP:{J42}:{D42}:42FFFF42:%P#_", FORMAT_TR005_DRAFT2, QRInvalidCharacter),
        (f"URN:LW:DP:{J42}:{D42}:42FFFF42:%Vabcd", FORMAT_TR005_DRAFT2, QRInvalidCharacter),
        (f"URN:LW:DP:{J42}:{D42}:42FFFF42:%VAB:CD", FORMAT_TR005_DRAFT2, QRInvalidCharacter),
        (f"URN:LW:DP:{J42}:{D42}", FORMAT_TR005_DRAFT2, QRInvalidFormat),
        (f"URN:DEV:LW:{J42}_{D42}", FORMAT_TR005_DRAFT3, QRInvalidFormat),  # TTS Invalid/Parts
        (f"URN:DEV:LW:42FFFFFFFF_{D42}_42FFFF42", FORMAT_TR005_DRAFT3, QRInvalidEUI),
        (f"URN:DEV:LW:{J42}_{D42}_42FFFF42AABB", FORMAT_TR005_DRAFT3, QRInvalidProfileID),
        (f"URN:DEV:LW:{J42}_{D42}_42FFFF42_P#", FORMAT_TR005_DRAFT3, QRInvalidCharacter),
        (f"URN:DEV:LW:{J42}_{D42}_42FFFF42_SA-B", FORMAT_TR005_DRAFT3, QRInvalidCharacter),
    ],
)
def test_invalid_draft_texts(text: str, format_id: str, error: type[QRCodeError]) -> None:
    for fid in (None, format_id):
        with pytest.raises(error):
            parse_qr(text, fid)


# ----------------------------------------------------------------------------------------------------
# Bare DevEUI, format selection and the format registry


def test_dev_eui_vectors() -> None:
    assert parse_qr("4242FFFFFFFFFFFF") == (FORMAT_DEV_EUI, DeviceQRCode(join_eui=None, dev_eui=D42))
    assert parse_qr("4242ffffffffffff", FORMAT_DEV_EUI)[1].dev_eui == D42
    for fid in (None, FORMAT_DEV_EUI):
        with pytest.raises(QRInvalidEUI):
            parse_qr("424FFFFFFFFF", fid)  # TTS Invalid: 12 hex digits


def test_formats_are_tried_in_tts_order_and_listed_as_tts() -> None:
    assert list(QR_FORMATS) == ["tr005", "tr005draft2", "tr005draft3", "dev_eui"]
    assert QR_FORMATS["tr005"].name == "LoRa Alliance TR005"
    assert QR_FORMATS["tr005draft2"].name == "LoRa Alliance TR005 Draft 2 (DEPRECATED)"
    assert QR_FORMATS["tr005draft3"].name == "LoRa Alliance TR005 Draft 3 (DEPRECATED)"
    assert QR_FORMATS["dev_eui"].name == "DevEUI"
    assert QR_FORMATS["dev_eui"].description == "LoRaWAN® DevEUI (hex encoded)"
    assert qr_format("tr005").as_json() == {
        "name": "LoRa Alliance TR005",
        "description": "Standard QR code format defined by LoRa Alliance.",
        "field_mask": {"paths": ["claim_authentication_code.value", "ids.dev_eui", "ids.join_eui"]},
    }
    assert qr_format("dev_eui").field_mask == ("ids.dev_eui",)
    for format_id, fmt in QR_FORMATS.items():
        assert fmt.id == format_id and len(fmt.name) <= 100 and len(fmt.description) <= 200


def test_unknown_format_id() -> None:
    with pytest.raises(QRUnknownFormat) as err:
        parse_qr(SPEC_EXAMPLE, "unknown")  # §6 UnknownFormat
    assert err.value.code == "QR_UNKNOWN_FORMAT"
    with pytest.raises(QRFormatNotFound) as nf:
        qr_format("unknown")
    assert isinstance(nf.value, NotFound) and nf.value.code == "QR_FORMAT_NOT_FOUND"


@pytest.mark.parametrize("text", ["", "   ", "hello", "https://example.com/", "LW-D0", "42FFFF4G42FFFF42"])
def test_text_in_no_format_is_unknown(text: str) -> None:
    with pytest.raises(QRUnknownFormat):
        parse_qr(text)  # §6 EmptyData included


def test_undecodable_bytes() -> None:
    data = bytes([0x42, 0xFF, 0x42, 0x42])  # TTS Invalid/Type
    with pytest.raises(QRUnknownFormat):
        parse_qr(data)
    for format_id in QR_FORMATS:
        with pytest.raises(QRInvalidFormat):
            parse_qr(data, format_id)


@pytest.mark.parametrize(
    ("text", "format_id"),
    [
        (SPEC_EXAMPLE, FORMAT_TR005_DRAFT2),
        (SPEC_EXAMPLE, FORMAT_TR005_DRAFT3),
        (SPEC_EXAMPLE, FORMAT_DEV_EUI),
        ("URN:DEV:LW:70B3D57ED0000000_0004A31000FFFFFF_00000000_VD53FFFFF", FORMAT_TR005),
        (f"URN:LW:DP:{J42}:{D42}:42FFFF42", FORMAT_TR005_DRAFT3),
        (D42, FORMAT_TR005),
        ("222222222222222", FORMAT_TR005),  # §6 InvalidValue: a 15-hex DevEUI with tr005
    ],
)
def test_explicit_format_that_does_not_match(text: str, format_id: str) -> None:
    with pytest.raises(QRInvalidFormat) as err:
        parse_qr(text, format_id)
    assert err.value.code == "QR_INVALID_FORMAT"


def test_qrcodegenerator_service_scenarios() -> None:
    # §6 pkg/qrcodegenerator/grpc_end_devices_test.go
    with pytest.raises(QRInvalidEUI):
        parse_qr("LW:D0:1111111111111111:222222222222222:AABB1122", FORMAT_TR005)
    fid, qr = parse_qr(b"LW:D0:1111111111111111:2222222222222222:AABB1122:O123456")  # ValidBytes
    assert (fid, qr.join_eui, qr.dev_eui, qr.owner_token, qr.serial) == (
        "tr005",
        "1111111111111111",
        "2222222222222222",
        "123456",
        "",
    )
    qr = parse_qr(b"LW:D0:1111111111111111:2222222222222222:ABCDABCD:O123456:S12345678")[1]
    assert (qr.vendor_id, qr.profile_id, qr.owner_token, qr.serial) == (0xABCD, 0xABCD, "123456", "12345678")
    generated = format_tr005("1111111111111111", "2222222222222222", owner_token="123456")  # ValidGenerated
    assert parse_qr(generated)[1].owner_token == "123456"


def test_error_classes_carry_stable_codes() -> None:
    codes = {
        cls.code
        for cls in (
            QRUnknownFormat,
            QRInvalidFormat,
            QRTooLong,
            QRInvalidEUI,
            QRInvalidProfileID,
            QRInvalidCharacter,
            QRBadChecksum,
            QRFormatNotFound,
            InvalidEUI,
            InvalidClaimCode,
            InvalidClaimCodeWindow,
        )
    }
    assert len(codes) == 11 and all(c and c.isupper() for c in codes)
    assert issubclass(QRBadChecksum, InvalidArgument) and issubclass(QRFormatNotFound, ClaimdError)


# ----------------------------------------------------------------------------------------------------
# format_tr005 and round trips


def test_format_tr005_refuses_bad_input() -> None:
    with pytest.raises(InvalidEUI):
        format_tr005("42FF", D42)
    with pytest.raises(InvalidArgument):
        format_tr005(J42, D42, vendor_id=0x10000)
    with pytest.raises(InvalidArgument):
        format_tr005(J42, D42, profile_id=-1)
    for bad in ("A:B", "A B", "A\nB", "é"):
        with pytest.raises(InvalidArgument):
            format_tr005(J42, D42, serial=bad)


def test_format_tr005_accepts_separated_euis_and_omits_empty_extensions() -> None:
    text = format_tr005("70-b3-d5-7e-d0-00-00-00", "00:04:A3:10:00:1A:AE:D6", serial="SN1", checksum=False)
    assert text == "LW:D0:70B3D57ED0000000:0004A310001AAED6:00000000:SSN1"


EXT_ALPHABET = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != ":")
CODE_ALPHABET = string.ascii_letters + string.digits
euis = st.integers(min_value=0, max_value=(1 << 64) - 1).map(format_eui)
ids16 = st.integers(min_value=0, max_value=0xFFFF)


@settings(max_examples=300, deadline=None)
@given(
    join_eui=euis,
    dev_eui=euis,
    vendor_id=ids16,
    profile_id=ids16,
    token=st.one_of(st.just(""), st.text(CODE_ALPHABET, min_size=1, max_size=32).map(normalize_code)),
    serial=st.text(EXT_ALPHABET, max_size=24),
    proprietary=st.text(EXT_ALPHABET, max_size=24),
)
def test_generated_text_parses_back_and_verifies(
    join_eui: str, dev_eui: str, vendor_id: int, profile_id: int, token: str, serial: str, proprietary: str
) -> None:
    text = format_tr005(
        join_eui,
        dev_eui,
        vendor_id=vendor_id,
        profile_id=profile_id,
        owner_token=token,
        serial=serial,
        proprietary=proprietary,
    )
    fid, qr = parse_qr(text)
    assert fid == FORMAT_TR005
    body, _, crc = text.rpartition(":C")
    assert int(crc, 16) == crc16_modbus(body.encode())
    assert qr == DeviceQRCode(join_eui, dev_eui, vendor_id, profile_id, token, serial, proprietary, crc)
    # a text without the checksum reads the same, minus the checksum
    plain = format_tr005(
        join_eui,
        dev_eui,
        vendor_id=vendor_id,
        profile_id=profile_id,
        owner_token=token,
        serial=serial,
        proprietary=proprietary,
        checksum=False,
    )
    assert plain == body and parse_qr(plain)[1].checksum is None


@settings(max_examples=300, deadline=None)
@given(
    dev_eui=euis,
    token=st.text(CODE_ALPHABET, min_size=1, max_size=32),
    data=st.data(),
)
def test_any_one_character_change_is_caught(dev_eui: str, token: str, data: st.DataObject) -> None:
    text = format_tr005("70B3D57ED0000000", dev_eui, owner_token=token, serial="SN-1")
    covered = text.rindex(":C")
    i = data.draw(st.integers(min_value=0, max_value=covered - 1))
    new = data.draw(st.sampled_from(EXT_ALPHABET).filter(lambda c: c != text[i]))
    with pytest.raises(QRCodeError):
        parse_qr(text[:i] + new + text[i + 1 :], FORMAT_TR005)
