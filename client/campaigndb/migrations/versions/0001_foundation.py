"""Foundation: roles, schema, tables, row level security, the SQLSTATE table, the envelope
helpers and create_workspace, create_campaign_with_coverage, track_campaign_cost.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-22

Applies the SQL frozen in migrations/frozen/0001_foundation/.
"""

from pathlib import Path

from campaigndb.migration_support import apply_frozen

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None

FROZEN = Path(__file__).resolve().parent.parent / "frozen" / revision
UPGRADE_SHA256 = "c5a09e88b172cf501d83e078652cf41a92427d4d1e57e763dabf7303f54c86d4"
DOWNGRADE_SHA256 = "891d3a7dcb2dc87aeb25b0c7b3785420bd10f27988c0754eb6edea922de593e3"


def upgrade() -> None:
    apply_frozen(FROZEN / "upgrade.sql", UPGRADE_SHA256)


def downgrade() -> None:
    apply_frozen(FROZEN / "downgrade.sql", DOWNGRADE_SHA256)
