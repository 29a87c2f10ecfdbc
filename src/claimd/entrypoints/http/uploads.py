"""Uploads: a bulk CSV handed to the bulk service as it arrives (:func:`submit_bulk`), and a bounded
upload read whole before anything is answered (:func:`read_upload`).

Why whole: a route that streams its answer while it still reads the request body can hang for good.
Starlette's ``StreamingResponse`` listens for the client's disconnect by calling ``receive()``, and
that call takes (and drops) body chunks the route was still waiting for; a LoRaWAN import of 20,000
rows stopped at row ~2,400 that way. So the body is read to its end first, into a spooled
temporary file (memory up to :data:`SPOOL_MEMORY_BYTES`, disk beyond), and only then parsed and
answered, streamed if need be.

Its size is bounded where every body's is, by the HTTP door's body limit (``limits.BodyLimit``: the
route is marked ``UPLOAD``, so ``CLAIMD_HTTP_MAX_UPLOAD_BYTES``, refused with 413 as soon as it is passed).
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from typing import IO, Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from claimd.domain.bulk import BulkEndpoint
from claimd.domain.errors import InvalidArgument
from claimd.domain.model import Principal

SPOOL_MEMORY_BYTES = 1 << 20
READ_CHUNK_BYTES = 64 * 1024
# Nordic's own script sends its CSV with no usable Content-Type; JSON is the only thing refused.
_REFUSED_TYPES = ("application/json",)


async def submit_bulk(
    request: Request, principal: Principal, c: Any, endpoint: BulkEndpoint, application_id: str | None = None
) -> Response:
    """A CSV upload (streamed, not read whole) as a bulk job: ``202 {"bulkOpsRequestId"}``."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in _REFUSED_TYPES:
        raise InvalidArgument("A bulk upload is a CSV file (Content-Type: text/csv)")
    c.bulk.check_submitter(principal, endpoint)  # before reading a large body
    op, _ = await c.bulk.submit(
        principal, endpoint, request.stream(), request.headers.get("idempotency-key"), application_id
    )
    return JSONResponse(
        {"bulkOpsRequestId": op.id}, status_code=202, headers={"Location": f"/v1/bulk-ops-requests/{op.id}"}
    )


async def read_upload(request: Request) -> IO[bytes]:
    """The whole request body in a temporary file, positioned at its start; the caller closes it."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 - handed to the caller
    try:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


async def chunks(upload: IO[bytes]) -> AsyncIterator[bytes]:
    """An upload read back from its start, in chunks."""
    upload.seek(0)
    while chunk := upload.read(READ_CHUNK_BYTES):
        yield chunk
