"""Stop every embedded cluster under .campaigndb/ (the test clusters of each major, the
wheel demo's, any a failed run left behind): `make test` ends with it, also on failure, so
that no server outlives the run.  --destroy also deletes their data."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from campaigndb_dev.embedded import EmbeddedError, EmbeddedServer

ROOT = Path(__file__).resolve().parents[1]


def clusters(base: Path) -> list[Path]:
    """Cluster folders (holding pgdata/) at most two levels under base."""
    return sorted({p.parent.parent for p in base.glob("*/pgdata/PG_VERSION")}
                  | {p.parent.parent for p in base.glob("*/*/pgdata/PG_VERSION")})


def main(argv: list[str]) -> int:
    destroy = "--destroy" in argv
    failed = 0
    for home in clusters(ROOT / ".campaigndb"):
        os.environ["CAMPAIGNDB_EMBEDDED_DIR"] = str(home.parent)
        server = EmbeddedServer(home.name)
        running = server.is_running()
        try:
            server.down(destroy=destroy)
        except EmbeddedError as exc:
            print(f"{home}: {exc}", file=sys.stderr)
            failed += 1
            continue
        if running or destroy:
            print(f"stopped {home.relative_to(ROOT)}" + (" (destroyed)" if destroy else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
