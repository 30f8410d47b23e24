"""Hostile values the random strategies leave out, one by one:

- JSON nested as deep as PostgreSQL's parser accepts (the strategies stop at 5,000 levels);
- Python values that only the client's own serialisation meets (`call()` binds Python
  objects itself): integers beyond 64 bits, deep nesting, non-string keys and lone
  surrogates inside JSON parameters, NUL in text, Python types that have no cast to the
  parameter's type.  Through the client every call answers with an envelope (docs/contract.md
  section 1), and a failed one writes nothing.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from campaigndb import FUNCTIONS, Client

from .checks import Fingerprint, call_sql, check_envelope, fingerprint_of
from .strategies import World
from .tally import count


@pytest.fixture(scope="module")
def fingerprint(plain: psycopg.Connection[Any]) -> Fingerprint:
    return fingerprint_of(plain)


@pytest.fixture(scope="module")
def parser_depth(plain: psycopg.Connection[Any]) -> int:
    """The deepest array nesting `::jsonb` accepts on this server (bisected: it depends on
    max_stack_depth and the build)."""
    low, high = 1, 1 << 17
    while high - low > 1:
        middle = (low + high) // 2
        try:
            plain.execute("SELECT %s::jsonb IS NULL", ["[" * middle + "]" * middle])
            low = middle
        except psycopg.errors.StatementTooComplex:
            high = middle
    assert low > 1_000, low
    return low


def _deep_arguments(name: str, world: World, deep: str) -> dict[str, Any]:
    """Valid arguments of `name` with `deep` (JSON text) where a free-form object goes."""
    inner = '{"deep": ' + deep + "}"
    campaign, business = world.campaigns[0], world.businesses[0]
    if name == "create_campaign_with_coverage":
        return {"p_campaign_data": f'{{"workspace_id": "{world.workspaces[0]}", "name": "deep",'
                                   f' "settings": {inner}}}',
                "p_zip_codes": '["10001"]'}
    if name == "track_campaign_cost":
        return {"p_campaign_id": campaign, "p_service": "deep", "p_items_processed": 1,
                "p_cost_usd": 0, "p_metadata": inner}
    if name == "insert_businesses_batch":
        return {"p_campaign_id": campaign, "p_zip_code": "10001",
                "p_businesses": f'[{{"place_id": "deep", "name": "Deep", "raw_data": {inner}}}]'}
    if name == "update_email_verification":
        return {"p_business_id": business, "p_email": None,
                "p_verification_data": f'{{"status": "valid", "deep": {deep}}}'}
    if name == "update_enrichment_batch":
        return {"p_enrichment_type": "linkedin",
                "p_enrichments": f'[{{"business_id": "{business}", "data": {inner}}}]'}
    if name == "execute_campaign_atomically":
        return {"p_workspace_id": world.workspaces[0],
                "p_workspace_n8n_workflow_id": world.workflows[0],
                "p_campaign_approval_session_id": None, "p_campaign_name": "deep",
                "p_campaign_type": "email", "p_execution_config": inner}
    assert name == "upsert_daily_kpi_batch"
    return {"p_rows": "[" + deep + "]", "p_source": "deep"}


@pytest.mark.parametrize("name", ["create_campaign_with_coverage", "track_campaign_cost",
                                  "insert_businesses_batch", "update_email_verification",
                                  "update_enrichment_batch", "execute_campaign_atomically",
                                  "upsert_daily_kpi_batch"])
def test_json_nested_to_the_parsers_limit(name: str, world: World, client: Client,
                                          plain: psycopg.Connection[Any], parser_depth: int,
                                          fingerprint: Fingerprint) -> None:
    """JSON that PostgreSQL just accepts, nested inside a valid document: an envelope with a
    code from the contract's table (or success), on both paths; nothing written on failure."""
    depth = parser_depth - 8  # room for the levels around it
    args = _deep_arguments(name, world, "[" * depth + "]" * depth)
    count("(deep JSON)", "examples")
    before = fingerprint.take(plain)
    answer = call_sql(plain, FUNCTIONS[name], args, None)
    assert answer.rows is not None, f"{name} raised {answer.sqlstate}: {answer.message}"
    envelope = answer.rows[0][0]
    check_envelope(name, envelope, allowed_codes=frozenset())
    if not envelope["success"]:
        assert fingerprint.take(plain) == before
    before = fingerprint.take(plain)
    envelope = client.call(name, **args)
    check_envelope(name, envelope, allowed_codes=frozenset())
    if not envelope["success"]:
        assert fingerprint.take(plain) == before


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"a": value}
    return value


