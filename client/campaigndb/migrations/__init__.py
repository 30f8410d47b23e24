"""The alembic migrations, shipped in the package: `env.py`, `versions/` (one revision per
file) and `frozen/<revision>/{upgrade,downgrade}.sql` (what each revision applies,
campaigndb.migration_support), with an alembic config of their own.

Deploy from any directory with the package installed (`pip install 'campaigndb[migrate]'`):

    CAMPAIGNDB_DSN=postgresql://... alembic -c "$(python -m campaigndb.migrations)" upgrade head

or `campaigndb migrate upgrade head` (the `cli` extra); docs/deploy.md.
"""

from __future__ import annotations

from pathlib import Path

#: This folder: alembic's script_location.
SCRIPT_LOCATION = Path(__file__).resolve().parent


def alembic_ini() -> Path:
    """The bundled alembic config (script_location: this folder, wherever it is installed)."""
    return SCRIPT_LOCATION / "alembic.ini"


def frozen_dir() -> Path:
    """Where each revision's frozen SQL lives (`campaigndb dev freeze` writes here)."""
    return SCRIPT_LOCATION / "frozen"
