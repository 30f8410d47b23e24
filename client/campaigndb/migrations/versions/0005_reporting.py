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
UPGRADE_SHA256 = "24786ed7f050e676ebce37adf9705fba85c7265ac5bc80f23e51dbbb9048247d"
DOWNGRADE_SHA256 = "7e3ba248b2aa8e95e0c9c3694cb3a7662c649894d1317e682f5666e7f46b4725"


def upgrade() -> None:
    apply_frozen(FROZEN / "upgrade.sql", UPGRADE_SHA256)


def downgrade() -> None:
    apply_frozen(FROZEN / "downgrade.sql", DOWNGRADE_SHA256)
