"""The one log format of a ``claimd serve`` process, for every logger in it (claimd.*, uvicorn.*,
alembic, aiocoap, Python warnings).

Invariants:
- One record is one line: ``2026-12-07T19:30:00.123Z INFO claimd.http [req=3f2a…] message key=value``
  as text (the default), or one JSON object (``time``, ``level``, ``logger``, ``message``,
  ``request_id`` when there is one, then the record's extra fields, and ``exception`` for a traceback)
  with ``CLAIMD_LOG_FORMAT=json``. Time is UTC with milliseconds. In text, line breaks inside a message
  or a value are written ``\\n`` so that no input can forge a line; a traceback follows its line.
- The request id of the HTTP request being served (:data:`request_id`, set by
  :mod:`claimd.entrypoints.http.requests`) is on every record logged while it runs, whoever logs it.
- The extra fields of a record are the ``extra={…}`` its caller passed; uvicorn's ``color_message``
  and fields whose name starts with ``_`` are never written. A record may list in ``_in_message`` the
  fields its message already shows; text leaves them out (JSON keeps them, as fields).
- Nothing here decides what is secret: callers log no secret (see the access log's path rule in
  :mod:`claimd.entrypoints.http.requests`).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from contextvars import ContextVar
from itertools import islice
from typing import IO, Any

#: The id of the HTTP request this task serves, or None (set by the request-id middleware).
request_id: ContextVar[str | None] = ContextVar("claimd_request_id", default=None)

#: Attributes every LogRecord has: what is not among them came from ``extra``, which a logger adds
#: after them (so the look-up starts past them).
_STANDARD_RECORD = vars(logging.LogRecord("", 0, "", 0, "", None, None))
_FIRST_EXTRA = len(_STANDARD_RECORD)
_STANDARD = frozenset(_STANDARD_RECORD) | {"message", "asctime", "taskName", "request_id", "color_message"}
_HEAD = ("time", "level", "logger", "message", "request_id", "exception")

_second: tuple[int, str] = (-1, "")


def utc_time(created: float) -> str:
    """``2026-12-07T19:30:00.123Z`` for a record's ``created`` (the second's text is kept: one
    strftime a second, not one a line)."""
    global _second
    whole, cached = int(created), _second  # read once: another thread may log at the same time
    if cached[0] != whole:
        cached = _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{cached[1]}.{int((created - whole) * 1000):03d}Z"


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a record's caller passed in ``extra``, in their order."""
    fields = record.__dict__
    return {key: fields[key] for key in islice(fields, _FIRST_EXTRA, None) if key not in _STANDARD and key[0] != "_"}


def _record_request_id(record: logging.LogRecord) -> str | None:
    return getattr(record, "request_id", None) or request_id.get()


def _one_line(text: str) -> str:
    if "\n" in text or "\r" in text:
        return text.replace("\r", "\\r").replace("\n", "\\n")
    return text


_NEEDS_QUOTES = re.compile(r'[\s"=]|^$')


def _text_value(value: Any) -> str:
    if type(value) in (int, float, bool):
        return str(value)
    text = value if isinstance(value, str) else str(value)
    if _NEEDS_QUOTES.search(text):
        return json.dumps(text)  # quoted, its quotes and line breaks escaped
    return text


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [req=id] message key=value …`` (see the module's invariants)."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [utc_time(record.created), record.levelname, record.name]
        rid = _record_request_id(record)
        if rid:
            parts.append(f"[req={rid}]")
        parts.append(_one_line(record.getMessage()))
        shown = getattr(record, "_in_message", ())
        parts += [f"{key}={_text_value(value)}" for key, value in extra_fields(record).items() if key not in shown]
        line = " ".join(parts)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


_JSON = json.JSONEncoder(default=str)  # what JSON cannot hold is written as its text


class JsonFormatter(logging.Formatter):
    """One JSON object a line (see the module's invariants)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": utc_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = _record_request_id(record)
        if rid:
            entry["request_id"] = rid
        for key, value in extra_fields(record).items():
            if key not in _HEAD:
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return _JSON.encode(entry)


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


#: uvicorn's loggers: their records go to the root's handler (uvicorn's own config is not installed).
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.asgi")


#: Libraries never logged below INFO: aiosqlite writes two DEBUG lines per SQL statement.
QUIET_LOGGERS = ("aiosqlite",)


def setup_logging(settings: Any, stream: IO[str] | None = None) -> logging.Handler:
    """Send every logger of the process to one handler on ``stream`` (stderr) in the format of
    ``settings.log_format``, at ``settings.log_level``. Returns the handler."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter(settings.log_format))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # claimd writes its own access log (claimd.access): uvicorn's would show paths with their secrets.
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    logging.getLogger("alembic").setLevel(logging.WARNING)  # a line per migration step at every start
    for name in QUIET_LOGGERS:  # their DEBUG lines would drown claimd's
        logging.getLogger(name).setLevel(max(root.level, logging.INFO))
    logging.captureWarnings(True)  # Python warnings as records of "py.warnings", in the same format
    # No format shows the thread, the process or the task: not looked up for every record.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging.logAsyncioTasks = False  # type: ignore[attr-defined]  # Python 3.12+
    return handler
