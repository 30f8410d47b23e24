"""What alembic revisions use to apply their frozen SQL, and the declared-source tools.

A revision is history: it never reads today's `sql/` at run time.  Each revision applies
the SQL frozen beside it (`migrations/frozen/<revision>/upgrade.sql` / `downgrade.sql`) and
refuses to run when that file's sha256 differs from the one recorded in the revision, so a
landed revision cannot be edited by accident.  `campaigndb dev freeze` writes the frozen
copy of the declared sources (`sql/manifest.txt`) for a new revision.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from campaigndb.embedded import project_root


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


def manifest(root: Path | None = None) -> list[Path]:
    """The declared source files, in build order."""
    sql_dir = (root or project_root()) / "sql"
    lines = (sql_dir / "manifest.txt").read_text().splitlines()
    return [sql_dir / line.strip() for line in lines if line.strip() and not line.startswith("#")]


def declared_sql(root: Path | None = None, files: list[str] | None = None) -> str:
    """The declared sources concatenated (all of them, or the named ones in manifest order)."""
    paths = manifest(root)
    if files is not None:
        wanted = set(files)
        paths = [p for p in paths if p.name in wanted or p.stem in wanted]
        missing = wanted - {p.name for p in paths} - {p.stem for p in paths}
        if missing:
            raise FileNotFoundError(f"not in sql/manifest.txt: {', '.join(sorted(missing))}")
    parts = [f"-- source: sql/{p.parent.name}/{p.name}\n{p.read_text()}" for p in paths]
    return "\n".join(parts)


def freeze(revision: str, files: list[str] | None = None, root: Path | None = None) -> Path:
    """Write migrations/frozen/<revision>/upgrade.sql from the declared sources."""
    base = root or project_root()
    target = base / "migrations" / "frozen" / revision / "upgrade.sql"
    if target.exists():
        raise FileExistsError(f"{target} exists: a frozen revision never changes")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(declared_sql(base, files))
    return target
