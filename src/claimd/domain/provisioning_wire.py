"""The device's side of a provisioning command: what the device is sent and what it answers.

The device fetches its commands in the form of the nRF Provisioning library's CDDL (sdk-nrf
``nrf_provisioning_cbor.cddl``): ``[correlation_id, 0, set_command, parameters, [ignored cme errors]]``
for an AT command, ``[correlation_id, 1, {key: value}]`` for configuration and ``[correlation_id, 2]``
for ``finished``; it answers ``[correlation_id, 99, cme_error, message]`` (error),
``[correlation_id, 100, message]`` (AT response), ``[correlation_id, 101]`` (config ack) or
``[correlation_id, 102]`` (finished ack). The same shapes are served as JSON objects to devices that
do not speak CBOR. A command of several steps has the correlation ids ``<command id>.<step>``.
"""

from __future__ import annotations

import enum
import json
import uuid
from dataclasses import dataclass
from typing import Any

import cbor2

from claimd.domain.errors import InvalidArgument

MAX_REPORTS = 100
MAX_REPORT_BYTES = 256 * 1024


class StepType(enum.IntEnum):
    AT = 0
    CONFIG = 1
    FINISHED = 2


class ResponseType(enum.IntEnum):
    ERROR = 99
    AT = 100
    CONFIG_ACK = 101
    FINISHED_ACK = 102


_JSON_STEP = {StepType.AT: "AT", StepType.CONFIG: "CONFIG", StepType.FINISHED: "FINISHED"}
_JSON_RESPONSE = {
    "ERROR": ResponseType.ERROR,
    "AT": ResponseType.AT,
    "CONFIG_ACK": ResponseType.CONFIG_ACK,
    "FINISHED_ACK": ResponseType.FINISHED_ACK,
}


# what the device is sent ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DeviceStep:
    """One item of the device's command list."""

    correlation_id: str
    type: StepType
    set_command: str = ""
    parameters: str = ""
    ignore_cme_errors: tuple[int, ...] = ()
    properties: tuple[tuple[str, str], ...] = ()

    def cbor_item(self) -> list[Any]:
        if self.type is StepType.AT:
            return [self.correlation_id, 0, self.set_command, self.parameters, list(self.ignore_cme_errors)]
        if self.type is StepType.CONFIG:
            return [self.correlation_id, 1, dict(self.properties)]
        return [self.correlation_id, 2]

    def json_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"correlationId": self.correlation_id, "type": _JSON_STEP[self.type]}
        if self.type is StepType.AT:
            item.update(
                setCommand=self.set_command, parameters=self.parameters, ignoreCmeErrors=list(self.ignore_cme_errors)
            )
        elif self.type is StepType.CONFIG:
            item["properties"] = dict(self.properties)
        return item


def parse_correlation(value: Any) -> tuple[uuid.UUID, int] | None:
    """``<uuid>`` or ``<uuid>.<step>`` → (command id, step); None for anything else."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    head, _, tail = value.partition(".")
    try:
        command_id = uuid.UUID(head)
    except ValueError:
        return None
    if not tail:
        return command_id, 0
    return (command_id, int(tail)) if tail.isascii() and tail.isdigit() and len(tail) <= 8 else None


# what the device answers ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DeviceReport:
    command_id: uuid.UUID
    step: int
    type: ResponseType
    message: str | None = None
    cme_error: int | None = None

    @property
    def ok(self) -> bool:
        return self.type is not ResponseType.ERROR


def _report_from_list(item: Any) -> DeviceReport:
    if not isinstance(item, list | tuple) or len(item) < 2:
        raise InvalidArgument("Each response is [correlation_id, type, ...]")
    correlation, kind = item[0], item[1]
    return _report(correlation, kind, *item[2:])


def _shown(value: Any) -> str:
    """A value of the device's for an error message: a short text as is, anything else by its type
    (``str()`` of a huge CBOR integer raises)."""
    return repr(value[:64]) if isinstance(value, str) else f"a {type(value).__name__}"


def _report(correlation: Any, kind: Any, *fields: Any) -> DeviceReport:
    where = parse_correlation(correlation)
    if where is None:
        raise InvalidArgument(f"Unknown correlation id {_shown(correlation)}")
    if not isinstance(kind, int) or isinstance(kind, bool) or kind not in ResponseType._value2member_map_:
        raise InvalidArgument(
            f"Unknown response type {_shown(kind) if not isinstance(kind, int) else 'number'}: "
            "99 error, 100 AT response, 101 config ack, 102 finished ack"
        )
    response_type = ResponseType(kind)
    if response_type is ResponseType.ERROR:
        if len(fields) != 2 or type(fields[0]) is not int or not isinstance(fields[1], str):
            raise InvalidArgument("An error response is [correlation_id, 99, cme_error, message]")
        return DeviceReport(where[0], where[1], response_type, fields[1][:4096], fields[0])
    if response_type is ResponseType.AT:
        if len(fields) != 1 or not isinstance(fields[0], str):
            raise InvalidArgument("An AT response is [correlation_id, 100, message]")
        return DeviceReport(where[0], where[1], response_type, fields[0][:16384])
    if fields:
        raise InvalidArgument(f"A response of type {int(response_type)} has no fields")
    return DeviceReport(where[0], where[1], response_type)


def _report_from_json(item: Any) -> DeviceReport:
    if isinstance(item, list):
        return _report_from_list(item)
    if not isinstance(item, dict):
        raise InvalidArgument("Each response is an object {correlationId, type, ...} or an array")
    kind = item.get("type")
    kind = _JSON_RESPONSE.get(kind.upper(), kind) if isinstance(kind, str) else kind
    if kind == ResponseType.ERROR:
        return _report(item.get("correlationId"), kind, item.get("cmeError", 0), item.get("message", ""))
    if kind == ResponseType.AT:
        return _report(item.get("correlationId"), kind, item.get("message", ""))
    return _report(item.get("correlationId"), kind)


def encode_steps(steps: list[DeviceStep], *, cbor: bool) -> bytes:
    """The device's command list: the CDDL ``commands`` array in CBOR, or its JSON form."""
    if cbor:
        return cbor2.dumps([s.cbor_item() for s in steps])
    return json.dumps([s.json_item() for s in steps], separators=(",", ":")).encode()


def decode_reports(body: bytes, *, cbor: bool) -> list[DeviceReport]:
    """The device's answers from a request body (CBOR or JSON); InvalidArgument says what is wrong."""
    if not body:
        raise InvalidArgument("The body must be a non-empty array of responses")
    if len(body) > MAX_REPORT_BYTES:
        raise InvalidArgument(f"The body is larger than {MAX_REPORT_BYTES} bytes")
    try:
        value = cbor2.loads(body) if cbor else json.loads(body)
    except Exception:  # cbor2 raises several types; json ValueError/UnicodeDecodeError
        raise InvalidArgument(f"The body is not {'CBOR' if cbor else 'JSON'}") from None
    return parse_reports(value, json_form=not cbor)


def parse_reports(value: Any, *, json_form: bool) -> list[DeviceReport]:
    """The device's answers: the CDDL ``responses`` array (CBOR), or its JSON form."""
    if not isinstance(value, list | tuple) or not value:
        raise InvalidArgument("The body must be a non-empty array of responses")
    if len(value) > MAX_REPORTS:
        raise InvalidArgument(f"At most {MAX_REPORTS} responses at once")
    return [_report_from_json(item) if json_form else _report_from_list(item) for item in value]
