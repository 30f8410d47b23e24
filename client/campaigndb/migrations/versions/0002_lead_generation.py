"""Lead generation: insert_businesses_batch, update_campaign_statistics,
update_coverage_status, update_email_verification, update_enrichment_batch,
get_businesses_for_enrichment and the partial indexes behind the last one.

Revision ID: 0002_lead_generation
Revises: 0001_foundation
Create Date: 2026-11-22

Applies the SQL frozen in migrations/frozen/0002_lead_generation/.
"""

from pathlib import Path

from campaigndb.migration_support import apply_frozen

revision = "0002_lead_generation"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

FROZEN = Path(__file__).resolve().parent.parent / "frozen" / revision
UPGRADE_SHA256 = "5d32ffda519135242bcdd11808c45e304563b7471179567cfcce66c1e4db456d"
DOWNGRADE_SHA256 = "6dd3e0baee2edd88a0100d74723421f5fa948b0e8a1f030ee3b82f535a7b038b"


def upgrade() -> None:
    apply_frozen(FROZEN / "upgrade.sql", UPGRADE_SHA256)


def downgrade() -> None:
    apply_frozen(FROZEN / "downgrade.sql", DOWNGRADE_SHA256)
