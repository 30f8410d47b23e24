"""Hostile arguments for every API function, as hypothesis strategies.

Each function's entry draws a dict of named arguments.  Most arguments are valid (real ids
from the module's `World`, values inside the documented ranges, edge values such as 0,
unicode place names or a 1 MB text where no limit applies) and up to two are hostile: null,
the wrong type, out of range, an injection string, a malformed or huge or deeply nested JSON
document, a batch over the documented limit.  Mostly-valid calls get past the first type
check, so the strategies reach the functions' later checks and their writes.

Values are chosen so that both callers can send them unchanged: the plain-SQL path
(`SELECT public.fn(p_x => %s::type)`, psycopg binding) and the client's `call()`:
- a wrong type for a scalar parameter is sent as text (what psql or PostgREST send): the
  cast to the parameter's type then fails with a 22xxx error, as the contract expects;
  a Python value of another type would fail earlier with 42846 "cannot cast", a driver
  matter rather than the function's (test_edges.py covers it);
- text never holds NUL: PostgreSQL text cannot, and psycopg refuses it before sending;
- JSON documents are Python values (no NaN, no integer beyond 64 bits, at most a few levels
  deep) or JSON text (`str`, sent as is by both paths) for everything else: NaN, Infinity,
  1e999999, broken syntax, "\\u0000", deep nesting.  The client serialises Python values with
  orjson, which writes NaN as null and refuses big integers and deep nesting, so those go
  through test_edges.py instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

Args = dict[str, Any]


@dataclass(frozen=True)
class World:
    """Objects the module's database holds before fuzzing starts (ids as text)."""

    workspaces: tuple[str, ...]
    campaigns: tuple[str, ...]
    zip_codes: tuple[str, ...]
    businesses: tuple[str, ...]
    workflows: tuple[str, ...]
    n8n_workflow_ids: tuple[str, ...]
    executions: tuple[str, ...]
    #: (workflow, its workspace)
    workflow_owners: tuple[tuple[str, str], ...] = ()

    def __repr__(self) -> str:  # hypothesis prints the fixtures of a failing example
        return f"World(workspaces={self.workspaces})"


# -- primitive values -----------------------------------------------------------------

INJECTION = (
    "'); DROP TABLE campaigndb.campaigns; --",
    "Robert'); DELETE FROM campaigndb.workspaces WHERE ('1'='1",
    "' OR '1'='1",
    "$$; DROP SCHEMA campaigndb CASCADE; $$",
    "$fn$ SELECT 1 $fn$",
    "\\'; SELECT pg_sleep(10); --",
    "1; SELECT set_config('campaigndb.workspace_id', NULL, false)",
    "\"; COPY campaigndb.workspaces TO '/tmp/x'; --",
    "E'\\x41' U&'\\0041' $1 $2 ?",
    "%s %(p_name)s {} {0} %n %x %%",
    "<script>alert(1)</script>",
    "../../etc/passwd",
)
UNICODE = (
    "Zürich", "São Paulo", "Łódź", "Ελληνικά", "東京都渋谷区", "القاهرة", "İstanbul", "straße",
    "\u202eevil\u202c", "\ufeffBOM", "e\u0301", "👩‍👩‍👧‍👦", "\U0001f4a9", "Ⅻ ǅ ﬁ", "\u200b",
    "\u00a0nbsp\u00a0", "tab\there", "line\nbreak\r\n", "".join(chr(c) for c in range(1, 32)),
    "\x7f\x80\x9f", "\uffff\U0010ffff", "ｆｕｌｌｗｉｄｔｈ", "𝕬𝖇𝖈", "İ" * 32,
)
BLANKS = ("", " ", "   ", "\t", "\n")
TEXT_CHARS = st.characters(codec="utf-8", exclude_characters="\x00")


@cache
def long_texts() -> tuple[str, ...]:
    """Just over the documented limits (32, 64, 100, 200, 255, 500, 10,000) and 1 MB."""
    return tuple("é" * n for n in (33, 65, 101, 201, 256, 501, 10_001)) + ("x" * 1_000_000,)


def hostile_text() -> SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(INJECTION + UNICODE + BLANKS),
        st.text(TEXT_CHARS, max_size=40),
        st.sampled_from(long_texts()),
    )


