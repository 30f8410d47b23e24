"""Hostile input for every API function (issue 6, item 2).

For each function of campaigndb.FUNCTIONS, hypothesis draws hostile arguments
(strategies.py) and calls the function twice with them: through plain SQL with named
arguments, and through the client's `call()`.  Every answer must be a well-formed envelope
(docs/contract.md section 1), the documented rows or uuid for the TABLE/uuid functions, or, on
the plain-SQL path, a 22xxx error for an argument PostgreSQL cannot even cast to the
parameter's type.  After every failed call the database's fingerprint is unchanged.
"""

from __future__ import annotations

import uuid
from functools import cache
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.rows import dict_row

from campaigndb import FUNCTIONS, Client, FunctionSpec

from . import strategies
from .checks import (
    TABLE_CODES,
    Answer,
    Fingerprint,
    call_sql,
    cast_errors,
    check_business_rows,
    check_envelope,
    fingerprint_of,
)
from .strategies import STRATEGIES, World
from .tally import code, count

Rows = list[tuple[Any, ...]]


@pytest.fixture(scope="module")
def fingerprint(plain: psycopg.Connection[Any]) -> Fingerprint:
    return fingerprint_of(plain)


@cache
def arguments(name: str, world: World) -> st.SearchStrategy[dict[str, Any]]:
    return STRATEGIES[name](world)


def test_the_fingerprint_covers_every_table(plain: psycopg.Connection[Any],
                                            fingerprint: Fingerprint, world: World) -> None:
    """The fingerprint reads every table of docs/contract.md section 2, and sees a changed row."""
    contract = {"workspaces", "campaigns", "gmaps_campaign_coverage", "gmaps_businesses",
                "gmaps_api_costs", "workspace_n8n_workflows", "n8n_campaign_executions",
                "workflow_deployment_history", "daily_kpi_data", "campaign_summaries",
                "collection_log", "transaction_metrics"}
    assert contract <= set(fingerprint.tables)
    before = fingerprint.take(plain)
    with plain.transaction(force_rollback=True):
        plain.execute("UPDATE campaigndb.gmaps_businesses SET name = name || ' ' WHERE id = %s",
                      [world.businesses[0]])
        assert fingerprint.take(plain) != before
    assert fingerprint.take(plain) == before


def test_every_function_has_a_strategy() -> None:
    missing = sorted(set(FUNCTIONS) - set(STRATEGIES))
    assert not missing, f"add hostile-input strategies for {missing} to fuzz/strategies.py"


def _sql_path(conn: psycopg.Connection[Any], spec: FunctionSpec, args: dict[str, Any],
              binding: str | None) -> tuple[bool, frozenset[str]]:
    """Call through plain SQL and check the answer; (succeeded, cast error codes)."""
    answer: Answer = call_sql(conn, spec, args, binding)
    if answer.sqlstate is not None:
        casts = cast_errors(conn, spec, args)
        code(spec.name, answer.sqlstate)
        if answer.sqlstate in casts:
            assert answer.sqlstate.startswith("22"), (
                f"an argument of {spec.name} failed its cast with {answer.sqlstate}, not a"
                f" 22xxx data exception: {answer.message}")
            count(spec.name, "sql cast")
            return False, casts
        assert spec.returns != "envelope", (
            f"{spec.name} raised {answer.sqlstate} instead of answering an envelope"
            f" (binding {binding!r}): {answer.message}")
        assert answer.sqlstate in TABLE_CODES, (
            f"{spec.name} raised {answer.sqlstate}, not in the contract's table: {answer.message}")
        count(spec.name, "sql refused")
        return False, casts
    rows = answer.rows or []
    if spec.returns == "envelope":
        assert len(rows) == 1 and len(rows[0]) == 1, f"{spec.name} returned {rows!r}"
        envelope = rows[0][0]
        check_envelope(spec.name, envelope, allowed_codes=frozenset())
        succeeded = bool(envelope["success"])
        if not succeeded:
            code(spec.name, envelope["error_code"])
    elif spec.returns == "table":
        check_business_rows([dict(zip(answer.columns, row, strict=True)) for row in rows], args)
        succeeded = True
    else:
        assert len(rows) == 1 and isinstance(rows[0][0], uuid.UUID), f"{spec.name}: {rows!r}"
        succeeded = True
    count(spec.name, "sql ok" if succeeded else "sql refused")
    return succeeded, frozenset()


