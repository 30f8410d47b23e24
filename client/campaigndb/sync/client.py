"""The sync client: one typed method per API function plus `call()`, with retries.

Only the I/O lives here (the pool, one message per attempt, the recovery after a failed
one); everything else is campaigndb.base's, shared with campaigndb.aio.client.

>>> with Client(dsn) as db:                                  # doctest: +SKIP
...     ws = db.create_workspace("Acme")
"""

from __future__ import annotations

import contextlib
import functools
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar, Unpack

import psycopg
import psycopg_pool
from tenacity import Retrying

from campaigndb.base import CallRun, ClientBase, TransactionArgs
from campaigndb.core import calls, statements
from campaigndb.core.exceptions import ConnectFailed, Envelope
from campaigndb.core.functions.leadgen import BusinessRow
from campaigndb.core.routing import WRITE_LSN, Target, router_from_settings
from campaigndb.settings import Settings
from campaigndb.sync.pool import checkout, make_pool
from campaigndb.sync.replicas import ReplicaSet
from campaigndb.sync.transaction import Transaction, run_transaction

T = TypeVar("T")


class Client(ClientBase[psycopg_pool.ConnectionPool]):
    """A pooled, retrying client of the campaigndb API functions (arguments:
    `ClientBase.__init__`)."""

    def _new_pool(self, dsn: str, settings: Settings) -> psycopg_pool.ConnectionPool:
        return make_pool(dsn, settings)

    def close(self) -> None:
        if self._owns_recorder and self.recorder is not None:
            self.recorder.close()
            self._owns_recorder = False
        if self._owns_pool:
            self.pool.close()
        if self.__dict__.get("replicas") is not None:
            self.__dict__["replicas"].close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, name: str, /, *, read_from_primary: bool = False,
             **params: Any) -> Envelope:
        """Call an API function by name with named parameters; return its envelope.

        Retryable failures (retry_recommended, or a retryable SQLSTATE raised anywhere,
        COMMIT included) are retried with the same parameters, idempotency key included.
        """
        run = CallRun(self, name, params)
        envelope = run.refused or run.take(self._attempt(run, read_from_primary))
        policy = run.retries(envelope)
        if policy is not None:
            envelope = Retrying(**policy)(
                lambda: run.replay() or run.take(
                    self._attempt(run, read_from_primary)))
        return run.finish(envelope)

    def _typed(self, name: str, **params: Any) -> Envelope:
        return self._raise_for(name, self.call(name, **params))

    @functools.cached_property
    def replicas(self) -> ReplicaSet | None:
        """The replica pools (docs/replicas.md), None without replica DSNs."""
        router = router_from_settings(
            self.settings.replica_dsns, max_lag_s=self.settings.replica_max_lag_s,
            wait_s=self.settings.replica_wait_s,
            retry_after_s=self.settings.replica_retry_after_s)
        return ReplicaSet(router, self.settings) if router is not None else None

    def _attempt(self, run: CallRun,
                 read_from_primary: bool = False) -> Envelope:
        spec, params = run.spec, run.params
        replicas = self.replicas
        if (replicas is not None and replicas.router.target(
                spec, read_from_primary=read_from_primary) is Target.REPLICA):
            try:
                with replicas.connection(spec) as conn:
                    if conn is not None:
                        return self._run(conn, run)
            except psycopg.Error as exc:
                return calls.answer_error(exc, sent=False)
        turn = self._local_turn_key(spec, params)  # behind PgBouncer: see HotRows.turn
        sent = False
        try:
            with (self._hot_rows.turn(turn, threading.Lock) if turn is not None
                  else contextlib.nullcontext()), \
                    checkout(self.pool, self.dsn, self.settings) as conn:
                sent = not spec.read_only
                envelope = self._run(conn, run)
                if replicas is not None and not spec.read_only:
                    row = conn.execute(WRITE_LSN).fetchone()  # after commit: see docs
                    replicas.router.wrote(row[0] if row else None)
                return envelope
        except (psycopg.Error, psycopg_pool.PoolTimeout, ConnectFailed) as exc:
            return calls.answer_error(exc, sent=sent)

    def _run(self, conn: psycopg.Connection[Any], run: CallRun) -> Envelope:
        """One attempt: the whole transaction as one message (see ClientBase._plan)."""
        spec, params = run.spec, run.params
        if self._citus is None:
            self._citus = conn.execute(statements.IS_CITUS).fetchone() is not None
        prefix, query, call_index, lock_key = self._plan(spec, params, run.args, self._citus)
        try:
            with psycopg.ClientCursor(conn) as cursor:
                if prefix:
                    cursor.execute(prefix)
                cursor.execute(query, run.args)
                for _ in range(call_index):
                    cursor.nextset()
                return self._answered(spec, params, cursor, cursor.fetchall())
        except psycopg.Error as exc:
            self._noticed(spec, params, exc=exc)
            self._recover(conn, self._recovery(conn, lock_key))
            raise

    @staticmethod
    def _recover(conn: psycopg.Connection[Any], recovery: list[str]) -> None:
        if not recovery:
            return
        try:
            with conn.pipeline():
                for statement in recovery:
                    conn.execute(statement)
        except psycopg.Error:
            conn.close()  # the pool discards a closed connection

    def run_transaction(self, callback: Callable[[Transaction], T],
                        **options: Unpack[TransactionArgs]) -> T:
        """Run `callback(tx)` in one transaction, retrying it whole on conflicts (options:
        isolation, read_only, statement_timeout_ms, deadline_s, attempts, base_s,
        multiplier, max_s, name; see campaigndb.core.transaction)."""
        return run_transaction(self, callback, self._transaction_options(options))

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
