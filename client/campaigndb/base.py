"""What `Client` and `AsyncClient` share, all of it without I/O: settings, statistics, the
hot-row table, the declarations, and each call's plan, answer and bookkeeping
(`CallRun`).  The two I/O layers (campaigndb.sync, campaigndb.aio) only send.

One logical call = one idempotency key (generated here when the caller gave none), reused
by every attempt; each attempt is one whole transaction sent as one pipeline (one network
round trip): BEGIN at the function's isolation, SET LOCAL statement_timeout (and the
workspace binding), the function call, COMMIT.  A failed attempt is never finished on
another connection: the next attempt starts again from BEGIN, and the function's own
idempotency makes a repeat of a write that did commit answer `replayed: true`.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Generic, Self, TypedDict, TypeVar

import psycopg
from tenacity import RetryCallState

from campaigndb.core import calls, statements
from campaigndb.core.declare import FUNCTIONS, FunctionSpec, Isolation
from campaigndb.core.errors import MAYBE_COMMITTED, exception_for
from campaigndb.core.exceptions import Envelope, UnsendableArgument
from campaigndb.core.functions import Operations
from campaigndb.core.hotrows import HotRows, hot_row_key
from campaigndb.core.retry import call_policy
from campaigndb.core.transaction import TransactionOptions
from campaigndb.observe.recorder import MetricsRecorder, start_recorder
from campaigndb.observe.stats import CallStats
from campaigndb.settings import Settings, resolve_dsn

logger = logging.getLogger("campaigndb")
PoolT = TypeVar("PoolT")


class TransactionArgs(TypedDict, total=False):
    """run_transaction's options (see campaigndb.core.transaction)."""

    isolation: Isolation
    read_only: bool
    statement_timeout_ms: int | None
    deadline_s: float | None
    attempts: int | None
    base_s: float | None
    multiplier: float
    max_s: float | None
    name: str


class ClientBase(Operations, Generic[PoolT]):
    """The state and the I/O-free steps of a client (its typed methods: `Operations`)."""

    is_async = False
    settings: Settings
    dsn: str
    workspace_id: str | None
    stats: CallStats
    recorder: MetricsRecorder | None
    pool: PoolT
    _owns_pool: bool
    _owns_recorder: bool
    _hot_rows: HotRows
    #: whether the server is a Citus coordinator; None until the first call asks it
    _citus: bool | None = None
    _specs: dict[str, FunctionSpec]

    def __init__(
        self,
        dsn: str | None = None,
        *,
        settings: Settings | None = None,
        pool: PoolT | None = None,
        workspace_id: uuid.UUID | str | None = None,
        isolation_overrides: Mapping[str, Isolation] | None = None,
        **overrides: Any,
    ) -> None:
        """`dsn` (or CAMPAIGNDB_DSN) is required; `pool` shares a pool of the caller's;
        `isolation_overrides` opens the named functions' transactions at another level
        than their declaration gives (benchmarks compare levels with it; the functions
        keep their invariants at any level); `overrides` are Settings fields."""
        base = self._init_base(dsn, settings, workspace_id, isolation_overrides, overrides)
        self._owns_pool = pool is None
        self.pool = pool if pool is not None else self._new_pool(self.dsn, base)

    def _new_pool(self, dsn: str, settings: Settings) -> PoolT:
        raise NotImplementedError

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
        self._hot_rows = HotRows(base.hot_row_ttl_s)
        self._specs = {
            name: dataclasses.replace(spec, isolation=(isolation_overrides or {})[name])
            if name in (isolation_overrides or {}) else spec
            for name, spec in FUNCTIONS.items()
        }
        self.recorder = start_recorder(base, self.dsn)
        # closed (its buffer written) by this client's close, also on a pool of the caller's
        self._owns_recorder = self.recorder is not None
        return base

    def bound(self, workspace_id: uuid.UUID | str) -> Self:
        """A client that shares this pool and binds every transaction to one workspace."""
        scoped = self._view()
        scoped.workspace_id = str(uuid.UUID(str(workspace_id)))
        return scoped

    def with_settings(self, **overrides: Any) -> Self:
        """A client that shares this pool (and statistics) with other call settings, e.g.
        `retry_attempts=1`; the pool's own settings (sizes, timeouts) stay this client's."""
        scoped = self._view()
        scoped.settings = self.settings.model_copy(update=overrides)
        return scoped

    def _view(self) -> Self:
        """A copy sharing everything, owning nothing (the replica pools made first, so that
        the copy shares them rather than making its own)."""
        getattr(self, "replicas", None)
        scoped = type(self).__new__(type(self))
        scoped.__dict__.update(self.__dict__)
        scoped._owns_pool = False
        scoped._owns_recorder = False
        return scoped

    def _prepare(self, name: str, params: dict[str, Any],
                 new_key: Callable[[], str] | None = None
                 ) -> tuple[FunctionSpec, dict[str, Any]]:
        """Check a call's name and parameters; add its idempotency key (once per call;
        `new_key` makes it, a random uuid by default)."""
        spec = calls.check(self._specs, name, params)
        return spec, calls.with_idempotency_key(spec, params, new_key or calls.random_key)

    def _transaction_options(self, args: TransactionArgs) -> TransactionOptions:
        """run_transaction's options; behind PgBouncer, the configured statement timeout
        when none is given (PgBouncer refuses the startup `options` that set it for a
        direct connection's whole session, so each transaction sets it with SET LOCAL)."""
        options = TransactionOptions(**args)
        if (options.statement_timeout_ms is None and self.settings.pgbouncer
                and self.settings.statement_timeout_ms):
            options = dataclasses.replace(
                options, statement_timeout_ms=self.settings.statement_timeout_ms)
        return options

    def _plan(self, spec: FunctionSpec, params: dict[str, Any], args: dict[str, Any],
              split: bool = False) -> tuple[str, str, int, int | None]:
        """One attempt's message: (prefix, SQL text, index of the call's result, lock key);
        see statements.attempt (split: the server is a Citus coordinator).  `args` are the
        call's bound arguments (CallRun.args), quoted client-side by psycopg's
        ClientCursor."""
        lock_key = None if self.settings.pgbouncer else self._hot_row(spec, params)
        prefix, query, call_index = statements.attempt(
            spec.call_sql(tuple(args)), isolation=spec.isolation.value,
            read_only=spec.read_only, lock_key=lock_key,
            statement_timeout_ms=(self.settings.statement_timeout_ms
                                  if self.settings.pgbouncer else None),
            workspace_id=self.workspace_id, token=self.settings.workspace_token, split=split)
        return prefix, query, call_index, lock_key

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
            key = hot_row_key(value)
        except ValueError:
            return None  # not a uuid: the server answers with its own error
        if mode == "always" or self._hot_rows.is_hot(spec, params):
            return key
        return None

    def _answered(self, spec: FunctionSpec, params: dict[str, Any], cursor: Any,
                  rows: list[Any]) -> Envelope:
        envelope = calls.answer(spec, cursor, rows)
        self._noticed(spec, params, envelope)
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
    def _recovery(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any],
                  lock_key: int | None) -> list[str]:
        """After a failed attempt: what ends its transaction and drops its lock (nothing
        when the connection is gone: the pool discards it)."""
        if conn.closed or conn.broken:
            return []
        return statements.recovery(
            conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE,
            lock_key is not None)

    @staticmethod
    def _raise_for(name: str, envelope: Envelope) -> Envelope:
        if not envelope.get("success"):
            raise exception_for(envelope, name)
        return envelope


