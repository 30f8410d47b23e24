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
import dataclasses
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import psycopg
import psycopg_pool
from psycopg.pq import TransactionStatus
from psycopg.types.json import Jsonb
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_result,
    stop_after_attempt,
    wait_random_exponential,
)

from campaigndb import queries
from campaigndb.errors import Envelope, envelope_from_exception, envelope_ok, exception_for
from campaigndb.models import (
    BatchResult,
    Business,
    BusinessRow,
    CampaignCreated,
    CampaignData,
    CampaignStatistics,
    CostTracked,
    CoverageUpdated,
    DatabaseHealth,
    EmailVerified,
    Enrichment,
    EnrichmentResult,
    ExecutionCompleted,
    ExecutionMetrics,
    ExecutionStarted,
    ExecutionValidation,
    WorkflowRegistered,
    WorkspaceCreated,
    ZipCode,
)
from campaigndb.pool import make_pool
from campaigndb.queries import FUNCTIONS, FunctionSpec, Isolation
from campaigndb.recorder import MetricsRecorder
from campaigndb.settings import Settings, resolve_dsn
from campaigndb.transaction import Transaction, TransactionOptions, run_transaction

logger = logging.getLogger("campaigndb")
T = TypeVar("T")


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
    """Exponential backoff with full jitter, never shorter than the answer's retry_after_ms."""

    def __call__(self, retry_state: RetryCallState) -> float:
        delay = super().__call__(retry_state)
        outcome = retry_state.outcome
        if outcome is not None and not outcome.failed:
            after = (outcome.result() or {}).get("retry_after_ms")
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