def _client_path(client: Client, client_like: psycopg.Connection[Any], spec: FunctionSpec,
                 args: dict[str, Any], binding: str | None) -> bool:
    """Call through the client's call() and check the envelope; True when it succeeded."""
    bound = client
    if binding is not None and binding != "not-a-uuid":
        # (a binding that is not a uuid is refused by Client.bound itself: that call goes
        # unbound; the plain-SQL path sends it)
        bound = client.bound(binding)
    envelope = bound.call(spec.name, **args)
    sqlstate = envelope.get("error_code") if isinstance(envelope, dict) else None
    casts: frozenset[str] = frozenset()
    if sqlstate is not None:
        code(spec.name, sqlstate)
        if sqlstate not in TABLE_CODES or sqlstate.startswith("22"):
            casts = cast_errors(client_like, spec, args, psycopg.ClientCursor)
            assert sqlstate not in casts or sqlstate.startswith("22"), (
                f"an argument of {spec.name} failed its cast with {sqlstate}, not a 22xxx one")
    check_envelope(spec.name, envelope, allowed_codes=casts)
    if envelope["success"]:
        if spec.returns == "table":
            check_business_rows(envelope["rows"], args)
        elif spec.returns == "scalar":
            assert isinstance(envelope["id"], uuid.UUID), envelope
    count(spec.name, "client ok" if envelope["success"]
          else "client cast" if sqlstate in casts else "client refused")
    return bool(envelope["success"])


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@given(data=st.data())
def test_hostile_arguments(name: str, data: st.DataObject, world: World, client: Client,
                           plain: psycopg.Connection[Any], client_like: psycopg.Connection[Any],
                           fingerprint: Fingerprint) -> None:
    spec = FUNCTIONS[name]
    if name not in STRATEGIES:
        pytest.fail(f"no strategy for {name}")  # test_every_function_has_a_strategy says more
    args = data.draw(arguments(name, world), label="arguments")
    binding = data.draw(strategies.bindings(world), label="campaigndb.workspace_id")
    assert set(args) <= set(spec.params) and spec.required <= set(args), (
        f"the strategy of {name} is stale: {sorted(args)} vs {sorted(spec.params)}")
    count(name, "examples")

    before = fingerprint.take(plain)
    succeeded, _ = _sql_path(plain, spec, args, binding)
    after = fingerprint.take(plain)
    if not succeeded:
        assert after == before, f"{name} failed through plain SQL but wrote: {args!r}"

    succeeded = _client_path(client, client_like, spec, args, binding)
    final = fingerprint.take(plain)
    if not succeeded:
        assert final == after, f"{name} failed through the client but wrote: {args!r}"


# -- over the documented limits: 54000, nothing written, on both paths -----------------------

def _over_the_limit(name: str, world: World) -> dict[str, Any]:
    """Valid arguments with one element more than the documented limit."""
    if name == "create_campaign_with_coverage":
        return {"p_campaign_data": {"workspace_id": world.workspaces[0], "name": "too big"},
                "p_zip_codes": [f"{n:05d}" for n in range(50_001)]}
    if name == "insert_businesses_batch":
        return {"p_campaign_id": world.campaigns[0], "p_zip_code": "10001",
                "p_businesses": [{"place_id": f"over-{n}", "name": "n"} for n in range(25_001)]}
    if name == "update_enrichment_batch":
        return {"p_enrichment_type": "facebook",
                "p_enrichments": [{"business_id": world.businesses[0]}] * 10_001}
    assert name == "upsert_daily_kpi_batch"
    return {"p_source": "fuzz", "p_rows": [
        {"campaign_id": world.campaigns[0], "kpi_date": f"{2000 + n // 10}-01-01",
         "platform": f"p{n % 10}", "impressions": 1, "clicks": 0, "spend": 0,
         "conversions": 0, "revenue": 0} for n in range(10_001)]}


