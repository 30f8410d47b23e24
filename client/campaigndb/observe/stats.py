"""The client's own call statistics (read by the health monitor and the Prometheus
collector)."""

from __future__ import annotations

import collections
import threading


class CallStats:
    """Counters of calls, attempts and retries, per operation (thread-safe)."""

    def __init__(self, window: int = 1000) -> None:
        self._lock = threading.Lock()
        self.calls: dict[str, int] = {}
        self.retries: dict[str, int] = {}
        self.failures: dict[str, int] = {}
        #: the last `window` calls' durations in ms (for the health monitor)
        self.latencies_ms: collections.deque[float] = collections.deque(maxlen=window)

    def observe(self, duration_ms: float) -> None:
        self.latencies_ms.append(duration_ms)

    def average_latency_ms(self) -> float | None:
        values = list(self.latencies_ms)
        return sum(values) / len(values) if values else None

    def _bump(self, table: dict[str, int], operation: str) -> None:
        with self._lock:
            table[operation] = table.get(operation, 0) + 1

    def total_retries(self) -> int:
        with self._lock:
            return sum(self.retries.values())

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.retries.clear()
            self.failures.clear()
            self.latencies_ms.clear()