def names(max_size: int = 60) -> SearchStrategy[str]:
    """Valid names: non-blank, unicode and injection strings included, stored verbatim."""
    return st.one_of(
        st.sampled_from(INJECTION + UNICODE[:-1]),
        st.text(TEXT_CHARS, min_size=1, max_size=max_size).filter(lambda s: s.strip() != ""),
    )


UUID_TEXTS = (
    "", "nope", "00000000-0000-0000-0000-00000000000g", "0000000000000000000000000000000",
    "{12345678-1234-1234-1234-1234567890ab}", "12345678123412341234123456789ABC",
    "12345678-1234-1234-1234-1234567890ab ", "1", "true", "[]", "null", "'; DROP TABLE x; --",
    "00000000-0000-0000-0000-000000000000",
)
INT_TEXTS = ("", "1.5", "1e3", "0x10", "2147483648", "-2147483649", "NaN", "Infinity", " 7 ",
             "١٢", "true", "{}", "9" * 30, "-0", "+5", "1_000")
NUMERIC_TEXTS = ("NaN", "Infinity", "-Infinity", "1e999999", "1,5", "$5", "", "-0", "0.5e-3",
                 " 42 ", "0x1F", "1e-99999", "12.34.56")
BOOL_TEXTS = ("yes", "no", "maybe", "2", "", "t", "off", "TRUE ", "null")
TIMESTAMP_TEXTS = ("infinity", "-infinity", "epoch", "now", "allballs", "2024-02-30",
                   "294277-01-01", "J0", "2024-01-01 12:00 +25:00", "yesterday", "",
                   "2999-12-31", "0001-01-01 BC", "1999-01-08 04:05:06 PST8PDT", "garbage")
DATE_TEXTS = ("2024-02-30", "2024-13-01", "infinity", "-infinity", "5874898-01-01", "",
              "0999-12-01", "3000-01-01", "epoch", "2024-02", "20240101", "0001-01-01 BC")


def ghost_uuids() -> SearchStrategy[str]:
    return st.uuids().map(str)


def uuid_hostile() -> SearchStrategy[Any]:
    return st.one_of(st.none(), st.sampled_from(UUID_TEXTS), ghost_uuids(),
                     st.text(TEXT_CHARS, max_size=40))


def int_hostile() -> SearchStrategy[Any]:
    return st.one_of(
        st.none(), st.sampled_from(INT_TEXTS),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.sampled_from([-1, -(2**31), 2**31 - 1, 2**31, -(2**31) - 1, 2**63]),
        st.floats(), st.text(TEXT_CHARS, max_size=10),
    )


def numeric_hostile() -> SearchStrategy[Any]:
    return st.one_of(
        st.none(), st.sampled_from(NUMERIC_TEXTS),
        st.sampled_from([Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"),
                         Decimal("-0.01"), Decimal("1e12"), Decimal("1E+131071"),
                         Decimal("1e-16383"), Decimal("-0")]),
        st.decimals(allow_nan=False, allow_infinity=False), st.floats(),
        st.integers(min_value=-(2**80), max_value=2**80),
    )


def bool_hostile() -> SearchStrategy[Any]:
    return st.one_of(st.none(), st.sampled_from(BOOL_TEXTS))


def timestamp_hostile() -> SearchStrategy[Any]:
    return st.one_of(
        st.none(), st.sampled_from(TIMESTAMP_TEXTS),
        st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                     timezones=st.just(UTC)),
        st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
    )


def date_hostile() -> SearchStrategy[Any]:
    return st.one_of(st.none(), st.sampled_from(DATE_TEXTS), st.dates(),
                     st.text(TEXT_CHARS, max_size=12))


def text_hostile() -> SearchStrategy[Any]:
    return st.one_of(st.none(), hostile_text())


# -- JSON ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawJson:
    """JSON text inside a document: sent verbatim (NaN, 1e999999, deep nesting, ...)."""

    text: str


RAW_JSON = (
    "NaN", "Infinity", "-Infinity", '{"a": NaN}', "[Infinity]", "", " ", "{", "[1,]",
    '{"a":1,}', "{'a': 1}", "[1e999999]", "123456789012345678901234567890",
    '{"a": 1e-400}', '"\\u0000"', '{"a": "\\ud800"}', '{"a": 1, "a": 2}', "\ufeff{}",
    "null", "true", '"text"', "[]", "{}", '{"a": "\\u00e9\\ud83d\\ude00"}', "[[[[]]]]",
    '{"__proto__": {"admin": true}}', "1e400", "-0", "0.1e-99999",
)


