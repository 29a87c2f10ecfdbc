"""The data types inside MQTT packets (3.1.1 §1.5, 5 §1.5), read from a whole packet without I/O.

Every reader raises :class:`MalformedPacket` and nothing else: a string must be UTF-8 without U+0000
(and Python's decoder already refuses surrogates and overlong forms), a length must fit in the packet,
a Variable Byte Integer takes at most four bytes.
"""

from __future__ import annotations

from claimd.entrypoints.mqtt.packets import MalformedPacket


class Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes | memoryview, pos: int) -> None:
        self.data = data
        self.pos = pos

    def need(self, n: int) -> None:
        if self.pos + n > len(self.data):
            raise MalformedPacket("packet shorter than its fields")

    def u8(self) -> int:
        self.need(1)
        self.pos += 1
        return self.data[self.pos - 1]

    def u16(self) -> int:
        self.need(2)
        self.pos += 2
        return (self.data[self.pos - 2] << 8) | self.data[self.pos - 1]

    def u32(self) -> int:
        return (self.u16() << 16) | self.u16()

    def varint(self) -> int:
        """A Variable Byte Integer (MQTT 5 §1.5.5)."""
        value, multiplier = 0, 1
        for _ in range(4):
            byte = self.u8()
            value += (byte & 0x7F) * multiplier
            if not byte & 0x80:
                return value
            multiplier *= 128
        raise MalformedPacket("variable byte integer longer than 4 bytes")

    def binary(self) -> bytes:
        n = self.u16()
        self.need(n)
        self.pos += n
        return bytes(self.data[self.pos - n : self.pos])

    def string(self) -> str:
        raw = self.binary()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedPacket("string is not valid UTF-8") from exc
        if "\x00" in text:
            raise MalformedPacket("string contains U+0000")
        return text

    def rest(self) -> bytes:
        out = bytes(self.data[self.pos :])
        self.pos = len(self.data)
        return out

    def done(self) -> bool:
        return self.pos >= len(self.data)
