"""The three foundation functions through the client: results, envelopes, typed errors."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from campaigndb import (
    CampaignData,
    CheckViolation,
    Client,
    Duplicate,
    InvalidInput,
    NotFound,
    ReferenceNotFound,
    ZipCode,
)

ENVELOPE_KEYS = {"success", "error", "error_code", "retry_recommended"}


def counts(raw: psycopg.Connection[Any]) -> tuple[int, ...]:
    row = raw.execute(
        "SELECT (SELECT count(*) FROM campaigndb.workspaces),"
        " (SELECT count(*) FROM campaigndb.campaigns),"
        " (SELECT count(*) FROM campaigndb.gmaps_campaign_coverage),"
        " (SELECT count(*) FROM campaigndb.gmaps_api_costs),"
        " (SELECT coalesce(sum(total_cost), 0) FROM campaigndb.campaigns)"
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_create_workspace_returns_id_and_replays(client: Client) -> None:
    key = uuid.uuid4()
    first = client.create_workspace("Acme", workspace_id=key)
    again = client.create_workspace("Acme", workspace_id=key)
    assert first.workspace_id == key and not first.replayed
    assert again.workspace_id == key and again.replayed
    with pytest.raises(Duplicate) as info:
        client.create_workspace("Other name", workspace_id=key)
    assert info.value.sqlstate == "23505"


def test_create_workspace_requires_a_name(client: Client, raw: psycopg.Connection[Any]) -> None:
    before = counts(raw)
    envelope = client.call("create_workspace", p_name="  ")
    assert envelope.keys() >= ENVELOPE_KEYS
    assert envelope["success"] is False and envelope["error_code"] == "23502"
    assert envelope["retry_recommended"] is False
    assert counts(raw) == before


def test_campaign_with_coverage_collapses_repeats(
    client: Client, workspace: uuid.UUID, raw: psycopg.Connection[Any]
) -> None:
    created = client.create_campaign_with_coverage(
        CampaignData(workspace_id=workspace, name="Dentists", keywords=["dentist"],
                     settings={"radius_km": 5}),
        ["10001", " 10001 ", ZipCode(zip_code="10002", estimated_cost=Decimal("1.25")),
         {"zip_code": "10003"}],
    )
    assert created.zip_count == 3 and not created.replayed
    rows = raw.execute(
        "SELECT zip_code, estimated_cost FROM campaigndb.gmaps_campaign_coverage"
        " WHERE campaign_id = %s ORDER BY zip_code", [created.campaign_id]
    ).fetchall()
    assert rows == [("10001", None), ("10002", Decimal("1.25")), ("10003", None)]


def test_campaign_id_is_an_idempotency_key(client: Client, workspace: uuid.UUID) -> None:
    campaign_id = uuid.uuid4()
    data = {"id": campaign_id, "workspace_id": workspace, "name": "Plumbers"}
    first = client.create_campaign_with_coverage(data, ["20001", "20002"])
    again = client.create_campaign_with_coverage(data, ["20001", "20002"])
    assert (first.campaign_id, again.campaign_id) == (campaign_id, campaign_id)
    assert again.replayed and again.zip_count == 2
    with pytest.raises(Duplicate):
        client.create_campaign_with_coverage(data, ["20001"])


@pytest.mark.parametrize(
    ("data", "zips", "sqlstate", "exception"),
    [
        ({"name": "x"}, [], "23502", InvalidInput),
        ({"workspace_id": "not-a-uuid", "name": "x"}, [], "22P02", InvalidInput),
        ({"name": "x", "colour": "red"}, [], "22023", InvalidInput),
        ({"name": "x", "status": "sleeping"}, [], "23514", CheckViolation),
        ({"name": "x"}, [12345], "22023", InvalidInput),
        ({"name": "x"}, [{"zip": "1"}], "22023", InvalidInput),
        ({"name": "x"}, [{"zip_code": "1", "estimated_cost": -1}], "22023", InvalidInput),
        ({"name": "x"}, ["not a zip!"], "22023", InvalidInput),
    ],
)
def test_bad_campaign_input_is_an_envelope_and_writes_nothing(
    client: Client, workspace: uuid.UUID, raw: psycopg.Connection[Any],
    data: dict[str, Any], zips: list[Any], sqlstate: str, exception: type[Exception],
) -> None:
    document = {"workspace_id": str(workspace), **data}
    if "name" in data and len(data) == 1 and sqlstate == "23502":
        document.pop("workspace_id")
    before = counts(raw)
    envelope = client.call("create_campaign_with_coverage", p_campaign_data=document,
                           p_zip_codes=zips)
    assert envelope["success"] is False
    assert envelope["error_code"] == sqlstate, envelope
    assert envelope["retry_recommended"] is False and envelope["error"]
    assert counts(raw) == before


def test_unknown_workspace_is_a_foreign_key_error(client: Client) -> None:
    with pytest.raises(ReferenceNotFound) as info:
        client.create_campaign_with_coverage({"workspace_id": uuid.uuid4(), "name": "x"}, [])
    assert info.value.sqlstate == "23503"
    assert info.value.constraint == "campaigns_workspace_id_fkey"


def test_too_many_zip_codes(client: Client, workspace: uuid.UUID) -> None:
    envelope = client.call(
        "create_campaign_with_coverage",
        p_campaign_data={"workspace_id": str(workspace), "name": "huge"},
        p_zip_codes=[f"{i:05d}" for i in range(50_001)],
    )
    assert envelope["error_code"] == "54000" and envelope["success"] is False


def test_ten_thousand_zip_codes_is_normal_use(client: Client, workspace: uuid.UUID) -> None:
    created = client.create_campaign_with_coverage(
        {"workspace_id": workspace, "name": "big"}, [f"{i:05d}" for i in range(10_000)]
    )
    assert created.zip_count == 10_000


def test_track_cost_adds_exactly(
    client: Client, campaign: uuid.UUID, raw: psycopg.Connection[Any]
) -> None:
    amounts = [Decimal("0.10"), Decimal("0.2"), Decimal("1234.567891"), Decimal("0")]
    results = [client.track_campaign_cost(campaign, "gmaps", 10, amount) for amount in amounts]
    assert results[-1].new_total_cost == sum(amounts)
    assert len({r.cost_id for r in results}) == len(amounts)
    total, rows = raw.execute(
        "SELECT c.total_cost, (SELECT sum(cost_usd) FROM campaigndb.gmaps_api_costs k"
        " WHERE k.campaign_id = c.id) FROM campaigndb.campaigns c WHERE c.id = %s", [campaign]
    ).fetchone() or (None, None)
    assert total == rows == sum(amounts)


def test_track_cost_replay_and_mismatch(
    client: Client, campaign: uuid.UUID, raw: psycopg.Connection[Any]
) -> None:
    first = client.track_campaign_cost(campaign, "facebook", 3, "0.30", {"run": 1},
                                       idempotency_key="run-1")
    before = counts(raw)
    again = client.track_campaign_cost(campaign, "facebook", 3, "0.30", {"run": 1},
                                       idempotency_key="run-1")
    assert again.replayed and again.cost_id == first.cost_id
    assert again.new_total_cost == first.new_total_cost
    assert counts(raw) == before
    with pytest.raises(Duplicate) as info:
        client.track_campaign_cost(campaign, "facebook", 4, "0.30", {"run": 1},
                                   idempotency_key="run-1")
    assert info.value.constraint == "gmaps_api_costs_idempotency_key_key"
    assert counts(raw) == before


@pytest.mark.parametrize(
    ("overrides", "sqlstate"),
    [
        ({"p_cost_usd": Decimal("-0.01")}, "22023"),
        ({"p_cost_usd": Decimal("NaN")}, "22023"),
        ({"p_cost_usd": Decimal("Infinity")}, "22023"),
        ({"p_cost_usd": None}, "23502"),
        ({"p_items_processed": -1}, "22023"),
        ({"p_service": ""}, "23502"),
        ({"p_metadata": [1, 2]}, "22023"),
        ({"p_campaign_id": str(uuid.uuid4())}, "P0002"),
        ({"p_campaign_id": "not-a-uuid"}, "22P02"),
        ({"p_items_processed": "many"}, "22P02"),
    ],
)
def test_track_cost_bad_input(
    client: Client, campaign: uuid.UUID, raw: psycopg.Connection[Any],
    overrides: dict[str, Any], sqlstate: str,
) -> None:
    params: dict[str, Any] = {"p_campaign_id": str(campaign), "p_service": "gmaps",
                              "p_items_processed": 1, "p_cost_usd": Decimal("1"),
                              "p_metadata": {}}
    params.update(overrides)
    before = counts(raw)
    envelope = client.call("track_campaign_cost", **params)
    assert envelope.keys() >= ENVELOPE_KEYS
    assert envelope["success"] is False and envelope["error_code"] == sqlstate, envelope
    assert envelope["retry_recommended"] is False
    assert counts(raw) == before


def test_unknown_campaign_raises_not_found(client: Client) -> None:
    with pytest.raises(NotFound):
        client.track_campaign_cost(uuid.uuid4(), "gmaps", 1, "1")


def test_generic_call_rejects_unknown_names(client: Client) -> None:
    with pytest.raises(ValueError, match="unknown function"):
        client.call("drop_everything")
    with pytest.raises(ValueError, match="no parameter"):
        client.call("create_workspace", p_name="x", p_colour="red")
    with pytest.raises(ValueError, match="needs parameter"):
        client.call("create_workspace")


def test_blank_names_of_any_whitespace_are_refused(client: Client, workspace: uuid.UUID) -> None:
    assert client.call("create_workspace", p_name="\t\n ")["error_code"] == "23502"
    envelope = client.call("create_campaign_with_coverage",
                           p_campaign_data={"workspace_id": str(workspace), "name": "\t"},
                           p_zip_codes=[])
    assert envelope["error_code"] == "23502"


def test_replay_accepts_the_same_uuid_spelt_differently(
    client: Client, workspace: uuid.UUID
) -> None:
    campaign_id = uuid.uuid4()
    data = {"id": str(campaign_id), "workspace_id": str(workspace), "name": "Roofers"}
    client.create_campaign_with_coverage(data, ["40001"])
    upper = {**data, "id": str(campaign_id).upper(), "workspace_id": str(workspace).upper()}
    again = client.create_campaign_with_coverage(upper, ["40001"])
    assert again.replayed and again.campaign_id == campaign_id
