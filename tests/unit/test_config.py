"""Settings: defaults, environment, the optional TOML file named by CLAIMD_CONFIG, and their order."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from claimd.config import DEFAULT_DATABASE_URL, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("CLAIMD_"):
            monkeypatch.delenv(name)


def test_defaults_are_the_embedded_ones():
    s = load_settings()
    assert (s.database_url, s.http_port, s.mqtt_port, s.coap_port) == (DEFAULT_DATABASE_URL, 8080, 1883, 5683)
    assert s.allow_claiming_by_default is True and s.claim_duration_ms == 86_400_000 and s.redis_url is None


def test_toml_file_then_environment_then_options(tmp_path, monkeypatch):
    config = tmp_path / "claimd.toml"
    config.write_text('http_port = 8181\nclaim_duration_ms = 5000\nallow_claiming_by_default = false\n')
    monkeypatch.setenv("CLAIMD_CONFIG", str(config))
    s = load_settings()
    assert (s.http_port, s.claim_duration_ms, s.allow_claiming_by_default) == (8181, 5000, False)
    monkeypatch.setenv("CLAIMD_HTTP_PORT", "8282")
    assert load_settings().http_port == 8282  # the environment wins over the file
    assert load_settings(http_port=8383).http_port == 8383  # and an option over both


def test_bad_values_are_refused():
    with pytest.raises(ValidationError):
        load_settings(http_port=70000)
    with pytest.raises(ValidationError):
        load_settings(claim_duration_ms=0)
