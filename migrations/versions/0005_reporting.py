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
UPGRADE_SHA256 = "641c1caf9af4e50b40b4788181c24672be2f2573311724160b363b97f584bfae"
DOWNGRADE_SHA256 = "95cd958c2747672d7273a0afb8c0c7879a5db2d7745094cb6475a92900379c91"


def upgrade() -> None:
    apply_frozen(FROZEN / "upgrade.sql", UPGRADE_SHA256)


def downgrade() -> None:
    apply_frozen(FROZEN / "downgrade.sql", DOWNGRADE_SHA256)
