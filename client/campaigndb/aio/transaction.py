"""Several calls in one transaction with the asyncio client:
`await AsyncClient.run_transaction(callback, ...)`, `callback` being `async def body(tx)`.

The same semantics as the sync helper (campaigndb.core.transaction holds everything but the
I/O: options, retry policy, classification, timeout arithmetic, step-envelope checks,
attempt logs, statistics and metrics); only the statements are sent here, with
psycopg's async connections and tenacity's AsyncRetrying (its waits are asyncio.sleep, so
other tasks run while an attempt backs off).

>>> async def body(tx: AsyncTransaction) -> None:                # doctest: +SKIP
...     await tx.call("track_campaign_cost", p_campaign_id=cid, p_service="gmaps",
...                   p_items_processed=1, p_cost_usd=Decimal("0.10"), p_metadata={})
...     await tx.call("update_campaign_statistics", optional=True, p_campaign_id=cid)
>>> await db.run_transaction(body, isolation=Isolation.SERIALIZABLE)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from tenacity import AsyncRetrying

from campaigndb.aio.pool import checkout
from campaigndb.core import calls, statements
from campaigndb.core.connection import mark_touched, reset_if_touched_async
from campaigndb.core.exceptions import Envelope, UnsendableArgument
from campaigndb.core.transaction import TransactionOptions, TransactionRun, TransactionSteps

if TYPE_CHECKING:
    from campaigndb.aio.client import AsyncClient

T = TypeVar("T")


class AsyncTransaction(TransactionSteps):
    """The handle an `AsyncClient.run_transaction` callback works through (the methods of
    `Transaction`, awaited)."""

    def __init__(self, client: AsyncClient, conn: psycopg.AsyncConnection[Any],
                 run: TransactionRun, deadline: float | None) -> None:
        super().__init__(client, run, deadline)
        self._conn = conn

    @property
    def connection(self) -> psycopg.AsyncConnection[Any]:
        mark_touched(self._conn)
        return self._conn

    async def execute(self, query: str, params: Any = None) -> psycopg.AsyncCursor[Any]:
        """Plain SQL inside the transaction (the deadline applies)."""
        mark_touched(self._conn)
        prefix = self._timeout_prefix()
        if prefix:
            await self._conn.execute(prefix)
        return await self._conn.execute(query, params)

    async def _run_call(self, name: str, params: dict[str, Any]) -> Envelope:
        try:
            spec, statement, args, prefixed = self._statement(name, params)
        except UnsendableArgument as exc:  # refused before anything is sent
            return calls.answer_error(exc)
        async with psycopg.AsyncClientCursor(self._conn) as cursor:
            await cursor.execute(statement, args)
            if prefixed:
                cursor.nextset()
            return self._answer(spec, cursor, await cursor.fetchall())

    async def call(self, name: str, /, *, optional: bool = False, **params: Any) -> Envelope:
        """Call an API function inside the transaction and return its envelope (required:
        a failure raises StepFailed; optional: on a savepoint, a failure is recorded in
        `optional_failures` and undoes only this step)."""
        if not optional:
            return self._required(name, await self._run_call(name, params))
        try:
            async with self._conn.transaction():  # SAVEPOINT ... RELEASE / ROLLBACK TO
                envelope = await self._run_call(name, params)
        except psycopg.Error as exc:
            envelope = self._optional_error(exc)
        return self._optional_result(name, envelope)

    async def nested(self, body: Callable[[AsyncTransaction], Awaitable[T]]) -> T:
        """Run `await body(tx)` on a savepoint: if it raises, its work is undone and the
        error reaches the caller; the outer transaction goes on."""
        async with self._conn.transaction():
            return await body(self)


async def run_transaction(client: AsyncClient,
                          callback: Callable[[AsyncTransaction], Awaitable[T]],
                          options: TransactionOptions) -> T:
    run = TransactionRun(client, options)

    async def attempt() -> T:
        deadline = run.start_attempt()
        async with checkout(client.pool, client.dsn, client.settings) as conn:
            run.backend_pid = conn.info.backend_pid
            await conn.set_isolation_level(options.psycopg_isolation)
            await conn.set_read_only(options.read_only)
            try:
                async with conn.transaction():
                    for binding in statements.binding(client.workspace_id,
                                                      client.settings.workspace_token):
                        await conn.execute(binding)
                    tx = AsyncTransaction(client, conn, run, deadline)
                    result = await callback(tx)
                run.committed(tx.steps)
                return result
            finally:
                if not conn.closed:
                    await conn.set_isolation_level(None)
                    await conn.set_read_only(None)
                if not client.settings.pgbouncer:
                    await reset_if_touched_async(conn)

    with run.outcome():
        return await AsyncRetrying(**run.retry_policy())(attempt)
