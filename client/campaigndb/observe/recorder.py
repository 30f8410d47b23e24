"""Transaction metrics, recorded without slowing calls.

Every call (and every `run_transaction`) appends one measurement to an in-memory buffer;
a background thread writes the buffer with one `record_transaction_metrics` call every
`flush_interval_s` or `batch_size` rows, on a connection of its own (not the pool's: taking
a pooled connection for each flush made callers wait for the pool).  A full buffer
drops the oldest measurements (counted in `dropped`) rather than block a caller.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from campaigndb.core import statements
from campaigndb.core.connection import configure_connection, connection_kwargs, json_dumps
from campaigndb.settings import Settings

logger = logging.getLogger("campaigndb.metrics")

# (operation_name, campaign_id, duration_ms, success, error_message, retry_count,
#  isolation_level, created_at as epoch seconds): record_transaction_metrics' array form
Measurement = tuple[str, str | None, int, bool, str | None, int, str | None, float]


class MetricsRecorder:
    def __init__(self, connect: Callable[[], psycopg.Connection[Any]], *,
                 flush_interval_s: float = 1.0, batch_size: int = 1000,
                 max_buffer: int = 100_000) -> None:
        self._connect = connect
        self._conn: psycopg.Connection[Any] | None = None
        self._interval = flush_interval_s
        self._batch_size = batch_size
        self._buffer: collections.deque[Measurement] = collections.deque(maxlen=max_buffer)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.recorded = 0
        self.dropped = 0
        self.failed_flushes = 0
        self._thread = threading.Thread(target=self._loop, name="campaigndb-metrics",
                                        daemon=True)
        self._thread.start()

    def record(self, operation: str, *, duration_ms: float, success: bool,
               campaign_id: str | None = None, error_message: str | None = None,
               retry_count: int = 0, isolation_level: str | None = None) -> None:
        """Queue one measurement (no I/O here)."""
        if len(self._buffer) == self._buffer.maxlen:
            self.dropped += 1
        if error_message is not None and "\x00" in error_message:
            # jsonb refuses \u0000, and one such message would fail its whole flush
            error_message = error_message.replace("\x00", "\ufffd")
        # a tuple in record_transaction_metrics' positional form: cheaper to build than a
        # dict here, half the JSON of objects, and less server time per flush
        self._buffer.append((operation[:255], campaign_id, max(0, round(duration_ms)), success,
                             error_message, retry_count, isolation_level,
                             time.time()))  # epoch seconds: cheaper than formatting a date
        if len(self._buffer) >= self._batch_size:
            self._wake.set()

    def flush(self) -> int:
        """Write everything buffered now; returns the rows written."""
        written = 0
        with self._lock:
            while self._buffer:
                batch: list[Measurement] = []
                while self._buffer and len(batch) < 10_000:
                    batch.append(self._buffer.popleft())
                try:
                    if self._conn is None or self._conn.closed:
                        self._conn = self._connect()
                    written += self._write(self._conn, batch)
                except Exception:  # noqa: BLE001 - metrics must never break the caller
                    if self._conn is not None:
                        self._conn.close()
                        self._conn = None
                    self.failed_flushes += 1
                    self.dropped += len(batch)
                    logger.warning("could not write %d transaction metrics", len(batch),
                                   exc_info=True)
                    break
        self.recorded += written
        return written

    @staticmethod
    def _write(conn: psycopg.Connection[Any], batch: list[Measurement]) -> int:
        """One batch in one message (a failure leaves the message's transaction open: the
        caller closes the connection)."""
        with psycopg.ClientCursor(conn) as cursor:
            cursor.execute(statements.FLUSH_METRICS, [json_dumps(batch)])
            for _ in range(statements.FLUSH_METRICS_RESULT):
                cursor.nextset()
            row = cursor.fetchone()
        return int(row[0]) if row else 0

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=10)
        self.flush()
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def start_recorder(settings: Settings, dsn: str) -> MetricsRecorder | None:
    """The metrics recorder when settings.record_metrics (both clients: its record() does
    no I/O; its thread writes on a sync connection of its own)."""
    if not settings.record_metrics:
        return None

    def connect() -> psycopg.Connection[Any]:
        conn = psycopg.connect(dsn, **connection_kwargs(settings))
        configure_connection(conn)
        return conn

    return MetricsRecorder(connect, flush_interval_s=settings.metrics_flush_interval_s)
