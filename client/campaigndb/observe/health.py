"""Health: the server's vital signs, the pool's statistics and the client's own latency,
combined into HEALTHY / DEGRADED / UNHEALTHY / CRITICAL with recommendations; checks on a
schedule call back when the status changes."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from campaigndb.core.routing import ReplicaState, Router

if TYPE_CHECKING:
    from campaigndb.aio.client import AsyncClient
    from campaigndb.sync.client import Client

logger = logging.getLogger("campaigndb.health")


class HealthStatus(IntEnum):
    """Ordered: a report's status is its worst check's.  The CLI exits with the value."""

    HEALTHY = 0
    DEGRADED = 1
    UNHEALTHY = 2
    CRITICAL = 3


@dataclass(frozen=True)
class Thresholds:
    """(degraded, unhealthy, critical) limits; defaults follow the seeds' health checks."""

    pool_usage: tuple[float, float, float] = (0.70, 0.85, 0.95)
    server_connection_usage: tuple[float, float, float] = (0.70, 0.85, 0.95)
    avg_query_ms: tuple[float, float, float] = (100.0, 500.0, 2000.0)
    cache_hit_ratio: tuple[float, float, float] = (0.95, 0.90, 0.80)  # lower is worse
    longest_transaction_s: tuple[float, float, float] = (60.0, 300.0, 1800.0)
    waiting_locks: tuple[float, float, float] = (10.0, 50.0, 200.0)


@dataclass(frozen=True)
class Check:
    name: str
    value: float | None
    status: HealthStatus
    recommendation: str | None = None


@dataclass(frozen=True)
class HealthReport:
    status: HealthStatus
    checks: list[Check]
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def recommendations(self) -> list[str]:
        return [c.recommendation for c in self.checks if c.recommendation]


def _grade(value: float | None, limits: tuple[float, float, float], *,
           lower_is_worse: bool = False) -> HealthStatus:
    if value is None:
        return HealthStatus.HEALTHY
    status = HealthStatus.HEALTHY
    for level, limit in zip((HealthStatus.DEGRADED, HealthStatus.UNHEALTHY,
                             HealthStatus.CRITICAL), limits, strict=True):
        if (value < limit) if lower_is_worse else (value >= limit):
            status = level
    return status


ADVICE = {
    "pool_usage": "the client's pool is nearly exhausted: raise CAMPAIGNDB_POOL_MAX_SIZE or "
                  "lower concurrency",
    "server_connection_usage": "the server is near max_connections: put PgBouncer in front "
                               "or raise max_connections",
    "avg_query_ms": "calls are slow: look for lock waits and missing indexes "
                    "(get_database_health_metrics.waiting_locks, EXPLAIN)",
    "cache_hit_ratio": "the buffer cache misses: raise shared_buffers or reduce the working set",
    "longest_transaction_s": "a long transaction holds back vacuum and locks: find it in "
                             "pg_stat_activity",
    "waiting_locks": "many sessions wait for locks: look for hot rows or long transactions",
}


def evaluate(health: dict[str, Any], pool_stats: dict[str, int], avg_latency_ms: float | None,
             thresholds: Thresholds) -> HealthReport:
    """Grade the figures (pure: unit-tested without a server).  A server that cannot be
    reached (a connection failure, 08xxx) is one CRITICAL check, "unreachable": the pool's
    figures then count connections that are being re-made, not load, and advising a bigger
    pool would mislead."""
    if not health.get("success", True) and str(health.get("error_code") or "").startswith("08"):
        check = Check("database", None, HealthStatus.CRITICAL,
                      f"unreachable: {health.get('error')} ({health.get('error_code')}); "
                      f"{health.get('recovery') or 'check network / check DSN'}")
        return HealthReport(HealthStatus.CRITICAL, [check],
                            {"server": health, "pool": pool_stats,
                             "avg_latency_ms": avg_latency_ms})
    size = pool_stats.get("pool_size", 0) or 1
    in_use = size - pool_stats.get("pool_available", 0)
    connections = health.get("connections") or {}
    figures: dict[str, tuple[float | None, tuple[float, float, float], bool]] = {
        "pool_usage": (in_use / max(pool_stats.get("pool_max", size), 1),
                       thresholds.pool_usage, False),
        "server_connection_usage": (
            float(connections["usage_pct"]) / 100 if connections.get("usage_pct") is not None
            else None, thresholds.server_connection_usage, False),
        "avg_query_ms": (avg_latency_ms, thresholds.avg_query_ms, False),
        "cache_hit_ratio": (float(health["cache_hit_ratio"])
                            if health.get("cache_hit_ratio") is not None else None,
                            thresholds.cache_hit_ratio, True),
        "longest_transaction_s": (float(health.get("longest_transaction_s") or 0),
                                  thresholds.longest_transaction_s, False),
        "waiting_locks": (float(health.get("waiting_locks") or 0), thresholds.waiting_locks,
                          False),
    }
    checks = []
    for name, (value, limits, lower_is_worse) in figures.items():
        status = _grade(value, limits, lower_is_worse=lower_is_worse)
        checks.append(Check(name, value, status,
                            ADVICE[name] if status > HealthStatus.HEALTHY else None))
    if not health.get("success", True):
        checks.append(Check("database", None, HealthStatus.CRITICAL,
                            f"the database did not answer: {health.get('error')}"))
    worst = max((c.status for c in checks), default=HealthStatus.HEALTHY)
    return HealthReport(worst, checks, {"server": health, "pool": pool_stats,
                                        "avg_latency_ms": avg_latency_ms})


