"""Errors: one mapping from SQLSTATE and server diagnostics to envelopes and typed exceptions.

Nothing here parses message text: the SQLSTATE (`exc.sqlstate`) and the server's
diagnostics (`exc.diag`) carry everything, but for one Citus message without a SQLSTATE of
its own (`sqlstate_of`).
"""

from __future__ import annotations

from typing import Any

import psycopg
import psycopg_pool

from campaigndb.core.exceptions import (
    CampaignDBError,
    Envelope,
    OutcomeUnknown,
    RetriesExhausted,
)
from campaigndb.core.sqlstates import is_retryable, lookup, retry_after_ms

# A lost connection has no SQLSTATE from the server: it is reported as 08006.
CONNECTION_LOST = "08006"
POOL_TIMEOUT = "08001"
#: transaction_resolution_unknown: a write may or may not have committed (see
#: core.calls.outcome_unknown)
OUTCOME_UNKNOWN = "08007"
#: internal mark on a failed attempt's envelope whose write may have committed (removed
#: before any envelope reaches a caller)
MAYBE_COMMITTED = "_maybe_committed"


def unsendable_envelope(exc: BaseException) -> Envelope:
    """22023 for an argument that cannot be sent (nothing reached the server)."""
    return {"success": False, "error": f"the arguments cannot be sent: {exc}",
            "error_code": "22023", "retry_recommended": False}


def envelope_ok(fields: dict[str, Any]) -> Envelope:
    """A success envelope built on the client side (for functions that return rows)."""
    return {"success": True, "error": None, "error_code": None, "retry_recommended": False,
            **fields}


#: Citus reports a transaction that a worker failed to commit (a serialization failure there,
#: say) as XX000 with this message: the cluster aborted it as a whole, so it is retried as the
#: serialization failure it is (docs/scale-out.md).  The one message read here: Citus gives
#: it no SQLSTATE of its own.
CITUS_COMMIT_FAILED = "could not commit transaction for shard "


def sqlstate_of(exc: psycopg.Error) -> str | None:
    """The SQLSTATE an error is classified by: its own, but 40001 for Citus's failed commit."""
    if exc.sqlstate == "XX000" and (exc.diag.message_primary or "").startswith(
            CITUS_COMMIT_FAILED):
        return "40001"
    return exc.sqlstate


def envelope_from_exception(exc: BaseException) -> Envelope:
    """The contract's failure envelope for an exception raised by the server or the driver."""
    if isinstance(exc, psycopg_pool.PoolTimeout):
        sqlstate: str | None = POOL_TIMEOUT
        message = f"no database connection became free in time: {exc}"
        detail: dict[str, str] = {}
    elif isinstance(exc, psycopg.Error):
        sqlstate = sqlstate_of(exc)
        if sqlstate is None and isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            sqlstate = CONNECTION_LOST
        diag = exc.diag
        message = diag.message_primary or str(exc).strip() or type(exc).__name__
        detail = {
            key: value
            for key, value in (
                ("constraint", diag.constraint_name),
                ("column", diag.column_name),
                ("table", diag.table_name),
                ("detail", diag.message_detail),
                ("hint", diag.message_hint),
            )
            if value
        }
    else:
        raise TypeError(f"not a database error: {exc!r}") from exc
    envelope: Envelope = {
        "success": False,
        "error": message,
        "error_code": sqlstate,
        "retry_recommended": is_retryable(sqlstate),
    }
    if envelope["retry_recommended"]:
        envelope["retry_after_ms"] = retry_after_ms(sqlstate)
    if detail:
        envelope["error_detail"] = detail
    return envelope


def exception_for(envelope: Envelope, operation: str | None = None) -> CampaignDBError:
    """The typed exception for a failure envelope."""
    code = str(envelope.get("error_code") or "")
    cls = lookup(code).exception
    if cls is not OutcomeUnknown:
        if envelope.get("retry_recommended"):
            cls = RetriesExhausted
        elif cls is RetriesExhausted:  # a retryable code the answer says not to retry
            cls = CampaignDBError
    return cls(envelope, operation)


# libpq keeps no SQLSTATE for a refused startup: the server's messages say which it was
_STARTUP_MESSAGES = (("password authentication failed", "28P01"),
                     ("no pg_hba.conf entry", "28000"),
                     ("role \"", "28000"), ("database \"", "3D000"))


def _startup_sqlstate(message: str) -> str:
    for fragment, code in _STARTUP_MESSAGES:
        if fragment in message and ("does not exist" in message or code != "3D000"):
            return code
    return POOL_TIMEOUT


# a busy or restarting server (53300, 57P03) is transient: the pool waits and retries it
_TRANSIENT_STARTUP = ("too many clients", "remaining connection slots",
                      "the database system is starting up",
                      "the database system is shutting down",
                      "the database system is in recovery mode",
                      "the database system is not yet accepting connections")


def transient_at_startup(exc: BaseException) -> bool:
    """A first connection refused for a reason that passes (the pool retries it)."""
    message = str(exc)
    return any(fragment in message for fragment in _TRANSIENT_STARTUP)


def connect_failed_envelope(exc: BaseException, *, pgbouncer: bool,
                            after_open: bool = False) -> Envelope:
    """The envelope for a connection that could not be made (docs/client.md, "Fail fast"):
    the server's SQLSTATE when it answered (28P01, 3D000), else 08001.  At open it is not
    retryable (the DSN is wrong); `after_open` (the server went away under a working client)
    it is retried as its SQLSTATE says: a restarting server comes back, a dropped database
    does not."""
    message = str(exc).strip() or type(exc).__name__
    code = getattr(exc, "sqlstate", None) or _startup_sqlstate(message)
    advice = "check network / check DSN"
    if "unsupported startup parameter" in message and not pgbouncer:
        advice = ("PgBouncer refused the client's startup options: set pgbouncer=True "
                  "(CAMPAIGNDB_PGBOUNCER=1)")
    envelope: Envelope = {"success": False, "error": f"cannot connect to the database: {message}",
                          "error_code": code, "retry_recommended": False, "recovery": advice}
    if after_open and is_retryable(code):
        envelope["retry_recommended"] = True
        envelope["retry_after_ms"] = retry_after_ms(code)
    return envelope
