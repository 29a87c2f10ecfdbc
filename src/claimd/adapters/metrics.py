"""claimd's metrics (services/ports.Metrics, and the HTTP door's request latencies) as Prometheus
collectors, in a registry of this object's own: a process may build several containers (the tests
do), and each counts apart. ``GET /metrics`` (entrypoints/http/metrics.py) serves :meth:`exposition`.

Every label value comes from a small fixed set chosen by claimd's code (a door, a proof, an outcome, a
route template); none is ever an id, a name, a path or a secret. A labelled child is looked up once
and kept, so a count costs a dictionary lookup and an increment (about a microsecond).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

import claimd

CONTENT_TYPE = CONTENT_TYPE_LATEST
#: Latency buckets (seconds): a claim takes a few milliseconds; bulk uploads and slow storage, seconds.
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
GUESS_KINDS = ("claim", "login", "api_key")
_STATUS_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}


class _Children:
    """The labelled children of one metric, made on first use and kept."""

    __slots__ = ("children", "labels")

    def __init__(self, metric: Any) -> None:
        self.labels: Callable[..., Any] = metric.labels
        self.children: dict[tuple[str, ...], Any] = {}

    def __call__(self, *values: str) -> Any:
        child = self.children.get(values)
        if child is None:
            child = self.children[values] = self.labels(*values)
        return child


class PrometheusMetrics:
    """The Metrics port, counted into Prometheus collectors of its own registry."""

    def __init__(self, *, process: bool = True) -> None:
        self.registry = registry = CollectorRegistry()
        if process:  # CPU, memory, open files (Linux) and the garbage collector: what a year's run shows first
            ProcessCollector(registry=registry)
            PlatformCollector(registry=registry)
            GCCollector(registry=registry)
        Gauge("claimd_info", "claimd's version", ["version"], registry=registry).labels(claimd.__version__).set(1)
        self._claims = _Children(
            Counter(
                "claimd_claims",
                "Customer claim attempts by door, proof presented and outcome",
                ["door", "proof", "outcome"],
                registry=registry,
            )
        )
        self._windows = _Children(
            Counter(
                "claimd_claim_windows",
                "Device claim messages (a device sending its key) by door and outcome",
                ["door", "outcome"],
                registry=registry,
            )
        )
        failed = Counter(
            "claimd_failed_guesses", "Wrong secrets counted by the guessing guard, by kind", ["kind"], registry=registry
        )
        lockouts = Counter(
            "claimd_lockouts",
            "Wrong secrets that left a device, user, account or address locked out, by kind",
            ["kind"],
            registry=registry,
        )
        locked_out = Counter(
            "claimd_locked_out_attempts", "Attempts refused while locked out, by kind", ["kind"], registry=registry
        )
        self._failed, self._lockouts, self._locked_out = _Children(failed), _Children(lockouts), _Children(locked_out)
        for kind in GUESS_KINDS:  # present from the start, at 0: a rate over them needs no special case
            self._failed(kind), self._lockouts(kind), self._locked_out(kind)
        self._bulk_rows = _Children(
            Counter(
                "claimd_bulk_rows",
                "Bulk rows done by this process, by operation and outcome (ok, failed)",
                ["operation", "outcome"],
                registry=registry,
            )
        )
        self._bulk_started = _Children(
            Counter(
                "claimd_bulk_jobs_started",
                "Bulk jobs this process's worker started working, by operation",
                ["operation"],
                registry=registry,
            )
        )
        self._bulk_finished = _Children(
            Counter(
                "claimd_bulk_jobs_finished",
                "Bulk jobs this process's worker stopped working, by operation and "
                "outcome (completed, lease_lost, error, stopped)",
                ["operation", "outcome"],
                registry=registry,
            )
        )
        self._bulk_running = Gauge(
            "claimd_bulk_jobs_running", "Bulk jobs being worked in this process", registry=registry
        )
        self._mqtt_connections = _Children(
            Counter(
                "claimd_mqtt_connections",
                "MQTT connections answered, by protocol version and outcome",
                ["protocol", "outcome"],
                registry=registry,
            )
        )
        self._mqtt_sessions = Gauge(
            "claimd_mqtt_sessions", "MQTT sessions (accepted CONNECTs) open in this process", registry=registry
        )
        self._http = _Children(
            Histogram(
                "claimd_http_request_duration_seconds",
                "HTTP requests by method, route template and status class",
                ["method", "route", "status"],
                buckets=HTTP_BUCKETS,
                registry=registry,
            )
        )

    # services/ports.Metrics ------------------------------------------------------------------
    def claim(self, door: str, proof: str, outcome: str) -> None:
        self._claims(door, proof, outcome).inc()

    def claim_window(self, door: str, outcome: str) -> None:
        self._windows(door, outcome).inc()

    def failed_guess(self, kind: str) -> None:
        self._failed(kind).inc()

    def lockout(self, kind: str) -> None:
        self._lockouts(kind).inc()

    def locked_out(self, kind: str) -> None:
        self._locked_out(kind).inc()

    def bulk_rows(self, operation: str, outcome: str, count: int) -> None:
        self._bulk_rows(operation, outcome).inc(count)

    def bulk_job(self, operation: str, event: str) -> None:
        if event == "started":
            self._bulk_started(operation).inc()
            self._bulk_running.inc()
        else:
            self._bulk_finished(operation, event).inc()
            self._bulk_running.dec()

    def mqtt_connection(self, protocol: str, outcome: str) -> None:
        self._mqtt_connections(protocol, outcome).inc()

    def mqtt_session(self, delta: int) -> None:
        self._mqtt_sessions.inc(delta)

    # the HTTP door ---------------------------------------------------------------------------
    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """One HTTP request: ``route`` is its template (``/api/v1/{accessToken}/claim``), never its path."""
        self._http(method, route, _STATUS_CLASSES.get(status // 100, "other")).observe(seconds)

    def exposition(self) -> bytes:
        """Every metric in Prometheus's text format (content type :data:`CONTENT_TYPE`)."""
        return generate_latest(self.registry)