@cache
def deep_json() -> tuple[str, ...]:
    """Deeply nested JSON text, within the depth PostgreSQL's parser accepts (about 13,000
    levels on this build; deeper fails the cast itself with 54001, not a function's doing)."""
    return tuple(["[" * d + "]" * d for d in (64, 1_000, 5_000)]
                 + ['{"a":' * d + "null" + "}" * d for d in (64, 1_000, 5_000)])


def json_scalars() -> SearchStrategy[Any]:
    return st.one_of(
        st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([0, -0.0, 1e308]),
        st.text(TEXT_CHARS, max_size=20), st.sampled_from(INJECTION + UNICODE),
    )


EXTRA_KEYS = st.one_of(
    st.sampled_from(["extra", "__proto__", "constructor", "", " id", "NAME", "Id", "naïve",
                     "campaign_id ", "😀", "$where", "a.b", "null"]),
    st.text(TEXT_CHARS, max_size=10),
)


def json_values() -> SearchStrategy[Any]:
    return st.recursive(
        json_scalars(),
        lambda children: st.one_of(st.lists(children, max_size=3),
                                   st.dictionaries(EXTRA_KEYS, children, max_size=3)),
        max_leaves=8,
    )


def json_wrong(*, but: str) -> SearchStrategy[Any]:
    """A JSON value of another kind than `but` ("string", "number", "object", "array")."""
    kinds: dict[str, SearchStrategy[Any]] = {
        "string": st.one_of(st.text(TEXT_CHARS, max_size=10), st.sampled_from(["", "1", "null"])),
        "number": st.one_of(st.integers(min_value=-(2**63), max_value=2**63 - 1),
                            st.floats(allow_nan=False, allow_infinity=False)),
        "object": st.dictionaries(EXTRA_KEYS, json_scalars(), max_size=2),
        "array": st.lists(json_scalars(), max_size=3),
        "boolean": st.booleans(),
        "raw": st.sampled_from([RawJson(t) for t in ("NaN", "Infinity", "1e999999", "-1e400")]),
    }
    return st.one_of(*(strategy for kind, strategy in kinds.items() if kind != but))


def json_objects() -> SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.dictionaries(EXTRA_KEYS, json_values(), max_size=4),
        st.sampled_from([{}, {"note": "\u202eevil"}, {"sql": INJECTION[0]}]),
        st.sampled_from(deep_json()).map(lambda text: {"deep": RawJson(text)}),
    )


def raw_documents() -> SearchStrategy[RawJson]:
    """Whole JSON documents as text: malformed, NaN, huge numbers, deep nesting."""
    return st.sampled_from([RawJson(text) for text in RAW_JSON + deep_json()])


