"""The log format (claimd.logs: text and JSON lines), request ids and the access log's path rule
(claimd.entrypoints.http.requests), the latter driven in process through the real app. A running
server's log is tested end to end in tests/e2e/test_request_logs.py."""

from __future__ import annotations

import calendar
import io
import json
import logging
import re
import sys
from collections.abc import AsyncIterator, Iterator
from types import SimpleNamespace

import httpx
import pytest

from claimd.config import Settings
from claimd.entrypoints.http.app import create_app
from claimd.entrypoints.http.requests import incoming_id, logged_path, redacted_path
from claimd.logs import JsonFormatter, TextFormatter, request_id, setup_logging, utc_time

TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (?P<level>[A-Z]+) (?P<logger>\S+) (?P<rest>.*)$")


def record(
    message: str = "hello %s",
    args: tuple = ("world",),
    name: str = "claimd.http",
    level: int = logging.INFO,
    exc_info=None,
    **extra,
) -> logging.LogRecord:
    return logging.getLogger(name).makeRecord(name, level, __file__, 1, message, args, exc_info, extra=extra or None)


@pytest.fixture
def rid() -> Iterator[str]:
    token = request_id.set("req-42.a_b")
    try:
        yield "req-42.a_b"
    finally:
        request_id.reset(token)


def test_utc_time_is_iso_8601_with_milliseconds_in_utc() -> None:
    created = calendar.timegm((2026, 12, 7, 19, 30, 0)) + 0.1234
    assert utc_time(created) == "2026-12-07T19:30:00.123Z"
    assert utc_time(created + 61) == "2026-12-07T19:31:01.123Z"  # the cached second moves on
    assert utc_time(created - 0.1234) == "2026-12-07T19:30:00.000Z"


def test_text_line_has_time_level_logger_message_and_extra_fields() -> None:
    line = TextFormatter().format(record(device="d 1", count=3))
    m = TEXT_LINE.match(line)
    assert m, line
    assert (m["level"], m["logger"]) == ("INFO", "claimd.http")
    assert m["rest"] == 'hello world device="d 1" count=3'  # a value with a space is quoted
    assert "[req=" not in line


def test_text_line_carries_the_request_id_of_the_request_being_served(rid: str) -> None:
    line = TextFormatter().format(record(level=logging.WARNING))
    assert f" WARNING claimd.http [req={rid}] hello world" in line


def test_text_line_cannot_be_forged_by_a_line_break_in_a_message_or_a_value() -> None:
    line = TextFormatter().format(record("name %s", ("a\n2026-01-01T00:00:00.000Z ERROR fake",), note="x\ny"))
    assert "\n" not in line
    assert "name a\\n2026" in line and 'note="x\\ny"' in line


def test_text_traceback_follows_its_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        line = TextFormatter().format(record("failed", (), level=logging.ERROR, exc_info=sys.exc_info()))
    first, *rest = line.split("\n")
    assert TEXT_LINE.match(first) and first.endswith(" ERROR claimd.http failed")
    assert rest[0] == "Traceback (most recent call last):" and rest[-1] == "ValueError: boom"


def test_json_line_is_one_object_with_the_fixed_keys_then_the_extra_fields(rid: str) -> None:
    line = JsonFormatter().format(record(device="d\n1", count=3, color_message="\x1b[1mhello\x1b[0m", _private=1))
    assert "\n" not in line
    entry = json.loads(line)
    assert list(entry)[:5] == ["time", "level", "logger", "message", "request_id"]
    assert entry == {
        "time": entry["time"],
        "level": "INFO",
        "logger": "claimd.http",
        "message": "hello world",
        "request_id": rid,
        "device": "d\n1",
        "count": 3,
    }  # no color_message, no _private
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])


def test_json_line_has_no_request_id_outside_a_request_and_keeps_a_traceback_in_the_object() -> None:
    try:
        raise KeyError("k")
    except KeyError:
        entry = json.loads(JsonFormatter().format(record("failed", (), exc_info=sys.exc_info(), value=object())))
    assert "request_id" not in entry
    assert entry["exception"].startswith("Traceback") and "KeyError: 'k'" in entry["exception"]
    assert entry["value"].startswith("<object object")  # what JSON cannot hold is written as text


def test_fields_the_message_shows_are_left_out_of_text_but_kept_in_json() -> None:
    rec = record(
        "%s %s %d",
        ("GET", "/x", 200),
        name="claimd.access",
        method="GET",
        path="/x",
        status=200,
        bytes=5,
        _in_message=("method", "path", "status"),
    )
    assert TextFormatter().format(rec).endswith(" INFO claimd.access GET /x 200 bytes=5")
    entry = json.loads(JsonFormatter().format(rec))
    assert (entry["method"], entry["path"], entry["status"], entry["bytes"]) == ("GET", "/x", 200, 5)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    names = ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic", "aiosqlite")
    loggers = {
        n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate, logging.getLogger(n).level) for n in names
    }
    try:
        yield
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for n, (handlers, propagate, level) in loggers.items():
            logging.getLogger(n).handlers[:] = handlers
            logging.getLogger(n).propagate = propagate
            logging.getLogger(n).setLevel(level)
        logging.captureWarnings(False)


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_setup_logging_gives_every_logger_one_format(restore_logging, log_format: str) -> None:
    stream = io.StringIO()
    uvicorn_error = logging.getLogger("uvicorn.error")
    uvicorn_error.addHandler(logging.StreamHandler(io.StringIO()))  # as uvicorn's own config would
    setup_logging(SimpleNamespace(log_level="info", log_format=log_format), stream)
    logging.getLogger("claimd.bulk").info("one")
    uvicorn_error.info("two")
    logging.getLogger("uvicorn.access").info("uvicorn's access line: never written")
    logging.getLogger("alembic.runtime.migration").info("a migration step: below alembic's WARNING")
    logging.getLogger("claimd.bulk").debug("below the level")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines
    if log_format == "json":
        assert [(e["logger"], e["message"]) for e in map(json.loads, lines)] == [
            ("claimd.bulk", "one"),
            ("uvicorn.error", "two"),
        ]
    else:
        assert [TEXT_LINE.match(line)["logger"] for line in lines] == ["claimd.bulk", "uvicorn.error"]
    assert not uvicorn_error.handlers


