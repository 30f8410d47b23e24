"""The command line's exit codes and one-line errors (docs/client.md#command-line).

Typer's own error display is a framed, multi-line panel (and a traceback for an exception a
command did not expect); scripts want one line on stderr and a code they can branch on."""

from __future__ import annotations

import sys
from typing import Any

import typer

from campaigndb.core.exceptions import ConnectFailed
from campaigndb_dev.embedded import EmbeddedError

OK = 0
FAILED = 1  # the call answered success:false, or the command failed
USAGE = 2  # a usage error: unknown command, option, function or parameter; a bad value
NOT_RUNNING = 3  # no such embedded cluster, or it is not running
CANNOT_CONNECT = 4  # no database reachable (connection refused, no server to start)

# typer ships click (vendored in recent releases): its exception classes are reached through
# the public BadParameter instead of a private module path.
_CLICK = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
UsageError: type[Exception] = _CLICK["UsageError"]
ClickException: type[Exception] = _CLICK["ClickException"]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def run_main(app: typer.Typer, argv: list[str] | None = None) -> int:
    """Run the app without typer's standalone handling and map what escapes to an exit code."""
    try:
        code: Any = app(args=argv, prog_name="campaigndb", standalone_mode=False)
    except UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # `campaigndb` or a group alone
            ctx = getattr(exc, "ctx", None)
            if ctx is not None:
                text = ctx.get_help()  # typer's rich formatter prints it and returns ""
                if text.strip():
                    print(text)
            return USAGE
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "campaigndb"
        message = _one_line(exc.format_message())  # type: ignore[attr-defined]
        print(f"{where}: {message} (see {where} --help)", file=sys.stderr)
        return USAGE
    except ClickException as exc:
        print(f"campaigndb: {_one_line(exc.format_message())}",  # type: ignore[attr-defined]
              file=sys.stderr)
        return int(exc.exit_code)  # type: ignore[attr-defined]
    except (ConnectFailed, EmbeddedError) as exc:
        print(f"campaigndb: {_one_line(str(exc))}", file=sys.stderr)
        return CANNOT_CONNECT
    except KeyboardInterrupt:
        return 130
    if isinstance(code, int):
        return code
    return OK
