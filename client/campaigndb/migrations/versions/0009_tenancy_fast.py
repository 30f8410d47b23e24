"""Tenancy, the token path made cheaper: campaigndb.token_workspaces accepts the usual
workspace token (the header JWT libraries write; claims workspace_id, exp, iat) with one
query and one test, under a generic plan; every other token takes the full checks as before
(docs/tenancy.md, "Cost").

Revision ID: 0009_tenancy_fast
Revises: 0008_first_contact
Create Date: 2026-12-05

Applies the SQL frozen in migrations/frozen/0009_tenancy_fast/ (one CREATE OR REPLACE
FUNCTION: no table is locked).
"""

from pathlib import Path

from campaigndb.migration_support import apply_frozen

revision = "0009_tenancy_fast"
down_revision = "0008_first_contact"
branch_labels = None
depends_on = None

FROZEN = Path(__file__).resolve().parent.parent / "frozen" / revision
UPGRADE_SHA256 = "4b7c023b6e3c2f92b233e781d49d8e5139b5863b9d74adc0f9096c56c2f7b19f"
DOWNGRADE_SHA256 = "4cc12bd2247b20deee6409226b005f2c5cfe093a0c320b019bde631e1c4c181a"


def upgrade() -> None:
    apply_frozen(FROZEN / "upgrade.sql", UPGRADE_SHA256)


def downgrade() -> None:
    apply_frozen(FROZEN / "downgrade.sql", DOWNGRADE_SHA256)
