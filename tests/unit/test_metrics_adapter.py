"""The Prometheus adapter of the Metrics port, and the service-side rules that feed it (the claim
outcome of a refusal, the kind of a guess)."""

from __future__ import annotations

import inspect
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from claimd.adapters.limits import MemoryFailureLimiter
from claimd.adapters.metrics import PrometheusMetrics
from claimd.domain.errors import InvalidArgument, NotFound
from claimd.domain.lockout import Lockout
from claimd.domain.lorawan import ClaimCodeSpent, DeviceAccessDenied
from claimd.domain.model import Authority, Door, Principal
from claimd.domain.ownership import BadSignature, DeviceBlocked, OwnedByAnother, ReplayedToken, UnknownDevice
from claimd.services.claiming import CLAIM_OUTCOMES, refusal_outcome
from claimd.services.guesses import ClaimLockedOut, Guesses, GuessPolicy, guess_kind
from claimd.services.ports import Metrics, NoMetrics


def samples(metrics: PrometheusMetrics) -> dict[tuple[str, frozenset], float]:
    text = metrics.exposition().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_each_adapter_counts_in_its_own_registry():
    a, b = PrometheusMetrics(process=False), PrometheusMetrics(process=False)
    a.claim(Door.REST, "secret_key", "success")
    a.claim(Door.REST, "secret_key", "success")
    key = ("claimd_claims_total", frozenset({"door": "REST", "proof": "secret_key", "outcome": "success"}.items()))
    assert samples(a)[key] == 2
    assert key not in samples(b)


def test_gauges_and_histogram():
    m = PrometheusMetrics(process=False)
    m.bulk_job("CLAIM_DEVICE_OWNERSHIP", "started")
    m.bulk_job("REGISTER_PUBLIC_KEYS", "started")
    m.bulk_job("CLAIM_DEVICE_OWNERSHIP", "completed")
    m.mqtt_session(1), m.mqtt_session(1), m.mqtt_session(-1)
    m.http_request("POST", "/api/v1/{accessToken}/claim", 200, 0.004)
    m.http_request("POST", "/api/v1/{accessToken}/claim", 503, 0.2)
    got = samples(m)
    assert got[("claimd_bulk_jobs_running", frozenset())] == 1
    assert (
        got[
            (
                "claimd_bulk_jobs_finished_total",
                frozenset({"operation": "CLAIM_DEVICE_OWNERSHIP", "outcome": "completed"}.items()),
            )
        ]
        == 1
    )
    assert got[("claimd_mqtt_sessions", frozenset())] == 1
    ok = {"method": "POST", "route": "/api/v1/{accessToken}/claim", "status": "2xx"}
    assert got[("claimd_http_request_duration_seconds_count", frozenset(ok.items()))] == 1
    assert got[("claimd_http_request_duration_seconds_bucket", frozenset({**ok, "le": "0.005"}.items()))] == 1
    assert got[("claimd_http_request_duration_seconds_bucket", frozenset({**ok, "le": "0.0025"}.items()))] == 0
    assert got[("claimd_http_request_duration_seconds_count", frozenset({**ok, "status": "5xx"}.items()))] == 1


def test_no_metrics_and_the_adapter_have_every_method_of_the_port():
    port = {name for name, _ in inspect.getmembers(Metrics, inspect.isfunction) if not name.startswith("_")}
    assert port >= {"claim", "claim_window", "failed_guess", "lockout", "bulk_rows", "mqtt_session"}
    for implementation in (NoMetrics, PrometheusMetrics):
        for name in port:
            assert inspect.signature(getattr(implementation, name)) == inspect.signature(getattr(Metrics, name)), name


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (ClaimLockedOut("locked", retry_after_s=3), "locked_out"),
        (DeviceBlocked("blocked"), "blocked"),
        (BadSignature("bad"), "wrong_secret"),
        (DeviceAccessDenied("0011223344556677"), "wrong_secret"),
        (ReplayedToken("again"), "spent"),
        (ClaimCodeSpent(), "spent"),
        (OwnedByAnother("theirs"), "already_claimed"),  # a Conflict, which is an InvalidArgument: checked first
        (UnknownDevice("who"), "not_found"),
        (NotFound(), "not_found"),
        (InvalidArgument("bad"), "invalid"),
        (RuntimeError("database gone"), "error"),
    ],
)
def test_refusal_outcomes(exc, outcome):
    assert refusal_outcome(exc) == outcome
    assert outcome in CLAIM_OUTCOMES


async def test_guesses_count_failures_lockouts_and_locked_out_attempts():
    m = PrometheusMetrics(process=False)
    now = [1_000_000]
    policy = GuessPolicy(device=Lockout(1, 1000, 60_000), user=Lockout(100), address=Lockout(100))
    guesses = Guesses(MemoryFailureLimiter(), policy, lambda: now[0], m)
    principal = Principal(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), Authority.CUSTOMER_USER, "u@example.com")
    keys = guesses.claim_keys(principal, "192.0.2.1", "device-1")
    await guesses.failed(keys)  # the free one
    await guesses.failed(keys)  # locks the device
    with pytest.raises(ClaimLockedOut):
        await guesses.check(keys)
    got = samples(m)
    claim = frozenset({("kind", "claim")})
    assert got[("claimd_failed_guesses_total", claim)] == 2
    assert got[("claimd_lockouts_total", claim)] == 1
    assert got[("claimd_locked_out_attempts_total", claim)] == 1
    assert got[("claimd_failed_guesses_total", frozenset({("kind", "login")}))] == 0


def test_guess_kinds():
    guesses = Guesses(MemoryFailureLimiter(), GuessPolicy(), lambda: 0)
    principal = Principal(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), Authority.CUSTOMER_USER, "u@example.com")
    assert guess_kind(guesses.claim_keys(principal, None, None)) == "claim"
    assert guess_kind(guesses.login_keys("a@example.com", "192.0.2.1")) == "login"
    assert guess_kind(guesses.api_key_keys("192.0.2.1")) == "api_key"
