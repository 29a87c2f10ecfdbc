"""The one input rule for text that reaches storage, whatever door it came through.

PostgreSQL refuses NUL characters in text, UTF-8 encoders refuse lone surrogates, and a parser
recursing into deeply nested JSON runs out of stack: each of these, let through, turns a client's
mistake into a server error. Every door checks text with :func:`check_text` (names with
:func:`check_name`) before it goes further, and JSON with :class:`JsonScan` (:func:`json_problem`)
before any parser sees it. The HTTP edge (``entrypoints/http/edge.py``) applies this to every
request; MQTT and CoAP payloads meet it in ``domain/claiming.py``, device names in the services.
"""

from __future__ import annotations

import re

from claimd.domain.errors import InvalidArgument

MAX_TEXT_LENGTH = 65_536  # one text value (a name, a key, a tag); whole bodies have their own limit


def text_problem(value: str, max_length: int | None = None) -> str | None:
    """Why ``value`` cannot be stored as text (of at most ``max_length`` characters), or ``None``."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode)"
    if max_length is not None and len(value) > max_length:
        return f"is longer than {max_length} characters"
    return None


def check_text(value: str, what: str, *, max_length: int = MAX_TEXT_LENGTH) -> str:
    """``value`` if it can be stored as text; else :class:`InvalidArgument` naming ``what``."""
    problem = text_problem(value, max_length)
    if problem is not None:
        raise InvalidArgument(f"{what} {problem}")
    return value


MAX_NAME_LENGTH = 255  # the name columns (device names are String(255))


def check_name(value: str, what: str = "Device name", *, max_length: int = MAX_NAME_LENGTH) -> str:
    """A name (of a device, whichever door creates it): stripped, not blank, storable text of at most
    ``max_length`` characters; else :class:`InvalidArgument` naming ``what``.

    A gateway names its child devices by JSON keys and a REST client by a body field; both must end
    up under the same rule, or one door stores what the other refuses."""
    name = value.strip()
    if not name:
        raise InvalidArgument(f"{what} should be specified!")
    return check_text(name, what, max_length=max_length)


MAX_JSON_DEPTH = 32  # objects and arrays nested deeper are refused; Python's json recurses per level


class JsonScan:
    """Checks a JSON text for what must never reach a parser or a store, chunk by chunk, without
    parsing it: nesting deeper than ``max_depth``, a NUL (raw or ``\\u0000``), and a ``\\uD800``–
    ``\\uDFFF`` escape that is not half of a surrogate pair.

    Python's ``json`` recurses once per nesting level and raises ``RecursionError`` on deep input,
    so depth has to be known before any parser runs; counting brackets outside strings costs one
    pass and no recursion. Everything else (syntax, bad escapes, invalid UTF-8) is left to the
    parser, which reports it as a client's error anyway. Several JSON values in a row (NDJSON)
    scan as well as one.
    """

    _OUTSIDE = re.compile(rb'["\[\]{}\x00]')
    _INSIDE = re.compile(rb'["\\\x00]')
    _UNICODE_ESCAPE = re.compile(rb"\\u([0-9a-fA-F]{4})")

    def __init__(self, max_depth: int = MAX_JSON_DEPTH) -> None:
        self.max_depth = max_depth
        self._depth = 0
        self._in_string = False
        self._tail = b""  # an escape cut by a chunk boundary, kept for the next chunk

    def feed(self, chunk: bytes, *, final: bool = False) -> str | None:
        """Scan the next bytes (``final``: the last ones); why the text cannot be accepted, or
        ``None`` (so far)."""
        data = self._tail + chunk if self._tail else chunk
        self._tail = b""
        pos, end = 0, len(data)
        while pos < end:
            match = (self._INSIDE if self._in_string else self._OUTSIDE).search(data, pos)
            if match is None:
                return None
            byte, pos = data[match.start()], match.end()
            if byte == 0:
                return "contains a NUL character"
            if byte == 0x22:  # "
                self._in_string = not self._in_string
            elif byte in b"[{":
                self._depth += 1
                if self._depth > self.max_depth:
                    return f"is nested deeper than {self.max_depth} levels"
            elif byte in b"]}":
                self._depth = max(0, self._depth - 1)
            else:  # a backslash inside a string
                start = match.start()
                step = self._escape(data, start, final)
                if isinstance(step, str):
                    return step
                if step is None:
                    self._tail = data[start:]
                    return None
                pos = step
        return None

    def _escape(self, data: bytes, start: int, final: bool) -> int | str | None:
        """Where the escape at ``start`` ends, a problem, or ``None`` when the chunk cut it short."""
        if start + 1 >= len(data):
            return start + 1 if final else None
        if data[start + 1] != 0x75:  # not \u: a one-character escape (or a syntax error for the parser)
            return start + 2
        unit = self._unit(data, start)
        if unit is None:
            return None if len(data) - start < 6 and not final else start + 2
        if unit == 0:
            return "contains a NUL character"
        if 0xDC00 <= unit <= 0xDFFF:
            return "contains a lone surrogate (not valid Unicode)"
        if 0xD800 <= unit <= 0xDBFF:
            if len(data) - start < 12 and not final:
                return None
            low = self._unit(data, start + 6)
            if low is None or not 0xDC00 <= low <= 0xDFFF:
                return "contains a lone surrogate (not valid Unicode)"
            return start + 12
        return start + 6

    def _unit(self, data: bytes, start: int) -> int | None:
        match = self._UNICODE_ESCAPE.match(data, start)
        return int(match.group(1), 16) if match else None


def json_problem(text: bytes, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """:class:`JsonScan` over a whole text at once."""
    return JsonScan(max_depth).feed(text, final=True)
