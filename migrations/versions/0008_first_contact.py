"""First contact: money in micro-dollars (numeric(18,6) on cost_usd, total_cost,
estimated_cost, actual_cost; existing values rounded, totals recomputed from the rounded
rows), campaigns at fillfactor 10 (the total's update stays HOT, so callers on different
campaigns never conflict), statistics recounts that never hold the campaign row while they
count, rejected calls without JIT, the table's own field names in update_enrichment_batch,
and an empty window for get_campaign_execution_metrics with p_since in the future.

Revision ID: 0008_first_contact
Revises: 0006_metrics_flush
Create Date: 2026-12-05

Applies the SQL frozen in migrations/frozen/0008_first_contact/.  The type changes rewrite
campaigns, gmaps_api_costs and gmaps_campaign_coverage under an ACCESS EXCLUSIVE lock
(docs/limits.md).
"""

from pathlib import Path

from campaigndb.migration_support import apply_frozen

revision = "0008_first_contact"
down_revision = "0006_metrics_flush"
branch_labels = None
depends_on = None

FROZEN = Path(__file__).resolve().parent.parent / "frozen" / revision
UPGRADE_SHA256 = "90976adceb79afcd3b62e3c1e05deb25925536d938635faa1cf13dbf0c49909a"
DOWNGRADE_SHA256 = "c5ab1c35c71dfd284b77511440f1c5d2d5330b7f70553aee471d3e18da5ad1ae"


def upgrade() -> None:
    apply_frozen(FROZEN / "upgrade.sql", UPGRADE_SHA256)


def downgrade() -> None:
    apply_frozen(FROZEN / "downgrade.sql", DOWNGRADE_SHA256)
