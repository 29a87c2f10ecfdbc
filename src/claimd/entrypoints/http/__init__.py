"""The HTTP door: ThingsBoard-compatible REST API, the HTTP device API, health and OpenAPI."""

from claimd.entrypoints.http.app import create_app

__all__ = ["create_app"]
