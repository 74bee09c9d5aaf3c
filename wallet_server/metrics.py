"""Prometheus metrics (``prometheus_client``) and the readiness check.

Per process, in the app's own registry: request latency by method, route template and status;
failures of the dependencies (database, Redis, chain). Read from the database when scraped:
receipts waiting in the outbox, batches not yet final, and the anchoring lag (how long the oldest
waiting receipt has waited). Route templates only, never paths: no ids reach the metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from wallet_server.ratelimit import CircuitBreaker

__all__ = ["CONTENT_TYPE", "DEPENDENCIES", "Metrics", "ReadyCheck", "check_ready"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DEPENDENCIES = ("database", "redis", "chain")
#: Seconds; finer where the API answers, coarser where a dependency times out.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _BreakerFailures(Collector):
    """Redis failures are counted by its circuit breaker; read them at scrape time."""

    def __init__(self, breaker: CircuitBreaker) -> None:
        self._breaker = breaker

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            "wallet_dependency_failures", "Calls to a dependency that failed or timed out", labels=["dependency"]
        )
        family.add_metric([self._breaker.name], float(self._breaker.failures))
        yield family


class Metrics:
    """The app's metrics; :meth:`render` refreshes the outbox figures and returns the text format."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "wallet_request_duration_seconds",
            "Time to answer a request",
            ["method", "route", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self._latency_children: dict[tuple[str, str, int], Histogram] = {}
        self.dependency_errors = Counter(
            "wallet_dependency_errors",
            "Requests answered 503 because a dependency failed",
            ["dependency"],
            registry=self.registry,
        )
        self.outbox_queued = Gauge(
            "wallet_outbox_queued_receipts", "Access receipts stored and not yet in a batch", registry=self.registry
        )
        self.outbox_open_batches = Gauge(
            "wallet_outbox_open_batches", "Receipt batches not yet final on chain", registry=self.registry
        )
        self.anchoring_lag = Gauge(
            "wallet_anchoring_lag_seconds",
            "How long the oldest receipt not yet final has waited since it was stored",
            registry=self.registry,
        )

    def watch_breaker(self, breaker: CircuitBreaker) -> None:
        self.registry.register(_BreakerFailures(breaker))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        child = self._latency_children.get(key)
        if child is None:
            # The labelled child is found once per combination: labels() checks and locks on every call.
            child = self._latency_children[key] = self.latency.labels(method, route, str(status))
        child.observe(seconds)

    def dependency_failed(self, dependency: str) -> None:
        self.dependency_errors.labels(dependency).inc()

    async def render(self, outbox: Callable[[], Awaitable[tuple[int, int, datetime | None]]], now: datetime) -> bytes:
        """The text exposition; ``outbox`` returns (queued, open batches, oldest unanchored time)."""
        queued, open_batches, oldest = await outbox()
        self.outbox_queued.set(queued)
        self.outbox_open_batches.set(open_batches)
        self.anchoring_lag.set(max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0)
        return bytes(generate_latest(self.registry))


@dataclass(frozen=True, slots=True)
class ReadyCheck:
    """One dependency's readiness: ``ok``, ``down`` (failed or timed out) or ``not_configured``."""

    name: str
    state: str


async def check_ready(checks: dict[str, Callable[[], Awaitable[object]] | None], *, timeout: float) -> list[ReadyCheck]:
    """Run every check at once, each bounded by ``timeout`` seconds."""

    async def one(name: str, check: Callable[[], Awaitable[object]] | None) -> ReadyCheck:
        if check is None:
            return ReadyCheck(name, "not_configured")
        try:
            await asyncio.wait_for(check(), timeout)
        except Exception:  # any failure or timeout means: not ready
            return ReadyCheck(name, "down")
        return ReadyCheck(name, "ok")

    return list(await asyncio.gather(*(one(name, check) for name, check in checks.items())))
