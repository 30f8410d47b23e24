"""The lead-generation functions through the client, and through plain SQL."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from campaigndb import (
    BatchTooLarge,
    Business,
    CheckViolation,
    Client,
    Enrichment,
    InvalidInput,
    NotFound,
    PermissionDenied,
)


def business(n: int, **extra: Any) -> dict[str, Any]:
    return {"place_id": f"place-{n}", "name": f"Business {n}", "address": f"{n} Main St",
            "rating": 4.5, "reviews_count": n, **extra}


def table_state(raw: psycopg.Connection[Any]) -> tuple[Any, ...]:
    row = raw.execute(
        "SELECT (SELECT count(*) FROM campaigndb.gmaps_businesses),"
        " (SELECT md5(string_agg(b::text, ',' ORDER BY id)) FROM campaigndb.gmaps_businesses b),"
        " (SELECT md5(string_agg(g::text, ',' ORDER BY campaign_id, zip_code))"
        "    FROM campaigndb.gmaps_campaign_coverage g),"
        " (SELECT md5(string_agg(c::text, ',' ORDER BY id)) FROM campaigndb.campaigns c)"
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_batch_counts_inserted_updated_skipped(
    client: Client, campaign: uuid.UUID, raw: psycopg.Connection[Any]
) -> None:
    first = client.insert_businesses_batch(campaign, "10001", [
        business(1), business(2), business(1, name="repeat in batch"), {"name": "no place id"},
        Business(place_id="place-3", name="Typed", rating=Decimal("3.5")),
    ])
    assert (first.inserted, first.updated, first.skipped) == (3, 0, 2)
    second = client.insert_businesses_batch(campaign, "10001", [
        business(1),                                  # unchanged
        {"place_id": "place-2", "name": "Business 2", "phone": "+1 555"},  # a new field
        {"place_id": "place-3", "name": "Typed"},     # absent fields keep their values
        business(4),
    ])
    assert (second.inserted, second.updated, second.skipped) == (1, 1, 2)
    rows = dict(raw.execute(
        "SELECT place_id, (name, phone, rating, address)::text FROM campaigndb.gmaps_businesses"
        " WHERE campaign_id = %s", [campaign]).fetchall())
    assert rows["place-1"] == '("Business 1",,4.50,"1 Main St")'  # first occurrence won
    assert rows["place-2"] == '("Business 2","+1 555",4.50,"2 Main St")'
    assert rows["place-3"] == "(Typed,,3.50,)"


@pytest.mark.parametrize(
    ("element", "sqlstate"),
    [
        ({"place_id": "x", "name": "X", "rating": "high"}, "22023"),
        ({"place_id": "x", "name": "X", "reviews_count": 1.5}, "22023"),
        ({"place_id": "x", "name": 5}, "22023"),
        ({"place_id": "x"}, "23502"),
        ({"place_id": "x", "name": "X", "rating": 9}, "23514"),
        ("not an object", "22023"),
    ],
)
def test_one_bad_element_fails_the_whole_batch(
    client: Client, campaign: uuid.UUID, raw: psycopg.Connection[Any],
    element: Any, sqlstate: str,
) -> None:
    before = table_state(raw)
    envelope = client.call("insert_businesses_batch", p_campaign_id=str(campaign),
                           p_zip_code="10001",
                           p_businesses=[business(100), business(101), element])
    assert envelope["success"] is False and envelope["error_code"] == sqlstate, envelope
    assert table_state(raw) == before


def test_batch_limits_and_shape(client: Client, campaign: uuid.UUID) -> None:
    with pytest.raises(BatchTooLarge):
        client.insert_businesses_batch(campaign, "10001",
                                       [{"place_id": str(i)} for i in range(25_001)])
    envelope = client.call("insert_businesses_batch", p_campaign_id=str(campaign),
                           p_zip_code="10001", p_businesses={"place_id": "x"})
    assert envelope["error_code"] == "22023"
    with pytest.raises(NotFound):
        client.insert_businesses_batch(uuid.uuid4(), "10001", [business(1)])


def test_ten_thousand_businesses_in_one_call(
    client: Client, campaign: uuid.UUID, raw: psycopg.Connection[Any]
) -> None:
    batch = [business(n, email=f"info{n}@example.com" if n % 3 == 0 else None)
             for n in range(10_000)]
    result = client.insert_businesses_batch(campaign, "10002", batch)
    assert (result.inserted, result.updated, result.skipped) == (10_000, 0, 0)
    again = client.insert_businesses_batch(campaign, "10002", batch[:5_000] + [
        business(n, name="renamed") for n in range(5_000, 10_000)])
    assert (again.inserted, again.updated, again.skipped) == (0, 5_000, 5_000)
    stats = client.update_campaign_statistics(campaign)
    assert stats.total_businesses == 10_000 and stats.total_emails == 3_334
    duplicates = raw.execute(
        "SELECT count(*) - count(DISTINCT place_id) FROM campaigndb.gmaps_businesses"
        " WHERE campaign_id = %s", [campaign]).fetchone()
    assert duplicates == (0,)


def test_statistics_are_a_recount(
    client: Client, campaign: uuid.UUID, raw: psycopg.Connection[Any]
) -> None:
    client.insert_businesses_batch(campaign, "10001", [
        business(1, email="a@x.com", facebook_url="https://fb.com/1"),
        business(2, email="", linkedin_url="https://linkedin.com/2"),
        business(3)])
    stats = client.update_campaign_statistics(campaign)
    assert (stats.total_businesses, stats.total_emails, stats.total_facebook_pages,
            stats.total_linkedin_profiles) == (3, 1, 1, 1)
    stored = raw.execute(
        "SELECT total_businesses, total_emails, total_facebook_pages, total_linkedin_profiles"
        " FROM campaigndb.campaigns WHERE id = %s", [campaign]).fetchone()
    assert stored == (3, 1, 1, 1)
    with pytest.raises(NotFound):
        client.update_campaign_statistics(uuid.uuid4())


def test_coverage_status(client: Client, campaign: uuid.UUID,
                         raw: psycopg.Connection[Any]) -> None:
    updated = client.update_coverage_status(campaign, "10001", 40, 12, "3.20")
    assert (updated.zip_code, updated.status) == ("10001", "completed")
    row = raw.execute(
        "SELECT status, businesses_found, emails_found, actual_cost, scraped_at IS NOT NULL"
        " FROM campaigndb.gmaps_campaign_coverage WHERE campaign_id = %s AND zip_code = '10001'",
        [campaign]).fetchone()
    assert row == ("completed", 40, 12, Decimal("3.20"), True)
    assert client.update_coverage_status(campaign, "10002", 0, 0, 0, "failed").status == "failed"
    with pytest.raises(NotFound):
        client.update_coverage_status(campaign, "99999", 1, 1, 1)
    with pytest.raises(InvalidInput):
        client.update_coverage_status(campaign, "10001", -1, 0, 0)
    with pytest.raises(InvalidInput):
        client.update_coverage_status(campaign, "10001", 1, 2, 0)
    with pytest.raises(CheckViolation):
        client.update_coverage_status(campaign, "10001", 1, 0, 0, "exploded")


def test_email_verification(client: Client, campaign: uuid.UUID,
                            raw: psycopg.Connection[Any]) -> None:
    client.insert_businesses_batch(campaign, "10001", [business(1, email="old@x.com")])
    business_id = raw.execute("SELECT id FROM campaigndb.gmaps_businesses WHERE campaign_id = %s",
                              [campaign]).fetchone()
    assert business_id is not None
    verified = client.update_email_verification(business_id[0], "new@x.com",
                                                {"status": "valid", "score": 97})
    assert verified.verification_status == "valid"
    row = raw.execute("SELECT email, email_verification_status, email_verification_data"
                      " FROM campaigndb.gmaps_businesses WHERE id = %s", business_id).fetchone()
    assert row == ("new@x.com", "valid", {"status": "valid", "score": 97})
    with pytest.raises(CheckViolation):
        client.update_email_verification(business_id[0], None, {"status": "great"})
    with pytest.raises(InvalidInput):
        client.update_email_verification(business_id[0], "not-an-email", {"status": "valid"})
    with pytest.raises(NotFound):
        client.update_email_verification(uuid.uuid4(), None, {"status": "valid"})


def test_enrichment_batch_elements_are_independent(
    client: Client, workspace: uuid.UUID, campaign: uuid.UUID, raw: psycopg.Connection[Any]
) -> None:
    client.insert_businesses_batch(campaign, "10001", [business(n) for n in range(3)])
    ids = [r[0] for r in raw.execute(
        "SELECT id FROM campaigndb.gmaps_businesses WHERE campaign_id = %s ORDER BY place_id",
        [campaign])]
    result = client.update_enrichment_batch("facebook", [
        Enrichment(business_id=ids[0], url="https://facebook.com/zero", data={"likes": 3}),
        {"business_id": str(ids[1]), "url": None},           # searched, nothing found
        {"business_id": str(uuid.uuid4()), "url": "x"},      # unknown business
        {"business_id": "nope"},                             # not a uuid
        {"url": "x"},                                        # no business_id
        {"business_id": str(ids[0]), "url": "again"},        # repeated
        {"business_id": str(ids[2]), "likes": 1},            # unknown key
        42,                                                  # not an object
    ])
    assert (result.updated, result.failed) == (2, 6)
    assert [(f.index, f.error_code) for f in result.failures] == [
        (2, "P0002"), (3, "22P02"), (4, "23502"), (5, "23505"), (6, "22023"), (7, "22023")]
    rows = raw.execute(
        "SELECT facebook_url, facebook_data, facebook_enriched_at IS NOT NULL"
        " FROM campaigndb.gmaps_businesses WHERE id = ANY(%s) ORDER BY place_id", [ids]).fetchall()
    assert rows == [("https://facebook.com/zero", {"likes": 3}, True), (None, None, True),
                    (None, None, False)]
    for bad_type in ("twitter", None):
        envelope = client.call("update_enrichment_batch", p_enrichment_type=bad_type,
                               p_enrichments=[])
        assert envelope["success"] is False
    assert client.call("update_enrichment_batch", p_enrichment_type="linkedin",
                       p_enrichments={"business_id": str(ids[0])})["error_code"] == "22023"
    other = client.create_workspace("other").workspace_id
    bound = client.bound(other).update_enrichment_batch(
        "linkedin", [{"business_id": str(ids[2]), "url": "https://linkedin.com/in/x"}])
    assert (bound.updated, bound.failures[0].error_code) == (0, "42501")
    assert workspace


def test_pages_for_enrichment(client: Client, campaign: uuid.UUID,
                              raw: psycopg.Connection[Any]) -> None:
    client.insert_businesses_batch(campaign, "10001", [business(n) for n in range(250)])
    first = client.get_businesses_for_enrichment(campaign, "linkedin", 100, 0)
    second = client.get_businesses_for_enrichment(campaign, "linkedin", 100, 100)
    keyset = client.get_businesses_for_enrichment(campaign, "linkedin", 100,
                                                  after_id=first[-1].id)
    assert [b.id for b in second] == [b.id for b in keyset]
    assert not {b.id for b in first} & {b.id for b in second}
    assert [b.id for b in first] == sorted(b.id for b in first)
    everything = list(client.iter_businesses_for_enrichment(campaign, "linkedin", 64))
    assert len(everything) == len({b.id for b in everything}) == 250
    client.update_enrichment_batch("linkedin", [{"business_id": str(b.id)} for b in first])
    assert len(list(client.iter_businesses_for_enrichment(campaign, "linkedin", 64))) == 150
    assert client.get_businesses_for_enrichment(campaign, "email", 10) == []
    with pytest.raises(InvalidInput):
        client.get_businesses_for_enrichment(campaign, "linkedin", 0)
    with pytest.raises(InvalidInput):
        client.get_businesses_for_enrichment(campaign, "myspace", 10)
    with pytest.raises(NotFound):
        client.get_businesses_for_enrichment(uuid.uuid4(), "linkedin", 10)
    other = client.create_workspace("someone else").workspace_id
    with pytest.raises(PermissionDenied):
        client.bound(other).get_businesses_for_enrichment(campaign, "linkedin", 10)
    rows = raw.execute("SELECT count(*) FROM public.get_businesses_for_enrichment("
                       "p_campaign_id => %s, p_enrichment_type => 'linkedin', p_limit => 1000,"
                       " p_offset => 0)", [campaign]).fetchone()
    assert rows == (150,)  # plain SQL callers get the same rows


def test_enrichment_page_uses_the_partial_index(
    client: Client, campaign: uuid.UUID, raw: psycopg.Connection[Any]
) -> None:
    client.insert_businesses_batch(campaign, "10003",
                                   [business(n) for n in range(5_000, 9_000)])
    raw.execute("ANALYZE campaigndb.gmaps_businesses")
    plan = "\n".join(r[0] for r in raw.execute(
        "EXPLAIN SELECT id FROM campaigndb.gmaps_businesses WHERE campaign_id = %s"
        " AND id > '00000000-0000-0000-0000-000000000000' AND facebook_enriched_at IS NULL"
        " ORDER BY id LIMIT 100", [campaign]))
    assert "gmaps_businesses_facebook_todo_idx" in plan, plan
    assert "Sort" not in plan, plan
