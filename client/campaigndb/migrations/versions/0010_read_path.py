"""Read path: campaigndb.session_kind in PL/pgSQL, whose plan stays cached for the session
(as a SQL function it was parsed and planned again in every transaction that checks a
workspace binding: about 50 us of a small call's server time, docs/client.md).

Revision ID: 0010_read_path
Revises: 0009_tenancy_fast
Create Date: 2026-12-05

Applies the SQL frozen in migrations/frozen/0010_read_path/ (a function replaced in place:
no lock beyond the catalog row).
"""

from pathlib import Path

from campaigndb.migration_support import apply_frozen

revision = "0010_read_path"
down_revision = "0009_tenancy_fast"
branch_labels = None
depends_on = None

FROZEN = Path(__file__).resolve().parent.parent / "frozen" / revision
UPGRADE_SHA256 = "0861508a844723f3cd1e09419f51aab3aff95a3bebc5d4bac5600198ce62708e"
DOWNGRADE_SHA256 = "4d43454399ce710ca2f354881987d62372f078bca584bfde0157f0624af72716"


def upgrade() -> None:
    apply_frozen(FROZEN / "upgrade.sql", UPGRADE_SHA256)


def downgrade() -> None:
    apply_frozen(FROZEN / "downgrade.sql", DOWNGRADE_SHA256)
