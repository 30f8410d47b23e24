"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

Applies the SQL frozen in migrations/frozen/${up_revision}/ (write it with
`campaigndb dev freeze ${up_revision} [FILE...]`, then record its sha256 below).
"""

from pathlib import Path

from campaigndb.migration_support import apply_frozen

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}

FROZEN = Path(__file__).resolve().parent.parent / "frozen" / revision
UPGRADE_SHA256 = ""
DOWNGRADE_SHA256 = ""


def upgrade() -> None:
    apply_frozen(FROZEN / "upgrade.sql", UPGRADE_SHA256)


def downgrade() -> None:
    apply_frozen(FROZEN / "downgrade.sql", DOWNGRADE_SHA256)
