"""`campaigndb token mint`: a workspace token for an admin's script or test
(docs/tenancy.md, "Signed workspace tokens").  The database cannot give the secret back, so
the admin supplies it: CAMPAIGNDB_TOKEN_SECRET or --secret-file, never the command line
(where `ps` would show it)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

token_app = typer.Typer(help="Workspace tokens (docs/tenancy.md)", no_args_is_help=True)
SECRET_ENV = "CAMPAIGNDB_TOKEN_SECRET"


@token_app.command("mint")
def token_mint(
    workspace: Annotated[list[str], typer.Option(
        "--workspace", "-w", help="workspace uuid (repeat for a token naming several)")],
    ttl: Annotated[int, typer.Option(help="seconds until it expires")] = 300,
    aud: Annotated[bool, typer.Option("--aud/--no-aud",
                                      help="add the claim aud: campaigndb")] = False,
    secret_file: Annotated[Path | None, typer.Option(
        help=f"read the secret from this file (default: ${SECRET_ENV})")] = None,
) -> None:
    """Print a workspace token signed with the secret an admin stored with
    rotate_token_secret (the database cannot give it back, so the admin supplies it: the
    environment variable CAMPAIGNDB_TOKEN_SECRET or --secret-file, never the command line)."""
    from campaigndb import mint_token

    if secret_file is not None:
        try:
            secret = secret_file.read_text().strip()
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {secret_file}: {exc.strerror}",
                                     param_hint="--secret-file") from exc
    else:
        secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        raise typer.BadParameter(f"no secret: set {SECRET_ENV} or pass --secret-file")
    if ttl < 1:
        raise typer.BadParameter("must be at least 1 second", param_hint="--ttl")
    try:
        ids = [str(uuid.UUID(w)) for w in workspace]
    except ValueError as exc:
        raise typer.BadParameter(f"not a uuid among {', '.join(workspace)}",
                                 param_hint="--workspace") from exc
    claims: dict[str, Any] = {"aud": "campaigndb"} if aud else {}
    try:
        print(mint_token(secret, ids[0] if len(ids) == 1 else ids, ttl_s=ttl, **claims))
    except ValueError as exc:  # a secret shorter than 32 bytes, more than 100 workspaces
        raise typer.BadParameter(str(exc)) from exc
