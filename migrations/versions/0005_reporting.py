"""Reporting (KPI roll-up): upsert_daily_kpi_batch and aggregate_monthly_kpis, and the
idempotency columns of collection_log.

Revision ID: 0005_reporting
Revises: 0004_observability
Create Date: 2026-11-22

Applies the SQL frozen in migrations/frozen/0005_reporting/.
"""

from pathlib import Path

from campaigndb.migration_support import apply_frozen

revision = "0005_reporting"
down_revision = "0004_observability"
branch_labels = None
depends_on = None

FROZEN = Path(__file__).resolve().parent.parent / "frozen" / revision
UPGRADE_SHA256 = "c841ba92732a98e6bdbfb4119d7936d964b98dbc343bbcad4c05a87c14d5d0c2"
DOWNGRADE_SHA256 = "da9c4261b403ba5810ec2747bba8a6466ad1206adb887d8cf02b482e8182aef9"


def upgrade() -> None:
    apply_frozen(FROZEN / "upgrade.sql", UPGRADE_SHA256)


def downgrade() -> None:
    apply_frozen(FROZEN / "downgrade.sql", DOWNGRADE_SHA256)