class CallRun:
    """One logical call through either client: its checks, statistics, retry policy,
    outcome and log lines.  The client sends its attempts (`Client.call`)."""

    def __init__(self, client: ClientBase[Any], name: str, params: dict[str, Any]) -> None:
        self.client = client
        self.name = name
        self.spec, self.params = client._prepare(name, params)
        client.stats._bump(client.stats.calls, name)
        self.started = time.perf_counter()
        #: the arguments as sent by every attempt, bound once; or the answer to a call
        #: refused before anything is sent (a value no JSON can hold, an oversize array)
        self.args: dict[str, Any] = {}
        self.refused: Envelope | None = None
        try:
            self.args = calls.bind(self.spec, self.params)
        except UnsendableArgument as exc:
            self.refused = calls.answer_error(exc)
        self.retried = 0  # this call's retries (the shared counters mix concurrent calls)
        self.maybe_committed = False
        self._first: list[Envelope] = []
        self.call_id = ""

    def take(self, envelope: Envelope) -> Envelope:
        """An attempt's answer (noting whether its write may have committed)."""
        self.maybe_committed = bool(envelope.pop(MAYBE_COMMITTED, False)) or self.maybe_committed
        return envelope

    def retries(self, first: Envelope) -> dict[str, Any] | None:
        """tenacity's arguments when the first answer calls for retries, else None.  The
        retry machinery is built only then (most calls succeed first time, and building it
        for each one cost a tenth of a call); `replay` gives tenacity the first answer."""
        settings = self.client.settings
        if not first.get("retry_recommended") or settings.retry_attempts <= 1:
            return None
        self._first = [first]
        self.call_id = uuid.uuid4().hex[:12]
        return call_policy(settings.retry_attempts, settings.retry_base_s,
                           settings.retry_max_s, self._log_retry)

    def replay(self) -> Envelope | None:
        return self._first.pop() if self._first else None

    def _log_retry(self, state: RetryCallState) -> None:
        envelope = state.outcome.result() if state.outcome else {}
        delay = state.next_action.sleep if state.next_action else 0.0
        self.client.stats._bump(self.client.stats.retries, self.name)
        self.retried += 1
        call_id = self.call_id
        logger.info(
            "retry operation=%s attempt=%d sqlstate=%s delay_ms=%.1f call_id=%s",
            self.name, state.attempt_number, envelope.get("error_code"), delay * 1000, call_id,
            extra={"operation": self.name, "attempt": state.attempt_number,
                   "sqlstate": envelope.get("error_code"), "delay_s": delay,
                   "call_id": call_id},
        )

    def finish(self, envelope: Envelope) -> Envelope:
        """The caller's answer, counted, logged and recorded."""
        if self.maybe_committed and not envelope.get("success"):
            envelope = calls.outcome_unknown(self.spec, self.params, envelope)
        client, name = self.client, self.name
        elapsed_ms = (time.perf_counter() - self.started) * 1000
        if not envelope.get("success"):
            client.stats._bump(client.stats.failures, name)
            logger.warning(
                "call failed operation=%s sqlstate=%s retries=%d duration_ms=%.1f error=%s",
                name, envelope.get("error_code"), self.retried, elapsed_ms,
                envelope.get("error"),
                extra={"operation": name, "sqlstate": envelope.get("error_code"),
                       "retries": self.retried, "duration_ms": elapsed_ms,
                       "error": envelope.get("error")})
        client.stats.observe(elapsed_ms)
        if client.recorder is not None:
            client.recorder.record(
                name, duration_ms=elapsed_ms, success=bool(envelope.get("success")),
                campaign_id=calls.campaign_for_metrics(self.params.get("p_campaign_id")),
                error_message=envelope.get("error"), retry_count=self.retried,
                isolation_level=self.spec.isolation.value)
        return envelope