@pytest.mark.parametrize("name", ["create_campaign_with_coverage", "insert_businesses_batch",
                                  "update_enrichment_batch", "upsert_daily_kpi_batch"])
def test_batches_over_the_limit(name: str, world: World, client: Client,
                                plain: psycopg.Connection[Any], fingerprint: Fingerprint) -> None:
    """One element over the documented limit: 54000 on both paths, nothing written."""
    args = _over_the_limit(name, world)
    before = fingerprint.take(plain)
    answer = call_sql(plain, FUNCTIONS[name], args, None)
    assert answer.rows is not None, answer.message
    check_envelope(name, answer.rows[0][0], allowed_codes=frozenset())
    assert answer.rows[0][0]["error_code"] == "54000", answer.rows[0][0]
    envelope = client.call(name, **args)
    check_envelope(name, envelope, allowed_codes=frozenset())
    assert envelope["error_code"] == "54000", envelope
    assert fingerprint.take(plain) == before


# -- hostile text stored verbatim ------------------------------------------------------------


@settings(max_examples=max(5, settings().max_examples // 5))
@given(text=strategies.names(200))
def test_hostile_text_is_stored_verbatim(text: str, world: World, client: Client,
                                         plain: psycopg.Connection[Any]) -> None:
    """Quotes, injection strings, control characters, RTL marks, emoji go in through text
    fields of successful calls (client and plain SQL) and come back equal."""
    count("(verbatim text)", "examples")
    workspace = client.create_workspace(text).workspace_id
    campaign = client.create_campaign_with_coverage(
        {"workspace_id": workspace, "name": text, "search_query": text, "location": text,
         "keywords": [text, text[::-1]], "settings": {text: text}}, ["10001"]).campaign_id
    client.insert_businesses_batch(campaign, "10001", [
        {"place_id": text, "name": text, "address": text, "raw_data": {"note": text}}])
    flow = client.register_n8n_workflow(workspace, text, text, "email").workflow_id
    run = client.execute_campaign_atomically(workspace, flow, None, text, "email",
                                             {"note": text})
    client.complete_campaign_execution(run.execution_id, "failed", {"why": text}, text)
    client.track_campaign_cost(campaign, text[:64] if text[:64].strip() else "svc", 1, 0,
                               {"note": text})
    through_sql = plain.execute(
        "SELECT public.create_workspace(p_name => %s::text) ->> 'workspace_id'",
        [text]).fetchone()
    assert through_sql is not None
    with plain.cursor(row_factory=dict_row) as cursor:
        stored = cursor.execute(
            "SELECT c.name AS campaign, c.search_query, c.location, c.keywords,"
            "       c.settings, b.place_id, b.name AS business, b.address, b.raw_data,"
            "       w.name AS workflow, w.n8n_workflow_id, e.campaign_name,"
            "       e.execution_config, e.result, e.error_message, k.metadata,"
            "       (SELECT s.name FROM campaigndb.workspaces AS s WHERE s.id = %s) AS by_sql"
            "  FROM campaigndb.campaigns AS c"
            "  JOIN campaigndb.gmaps_businesses AS b ON b.campaign_id = c.id"
            "  JOIN campaigndb.workspace_n8n_workflows AS w ON w.workspace_id = c.workspace_id"
            "  JOIN campaigndb.n8n_campaign_executions AS e ON e.id = %s"
            "  JOIN campaigndb.gmaps_api_costs AS k ON k.campaign_id = c.id"
            " WHERE c.id = %s", [through_sql[0], run.execution_id, campaign]).fetchone()
    assert stored == {
        "campaign": text, "search_query": text, "location": text,
        "keywords": [text, text[::-1]], "settings": {text: text}, "place_id": text,
        "business": text, "address": text, "raw_data": {"note": text}, "workflow": text,
        "n8n_workflow_id": text, "campaign_name": text, "execution_config": {"note": text},
        "result": {"why": text}, "error_message": text, "metadata": {"note": text},
        "by_sql": text,
    }
    assert plain.execute("SELECT name FROM campaigndb.workspaces WHERE id = %s",
                         [workspace]).fetchone() == (text,)