def contains_raw(value: Any) -> bool:
    if isinstance(value, RawJson):
        return True
    if isinstance(value, dict):
        return any(contains_raw(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_raw(v) for v in value)
    return False


def json_text(value: Any) -> str:
    if isinstance(value, RawJson):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{json_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(json_text(v) for v in value) + "]"
    return json.dumps(value)


def render(value: Any) -> Any:
    """A jsonb argument as both callers send it: the Python value (psycopg's Jsonb), or JSON
    text (a `str`, which both callers send as is) when it is a string document or a raw
    piece (NaN, deep nesting, ...) is inside."""
    if isinstance(value, str):
        return json.dumps(value)
    return json_text(value) if contains_raw(value) else value


# -- composing calls ----------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    valid: SearchStrategy[Any]
    hostile: SearchStrategy[Any]
    #: a jsonb parameter: its value is a JSON document (see `render`)
    jsonb: bool = False


def document(valid: SearchStrategy[Any], hostile: SearchStrategy[Any]) -> Field:
    """A jsonb parameter."""
    return Field(valid=valid, hostile=hostile, jsonb=True)


@st.composite
def _object(draw: st.DrawFn, fields: Mapping[str, Field], required: frozenset[str],
            dirty: bool) -> dict[str, Any]:
    keys = sorted(fields)
    corrupt: set[str] = set()
    extra = False
    if dirty:  # one or two hostile or missing values, or extra keys, or both
        corrupt = draw(st.sets(st.sampled_from(keys), max_size=2))
        extra = not corrupt or draw(st.integers(0, 3)) == 0
    out: dict[str, Any] = {}
    for key in keys:
        if key not in required and key not in corrupt and draw(st.integers(0, 3)) == 0:
            continue  # an optional key left out
        if key in corrupt:
            if draw(st.integers(0, 3)) == 0:
                continue  # missing, even when required
            out[key] = draw(fields[key].hostile)
        else:
            out[key] = draw(fields[key].valid)
    if extra:
        out.update(draw(st.dictionaries(EXTRA_KEYS, json_values(), min_size=1, max_size=2)))
    return out


def json_object(fields: Mapping[str, Field], required: frozenset[str] = frozenset()) -> Field:
    """A JSON object: valid (optional keys sometimes left out), or hostile (one or two keys
    with a hostile value or missing, unknown keys added)."""
    return Field(valid=_object(fields, required, dirty=False),
                 hostile=_object(fields, required, dirty=True))


def batch(element: Field, over_limit: Callable[[], list[Any]] | None) -> Field:
    """A JSON array argument: valid small batches; hostile ones (wrong kind, malformed, a
    hostile element among valid ones, one element over the documented limit)."""
    hostile: list[SearchStrategy[Any]] = [
        st.none(), raw_documents(), json_wrong(but="array"),
        st.tuples(st.lists(element.valid, max_size=2), element.hostile,
                  st.lists(element.valid, max_size=2)).map(lambda t: [*t[0], t[1], *t[2]]),
    ]
    if over_limit is not None:
        hostile.append(st.just(over_limit).map(lambda make: make()))
    return document(st.lists(element.valid, max_size=4), st.one_of(*hostile))


@st.composite
def call(draw: st.DrawFn, params: Mapping[str, Field],
         optional: frozenset[str] = frozenset()) -> Args:
    """Named arguments: mostly valid, up to two hostile; optional ones sometimes left out
    (their DEFAULT applies)."""
    names_ = list(params)
    corrupt: set[str] = set()
    if len(names_) > 0 and draw(st.booleans()):
        corrupt = draw(st.sets(st.sampled_from(names_), min_size=1, max_size=2))
    out: Args = {}
    for name in names_:
        if name in optional and name not in corrupt and draw(st.integers(0, 2)) == 0:
            continue
        field = params[name]
        value = draw(field.hostile if name in corrupt else field.valid)
        out[name] = render(value) if field.jsonb else value
    return out


def scalar(valid: SearchStrategy[Any], hostile: SearchStrategy[Any]) -> Field:
    return Field(valid=valid, hostile=hostile)


def existing(ids: tuple[str, ...]) -> Field:
    return Field(valid=st.sampled_from(ids), hostile=uuid_hostile())


def json_uuid(ids: tuple[str, ...]) -> Field:
    """A uuid inside a JSON document."""
    return Field(
        valid=st.one_of(st.sampled_from(ids), st.sampled_from(ids).map(str.upper)),
        hostile=st.one_of(st.none(), ghost_uuids(), st.sampled_from(UUID_TEXTS),
                          json_wrong(but="string")),
    )


def json_text_field(valid: SearchStrategy[str] | None = None) -> Field:
    return Field(valid=valid if valid is not None else names(),
                 hostile=st.one_of(st.none(), json_wrong(but="string"), hostile_text()))


def json_number(valid: SearchStrategy[Any]) -> Field:
    return Field(valid=valid, hostile=st.one_of(
        st.none(), json_wrong(but="number"),
        st.sampled_from([-1, -0.01, 1e10, 10**19, 1.5, 5.01, 91, -181, 2**31, 1e308]),
        st.sampled_from([RawJson(t) for t in ("1e400", "-1e400", "1e-400", "NaN")])))


# -- over the documented limits (built once, only when drawn) -----------------------------


@cache
def _too_many_zip_codes() -> list[Any]:
    return [f"{n:05d}" for n in range(50_001)]


@cache
def _too_many_businesses() -> list[Any]:
    return [{"place_id": f"p{n}", "name": "n"} for n in range(25_001)]


@cache
def _too_many_enrichments() -> list[Any]:
    return [{"business_id": "00000000-0000-0000-0000-000000000000"}] * 10_001


@cache
def _too_many_kpi_rows() -> list[Any]:
    day = date(2024, 1, 1)
    return [{"campaign_id": "00000000-0000-0000-0000-000000000000",
             "kpi_date": (day + timedelta(days=n // 10)).isoformat(), "platform": f"p{n % 10}",
             "impressions": 0, "clicks": 0, "spend": 0, "conversions": 0, "revenue": 0}
            for n in range(10_001)]


# -- per function -------------------------------------------------------------------------

CAMPAIGN_STATUSES = ("draft", "active", "paused", "completed", "failed", "archived")
COVERAGE_STATUSES = ("completed", "scraping", "failed", "skipped", "pending")
VERDICTS = ("valid", "invalid", "risky", "unknown", "catch_all", "disposable")
CAMPAIGN_TYPES = ("email", "linkedin", "sms", "gmaps", "facebook", "multichannel")
DEPLOYMENT_STATUSES = ("active", "inactive", "paused", "deploying", "failed", "archived")
ISOLATION_LEVELS = ("READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE")
ZIPS = ("10001", "10002", " 10003 ", "SW1A 1AA", "75008", "A" * 16, "0", "H0H-0H0")
BAD_ZIPS = ("", " ", "-1", "1" * 17, "東京", "10001;DROP", "1\n2", "\u00a010001")
IDEMPOTENCY_KEYS = ("fuzz-key-1", "fuzz-key-2", "fuzz-ключ-3")


def idempotency_key() -> Field:
    return Field(
        valid=st.one_of(st.none(), st.sampled_from(IDEMPOTENCY_KEYS), st.uuids().map(str)),
        hostile=st.one_of(st.sampled_from(("", "é" * 201, "x" * 1_000_000)), hostile_text()),
    )


def counts(high: int = 1_000) -> SearchStrategy[int]:
    return st.one_of(st.just(0), st.integers(min_value=0, max_value=high))


def money() -> SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from([Decimal("0"), Decimal("0.00"), Decimal("0.01"), Decimal("0.84"),
                         Decimal("999999999999.99"), 0, 1, "12.5"]),
        st.decimals(min_value=0, max_value=10**6, places=4),
    )


def create_workspace(world: World) -> SearchStrategy[Args]:
    return call({
        "p_name": scalar(names(), text_hostile()),
        "p_workspace_id": scalar(st.one_of(st.none(), ghost_uuids(),
                                           st.sampled_from(world.workspaces)), uuid_hostile()),
    }, optional=frozenset({"p_workspace_id"}))


def create_campaign_with_coverage(world: World) -> SearchStrategy[Args]:
    zip_object = json_object(
        {"zip_code": json_text_field(st.sampled_from(ZIPS)),
         "estimated_cost": json_number(st.one_of(st.none(), money().map(float)))},
        required=frozenset({"zip_code"}))
    zip_element = Field(
        valid=st.one_of(st.sampled_from(ZIPS), zip_object.valid),
        hostile=st.one_of(st.sampled_from(BAD_ZIPS), json_wrong(but="string"),
                          zip_object.hostile))
    data = json_object({
        "workspace_id": json_uuid(world.workspaces),
        "name": json_text_field(),
        "id": Field(valid=st.one_of(st.none(), ghost_uuids()),
                    hostile=st.one_of(st.sampled_from(world.campaigns),
                                      json_uuid(world.workspaces).hostile)),
        "status": json_text_field(st.sampled_from(CAMPAIGN_STATUSES)),
        "search_query": json_text_field(st.one_of(names(), st.sampled_from(long_texts()[:-1]))),
        "location": json_text_field(),
        "keywords": Field(valid=st.lists(names(20), max_size=4),
                          hostile=st.one_of(st.lists(json_scalars(), min_size=1, max_size=3),
                                            json_wrong(but="array"))),
        "settings": Field(valid=st.one_of(st.none(), json_objects()),
                          hostile=json_wrong(but="object")),
    }, required=frozenset({"workspace_id", "name"}))
    return call({
        "p_campaign_data": document(data.valid, st.one_of(
            data.hostile, st.none(), raw_documents(), json_wrong(but="object"))),
        "p_zip_codes": batch(zip_element, _too_many_zip_codes),
    })


def track_campaign_cost(world: World) -> SearchStrategy[Args]:
    return call({
        "p_campaign_id": existing(world.campaigns),
        "p_service": scalar(st.one_of(st.sampled_from(["google_maps", "bouncer", "openai"]),
                                      names(64)), text_hostile()),
        "p_items_processed": scalar(counts(10**6), int_hostile()),
        "p_cost_usd": scalar(money(), numeric_hostile()),
        "p_metadata": document(json_objects(), st.one_of(
            st.none(), raw_documents(), json_wrong(but="object"))),
        "p_idempotency_key": idempotency_key(),
    }, optional=frozenset({"p_idempotency_key"}))


def _business() -> Field:
    text = json_text_field(st.one_of(names(), st.just("")))
    return json_object({
        "place_id": Field(valid=st.one_of(names(30), st.sampled_from(["ChIJ1", "ChIJ2"])),
                          hostile=st.one_of(json_wrong(but="string"), st.sampled_from(
                              ["", "p" * 513]))),
        "name": json_text_field(),
        **{key: text for key in ("address", "city", "state", "phone", "website", "category",
                                 "email", "facebook_url", "linkedin_url")},
        "rating": json_number(st.sampled_from([0, 0.0, 4.7, 5, 2.25, None])),
        "reviews_count": json_number(st.one_of(st.none(), counts(10**9 - 1))),
        "latitude": json_number(st.floats(min_value=-90, max_value=90)),
        "longitude": json_number(st.floats(min_value=-180, max_value=180)),
        "raw_data": Field(valid=st.one_of(st.none(), json_objects()),
                          hostile=json_wrong(but="object")),
    }, required=frozenset({"place_id", "name"}))


def insert_businesses_batch(world: World) -> SearchStrategy[Args]:
    return call({
        "p_campaign_id": existing(world.campaigns),
        "p_zip_code": scalar(st.one_of(st.none(), st.sampled_from(world.zip_codes + ZIPS)),
                             st.one_of(st.sampled_from(BAD_ZIPS), hostile_text())),
        "p_businesses": batch(_business(), _too_many_businesses),
    })


def update_campaign_statistics(world: World) -> SearchStrategy[Args]:
    return call({"p_campaign_id": existing(world.campaigns)})


def update_coverage_status(world: World) -> SearchStrategy[Args]:
    return call({
        "p_campaign_id": existing(world.campaigns),
        "p_zip_code": scalar(st.sampled_from(world.zip_codes),
                             st.one_of(st.none(), st.sampled_from(BAD_ZIPS + ZIPS),
                                       hostile_text())),
        "p_businesses_found": scalar(st.integers(10, 1_000), int_hostile()),
        "p_emails_found": scalar(counts(10), int_hostile()),
        "p_actual_cost": scalar(st.one_of(st.none(), money()), numeric_hostile()),
        "p_status": scalar(st.one_of(st.none(), st.sampled_from(COVERAGE_STATUSES)),
                           text_hostile()),
    }, optional=frozenset({"p_status"}))


EMAILS = ("info@smile.example", "ü@例え.jp", "a@b", "o'brien@x.example", "x+tag@sub.example")
BAD_EMAILS = ("no-at", "a@b@c", " a@b.c", "a@", "@b", "a b@c.d", "x" * 320 + "@b.c")


def update_email_verification(world: World) -> SearchStrategy[Args]:
    verification = json_object({
        "status": json_text_field(st.sampled_from(VERDICTS)),
        "score": json_number(st.integers(0, 100)),
        "provider": json_text_field(),
    }, required=frozenset({"status"}))
    return call({
        "p_business_id": existing(world.businesses),
        "p_email": scalar(st.one_of(st.none(), st.sampled_from(EMAILS)),
                          st.one_of(st.sampled_from(BAD_EMAILS), hostile_text())),
        "p_verification_data": document(verification.valid, st.one_of(
            verification.hostile, st.none(), raw_documents(), json_wrong(but="object"))),
    })


def update_enrichment_batch(world: World) -> SearchStrategy[Args]:
    element = json_object({
        "business_id": json_uuid(world.businesses),
        "url": json_text_field(st.one_of(st.none(), st.sampled_from(
            ["https://facebook.com/smile", "https://linkedin.com/company/ü", ""]))),
        "data": Field(valid=st.one_of(st.none(), json_objects()),
                      hostile=json_wrong(but="object")),
    }, required=frozenset({"business_id"}))
    return call({
        "p_enrichment_type": scalar(st.sampled_from(["facebook", "linkedin"]), st.one_of(
            st.sampled_from(["email", "FACEBOOK", "facebook ", "twitter"]), text_hostile())),
        "p_enrichments": batch(element, _too_many_enrichments),
    })


def get_businesses_for_enrichment(world: World) -> SearchStrategy[Args]:
    return call({
        "p_campaign_id": existing(world.campaigns),
        "p_enrichment_type": scalar(st.sampled_from(["facebook", "linkedin", "email"]),
                                    st.one_of(st.sampled_from(["Email", "twitter"]),
                                              text_hostile())),
        "p_limit": scalar(st.integers(1, 1_000), st.one_of(st.sampled_from([0, 1_001, -1]),
                                                           int_hostile())),
        "p_offset": scalar(st.one_of(st.just(0), st.integers(0, 50)), int_hostile()),
        "p_after_id": scalar(st.one_of(st.none(), st.sampled_from(world.businesses),
                                       ghost_uuids()), uuid_hostile()),
    }, optional=frozenset({"p_after_id"}))


def register_n8n_workflow(world: World) -> SearchStrategy[Args]:
    return call({
        "p_workspace_id": existing(world.workspaces),
        "p_n8n_workflow_id": scalar(st.one_of(st.sampled_from(world.n8n_workflow_ids),
                                              names(40)), text_hostile()),
        "p_name": scalar(names(), text_hostile()),
        "p_campaign_type": scalar(st.sampled_from(CAMPAIGN_TYPES), text_hostile()),
        "p_deployment_status": scalar(st.sampled_from(("active",) * 4 + DEPLOYMENT_STATUSES),
                                      text_hostile()),
    }, optional=frozenset({"p_deployment_status"}))


@st.composite
def _same_workspace(draw: st.DrawFn, arguments: SearchStrategy[Args], world: World) -> Args:
    """Mostly a workflow with its own workspace (past the P0002 check), else as drawn."""
    args = draw(arguments)
    owners = dict(world.workflow_owners)
    workflow = args.get("p_workspace_n8n_workflow_id")
    if workflow in owners and args.get("p_workspace_id") in world.workspaces \
            and draw(st.integers(0, 3)) > 0:
        args["p_workspace_id"] = owners[workflow]
    return args


def execute_campaign_atomically(world: World) -> SearchStrategy[Args]:
    return _same_workspace(call({
        "p_workspace_id": existing(world.workspaces),
        "p_workspace_n8n_workflow_id": existing(world.workflows),
        "p_campaign_approval_session_id": scalar(st.one_of(st.none(), ghost_uuids()),
                                                 uuid_hostile()),
        "p_campaign_name": scalar(names(), text_hostile()),
        "p_campaign_type": scalar(st.sampled_from(CAMPAIGN_TYPES), text_hostile()),
        "p_execution_config": document(st.one_of(st.none(), json_objects()),
                                       st.one_of(raw_documents(), json_wrong(but="object"))),
        "p_execution_id": scalar(st.one_of(st.none(), ghost_uuids(),
                                           st.sampled_from(world.executions)), uuid_hostile()),
    }, optional=frozenset({"p_execution_config", "p_execution_id"})), world)


def complete_campaign_execution(world: World) -> SearchStrategy[Args]:
    return call({
        "p_execution_id": existing(world.executions),
        "p_status": scalar(st.sampled_from(["completed", "failed"]), st.one_of(
            st.sampled_from(["pending", "running", "COMPLETED", "cancelled"]), text_hostile())),
        "p_result": document(st.one_of(st.none(), json_objects()),
                             st.one_of(raw_documents(), json_wrong(but="object"))),
        "p_error_message": scalar(st.one_of(st.none(), names(), st.just("é" * 10_000)),
                                  hostile_text()),
    }, optional=frozenset({"p_result", "p_error_message"}))


def validate_campaign_execution_constraints(world: World) -> SearchStrategy[Args]:
    return _same_workspace(call({
        "p_workspace_id": existing(world.workspaces),
        "p_workspace_n8n_workflow_id": existing(world.workflows),
        "p_campaign_type": scalar(st.sampled_from(CAMPAIGN_TYPES), text_hostile()),
    }), world)


def get_campaign_execution_metrics(world: World) -> SearchStrategy[Args]:
    past = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(2020, 1, 1),
                        timezones=st.just(UTC))
    return call({
        "p_workspace_id": existing(world.workspaces),
        "p_since": scalar(st.one_of(st.none(), past, st.sampled_from(["-infinity", "epoch"])),
                          timestamp_hostile()),
    }, optional=frozenset({"p_since"}))


def record_transaction_metric(world: World) -> SearchStrategy[Args]:
    return call({
        "p_operation_name": scalar(names(), text_hostile()),
        "p_campaign_id": scalar(st.one_of(st.none(), st.sampled_from(world.campaigns)),
                                uuid_hostile()),
        "p_duration_ms": scalar(counts(10**6), int_hostile()),
        "p_success": scalar(st.booleans(), bool_hostile()),
        "p_error_message": scalar(st.one_of(st.none(), names()), text_hostile()),
        "p_retry_count": scalar(st.one_of(st.none(), counts(10)), int_hostile()),
        "p_isolation_level": scalar(st.one_of(st.none(), st.sampled_from(ISOLATION_LEVELS)),
                                    text_hostile()),
    }, optional=frozenset({"p_error_message", "p_retry_count", "p_isolation_level"}))


def get_database_health_metrics(world: World) -> SearchStrategy[Args]:
    return st.just({})


PLATFORMS = ("google", "facebook", "LinkedIn ", "tiktok", "Ünïcødé", "İ" * 32, "x" * 32)


def upsert_daily_kpi_batch(world: World) -> SearchStrategy[Args]:
    days = st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31))
    row = json_object({
        "campaign_id": json_uuid(world.campaigns),
        "kpi_date": Field(valid=days.map(date.isoformat), hostile=st.one_of(
            st.sampled_from(["2024-02-30", "2024-2-1", "0999-01-01", "2024-01-01T00:00",
                             "", "infinity"]), json_wrong(but="string"))),
        "platform": json_text_field(st.sampled_from(PLATFORMS)),
        **{key: json_number(st.one_of(counts(10**6), st.just(10**18 - 1)))
           for key in ("impressions", "clicks", "conversions")},
        **{key: json_number(st.one_of(st.sampled_from([0, 0.0, 12.34, "12.34", 9999999999.9999]),
                                      st.integers(0, 10**6)))
           for key in ("spend", "revenue")},
    }, required=frozenset({"campaign_id", "kpi_date", "platform", "impressions", "clicks",
                           "spend", "conversions", "revenue"}))
    return call({
        "p_rows": batch(row, _too_many_kpi_rows),
        "p_source": scalar(st.one_of(st.sampled_from(["google_ads", "meta"]), names(100)),
                           text_hostile()),
        "p_idempotency_key": idempotency_key(),
    }, optional=frozenset({"p_idempotency_key"}))


