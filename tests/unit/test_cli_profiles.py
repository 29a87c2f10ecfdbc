"""The remote CLI's profiles and secrets (cli_remote.py): where the config file is, which source wins
(command line > environment > profile > default), errors that say what to fix, and the 0600 files that
hold one-time secrets. No server: the last tests only check the exit codes of errors found before one
is asked."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claimd.entrypoints import cli
from claimd.entrypoints.cli_remote import (
    DEFAULT_URL,
    ConfigError,
    Given,
    config_path,
    create_private,
    read_config,
    resolve,
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CLAIMD_") or name == "XDG_CONFIG_HOME":
            monkeypatch.delenv(name)


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def config(tmp_path: Path) -> dict[str, str]:
    """An environment whose config file has two profiles, ``factory`` the default."""
    key = write(tmp_path / "factory.key", "factory-api-key\n")
    write(
        tmp_path / "config.toml",
        f"""default_profile = "factory"

[profiles.factory]
url = "http://factory.example:8080"
api_key_file = "{key}"

[profiles.lab]
url = "http://lab.example:8080"
username = "lab@example.com"
""",
    )
    return {"CLAIMD_CLI_CONFIG": str(tmp_path / "config.toml")}


def test_the_config_file_is_in_the_xdg_config_directory() -> None:
    assert config_path({"HOME": "/home/ann"}) == Path("/home/ann/.config/claimd/config.toml")
    assert config_path({"HOME": "/home/ann", "XDG_CONFIG_HOME": "/xdg"}) == Path("/xdg/claimd/config.toml")
    # a relative XDG_CONFIG_HOME is to be ignored (the XDG base directory rules)
    assert config_path({"HOME": "/h", "XDG_CONFIG_HOME": "rel"}) == Path("/h/.config/claimd/config.toml")
    # CLAIMD_CLI_CONFIG names another file; CLAIMD_CONFIG is claimd serve's settings file, not this one
    assert config_path({"HOME": "/h", "CLAIMD_CLI_CONFIG": "/etc/c.toml"}) == Path("/etc/c.toml")
    assert config_path({"HOME": "/h", "CLAIMD_CONFIG": "/etc/serve.toml"}) == Path("/h/.config/claimd/config.toml")


def test_no_config_file_and_nothing_given_is_the_default(tmp_path: Path) -> None:
    found = resolve(Given(), {"HOME": str(tmp_path)})
    assert (found.url, found.api_key, found.username, found.password, found.profile) == (
        DEFAULT_URL,
        None,
        None,
        None,
        None,
    )


def test_the_default_profile_is_used_when_none_is_chosen(config: dict[str, str]) -> None:
    found = resolve(Given(), config)
    assert (found.profile, found.url, found.api_key, found.username) == (
        "factory",
        "http://factory.example:8080",
        "factory-api-key",
        None,
    )


def test_command_line_beats_environment_beats_profile(config: dict[str, str], tmp_path: Path) -> None:
    # --profile beats CLAIMD_PROFILE beats default_profile
    assert resolve(Given(profile="lab"), {**config, "CLAIMD_PROFILE": "factory"}).profile == "lab"
    assert resolve(Given(), {**config, "CLAIMD_PROFILE": "lab"}).url == "http://lab.example:8080"
    # the URL: option > CLAIMD_URL > profile
    env = {**config, "CLAIMD_URL": "http://env.example"}
    assert resolve(Given(), env).url == "http://env.example"
    assert resolve(Given(url="http://option.example"), env).url == "http://option.example"
    # who: a username from the environment beats the profile's API key file, and takes CLAIMD_PASSWORD
    found = resolve(Given(), {**config, "CLAIMD_USERNAME": "ann@example.com", "CLAIMD_PASSWORD": "pw"})
    assert (found.api_key, found.username, found.password) == (None, "ann@example.com", "pw")
    # ... and --username on the command line beats CLAIMD_API_KEY in the environment
    found = resolve(Given(username="bob@example.com"), {**config, "CLAIMD_API_KEY": "env-key"})
    assert (found.api_key, found.username) == (None, "bob@example.com")
    assert resolve(Given(), {**config, "CLAIMD_API_KEY": "env-key"}).api_key == "env-key"
    # --api-key-file beats everything else
    key = write(tmp_path / "option.key", "option-key\n")
    assert resolve(Given(api_key_file=key), {**config, "CLAIMD_API_KEY": "env-key"}).api_key == "option-key"
    # a profile's username, with the password from the environment or a file
    lab = resolve(Given(profile="lab"), {**config, "CLAIMD_PASSWORD": "lab-pw"})
    assert (lab.api_key, lab.username, lab.password) == (None, "lab@example.com", "lab-pw")
    pw = write(tmp_path / "pw", "file-pw\n")
    assert resolve(Given(profile="lab", password_file=pw), {**config, "CLAIMD_PASSWORD": "x"}).password == "file-pw"


def test_an_unknown_profile_lists_the_known_ones(config: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"no profile 'lb' in .*config.toml \(known profiles: factory, lab\)"):
        resolve(Given(profile="lb"), config)
    with pytest.raises(ConfigError, match="known profiles: factory, lab"):
        resolve(Given(), {**config, "CLAIMD_PROFILE": "nope"})


def test_a_bad_toml_file_is_named_with_its_line(tmp_path: Path) -> None:
    bad = write(tmp_path / "config.toml", '[profiles.a]\nurl = "http://a"\nusername = ann@example.com\n')
    with pytest.raises(ConfigError, match=rf"^{bad}:3: not valid TOML"):
        read_config(bad, required=False)


def test_a_named_config_file_must_exist_but_the_default_one_need_not(tmp_path: Path) -> None:
    assert read_config(tmp_path / "none.toml", required=False) == {}
    with pytest.raises(ConfigError, match="no such config file"):
        resolve(Given(), {"CLAIMD_CLI_CONFIG": str(tmp_path / "none.toml")})


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[profiles.a]\napi_key = "secret"\n', "holds no secrets"),
        ('[profiles.a]\npassword = "secret"\n', "api_key_file"),
        ('[profiles.a]\nusrname = "ann"\n', "unknown key 'usrname'"),
        ("[profiles.a]\nurl = 8080\n", "is a text in quotes"),
        ('profile = "a"\n', "unknown key 'profile'"),
        ("default_profile = 1\n", "default_profile is a profile's name"),
        ('profiles = "a"\n', "[profiles.NAME] with url"),
    ],
)
def test_a_profile_holds_no_secret_and_no_unknown_key(tmp_path: Path, text: str, words: str) -> None:
    path = write(tmp_path / "config.toml", text)
    with pytest.raises(ConfigError, match=None) as caught:
        read_config(path, required=True)
    assert words in str(caught.value) and 'secret"' not in str(caught.value)


def test_an_unreadable_or_empty_api_key_file_is_an_error(config: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "factory.key").unlink()
    with pytest.raises(ConfigError, match=r"cannot read the API key \(profile factory\) file .*factory.key"):
        resolve(Given(), config)
    write(tmp_path / "factory.key", "\n")
    with pytest.raises(ConfigError, match="is empty"):
        resolve(Given(), config)


def test_a_secret_file_others_can_read_is_used_with_a_warning(
    config: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "factory.key").chmod(0o644)
    assert resolve(Given(), config).api_key == "factory-api-key"
    warned = capsys.readouterr().err
    assert "may be read by other users (mode 0644)" in warned and "chmod 600" in warned
    (tmp_path / "factory.key").chmod(0o600)
    resolve(Given(), config)
    assert capsys.readouterr().err == ""


def test_files_for_secrets_are_0600_and_never_overwritten(tmp_path: Path) -> None:
    import typer

    made = tmp_path / "results.jsonl"
    with create_private(made, "--out") as fh:
        fh.write(b"{}\n")
    assert stat.S_IMODE(made.stat().st_mode) == 0o600
    with pytest.raises(typer.Exit) as stopped:
        create_private(made, "--out")
    assert stopped.value.exit_code == 2 and made.read_bytes() == b"{}\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_errors_before_and_at_the_connection_exit_2(config: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    unknown = runner.invoke(cli.app, ["jobs", "--profile", "nope", "list"], env=config)
    assert unknown.exit_code == 2 and "known profiles: factory, lab" in unknown.output
    down = f"http://127.0.0.1:{free_port()}"
    refused = runner.invoke(cli.app, ["devices", "--url", down, "list"], env=config)
    assert refused.exit_code == 2
    assert f"cannot reach claimd at {down}: is `claimd serve` running?" in refused.output
    shown = runner.invoke(cli.app, ["devices", "--password", "pw", "list"], env=config)
    assert shown.exit_code == 2 and "--password is not accepted" in shown.output
    # --help works whatever the config file says
    write(tmp_path / "config.toml", "not toml at all")
    helped = runner.invoke(cli.app, ["devices", "import", "--help"], env=config)
    assert helped.exit_code == 0 and "--claim-key-length" in helped.output
    broken = runner.invoke(cli.app, ["jobs", "list"], env=config)
    assert broken.exit_code == 2 and "config.toml:1: not valid TOML" in broken.output


def test_the_import_format_comes_from_the_extension(tmp_path: Path) -> None:
    runner = CliRunner()
    odd = write(tmp_path / "devices.txt", "name\nd-1\n")
    answer = runner.invoke(cli.app, ["devices", "--url", "http://127.0.0.1:1", "import", str(odd)])
    assert answer.exit_code == 2 and "give --format csv or --format ndjson" in answer.output
    assert not (tmp_path / "devices.txt.results.jsonl").exists()


def test_shell_completion_is_offered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", "1")
    shown = CliRunner().invoke(cli.app, ["--show-completion", "bash"], prog_name="claimd")
    assert shown.exit_code == 0 and "complete -o default -F _claimd_completion claimd" in shown.output
