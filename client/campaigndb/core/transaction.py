"""Several calls in one transaction: `Client.run_transaction(callback, ...)` and
`AsyncClient.run_transaction(async_callback, ...)`.

The callback receives a `Transaction` (an `AsyncTransaction` for the asyncio client) and
calls API functions (and, if it must, plain SQL) through it, all in one database transaction
opened at the chosen isolation:

- a failed envelope of a required step aborts the whole transaction (`StepFailed`);
- a step marked `optional=True` runs on a savepoint: its failure is reported in
  `tx.optional_failures` and undoes only that step;
- `tx.nested(fn)` runs `fn` on a savepoint: if it raises, its work is undone and the error
  reaches the caller, who may catch it and go on; the outer transaction stays usable;
- calling `client.run_transaction` from inside a callback opens an independent transaction
  on another pooled connection (it does not nest: commit and retries are its own);
- retryable failures (40001, 40P01, 55P03, 57014, lost connections, or a required step whose
  envelope recommends a retry) roll back and rerun the whole callback with exponential backoff
  and jitter, never waiting less than the failure's retry_after_ms; the callback must
  therefore be safe to run again (no side effects outside the database, or idempotent ones);
- `statement_timeout_ms` bounds each statement; `deadline_s` bounds the whole attempt (each
  statement gets at most the time left, and none starts after the deadline).

Everything here but the I/O is shared by the two clients: the options, the retry policy
(`TransactionRun.retry_policy`), the classification (`is_retryable_failure`), the timeout
arithmetic and the step-envelope checks (`TransactionSteps`), the attempt logs and the
final answer, statistics and metrics (`TransactionRun.outcome`).  The handles and loops in
campaigndb.sync.transaction and campaigndb.aio.transaction only send the statements.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from tenacity import RetryCallState

from campaigndb.core import calls, statements
from campaigndb.core.declare import FunctionSpec, Isolation
from campaigndb.core.errors import envelope_from_exception, exception_for
from campaigndb.core.exceptions import (
    CampaignDBError,
    ConnectFailed,
    Envelope,
    StepFailed,
    TransactionTimeout,
)
from campaigndb.core.retry import is_retryable_failure, transaction_policy

if TYPE_CHECKING:
    from campaigndb.base import ClientBase

logger = logging.getLogger("campaigndb")


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

    @property
    def psycopg_isolation(self) -> psycopg.IsolationLevel:
        return psycopg.IsolationLevel[self.isolation.name]


class TransactionRun:
    """One `run_transaction` call, all its attempts: what both clients share but the I/O.

    The sync and async loops call `start_attempt` as an attempt begins, note the
    connection's `backend_pid`, call `committed` when it commits, wrap the whole retry
    loop in `outcome()`, and give tenacity `retry_policy()`.
    """

    def __init__(self, client: ClientBase[Any], options: TransactionOptions) -> None:
        settings = client.settings
        self.client = client
        self.options = options
        self.attempts = options.attempts or settings.retry_attempts
        self.base_s = settings.retry_base_s if options.base_s is None else options.base_s
        self.max_s = settings.retry_max_s if options.max_s is None else options.max_s
        self.txn_id = uuid.uuid4().hex[:12]
        #: the steps' idempotency keys derive from it (see TransactionSteps._statement)
        self.key_seed = uuid.uuid4()
        self.started = time.perf_counter()
        self.retried = 0
        self.backend_pid: int | None = None
        #: the campaigns the current attempt's steps named (recorded when there is one)
        self.campaigns: set[str] = set()

    def start_attempt(self) -> float | None:
        """A new attempt (before it waits for a connection); returns its deadline, a
        time.monotonic() value, or None.  The loop then sets `backend_pid`."""
        self.backend_pid = None
        self.campaigns = set()
        if self.options.deadline_s is None:
            return None
        return time.monotonic() + self.options.deadline_s

    def committed(self, steps: int) -> None:
        logger.info("transaction name=%s txn_id=%s backend_pid=%s attempt=%d committed "
                    "steps=%d", self.options.name, self.txn_id, self.backend_pid,
                    self.retried + 1, steps)

    def _log_retry(self, state: RetryCallState) -> None:
        self.retried += 1
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        logger.info("transaction name=%s txn_id=%s backend_pid=%s attempt=%d rolled back "
                    "sqlstate=%s delay_ms=%.1f", self.options.name, self.txn_id,
                    self.backend_pid, state.attempt_number, getattr(exc, "sqlstate", None),
                    delay * 1000)

    def retry_policy(self) -> dict[str, Any]:
        """tenacity arguments (see core.retry.transaction_policy) with this run's base,
        multiplier and cap."""
        return transaction_policy(self.attempts, self.base_s, self.max_s,
                                  self.options.multiplier, self._log_retry)

    @contextlib.contextmanager
    def outcome(self) -> Iterator[None]:
        """Around the whole retry loop: a driver error becomes the typed exception of its
        envelope; the last failure is logged; the duration, retries and outcome go to the
        client's statistics and, when enabled, its metrics recorder."""
        success = False
        error: str | None = None
        sqlstate: str | None = None
        try:
            yield
            success = True
        except psycopg.Error as exc:
            if exc.sqlstate is None and not isinstance(
                    exc, psycopg.OperationalError | psycopg.InterfaceError):
                raise  # a client-side programming error, not an answer from the server
            envelope = envelope_from_exception(exc)
            error, sqlstate = envelope.get("error"), envelope.get("error_code")
            raise exception_for(envelope, self.options.name) from exc
        except ConnectFailed as exc:  # the server went away: retried, then this
            error, sqlstate = str(exc.envelope.get("error")), exc.sqlstate
            raise exception_for(exc.envelope, self.options.name) from exc
        except CampaignDBError as exc:
            error, sqlstate = str(exc.envelope.get("error")), exc.sqlstate
            raise
        finally:
            elapsed_ms = (time.perf_counter() - self.started) * 1000
            if not success:
                logger.info("transaction name=%s txn_id=%s backend_pid=%s attempt=%d failed "
                            "sqlstate=%s", self.options.name, self.txn_id, self.backend_pid,
                            self.retried + 1, sqlstate)
            self.client.stats.observe(elapsed_ms)
            if self.client.recorder is not None:
                campaign = next(iter(self.campaigns)) if len(self.campaigns) == 1 else None
                self.client.recorder.record(
                    self.options.name, duration_ms=elapsed_ms, success=success,
                    campaign_id=campaign, error_message=error, retry_count=self.retried,
                    isolation_level=self.options.isolation.value)


