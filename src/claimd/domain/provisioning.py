"""Provisioning commands (nRF Cloud's "late provisioning"): what an owner may queue for a device, the
steps it becomes, and what the device's answers do to a command.

An owner queues commands with nRF Cloud's request objects (``{"request": {"config": {...}}}``). How the
steps travel to the device and back (the nRF Provisioning library's CDDL, in CBOR or JSON) is in
:mod:`claimd.domain.provisioning_wire`; the device's JWT rules are in :mod:`claimd.domain.device_jwt`.

Key and certificate requests become the modem's AT commands: ``%KEYGEN=<sec_tag>,2,<format>[,...]``
(format 0 = CSR, 1 = public key) and ``%CMNG=0,<sec_tag>,<type>,"<content>"[,"<password>"]`` (type 0
root CA, 1 client certificate, 2 client private key, 3 PSK, 4 PSK identity). A pre-shared key is two
steps (identity, then key); its steps' correlation ids are ``<command id>.<step>``.
"""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass
from typing import Any

from claimd.domain.errors import Conflict, InvalidArgument, PermissionDenied
from claimd.domain.provisioning_wire import DeviceReport, DeviceStep, ResponseType, StepType

MAX_OPEN_COMMANDS = 20  # per device, as nRF Cloud
MAX_CONFIG_PROPERTIES = 10  # the CDDL's {0*10 tstr => tstr}
MAX_SEC_TAG = 2_147_483_647
SECRET_PLACEHOLDER = "********"


class CommandStatus(enum.StrEnum):
    PENDING = "PENDING"  # queued; the device has not fetched it
    IN_PROGRESS = "IN_PROGRESS"  # the device fetched it and has not answered every step
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_open(self) -> bool:
        return self in (CommandStatus.PENDING, CommandStatus.IN_PROGRESS)