def replica_checks(report: HealthReport, router: Router) -> HealthReport:
    """The report with one check per replica: its lag, DEGRADED while out of rotation."""
    checks = list(report.checks)
    for replica, shown in zip(router.replicas, router.health(), strict=True):
        up = replica.state is ReplicaState.UP
        checks.append(Check(
            f"replica {shown['dsn_host']}", replica.lag_s,
            HealthStatus.HEALTHY if up else HealthStatus.DEGRADED,
            None if up else f"replica is {replica.state}: out of rotation, reads go to the "
                            "primary until it is retried"))
    worst = max((c.status for c in checks), default=HealthStatus.HEALTHY)
    return HealthReport(worst, checks, {**report.metrics, "replicas": router.health()})


C = TypeVar("C", "Client", "AsyncClient")


class HealthMonitor(Generic[C]):
    """`check()` now, or `start(interval_s, on_change)` on a schedule until `stop()`.

    Either client: with an `AsyncClient`, `check()` answers an awaitable (`await
    monitor.check()`) and `start()` schedules the checks as a task on the running loop.
    """

    def __init__(self, client: C, thresholds: Thresholds | None = None) -> None:
        self.client: C = client
        # one attempt per check: a check answers now (an unreachable server within about
        # the connect timeout), it does not retry for the caller
        self._once: C = client.with_settings(retry_attempts=1)
        self.thresholds = thresholds or Thresholds()
        self.last: HealthReport | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._task: asyncio.Task[None] | None = None

    def _evaluate(self, health: dict[str, Any]) -> HealthReport:
        report = evaluate(health, dict(self.client.pool.get_stats()),
                          self.client.stats.average_latency_ms(), self.thresholds)
        replicas = self.client.replicas
        if replicas is not None:  # as last observed by routed reads (docs/replicas.md)
            report = replica_checks(report, replicas.router)
        self.last = report
        return report

    async def _later(self, answer: Awaitable[dict[str, Any]]) -> HealthReport:
        return self._evaluate(await answer)

    @overload
    def check(self: HealthMonitor[Client]) -> HealthReport: ...
    @overload
    def check(self: HealthMonitor[AsyncClient]) -> Awaitable[HealthReport]: ...

    def check(self) -> HealthReport | Awaitable[HealthReport]:
        """The report now (an awaitable of it with an AsyncClient)."""
        answer: Any = self._once.call("get_database_health_metrics")
        return self._later(answer) if inspect.isawaitable(answer) else self._evaluate(answer)

    def start(self, interval_s: float,
              on_change: Callable[[HealthReport | None, HealthReport], None]) -> None:
        """Check every `interval_s`; call `on_change(previous, current)` when the status
        changes (and once for the first check)."""
        if self._thread is not None or self._task is not None:
            raise RuntimeError("the monitor is already running")
        self._stop.clear()
        changes = _Changes(on_change)
        if self.client.is_async:
            async def run() -> None:
                while not self._stop.is_set():
                    with changes.guard():
                        changes.seen(await self.check())  # type: ignore[misc]
                    await asyncio.sleep(interval_s)

            self._task = asyncio.get_running_loop().create_task(run())
            return

        def loop() -> None:
            while not self._stop.is_set():
                with changes.guard():
                    changes.seen(self.check())  # type: ignore[arg-type]
                self._stop.wait(interval_s)

        self._thread = threading.Thread(target=loop, name="campaigndb-health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None


class _Changes:
    """Calls `on_change` when a report's status differs from the previous one's."""

    def __init__(self, on_change: Callable[[HealthReport | None, HealthReport], None]) -> None:
        self.on_change = on_change
        self.previous: HealthReport | None = None

    @contextlib.contextmanager
    def guard(self) -> Iterator[None]:
        try:
            yield
        except Exception:  # noqa: BLE001 - a failed check must not kill the loop
            logger.warning("health check failed", exc_info=True)

    def seen(self, report: HealthReport) -> None:
        if self.previous is None or report.status != self.previous.status:
            self.on_change(self.previous, report)
        self.previous = report
