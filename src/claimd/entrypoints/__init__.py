"""Doors into claimd. Each translates its protocol to a service call and the result back, nothing more."""
