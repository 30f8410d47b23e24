"""Metrics flush: record_transaction_metrics also takes its elements as arrays (the form the
client's recorder now sends: half the JSON, no key lookups), and draws one random value and
reads the clock once per batch instead of once per row for its time-ordered ids.

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
UPGRADE_SHA256 = "8823018b87a72139b575dbcce11e1caeaa33b8287fa293915faf9e7d9aa3240f"
DOWNGRADE_SHA256 = "883364669db8b3a56fc38206e12b3bb649dcab14b1572aff016ebd11a36c550e"


def upgrade() -> None:
    apply_frozen(FROZEN / "upgrade.sql", UPGRADE_SHA256)


def downgrade() -> None:
    apply_frozen(FROZEN / "downgrade.sql", DOWNGRADE_SHA256)
