"""Campaign execution (n8n): register_n8n_workflow, execute_campaign_atomically,
complete_campaign_execution with its performance trigger, validate_campaign_execution_constraints,
get_campaign_execution_metrics, get_database_health_metrics; RLS forced on the audit trail.

Revision ID: 0003_campaign_execution
Revises: 0002_lead_generation
Create Date: 2026-11-22

Applies the SQL frozen in migrations/frozen/0003_campaign_execution/.
"""

from pathlib import Path

from campaigndb.migration_support import apply_frozen

revision = "0003_campaign_execution"
down_revision = "0002_lead_generation"
branch_labels = None
depends_on = None

FROZEN = Path(__file__).resolve().parent.parent / "frozen" / revision
UPGRADE_SHA256 = "296c791b60bec14d4975b6d0bc0d1a156bf2ee4ddf227f865b8072431c22ef6e"
DOWNGRADE_SHA256 = "3f81c614e85540381b762067f390c5da024d27a8f64d3e563885593b9c8d7ac7"


def upgrade() -> None:
    apply_frozen(FROZEN / "upgrade.sql", UPGRADE_SHA256)


def downgrade() -> None:
    apply_frozen(FROZEN / "downgrade.sql", DOWNGRADE_SHA256)
