"""`python -m campaigndb`: the `campaigndb` command line (the `cli` extra), found through the
installed console-script entry point rather than imported from the development kit."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

HINT = "campaigndb: the command line needs the cli extra: pip install 'campaigndb[cli]'"


def main() -> None:
    scripts = entry_points(group="console_scripts", name="campaigndb")
    try:
        command = next(iter(scripts)).load()
    except (StopIteration, ImportError) as exc:  # not installed, or typer/rich/alembic missing
        missing = getattr(exc, "name", None)
        print(HINT + (f" ({missing} is missing)" if missing else ""), file=sys.stderr)
        raise SystemExit(2) from None
    raise SystemExit(command())


if __name__ == "__main__":
    main()
