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
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg

from campaigndb.pool import json_dumps

logger = logging.getLogger("campaigndb.metrics")

# One message, one round trip: the flush commits asynchronously (SET LOCAL, so that the
# setting ends with the transaction, also behind PgBouncer).  A measurement is not a
# caller's data: a server crash may lose the last wal_writer_delay (200 ms by default) of
# them, as a client crash loses its buffer, and in exchange the flush never waits for a WAL
# flush of its own while the calls it measures wait for theirs.
FLUSH_SQL = ("BEGIN; SET LOCAL synchronous_commit = off; "
             "SELECT public.record_transaction_metrics(%s::jsonb); COMMIT")
FLUSH_RESULT = 2  # the SELECT's result among the message's four

# (operation_name, campaign_id, duration_ms, success, error_message, retry_count,
#  isolation_level, created_at as epoch seconds): record_transaction_metrics' array form
Measurement = tuple[str, str | None, int, bool, str | None, int, str | None, float]


_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}")


def campaign_for_metrics(value: Any) -> str | None:
    """A call's p_campaign_id as a uuid string, or None when it is not one: a malformed
    value must not reach the buffer, where it would make its whole flush fail.  (Called on
    every recorded call: the regular expression, a subset of what PostgreSQL reads as a
    uuid, answers the usual text in a tenth of uuid.UUID's time.)"""
    if value is None:
        return None
    if isinstance(value, str) and _UUID_TEXT.fullmatch(value):
        return value
    try:
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
    except ValueError:
        return None


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
            cursor.execute(FLUSH_SQL, [json_dumps(batch)])
            for _ in range(FLUSH_RESULT):
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
