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
UPGRADE_SHA256 = "d8f05d9405b3df65896fb1bb7d295f335082e87d033adb6073d485d1012db1ae"
DOWNGRADE_SHA256 = "5eb8f570b2c4f18d968639785f9daaf6e6a79f313eafbdb560bb7c779b1201b3"


def upgrade() -> None:
    apply_frozen(FROZEN / "upgrade.sql", UPGRADE_SHA256)


def downgrade() -> None:
    apply_frozen(FROZEN / "downgrade.sql", DOWNGRADE_SHA256)