class TransactionSteps:
    """The I/O-free half of a callback's handle (shared by `Transaction` and
    `AsyncTransaction`): the statement for each step, its time limit, and what its
    envelope means."""

    def __init__(self, client: ClientBase[Any], run: TransactionRun,
                 deadline: float | None) -> None:
        self._client = client
        self._run = run
        self._options = run.options
        self.txn_id = run.txn_id
        self._deadline = deadline
        self.optional_failures: list[Envelope] = []
        self.steps = 0

    def _timeout_prefix(self) -> str:
        """`SET LOCAL statement_timeout = ...;` for the time this statement may take
        (raises TransactionTimeout when the deadline has passed)."""
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
        return f"{statements.set_local_statement_timeout(max(1, min(limits)))}; "

    def _statement(self, name: str, params: dict[str, Any]
                   ) -> tuple[FunctionSpec, str, dict[str, Any], bool]:
        """One step's message inside the open transaction: the client's checks and
        arguments (ClientBase), without its BEGIN/COMMIT; (spec, SQL, arguments, whether a
        SET LOCAL result comes first)."""
        self.steps += 1
        # The n-th step of every attempt gets the same idempotency key: when an attempt's
        # COMMIT succeeded but its reply was lost, the rerun callback's writes replay
        # (replayed: true) instead of applying twice.  A rerun whose steps differ meets a
        # key used with other parameters: 23505, never a double write.
        step_key = str(uuid.uuid5(self._run.key_seed, f"{self.steps}:{name}"))
        spec, params = self._client._prepare(name, params, lambda: step_key)
        campaign = calls.campaign_for_metrics(params.get("p_campaign_id"))
        if campaign is not None:
            self._run.campaigns.add(campaign)
        args = calls.bind(spec, params)
        prefix = self._timeout_prefix()
        return spec, prefix + spec.call_sql(tuple(args)), args, bool(prefix)

    @staticmethod
    def _answer(spec: FunctionSpec, cursor: Any, rows: list[Any]) -> Envelope:
        return calls.answer(spec, cursor, rows)

    @staticmethod
    def _required(name: str, envelope: Envelope) -> Envelope:
        if not envelope.get("success"):
            raise StepFailed(envelope, name)
        return envelope

    @staticmethod
    def _optional_error(exc: psycopg.Error) -> Envelope:
        """An optional step that raised: a conflict dooms the whole attempt, optional or
        not (re-raised); anything else is that step's failure envelope."""
        if is_retryable_failure(exc):
            raise exc
        return envelope_from_exception(exc)

    def _optional_result(self, name: str, envelope: Envelope) -> Envelope:
        if not envelope.get("success"):
            self.optional_failures.append({**envelope, "operation": name})
        return envelope
