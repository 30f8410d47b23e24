"""Alembic history compared catalog by catalog: up, down, up again; every single step; no drift
from the declared sources (pytest-alembic's standard checks: test_alembic_standard.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory

from campaigndb.migrations import SCRIPT_LOCATION
from campaigndb_dev.embedded import project_root
from campaigndb_dev.freeze import declared_sql
from campaigndb_dev.testing import create_database, drop_database, migrate

pytestmark = pytest.mark.migrations
ROOT = project_root()

# The catalog, as text rows, of everything the project owns (alembic's own table aside).
CATALOG_QUERIES = {
    "relations": """
        SELECT n.nspname, c.relname, c.relkind, c.relrowsecurity, c.relforcerowsecurity,
               coalesce(c.reloptions::text, ''), coalesce(c.relacl::text, '')
          FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname IN ('public', 'campaigndb') AND c.relname <> 'alembic_version'
           AND c.relname NOT LIKE 'alembic_version%'""",
    "columns": """
        SELECT table_schema, table_name, column_name,
               -- the position among live columns: a column dropped and added again by a
               -- down-up step keeps its place although its attnum is new
               row_number() OVER (PARTITION BY table_schema, table_name
                                  ORDER BY ordinal_position), data_type,
               is_nullable, coalesce(column_default, ''), character_maximum_length,
               numeric_precision, numeric_scale, is_identity
          FROM information_schema.columns
         WHERE table_schema IN ('public', 'campaigndb') AND table_name <> 'alembic_version'""",
    "constraints": """
        SELECT n.nspname, conrelid::regclass::text, conname, contype, pg_get_constraintdef(c.oid)
          FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
         WHERE n.nspname IN ('public', 'campaigndb')
           AND conrelid::regclass::text NOT LIKE '%alembic_version'""",
    "indexes": """
        SELECT schemaname, tablename, indexname, indexdef FROM pg_indexes
         WHERE schemaname IN ('public', 'campaigndb') AND tablename <> 'alembic_version'""",
    "policies": """
        SELECT schemaname, tablename, policyname, permissive, roles::text, cmd,
               coalesce(qual, ''), coalesce(with_check, '')
          FROM pg_policies WHERE schemaname IN ('public', 'campaigndb')""",
    "functions": """
        SELECT n.nspname, p.proname, pg_get_function_identity_arguments(p.oid),
               pg_get_functiondef(p.oid), coalesce(p.proconfig::text, ''), p.prosecdef,
               p.provolatile, coalesce(p.proacl::text, '')
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname IN ('public', 'campaigndb')""",
    "triggers": """
        SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(t.oid)
          FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE NOT t.tgisinternal AND n.nspname IN ('public', 'campaigndb')""",
    "schemas": """
        SELECT nspname, coalesce(nspacl::text, '') FROM pg_namespace
         WHERE nspname IN ('public', 'campaigndb')""",
    "error_codes": """
        SELECT to_jsonb(e)::text FROM campaigndb.error_codes e
         WHERE to_regclass('campaigndb.error_codes') IS NOT NULL""",
}


def catalog(dsn: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        snapshot: dict[str, list[tuple[Any, ...]]] = {}
        for name, query in CATALOG_QUERIES.items():
            if name == "error_codes" and conn.execute(
                    "SELECT to_regclass('campaigndb.error_codes')").fetchone() == (None,):
                snapshot[name] = []
                continue
            snapshot[name] = sorted(tuple(map(str, row)) for row in conn.execute(query))
        return snapshot


def owned_objects(dsn: str) -> int:
    snapshot = catalog(dsn)
    return sum(len(rows) for name, rows in snapshot.items() if name != "schemas") + sum(
        1 for row in snapshot["schemas"] if row[0] == "campaigndb")


def revisions() -> list[str]:
    script = ScriptDirectory.from_config(Config(str(ROOT / "alembic.ini")))
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def test_upgrade_downgrade_upgrade(empty_db: str) -> None:
    blank = catalog(empty_db)
    migrate(empty_db)
    deployed = catalog(empty_db)
    assert deployed != blank
    migrate(empty_db)  # repeat: a no-op
    assert catalog(empty_db) == deployed
    migrate(empty_db, "base", down=True)
    assert catalog(empty_db) == blank
    migrate(empty_db, "base", down=True)  # repeat: a no-op
    migrate(empty_db)
    assert catalog(empty_db) == deployed


def test_every_single_step_down_and_up(empty_db: str) -> None:
    history = revisions()
    snapshots = {"base": catalog(empty_db)}
    for revision in history:
        migrate(empty_db, revision)
        snapshots[revision] = catalog(empty_db)
    steps = list(zip(["base", *history[:-1]], history, strict=True))
    for previous, revision in reversed(steps):
        migrate(empty_db, previous, down=True)
        assert catalog(empty_db) == snapshots[previous], f"down from {revision}"
        migrate(empty_db, revision)
        assert catalog(empty_db) == snapshots[revision], f"up to {revision}"
        migrate(empty_db, previous, down=True)
    assert catalog(empty_db) == snapshots["base"]


def test_no_drift_between_declared_sources_and_migrations(empty_db: str) -> None:
    migrate(empty_db)
    declared_name = f"campaigndb_declared_{os.getpid()}"
    declared = create_database(declared_name)
    try:
        with psycopg.connect(declared, autocommit=True) as conn:
            conn.execute(declared_sql())
        from_sources, from_migrations = catalog(declared), catalog(empty_db)
        for part in CATALOG_QUERIES:
            assert from_sources[part] == from_migrations[part], f"drift in {part}"
        assert owned_objects(declared) > 100
    finally:
        drop_database(declared_name)


def copy_of_the_migrations(tmp_path: Path) -> Path:
    """The package's migrations folder copied alone, with its bundled alembic.ini."""
    target = tmp_path / "migrations"
    shutil.copytree(SCRIPT_LOCATION, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_revisions_run_without_the_declared_sources(empty_db: str, tmp_path: Path) -> None:
    """A revision never reads today's sql/: deploy from a copy that has no sql/ folder."""
    copy = copy_of_the_migrations(tmp_path)
    env = {**os.environ, "CAMPAIGNDB_DSN": empty_db}
    result = subprocess.run([sys.executable, "-m", "alembic", "-c", str(copy / "alembic.ini"),
                             "upgrade", "head"],
                            cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "sql").exists()
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT to_regprocedure('public.track_campaign_cost("
                            "uuid, varchar, integer, numeric, jsonb, text)')").fetchone() != (None,)


def test_a_changed_frozen_file_is_refused(empty_db: str, tmp_path: Path) -> None:
    copy = copy_of_the_migrations(tmp_path)
    frozen = copy / "frozen" / "0001_foundation" / "upgrade.sql"
    frozen.write_text(frozen.read_text() + "\n-- edited after landing\n")
    result = subprocess.run([sys.executable, "-m", "alembic", "-c", str(copy / "alembic.ini"),
                             "upgrade", "head"], cwd=tmp_path,
                            env={**os.environ, "CAMPAIGNDB_DSN": empty_db},
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "landed revisions never change" in result.stderr


def test_offline_sql_for_review() -> None:
    result = subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head", "--sql"],
                            cwd=ROOT, capture_output=True, text=True,
                            env={k: v for k, v in os.environ.items()
                                 if k not in ("CAMPAIGNDB_DSN", "DATABASE_URL")})
    assert result.returncode == 0, result.stderr
    assert "SET lock_timeout" in result.stdout
    assert "CREATE OR REPLACE FUNCTION public.track_campaign_cost" in result.stdout
    assert "CREATE OR REPLACE FUNCTION public.insert_businesses_batch" in result.stdout
