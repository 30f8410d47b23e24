"""One call's pure steps, the same for both clients: its arguments checked and bound, an
idempotency key added, its result rows read as an envelope, a failure read as an envelope."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from itertools import repeat
from typing import Any

import orjson
import psycopg
import psycopg_pool

from campaigndb.core.connection import json_dumps
from campaigndb.core.declare import FUNCTIONS, ArrayLimit, FunctionSpec
from campaigndb.core.errors import (
    MAYBE_COMMITTED,
    OUTCOME_UNKNOWN,
    envelope_from_exception,
    envelope_ok,
    unsendable_envelope,
)
from campaigndb.core.exceptions import (
    ArgumentTooLarge,
    ConnectFailed,
    Envelope,
    UnsendableArgument,
)
from campaigndb.core.finite import non_finite_path
from campaigndb.core.sqlstates import is_connection_loss, retry_after_ms


def check(specs: Mapping[str, FunctionSpec], name: str, params: dict[str, Any]) -> FunctionSpec:
    """A call's function and parameters, checked before anything is sent."""
    spec = specs.get(name)
    if spec is None:
        raise ValueError(f"unknown function {name!r}; known: {', '.join(sorted(FUNCTIONS))}")
    unknown = set(params) - set(spec.params)
    if unknown:
        raise ValueError(f"{name} has no parameter(s) {', '.join(sorted(unknown))}")
    missing = spec.required - set(params)
    if missing:  # PostgreSQL would answer 42883: no function matches the arguments
        raise ValueError(f"{name} needs parameter(s) {', '.join(sorted(missing))}"
                         " (pass None for a null)")
    return spec


def with_idempotency_key(spec: FunctionSpec, params: dict[str, Any],
                         new_key: Callable[[], str]) -> dict[str, Any]:
    """Generate the idempotency key once per logical call (reused by every retry)."""
    key_param = spec.idempotency_param
    if key_param is None:
        return params
    if spec.idempotency_json_key is None:
        if params.get(key_param) is None:
            params = {**params, key_param: new_key()}
        return params
    document = params.get(key_param)
    if isinstance(document, Mapping) and document.get(spec.idempotency_json_key) is None:
        document = {**document, spec.idempotency_json_key: new_key()}
        params = {**params, key_param: document}
    return params


def random_key() -> str:
    return str(uuid.uuid4())


