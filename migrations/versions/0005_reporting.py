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
UPGRADE_SHA256 = "ee32ce4418910c9cc76408a2988529d1268c0e142881b3e216197b43ae09e82c"
DOWNGRADE_SHA256 = "5eb8f570b2c4f18d968639785f9daaf6e6a79f313eafbdb560bb7c779b1201b3"


def upgrade() -> None:
    apply_frozen(FROZEN / "upgrade.sql", UPGRADE_SHA256)


def downgrade() -> None:
    apply_frozen(FROZEN / "downgrade.sql", DOWNGRADE_SHA256)
