"""A bounded upload, read whole before anything is answered.

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
from typing import IO

from fastapi import Request

SPOOL_MEMORY_BYTES = 1 << 20
READ_CHUNK_BYTES = 64 * 1024


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
