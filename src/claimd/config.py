"""Settings, from ``CLAIMD_*`` environment variables, an optional TOML file, and ``claimd serve`` options."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./claimd.db"
ENV_PREFIX = "CLAIMD_"
# CLAIMD_* variables that are not settings of the server: the file of settings, and the credentials of
# the HTTP client commands (``claimd lorawan``), which people keep in the same shell.
OTHER_VARIABLES = frozenset({"CLAIMD_CONFIG", "CLAIMD_URL", "CLAIMD_API_KEY", "CLAIMD_USERNAME", "CLAIMD_PASSWORD"})


class SettingError(Exception):
    """A setting that cannot work, said in one line that names it (the CLI exits 2 with it)."""


class Settings(BaseSettings):
    """Every setting of claimd. Each is also an option of ``claimd serve`` (see ``--help``)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    database_url: str = Field(DEFAULT_DATABASE_URL, description="SQLite (default) or postgresql+asyncpg://…")
    redis_url: str | None = Field(None, description="Redis for claim windows across nodes (optional)")
    redis_prefix: str = Field("claimd", description="Prefix of claimd's Redis keys")
    http_host: str = Field("0.0.0.0", description="HTTP listen address")
    http_port: int = Field(8080, ge=0, le=65535, description="HTTP listen port")
    http_max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest request body (413 beyond it; bulk uploads excepted)")
    http_max_upload_bytes: int = Field(268_435_456, ge=1024, description="Largest bulk upload (CSV / JSON lines), streamed")
    http_header_timeout_s: float = Field(10.0, gt=0, le=3600, description="Close an HTTP connection whose request head is not complete in this time")
    http_max_header_bytes: int = Field(65_536, ge=1024, description="Largest HTTP request head (request line and headers; 431 beyond it)")
    http_body_timeout_s: float = Field(60.0, gt=0, le=3600, description="Close an HTTP connection whose request body stalls (no byte received) this long")
    http_idle_timeout_s: float = Field(5.0, gt=0, le=3600, description="Close a kept-alive HTTP connection idle this long")
    http_max_connections: int = Field(10_000, ge=1, description="Open HTTP connections (kept below the open-file limit); more are closed at once")
    allow_claiming_by_default: bool = Field(True, description="Devices may open claim windows without claimingAllowed")
    claim_duration_ms: int = Field(86_400_000, gt=0, description="Claim window length when a device sends none")
    challenge_ttl_s: int = Field(300, gt=0, le=86_400, description="Life of a claim-token challenge")
    require_challenge: bool = Field(False, description="Accept only claim tokens that answer a server challenge")
    claim_lockout_free_device: int = Field(5, ge=0, description="Wrong claim secrets (any proof) per device before lockouts")
    claim_lockout_free_user: int = Field(10, ge=0, description="Wrong claim secrets per user before lockouts")
    claim_lockout_free_address: int = Field(20, ge=0, description="Wrong claim secrets, passwords and API keys per source address before lockouts")
    login_lockout_free_account: int = Field(5, ge=0, description="Wrong passwords per account (e-mail) before lockouts")
    claim_lockout_base_ms: int = Field(1000, ge=1, description="First lockout after the free failures (claims, logins, API keys); doubles per failure")
    claim_lockout_max_s: int = Field(3600, ge=1, description="Longest lockout of a device, user, account or address")
    bulk_worker: bool = Field(True, description="Work bulk operations in this process")
    bulk_lease_s: int = Field(30, ge=1, le=3600, description="A bulk job whose worker is silent this long is taken over")
    # Secrets are SecretStr: never shown in a repr or a log, and never a command-line value (see cli.py).
    secret: SecretStr | None = Field(None, description="Server secret for keyed digests and JWTs (generated when unset)")
    admin_email: str | None = Field(None, description="First tenant admin's e-mail (first start only)")
    admin_password: SecretStr | None = Field(None, description="First tenant admin's password (first start only)")
    sysadmin_email: str | None = Field(None, description="System administrator's e-mail (made when the database has none; default sysadmin@claimd.local)")
    sysadmin_password: SecretStr | None = Field(None, description="System administrator's password (generated and printed once when unset)")
    mqtt_enabled: bool = Field(True, description="Serve the MQTT device endpoint")
    mqtt_host: str = Field("0.0.0.0", description="MQTT listen address")
    mqtt_port: int = Field(1883, ge=0, le=65535, description="MQTT listen port")
    mqtt_tls_port: int = Field(8883, ge=0, le=65535, description="MQTT over TLS port (with a certificate and key)")
    mqtt_tls_cert: str | None = Field(None, description="PEM certificate (chain) for MQTT over TLS")
    mqtt_tls_key: str | None = Field(None, description="PEM private key for MQTT over TLS")
    mqtt_max_connections: int = Field(50_000, ge=1, description="Open MQTT connections per process")
    mqtt_max_packet_size: int = Field(65_536, ge=128, le=268_435_460, description="Largest MQTT packet accepted")
    coap_enabled: bool = Field(True, description="Serve the CoAP device endpoint")
    coap_host: str = Field("0.0.0.0", description="CoAP listen address (UDP)")
    coap_port: int = Field(5683, ge=0, le=65535, description="CoAP listen port (UDP)")
    public_url: str | None = Field(None, description="Base URL in activation links (default: from the request)")
    log_level: Literal["debug", "info", "warning", "error"] = Field("info", description="Log level")
    log_format: Literal["text", "json"] = Field("text", description="Log format: text lines, or one JSON object a line")
    metrics_token: SecretStr | None = Field(None, min_length=16, description="Bearer token that GET /metrics requires, 16 characters or more (unset: /metrics is open)")
    bench: bool = Field(False, description="Serve GET /v1/bench/ping, the ceiling that bench/ measures claims against")
    db_pool_size: int = Field(20, ge=1, description="SQL connections per process (PostgreSQL: as many again as overflow)")

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower_case_level(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = os.environ.get("CLAIMD_CONFIG")
        if toml_path:
            sources.append(InitSettingsSource(settings_cls, init_kwargs=read_config_file(Path(toml_path))))
        return tuple(sources)


def env_name(setting: str) -> str:
    return ENV_PREFIX + setting.upper()


def read_config_file(path: Path) -> dict[str, Any]:
    """The TOML file named by CLAIMD_CONFIG. A file that is missing, unreadable, not TOML or holding a key
    that is no setting is an error: ignored, it would leave the server running on defaults unnoticed."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise SettingError(f"CLAIMD_CONFIG={path}: no such file") from None
    except OSError as exc:
        raise SettingError(f"CLAIMD_CONFIG={path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingError(f"CLAIMD_CONFIG={path}: not valid TOML ({exc})") from None
    unknown = sorted(set(data) - set(Settings.model_fields))
    if unknown:
        raise SettingError(f"CLAIMD_CONFIG={path}: unknown setting {', '.join(map(repr, unknown))} "
                           f"(see claimd serve --help)")
    return data


def unknown_environment() -> list[str]:
    """CLAIMD_* variables that claimd does not read: most likely a misspelt setting. Said as a notice,
    not refused: the environment is shared with other tools and deployments, and a variable left over
    from another version should not stop a node from starting."""
    known = {env_name(name) for name in Settings.model_fields} | OTHER_VARIABLES
    return sorted(name for name in os.environ if name.startswith(ENV_PREFIX) and name not in known)


def load_settings(**overrides: Any) -> Settings:
    """Settings from options (``overrides``; None means not given), the environment and the file, in that
    order. Any mistake is a SettingError naming the variable, without its value (it may be a secret)."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else ""
            problems.append(f"{env_name(name) if name else 'settings'}: {error['msg']}")
        raise SettingError("invalid setting " + "; ".join(problems)) from None