class Client:
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
        base = settings or Settings()
        if dsn is not None:
            overrides["dsn"] = dsn
        if overrides:
            base = Settings(**{**base.model_dump(), **overrides})
        self.settings = base
        self.dsn = resolve_dsn(base)
        self._owns_pool = pool is None
        self.pool = pool if pool is not None else make_pool(self.dsn, base)
        bound = workspace_id if workspace_id is not None else base.workspace_id
        self.workspace_id = str(uuid.UUID(str(bound))) if bound is not None else None
        self.stats = CallStats()
        self.recorder: MetricsRecorder | None = (
            MetricsRecorder(self.pool, flush_interval_s=base.metrics_flush_interval_s)
            if base.record_metrics else None)
        self._hot_rows = HotRows(base.hot_row_ttl_s)
        self._specs = {
            name: dataclasses.replace(spec, isolation=(isolation_overrides or {})[name])
            if name in (isolation_overrides or {}) else spec
            for name, spec in FUNCTIONS.items()
        }

    # -- lifecycle -------------------------------------------------------------
    def close(self) -> None:
        if self.recorder is not None and self._owns_pool:
            self.recorder.close()
        if self._owns_pool:
            self.pool.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def bound(self, workspace_id: uuid.UUID | str) -> Client:
        """A client that shares this pool and binds every transaction to one workspace."""
        scoped = Client.__new__(Client)
        scoped.settings = self.settings
        scoped.dsn = self.dsn
        scoped._owns_pool = False
        scoped.pool = self.pool
        scoped.workspace_id = str(uuid.UUID(str(workspace_id)))
        scoped.stats = self.stats
        scoped._hot_rows = self._hot_rows
        scoped.recorder = self.recorder
        scoped._specs = self._specs
        return scoped

    # -- the generic call ------------------------------------------------------
    def call(self, name: str, /, **params: Any) -> Envelope:
        """Call an API function by name with named parameters; return its envelope.

        Retryable failures (retry_recommended, or a retryable SQLSTATE raised anywhere,
        COMMIT included) are retried with the same parameters, idempotency key included.
        """
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
        params = self._with_idempotency_key(spec, params)
        call_id = uuid.uuid4().hex[:12]
        self.stats._bump(self.stats.calls, name)
        started = time.perf_counter()
        retried = [0]  # this call's retries (the shared counters mix concurrent calls)

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

        envelope = self._attempt(spec, params)
        if envelope.get("retry_recommended") and self.settings.retry_attempts > 1:
            # The retry machinery is built only after a retryable failure: most calls
            # succeed first time, and building it for each one cost a tenth of a call.
            # tenacity replays the first outcome, then waits and retries as configured.
            first = [envelope]

            def attempt() -> Envelope:
                return first.pop() if first else self._attempt(spec, params)

            retrying = Retrying(
                stop=stop_after_attempt(self.settings.retry_attempts),
                wait=_RetryWait(multiplier=self.settings.retry_base_s,
                                max=self.settings.retry_max_s),
                retry=retry_if_result(lambda answer: bool(answer.get("retry_recommended"))),
                before_sleep=log_retry,
                retry_error_callback=lambda state: state.outcome.result() if state.outcome else {},
            )
            envelope = retrying(attempt)
        if not envelope.get("success"):
            self.stats._bump(self.stats.failures, name)
        elapsed_ms = (time.perf_counter() - started) * 1000
        self.stats.observe(elapsed_ms)
        if self.recorder is not None:
            campaign = params.get("p_campaign_id")
            self.recorder.record(
                name, duration_ms=elapsed_ms, success=bool(envelope.get("success")),
                campaign_id=str(campaign) if campaign else None,
                error_message=envelope.get("error"),
                retry_count=retried[0],
                isolation_level=spec.isolation.value)
        return envelope

    def _with_idempotency_key(self, spec: FunctionSpec, params: dict[str, Any]) -> dict[str, Any]:
        """Generate the idempotency key once per logical call (reused by every retry)."""
        key_param = spec.idempotency_param
        if key_param is None:
            return params
        if spec.idempotency_json_key is None:
            if params.get(key_param) is None:
                params = {**params, key_param: str(uuid.uuid4())}
            return params
        document = params.get(key_param)
        if isinstance(document, Mapping) and document.get(spec.idempotency_json_key) is None:
            document = {**document, spec.idempotency_json_key: str(uuid.uuid4())}
            params = {**params, key_param: document}
        return params

    def _attempt(self, spec: FunctionSpec, params: dict[str, Any]) -> Envelope:
        try:
            with self.pool.connection() as conn:
                return self._run(conn, spec, params)
        except psycopg_pool.PoolTimeout as exc:
            return envelope_from_exception(exc)
        except psycopg.Error as exc:
            if exc.sqlstate is None and not isinstance(
                exc, psycopg.OperationalError | psycopg.InterfaceError
            ):
                raise  # a client-side programming error, not an answer from the server
            return envelope_from_exception(exc)

    def _run(
        self, conn: psycopg.Connection[Any], spec: FunctionSpec, params: dict[str, Any]
    ) -> Envelope:
        """One attempt: the whole transaction as one simple-protocol message (one round trip).

        Client-side binding (psycopg's ClientCursor quotes every value) lets BEGIN, the call
        and COMMIT travel together; the server runs them in order and stops at the first
        error, leaving the transaction for `_recover` to roll back.
        """
        args = {
            name: Jsonb(value) if spec.params[name] == "jsonb" and not isinstance(value, str | None)
            else value
            for name, value in params.items()
        }
        lock_key = self._hot_row_lock_key(spec, params)
        statements: list[str] = []
        if lock_key is not None:
            # The lock is taken in a transaction of its own, before the SERIALIZABLE one
            # exists: a caller that queues here takes its snapshot only after the previous
            # holder committed, so it does not fail with 40001.
            statements += [queries.BEGIN, queries.hot_row_lock(lock_key), queries.COMMIT]
        statements.append(queries.begin(spec.isolation, spec.read_only))
        if self.settings.pgbouncer:
            statements.append(queries.set_local_statement_timeout(self.settings.statement_timeout_ms))
        if self.workspace_id is not None:
            statements.append(queries.set_local_workspace(self.workspace_id))
        call_index = len(statements)
        statements.append(spec.call_sql(tuple(args)))
        statements.append(queries.COMMIT)
        if lock_key is not None:
            statements.append(queries.hot_row_unlock(lock_key))
        cursor = psycopg.ClientCursor(conn)
        try:
            cursor.execute("; ".join(statements), args)
            for _ in range(call_index):
                cursor.nextset()
            if spec.returns == "table":
                names = [column.name for column in cursor.description or ()]
                rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
                return envelope_ok({"rows": rows})
            row = cursor.fetchone()
            if spec.returns == "scalar":
                return envelope_ok({"id": row[0] if row else None})
        except psycopg.Error as exc:
            if spec.hot_row_param and isinstance(
                exc, psycopg.errors.SerializationFailure | psycopg.errors.LockNotAvailable
            ):
                self._hot_rows.mark(spec, params)
            self._recover(conn, unlock=lock_key is not None)
            raise
        finally:
            cursor.close()
        if row is None or not isinstance(row[0], dict):
            raise psycopg.DataError(f"{spec.name} returned no envelope")
        if spec.hot_row_param and row[0].get("error_code") == "55P03":
            self._hot_rows.mark(spec, params)  # busy row (NOWAIT): queue the next attempt
        return row[0]

    def _hot_row_lock_key(self, spec: FunctionSpec, params: dict[str, Any]) -> int | None:
        mode = self.settings.hot_row_lock
        if (
            spec.hot_row_param is None
            or spec.isolation is Isolation.READ_COMMITTED
            or mode == "never"
            or self.settings.pgbouncer
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
            isolation=isolation, read_only=read_only, statement_timeout_ms=statement_timeout_ms,
            deadline_s=deadline_s, attempts=attempts, base_s=base_s, multiplier=multiplier,
            max_s=max_s, name=name)
        return run_transaction(self, callback, options)

    # -- typed methods -----------------------------------------------------------
    def _typed(self, name: str, **params: Any) -> Envelope:
        envelope = self.call(name, **params)
        if not envelope.get("success"):
            raise exception_for(envelope, name)
        return envelope

    def create_workspace(
        self, name: str, *, workspace_id: uuid.UUID | str | None = None
    ) -> WorkspaceCreated:
        """Create a workspace; `workspace_id` (generated when omitted) makes retries safe."""
        params: dict[str, Any] = {"p_name": name}
        if workspace_id is not None:
            params["p_workspace_id"] = str(workspace_id)
        return WorkspaceCreated.model_validate(self._typed("create_workspace", **params))

    def create_campaign_with_coverage(
        self,
        campaign: CampaignData | Mapping[str, Any],
        zip_codes: Sequence[str | ZipCode | Mapping[str, Any]],
    ) -> CampaignCreated:
        """Create a campaign and its ZIP coverage in one transaction."""
        data = campaign if isinstance(campaign, CampaignData) else CampaignData.model_validate(
            campaign
        )
        zips: list[Any] = [
            z.model_dump(mode="python", exclude_none=True) if isinstance(z, ZipCode)
            else z for z in zip_codes
        ]
        return CampaignCreated.model_validate(
            self._typed("create_campaign_with_coverage", p_campaign_data=data.to_json(),
                        p_zip_codes=zips)
        )

    def track_campaign_cost(
        self,
        campaign_id: uuid.UUID | str,
        service: str,
        items_processed: int,
        cost_usd: Decimal | int | str,
        metadata: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> CostTracked:
        """Record an API cost and add it to the campaign's total (SERIALIZABLE)."""
        params: dict[str, Any] = {
            "p_campaign_id": str(campaign_id),
            "p_service": service,
            "p_items_processed": items_processed,
            "p_cost_usd": Decimal(str(cost_usd)) if not isinstance(cost_usd, Decimal) else cost_usd,
            "p_metadata": dict(metadata or {}),
        }
        if idempotency_key is not None:
            params["p_idempotency_key"] = idempotency_key
        return CostTracked.model_validate(self._typed("track_campaign_cost", **params))

    def insert_businesses_batch(
        self,
        campaign_id: uuid.UUID | str,
        zip_code: str | None,
        businesses: Sequence[Business | Mapping[str, Any]],
    ) -> BatchResult:
        """Upsert scraped businesses (dedup on place_id); counts inserted/updated/skipped.

        Plain dicts go to the server as they are (no per-row validation in Python: the
        function checks every element and fails the whole batch on a wrong type).
        """
        rows = [b.model_dump(mode="python", exclude_none=True) if isinstance(b, Business)
                else b for b in businesses]
        return BatchResult.model_validate(self._typed(
            "insert_businesses_batch", p_campaign_id=str(campaign_id), p_zip_code=zip_code,
            p_businesses=rows))

    def update_campaign_statistics(self, campaign_id: uuid.UUID | str) -> CampaignStatistics:
        """Recompute a campaign's totals from its rows, under the campaign's row lock."""
        return CampaignStatistics.model_validate(
            self._typed("update_campaign_statistics", p_campaign_id=str(campaign_id)))

    def update_coverage_status(
        self,
        campaign_id: uuid.UUID | str,
        zip_code: str,
        businesses_found: int,
        emails_found: int,
        actual_cost: Decimal | int | str,
        status: str = "completed",
    ) -> CoverageUpdated:
        """Record the outcome of scraping one ZIP code of a campaign."""
        return CoverageUpdated.model_validate(self._typed(
            "update_coverage_status", p_campaign_id=str(campaign_id), p_zip_code=zip_code,
            p_businesses_found=businesses_found, p_emails_found=emails_found,
            p_actual_cost=Decimal(str(actual_cost)), p_status=status))

    def update_email_verification(
        self,
        business_id: uuid.UUID | str,
        email: str | None,
        verification_data: Mapping[str, Any],
    ) -> EmailVerified:
        """Store an e-mail verifier's verdict ({"status": "valid", ...}) on a business."""
        return EmailVerified.model_validate(self._typed(
            "update_email_verification", p_business_id=str(business_id), p_email=email,
            p_verification_data=dict(verification_data)))

    def update_enrichment_batch(
        self,
        enrichment_type: str,
        enrichments: Sequence[Enrichment | Mapping[str, Any]],
    ) -> EnrichmentResult:
        """Apply Facebook or LinkedIn findings; bad elements are reported, the rest apply."""
        rows = [e.model_dump(mode="json", exclude_none=True) if isinstance(e, Enrichment)
                else e for e in enrichments]
        return EnrichmentResult.model_validate(self._typed(
            "update_enrichment_batch", p_enrichment_type=enrichment_type, p_enrichments=rows))

    def get_businesses_for_enrichment(
        self,
        campaign_id: uuid.UUID | str,
        enrichment_type: str,
        limit: int = 100,
        offset: int = 0,
        *,
        after_id: uuid.UUID | str | None = None,
    ) -> list[BusinessRow]:
        """One page of the campaign's businesses that still need `enrichment_type`."""
        params: dict[str, Any] = {"p_campaign_id": str(campaign_id),
                                  "p_enrichment_type": enrichment_type,
                                  "p_limit": limit, "p_offset": offset}
        if after_id is not None:
            params["p_after_id"] = str(after_id)
        rows = self._typed("get_businesses_for_enrichment", **params)["rows"]
        return [BusinessRow.model_validate(row) for row in rows]

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

    def register_n8n_workflow(
        self,
        workspace_id: uuid.UUID | str,
        n8n_workflow_id: str,
        name: str,
        campaign_type: str,
        deployment_status: str = "active",
    ) -> WorkflowRegistered:
        """Register (or update) a workspace's n8n workflow."""
        return WorkflowRegistered.model_validate(self._typed(
            "register_n8n_workflow", p_workspace_id=str(workspace_id),
            p_n8n_workflow_id=n8n_workflow_id, p_name=name, p_campaign_type=campaign_type,
            p_deployment_status=deployment_status))

    def execute_campaign_atomically(
        self,
        workspace_id: uuid.UUID | str,
        workflow_id: uuid.UUID | str,
        campaign_approval_session_id: uuid.UUID | str | None,
        campaign_name: str,
        campaign_type: str,
        execution_config: Mapping[str, Any] | None = None,
        *,
        execution_id: uuid.UUID | str | None = None,
    ) -> ExecutionStarted:
        """Record an execution, bump the workflow's counter and audit it, atomically
        (REPEATABLE READ; `execution_id`, generated when omitted, makes retries safe)."""
        params: dict[str, Any] = {
            "p_workspace_id": str(workspace_id),
            "p_workspace_n8n_workflow_id": str(workflow_id),
            "p_campaign_approval_session_id": (str(campaign_approval_session_id)
                                               if campaign_approval_session_id else None),
            "p_campaign_name": campaign_name,
            "p_campaign_type": campaign_type,
            "p_execution_config": dict(execution_config or {}),
        }
        if execution_id is not None:
            params["p_execution_id"] = str(execution_id)
        return ExecutionStarted.model_validate(
            self._typed("execute_campaign_atomically", **params))

    def complete_campaign_execution(
        self,
        execution_id: uuid.UUID | str,
        status: str,
        result: Mapping[str, Any] | None = None,
        error_message: str | None = None,
    ) -> ExecutionCompleted:
        """Finish a pending or running execution as completed or failed."""
        return ExecutionCompleted.model_validate(self._typed(
            "complete_campaign_execution", p_execution_id=str(execution_id), p_status=status,
            p_result=dict(result) if result is not None else None,
            p_error_message=error_message))

    def validate_campaign_execution_constraints(
        self, workspace_id: uuid.UUID | str, workflow_id: uuid.UUID | str, campaign_type: str
    ) -> ExecutionValidation:
        """Would execute_campaign_atomically accept this launch?  (No writes.)"""
        return ExecutionValidation.model_validate(self._typed(
            "validate_campaign_execution_constraints", p_workspace_id=str(workspace_id),
            p_workspace_n8n_workflow_id=str(workflow_id), p_campaign_type=campaign_type))

    def get_campaign_execution_metrics(
        self, workspace_id: uuid.UUID | str, since: datetime | None = None
    ) -> ExecutionMetrics:
        """Counts, success rate, average and p95 duration, peak concurrency since `since`."""
        params: dict[str, Any] = {"p_workspace_id": str(workspace_id)}
        if since is not None:
            params["p_since"] = since
        return ExecutionMetrics.model_validate(
            self._typed("get_campaign_execution_metrics", **params))

    def record_transaction_metric(
        self,
        operation_name: str,
        campaign_id: uuid.UUID | str | None,
        duration_ms: int,
        success: bool,
        error_message: str | None = None,
        retry_count: int = 0,
        isolation_level: str | None = None,
    ) -> uuid.UUID:
        """Store one measurement in transaction_metrics; returns its id."""
        envelope = self._typed(
            "record_transaction_metric", p_operation_name=operation_name,
            p_campaign_id=str(campaign_id) if campaign_id else None, p_duration_ms=duration_ms,
            p_success=success, p_error_message=error_message, p_retry_count=retry_count,
            p_isolation_level=isolation_level)
        return uuid.UUID(str(envelope["id"]))

    def get_database_health_metrics(self) -> DatabaseHealth:
        """Connections, cache hit ratio, size, longest transaction, waiting locks, deadlocks."""
        return DatabaseHealth.model_validate(self._typed("get_database_health_metrics"))