def bind(spec: FunctionSpec, params: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments as psycopg should send them: JSON values written as JSON text
    here (cast ::jsonb by the call), so that a value no JSON can hold is refused before
    any I/O (UnsendableArgument); a str for a jsonb parameter is taken as JSON text.  An
    array beyond its declared limit is refused first (ArgumentTooLarge), before anything
    walks or writes its elements."""
    for limit in spec.array_limits:
        count = array_length(limit, params)
        if count is not None and count > limit.maximum:
            raise ArgumentTooLarge(limit.envelope(count))
    bound: dict[str, Any] = {}
    for name, value in params.items():
        bad = non_finite_path(value, name)
        if bad is not None:
            raise UnsendableArgument(f"{bad} is not a finite number (NaN and Infinity "
                                     "cannot be stored)")
        if spec.params[name] == "jsonb" and not isinstance(value, str | None):
            try:
                value = json_dumps(value)
            except (TypeError, ValueError, RecursionError) as exc:
                raise UnsendableArgument(f"{name} cannot be written as JSON: "
                                         f"{type(exc).__name__}: {exc}") from exc
        bound[name] = value
    return bound


def array_length(limit: ArrayLimit, params: Mapping[str, Any]) -> int | None:
    """The number of elements of the array at `limit.path` in the call's arguments, None
    when there is no array there (the server answers for a wrong type).  JSON text is read
    only when it is long enough to hold more than the limit (two characters an element)."""
    param, _, key = limit.path.partition(".")
    value = params.get(param)
    if isinstance(value, str):
        if len(value) <= 2 * limit.maximum:
            return None
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None  # not JSON orjson reads: the server parses (and answers) it
    if key:
        value = value.get(key) if isinstance(value, Mapping) else None
    return len(value) if isinstance(value, list | tuple) else None


def column_names(cursor: psycopg.Cursor[Any] | psycopg.AsyncCursor[Any]) -> list[str]:
    """The names of the current result's columns, read from the result itself
    (`cursor.description` builds a Column object per column: a third of a 100-row page's
    answer time, measured)."""
    result = cursor.pgresult
    if result is None:
        return []
    return [(result.fname(i) or b"").decode() for i in range(result.nfields)]


def answer(spec: FunctionSpec, cursor: psycopg.Cursor[Any] | psycopg.AsyncCursor[Any],
           rows: list[Any]) -> Envelope:
    """The envelope for the call's result rows (`cursor` is on the call's result)."""
    if spec.returns == "table":
        names = column_names(cursor)
        # psycopg's rows have one value per column; map() keeps the loop in C (a page of 100
        # in 60 % of a comprehension's time, zip's strict= keyword included)
        return envelope_ok({"rows": list(map(dict, map(zip, repeat(names), rows)))})
    if spec.returns == "scalar":
        return envelope_ok({"id": rows[0][0] if rows else None})
    if not rows or not isinstance(rows[0][0], dict):
        raise psycopg.DataError(f"{spec.name} returned no envelope")
    envelope: Envelope = rows[0][0]
    return envelope


def answer_error(exc: BaseException, *, sent: bool = False) -> Envelope:
    """A failed attempt's envelope (a client-side programming error is re-raised).
    `sent`: the write's message may have reached the server; a lost connection then
    leaves its outcome unknown (marked for the call, which decides after the retries)."""
    if isinstance(exc, psycopg_pool.PoolTimeout):
        return envelope_from_exception(exc)
    if isinstance(exc, ArgumentTooLarge | ConnectFailed):
        return dict(exc.envelope)
    if isinstance(exc, UnsendableArgument) or (
            isinstance(exc, psycopg.DataError | psycopg.ProgrammingError)
            and exc.sqlstate is None):
        # refused by the client before the server saw it: a NUL in a text, a value
        # psycopg cannot adapt, a value no JSON can hold
        return unsendable_envelope(exc)
    if isinstance(exc, psycopg.Error) and (
            exc.sqlstate is not None
            or isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError)):
        envelope = envelope_from_exception(exc)
        if sent and is_connection_loss(envelope.get("error_code")):
            envelope[MAYBE_COMMITTED] = True
        return envelope
    raise exc


def outcome_unknown(spec: FunctionSpec, params: dict[str, Any], last: Envelope) -> Envelope:
    """The answer when every attempt failed but one lost its connection after sending
    the write: it may have committed, so "success: false" (nothing written) would be
    untrue.  08007 says so, and carries the idempotency key to ask again with: a repeat
    with it answers the first result (replayed: true) or applies the write once."""
    key = params.get(spec.idempotency_param) if spec.idempotency_param else None
    if isinstance(key, Mapping) and spec.idempotency_json_key:
        key = key.get(spec.idempotency_json_key)
    if key is not None:
        advice = (f"call again with the same {spec.idempotency_param}"
                  f"{'.' + spec.idempotency_json_key if spec.idempotency_json_key else ''}"
                  f" ({key}) to learn the outcome; it cannot apply twice")
    else:
        advice = f"{spec.name} is idempotent by nature: calling it again is safe"
    envelope: Envelope = {
        "success": False,
        "error": "the connection was lost after the call was sent, so the server may "
                 f"have committed it: {advice}",
        "error_code": OUTCOME_UNKNOWN,
        "retry_recommended": True,
        "retry_after_ms": retry_after_ms(OUTCOME_UNKNOWN),
        "error_detail": {"detail": f"last attempt: {last.get('error')} "
                                   f"[{last.get('error_code')}]"},
    }
    if key is not None:
        envelope["idempotency_key"] = str(key)
    return envelope


_UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}")


def campaign_for_metrics(value: Any) -> str | None:
    """A call's p_campaign_id as a uuid string, or None when it is not one: a malformed
    value must not reach the buffer, where it would make its whole flush fail.  (Called on
    every recorded call: the regular expression, a subset of what PostgreSQL reads as a
    uuid, answers the usual text in a tenth of uuid.UUID's time.)"""
    if value is None:
        return None
    if isinstance(value, str) and _UUID_TEXT.fullmatch(value):
        return value
    try:
        return str(value if isinstance(value, uuid.UUID) else uuid.UUID(str(value)))
    except ValueError:
        return None