@dataclass(frozen=True, slots=True)
class ProvisioningCommand:
    """A stored command. Its request is sealed at rest (it may carry a private key or a PSK)."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    device_id: uuid.UUID
    customer_id: uuid.UUID | None
    position: int
    kind: str
    description: str | None
    request_sealed: str
    steps: int
    steps_done: int
    status: CommandStatus
    response: dict[str, Any] | None
    created_by: uuid.UUID | None
    created_time: int
    updated_time: int
    delivered_at: int | None = None


class DeviceNotClaimed(PermissionDenied):
    code = "DEVICE_NOT_CLAIMED"


class TooManyCommands(Conflict):
    code = "TOO_MANY_COMMANDS"


class CommandClosed(Conflict):
    code = "COMMAND_CLOSED"


# requests -----------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CommandRequest:
    """One request, checked: its nRF Cloud type name and its parameters."""

    kind: str
    params: dict[str, Any]


def _sec_tag(params: dict[str, Any]) -> int:
    value = params.get("secTag")
    if type(value) is not int or not 0 <= value <= MAX_SEC_TAG:
        raise InvalidArgument(f"secTag must be an integer between 0 and {MAX_SEC_TAG}")
    return value


def _at_text(
    params: dict[str, Any], key: str, *, required: bool = True, quotes: bool = False, max_length: int = 8192
) -> str | None:
    """A text that goes into an AT command: no NUL, CR or LF (they would end the command), no double
    quote unless it is raw AT parameters (it would end a quoted parameter), bounded."""
    value = params.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument(f"'{key}' must be a non-empty string")
    forbidden = "\x00\r\n" if quotes else '\x00"'
    if any(c in value for c in forbidden) or len(value) > max_length:
        shown = "NUL, CR or LF" if quotes else "'\"' or NUL"
        raise InvalidArgument(f"'{key}' must not contain {shown} and has at most {max_length} characters")
    return value


def _no_extra(kind: str, params: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(params) - allowed)
    if extra:
        raise InvalidArgument(f"{kind} takes {', '.join(sorted(allowed)) or 'no parameters'}; not {', '.join(extra)}")


def _config_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    raise InvalidArgument(f"config value of '{key}' must be a string, number or boolean")


_KEY_USAGE = re.compile(r"[01]{9}")
_AT_SET_COMMAND = re.compile(r"[%+][A-Z][A-Z0-9%#]{0,31}")

# kind → (required parameters, optional parameters, secret parameters)
_KINDS: dict[str, tuple[set[str], set[str], set[str]]] = {
    "clientPrivateKeyGeneration": ({"secTag"}, set(), set()),
    "cloudAccessKeyGeneration": ({"secTag"}, set(), set()),
    "certificateSigningRequest": ({"secTag", "attributes"}, {"keyUsage"}, set()),
    "clientCertificate": ({"secTag", "content"}, set(), set()),
    "serverCertificate": ({"secTag", "content"}, set(), set()),
    "clientPrivateKey": ({"secTag", "content"}, {"password"}, {"content", "password"}),
    "preSharedKey": ({"secTag", "identity", "secret"}, set(), {"secret"}),
    "atCommand": ({"setCommand"}, {"parameters", "ignoreCmeErrors"}, set()),  # claimd's: any AT set command
    "config": (set(), set(), set()),
    "finished": (set(), set(), set()),
}
KINDS = tuple(_KINDS)


def parse_request(request: Any) -> CommandRequest:
    """``{"<type>": {parameters}}`` with exactly one type, as nRF Cloud's CreateDeviceProvisioningCommand."""
    if not isinstance(request, dict) or len(request) != 1:
        raise InvalidArgument(f"'request' must be an object with exactly one of: {', '.join(KINDS)}")
    ((kind, params),) = request.items()
    if kind not in _KINDS:
        raise InvalidArgument(f"Unknown request type '{kind}'; known: {', '.join(KINDS)}")
    if not isinstance(params, dict):
        raise InvalidArgument(f"The parameters of {kind} must be an object")
    if kind == "config":
        if len(params) > MAX_CONFIG_PROPERTIES:
            raise InvalidArgument(f"config takes at most {MAX_CONFIG_PROPERTIES} properties")
        for key in params:
            if not key or len(key) > 255:
                raise InvalidArgument("config keys are 1-255 characters")
        return CommandRequest(kind, {k: _config_value(k, v) for k, v in params.items()})
    required, optional, _ = _KINDS[kind]
    _no_extra(kind, params, required | optional)
    missing = sorted(required - set(params))
    if missing:
        raise InvalidArgument(f"{kind} needs {', '.join(missing)}")
    checked: dict[str, Any] = {}
    if "secTag" in required:
        checked["secTag"] = _sec_tag(params)
    for key in sorted((required | optional) - {"secTag", "ignoreCmeErrors", "keyUsage", "setCommand"}):
        value = _at_text(params, key, required=key in required, quotes=kind == "atCommand")
        if value is not None:
            checked[key] = value
    if kind == "certificateSigningRequest" and params.get("keyUsage") is not None:
        if not isinstance(params["keyUsage"], str) or not _KEY_USAGE.fullmatch(params["keyUsage"]):
            raise InvalidArgument("keyUsage is 9 characters of 0 and 1, e.g. 101010000")
        checked["keyUsage"] = params["keyUsage"]
    if kind == "preSharedKey" and not re.fullmatch(r"(?:[0-9a-fA-F]{2})+", checked["secret"]):
        raise InvalidArgument("A pre-shared key's secret is hexadecimal")
    if kind == "atCommand":
        command = params["setCommand"].upper().removeprefix("AT") if isinstance(params["setCommand"], str) else ""
        command = command if command[:1] in ("%", "+") else "%" + command  # %KEYGEN by default, +CFUN as given
        if not _AT_SET_COMMAND.fullmatch(command):
            raise InvalidArgument("setCommand is an AT set command such as %KEYGEN or +CFUN (without '=')")
        checked["setCommand"] = command
        ignore = params.get("ignoreCmeErrors", [])
        if (
            not isinstance(ignore, list)
            or len(ignore) > 6
            or not all(type(i) is int and 0 <= i < 2**16 for i in ignore)
        ):
            raise InvalidArgument("ignoreCmeErrors is a list of at most 6 CME error numbers")
        checked["ignoreCmeErrors"] = ignore
        checked.setdefault("parameters", "")
    return CommandRequest(kind, checked)


def redacted(request: CommandRequest) -> dict[str, Any]:
    """The request as its owner may see it again: keys and passwords are never shown after creation."""
    secret = _KINDS[request.kind][2]
    return {request.kind: {k: SECRET_PLACEHOLDER if k in secret else v for k, v in request.params.items()}}


