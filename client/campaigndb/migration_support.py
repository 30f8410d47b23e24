"""What alembic revisions use to apply their frozen SQL (deploy-time: the landed revisions
import `apply_frozen` from here; the development tools that write frozen SQL are
campaigndb_dev.freeze).

A revision is history: it never reads today's `sql/` at run time.  Each revision applies
the SQL frozen beside it (`campaigndb/migrations/frozen/<revision>/upgrade.sql`, shipped in
the package) and refuses to run when that file's sha256 differs from the one recorded in
the revision, so a landed revision cannot be edited by accident.  `campaigndb dev freeze`
writes the frozen copy of the declared sources (`sql/manifest.txt`) for a new revision.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


class FrozenSqlChanged(RuntimeError):
    """A revision's frozen SQL no longer matches the checksum the revision recorded."""


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def apply_frozen(path: Path, expected_sha256: str) -> None:
    """Run one frozen SQL file inside the revision's transaction (or print it with --sql)."""
    from alembic import op

    actual = sha256_of(path)
    if actual != expected_sha256:
        raise FrozenSqlChanged(
            f"{path} has sha256 {actual}, but its revision recorded {expected_sha256}: "
            "landed revisions never change; write a new revision instead"
        )
    sql = path.read_text()
    context = op.get_context()
    if context.as_sql:
        context.impl.static_output(sql)
        return
    # The raw psycopg connection runs the file as one simple-protocol script (dollar
    # quotes, several statements) in the transaction alembic opened for this revision.
    op.get_bind().connection.driver_connection.execute(sql)  # type: ignore[union-attr]
