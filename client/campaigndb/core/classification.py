"""Error classification: what kind of failure, whether to retry, what to do about it.

Decided from the SQLSTATE and the server's diagnostics (constraint, column), never from
message text: the category and the action come from the one SQLSTATE table,
`campaigndb.core.sqlstates`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
import psycopg_pool

from campaigndb.core.errors import envelope_from_exception
from campaigndb.core.exceptions import CampaignDBError, Envelope
from campaigndb.core.sqlstates import ACTIONS, Category, RecoveryAction, is_retryable, lookup


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
    return lookup(sqlstate).category


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
        recovery_action=RecoveryAction.RETRY if retryable else ACTIONS[category],
        user_message=message,
        constraint=detail.get("constraint"),
        column=detail.get("column"),
        table=detail.get("table"),
    )
