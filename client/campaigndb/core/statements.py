"""Every SQL statement the client sends, in one place.

The API calls are rendered from each function's declaration (`campaigndb.core.declare`);
a test resolves each declared signature with `to_regprocedure` against a migrated
database, so Python and SQL cannot drift apart.  Values always travel as placeholders,
except the ints and uuids below, which the client validated and formats itself.
"""

from __future__ import annotations

from functools import lru_cache
from uuid import UUID

from campaigndb.core.tokens import set_local_token

BEGIN = "BEGIN"
COMMIT = "COMMIT"
ROLLBACK = "ROLLBACK"
UNLOCK_ALL = "SELECT pg_catalog.pg_advisory_unlock_all()"
RESOLVE_FUNCTION = "SELECT pg_catalog.to_regprocedure(%s)::text"

#: Advisory-lock namespace of the pre-snapshot hot-row lock (the two-int4 form keeps it
#: apart from single-bigint advisory locks other applications may take).
HOT_ROW_LOCK_NAMESPACE = 0x43444201

# The metrics flush: one message, one round trip, committed asynchronously (SET LOCAL, so
# that the setting ends with the transaction, also behind PgBouncer).  A measurement is not
# a caller's data: a server crash may lose the last wal_writer_delay of them, as a client
# crash loses its buffer, and the flush never waits for a WAL flush of its own.
FLUSH_METRICS = ("BEGIN; SET LOCAL synchronous_commit = off; "
                 "SELECT public.record_transaction_metrics(%s::jsonb); COMMIT")
FLUSH_METRICS_RESULT = 2  # the SELECT's result among the message's four


@lru_cache(maxsize=256)
def call_sql(name: str, args: tuple[tuple[str, str], ...], table: bool = False) -> str:
    """SELECT public.name(p_a => %(p_a)s::type, ...).  Names and types come from the
    declarations (identifiers checked here), never from callers.  Rendered once per shape:
    composing psycopg sql objects on every call cost more than the server's work for a
    small call."""
    for identifier in (name, *(n for n, _ in args)):
        if not identifier.isidentifier():
            raise ValueError(f"not an identifier: {identifier!r}")
    rendered = ", ".join(f"{n} => %({n})s::{t}" for n, t in args)
    if table:
        return f"SELECT * FROM public.{name}({rendered})"
    return f"SELECT public.{name}({rendered})"


def begin(isolation: str, read_only: bool = False) -> str:
    return f"BEGIN ISOLATION LEVEL {isolation}{' READ ONLY' if read_only else ''}"


def set_local_statement_timeout(ms: int) -> str:
    return f"SET LOCAL statement_timeout = {int(ms)}"


def set_local_workspace(workspace_id: UUID | str) -> str:
    return f"SET LOCAL campaigndb.workspace_id = '{UUID(str(workspace_id))}'"


def binding(workspace_id: UUID | str | None, token: str | None) -> list[str]:
    """The SET LOCALs that bind a transaction: the narrowing workspace and the signed
    workspace token (docs/tenancy.md), each only when configured."""
    return ([set_local_workspace(workspace_id)] if workspace_id is not None else []) + (
        [set_local_token(token)] if token else [])


def hot_row_lock(key: int) -> str:
    return f"SELECT pg_catalog.pg_advisory_lock({HOT_ROW_LOCK_NAMESPACE}, {int(key)})"


def hot_row_unlock(key: int) -> str:
    return f"SELECT pg_catalog.pg_advisory_unlock({HOT_ROW_LOCK_NAMESPACE}, {int(key)})"


#: Whether the server is a Citus coordinator (asked once per client: see `attempt`'s split).
IS_CITUS = "SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus'"


def attempt(call: str, *, isolation: str, read_only: bool, lock_key: int | None,
            statement_timeout_ms: int | None, workspace_id: str | None,
            token: str | None = None, split: bool = False) -> tuple[str, str, int]:
    """One call's whole transaction as one simple-protocol message (one round trip):
    (its text, the index of the call's result among the statements).

    BEGIN at the function's isolation, SET LOCALs, the call, COMMIT.  The server runs them
    in order and stops at the first error, leaving the transaction for `recovery` to
    roll back.  With a hot-row `lock_key`, the advisory lock is taken in a transaction of
    its own before the snapshot-isolated one exists: a caller that queues there takes its
    snapshot only after the previous holder committed, so it does not fail with 40001.

    Returns (prefix, text, call index in text); prefix is empty but with `split` on a Citus
    coordinator when there are SET LOCALs: there they go in a message of their own (a
    second round trip), as Citus forwards SET LOCAL to the worker running a delegated call
    only when the call comes in a later message (docs/scale-out.md, "The client on Citus").
    """
    statements: list[str] = []
    if lock_key is not None:
        statements += [BEGIN, hot_row_lock(lock_key), COMMIT]
    statements.append(begin(isolation, read_only))
    if statement_timeout_ms is not None:
        statements.append(set_local_statement_timeout(statement_timeout_ms))
    statements += binding(workspace_id, token)
    prefix: list[str] = []
    if split and statements[-1] != begin(isolation, read_only):
        prefix, statements = statements, []
    call_index = len(statements)
    statements += [call, COMMIT]
    if lock_key is not None:
        statements.append(hot_row_unlock(lock_key))
    return "; ".join(prefix), "; ".join(statements), call_index


def recovery(in_transaction: bool, unlock: bool) -> list[str]:
    """After a failed attempt: the statements that end its transaction and drop any
    advisory lock it held (sent in one pipeline by both clients)."""
    return ([ROLLBACK] if in_transaction else []) + ([UNLOCK_ALL] if unlock else [])
