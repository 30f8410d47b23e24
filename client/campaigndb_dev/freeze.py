"""The declared sources (`sql/manifest.txt`, shipped as package data: `campaigndb/sql` is the
repository's `sql/`) and `campaigndb dev freeze`, which writes their frozen copy for a new
revision into the package's migrations (applied by campaigndb.migration_support)."""

from __future__ import annotations

from pathlib import Path

import campaigndb
from campaigndb.migrations import frozen_dir

#: The folder holding `sql/` (in the repository, the symlink client/campaigndb/sql -> sql).
PACKAGE = Path(campaigndb.__file__).resolve().parent


def manifest(root: Path | None = None) -> list[Path]:
    """The declared source files, in build order (root: the folder holding `sql/`)."""
    sql_dir = (root or PACKAGE) / "sql"
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


def freeze(revision: str, files: list[str] | None = None, root: Path | None = None,
           frozen: Path | None = None) -> Path:
    """Write <frozen>/<revision>/upgrade.sql from the declared sources (default: the
    package's migrations/frozen, client/campaigndb/migrations/frozen in the repository)."""
    target = (frozen or frozen_dir()) / revision / "upgrade.sql"
    if target.exists():
        raise FileExistsError(f"{target} exists: a frozen revision never changes")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(declared_sql(root, files))
    return target
