"""Citus: on a Citus coordinator, the distributed layout of docs/scale-out.md (reference
tables, tables distributed by campaign in one colocation group, campaign-keyed functions
delegated to the campaign's worker); on plain PostgreSQL only the function changes
below.  Redefines insert_businesses_batch, register_n8n_workflow, upsert_daily_kpi_batch
and complete_campaign_execution (their DO UPDATE SET or UPDATE uses a timestamp computed
once: Citus refuses now() and clock_timestamp() there; the KPI batch also looks for
missing campaigns without a subquery
correlated with unnest), and
create_campaign_with_coverage (refuses, 23505, a campaign id another workspace holds where
the per-workspace key (workspace_id, request_id) is absent, as on Citus).

Revision ID: 0011_citus
Revises: 0010_read_path
Create Date: 2026-12-05

Applies the SQL frozen in migrations/frozen/0011_citus/ (sql/citus/layout.sql: a block that
does nothing unless the citus extension exists).  Irreversible on a Citus cluster (0A000).
"""

from pathlib import Path

from campaigndb.migration_support import apply_frozen

revision = "0011_citus"
down_revision = "0010_read_path"
branch_labels = None
depends_on = None

FROZEN = Path(__file__).resolve().parent.parent / "frozen" / revision
UPGRADE_SHA256 = "1616b97cc1e5035702a518e687eb3f40aff622155393eb6e0edef2ca8a2bc554"
DOWNGRADE_SHA256 = "c3c6ae9ac39f5dd6c5ea4dd9546e969bc1a1fccbbaf09f9470747729b4ef6ca9"


def upgrade() -> None:
    apply_frozen(FROZEN / "upgrade.sql", UPGRADE_SHA256)


def downgrade() -> None:
    apply_frozen(FROZEN / "downgrade.sql", DOWNGRADE_SHA256)
