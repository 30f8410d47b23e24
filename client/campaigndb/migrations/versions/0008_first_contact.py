"""First contact: money in micro-dollars (numeric(18,6) on cost_usd, total_cost,
estimated_cost, actual_cost; existing values rounded, totals recomputed from the rounded
rows), campaigns at fillfactor 10 (the total's update stays HOT, so callers on different
campaigns never conflict), statistics recounts that never hold the campaign row while they
count, rejected calls without JIT, the table's own field names in update_enrichment_batch,
and an empty window for get_campaign_execution_metrics with p_since in the future.

Revision ID: 0008_first_contact
Revises: 0007_tenancy
Create Date: 2026-12-05

Applies the SQL frozen in migrations/frozen/0008_first_contact/.  The type changes rewrite
campaigns, gmaps_api_costs and gmaps_campaign_coverage under an ACCESS EXCLUSIVE lock
(docs/limits.md).
"""

from pathlib import Path

from campaigndb.migration_support import apply_frozen

revision = "0008_first_contact"
down_revision = "0007_tenancy"
branch_labels = None
depends_on = None

FROZEN = Path(__file__).resolve().parent.parent / "frozen" / revision
UPGRADE_SHA256 = "51f95b2612350e42ef7359441de6414f569ec84572fbdf3764f669e2560875d8"
DOWNGRADE_SHA256 = "cc69c0863f26bd258916953fecd5f7cad01d78685fb965d3c8046b726eee32e1"


def upgrade() -> None:
    apply_frozen(FROZEN / "upgrade.sql", UPGRADE_SHA256)


def downgrade() -> None:
    apply_frozen(FROZEN / "downgrade.sql", DOWNGRADE_SHA256)
