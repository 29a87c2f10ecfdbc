"""Generated claim keys: how long, from which symbols, and at least 80 bits — the rule of a device
import's ``claim_key=generate`` (device_import.py), chosen by its ``claim_key_length`` and
``claim_key_alphabet`` query parameters. Pure: :func:`random_keys` takes the randomness as a function."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from claimd.domain.errors import InvalidArgument

MAX_CLAIM_KEY_LENGTH = 128  # a given key, or a generated one

MIN_KEY_BITS = 80
MIN_ALPHABET_SIZE = 10
# Crockford's base 32: no I, L, O, U (no 1/I/l or 0/O mix-ups on a printed label); 20 symbols = 100 bits.
DEFAULT_KEY_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DEFAULT_KEY_LENGTH = 20


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """How generated claim keys look: ``claim_key_length`` symbols from ``claim_key_alphabet``.

    Checked when made: the alphabet is printable ASCII without spaces (``!`` to ``~``), each symbol
    once, at least 10 symbols; the length at most :data:`MAX_CLAIM_KEY_LENGTH`; and a key carries at
    least 80 bits (``length × log2(len(alphabet)) ≥ 80``)."""

    claim_key_length: int = DEFAULT_KEY_LENGTH
    claim_key_alphabet: str = DEFAULT_KEY_ALPHABET

    def __post_init__(self) -> None:
        length, alphabet = self.claim_key_length, self.claim_key_alphabet
        if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= MAX_CLAIM_KEY_LENGTH:
            raise InvalidArgument(f"claim_key_length must be a whole number from 1 to {MAX_CLAIM_KEY_LENGTH}")
        if not isinstance(alphabet, str) or any(not "!" <= symbol <= "~" for symbol in alphabet):
            raise InvalidArgument("claim_key_alphabet must be printable ASCII symbols without spaces (! to ~)")
        if len(set(alphabet)) != len(alphabet):
            repeated = sorted({symbol for symbol in alphabet if alphabet.count(symbol) > 1})
            raise InvalidArgument(f"claim_key_alphabet repeats {''.join(repeated)!r}: each symbol must appear once")
        if len(alphabet) < MIN_ALPHABET_SIZE:
            raise InvalidArgument(f"claim_key_alphabet must have at least {MIN_ALPHABET_SIZE} symbols")
        if self.bits < MIN_KEY_BITS:
            needed = math.ceil(MIN_KEY_BITS / math.log2(len(alphabet)))
            raise InvalidArgument(
                f"generated claim keys must carry at least {MIN_KEY_BITS} bits: with {len(alphabet)} symbols "
                f"a key needs claim_key_length >= {needed} (got {length}, {self.bits:.1f} bits)"
            )

    @property
    def bits(self) -> float:
        """The entropy of one generated key, in bits."""
        return self.claim_key_length * math.log2(len(self.claim_key_alphabet))

    @classmethod
    def from_query(cls, claim_key_length: str | int | None, claim_key_alphabet: str | None) -> KeyPolicy:
        """A policy from the query parameters (either may be absent: the defaults)."""
        length = DEFAULT_KEY_LENGTH
        if isinstance(claim_key_length, str):
            text = claim_key_length.strip()
            if not (text.isascii() and text.isdigit() and len(text) <= 4):
                raise InvalidArgument(f"claim_key_length must be a whole number from 1 to {MAX_CLAIM_KEY_LENGTH}")
            length = int(text)
        elif claim_key_length is not None:
            length = claim_key_length
        alphabet = DEFAULT_KEY_ALPHABET if claim_key_alphabet is None else claim_key_alphabet
        return cls(length, alphabet)


def random_keys(policy: KeyPolicy, randbytes: Callable[[int], bytes]) -> Iterator[str]:
    """Claim keys under ``policy``, endlessly, from ``randbytes(n)`` (the service passes :func:`os.urandom`,
    tests a seeded function): each symbol from one byte, bytes that would favour some symbols dropped (so
    every symbol is equally likely). ~2 µs a key, against ~15 µs for one ``secrets.randbelow`` a symbol."""
    alphabet = policy.claim_key_alphabet
    size, length = len(alphabet), policy.claim_key_length
    limit = 256 - 256 % size
    pending: list[str] = []
    while True:
        pending.extend(alphabet[b % size] for b in randbytes(length * 2) if b < limit)
        while len(pending) >= length:
            yield "".join(pending[:length])
            del pending[:length]