# the steps of a command -----------------------------------------------------------------------------
def _at(command: str, parameters: str, ignore: tuple[int, ...] = ()) -> tuple[StepType, str, str, tuple[int, ...]]:
    return StepType.AT, command, parameters, ignore


def _step_specs(request: CommandRequest) -> list[tuple[StepType, str, str, tuple[int, ...]]]:
    p, kind = request.params, request.kind
    if kind in ("clientPrivateKeyGeneration", "cloudAccessKeyGeneration"):
        return [_at("%KEYGEN", f"{p['secTag']},2,1")]
    if kind == "certificateSigningRequest":
        usage = f',"{p["keyUsage"]}"' if "keyUsage" in p else ""
        return [_at("%KEYGEN", f'{p["secTag"]},2,0,"{p["attributes"]}"{usage}')]
    if kind in ("serverCertificate", "clientCertificate"):
        return [_at("%CMNG", f'0,{p["secTag"]},{0 if kind == "serverCertificate" else 1},"{p["content"]}"')]
    if kind == "clientPrivateKey":
        password = f',"{p["password"]}"' if "password" in p else ""
        return [_at("%CMNG", f'0,{p["secTag"]},2,"{p["content"]}"{password}')]
    if kind == "preSharedKey":
        return [
            _at("%CMNG", f'0,{p["secTag"]},4,"{p["identity"]}"'),
            _at("%CMNG", f'0,{p["secTag"]},3,"{p["secret"]}"'),
        ]
    if kind == "atCommand":
        return [_at(p["setCommand"], p["parameters"], tuple(p["ignoreCmeErrors"]))]
    if kind == "config":
        return [(StepType.CONFIG, "", "", ())]
    return [(StepType.FINISHED, "", "", ())]


def device_steps(command_id: uuid.UUID, request: CommandRequest, steps_done: int = 0) -> list[DeviceStep]:
    """The steps of a command that the device has not answered yet."""
    specs = _step_specs(request)
    properties = tuple(request.params.items()) if request.kind == "config" else ()
    steps = []
    for index, (kind, command, parameters, ignore) in enumerate(specs):
        if index < steps_done:
            continue
        correlation = str(command_id) if len(specs) == 1 else f"{command_id}.{index}"
        steps.append(DeviceStep(correlation, kind, command, parameters, ignore, properties))
    return steps


def step_types(request: CommandRequest) -> list[StepType]:
    return [spec[0] for spec in _step_specs(request)]


# what the device's answers do ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class CommandProgress:
    status: CommandStatus
    steps_done: int
    response: dict[str, Any] | None


_ACK_OF = {
    StepType.AT: ResponseType.AT,
    StepType.CONFIG: ResponseType.CONFIG_ACK,
    StepType.FINISHED: ResponseType.FINISHED_ACK,
}


def apply_report(
    command: ProvisioningCommand, step_types: list[StepType], report: DeviceReport
) -> CommandProgress | None:
    """What a device's answer does to a command; None when it changes nothing: a closed command, an
    answer to another step than the one awaited, or an answer of the wrong type for the step.

    The result keeps every AT answer in ``messages`` and, as nRF Cloud shows it, the last one under
    the request's type (``{"certificateSigningRequest": {"csr": "…"}}``, else ``{"<type>": {"message": "…"}}``).
    """
    done = command.steps_done
    if not command.status.is_open or report.step != done or done >= len(step_types):
        return None
    if report.ok and report.type is not _ACK_OF[step_types[done]]:
        return None
    messages = list((command.response or {}).get("messages", []))
    if not report.ok:
        return CommandProgress(
            CommandStatus.FAILED,
            done,
            {
                "messages": messages,
                "cmeError": report.cme_error,
                "message": report.message,
                command.kind: {"message": report.message, "cmeError": report.cme_error},
            },
        )
    body: dict[str, Any] = {"messages": messages}
    if report.message is not None:
        messages.append(report.message)
        body[command.kind] = {"csr" if command.kind == "certificateSigningRequest" else "message": report.message}
    finished = done + 1 >= len(step_types)
    return CommandProgress(CommandStatus.SUCCEEDED if finished else CommandStatus.IN_PROGRESS, done + 1, body)
