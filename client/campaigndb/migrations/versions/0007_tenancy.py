"""Tenancy: tenant logins mapped to workspaces and signed workspace tokens, enforced by every
API function and by row level security forced on every workspace table; idempotency keys
and client-chosen ids scoped per workspace; roles anchored so that logins keep their
memberships through a downgrade (docs/tenancy.md).

Revision ID: 0007_tenancy
Revises: 0006_metrics_flush
Create Date: 2026-12-05

Applies the SQL frozen in migrations/frozen/0007_tenancy/.
"""

from pathlib import Path

from campaigndb.migration_support import apply_frozen

revision = "0007_tenancy"
down_revision = "0006_metrics_flush"
branch_labels = None
depends_on = None

FROZEN = Path(__file__).resolve().parent.parent / "frozen" / revision
UPGRADE_SHA256 = "94bf3ebe1b2913cefdd12bfe9430fefdee38af04e59ad21eeabb1121c5c10dc8"
DOWNGRADE_SHA256 = "4fd4a9755d1c274789643717dcea2bb6e8e929574eff9b69a7d4248884687805"


def upgrade() -> None:
    apply_frozen(FROZEN / "upgrade.sql", UPGRADE_SHA256)


def downgrade() -> None:
    apply_frozen(FROZEN / "downgrade.sql", DOWNGRADE_SHA256)