def _client_cases(world: World) -> dict[str, tuple[str, dict[str, Any]]]:
    cost = {"p_campaign_id": world.campaigns[0], "p_service": "edge", "p_items_processed": 1,
            "p_cost_usd": 0}
    return {
        "an integer beyond 64 bits in JSON": (
            "track_campaign_cost", {**cost, "p_metadata": {"n": 2**64}}),
        "JSON nested 300 deep as Python values": (
            "track_campaign_cost", {**cost, "p_metadata": _nested(300)}),
        "a non-string key in JSON": ("track_campaign_cost", {**cost, "p_metadata": {1: "x"}}),
        "a lone surrogate in JSON": (
            "track_campaign_cost", {**cost, "p_metadata": {"s": "\ud800"}}),
        "NUL in a JSON string": ("track_campaign_cost", {**cost, "p_metadata": {"s": "a\x00"}}),
        "NUL in a text parameter": ("create_workspace", {"p_name": "nul\x00byte"}),
        "NUL in a varchar parameter": ("track_campaign_cost",
                                       {**cost, "p_service": "a\x00", "p_metadata": {}}),
        "an int for a uuid parameter": ("update_campaign_statistics", {"p_campaign_id": 5}),
        "a bool for a numeric parameter": ("track_campaign_cost",
                                           {**cost, "p_cost_usd": True, "p_metadata": {}}),
        "a dict for a text parameter": ("create_workspace", {"p_name": {"a": 1}}),
        "bytes for a uuid parameter": ("update_campaign_statistics",
                                       {"p_campaign_id": b"\x00\xff"}),
        "a float for a boolean parameter": (
            "record_transaction_metric", {"p_operation_name": "edge", "p_campaign_id": None,
                                          "p_duration_ms": 1, "p_success": 0.5}),
    }


CLIENT_CASES = ["an integer beyond 64 bits in JSON", "JSON nested 300 deep as Python values",
                "a non-string key in JSON", "a lone surrogate in JSON", "NUL in a JSON string",
                "NUL in a text parameter", "NUL in a varchar parameter",
                "an int for a uuid parameter", "a bool for a numeric parameter",
                "a dict for a text parameter", "bytes for a uuid parameter",
                "a float for a boolean parameter"]


@pytest.mark.parametrize("case", CLIENT_CASES)
def test_client_answers_python_edge_values(case: str, world: World, client: Client,
                                           plain: psycopg.Connection[Any],
                                           fingerprint: Fingerprint) -> None:
    """call() answers an envelope for any Python value (never raises); a failure is
    well-formed and writes nothing."""
    name, args = _client_cases(world)[case]
    count("(client edge values)", "examples")
    before = fingerprint.take(plain)
    try:
        envelope = client.call(name, **args)
    except Exception as exc:  # the contract: through the client, every call answers
        pytest.fail(f"call({name!r}) with {case} raised {type(exc).__name__}: {exc}")
    assert isinstance(envelope, dict)
    if not envelope.get("success"):
        code = envelope.get("error_code")
        # a value with no cast to the parameter's type fails before the function runs, with
        # PostgreSQL's own SQLSTATE: 22xxx, or 42846/42804 for a literal of another type
        casts = frozenset({code}) if isinstance(code, str) and (
            code.startswith("22") or code in ("42846", "42804")) else frozenset()
        check_envelope(name, envelope, allowed_codes=casts)
        assert fingerprint.take(plain) == before
    else:
        check_envelope(name, envelope, allowed_codes=frozenset())