@pytest.mark.parametrize("value", ["abc", "A-Z.a_z-09", "x" * 64])
def test_a_sane_incoming_request_id_is_kept(value: str) -> None:
    assert incoming_id(value.encode()) == value


@pytest.mark.parametrize("value", ["", "x" * 65, "a b", "a\nb", "a/b", "é", "a;b", "<script>"])
def test_an_insane_incoming_request_id_is_replaced(value: str) -> None:
    assert incoming_id(value.encode("utf-8")) is None


def test_the_access_log_path_is_the_route_template_when_a_route_matched() -> None:
    route = SimpleNamespace(path="/api/v1/{accessToken}/claim")
    assert logged_path({"route": route, "path": "/api/v1/SECRET/claim"}) == "/api/v1/{accessToken}/claim"


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/api/v1/SECRET/claim", "/api/v1/***"),
        ("/api/v1/SECRET", "/api/v1/***"),
        ("//api/v1/SECRET/x", "//api/v1/***"),
        ("/API/V1/SECRET/claim", "/API/V1/***"),
        ("/prefix/api/v1/SECRET", "/prefix/api/v1/***"),
        ("/api/unknown/thing", "/api/unknown/thing"),
        ("/v1/" + "a" * 300, "/v1/" + "a" * 196 + "..."),
    ],
)
def test_an_unmatched_path_has_the_device_token_replaced(path: str, logged: str) -> None:
    assert logged_path({"path": path}) == logged == redacted_path(path)
    assert "SECRET" not in logged


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        record.seen_request_id = request_id.get()  # what a formatter would read at this moment
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    loggers = [logging.getLogger(n) for n in ("claimd.access", "claimd.http")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The real app (its middleware and error handlers) with a route that fails; no database is
    touched by the requests sent here."""
    settings = Settings(http_max_body_bytes=1024)
    app = create_app(container=SimpleNamespace(settings=settings))  # type: ignore[arg-type]

    @app.get("/v1/test/boom/{secret}")
    async def boom(secret: str) -> dict:
        raise RuntimeError("unexpected")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=("203.0.113.9", 4711))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


def access_records(records: Records) -> list[logging.LogRecord]:
    return [r for r in records.records if r.name == "claimd.access"]


async def test_a_request_id_is_returned_and_logged_in_the_access_line(client, records) -> None:
    r = await client.get("/healthz", headers={"X-Request-Id": "trace-1", "User-Agent": "probe/1"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "trace-1"
    (line,) = access_records(records)
    assert line.getMessage() == "GET /healthz 200"
    assert (line.method, line.path, line.status, line.request_id, line.client, line.user_agent, line.bytes) == (
        "GET",
        "/healthz",
        200,
        "trace-1",
        "203.0.113.9",
        "probe/1",
        len(r.content),
    )
    assert isinstance(line.duration_ms, float) and 0 <= line.duration_ms < 5000


async def test_a_bad_incoming_request_id_is_replaced_by_a_new_one(client, records) -> None:
    ids = set()
    for _ in range(2):
        r = await client.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces"})
        ids.add(r.headers["x-request-id"])
    assert len(ids) == 2 and all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids)
    assert {line.request_id for line in access_records(records)} == ids


async def test_an_unhandled_error_has_its_request_id_in_the_answer_and_in_every_line(client, records) -> None:
    r = await client.get("/v1/test/boom/TOPSECRET", headers={"X-Request-Id": "err-7"})
    assert r.status_code == 500 and r.headers["x-request-id"] == "err-7"
    error = [rec for rec in records.records if rec.name == "claimd.http"]
    assert len(error) == 1 and error[0].exc_info and error[0].seen_request_id == "err-7"
    (line,) = access_records(records)
    assert (line.status, line.path, line.request_id) == (500, "/v1/test/boom/{secret}", "err-7")
    assert all("TOPSECRET" not in JsonFormatter().format(rec) for rec in records.records)


async def test_a_413_before_any_route_carries_a_request_id_and_an_access_line(client, records) -> None:
    r = await client.post(
        "/api/v1/DEVICETOKEN/claim?activateToken=QUERYSECRET",
        content=b"{}" + b" " * 2000,
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413 and re.fullmatch(r"[0-9a-f]{16}", r.headers["x-request-id"])
    (line,) = access_records(records)
    assert (line.status, line.path, line.request_id) == (413, "/api/v1/***", r.headers["x-request-id"])
    text = TextFormatter().format(line) + JsonFormatter().format(line)
    assert "DEVICETOKEN" not in text and "QUERYSECRET" not in text


async def test_a_matched_device_route_logs_its_template_not_the_token(client, records) -> None:
    r = await client.get("/api/v1/DEVICETOKEN/claim?x=QUERYSECRET")  # GET: 405, a partial match
    assert r.status_code == 405 and r.headers["x-request-id"]
    (line,) = access_records(records)
    assert line.path == "/api/v1/{accessToken}/claim"
    assert "QUERYSECRET" not in JsonFormatter().format(line)
