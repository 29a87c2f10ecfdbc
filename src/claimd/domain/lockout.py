"""Lockout: how long a key (a DevEUI, a user, an e-mail address, a source address) is locked after
failed guesses. A general rule for anything guessable (claim codes, claim tokens, passwords), used by
``services/guesses.py`` and ``adapters/limits.py``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Lockout:
    """Failed claim attempts on one key (a DevEUI, a user, a source address): the first ``free``
    failures cost nothing; each one after locks the key for ``base_ms``, doubling per failure up to
    ``max_ms``. A key with no failure for ``forget_ms`` starts again from zero."""

    free: int
    base_ms: int = 1_000
    max_ms: int = 3_600_000
    forget_ms: int = 86_400_000

    def lock_ms(self, failures: int) -> int:
        over = failures - self.free
        if over <= 0:
            return 0
        return min(self.max_ms, self.base_ms << min(over - 1, 40))