def aggregate_monthly_kpis(world: World) -> SearchStrategy[Args]:
    months = st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31))
    return call({
        "p_month": scalar(st.one_of(months, months.map(date.isoformat)), date_hostile()),
        "p_campaign_id": scalar(st.one_of(st.none(), st.sampled_from(world.campaigns)),
                                uuid_hostile()),
        "p_idempotency_key": idempotency_key(),
    }, optional=frozenset({"p_campaign_id", "p_idempotency_key"}))


#: function name -> the strategy of its arguments, given the module's World.
STRATEGIES: dict[str, Callable[[World], SearchStrategy[Args]]] = {
    strategy.__name__: strategy
    for strategy in (
        create_workspace, create_campaign_with_coverage, track_campaign_cost,
        insert_businesses_batch, update_campaign_statistics, update_coverage_status,
        update_email_verification, update_enrichment_batch, get_businesses_for_enrichment,
        register_n8n_workflow, execute_campaign_atomically, complete_campaign_execution,
        validate_campaign_execution_constraints, get_campaign_execution_metrics,
        record_transaction_metric, get_database_health_metrics, upsert_daily_kpi_batch,
        aggregate_monthly_kpis,
    )
}


def bindings(world: World) -> SearchStrategy[str | None]:
    """The session's campaigndb.workspace_id: mostly unbound; a workspace of the world, one
    that does not exist, or a setting that is not a uuid (refused with 22023)."""
    return st.sampled_from([*[None] * 8, *world.workspaces,
                            "00000000-0000-0000-0000-000000000000", "not-a-uuid"])
