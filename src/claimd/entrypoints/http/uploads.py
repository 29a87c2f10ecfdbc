"""A bounded upload, read whole before anything is answered.

Why whole: a route that streams its answer while it still reads the request body can hang for good.
Starlette's ``StreamingResponse`` listens for the client's disconnect by calling ``receive()``, and
that call takes (and drops) body chunks the route was still waiting for; a LoRaWAN import of 20,000
rows stopped at row ~2,400 that way. So the body is read to its end first, into a spooled
temporary file (memory up to :data:`SPOOL_MEMORY_BYTES`, disk beyond), and only then parsed and
answered, streamed if need be.

Why counted: ``Content-Length`` is checked first (an honest client learns at once), but a chunked
body has none and a lying client can send more than it declares, so the bytes are counted as they
arrive and the upload is refused with 413 as soon as it passes the limit.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from typing import IO

from fastapi import Request
from starlette.exceptions import HTTPException

SPOOL_MEMORY_BYTES = 1 << 20
READ_CHUNK_BYTES = 64 * 1024
LIMIT_SETTING = "CLAIMD_HTTP_MAX_UPLOAD_BYTES"


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"The upload is larger than {limit} bytes ({LIMIT_SETTING}); nothing of it was used")


async def read_upload(request: Request, limit: int) -> IO[bytes]:
    """The whole request body in a temporary file, positioned at its start; the caller closes it.
    413 when the body is larger than ``limit`` bytes (declared or counted)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 - handed to the caller
    try:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            spool.write(chunk)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool  # type: ignore[return-value]


async def chunks(upload: IO[bytes]) -> AsyncIterator[bytes]:
    """An upload read back from its start, in chunks."""
    upload.seek(0)
    while chunk := upload.read(READ_CHUNK_BYTES):
        yield chunk
