"""Settings, from ``CLAIMD_*`` environment variables, an optional TOML file, and ``claimd serve`` options."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./claimd.db"


class Settings(BaseSettings):
    """Every setting of claimd. Each is also an option of ``claimd serve`` (see ``--help``)."""

    model_config = SettingsConfigDict(env_prefix="CLAIMD_", extra="ignore")

    database_url: str = Field(DEFAULT_DATABASE_URL, description="SQLite (default) or postgresql+asyncpg://…")
    redis_url: str | None = Field(None, description="Redis for claim windows across nodes (optional)")
    redis_prefix: str = Field("claimd", description="Prefix of claimd's Redis keys")
    http_host: str = Field("0.0.0.0", description="HTTP listen address")
    http_port: int = Field(8080, ge=0, le=65535, description="HTTP listen port")
    allow_claiming_by_default: bool = Field(True, description="Devices may open claim windows without claimingAllowed")
    claim_duration_ms: int = Field(86_400_000, gt=0, description="Claim window length when a device sends none")
    challenge_ttl_s: int = Field(300, gt=0, le=86_400, description="Life of a claim-token challenge")
    require_challenge: bool = Field(False, description="Accept only claim tokens that answer a server challenge")
    claim_lockout_free_device: int = Field(5, ge=0, description="Failed claims by code per DevEUI before lockouts")
    claim_lockout_free_user: int = Field(10, ge=0, description="Failed claims by code per user before lockouts")
    claim_lockout_free_address: int = Field(20, ge=0, description="Failed claims by code per source address before lockouts")
    claim_lockout_base_ms: int = Field(1000, ge=1, description="First lockout after the free failures; doubles per failure")
    claim_lockout_max_s: int = Field(3600, ge=1, description="Longest lockout of a DevEUI, user or address")
    bulk_worker: bool = Field(True, description="Work bulk operations in this process")
    bulk_lease_s: int = Field(30, ge=1, le=3600, description="A bulk job whose worker is silent this long is taken over")
    secret: str | None = Field(None, description="Server secret for keyed digests and JWTs (generated when unset)")
    admin_email: str | None = Field(None, description="First tenant admin's e-mail (first start only)")
    admin_password: str | None = Field(None, description="First tenant admin's password (first start only)")
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
    log_level: str = Field("info", description="Log level")
    bench: bool = Field(False, description="Serve GET /v1/bench/ping, the ceiling that bench/ measures claims against")
    db_pool_size: int = Field(20, ge=1, description="SQL connections per process (PostgreSQL: as many again as overflow)")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = os.environ.get("CLAIMD_CONFIG")
        if toml_path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(toml_path)))
        return tuple(sources)


def explicit_settings() -> set[str]:
    """Names of settings given in the environment (used to tell a default port from a chosen one)."""
    return {name for name in Settings.model_fields if f"CLAIMD_{name.upper()}" in os.environ}


def load_settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})
