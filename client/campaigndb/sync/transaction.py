"""Several calls in one transaction with the sync client: `Client.run_transaction`.

Only the I/O lives here; the semantics (options, retries, timeouts, step checks, logs,
statistics) are campaigndb.core.transaction's, shared with campaigndb.aio.transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
from tenacity import Retrying

from campaigndb.core import calls, statements
from campaigndb.core.connection import mark_touched, reset_if_touched
from campaigndb.core.exceptions import Envelope, UnsendableArgument
from campaigndb.core.transaction import TransactionOptions, TransactionRun, TransactionSteps
from campaigndb.sync.pool import checkout

if TYPE_CHECKING:
    from campaigndb.sync.client import Client

T = TypeVar("T")


class Transaction(TransactionSteps):
    """The handle a `Client.run_transaction` callback works through."""

    def __init__(self, client: Client, conn: psycopg.Connection[Any], run: TransactionRun,
                 deadline: float | None) -> None:
        super().__init__(client, run, deadline)
        self._conn = conn

    @property
    def connection(self) -> psycopg.Connection[Any]:
        mark_touched(self._conn)
        return self._conn

    def execute(self, query: str, params: Any = None) -> psycopg.Cursor[Any]:
        """Plain SQL inside the transaction (the deadline applies)."""
        mark_touched(self._conn)
        prefix = self._timeout_prefix()
        if prefix:
            self._conn.execute(prefix)
        return self._conn.execute(query, params)

    def _run_call(self, name: str, params: dict[str, Any]) -> Envelope:
        try:
            spec, statement, args, prefixed = self._statement(name, params)
        except UnsendableArgument as exc:  # refused before anything is sent
            return calls.answer_error(exc)
        with psycopg.ClientCursor(self._conn) as cursor:
            cursor.execute(statement, args)
            if prefixed:
                cursor.nextset()
            return self._answer(spec, cursor, cursor.fetchall())

    def call(self, name: str, /, *, optional: bool = False, **params: Any) -> Envelope:
        """Call an API function inside the transaction and return its envelope.

        Required (default): a failure aborts the transaction (raises StepFailed, retried as a
        whole when the envelope recommends it).  Optional: the step runs on a savepoint; a
        failure is recorded in `optional_failures`, undoes only this step, and is returned.
        """
        if not optional:
            return self._required(name, self._run_call(name, params))
        try:
            with self._conn.transaction():  # SAVEPOINT ... RELEASE / ROLLBACK TO
                envelope = self._run_call(name, params)
        except psycopg.Error as exc:
            envelope = self._optional_error(exc)
        return self._optional_result(name, envelope)

    def nested(self, body: Callable[[Transaction], T]) -> T:
        """Run `body` on a savepoint: if it raises, its work is undone and the error
        reaches the caller; the outer transaction goes on."""
        with self._conn.transaction():
            return body(self)


def run_transaction(client: Client, callback: Callable[[Transaction], T],
                    options: TransactionOptions) -> T:
    run = TransactionRun(client, options)

    def attempt() -> T:
        deadline = run.start_attempt()
        with checkout(client.pool, client.dsn, client.settings) as conn:
            run.backend_pid = conn.info.backend_pid
            conn.isolation_level = options.psycopg_isolation
            conn.read_only = options.read_only
            try:
                with conn.transaction():
                    for binding in statements.binding(client.workspace_id,
                                                      client.settings.workspace_token):
                        conn.execute(binding)
                    tx = Transaction(client, conn, run, deadline)
                    result = callback(tx)
                run.committed(tx.steps)
                return result
            finally:
                if not conn.closed:
                    conn.isolation_level = None
                    conn.read_only = None
                if not client.settings.pgbouncer:
                    reset_if_touched(conn)

    with run.outcome():
        return Retrying(**run.retry_policy())(attempt)
