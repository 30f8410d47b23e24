"""The typed exceptions a failed call raises (which one: the SQLSTATE table, core.sqlstates)."""

from __future__ import annotations

from typing import Any

Envelope = dict[str, Any]


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


class StepFailed(CampaignDBError):
    """A required step of a transaction answered success: false; the transaction is undone."""


class TransactionTimeout(CampaignDBError):
    """The transaction's deadline passed before a statement could start."""


class UnsendableArgument(Exception):
    """A value the client cannot send at all (not writable as JSON, a NUL in a text): the
    call answers 22023 without reaching the server."""


class ArgumentTooLarge(UnsendableArgument):
    """An array argument beyond its function's documented limit: the call answers the
    function's own 54000 envelope (`.envelope`) without sending anything."""

    def __init__(self, envelope: Envelope) -> None:
        self.envelope = envelope
        super().__init__(envelope.get("error"))


class ConnectFailed(CampaignDBError):
    """The client's first connection could not be made (refused, unknown host or database,
    bad password, malformed DSN, PgBouncer refusing startup options): raised when the client
    opens, within about connect_timeout, with the server's own message; never retried.
    After open (the server went away) its envelope is a call's answer instead, retryable as
    its SQLSTATE says (docs/client.md, "A server lost after open")."""
