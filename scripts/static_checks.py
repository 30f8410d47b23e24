"""Static analysis (`make static`, part of `make test`; docs/testing.md).

plpgsql: plpgsql_check over every PL/pgSQL function of a freshly migrated database (trigger
    functions with a table they fire on), performance and security warnings on.  No error
    passes; every warning must match tests/static/plpgsql_check_allow.txt.
squawk: the migration linter over every frozen upgrade.sql and downgrade.sql
    (client/campaigndb/migrations/frozen/*/), as run inside a transaction (alembic runs
    each revision in one).  Every finding must match
    tests/static/squawk_allow.txt, whose revision-specific lines may name landed revisions
    only: a new revision is clean apart from the project-wide policy lines.

Usage: static_checks.py [plpgsql|squawk ...]  (default: both).  Exit 1 on any finding not
accepted, 2 when a tool is missing.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

from campaigndb_dev.testing import create_database, drop_database, migrate, unique_name

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "tests" / "static"
FROZEN = ROOT / "client" / "campaigndb" / "migrations" / "frozen"
#: Landed revisions: history, never edited, so their findings are explained, not fixed.
LANDED = ("0001_foundation", "0002_lead_generation", "0003_campaign_execution",
          "0004_observability", "0005_reporting", "0006_metrics_flush", "0007_tenancy",
          "0008_first_contact")
#: squawk judges lock hazards by version; the oldest major the project supports.
SQUAWK_PG_VERSION = "15.0"

FUNCTIONS_SQL = """
SELECT p.oid, n.nspname || '.' || p.proname,
       (SELECT min(t.tgrelid::oid) FROM pg_catalog.pg_trigger AS t WHERE t.tgfoid = p.oid)
  FROM pg_catalog.pg_proc AS p
  JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
  JOIN pg_catalog.pg_language AS l ON l.oid = p.prolang
 WHERE l.lanname = 'plpgsql'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d
                    WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                      AND d.deptype = 'e')
 ORDER BY 2, 1"""

CHECK_SQL = """
SELECT level, lineno, message, detail
  FROM plpgsql_check_function_tb(%s::oid::regprocedure, COALESCE(%s::oid, 0)::regclass,
                                 performance_warnings => true, security_warnings => true)"""


@dataclass
class Allowance:
    fields: tuple[str, ...]
    reason: str
    used: int = 0


def read_allow(path: Path, columns: int) -> list[Allowance]:
    """`a | b | ... | reason` lines (columns fields, then the reason); # comments."""
    entries: list[Allowance] = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = [part.strip() for part in line.split("|", columns)]
        if len(parts) != columns + 1 or not all(parts):
            raise SystemExit(f"{path}:{number}: want {columns} fields and a reason, "
                             f"separated by |")
        entries.append(Allowance(tuple(parts[:columns]), parts[columns]))
    return entries


def check_plpgsql(extra_sql: str = "") -> int:
    """extra_sql runs after the migration (the tests add a faulty function with it)."""
    allow = read_allow(STATIC / "plpgsql_check_allow.txt", 3)
    name = unique_name("campaigndb_static")
    dsn = create_database(name)
    bad = checked = accepted = 0
    try:
        migrate(dsn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            if extra_sql:
                conn.execute(extra_sql)
            available = conn.execute("SELECT 1 FROM pg_catalog.pg_available_extensions"
                                     " WHERE name = 'plpgsql_check'").fetchone()
            if not available:
                version = conn.execute("SHOW server_version_num").fetchone()
                major = int(str(version[0] if version else 0)) // 10000
                print(f"plpgsql_check is not installed for PostgreSQL {major}: "
                      "bash scripts/install-test-deps.sh (postgresql-"
                      f"{major}-plpgsql-check)", file=sys.stderr)
                return 2
            conn.execute("CREATE EXTENSION IF NOT EXISTS plpgsql_check")
            for oid, function, relid in conn.execute(FUNCTIONS_SQL).fetchall():
                checked += 1
                for level, lineno, message, detail in conn.execute(CHECK_SQL, [oid, relid]):
                    where = f"{function} line {lineno}: {level}: {message}"
                    if level == "error":
                        print(f"ERROR {where} ({detail})")
                        bad += 1
                        continue
                    match = next((a for a in allow if a.fields[0] == function
                                  and a.fields[1] == level
                                  and str(message).startswith(a.fields[2])), None)
                    if match is None:
                        print(f"NOT ACCEPTED {where} ({detail})")
                        bad += 1
                    else:
                        match.used += 1
                        accepted += 1
    finally:
        drop_database(name)
    for entry in allow:
        if not entry.used:
            print(f"stale entry in plpgsql_check_allow.txt (matches nothing): "
                  f"{' | '.join(entry.fields)}")
    print(f"plpgsql_check: {checked} functions, {accepted} warnings accepted with a reason, "
          f"{bad} not accepted")
    return 1 if bad else 0


def check_squawk(frozen: Path = FROZEN) -> int:
    squawk = shutil.which("squawk") or str(Path(sys.executable).parent / "squawk")
    if not Path(squawk).exists():
        print("squawk is missing: pip install -e '.[dev]' (squawk-cli)", file=sys.stderr)
        return 2
    allow = read_allow(STATIC / "squawk_allow.txt", 2)
    for entry in allow:
        revision = entry.fields[0].split("/", 1)[0]
        if "*" not in entry.fields[0] and revision not in LANDED:
            print(f"squawk_allow.txt names {entry.fields[0]}: only landed revisions "
                  f"({', '.join(LANDED)}) may be excused; fix the new revision instead",
                  file=sys.stderr)
            return 1
    files = sorted(frozen.glob("*/upgrade.sql")) + sorted(frozen.glob("*/downgrade.sql"))
    result = subprocess.run(
        [squawk, "--reporter", "json", "--assume-in-transaction",
         "--pg-version", SQUAWK_PG_VERSION, *map(str, files)],
        capture_output=True, text=True, cwd=ROOT)
    try:
        findings = json.loads(result.stdout or "[]")
    except ValueError:
        print(f"squawk failed: {result.stderr or result.stdout}", file=sys.stderr)
        return 2
    bad = 0
    for finding in findings:
        relative = Path(finding["file"]).resolve().relative_to(frozen.resolve()).as_posix()
        rule = finding["rule_name"]
        match = next((a for a in allow if a.fields[1] == rule
                      and fnmatch.fnmatchcase(relative, a.fields[0])), None)
        if match is None:
            print(f"NOT ACCEPTED {relative}:{finding['line']}: {rule}: {finding['message']}")
            bad += 1
        else:
            match.used += 1
    for entry in allow:
        if not entry.used:
            print(f"stale entry in squawk_allow.txt (matches nothing): "
                  f"{' | '.join(entry.fields)}")
    print(f"squawk: {len(files)} files, {len(findings) - bad} findings accepted with a reason, "
          f"{bad} not accepted")
    return 1 if bad else 0


def main(argv: list[str]) -> int:
    checks: dict[str, Callable[[], int]] = {"plpgsql": check_plpgsql, "squawk": check_squawk}
    wanted = argv or list(checks)
    unknown = [name for name in wanted if name not in checks]
    if unknown:
        print(f"unknown check(s) {unknown}; choose from {list(checks)}", file=sys.stderr)
        return 2
    return max([checks[name]() for name in wanted])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
