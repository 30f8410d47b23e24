"""Prometheus exposition of a client's own figures (optional: `pip install
'campaigndb[prometheus]'`).

A collector reads the client's call counters, latency window and pool statistics when
Prometheus scrapes; calls themselves pay nothing for it (the counters exist anyway for the
health monitor).

>>> from prometheus_client import start_http_server          # doctest: +SKIP
>>> register(db); start_http_server(9108)                     # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import REGISTRY, Collector, CollectorRegistry

from campaigndb.base import ClientBase


class ClientCollector(Collector):
    """campaigndb_calls_total, campaigndb_call_failures_total, campaigndb_call_retries_total
    (per operation), campaigndb_call_latency_avg_ms (last 1,000 calls) and
    campaigndb_pool_* gauges, labelled with the client's name."""

    def __init__(self, client: ClientBase[Any], name: str = "default") -> None:
        self.client = client
        self.name = name

    def collect(self) -> Iterator[Metric]:
        stats = self.client.stats
        with stats._lock:
            tables = {"calls": dict(stats.calls), "call_failures": dict(stats.failures),
                      "call_retries": dict(stats.retries)}
        helps = {"calls": "API function calls made by the client",
                 "call_failures": "calls that answered success: false (after retries)",
                 "call_retries": "retried attempts"}
        for key, table in tables.items():
            family = CounterMetricFamily(f"campaigndb_{key}", helps[key],
                                         labels=["client", "operation"])
            for operation, value in sorted(table.items()):
                family.add_metric([self.name, operation], value)
            yield family
        latency = stats.average_latency_ms()
        if latency is not None:
            gauge = GaugeMetricFamily("campaigndb_call_latency_avg_ms",
                                      "average duration of the last 1,000 calls, ms",
                                      labels=["client"])
            gauge.add_metric([self.name], latency)
            yield gauge
        pool = getattr(self.client, "pool", None)
        if pool is not None:
            pool_stats = pool.get_stats()
            for key, help_text in (("pool_size", "connections in the pool"),
                                   ("pool_available", "idle connections in the pool"),
                                   ("requests_waiting", "callers waiting for a connection"),
                                   ("pool_max", "the pool's maximum size")):
                if key in pool_stats:
                    gauge = GaugeMetricFamily(f"campaigndb_{key}", help_text,
                                              labels=["client"])
                    gauge.add_metric([self.name], pool_stats[key])
                    yield gauge


def register(client: ClientBase[Any], registry: CollectorRegistry = REGISTRY,
             name: str = "default") -> ClientCollector:
    """Expose `client`'s figures in `registry` (the default one unless given)."""
    collector = ClientCollector(client, name)
    registry.register(collector)
    return collector
