"""Errors of the domain and the service layer; every door maps them to its own protocol."""

from __future__ import annotations


class ClaimdError(Exception):
    """Base of every error a client can cause. Carries a message safe to show to that client, and
    may carry a stable machine-readable ``code`` (the REST surfaces with problem details show it)."""

    code: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(ClaimdError):
    """The request is malformed or a value is out of range."""


class InvalidPayload(InvalidArgument):
    """A device message could not be decoded (JSON, field types)."""


class AuthenticationFailed(ClaimdError):
    """No, a wrong or an expired credential."""

    def __init__(self, message: str = "Authentication failed", *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


class PermissionDenied(ClaimdError):
    def __init__(self, message: str = "You don't have permission to perform this operation!") -> None:
        super().__init__(message)


class NotFound(ClaimdError):
    def __init__(self, message: str = "Requested item wasn't found!") -> None:
        super().__init__(message)


class Conflict(InvalidArgument):
    """A uniqueness rule was broken (a name or an e-mail already taken)."""


class Gone(ClaimdError):
    """What was asked for existed and is no more (a one-time download, taken already)."""


class TooManyRequests(ClaimdError):
    def __init__(self, message: str = "Too many requests", retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
