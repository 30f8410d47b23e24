"""`campaigndb token mint` (docs/tenancy.md, "Signed workspace tokens"): the token it prints
binds a gateway login (a tenant mapped nowhere) to the named workspaces in a real call, and to
nothing else; usage errors are one line and exit 2."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from campaigndb import Client
from campaigndb_dev.cli import main
from campaigndb_dev.token_cli import SECRET_ENV

SECRET = "token-cli-test-secret-" + "z" * 24


@pytest.fixture(scope="module")
def setup(direct_dsn: str) -> Iterator[dict[str, Any]]:
    """Workspaces A and B with a campaign each, the secret stored, a gateway login."""
    gateway = f"t_cli_gateway_{uuid.uuid4().hex[:6]}"
    out: dict[str, Any] = {}
    with Client(direct_dsn, pool_min_size=1, pool_max_size=1) as client:
        for label in ("a", "b"):
            ws = str(client.create_workspace(f"cli {label}").workspace_id)
            out[label] = (ws, str(client.create_campaign_with_coverage(
                {"workspace_id": ws, "name": f"cli {label}"}, ["10001"]).campaign_id))
    with psycopg.connect(direct_dsn, autocommit=True) as su:
        su.execute("SELECT public.rotate_token_secret(%s)", [SECRET])
        su.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE campaigndb_tenant").format(
            sql.Identifier(gateway)))
        out["dsn"] = make_conninfo("", **{**conninfo_to_dict(direct_dsn), "user": gateway})
        yield out
        su.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(gateway)))


def mint(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["token", "mint", *args])
    captured = capsys.readouterr()
    return code, captured.out.strip(), captured.err


def cost(dsn: str, token: str, campaign: str) -> Any:
    """track_campaign_cost through Client(workspace_token=...): the envelope."""
    with Client(dsn, workspace_token=token, pool_min_size=0, pool_max_size=1) as client:
        return client.call("track_campaign_cost", p_campaign_id=campaign, p_service="cli",
                           p_items_processed=1, p_cost_usd=0.01, p_metadata={})


def test_a_minted_token_binds_its_workspace_only(setup: dict[str, Any],
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    code, token, err = mint(capsys, "--workspace", setup["a"][0], "--ttl", "600")
    assert (code, err) == (0, ""), err
    assert cost(setup["dsn"], token, setup["a"][1])["success"] is True
    refused = cost(setup["dsn"], token, setup["b"][1])
    assert (refused["success"], refused["error_code"]) == (False, "42501"), refused


def test_several_workspaces_and_aud(setup: dict[str, Any], capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """workspace_ids and aud: the token the full checks accept (not the usual one)."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    code, token, err = mint(capsys, "-w", setup["a"][0], "-w", setup["b"][0], "--aud")
    assert code == 0, err
    for label in ("a", "b"):
        assert cost(setup["dsn"], token, setup[label][1])["success"] is True


def test_a_token_signed_with_another_secret_is_refused(
        setup: dict[str, Any], capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    secret_file = tmp_path / "secret"
    secret_file.write_text("not-the-stored-secret-" + "q" * 24 + "\n")
    code, token, err = mint(capsys, "-w", setup["a"][0], "--secret-file", str(secret_file))
    assert code == 0, err
    refused = cost(setup["dsn"], token, setup["a"][1])
    assert (refused["success"], refused["error_code"]) == (False, "42501"), refused


@pytest.mark.parametrize(("args", "env", "says"), [
    (["-w", "not-a-uuid"], SECRET, "not a uuid"),
    (["-w", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "--ttl", "0"], SECRET, "at least 1"),
    (["-w", "3f2504e0-4f89-11d3-9a0c-0305e82c3301"], None, "no secret"),
    (["-w", "3f2504e0-4f89-11d3-9a0c-0305e82c3301"], "too-short", "at least 32 bytes"),
    ([], SECRET, "Missing option"),
    (["-w", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "--secret-file", "/nonexistent/s"],
     None, "cannot read"),
])
def test_usage_errors_are_one_line_exit_2(args: list[str], env: str | None, says: str,
                                          capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    if env is None:
        monkeypatch.delenv(SECRET_ENV, raising=False)
    else:
        monkeypatch.setenv(SECRET_ENV, env)
    code, out, err = mint(capsys, *args)
    assert (code, out) == (2, "")
    assert says in err and len(err.strip().splitlines()) == 1, err
