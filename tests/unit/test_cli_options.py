"""``claimd serve``'s options come from the Settings model itself: every setting is an option, none
is repeated by hand, and no secret is an option value (it would show in ``ps``)."""

from __future__ import annotations

import pytest
import typer.main
from pydantic import SecretStr
from typer.testing import CliRunner

import claimd
from claimd.config import Settings
from claimd.entrypoints import cli


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("CLAIMD_"):
            monkeypatch.delenv(name)


def serve_options() -> set[str]:
    command = typer.main.get_command(cli.app).commands["serve"]  # type: ignore[attr-defined]
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


def test_every_setting_is_a_serve_option():
    options = serve_options()
    for name, field in Settings.model_fields.items():
        flag = "--" + name.removesuffix("_enabled").replace("_", "-")
        if field.annotation in (SecretStr, SecretStr | None):
            assert flag + "-file" in options and flag not in options, name
        else:
            assert flag in options, name
    assert {"--no-mqtt", "--no-coap", "--no-bulk-worker"} <= options


def test_passwords_and_secrets_are_not_option_values(monkeypatch):
    monkeypatch.setattr(cli, "_start", lambda settings: None, raising=False)  # never serve here
    runner = CliRunner()
    for flag in ("--secret", "--admin-password"):
        result = runner.invoke(cli.app, ["serve", flag, "visible-in-ps"])
        assert result.exit_code == 2 and "No such option" in result.output


def test_secret_files_are_read_and_a_missing_one_is_named(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr(cli, "_start", lambda settings: seen.setdefault("settings", settings))
    (tmp_path / "secret").write_text("from-a-file\n")
    (tmp_path / "pw").write_text("pw-from-a-file\n")
    result = CliRunner().invoke(
        cli.app,
        [
            "serve",
            "--secret-file",
            str(tmp_path / "secret"),
            "--admin-password-file",
            str(tmp_path / "pw"),
            "--http-port",
            "9999",
        ],
    )
    assert result.exit_code == 0, result.output
    settings = seen["settings"]
    assert settings.secret.get_secret_value() == "from-a-file" and settings.http_port == 9999
    assert settings.admin_password.get_secret_value() == "pw-from-a-file"
    result = CliRunner().invoke(cli.app, ["serve", "--secret-file", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "--secret-file" in result.output and "nope" in result.output


def test_version_option():
    result = CliRunner().invoke(cli.app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == claimd.__version__
    assert CliRunner().invoke(cli.app, ["version"]).output.strip() == claimd.__version__
