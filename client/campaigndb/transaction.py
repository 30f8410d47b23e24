"""Several calls in one transaction: `Client.run_transaction(callback, ...)`.

The callback receives a `Transaction` and calls API functions (and, if it must, plain SQL)
through it, all in one database transaction opened at the chosen isolation:

- a failed envelope of a required step aborts the whole transaction (`StepFailed`);
- a step marked `optional=True` runs on a savepoint: its failure is reported in
  `tx.optional_failures` and undoes only that step;
- `tx.nested(fn)` runs `fn` on a savepoint: if it raises, its work is undone and the error
  reaches the caller, who may catch it and go on; the outer transaction stays usable;
- calling `client.run_transaction` from inside a callback opens an independent transaction
  on another pooled connection (it does not nest: commit and retries are its own);
- retryable failures (40001, 40P01, 55P03, 57014, lost connections, or a required step whose
  envelope recommends a retry) roll back and rerun the whole callback with exponential backoff
  and jitter; the callback must therefore be safe to run again (no side effects outside the
  database, or idempotent ones);
- `statement_timeout_ms` bounds each statement; `deadline_s` bounds the whole attempt (each
  statement gets at most the time left, and none starts after the deadline).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from campaigndb import queries
from campaigndb.errors import (
    CampaignDBError,
    Envelope,
    envelope_from_exception,
    exception_for,
)
from campaigndb.queries import Isolation
from campaigndb.sqlstates import is_retryable

if TYPE_CHECKING:
    from campaigndb.client import Client

T = TypeVar("T")
logger = logging.getLogger("campaigndb")


class StepFailed(CampaignDBError):
    """A required step of a transaction answered success: false; the transaction is undone."""


class TransactionTimeout(CampaignDBError):
    """The transaction's deadline passed before a statement could start."""


@dataclass(frozen=True)
class TransactionOptions:
    isolation: Isolation = Isolation.READ_COMMITTED
    read_only: bool = False
    statement_timeout_ms: int | None = None
    deadline_s: float | None = None
    attempts: int | None = None
    base_s: float | None = None
    multiplier: float = 2.0
    max_s: float | None = None
    name: str = "transaction"


def _is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, CampaignDBError):
        return exc.retryable and not isinstance(exc, TransactionTimeout)
    if isinstance(exc, psycopg.Error):
        code = exc.sqlstate
        if code is None:
            return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)
        return is_retryable(code)
    return False


