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
#: Variables of claimd's remote commands (docs/cli.md), not settings of ``claimd serve``.
OTHER_VARIABLES = frozenset(
    {
        "CLAIMD_CONFIG",
        "CLAIMD_URL",
        "CLAIMD_API_KEY",
        "CLAIMD_USERNAME",
        "CLAIMD_PASSWORD",
        "CLAIMD_PROFILE",
        "CLAIMD_CLI_CONFIG",
    }
)


#: The groups of settings, in the order of docs/settings.md's tables (see scripts/settings_doc.py).
STORAGE: dict[str, Any] = {"group": "Storage and nodes"}
DOORS: dict[str, Any] = {"group": "Doors"}
CLAIMING: dict[str, Any] = {"group": "Claiming"}
ACCOUNTS: dict[str, Any] = {"group": "Accounts and operation"}
SETTING_GROUPS = tuple(group["group"] for group in (STORAGE, DOORS, CLAIMING, ACCOUNTS))


class SettingError(Exception):
    """A setting that cannot work, said in one line that names it (the CLI exits 2 with it)."""


class Settings(BaseSettings):
    """Every setting of claimd. Each is also an option of ``claimd serve`` (see ``--help``)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    # Each Field's description is its text in `claimd serve --help` and in the tables of docs/settings.md
    # (written by scripts/settings_doc.py, which groups them by json_schema_extra's "group"; "shown" is the
    # default as the page says it when the value is None).
    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        json_schema_extra=STORAGE,
        description=(
            "The SQL store: SQLite, or postgresql+asyncpg://user@host/db (plain sqlite:/// and postgresql:// "
            "are accepted too)"
        ),
    )
    redis_url: str | None = Field(
        None,
        json_schema_extra=STORAGE,
        description=(
            "Redis for claim windows (exact expiry, one round trip each) instead of SQL rows, and for counting "
            "failed attempts, so that all nodes count together; optional, since nodes that share the database "
            "share SQL windows too"
        ),
    )
    redis_prefix: str = Field("claimd", json_schema_extra=STORAGE, description="Prefix of claimd's Redis keys")
    http_host: str = Field(
        "0.0.0.0",
        json_schema_extra=DOORS,
        description=("HTTP listen address (the REST API, the device HTTP API, OpenAPI at /docs)"),
    )
    http_port: int = Field(8080, ge=0, le=65535, json_schema_extra=DOORS, description="HTTP listen port")
    http_max_body_bytes: int = Field(
        1_048_576,
        ge=1024,
        json_schema_extra=DOORS,
        description=(
            "Largest request body; a larger one is refused with 413 before it is read (bulk uploads have their "
            "own limit)"
        ),
    )
    http_max_upload_bytes: int = Field(
        268_435_456, ge=1024, json_schema_extra=DOORS, description=("Largest bulk upload (CSV or JSON lines), streamed")
    )
    http_header_timeout_s: float = Field(
        10.0,
        gt=0,
        le=3600,
        json_schema_extra=DOORS,
        description=("Close an HTTP connection whose request head is not complete in this time"),
    )
    http_max_header_bytes: int = Field(
        65_536,
        ge=1024,
        json_schema_extra=DOORS,
        description=(
            "Largest HTTP request head (request line and headers); a larger one is answered 431 and the "
            "connection closed"
        ),
    )
    http_body_timeout_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        json_schema_extra=DOORS,
        description=(
            "Close an HTTP connection whose request body stalls (no byte received while claimd reads) this long"
        ),
    )
    http_idle_timeout_s: float = Field(
        5.0, gt=0, le=3600, json_schema_extra=DOORS, description=("Close a kept-alive HTTP connection idle this long")
    )
    http_max_connections: int = Field(
        10_000,
        ge=1,
        json_schema_extra=DOORS,
        description=("Open HTTP connections; more are closed at once (keep it below the process's open-file limit)"),
    )
    allow_claiming_by_default: bool = Field(
        True,
        json_schema_extra=CLAIMING,
        description=("Devices may open claim windows without the claimingAllowed attribute"),
    )
    claim_duration_ms: int = Field(
        86_400_000,
        gt=0,
        json_schema_extra=CLAIMING,
        description=("Claim window length when a device sends no (or a non-positive) durationMs"),
    )
    challenge_ttl_s: int = Field(
        300, gt=0, le=86_400, json_schema_extra=CLAIMING, description=("Life of a claim-token challenge")
    )
    require_challenge: bool = Field(
        False, json_schema_extra=CLAIMING, description=("Accept only claim tokens that answer a server challenge")
    )
    claim_lockout_free_device: int = Field(
        5, ge=0, json_schema_extra=CLAIMING, description=("Wrong claim secrets (any proof) per device before lockouts")
    )
    claim_lockout_free_user: int = Field(
        10, ge=0, json_schema_extra=CLAIMING, description=("Wrong claim secrets per user before lockouts")
    )
    claim_lockout_free_address: int = Field(
        20,
        ge=0,
        json_schema_extra=CLAIMING,
        description=(
            "Wrong claim secrets, passwords and API keys per source address before lockouts; raise it behind a "
            "reverse proxy (the address is the TCP peer's)"
        ),
    )
    login_lockout_free_account: int = Field(
        5, ge=0, json_schema_extra=CLAIMING, description=("Wrong passwords per account (e-mail) before lockouts")
    )
    claim_lockout_base_ms: int = Field(
        1000,
        ge=1,
        json_schema_extra=CLAIMING,
        description=("First lockout after the free failures (claims, logins, API keys), doubled per further failure"),
    )
    claim_lockout_max_s: int = Field(
        3600, ge=1, json_schema_extra=CLAIMING, description=("Longest lockout of a device, user, account or address")
    )
    bulk_worker: bool = Field(True, json_schema_extra=STORAGE, description="Work bulk jobs in this process")
    bulk_lease_s: int = Field(
        30,
        ge=1,
        le=3600,
        json_schema_extra=STORAGE,
        description=("A bulk job whose worker is silent this long is taken over by another"),
    )
    # Secrets are SecretStr: never shown in a repr or a log, and never a command-line value (see cli.py).
    secret: SecretStr | None = Field(
        None,
        json_schema_extra={**STORAGE, "shown": "generated"},
        description=(
            "Server secret behind every keyed digest, sealed value and JWT; when unset, generated once and kept "
            "beside the SQLite file (claimd.db.secret, mode 0600) or in ./claimd.secret for PostgreSQL. Set it "
            "when several nodes share a database, and back it up with the database"
        ),
    )
    admin_email: str | None = Field(
        None,
        json_schema_extra={**ACCOUNTS, "shown": "admin@claimd.local"},
        description=("First tenant admin's e-mail, used only on an empty database (default admin@claimd.local)"),
    )
    admin_password: SecretStr | None = Field(
        None,
        json_schema_extra={**ACCOUNTS, "shown": "generated"},
        description=(
            "First tenant admin's password, used only on an empty database; when unset, generated and printed once"
        ),
    )
    sysadmin_email: str | None = Field(
        None,
        json_schema_extra={**ACCOUNTS, "shown": "sysadmin@claimd.local"},
        description=(
            "System administrator's e-mail (default sysadmin@claimd.local): who creates tenants and their admins, "
            "made when the database has none (first start, and the first start after an upgrade)"
        ),
    )
    sysadmin_password: SecretStr | None = Field(
        None,
        json_schema_extra={**ACCOUNTS, "shown": "generated"},
        description=("System administrator's password; when unset, generated and printed once"),
    )
    mqtt_enabled: bool = Field(True, json_schema_extra=DOORS, description="Serve the MQTT door")
    mqtt_host: str = Field("0.0.0.0", json_schema_extra=DOORS, description="MQTT listen address")
    mqtt_port: int = Field(1883, ge=0, le=65535, json_schema_extra=DOORS, description="MQTT listen port")
    mqtt_tls_port: int = Field(
        8883,
        ge=0,
        le=65535,
        json_schema_extra=DOORS,
        description=("MQTT over TLS port, served when a certificate and key are set"),
    )
    mqtt_tls_cert: str | None = Field(
        None, json_schema_extra=DOORS, description=("PEM certificate (chain) for MQTT over TLS")
    )
    mqtt_tls_key: str | None = Field(None, json_schema_extra=DOORS, description="PEM private key for MQTT over TLS")
    mqtt_max_connections: int = Field(
        50_000, ge=1, json_schema_extra=DOORS, description=("Open MQTT connections per process")
    )
    mqtt_max_packet_size: int = Field(
        65_536, ge=128, le=268_435_460, json_schema_extra=DOORS, description=("Largest MQTT packet accepted, in bytes")
    )
    coap_enabled: bool = Field(True, json_schema_extra=DOORS, description="Serve the CoAP door")
    coap_host: str = Field("0.0.0.0", json_schema_extra=DOORS, description="CoAP listen address (UDP)")
    coap_port: int = Field(5683, ge=0, le=65535, json_schema_extra=DOORS, description="CoAP listen port (UDP)")
    public_url: str | None = Field(
        None,
        json_schema_extra={**DOORS, "shown": "from the request"},
        description=("Base URL in activation links (unset: taken from the request)"),
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info",
        json_schema_extra=ACCOUNTS,
        description=(
            "Log level: debug, info, warning or error; info includes the access log (one line per HTTP request)"
        ),
    )
    log_format: Literal["text", "json"] = Field(
        "text",
        json_schema_extra=ACCOUNTS,
        description=("Log format: text (one line per record) or json (one JSON object per line)"),
    )
    metrics_token: SecretStr | None = Field(
        None,
        min_length=16,
        json_schema_extra=ACCOUNTS,
        description=(
            "Bearer token that GET /metrics requires in its Authorization header, 16 characters or more (401 "
            "without it); unset, /metrics is open to whoever reaches the HTTP port"
        ),
    )
    bench: bool = Field(
        False,
        json_schema_extra=ACCOUNTS,
        description=("Serve GET /v1/bench/ping, the trivial authenticated endpoint bench/ measures claims against"),
    )
    db_pool_size: int = Field(
        20,
        ge=1,
        json_schema_extra=STORAGE,
        description=(
            "SQL connections per process (PostgreSQL: as many again as overflow, closed when they come back); "
            "set it to the number of requests expected at once"
        ),
    )

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower_case_level(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
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
        raise SettingError(
            f"CLAIMD_CONFIG={path}: unknown setting {', '.join(map(repr, unknown))} (see claimd serve --help)"
        )
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
