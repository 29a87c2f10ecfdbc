"""A tenant's claim page settings (domain/claim_page.py): what a tenant admin may set, what a page
shows when the stored settings are missing or broken, and placeholders filled by replacement only."""

from __future__ import annotations

import pytest

from claimd.domain.claim_page import DEFAULT, MAX_LABEL, MAX_MESSAGE, TEXT_FIELDS, settings_from, stored_settings
from claimd.domain.errors import InvalidArgument
from claimd.entrypoints.web.console_settings import FIELDS


def test_the_defaults_are_the_pinned_names_and_words() -> None:
    assert (DEFAULT.device_name_label, DEFAULT.secret_key_label, DEFAULT.show_secret_key) == (
        "Device name",
        "Secret key",
        True,
    )
    assert DEFAULT.say(DEFAULT.success, device="lamp-7") == "You now own lamp-7."
    assert DEFAULT.say(DEFAULT.too_many, seconds=42) == "Too many attempts. Try again in 42 seconds."


def test_a_tenant_sets_some_fields_and_the_rest_keep_their_defaults() -> None:
    page = settings_from({"device_name_label": " Serial number ", "show_secret_key": False, "blocked": "Locked."})
    assert (page.device_name_label, page.show_secret_key, page.blocked) == ("Serial number", False, "Locked.")
    assert page.wrong_key == DEFAULT.wrong_key
    assert settings_from(page.as_json()) == page  # stored and read back unchanged


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("success", ""),
        ("success", "   "),
        ("success", 7),
        ("success", "x" * (MAX_MESSAGE + 1)),
        ("device_name_label", "x" * (MAX_LABEL + 1)),
        ("device_name_label", "Name {device}"),
        ("not_found", "bad\x00byte"),
        ("show_secret_key", "yes"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(InvalidArgument) as caught:
        settings_from({field: value})
    assert field in caught.value.message


def test_stored_settings_that_no_longer_hold_fall_back_to_the_defaults() -> None:
    assert stored_settings(None) == DEFAULT
    assert stored_settings("text") == DEFAULT
    assert stored_settings({"success": ""}) == DEFAULT
    assert stored_settings({"success": "Yours: {device}", "unknown": 1}).success == "Yours: {device}"


def test_placeholders_are_replaced_never_formatted() -> None:
    page = settings_from({"not_found": "No {device} {0} {device.__class__} {seconds}"})
    assert page.say(page.not_found, device="a{b}", seconds=3) == "No a{b} {0} {device.__class__} 3"


def test_the_settings_page_has_a_field_for_every_text() -> None:
    assert set(FIELDS) == set(TEXT_FIELDS)
