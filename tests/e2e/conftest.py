"""End-to-end tests: a real claimd serve process through real HTTP clients."""

from live_fixtures import live_server  # noqa: F401
