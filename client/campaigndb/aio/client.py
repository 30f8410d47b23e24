"""The asyncio client: the same methods and guarantees as `Client`, on psycopg's async
connections and `AsyncConnectionPool`.

Only the I/O lives here; everything else is campaigndb.base's, shared with the sync client
(argument checks, idempotency keys, each attempt's one-message transaction, the hot-row
queueing, answers, the retry policy, statistics and metrics; the typed methods are the
declarations' own, awaited here).

>>> async with AsyncClient(dsn) as db:                       # doctest: +SKIP
...     cost = await db.track_campaign_cost(campaign_id, "gmaps", 20, "0.40")
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, Unpack

import psycopg
import psycopg_pool
from tenacity import AsyncRetrying

from campaigndb.aio.pool import checkout, make_async_pool, probe_async
from campaigndb.aio.replicas import AsyncReplicaSet
from campaigndb.aio.transaction import AsyncTransaction, run_transaction
from campaigndb.base import CallRun, ClientBase, TransactionArgs
from campaigndb.core import calls, statements
from campaigndb.core.exceptions import ConnectFailed, Envelope
from campaigndb.core.functions.leadgen import BusinessRow
from campaigndb.core.routing import WRITE_LSN, Target, router_from_settings
from campaigndb.settings import Settings

T = TypeVar("T")


class AsyncClient(ClientBase[psycopg_pool.AsyncConnectionPool]):
    """A pooled, retrying asyncio client; use `async with AsyncClient(dsn) as db:`
    (arguments: `ClientBase.__init__`)."""

    is_async = True

    def _new_pool(self, dsn: str, settings: Settings) -> psycopg_pool.AsyncConnectionPool:
        return make_async_pool(dsn, settings)

    async def open(self) -> None:
        if self._owns_pool:
            await probe_async(self.dsn, self.settings)
            await self.pool.open(wait=True)

    async def close(self) -> None:
        """Close the pool (when this client made it) and flush the recorded metrics."""
        if self._owns_recorder and self.recorder is not None:
            # close() joins the flush thread and writes what is left: off the event loop
            await asyncio.to_thread(self.recorder.close)
            self._owns_recorder = False
        if self._owns_pool:
            await self.pool.close()
        if self.__dict__.get("replicas") is not None:
            await self.__dict__["replicas"].close()

    async def __aenter__(self) -> AsyncClient:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def call(self, name: str, /, *, read_from_primary: bool = False,
                   **params: Any) -> Envelope:
        """Call an API function by name with named parameters; return its envelope
        (retried exactly like `Client.call`)."""
        run = CallRun(self, name, params)
        envelope = run.refused or run.take(await self._attempt(run, read_from_primary))
        policy = run.retries(envelope)
        if policy is not None:
            async def again() -> Envelope:
                return run.replay() or run.take(
                    await self._attempt(run, read_from_primary))

            envelope = await AsyncRetrying(**policy)(again)
        return run.finish(envelope)

    async def _typed(self, name: str, **params: Any) -> Envelope:
        return self._raise_for(name, await self.call(name, **params))

    @functools.cached_property
    def replicas(self) -> AsyncReplicaSet | None:
        """The replica pools (docs/replicas.md), None without replica DSNs."""
        router = router_from_settings(
            self.settings.replica_dsns, max_lag_s=self.settings.replica_max_lag_s,
            wait_s=self.settings.replica_wait_s,
            retry_after_s=self.settings.replica_retry_after_s)
        return AsyncReplicaSet(router, self.settings) if router is not None else None

    async def _attempt(self, run: CallRun,
                       read_from_primary: bool = False) -> Envelope:
        spec, params = run.spec, run.params
        replicas = self.replicas
        if (replicas is not None and replicas.router.target(
                spec, read_from_primary=read_from_primary) is Target.REPLICA):
            try:
                async with replicas.connection(spec) as rconn:
                    if rconn is not None:
                        return await self._run(rconn, run)
            except psycopg.Error as exc:
                return calls.answer_error(exc, sent=False)
        turn = self._local_turn_key(spec, params)  # behind PgBouncer: see HotRows.turn
        sent = False
        try:
            async with (self._hot_rows.turn(turn, asyncio.Lock) if turn is not None
                        else contextlib.nullcontext()), \
                    checkout(self.pool, self.dsn, self.settings) as conn:
                sent = not spec.read_only
                envelope = await self._run(conn, run)
                if replicas is not None and not spec.read_only:
                    row = await (await conn.execute(WRITE_LSN)).fetchone()
                    replicas.router.wrote(row[0] if row else None)
                return envelope
        except (psycopg.Error, psycopg_pool.PoolTimeout, ConnectFailed) as exc:
            return calls.answer_error(exc, sent=sent)

    async def _run(self, conn: psycopg.AsyncConnection[Any], run: CallRun) -> Envelope:
        spec, params = run.spec, run.params
        if self._citus is None:
            found = await (await conn.execute(statements.IS_CITUS)).fetchone()
            self._citus = found is not None
        prefix, query, call_index, lock_key = self._plan(spec, params, run.args, self._citus)
        try:
            async with psycopg.AsyncClientCursor(conn) as cursor:
                if prefix:
                    await cursor.execute(prefix)
                await cursor.execute(query, run.args)
                for _ in range(call_index):
                    cursor.nextset()
                rows = await cursor.fetchall()
                return self._answered(spec, params, cursor, rows)
        except psycopg.Error as exc:
            self._noticed(spec, params, exc=exc)
            await self._recover(conn, self._recovery(conn, lock_key))
            raise

    @staticmethod
    async def _recover(conn: psycopg.AsyncConnection[Any], recovery: list[str]) -> None:
        """As the sync client: the recovery statements in one pipeline."""
        if not recovery:
            return
        try:
            async with conn.pipeline():
                for statement in recovery:
                    await conn.execute(statement)
        except psycopg.Error:
            await conn.close()

    async def run_transaction(self, callback: Callable[[AsyncTransaction], Awaitable[T]],
                              **options: Unpack[TransactionArgs]) -> T:
        """Run `await callback(tx)` in one transaction, retrying it whole on conflicts
        (the semantics of `Client.run_transaction`)."""
        return await run_transaction(self, callback, self._transaction_options(options))

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
