"""The client: one typed method per API function plus `call()`, with retries.

One logical call = one idempotency key (generated here when the caller gave none), reused
by every attempt; each attempt is one whole transaction sent as one pipeline (one network
round trip): BEGIN at the function's isolation, SET LOCAL statement_timeout (and the
workspace binding), the function call, COMMIT.  A failed attempt is never finished on
another connection: the next attempt starts again from BEGIN, and the function's own
idempotency makes a repeat of a write that did commit answer `replayed: true`.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar, cast

import psycopg
import psycopg_pool
from psycopg.pq import TransactionStatus
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_result,
    stop_after_attempt,
    wait_random_exponential,
)

from campaigndb import operations as ops
from campaigndb import queries, tokens
from campaigndb.errors import (
    MAYBE_COMMITTED,
    OUTCOME_UNKNOWN,
    CampaignDBError,
    Envelope,
    UnsendableArgument,
    envelope_from_exception,
    envelope_ok,
    exception_for,
    is_connection_loss,
    unsendable_envelope,
)
from campaigndb.models import BusinessRow
from campaigndb.operations import sync_method
from campaigndb.pool import configure_connection, connection_kwargs, json_dumps, make_pool
from campaigndb.queries import FUNCTIONS, FunctionSpec, Isolation
from campaigndb.recorder import MetricsRecorder, campaign_for_metrics
from campaigndb.settings import Settings, resolve_dsn
from campaigndb.sqlstates import retry_after_ms
from campaigndb.transaction import Transaction, TransactionOptions, run_transaction

logger = logging.getLogger("campaigndb")
T = TypeVar("T")
L = TypeVar("L")


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


class _RetryWait(wait_random_exponential):
    """Exponential backoff with full jitter, never shorter than the answer's retry_after_ms
    (an envelope, or the failure a run_transaction attempt raised)."""

    def __call__(self, retry_state: RetryCallState) -> float:
        delay = super().__call__(retry_state)
        outcome = retry_state.outcome
        after = None
        if outcome is not None and not outcome.failed:
            after = (outcome.result() or {}).get("retry_after_ms")
        elif outcome is not None:
            failure = outcome.exception()
            if isinstance(failure, CampaignDBError):
                after = failure.envelope.get("retry_after_ms")
            elif isinstance(failure, psycopg.Error):
                after = envelope_from_exception(failure).get("retry_after_ms")
        if after:
            delay = max(delay, min(float(after) / 1000.0, float(self.max)))
        return float(delay)


class HotRows:
    """Hot rows (a campaign, a workflow) that recently saw a 40001 or 55P03 in this process.

    For a while afterwards, snapshot-isolated calls on that row (SERIALIZABLE
    track_campaign_cost, REPEATABLE READ execute_campaign_atomically) queue on a
    pre-snapshot advisory lock instead of colliding (README: "SERIALIZABLE without the
    retry storm"); an uncontended row pays nothing for it.
    """

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._until: dict[tuple[str, str], float] = {}
        self._turns: dict[int, Any] = {}

    def turn(self, key: int, new_lock: Callable[[], L]) -> L:
        """Behind PgBouncer, where no session advisory lock can be held: the in-process
        lock (a threading.Lock, or an asyncio.Lock for the async client) on which this
        process's callers of hot row `key` take turns, so that each one's snapshot follows
        the previous one's commit.  Callers in other processes still rely on retries."""
        with self._lock:
            turn = self._turns.get(key)
            if turn is None:
                if len(self._turns) > 10_000:
                    # forget idle rows (a caller that fetched one just now and loses it
                    # here only misses one turn: retries keep every call correct)
                    self._turns = {k: v for k, v in self._turns.items() if v.locked()}
                turn = self._turns[key] = new_lock()
            return cast(L, turn)

    @staticmethod
    def _key(spec: FunctionSpec, params: dict[str, Any]) -> tuple[str, str]:
        return (spec.name, str(params.get(spec.hot_row_param or "")))

    def mark(self, spec: FunctionSpec, params: dict[str, Any]) -> None:
        with self._lock:
            if len(self._until) > 10_000:
                now = time.monotonic()
                self._until = {k: v for k, v in self._until.items() if v > now}
            self._until[self._key(spec, params)] = time.monotonic() + self.ttl_s

    def is_hot(self, spec: FunctionSpec, params: dict[str, Any]) -> bool:
        until = self._until.get(self._key(spec, params))
        return until is not None and until > time.monotonic()


def _hot_row_key(value: Any) -> int:
    """The int4 advisory-lock key for a campaign id."""
    raw = value.bytes if isinstance(value, uuid.UUID) else uuid.UUID(str(value)).bytes
    return int.from_bytes(raw[:4], "big", signed=True)


def _random_key() -> str:
    return str(uuid.uuid4())


class ClientBase:
    """What the sync and the async client share: settings, statistics, the hot-row table,
    the function specs, argument checks, idempotency keys and each attempt's statements."""

    settings: Settings
    dsn: str
    workspace_id: str | None
    stats: CallStats
    recorder: MetricsRecorder | None
    _hot_rows: HotRows
    _specs: dict[str, FunctionSpec]

    def _init_base(self, dsn: str | None, settings: Settings | None,
                   workspace_id: uuid.UUID | str | None,
                   isolation_overrides: Mapping[str, Isolation] | None,
                   overrides: dict[str, Any]) -> Settings:
        base = settings or Settings()
        if dsn is not None:
            overrides["dsn"] = dsn
        if overrides:
            base = Settings(**{**base.model_dump(), **overrides})
        self.settings = base
        self.dsn = resolve_dsn(base)
        bound = workspace_id if workspace_id is not None else base.workspace_id
        self.workspace_id = str(uuid.UUID(str(bound))) if bound is not None else None
        self.stats = CallStats()
        self.recorder = None
        self._hot_rows = HotRows(base.hot_row_ttl_s)
        self._specs = {
            name: dataclasses.replace(spec, isolation=(isolation_overrides or {})[name])
            if name in (isolation_overrides or {}) else spec
            for name, spec in FUNCTIONS.items()
        }
        return base

    def _start_recorder(self) -> None:
        """The metrics recorder when settings.record_metrics (both clients: its record()
        does no I/O; its thread writes on a sync connection of its own)."""
        if self.settings.record_metrics:
            self.recorder = MetricsRecorder(
                self._metrics_connection,
                flush_interval_s=self.settings.metrics_flush_interval_s)

    def _metrics_connection(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.dsn, **connection_kwargs(self.settings))
        configure_connection(conn)
        return conn

    def _share_with(self, scoped: ClientBase, workspace_id: uuid.UUID | str) -> None:
        scoped.settings = self.settings
        scoped.dsn = self.dsn
        scoped.workspace_id = str(uuid.UUID(str(workspace_id)))
        scoped.stats = self.stats
        scoped.recorder = self.recorder
        scoped._hot_rows = self._hot_rows
        scoped._specs = self._specs

    def _prepare(self, name: str, params: dict[str, Any],
                 new_key: Callable[[], str] | None = None
                 ) -> tuple[FunctionSpec, dict[str, Any]]:
        """Check a call's name and parameters; add its idempotency key (once per call;
        `new_key` makes it, a random uuid by default)."""
        spec = self._specs.get(name)
        if spec is None:
            raise ValueError(f"unknown function {name!r}; known: {', '.join(sorted(FUNCTIONS))}")
        unknown = set(params) - set(spec.params)
        if unknown:
            raise ValueError(f"{name} has no parameter(s) {', '.join(sorted(unknown))}")
        missing = spec.required - set(params)
        if missing:  # PostgreSQL would answer 42883: no function matches the arguments
            raise ValueError(f"{name} needs parameter(s) {', '.join(sorted(missing))}"
                             " (pass None for a null)")
        return spec, self._with_idempotency_key(spec, params, new_key or _random_key)

    def _retry_logger(self, name: str, call_id: str,
                      retried: list[int]) -> Callable[[RetryCallState], None]:
        def log_retry(state: RetryCallState) -> None:
            envelope = state.outcome.result() if state.outcome else {}
            delay = state.next_action.sleep if state.next_action else 0.0
            self.stats._bump(self.stats.retries, name)
            retried[0] += 1
            logger.info(
                "retry operation=%s attempt=%d sqlstate=%s delay_ms=%.1f call_id=%s",
                name, state.attempt_number, envelope.get("error_code"), delay * 1000, call_id,
                extra={"operation": name, "attempt": state.attempt_number,
                       "sqlstate": envelope.get("error_code"), "delay_s": delay,
                       "call_id": call_id},
            )

        return log_retry

    def _retry_policy(self, log_retry: Callable[[RetryCallState], None]) -> dict[str, Any]:
        """tenacity arguments, the same for Retrying and AsyncRetrying."""
        return {
            "stop": stop_after_attempt(self.settings.retry_attempts),
            "wait": _RetryWait(multiplier=self.settings.retry_base_s,
                               max=self.settings.retry_max_s),
            "retry": retry_if_result(lambda answer: bool(answer.get("retry_recommended"))),
            "before_sleep": log_retry,
            "retry_error_callback": lambda state: state.outcome.result() if state.outcome else {},
        }

    def _finish(self, name: str, spec: FunctionSpec, params: dict[str, Any],
                envelope: Envelope, started: float, retried: int) -> Envelope:
        elapsed_ms = (time.perf_counter() - started) * 1000
        if not envelope.get("success"):
            self.stats._bump(self.stats.failures, name)
            logger.warning(
                "call failed operation=%s sqlstate=%s retries=%d duration_ms=%.1f error=%s",
                name, envelope.get("error_code"), retried, elapsed_ms, envelope.get("error"),
                extra={"operation": name, "sqlstate": envelope.get("error_code"),
                       "retries": retried, "duration_ms": elapsed_ms,
                       "error": envelope.get("error")})
        self.stats.observe(elapsed_ms)
        if self.recorder is not None:
            self.recorder.record(
                name, duration_ms=elapsed_ms, success=bool(envelope.get("success")),
                campaign_id=campaign_for_metrics(params.get("p_campaign_id")),
                error_message=envelope.get("error"), retry_count=retried,
                isolation_level=spec.isolation.value)
        return envelope

    def _plan(self, spec: FunctionSpec, params: dict[str, Any]
              ) -> tuple[str, dict[str, Any], int, int | None]:
        """One attempt's message: (SQL text, arguments, index of the call's result, lock key).

        The whole transaction travels as one simple-protocol message (one round trip),
        values bound client-side (psycopg's ClientCursor quotes them): BEGIN at the
        function's isolation, the call, COMMIT.  The server runs them in order and stops at
        the first error, leaving the transaction for `_recover` to roll back.
        """
        args = self._bind(spec, params)
        lock_key = self._hot_row_lock_key(spec, params)
        statements: list[str] = []
        if lock_key is not None:
            # The lock is taken in a transaction of its own, before the snapshot-isolated
            # one exists: a caller that queues here takes its snapshot only after the
            # previous holder committed, so it does not fail with 40001.
            statements += [queries.BEGIN, queries.hot_row_lock(lock_key), queries.COMMIT]
        statements.append(queries.begin(spec.isolation, spec.read_only))
        if self.settings.pgbouncer:
            statements.append(queries.set_local_statement_timeout(self.settings.statement_timeout_ms))
        if self.workspace_id is not None:
            statements.append(queries.set_local_workspace(self.workspace_id))
        if self.settings.workspace_token:
            statements.append(tokens.set_local_token(self.settings.workspace_token))
        call_index = len(statements)
        statements.append(spec.call_sql(tuple(args)))
        statements.append(queries.COMMIT)
        if lock_key is not None:
            statements.append(queries.hot_row_unlock(lock_key))
        return "; ".join(statements), args, call_index, lock_key

    @staticmethod
    def _bind(spec: FunctionSpec, params: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments as psycopg should send them: JSON values written as JSON text
        here (cast ::jsonb by the call), so that a value no JSON can hold is refused before
        any I/O (UnsendableArgument); a str for a jsonb parameter is taken as JSON text."""
        bound: dict[str, Any] = {}
        for name, value in params.items():
            if spec.params[name] == "jsonb" and not isinstance(value, str | None):
                try:
                    value = json_dumps(value)
                except (TypeError, ValueError, RecursionError) as exc:
                    raise UnsendableArgument(f"{name} cannot be written as JSON: "
                                             f"{type(exc).__name__}: {exc}") from exc
            bound[name] = value
        return bound

    @staticmethod
    def _answer(spec: FunctionSpec, names: list[str], rows: list[Any]) -> Envelope:
        """The envelope for the call's result rows."""
        if spec.returns == "table":
            return envelope_ok({"rows": [dict(zip(names, values, strict=True))
                                         for values in rows]})
        if spec.returns == "scalar":
            return envelope_ok({"id": rows[0][0] if rows else None})
        if not rows or not isinstance(rows[0][0], dict):
            raise psycopg.DataError(f"{spec.name} returned no envelope")
        envelope: Envelope = rows[0][0]
        return envelope

    def _noticed(self, spec: FunctionSpec, params: dict[str, Any],
                 envelope: Envelope | None = None, exc: BaseException | None = None) -> None:
        """A 40001 or a busy row (55P03) on a hot-row function: queue its next calls."""
        if not spec.hot_row_param:
            return
        busy = isinstance(exc, psycopg.errors.SerializationFailure
                          | psycopg.errors.LockNotAvailable)
        if busy or (envelope is not None and envelope.get("error_code") == "55P03"):
            self._hot_rows.mark(spec, params)

    @staticmethod
    def _answer_error(exc: BaseException, *, sent: bool = False) -> Envelope:
        """A failed attempt's envelope (a client-side programming error is re-raised).
        `sent`: the write's message may have reached the server; a lost connection then
        leaves its outcome unknown (marked for `call`, which decides after the retries)."""
        if isinstance(exc, psycopg_pool.PoolTimeout):
            return envelope_from_exception(exc)
        if isinstance(exc, UnsendableArgument) or (
                isinstance(exc, psycopg.DataError | psycopg.ProgrammingError)
                and exc.sqlstate is None):
            # refused by the client before the server saw it: a NUL in a text, a value
            # psycopg cannot adapt, a value no JSON can hold
            return unsendable_envelope(exc)
        if isinstance(exc, psycopg.Error) and (
                exc.sqlstate is not None
                or isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)):
            envelope = envelope_from_exception(exc)
            if sent and is_connection_loss(envelope.get("error_code")):
                envelope[MAYBE_COMMITTED] = True
            return envelope
        raise exc

    @staticmethod
    def _outcome_unknown(spec: FunctionSpec, params: dict[str, Any],
                         last: Envelope) -> Envelope:
        """The answer when every attempt failed but one lost its connection after sending
        the write: it may have committed, so "success: false" (nothing written) would be
        untrue.  08007 says so, and carries the idempotency key to ask again with: a repeat
        with it answers the first result (replayed: true) or applies the write once."""
        key = params.get(spec.idempotency_param) if spec.idempotency_param else None
        if isinstance(key, Mapping) and spec.idempotency_json_key:
            key = key.get(spec.idempotency_json_key)
        if key is not None:
            advice = (f"call again with the same {spec.idempotency_param}"
                      f"{'.' + spec.idempotency_json_key if spec.idempotency_json_key else ''}"
                      f" ({key}) to learn the outcome; it cannot apply twice")
        else:
            advice = f"{spec.name} is idempotent by nature: calling it again is safe"
        envelope: Envelope = {
            "success": False,
            "error": "the connection was lost after the call was sent, so the server may "
                     f"have committed it: {advice}",
            "error_code": OUTCOME_UNKNOWN,
            "retry_recommended": True,
            "retry_after_ms": retry_after_ms(OUTCOME_UNKNOWN),
            "error_detail": {"detail": f"last attempt: {last.get('error')} "
                                       f"[{last.get('error_code')}]"},
        }
        if key is not None:
            envelope["idempotency_key"] = str(key)
        return envelope

    @staticmethod
    def _with_idempotency_key(spec: FunctionSpec, params: dict[str, Any],
                              new_key: Callable[[], str]) -> dict[str, Any]:
        """Generate the idempotency key once per logical call (reused by every retry)."""
        key_param = spec.idempotency_param
        if key_param is None:
            return params
        if spec.idempotency_json_key is None:
            if params.get(key_param) is None:
                params = {**params, key_param: new_key()}
            return params
        document = params.get(key_param)
        if isinstance(document, Mapping) and document.get(spec.idempotency_json_key) is None:
            document = {**document, spec.idempotency_json_key: new_key()}
            params = {**params, key_param: document}
        return params

    def _transaction_timeout_ms(self, given: int | None) -> int | None:
        """run_transaction's statement timeout: the one given, else, behind PgBouncer, the
        configured one (PgBouncer refuses the startup `options` that set it for a direct
        connection's whole session, so each transaction sets it with SET LOCAL)."""
        if given is None and self.settings.pgbouncer and self.settings.statement_timeout_ms:
            return self.settings.statement_timeout_ms
        return given

    def _hot_row_lock_key(self, spec: FunctionSpec, params: dict[str, Any]) -> int | None:
        """The pre-snapshot advisory lock's key (never behind PgBouncer: a session lock)."""
        return None if self.settings.pgbouncer else self._hot_row(spec, params)

    def _local_turn_key(self, spec: FunctionSpec, params: dict[str, Any]) -> int | None:
        """Behind PgBouncer: the hot row whose callers in this process take turns
        (HotRows.turn) instead of queueing on the advisory lock."""
        return self._hot_row(spec, params) if self.settings.pgbouncer else None

    def _hot_row(self, spec: FunctionSpec, params: dict[str, Any]) -> int | None:
        """The key of the row this call should queue for (hot_row_lock's mode), or None."""
        mode = self.settings.hot_row_lock
        if (
            spec.hot_row_param is None
            or spec.isolation is Isolation.READ_COMMITTED
            or mode == "never"
        ):
            return None
        value = params.get(spec.hot_row_param)
        if value is None:
            return None
        try:
            key = _hot_row_key(value)
        except ValueError:
            return None  # not a uuid: the server answers with its own error
        if mode == "always" or self._hot_rows.is_hot(spec, params):
            return key
        return None


class Client(ClientBase):
    """A pooled, retrying client of the campaigndb API functions.

    >>> with Client() as db:                                  # doctest: +SKIP
    ...     ws = db.create_workspace("Acme")
    """

    def __init__(
        self,
        dsn: str | None = None,
        *,
        settings: Settings | None = None,
        pool: psycopg_pool.ConnectionPool | None = None,
        workspace_id: uuid.UUID | str | None = None,
        isolation_overrides: Mapping[str, Isolation] | None = None,
        **overrides: Any,
    ) -> None:
        """`isolation_overrides` opens the named functions' transactions at another level
        than CONTRACT.md section 3 gives (benchmarks compare levels with it); the functions
        keep their invariants at any level."""
        base = self._init_base(dsn, settings, workspace_id, isolation_overrides, overrides)
        self._owns_pool = pool is None
        self.pool = pool if pool is not None else make_pool(self.dsn, base)
        self._start_recorder()
        # closed (its buffer written) by this client's close, also on a pool of the caller's
        self._owns_recorder = self.recorder is not None

    # -- lifecycle -------------------------------------------------------------
    def close(self) -> None:
        if self._owns_recorder and self.recorder is not None:
            self.recorder.close()
            self._owns_recorder = False
        if self._owns_pool:
            self.pool.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def bound(self, workspace_id: uuid.UUID | str) -> Client:
        """A client that shares this pool and binds every transaction to one workspace."""
        scoped = Client.__new__(Client)
        self._share_with(scoped, workspace_id)
        scoped._owns_pool = False
        scoped._owns_recorder = False
        scoped.pool = self.pool
        return scoped

    # -- the generic call ------------------------------------------------------
    def call(self, name: str, /, **params: Any) -> Envelope:
        """Call an API function by name with named parameters; return its envelope.

        Retryable failures (retry_recommended, or a retryable SQLSTATE raised anywhere,
        COMMIT included) are retried with the same parameters, idempotency key included.
        """
        spec, params = self._prepare(name, params)
        self.stats._bump(self.stats.calls, name)
        started = time.perf_counter()
        retried = [0]  # this call's retries (the shared counters mix concurrent calls)
        envelope = self._attempt(spec, params)
        maybe_committed = bool(envelope.pop(MAYBE_COMMITTED, False))
        if envelope.get("retry_recommended") and self.settings.retry_attempts > 1:
            # The retry machinery is built only after a retryable failure: most calls
            # succeed first time, and building it for each one cost a tenth of a call.
            # tenacity replays the first outcome, then waits and retries as configured.
            first = [envelope]

            def attempt() -> Envelope:
                nonlocal maybe_committed
                answer = first.pop() if first else self._attempt(spec, params)
                maybe_committed = bool(answer.pop(MAYBE_COMMITTED, False)) or maybe_committed
                return answer

            log_retry = self._retry_logger(name, uuid.uuid4().hex[:12], retried)
            envelope = Retrying(**self._retry_policy(log_retry))(attempt)
        if maybe_committed and not envelope.get("success"):
            envelope = self._outcome_unknown(spec, params, envelope)
        return self._finish(name, spec, params, envelope, started, retried[0])

    def _attempt(self, spec: FunctionSpec, params: dict[str, Any]) -> Envelope:
        turn = self._local_turn_key(spec, params)
        sent = False
        try:
            with (self._hot_rows.turn(turn, threading.Lock) if turn is not None
                  else contextlib.nullcontext()), self.pool.connection() as conn:
                sent = not spec.read_only
                return self._run(conn, spec, params)
        except (psycopg.Error, psycopg_pool.PoolTimeout, UnsendableArgument) as exc:
            return self._answer_error(exc, sent=sent)

    def _run(
        self, conn: psycopg.Connection[Any], spec: FunctionSpec, params: dict[str, Any]
    ) -> Envelope:
        """One attempt: the whole transaction as one message (see ClientBase._plan)."""
        query, args, call_index, lock_key = self._plan(spec, params)
        cursor = psycopg.ClientCursor(conn)
        try:
            cursor.execute(query, args)
            for _ in range(call_index):
                cursor.nextset()
            names = [column.name for column in cursor.description or ()]
            envelope = self._answer(spec, names, cursor.fetchall())
        except psycopg.Error as exc:
            self._noticed(spec, params, exc=exc)
            self._recover(conn, unlock=lock_key is not None)
            raise
        finally:
            cursor.close()
        self._noticed(spec, params, envelope)
        return envelope

    @staticmethod
    def _recover(conn: psycopg.Connection[Any], *, unlock: bool) -> None:
        """After a failed pipeline: end the transaction and drop any advisory lock held."""
        if conn.closed or conn.broken:
            return
        try:
            with conn.pipeline():
                if conn.info.transaction_status != TransactionStatus.IDLE:
                    conn.execute(queries.ROLLBACK)
                if unlock:
                    conn.execute(queries.UNLOCK_ALL)
        except psycopg.Error:
            conn.close()  # the pool discards a closed connection

    # -- several calls in one transaction ---------------------------------------------
    def run_transaction(
        self,
        callback: Callable[[Transaction], T],
        *,
        isolation: Isolation = Isolation.READ_COMMITTED,
        read_only: bool = False,
        statement_timeout_ms: int | None = None,
        deadline_s: float | None = None,
        attempts: int | None = None,
        base_s: float | None = None,
        multiplier: float = 2.0,
        max_s: float | None = None,
        name: str = "transaction",
    ) -> T:
        """Run `callback(tx)` in one transaction, retrying it whole on conflicts.

        See campaigndb.transaction for steps, optional steps, nesting and timeouts.
        """
        options = TransactionOptions(
            isolation=isolation, read_only=read_only,
            statement_timeout_ms=self._transaction_timeout_ms(statement_timeout_ms),
            deadline_s=deadline_s, attempts=attempts, base_s=base_s, multiplier=multiplier,
            max_s=max_s, name=name)
        return run_transaction(self, callback, options)

    # -- typed methods (campaigndb.operations: shared with AsyncClient) -------------
    def _typed(self, name: str, **params: Any) -> Envelope:
        envelope = self.call(name, **params)
        if not envelope.get("success"):
            raise exception_for(envelope, name)
        return envelope

    create_workspace = sync_method(ops.create_workspace)
    create_campaign_with_coverage = sync_method(ops.create_campaign_with_coverage)
    track_campaign_cost = sync_method(ops.track_campaign_cost)
    insert_businesses_batch = sync_method(ops.insert_businesses_batch)
    update_campaign_statistics = sync_method(ops.update_campaign_statistics)
    update_coverage_status = sync_method(ops.update_coverage_status)
    update_email_verification = sync_method(ops.update_email_verification)
    update_enrichment_batch = sync_method(ops.update_enrichment_batch)
    get_businesses_for_enrichment = sync_method(ops.get_businesses_for_enrichment)
    register_n8n_workflow = sync_method(ops.register_n8n_workflow)
    execute_campaign_atomically = sync_method(ops.execute_campaign_atomically)
    complete_campaign_execution = sync_method(ops.complete_campaign_execution)
    validate_campaign_execution_constraints = sync_method(
        ops.validate_campaign_execution_constraints)
    get_campaign_execution_metrics = sync_method(ops.get_campaign_execution_metrics)
    record_transaction_metric = sync_method(ops.record_transaction_metric)
    get_database_health_metrics = sync_method(ops.get_database_health_metrics)
    upsert_daily_kpi_batch = sync_method(ops.upsert_daily_kpi_batch)
    aggregate_monthly_kpis = sync_method(ops.aggregate_monthly_kpis)

    def iter_businesses_for_enrichment(
        self, campaign_id: uuid.UUID | str, enrichment_type: str, page_size: int = 100
    ) -> Iterator[BusinessRow]:
        """Every business that needs `enrichment_type`, page by page (keyset on id): no page
        overlaps or skips another, even while other processes enrich the campaign."""
        after: uuid.UUID | None = None
        while True:
            page = self.get_businesses_for_enrichment(
                campaign_id, enrichment_type, page_size, after_id=after)
            yield from page
            if len(page) < page_size:
                return
            after = page[-1].id