class Transaction:
    """The handle a `run_transaction` callback works through."""

    def __init__(self, client: Client, conn: psycopg.Connection[Any],
                 options: TransactionOptions, txn_id: str, deadline: float | None) -> None:
        self._client = client
        self._conn = conn
        self._options = options
        self.txn_id = txn_id
        self._deadline = deadline
        self.optional_failures: list[Envelope] = []
        self.steps = 0

    @property
    def connection(self) -> psycopg.Connection[Any]:
        return self._conn

    def _timeout_prefix(self) -> str:
        """`SET LOCAL statement_timeout = ...;` for the time this statement may take."""
        limits = []
        if self._options.statement_timeout_ms is not None:
            limits.append(int(self._options.statement_timeout_ms))
        if self._deadline is not None:
            left_ms = int((self._deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                raise TransactionTimeout(
                    {"success": False, "error": "the transaction's deadline has passed",
                     "error_code": "57014", "retry_recommended": False},
                    self._options.name)
            limits.append(left_ms)
        if not limits:
            return ""
        return f"SET LOCAL statement_timeout = {max(1, min(limits))}; "

    def execute(self, query: str, params: Any = None) -> psycopg.Cursor[Any]:
        """Plain SQL inside the transaction (the deadline applies)."""
        prefix = self._timeout_prefix()
        if prefix:
            self._conn.execute(prefix)
        return self._conn.execute(query, params)

    def _run_call(self, name: str, params: dict[str, Any]) -> Envelope:
        """The call inside the open transaction: the client's checks, arguments and
        answers (ClientBase), without its BEGIN/COMMIT."""
        spec, params = self._client._prepare(name, params)
        args = self._client._bind(spec, params)
        prefix = self._timeout_prefix()
        cursor = psycopg.ClientCursor(self._conn)
        try:
            cursor.execute(prefix + spec.call_sql(tuple(args)), args)
            if prefix:
                cursor.nextset()
            names = [column.name for column in cursor.description or ()]
            return self._client._answer(spec, names, cursor.fetchall())
        finally:
            cursor.close()

    def call(self, name: str, /, *, optional: bool = False, **params: Any) -> Envelope:
        """Call an API function inside the transaction and return its envelope.

        Required (default): a failure aborts the transaction (raises StepFailed, retried as a
        whole when the envelope recommends it).  Optional: the step runs on a savepoint; a
        failure is recorded in `optional_failures`, undoes only this step, and is returned.
        """
        self.steps += 1
        if not optional:
            envelope = self._run_call(name, params)
            if not envelope.get("success"):
                raise StepFailed(envelope, name)
            return envelope
        try:
            with self._conn.transaction():  # SAVEPOINT ... RELEASE / ROLLBACK TO
                envelope = self._run_call(name, params)
        except psycopg.Error as exc:
            if _is_retryable(exc):
                raise  # a conflict dooms the whole attempt, optional or not
            envelope = envelope_from_exception(exc)
        if not envelope.get("success"):
            self.optional_failures.append({**envelope, "operation": name})
        return envelope

    def nested(self, body: Callable[[Transaction], T]) -> T:
        """Run `body` on a savepoint: if it raises, its work is undone and the error
        reaches the caller; the outer transaction goes on."""
        with self._conn.transaction():
            return body(self)


def run_transaction(client: Client, callback: Callable[[Transaction], T],
                    options: TransactionOptions) -> T:
    settings = client.settings
    attempts = options.attempts or settings.retry_attempts
    base = settings.retry_base_s if options.base_s is None else options.base_s
    maximum = settings.retry_max_s if options.max_s is None else options.max_s
    txn_id = uuid.uuid4().hex[:12]
    started = time.perf_counter()
    retried = [0]

    def attempt() -> T:
        deadline = (time.monotonic() + options.deadline_s
                    if options.deadline_s is not None else None)
        with client.pool.connection() as conn:
            conn.isolation_level = psycopg.IsolationLevel[options.isolation.name]
            conn.read_only = options.read_only
            try:
                with conn.transaction():
                    if client.workspace_id is not None:
                        conn.execute(queries.set_local_workspace(client.workspace_id))
                    tx = Transaction(client, conn, options, txn_id, deadline)
                    result = callback(tx)
                logger.info("transaction name=%s txn_id=%s backend_pid=%s attempt=%d committed "
                            "steps=%d", options.name, txn_id, conn.info.backend_pid,
                            retried[0] + 1, tx.steps)
                return result
            finally:
                if not conn.closed:
                    conn.isolation_level = None
                    conn.read_only = None

    def log_retry(state: RetryCallState) -> None:
        retried[0] += 1
        exc = state.outcome.exception() if state.outcome else None
        sqlstate = getattr(exc, "sqlstate", None)
        delay = state.next_action.sleep if state.next_action else 0.0
        logger.info("transaction name=%s txn_id=%s attempt=%d rolled back sqlstate=%s "
                    "delay_ms=%.1f", options.name, txn_id, state.attempt_number, sqlstate,
                    delay * 1000)

    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=base, max=maximum, exp_base=options.multiplier),
        retry=retry_if_exception(_is_retryable),
        before_sleep=log_retry,
        reraise=True,
    )
    success = False
    error: str | None = None
    try:
        result = retrying(attempt)
        success = True
        return result
    except psycopg.Error as exc:
        if exc.sqlstate is None and not isinstance(
                exc, psycopg.OperationalError | psycopg.InterfaceError):
            raise  # a client-side programming error, not an answer from the server
        envelope = envelope_from_exception(exc)
        error = envelope.get("error")
        raise exception_for(envelope, options.name) from exc
    except CampaignDBError as exc:
        error = str(exc.envelope.get("error"))
        raise
    finally:
        elapsed_ms = (time.perf_counter() - started) * 1000
        client.stats.observe(elapsed_ms)
        if client.recorder is not None:
            client.recorder.record(options.name, duration_ms=elapsed_ms, success=success,
                                   error_message=error, retry_count=retried[0],
                                   isolation_level=options.isolation.value)
