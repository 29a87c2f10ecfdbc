"""schemathesis over claimd's whole OpenAPI (the app's own /openapi.json): no input, valid or not,
gets a 5xx (issue 20).

It runs against a real ``claimd serve`` on PostgreSQL (which, unlike SQLite, refuses NUL in text and
text longer than its column), and sends every generated request twice: as the tenant admin and as a
customer user, so that it gets past 401 into the routes. Data is generated both valid (positive) and
invalid (negative, where the schema is violated on purpose); on top of that, half the generated
cases have every text in them replaced by one hostile text (see ``HOSTILE``), which no schema asks for
and which is what a schema-led fuzzer rarely hits: NUL, lone surrogates, text longer than a column.

The normal suite runs a short budget: schemathesis's coverage phase (boundary and invalid values of
every parameter) and 5 generated examples per operation, within a minute. The long run is the same
test with more examples, and with every HTTP method tried on every path::

    CLAIMD_SCHEMATHESIS_EXAMPLES=300 python -m pytest tests/e2e/test_schemathesis.py -q
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from http_helpers import make_world
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from servers import LiveServer, create_pg_database, drop_pg_database, require_server, start_server

EXAMPLES = int(os.environ.get("CLAIMD_SCHEMATHESIS_EXAMPLES", "5"))
LONG = "CLAIMD_SCHEMATHESIS_EXAMPLES" in os.environ


#: Texts put in place of every text of a case: NUL (PostgreSQL refuses it), text longer than the
#: 255-character columns, and in JSON bodies a lone surrogate (no driver encodes one; a URL cannot carry
#: one). schemathesis cannot hold a lone surrogate either (it validates cases in Rust), so the case
#: carries LONE_SURROGATE, a noncharacter, and :func:`send` writes it as the escape ``\ud800``.
LONE_SURROGATE = "\ufdd0"
HOSTILE = ["\x00", "a\x00b", "x" * 300]
HOSTILE_IN_JSON = [*HOSTILE, LONE_SURROGATE, f"k{LONE_SURROGATE}"]


def _replace_texts(value: Any, text: str) -> Any:
    if isinstance(value, str):
        return text
    if isinstance(value, list):
        return [_replace_texts(v, text) for v in value]
    if isinstance(value, dict):
        return {f"{text}{i}" if i else text: _replace_texts(v, text) for i, v in enumerate(value.values())}
    return value


def hostile_case(case: schemathesis.Case, text: str) -> schemathesis.Case:
    """``case`` with its path, query and (JSON) body texts replaced by ``text``."""
    in_url = text if "\x00" in text or len(text) > 255 else "x"
    if case.path_parameters:
        case.path_parameters = {k: _replace_texts(v, in_url) for k, v in case.path_parameters.items()}
    if case.query:
        case.query = {k: _replace_texts(v, in_url) for k, v in case.query.items()}
    if isinstance(case.body, dict | list):
        case.body = _replace_texts(case.body, text)
    return case


def with_hostile_texts(context: Any, case: schemathesis.Case) -> st.SearchStrategy:
    """schemathesis's ``flatmap_case`` hook: the case itself, or it with hostile texts."""
    return st.one_of(st.just(case), st.sampled_from(HOSTILE_IN_JSON).map(lambda text: hostile_case(case, text)))


@pytest.fixture(scope="module")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A ``claimd serve`` of this module alone on its own PostgreSQL database."""
    require_server("postgres")
    database, database_url = create_pg_database()
    try:
        server = start_server(tmp_path_factory.mktemp("claimd-schemathesis"), database_url)
        try:
            yield server
        finally:
            server.stop()
    finally:
        drop_pg_database(database)


@pytest.fixture(scope="module")
def people(pg_server: LiveServer) -> dict[str, str]:
    """Who sends each request: a tenant admin and a customer user (their JWTs)."""
    world = make_world(pg_server.base_url, pg_server.admin_email, pg_server.admin_password)
    return {"tenant admin": world.admin.token, "customer user": world.u1.token}


@pytest.fixture(scope="module")
def api_schema(pg_server: LiveServer) -> schemathesis.schemas.BaseSchema:
    schema = schemathesis.openapi.from_url(pg_server.base_url + "/openapi.json")
    schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    schema.hook("flatmap_case")(with_hostile_texts)
    if not LONG:  # ~1,000 requests that only check 405 answers: the long run's
        schema.config.phases.coverage.unexpected_methods = set()
    return schema


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    """One keep-alive session: cheaper requests, and a request that drops the connection shows."""
    with requests.Session() as s:
        yield s


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@pytest.mark.postgres
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=not LONG,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case, pg_server: LiveServer, people: dict[str, str],
                          session: requests.Session) -> None:
    for who, token in people.items():
        response = send(case, session, pg_server.base_url, {"X-Authorization": f"Bearer {token}"})
        assert response.status_code < 500, (
            f"as the {who}: {case.as_curl_command()}\n→ {response.status_code} {response.text[:500]}\n"
            f"server log (end):\n{_log_tail(pg_server.log_path)}")


def send(case: schemathesis.Case, session: requests.Session, base_url: str, headers: dict[str, str]) -> requests.Response:
    """``case.call``, but a JSON body carrying LONE_SURROGATE goes out with ``\ud800`` in its place."""
    kwargs = case.as_transport_kwargs(base_url=base_url, headers=headers)
    body = kwargs.get("json")
    if body is not None and LONE_SURROGATE in json.dumps(body, ensure_ascii=False):
        del kwargs["json"]
        kwargs["data"] = json.dumps(body).replace("\\ufdd0", "\\ud800").encode()
    return session.request(**kwargs, timeout=30)


def _log_tail(path: Path, size: int = 4000) -> str:
    return path.read_text(errors="replace")[-size:]
