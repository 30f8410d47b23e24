"""scripts/static_checks.py fails on what it is there to catch: a plpgsql_check error or an
unexcused warning, and a squawk finding in a new revision (docs/testing.md)."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]


def load_static_checks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("static_checks",
                                                  ROOT / "scripts" / "static_checks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def static_checks() -> ModuleType:
    return load_static_checks()


def test_landed_revisions_pass_squawk(static_checks: ModuleType) -> None:
    assert static_checks.check_squawk() == 0


def test_a_new_revision_with_a_lock_hazard_fails_squawk(static_checks: ModuleType,
                                                        tmp_path: Path) -> None:
    frozen = tmp_path / "frozen"
    shutil.copytree(static_checks.FROZEN, frozen)
    (frozen / "0099_probe").mkdir()
    (frozen / "0099_probe" / "upgrade.sql").write_text(
        "CREATE INDEX probe_idx ON campaigndb.campaigns (name);\n")
    assert static_checks.check_squawk(frozen) == 1


def test_the_migrated_functions_pass_plpgsql_check(static_checks: ModuleType) -> None:
    assert static_checks.check_plpgsql() == 0


def test_a_faulty_function_fails_plpgsql_check(static_checks: ModuleType) -> None:
    faulty = """
        CREATE FUNCTION campaigndb.static_probe() RETURNS integer LANGUAGE plpgsql AS $$
        BEGIN
            RETURN (SELECT no_such_column FROM campaigndb.campaigns LIMIT 1);
        END $$"""
    assert static_checks.check_plpgsql(faulty) == 1
