"""The one SQLSTATE table: what each code means to a caller.

Its rows are `sqlstates.tsv` beside this module: what the SQL seed `campaigndb.error_codes`
holds (condition name, retryable, retry_after_ms, where it is raised; a test keeps the two
equal) and what only the client needs: the category, the exception class and, from them,
the recovery action.  Codes outside
the table are read by their class (the first two characters).  Errors, classification and
the clients all read it here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Literal, cast

from campaigndb.core import exceptions
from campaigndb.core.exceptions import CampaignDBError, InvalidInput, RetriesExhausted

RaisedIn = Literal["function", "propagated", "client"]


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


#: the action for a category when the failure is final (a retryable one: RETRY)
ACTIONS = {
    Category.TRANSACTION_CONFLICT: RecoveryAction.RETRY,
    Category.TIMEOUT: RecoveryAction.RETRY,
    Category.CONNECTION: RecoveryAction.CHECK_NETWORK,
    Category.CONSTRAINT_VIOLATION: RecoveryAction.FIX_DATA,
    Category.PERMISSION: RecoveryAction.CHECK_PERMISSIONS,
    Category.QUERY: RecoveryAction.FIX_DATA,
    Category.UNKNOWN: RecoveryAction.CONTACT_ADMIN,
}


@dataclass(frozen=True)
class SqlState:
    sqlstate: str
    condition_name: str
    retry_recommended: bool
    retry_after_ms: int | None
    raised_in: RaisedIn
    meaning: str
    category: Category
    exception: type[CampaignDBError]

    @property
    def recovery_action(self) -> RecoveryAction:
        return RecoveryAction.RETRY if self.retry_recommended else ACTIONS[self.category]


def _read_table() -> tuple[SqlState, ...]:
    text = resources.files("campaigndb.core").joinpath("sqlstates.tsv").read_text()
    rows = [line.split("\t") for line in text.splitlines() if line and line[0] != "#"]
    return tuple(
        SqlState(code, name, retry == "true", None if after == "-" else int(after),
                 cast(RaisedIn, raised), meaning, Category(category),
                 getattr(exceptions, exception))
        for code, name, retry, after, raised, category, exception, meaning in rows[1:])


_ROWS = _read_table()
SQLSTATES: dict[str, SqlState] = {row.sqlstate: row for row in _ROWS}

#: Codes outside the table, by class: (category, retryable, retry_after_ms, exception).
CLASSES: dict[str, tuple[Category, bool, int | None, type[CampaignDBError]]] = {
    "08": (Category.CONNECTION, True, 100, RetriesExhausted),
    "22": (Category.QUERY, False, None, InvalidInput),
    "23": (Category.CONSTRAINT_VIOLATION, False, None, CampaignDBError),
    **{cls: (Category.QUERY, False, None, CampaignDBError)
       for cls in ("42", "P0", "54", "55", "2B", "0A")},
}


def lookup(sqlstate: str | None) -> SqlState:
    """The row for a code: its own, else one built from its class, else UNKNOWN."""
    code = sqlstate or ""
    row = SQLSTATES.get(code)
    if row is not None:
        return row
    category, retryable, after, exception = CLASSES.get(
        code[:2], (Category.UNKNOWN, False, None, CampaignDBError))
    return SqlState(code, "", retryable, after, "client", "", category, exception)


def is_retryable(sqlstate: str | None) -> bool:
    return bool(sqlstate) and lookup(sqlstate).retry_recommended


def retry_after_ms(sqlstate: str | None) -> int | None:
    row = lookup(sqlstate)
    return row.retry_after_ms if row.retry_recommended else None


def is_connection_loss(sqlstate: str | None) -> bool:
    """The connection went away (class 08, or the server shutting the session down): a
    message already sent may or may not have been applied."""
    return bool(sqlstate) and (str(sqlstate).startswith("08")
                               or sqlstate in ("57P01", "57P02", "57P03"))
