"""Errors: one mapping from SQLSTATE and server diagnostics to envelopes and typed exceptions.

Nothing here parses message text: the SQLSTATE (`exc.sqlstate`) and the server's
diagnostics (`exc.diag`) carry everything.
"""

from __future__ import annotations

from typing import Any

import psycopg
import psycopg_pool

from campaigndb.sqlstates import is_retryable, retry_after_ms

Envelope = dict[str, Any]

# A lost connection has no SQLSTATE from the server: it is reported as 08006.
CONNECTION_LOST = "08006"
POOL_TIMEOUT = "08001"
#: transaction_resolution_unknown: a write may or may not have committed (see
#: ClientBase._outcome_unknown)
OUTCOME_UNKNOWN = "08007"
#: internal mark on a failed attempt's envelope whose write may have committed (removed
#: before any envelope reaches a caller)
MAYBE_COMMITTED = "_maybe_committed"


class UnsendableArgument(Exception):
    """A value the client cannot send at all (not writable as JSON, a NUL in a text): the
    call answers 22023 without reaching the server."""


def unsendable_envelope(exc: BaseException) -> Envelope:
    """22023 for an argument that cannot be sent (nothing reached the server)."""
    return {"success": False, "error": f"the arguments cannot be sent: {exc}",
            "error_code": "22023", "retry_recommended": False}


def is_connection_loss(sqlstate: str | None) -> bool:
    """The connection went away (class 08, or the server shutting the session down): a
    message already sent may or may not have been applied."""
    return bool(sqlstate) and (str(sqlstate).startswith("08")
                               or sqlstate in ("57P01", "57P02", "57P03"))


def envelope_ok(fields: dict[str, Any]) -> Envelope:
    """A success envelope built on the client side (for functions that return rows)."""
    return {"success": True, "error": None, "error_code": None, "retry_recommended": False,
            **fields}


def envelope_from_exception(exc: BaseException) -> Envelope:
    """The contract's failure envelope for an exception raised by the server or the driver."""
    if isinstance(exc, psycopg_pool.PoolTimeout):
        sqlstate: str | None = POOL_TIMEOUT
        message = f"no database connection became free in time: {exc}"
        detail: dict[str, str] = {}
    elif isinstance(exc, psycopg.Error):
        sqlstate = exc.sqlstate
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


class CampaignDBError(Exception):
    """A call that answered success: false.  `.envelope` holds the whole answer."""

    def __init__(self, envelope: Envelope, operation: str | None = None) -> None:
        self.envelope = envelope
        self.operation = operation
        prefix = f"{operation}: " if operation else ""
        super().__init__(f"{prefix}{envelope.get('error')} [{envelope.get('error_code')}]")

    @property
    def sqlstate(self) -> str | None:
        code = self.envelope.get("error_code")
        return str(code) if code else None

    @property
    def retryable(self) -> bool:
        return bool(self.envelope.get("retry_recommended"))

    @property
    def constraint(self) -> str | None:
        return (self.envelope.get("error_detail") or {}).get("constraint")

    @property
    def column(self) -> str | None:
        return (self.envelope.get("error_detail") or {}).get("column")


class InvalidInput(CampaignDBError):
    """22xxx, 23502: the input was wrong; fix it, do not retry."""


class NotFound(CampaignDBError):
    """P0002: the named campaign, workflow or business does not exist."""


class ReferenceNotFound(CampaignDBError):
    """23503: a referenced row (e.g. the workspace) does not exist."""


class Duplicate(CampaignDBError):
    """23505: a duplicate, or an idempotency key reused with other parameters."""


class CheckViolation(CampaignDBError):
    """23514: a value outside its allowed set (unknown status or campaign type)."""


class InvalidState(CampaignDBError):
    """55000: the object is not in the state the call needs."""


class BatchTooLarge(CampaignDBError):
    """54000: the batch is larger than the documented limit."""


class PermissionDenied(CampaignDBError):
    """42501: this session may not act on that workspace."""


class RetriesExhausted(CampaignDBError):
    """A retryable failure (conflict, lock, timeout, connection) that outlasted every retry."""


class OutcomeUnknown(RetriesExhausted):
    """08007: the connection was lost after the write was sent, on every retry; the server
    may have committed it.  Call again with `.idempotency_key` to learn the outcome."""

    @property
    def idempotency_key(self) -> str | None:
        key = self.envelope.get("idempotency_key")
        return str(key) if key is not None else None


_BY_SQLSTATE: dict[str, type[CampaignDBError]] = {
    "23502": InvalidInput,
    "23503": ReferenceNotFound,
    "23505": Duplicate,
    "23514": CheckViolation,
    "P0002": NotFound,
    "55000": InvalidState,
    "54000": BatchTooLarge,
    "42501": PermissionDenied,
}


def exception_for(envelope: Envelope, operation: str | None = None) -> CampaignDBError:
    """The typed exception for a failure envelope."""
    code = str(envelope.get("error_code") or "")
    if code == OUTCOME_UNKNOWN:
        return OutcomeUnknown(envelope, operation)
    if envelope.get("retry_recommended"):
        return RetriesExhausted(envelope, operation)
    cls = _BY_SQLSTATE.get(code)
    if cls is None and code.startswith("22"):
        cls = InvalidInput
    return (cls or CampaignDBError)(envelope, operation)
