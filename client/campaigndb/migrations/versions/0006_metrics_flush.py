"""Metrics flush: record_transaction_metrics also takes its elements as arrays (the form the
client's recorder now sends: half the JSON, no key lookups), and draws one random value and
reads the clock once per batch instead of once per row for its time-ordered ids; a BRIN index
on transaction_metrics.created_at replaces the b-tree on (operation_name, created_at DESC).

Revision ID: 0006_metrics_flush
Revises: 0005_reporting
Create Date: 2026-11-22

Applies the SQL frozen in migrations/frozen/0006_metrics_flush/.
"""

from pathlib import Path

from campaigndb.migration_support import apply_frozen

revision = "0006_metrics_flush"
down_revision = "0005_reporting"
branch_labels = None
depends_on = None

FROZEN = Path(__file__).resolve().parent.parent / "frozen" / revision
UPGRADE_SHA256 = "0e4d82e2db1b0ee964d0b844adbc3444070de7afcc856f5a5d91beca5ad9857f"
DOWNGRADE_SHA256 = "f5304e12b45929223b6cefd7c876e76010bcad6fe1d1bf5c9bee399367e75447"


def upgrade() -> None:
    apply_frozen(FROZEN / "upgrade.sql", UPGRADE_SHA256)


def downgrade() -> None:
    apply_frozen(FROZEN / "downgrade.sql", DOWNGRADE_SHA256)
