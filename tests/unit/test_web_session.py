"""The web pages' pure helpers: where sign-in may send a browser, and what a claim link carries."""

from __future__ import annotations

import pytest

from claimd.entrypoints.web.pages import link_fields
from claimd.entrypoints.web.session import safe_next


@pytest.mark.parametrize(
    "target",
    ["/claim", "/claim?deviceName=a%20b&secretKey=k", "/my/devices", "/claim?deviceName=a b"],
)
def test_same_site_paths_are_kept(target: str) -> None:
    assert safe_next(target) == target


@pytest.mark.parametrize(
    "target",
    [None, "", "claim", "//evil.example", "/\\evil.example", "/\t/evil.example", "/\n/evil", "https://evil.example/"],
)
def test_anything_that_could_leave_the_site_is_dropped(target: str | None) -> None:
    assert safe_next(target) is None


def test_a_claim_link_carries_the_name_and_the_key() -> None:
    assert link_fields("https://claimd.example/claim?deviceName=Sensor%201&secretKey=k%26y") == ("Sensor 1", "k&y")
    assert link_fields(" http://10.0.0.2:8080/claim?deviceName=n ") == ("n", "")
    for other in ("LW:D0:1122334455667788:AABBCCDDEEFF0011:AABB1122", "https://x/claim?secretKey=k", "ftp://x/claim"):
        assert link_fields(other) is None
