"""Observability: record_transaction_metric, and record_transaction_metrics for the client's
batched background recorder.

Revision ID: 0004_observability
Revises: 0003_campaign_execution
Create Date: 2026-11-22

Applies the SQL frozen in migrations/frozen/0004_observability/.
"""

from pathlib import Path

from campaigndb.migration_support import apply_frozen

revision = "0004_observability"
down_revision = "0003_campaign_execution"
branch_labels = None
depends_on = None

FROZEN = Path(__file__).resolve().parent.parent / "frozen" / revision
UPGRADE_SHA256 = "c854b4d35a704b1aa198fb5ed5128b03f1e83f9fcc6b81b59f205950729bd612"
DOWNGRADE_SHA256 = "53ca606eb6ac21128565a7879c139db752e16d9548e021ac5a6e12ccebc86017"


def upgrade() -> None:
    apply_frozen(FROZEN / "upgrade.sql", UPGRADE_SHA256)


def downgrade() -> None:
    apply_frozen(FROZEN / "downgrade.sql", DOWNGRADE_SHA256)
