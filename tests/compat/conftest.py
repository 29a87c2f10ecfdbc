"""ThingsBoard's own Python clients against a real claimd serve process."""

from live_fixtures import live_server  # noqa: F401
