"""The asyncio client: the same methods and guarantees as `Client`, on psycopg's async
connections and `AsyncConnectionPool`.

It shares everything but the I/O with the sync client (`ClientBase`: argument checks,
idempotency keys, each attempt's one-message transaction, the hot-row queueing, answers,
the metrics recorder; `campaigndb.operations`: the typed methods; the retry policy and the
classification; `campaigndb.transaction`: run_transaction's options, retries, timeouts and
step checks).

>>> async with AsyncClient() as db:                          # doctest: +SKIP
...     cost = await db.track_campaign_cost(campaign_id, "gmaps", 20, "0.40")
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar

import psycopg
import psycopg_pool
from psycopg.pq import TransactionStatus
from tenacity import AsyncRetrying

from campaigndb import operations as ops
from campaigndb import queries
from campaigndb.atransaction import AsyncTransaction, run_transaction
from campaigndb.client import ClientBase
from campaigndb.errors import MAYBE_COMMITTED, Envelope, UnsendableArgument, exception_for
from campaigndb.models import BusinessRow
from campaigndb.operations import async_method
from campaigndb.pool import make_async_pool
from campaigndb.queries import FunctionSpec, Isolation
from campaigndb.settings import Settings
from campaigndb.transaction import TransactionOptions

T = TypeVar("T")


class AsyncClient(ClientBase):
    """A pooled, retrying asyncio client; use `async with AsyncClient() as db:`."""

    def __init__(
        self,
        dsn: str | None = None,
        *,
        settings: Settings | None = None,
        pool: psycopg_pool.AsyncConnectionPool | None = None,
        workspace_id: uuid.UUID | str | None = None,
        isolation_overrides: Mapping[str, Isolation] | None = None,
        **overrides: Any,
    ) -> None:
        base = self._init_base(dsn, settings, workspace_id, isolation_overrides, overrides)
        self._owns_pool = pool is None
        self.pool = pool if pool is not None else make_async_pool(self.dsn, base)
        # MetricsRecorder as the sync client uses it: record() only appends to a buffer (no
        # I/O on the event loop); its own thread writes on a sync connection of its own.
        self._start_recorder()
        self._owns_recorder = self.recorder is not None

    async def open(self) -> None:
        if self._owns_pool:
            await self.pool.open(wait=True)

    async def close(self) -> None:
        """Close the pool (when this client made it) and flush the recorded metrics."""
        if self._owns_recorder and self.recorder is not None:
            # close() joins the flush thread and writes what is left: off the event loop
            await asyncio.to_thread(self.recorder.close)
            self._owns_recorder = False
        if self._owns_pool:
            await self.pool.close()

    async def __aenter__(self) -> AsyncClient:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def bound(self, workspace_id: uuid.UUID | str) -> AsyncClient:
        """A client that shares this pool and binds every transaction to one workspace."""
        scoped = AsyncClient.__new__(AsyncClient)
        self._share_with(scoped, workspace_id)
        scoped._owns_pool = False
        scoped._owns_recorder = False
        scoped.pool = self.pool
        return scoped

    async def call(self, name: str, /, **params: Any) -> Envelope:
        """Call an API function by name with named parameters; return its envelope
        (retried exactly like `Client.call`)."""
        spec, params = self._prepare(name, params)
        self.stats._bump(self.stats.calls, name)
        started = time.perf_counter()
        retried = [0]
        envelope = await self._attempt(spec, params)
        maybe_committed = bool(envelope.pop(MAYBE_COMMITTED, False))
        if envelope.get("retry_recommended") and self.settings.retry_attempts > 1:
            first = [envelope]

            async def attempt() -> Envelope:
                nonlocal maybe_committed
                answer = first.pop() if first else await self._attempt(spec, params)
                maybe_committed = bool(answer.pop(MAYBE_COMMITTED, False)) or maybe_committed
                return answer

            log_retry = self._retry_logger(name, uuid.uuid4().hex[:12], retried)
            envelope = await AsyncRetrying(**self._retry_policy(log_retry))(attempt)
        if maybe_committed and not envelope.get("success"):
            envelope = self._outcome_unknown(spec, params, envelope)
        return self._finish(name, spec, params, envelope, started, retried[0])

    async def _attempt(self, spec: FunctionSpec, params: dict[str, Any]) -> Envelope:
        turn = self._local_turn_key(spec, params)  # behind PgBouncer: see HotRows.turn
        sent = False
        try:
            async with (self._hot_rows.turn(turn, asyncio.Lock) if turn is not None
                        else contextlib.nullcontext()), self.pool.connection() as conn:
                sent = not spec.read_only
                return await self._run(conn, spec, params)
        except (psycopg.Error, psycopg_pool.PoolTimeout, UnsendableArgument) as exc:
            return self._answer_error(exc, sent=sent)

    async def _run(self, conn: psycopg.AsyncConnection[Any], spec: FunctionSpec,
                   params: dict[str, Any]) -> Envelope:
        query, args, call_index, lock_key = self._plan(spec, params)
        cursor = psycopg.AsyncClientCursor(conn)
        try:
            await cursor.execute(query, args)
            for _ in range(call_index):
                cursor.nextset()
            names = [column.name for column in cursor.description or ()]
            envelope = self._answer(spec, names, await cursor.fetchall())
        except psycopg.Error as exc:
            self._noticed(spec, params, exc=exc)
            await self._recover(conn, unlock=lock_key is not None)
            raise
        finally:
            await cursor.close()
        self._noticed(spec, params, envelope)
        return envelope

    @staticmethod
    async def _recover(conn: psycopg.AsyncConnection[Any], *, unlock: bool) -> None:
        if conn.closed or conn.broken:
            return
        try:
            if conn.info.transaction_status != TransactionStatus.IDLE:
                await conn.execute(queries.ROLLBACK)
            if unlock:
                await conn.execute(queries.UNLOCK_ALL)
        except psycopg.Error:
            await conn.close()

    # -- several calls in one transaction ---------------------------------------------
    async def run_transaction(
        self,
        callback: Callable[[AsyncTransaction], Awaitable[T]],
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
        """Run `await callback(tx)` in one transaction, retrying it whole on conflicts
        (the semantics of `Client.run_transaction`; see campaigndb.transaction)."""
        options = TransactionOptions(
            isolation=isolation, read_only=read_only,
            statement_timeout_ms=self._transaction_timeout_ms(statement_timeout_ms),
            deadline_s=deadline_s, attempts=attempts, base_s=base_s, multiplier=multiplier,
            max_s=max_s, name=name)
        return await run_transaction(self, callback, options)

    # -- typed methods (campaigndb.operations, shared with Client) ---------------------
    async def _typed(self, name: str, **params: Any) -> Envelope:
        envelope = await self.call(name, **params)
        if not envelope.get("success"):
            raise exception_for(envelope, name)
        return envelope

    create_workspace = async_method(ops.create_workspace)
    create_campaign_with_coverage = async_method(ops.create_campaign_with_coverage)
    track_campaign_cost = async_method(ops.track_campaign_cost)
    insert_businesses_batch = async_method(ops.insert_businesses_batch)
    update_campaign_statistics = async_method(ops.update_campaign_statistics)
    update_coverage_status = async_method(ops.update_coverage_status)
    update_email_verification = async_method(ops.update_email_verification)
    update_enrichment_batch = async_method(ops.update_enrichment_batch)
    get_businesses_for_enrichment = async_method(ops.get_businesses_for_enrichment)
    register_n8n_workflow = async_method(ops.register_n8n_workflow)
    execute_campaign_atomically = async_method(ops.execute_campaign_atomically)
    complete_campaign_execution = async_method(ops.complete_campaign_execution)
    validate_campaign_execution_constraints = async_method(
        ops.validate_campaign_execution_constraints)
    get_campaign_execution_metrics = async_method(ops.get_campaign_execution_metrics)
    record_transaction_metric = async_method(ops.record_transaction_metric)
    get_database_health_metrics = async_method(ops.get_database_health_metrics)
    upsert_daily_kpi_batch = async_method(ops.upsert_daily_kpi_batch)
    aggregate_monthly_kpis = async_method(ops.aggregate_monthly_kpis)

    async def iter_businesses_for_enrichment(
        self, campaign_id: uuid.UUID | str, enrichment_type: str, page_size: int = 100
    ) -> AsyncIterator[BusinessRow]:
        """Every business that needs `enrichment_type`, page by page (keyset on id)."""
        after: uuid.UUID | None = None
        while True:
            page = await self.get_businesses_for_enrichment(
                campaign_id, enrichment_type, page_size, after_id=after)
            for business in page:
                yield business
            if len(page) < page_size:
                return
            after = page[-1].id
