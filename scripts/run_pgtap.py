"""Run the pgTAP suite: a fresh database migrated by `alembic upgrade head`, the pgtap
extension, then pg_prove over tests/pgtap/*.sql (`--ext .sql`: pg_prove's default is .pg).

On the embedded test cluster of $CAMPAIGNDB_PG_MAJOR (default: the first server found);
psql and pg_prove use that server's own client binaries."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from campaigndb.settings import Settings
from campaigndb_dev.embedded import EmbeddedServer, find_bindir
from campaigndb_dev.testing import (
    create_database,
    drop_database,
    migrate,
    test_cluster,
    unique_name,
)

ROOT = Path(__file__).resolve().parents[1]


def tool_env() -> dict[str, str]:
    """The environment for psql and pg_prove: the embedded server's bin folder first."""
    env = dict(os.environ)
    if not Settings().dsn:
        bindir = find_bindir(EmbeddedServer(test_cluster()).initialised_major())
        env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
    return env


def main() -> int:
    if shutil.which("pg_prove") is None:
        print("pg_prove is missing: bash scripts/install-test-deps.sh", file=sys.stderr)
        return 2
    name = unique_name("campaigndb_pgtap")
    dsn = create_database(name)
    try:
        migrate(dsn)
        env = tool_env()
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn,
                        "-c", "CREATE EXTENSION IF NOT EXISTS pgtap"], check=True, env=env)
        files = sorted(str(p) for p in (ROOT / "tests" / "pgtap").glob("*.sql"))
        if not files:
            print("no pgTAP files found", file=sys.stderr)
            return 1
        # pg_prove garbles a key=value DSN: give it the parts one by one
        params = conninfo_to_dict(dsn)
        target = ["--dbname", str(params["dbname"]), "--host", str(params.get("host", "")),
                  "--port", str(params.get("port", "5432")),
                  "--username", str(params.get("user", "postgres"))]
        return subprocess.call(["pg_prove", *target, "--ext", ".sql", "--failures",
                                *(sys.argv[1:] or files)], env=env)
    finally:
        drop_database(name)


if __name__ == "__main__":
    sys.exit(main())
