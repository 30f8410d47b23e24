"""Error classification: what kind of failure, whether to retry, what to do about it.

Decided from the SQLSTATE and the server's diagnostics (constraint, column), never from
message text.  The retryable set is `campaigndb.sqlstates`, which a test keeps equal to the
SQL side's `campaigndb.error_codes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import psycopg
import psycopg_pool

from campaigndb.errors import CampaignDBError, Envelope, envelope_from_exception
from campaigndb.sqlstates import is_retryable


class Category(StrEnum):
    CONSTRAINT_VIOLATION = "constraint_violation"
    CONNECTION = "connection"
    TRANSACTION_CONFLICT = "transaction_conflict"
    TIMEOUT = "timeout"
    PERMISSION = "permission"
    QUERY = "query"
    UNKNOWN = "unknown"


class RecoveryAction(StrEnum):
    RETRY = "retry"
    FIX_DATA = "fix_data"
    CHECK_NETWORK = "check_network"
    CHECK_PERMISSIONS = "check_permissions"
    CONTACT_ADMIN = "contact_admin"


@dataclass(frozen=True)
class Classification:
    sqlstate: str | None
    category: Category
    retryable: bool
    recovery_action: RecoveryAction
    user_message: str
    constraint: str | None = None
    column: str | None = None
    table: str | None = None


def category_of(sqlstate: str | None) -> Category:
    code = sqlstate or ""
    if code in ("40001", "40P01", "55P03"):
        return Category.TRANSACTION_CONFLICT
    if code == "57014":
        return Category.TIMEOUT
    if code.startswith("08") or code in ("53300", "57P01", "57P02", "57P03"):
        return Category.CONNECTION
    if code.startswith("23"):
        return Category.CONSTRAINT_VIOLATION
    if code == "42501":
        return Category.PERMISSION
    if code[:2] in ("22", "42", "P0", "54", "55", "2B", "0A"):
        return Category.QUERY
    return Category.UNKNOWN


_ACTIONS = {
    Category.TRANSACTION_CONFLICT: RecoveryAction.RETRY,
    Category.TIMEOUT: RecoveryAction.RETRY,
    Category.CONNECTION: RecoveryAction.CHECK_NETWORK,
    Category.CONSTRAINT_VIOLATION: RecoveryAction.FIX_DATA,
    Category.PERMISSION: RecoveryAction.CHECK_PERMISSIONS,
    Category.QUERY: RecoveryAction.FIX_DATA,
    Category.UNKNOWN: RecoveryAction.CONTACT_ADMIN,
}

_MESSAGES = {
    Category.TRANSACTION_CONFLICT: "Another process changed the same data at the same time; "
                                   "retrying will very likely succeed.",
    Category.TIMEOUT: "The database took too long; retry, or raise the timeout.",
    Category.CONNECTION: "The database could not be reached; check the network and the "
                         "server, then retry.",
    Category.PERMISSION: "This session may not do that (role or workspace binding).",
    Category.QUERY: "The request was not valid.",
    Category.UNKNOWN: "An unexpected database error occurred; contact the administrator.",
}


def _constraint_message(sqlstate: str, constraint: str | None, column: str | None) -> str:
    what = f" (constraint {constraint})" if constraint else ""
    field = f" in {column}" if column else ""
    return {
        "23502": f"A required value is missing{field}{what}.",
        "23503": f"A referenced record does not exist{field}{what}.",
        "23505": f"This record already exists{field}{what}.",
        "23514": f"A value is not allowed{field}{what}.",
    }.get(sqlstate, f"The data breaks a rule{field}{what}.")


def classify(error: BaseException | Envelope) -> Classification:
    """Classify a failure envelope, a CampaignDBError, or a driver/pool exception."""
    envelope: Envelope
    if isinstance(error, CampaignDBError):
        envelope = error.envelope
    elif isinstance(error, dict):
        envelope = error
    elif isinstance(error, psycopg.Error | psycopg_pool.PoolTimeout):
        envelope = envelope_from_exception(error)
    else:
        return Classification(None, Category.UNKNOWN, False, RecoveryAction.CONTACT_ADMIN,
                              _MESSAGES[Category.UNKNOWN])
    sqlstate = envelope.get("error_code")
    detail: dict[str, Any] = envelope.get("error_detail") or {}
    category = category_of(sqlstate)
    retryable = bool(envelope.get("retry_recommended")) or is_retryable(sqlstate)
    if category is Category.CONSTRAINT_VIOLATION:
        message = _constraint_message(str(sqlstate), detail.get("constraint"),
                                      detail.get("column"))
    elif category is Category.QUERY and envelope.get("error"):
        message = f"The request was not valid: {envelope['error']}"
    else:
        message = _MESSAGES[category]
    return Classification(
        sqlstate=sqlstate,
        category=category,
        retryable=retryable,
        recovery_action=RecoveryAction.RETRY if retryable else _ACTIONS[category],
        user_message=message,
        constraint=detail.get("constraint"),
        column=detail.get("column"),
        table=detail.get("table"),
    )
