"""`make wheel`: the package as a deploy pipeline installs it (docs/deploy.md).

Builds the wheel, installs it alone into a throwaway venv (the runtime client imports;
`python -m campaigndb` names the missing extra), then with the `migrate,cli` extras, and from
a directory outside the checkout: deploys with `campaigndb migrate upgrade head` to a fresh
database of the test server, calls a function with `campaigndb call`, runs `alembic -c
"$(python -m campaigndb.migrations)" current`, runs the documented example test through the
pytest plugin the wheel registers, and checks that the wheel carries the declared SQL.  The
database is dropped at the end, the venv and the wheel deleted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from campaigndb_dev.testing import create_database, drop_database, server_dsn, unique_name

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    print("+", " ".join(args), flush=True)
    check = bool(kwargs.pop("check", True))
    result = subprocess.run(args, text=True, capture_output=True,  # type: ignore[call-overload]
                            **kwargs)
    if check and result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"failed ({result.returncode}): {' '.join(args)}")
    return result  # type: ignore[no-any-return]


def check_contents(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = ["campaigndb/migrations/alembic.ini", "campaigndb/migrations/env.py",
              "campaigndb/migrations/script.py.mako",
              "campaigndb/migrations/versions/0001_foundation.py",
              "campaigndb/migrations/frozen/0001_foundation/upgrade.sql",
              "campaigndb/sql/manifest.txt", "campaigndb/py.typed"]
    missing = [name for name in wanted if name not in names]
    frozen = [n for n in names if n.startswith("campaigndb/migrations/frozen/")]
    declared = [n for n in names if n.startswith("campaigndb/sql/")]
    if missing:
        raise SystemExit(f"the wheel lacks {missing}")
    print(f"wheel {wheel.name}: {len(frozen)} frozen SQL files, {len(declared)} declared")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="campaigndb-wheel-") as tmp:
        work = Path(tmp)
        run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(work), str(ROOT)])
        wheel = next(work.glob("campaigndb-*.whl"))
        check_contents(wheel)
        venv = work / "venv"
        run([sys.executable, "-m", "venv", str(venv)])
        # the runtime client alone: importable, and `python -m campaigndb` says what is missing
        run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)])
        run([str(venv / "bin" / "python"), "-c", "import campaigndb"])
        bare = run([str(venv / "bin" / "python"), "-m", "campaigndb", "--version"], check=False)
        if bare.returncode != 2 or "campaigndb[cli]" not in bare.stderr:
            raise SystemExit(f"python -m campaigndb without the cli extra: {bare}")
        run([str(venv / "bin" / "pip"), "install", "-q", f"{wheel}[migrate,cli]"])
        name = unique_name("campaigndb_wheel")
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "VIRTUAL_ENV", "PYTHONPATH")}
        env["CAMPAIGNDB_DSN"] = create_database(name)
        outside = {"cwd": work, "env": env}  # neither the checkout nor its alembic.ini
        try:
            run([str(venv / "bin" / "campaigndb"), "--version"], **outside)
            run([str(venv / "bin" / "campaigndb"), "migrate", "upgrade", "head"], **outside)
            called = run([str(venv / "bin" / "campaigndb"), "call", "create_workspace",
                          "p_name=from the wheel", "--json"], **outside)
            if not json.loads(called.stdout)["success"]:
                raise SystemExit(f"create_workspace failed: {called.stdout}")
            ini = run([str(venv / "bin" / "python"), "-m", "campaigndb.migrations"],
                      **outside).stdout.strip()
            if not ini.startswith(str(venv)):
                raise SystemExit(f"the alembic config is not the installed one: {ini}")
            current = run([str(venv / "bin" / "alembic"), "-c", ini, "current"], **outside)
            print(f"deployed from the wheel: {current.stdout.strip()}")
            # a user's own test with the plugin the wheel registers (docs/testing-your-code.md)
            run([str(venv / "bin" / "pip"), "install", "-q", f"{wheel}[testing]"])
            example = work / "test_my_scraper.py"
            example.write_text((ROOT / "docs" / "examples" / "test_my_scraper.py").read_text())
            (work / "pytest.ini").write_text(
                "[pytest]\nasyncio_default_fixture_loop_scope = function\n")
            env["CAMPAIGNDB_TEST_DSN"] = server_dsn()
            tested = run([str(venv / "bin" / "python"), "-m", "pytest", "-q",
                          "-p", "no:cacheprovider", str(example)], **outside)
            print(f"the example test with the installed plugin: {tested.stdout.splitlines()[-1]}")
        finally:
            drop_database(name)


if __name__ == "__main__":
    main()
