"""Wire helpers shared by the HTTP routers: times as nRF Cloud writes and reads them, TTS's profile
ids, the body of a request read whole and bounded, a JSON body and its object, the CSV media types.

Routers import these from here, never from one another (a router module holds routes and the JSON
shapes of its own answers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from starlette.exceptions import HTTPException

from claimd.domain.errors import InvalidArgument
from claimd.domain.inputs import json_problem

#: The largest JSON body a hand-parsed route reads (:func:`json_body`).
MAX_JSON_BODY = 64 * 1024


def iso_ms(ms: int | None) -> str | None:
    """ISO 8601 UTC with milliseconds, as nRF Cloud writes times (``2023-06-13T14:17:14.352Z``)."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_time(value: str | None, name: str) -> int | None:
    """Epoch milliseconds from an ISO 8601 time (UTC when it names no zone); None for none."""
    if value is None or value == "":
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidArgument(f"{name} must be an ISO 8601 time, e.g. 2026-01-31T12:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def profile_json(ids: Any) -> dict[str, int]:
    """TTS's ``LoRaAllianceProfileIdentifiers`` of a LoRaWAN identity or QR code (``vendor_id``, ``profile_id``)."""
    return {"vendor_id": ids.vendor_id, "vendor_profile_id": ids.profile_id}


def is_csv(request: Request) -> bool:
    """Whether the request's body is CSV by its Content-Type."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower() in ("text/csv", "application/csv")


async def limited_body(request: Request, limit: int) -> bytes:
    """The request body, read whole up to ``limit`` bytes (a larger one is a 413 that says so, in the
    route's dialect, as the door's own body limit answers)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"The request body is larger than {limit} bytes")
    return body


async def json_body(request: Request, *, required: bool = True) -> Any:
    """A JSON body, read whole up to 64 KiB; a missing (when ``required``; else None), oversized or
    broken one is a 400 that says so."""
    body = await limited_body(request, MAX_JSON_BODY)
    if not body.strip():
        if not required:
            return None
        raise InvalidArgument("The request needs a JSON body")
    # The edge scans JSON-typed bodies; this route reads any non-CSV body as JSON, so check here too.
    problem = json_problem(body)
    if problem is not None:
        raise InvalidArgument(f"The JSON body {problem}")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("The request body is not valid JSON") from None


def json_object(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else a 400."""
    if not isinstance(value, dict):
        raise InvalidArgument("The request body must be a JSON object")
    return value
