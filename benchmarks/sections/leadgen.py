"""Lead generation: bulk writes against COPY of the same rows, where a big call's time goes,
enrichment pages against the raw SELECT, and the seeds' small calls (docs/benchmarks.md,
"Lead generation")."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import fixtures as fx
import harness as h
import psycopg
from psycopg.types.json import Jsonb

from campaigndb import BusinessRow, Client, json_dumps

ROWS, SMALL_CALLS, SMALL_BATCH, SMALL_ZIPS = 10_000, (60, 25), 50, 100
CAMPAIGN_ROWS, PAGE, DEEP, PAGE_CALLS, WARMUP, ROUNDS = 100_000, 100, 10_000, (60, 25), 6, (2, 1)
JSON_INSERT = ("INSERT INTO campaigndb.gmaps_businesses (campaign_id, zip_code, "
               + ", ".join(fx.FIELDS) + ") SELECT %s, %s, " + ", ".join(f"r.{f}" for f in fx.FIELDS)
               + fx.RECORDSET)
COLUMNS = ("b.id, b.campaign_id, b.zip_code, b.place_id, b.name, b.address, b.city, b.state, "
           "b.phone, b.website, b.category, b.email, b.facebook_url, b.linkedin_url, "
           "b.email_verification_status")
# the function's own query for 'facebook' (sql/functions/get_businesses_for_enrichment.sql)
RAW_PAGE = (f"SELECT {COLUMNS} FROM campaigndb.gmaps_businesses AS b WHERE b.campaign_id = %s"
            " AND b.id > %s AND b.facebook_enriched_at IS NULL ORDER BY b.id LIMIT %s OFFSET %s")
FN_PAGE = (
    "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY; SELECT * FROM"
    " public.get_businesses_for_enrichment(p_campaign_id => %s::uuid, p_enrichment_type =>"
    " %s::varchar, p_limit => %s::integer, p_offset => %s::integer, p_after_id => %s::uuid);"
    " COMMIT"
)
SERVER_CALLS = {
    "batch": "SELECT public.insert_businesses_batch(%s, %s, (SELECT doc FROM bench_input))",
    "coverage": "SELECT public.create_campaign_with_coverage(%s, (SELECT doc FROM bench_input))",
}
PARTS = (("encode", "JSON encoding (orjson, in the client)"),
         ("quote", "quoting the JSON into the SQL text (psycopg `ClientCursor`)"),
         ("send", "sending the message, server reading and lexing it"),
         ("parse", "parsing the text into `jsonb` (server)"),
         ("server", "the function, input already on the server"),
         ("rest", "the rest (pool, BEGIN/COMMIT, answer parsing; by difference, so noisy)"))


def count(b: h.Bench, table: str, campaign: Any) -> int:
    return int(b.scalar(f"SELECT count(*) FROM campaigndb.{table} WHERE campaign_id = %s",
                        (campaign,)))


def campaign(b: h.Bench, workspace: str, name: str) -> str:
    return b.campaigns(1, name, workspace)[0]


def timed(key: str, b: h.Bench, call: Callable[[], object], units: int) -> float:
    """One timed call; what it returns, when a str, is what was wrong."""
    started = time.perf_counter()
    problem = call()
    elapsed = time.perf_counter() - started
    b.record(key, h.Run([elapsed], elapsed, units, check=problem if isinstance(problem, str)
                        else ""))
    return elapsed


def small_calls(b: h.Bench, client: Client, conn: psycopg.Connection[Any], workspace: str,
                seed: int) -> None:
    calls = b.n(SMALL_CALLS) + WARMUP
    chunks = [fx.businesses(seed * 31 + 1 + i, SMALL_BATCH) for i in range(calls)]
    zips = fx.zip_codes(seed * 31 + 2, SMALL_ZIPS)
    target, floor = campaign(b, workspace, "small"), campaign(b, workspace, "copy small")

    def biz(i: int) -> str:
        got = client.insert_businesses_batch(target, fx.ZIP, chunks[i]).inserted
        return "" if got == SMALL_BATCH else f"inserted {got}"

    def cov(i: int) -> str:
        got = client.create_campaign_with_coverage(
            {"workspace_id": workspace, "name": f"small cov {i}"}, zips).zip_count
        return "" if got == SMALL_ZIPS else f"zip_count {got}"

    runs = h.interleave({
        "biz.client": biz, "biz.copy": lambda i: fx.copy_businesses(conn, floor, chunks[i]),
        "cov.client": cov, "cov.copy": lambda i: fx.copy_coverage(conn, workspace, f"cp {i}", zips),
    }, b.n(SMALL_CALLS), WARMUP, turn=seed)
    rows = [count(b, "gmaps_businesses", c) for c in (target, floor)]
    for key, run in runs.items():
        run.check = "; ".join(x for x in [run.check or "", "" if rows == [calls * SMALL_BATCH] * 2
                                          else f"rows {rows}"] if x)
        b.record(f"lg.small.{key}", run)


def bulk(b: h.Bench, client: Client, conn: psycopg.Connection[Any], workspace: str, seed: int,
         turn: int) -> None:
    first = fx.businesses(seed * 31 + 3, ROWS)
    second, expected = fx.overlap_batch(first, seed * 31 + 4)
    zips = fx.zip_codes(seed * 31 + 5, ROWS)

    def copy_case() -> None:
        target = campaign(b, workspace, "copy 10k")
        timed("lg.batch.copy", b, lambda: fx.copy_businesses(conn, target, first), ROWS)
        if count(b, "gmaps_businesses", target) != ROWS:
            b.res["lg.batch.copy"][-1].check = "rows missing"

    def client_case() -> None:
        target = campaign(b, workspace, "client 10k")

        def counts(rows: list[dict[str, Any]]) -> tuple[int, int, int]:
            answer = client.insert_businesses_batch(target, fx.ZIP, rows)
            return answer.inserted, answer.updated, answer.skipped

        timed("lg.batch.client", b, lambda: "" if counts(first) == (ROWS, 0, 0)
              else "first batch: wrong counts", ROWS)
        timed("lg.batch.overlap", b, lambda: "" if counts(second) == expected
              else "second batch: wrong counts", ROWS)
        if count(b, "gmaps_businesses", target) != ROWS + expected[0]:
            b.res["lg.batch.overlap"][-1].check = "rows in the table differ"

    def json_case() -> None:
        target = campaign(b, workspace, "json 10k")
        with b.bare(autocommit=True) as bare:
            timed("lg.batch.json", b, lambda: "" if bare.execute(JSON_INSERT, (
                target, fx.ZIP, Jsonb(first, dumps=json_dumps))).rowcount == ROWS else "rows", ROWS)

    def coverage_copy() -> None:
        made: list[uuid.UUID] = []
        timed("lg.coverage.copy", b, lambda: made.append(
            fx.copy_coverage(conn, workspace, "copy coverage 10k", zips)), ROWS)
        if count(b, "gmaps_campaign_coverage", made[0]) != ROWS:
            b.res["lg.coverage.copy"][-1].check = "rows missing"

    def coverage_client() -> None:
        timed("lg.coverage.client", b, lambda: "" if count(
            b, "gmaps_campaign_coverage", client.create_campaign_with_coverage(
                {"workspace_id": workspace, "name": "client coverage 10k"}, zips).campaign_id)
            == ROWS else "rows missing", ROWS)

    cases = [copy_case, client_case, json_case, coverage_copy, coverage_client]
    for case in cases if turn % 2 else cases[::-1]:
        case()
    breakdown(b, workspace, first, zips)


def breakdown(b: h.Bench, workspace: str, rows: list[dict[str, Any]], zips: list[str]) -> None:
    """The parts of the big calls just measured, each measured on its own."""
    clock = time.perf_counter
    with b.bare(autocommit=True, prepare_threshold=None) as conn:
        cursor = psycopg.ClientCursor(conn)
        for case, payload in (("batch", rows), ("coverage", zips)):
            started = clock()
            text = json_dumps(payload)
            encode = clock() - started
            started = clock()
            cursor.mogrify("SELECT %s::jsonb", (Jsonb(payload, dumps=json_dumps),))
            quote = clock() - started - encode
            started = clock()
            cursor.execute("SELECT pg_catalog.length(%s::text)", (text,)).fetchone()
            send = clock() - started
            started = clock()
            cursor.execute("SELECT %s::jsonb IS NULL", (Jsonb(payload, dumps=json_dumps),))
            cursor.fetchone()
            parse = clock() - started
            fx.stage(conn, payload)

            def params(case: str = case) -> tuple[Any, ...]:
                if case == "batch":
                    return (campaign(b, workspace, "server 10k"), fx.ZIP)
                return (Jsonb({"workspace_id": workspace, "name": "server coverage"}),)

            args = params()
            started = clock()
            answer = conn.execute(SERVER_CALLS[case], args).fetchone()
            server = clock() - started
            parts = {"encode": encode, "quote": quote, "send": max(0.0, send - quote),
                     "parse": max(0.0, parse - send - encode), "server": server}
            parts["rest"] = b.res[f"lg.{case}.client"][-1].wall - sum(parts.values())
            ok = bool(answer and isinstance(answer[0], dict) and answer[0].get("success"))
            for part, seconds in parts.items():
                b.res[f"lg.part.{case}.{part}"].append(h.Run([seconds], seconds, 1, check=(
                    None if part != "server" else "" if ok else f"answer {answer}")))
            for label, seconds in (fx.profile(conn, SERVER_CALLS[case], params()) or {}).items():
                if label != fx.WHOLE:
                    b.res[f"lg.stmt.{case}.{label}"].append(h.Run([seconds], seconds, 1))


def pages(b: h.Bench, workspace: str, seed: int) -> None:
    target = campaign(b, workspace, "enrichment")
    rng = random.Random(seed * 31 + 8)
    with b.bare() as conn:
        with conn.cursor() as cur, cur.copy(fx.COPY_BUSINESSES) as copy:
            for i in range(CAMPAIGN_ROWS):
                row = fx.business(rng, i)
                copy.write_row((target, fx.ZIP, *[row.get(f) for f in fx.FIELDS]))
        conn.commit()
    b.admin.execute("VACUUM (ANALYZE) campaigndb.gmaps_businesses")
    ids = [row[0] for row in b.admin.execute(
        "SELECT id FROM campaigndb.gmaps_businesses WHERE campaign_id = %s ORDER BY id",
        (target,))]
    far = len(ids) * 9 // 10
    positions = (("off0", 0, None), ("offdeep", DEEP, None), ("keydeep", 0, ids[DEEP - 1]),
                 ("keyfar", 0, ids[far - 1]))
    with b.client(1) as client, b.bare(autocommit=True) as raw, \
            b.bare(autocommit=True, prepare_threshold=None) as by_hand:
        hand = psycopg.ClientCursor(by_hand)
        for name, offset, after in positions:
            start = offset + (ids.index(after) + 1 if after is not None else 0)
            want = ids[start:start + PAGE]

            def way(fetch: Callable[[], list[Any]], want: list[Any] = want) -> Callable[[int], str]:
                return lambda i: "" if fetch() == want else "page differs from the campaign's ids"

            def fn_page(offset: int = offset, after: Any = after) -> list[Any]:
                hand.execute(FN_PAGE, (target, "facebook", PAGE, offset, after))
                hand.nextset()
                return [row[0] for row in hand.fetchall()]

            def raw_page(offset: int = offset, after: Any = after) -> list[Any]:
                return [row[0] for row in raw.execute(RAW_PAGE, (
                    target, after or uuid.UUID(int=0), PAGE, offset)).fetchall()]

            def client_page(offset: int = offset, after: Any = after) -> list[Any]:
                return [row.id for row in client.get_businesses_for_enrichment(
                    target, "facebook", PAGE, offset, after_id=after)]

            runs = h.interleave({"raw": way(raw_page), "fn": way(fn_page),
                                 "client": way(client_page)}, b.n(PAGE_CALLS), WARMUP, turn=seed)
            for variant, run in runs.items():
                b.record(f"lg.page.{name}.{variant}", run)
        hand.execute(FN_PAGE, (target, "facebook", PAGE, 0, None))
        hand.nextset()
        names = [column.name for column in hand.description or ()]
        dicts = [dict(zip(names, row, strict=True)) for row in hand.fetchall()]
        runs = h.interleave({"pydantic": lambda i: "" if all(
            BusinessRow.model_validate(row) for row in dicts) else "?"}, b.n(PAGE_CALLS), WARMUP)
        b.res["lg.page.pydantic"].append(runs["pydantic"])


def measure(b: h.Bench, r: int) -> None:
    workspace = b.workspace(f"leadgen r{r}")
    with b.client(1) as client, b.bare() as conn:
        small_calls(b, client, conn, workspace, r + 1)
        for k in range(b.n(ROUNDS)):
            bulk(b, client, conn, workspace, (r + 1) * 7 + k, r * b.n(ROUNDS) + k)
    pages(b, workspace, r + 1)


def parts_rows(res: h.Results) -> Sequence[h.Row]:
    rows = []
    for case, what in (("batch", f"{ROWS:,} businesses"), ("coverage", f"{ROWS:,} ZIP codes")):
        for part, label in PARTS:
            rows.append(h.Row(f"lg.part.{case}.{part}", f"{what}: {label}", f"lg.{case}.client"))
            if part == "server":
                for key in sorted(res, key=lambda k: (k.endswith(fx.OTHER), k)):
                    label = key.split(".", 3)[-1]
                    if key.startswith(f"lg.stmt.{case}.") and 2 * len(res[key]) >= len(
                            res.get(f"lg.{case}.client", [])):  # not a one-off slow check
                        rows.append(h.Row(key, f"{what}: " + (label if label == fx.OTHER else
                                                           f"… the statement {label}"),
                                        f"lg.{case}.client"))
    return rows


POSITIONS = {"off0": "offset 0", "offdeep": f"offset {DEEP:,}",
             "keydeep": f"keyset: after row {DEEP:,}",
             "keyfar": f"keyset: after row {CAMPAIGN_ROWS * 9 // 10:,}"}
WAYS = {"raw": "raw SELECT, same index (floor)",
        "fn": "the function by hand: one message, bare connection",
        "client": "`Client.get_businesses_for_enrichment`"}
RUNS = h.Col("rows × runs", lambda c: f"{c.runs[0].committed:,} × {len(c.runs)}")
SECTION = h.Section(
    name="leadgen",
    title="Lead generation",
    about=f"Bulk writes of {ROWS:,} businesses or ZIP codes against COPY of the same rows into "
          "the same table (one transaction, bare connection); the parts of those calls, each "
          f"measured alone; pages of {PAGE} of `get_businesses_for_enrichment` from a campaign "
          f"of {CAMPAIGN_ROWS:,} businesses against the raw SELECT on the same index, the three "
          "ways interleaved call by call; and the seeds' small calls against COPY.",
    measure=measure,
    tables=[
        h.Table([RUNS, h.TIME, h.RPS, h.RPS_X, h.TIME_X, h.FLOOR, h.CHECK], [
            h.Row("lg.batch.copy", f"COPY of {ROWS:,} businesses into an empty campaign (floor)"),
            h.Row("lg.batch.client", f"`insert_businesses_batch`, {ROWS:,} new businesses, "
                                   "empty campaign", "lg.batch.copy"),
            h.Row("lg.batch.overlap", f"`insert_businesses_batch`, {ROWS:,} again: half new, a "
                                    "quarter changed, a quarter unchanged", "lg.batch.copy"),
            h.Row("lg.batch.json", f"raw SQL: the same {ROWS:,} as one JSON parameter, plain "
                                 "`INSERT … SELECT FROM jsonb_to_recordset` (no validation, no "
                                 "upsert)", "lg.batch.copy"),
            h.Row("lg.coverage.copy", f"COPY of {ROWS:,} coverage rows + the campaign row "
                                    "(floor)"),
            h.Row("lg.coverage.client", f"`create_campaign_with_coverage`, {ROWS:,} ZIP codes",
                "lg.coverage.copy"),
        ], "Bulk writes against COPY"),
        h.Table([h.Col("ms", h.spread(lambda r: r.ms, 1)),
               h.Col("share of the client call", h.SHARE.cell)],
              parts_rows, "Where the time of one big call goes",
              "Shares are per run, of that run's client call. Statements inside the function: "
              "as auto_explain logs them, from a second call of the function alone."),
        h.Table([h.CALLS, h.P50,
               h.P99, h.P50_X, h.CHECK], [
            h.Row(f"lg.page.{pos}.{way}", f"{POSITIONS[pos]}: {label}",
                None if way == "raw" else f"lg.page.{pos}.raw")
            for pos in POSITIONS for way, label in WAYS.items()] + [
            h.Row("lg.page.pydantic", f"the client's validation of a page of {PAGE} into "
                                    "`BusinessRow` models, alone")],
              f"Enrichment pages of {PAGE}, `facebook`"),
        h.Table([h.CALLS, h.P50,
               h.P99, h.WORST, h.P50_X, h.FLOOR,
               h.CHECK], [
            h.Row("lg.small.biz.copy", f"COPY of {SMALL_BATCH} businesses (floor)"),
            h.Row("lg.small.biz.client", f"`insert_businesses_batch` of {SMALL_BATCH} new "
                                       "businesses", "lg.small.biz.copy"),
            h.Row("lg.small.cov.copy", f"COPY of {SMALL_ZIPS} coverage rows + the campaign row "
                                     "(floor)"),
            h.Row("lg.small.cov.client", f"`create_campaign_with_coverage` of {SMALL_ZIPS} ZIP "
                                       "codes", "lg.small.cov.copy"),
        ], "Small calls (the seeds' sizes)"),
    ],
    goals=[
        h.Goal(f"`insert_businesses_batch`, {ROWS:,} new businesses: rows/s ≥ 0.6 × COPY's rows/s",
             h.over(h.tps("lg.batch.client"), h.tps("lg.batch.copy")),
             lambda v: v >= 0.6, per=" runs"),
        h.Goal(f"`insert_businesses_batch`, {ROWS:,} with 50 % overlap: rows/s ≥ 0.6 × COPY's "
             "rows/s", h.over(h.tps("lg.batch.overlap"), h.tps("lg.batch.copy")),
             lambda v: v >= 0.6, per=" runs"),
        h.Goal(f"`create_campaign_with_coverage`, {ROWS:,} ZIP codes: time ≤ 1.5 × COPY's",
             h.over(h.of("lg.coverage.client", lambda r: r.ms), h.of("lg.coverage.copy",
                                                               lambda r: r.ms)),
             lambda v: v <= 1.5, per=" runs"),
        h.Goal(f"seed: `insert_businesses_batch` of {SMALL_BATCH} under 1 s (slowest call)",
             h.worst("lg.small.biz.client"), lambda v: v < 1000, " ms"),
        h.Goal(f"seed: `create_campaign_with_coverage` of {SMALL_ZIPS} ZIP codes under 500 ms "
             "(slowest call)", h.worst("lg.small.cov.client"), lambda v: v < 500, " ms"),
        h.Goal(f"seed: `get_businesses_for_enrichment` of {PAGE} under 500 ms (slowest call, "
             f"offset 0, {CAMPAIGN_ROWS:,}-business campaign)", h.worst("lg.page.off0.client"),
             lambda v: v < 500, " ms"),
    ],
)
