"""Settings: defaults, environment, the optional TOML file named by CLAIMD_CONFIG, and their order."""

from __future__ import annotations

import pytest

from claimd.config import DEFAULT_DATABASE_URL, SettingError, load_settings


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
    config.write_text("http_port = 8181\nclaim_duration_ms = 5000\nallow_claiming_by_default = false\n")
    monkeypatch.setenv("CLAIMD_CONFIG", str(config))
    s = load_settings()
    assert (s.http_port, s.claim_duration_ms, s.allow_claiming_by_default) == (8181, 5000, False)
    monkeypatch.setenv("CLAIMD_HTTP_PORT", "8282")
    assert load_settings().http_port == 8282  # the environment wins over the file
    assert load_settings(http_port=8383).http_port == 8383  # and an option over both


def test_bad_values_are_refused():
    with pytest.raises(SettingError, match="CLAIMD_HTTP_PORT"):
        load_settings(http_port=70000)
    with pytest.raises(SettingError, match="CLAIMD_CLAIM_DURATION_MS"):
        load_settings(claim_duration_ms=0)
    with pytest.raises(SettingError, match="CLAIMD_LOG_LEVEL"):
        load_settings(log_level="loud")
    assert load_settings(log_level="WARNING").log_level == "warning"


# Settings that used to fail silently: each is now one error or notice naming the setting. -----------
def test_a_missing_config_file_is_an_error_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAIMD_CONFIG", str(tmp_path / "nowhere.toml"))
    with pytest.raises(SettingError, match=r"CLAIMD_CONFIG=.*nowhere\.toml.*no such file"):
        load_settings()


def test_an_unknown_key_in_the_config_file_is_an_error_naming_key_and_file(tmp_path, monkeypatch):
    config = tmp_path / "claimd.toml"
    config.write_text("http_port = 8181\nhttp_prot = 8282\n")
    monkeypatch.setenv("CLAIMD_CONFIG", str(config))
    with pytest.raises(SettingError, match=r"claimd\.toml.*http_prot"):
        load_settings()


def test_a_toml_error_names_the_file(tmp_path, monkeypatch):
    config = tmp_path / "broken.toml"
    config.write_text("http_port = \n")
    monkeypatch.setenv("CLAIMD_CONFIG", str(config))
    with pytest.raises(SettingError, match=r"CLAIMD_CONFIG=.*broken\.toml.*TOML"):
        load_settings()


def test_a_bad_value_is_one_line_naming_the_variable(monkeypatch):
    monkeypatch.setenv("CLAIMD_HTTP_PORT", "70000")
    with pytest.raises(SettingError) as caught:
        load_settings()
    assert "CLAIMD_HTTP_PORT" in str(caught.value) and "\n" not in str(caught.value)
    assert "70000" not in str(caught.value)  # values are never echoed: one of them could be a secret


def test_unknown_claimd_variables_are_named(monkeypatch):
    from claimd.config import unknown_environment

    monkeypatch.setenv("CLAIMD_HTTP_PROT", "8080")
    monkeypatch.setenv("CLAIMD_HTTP_PORT", "8080")
    monkeypatch.setenv("CLAIMD_CONFIG", "x.toml")
    monkeypatch.setenv("CLAIMD_API_KEY", "the lorawan CLI's")
    assert unknown_environment() == ["CLAIMD_HTTP_PROT"]


def test_secrets_are_not_shown_in_the_settings_repr():
    s = load_settings(secret="s3cret-value", admin_password="p4ssword")
    assert "s3cret-value" not in repr(s) and "p4ssword" not in repr(s)
    assert s.secret.get_secret_value() == "s3cret-value"
