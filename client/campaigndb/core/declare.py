"""How an API function is declared once, and what follows from the declaration.

`@declare("name(p_a type, p_b type = NULL)", Result.model_validate, isolation=...)` on a
function that turns typed arguments into the named parameters gives an `Operation`: its
`FunctionSpec` (parameters, their PostgreSQL types, which are required, the signature, the
SQL call), registered in `FUNCTIONS`, and, as a class attribute of `Client` or
`AsyncClient`, the typed method (sync or async by the client it is read from).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, ParamSpec, Protocol, TypeVar, cast, overload

from campaigndb.core.exceptions import Envelope
from campaigndb.core.statements import call_sql

R = TypeVar("R")
P = ParamSpec("P")


class Isolation(StrEnum):
    READ_COMMITTED = "READ COMMITTED"
    REPEATABLE_READ = "REPEATABLE READ"
    SERIALIZABLE = "SERIALIZABLE"


@dataclass(frozen=True)
class ArrayLimit:
    """The most elements a JSON array argument may hold (docs/limits.md): the function's own
    54000 check, declared again so that the client refuses an oversize array before sending
    it (the server parses the whole argument before the function can look at its length).
    `path` is the parameter, or "param.key" for an array inside a JSON object; the answer
    is the function's own envelope: its message, hint and column."""

    path: str
    maximum: int
    noun: str = "elements"
    per_call: bool = True
    hint: str | None = None
    column: str | None = None

    def envelope(self, count: int) -> Envelope:
        """The 54000 envelope the function answers for an array of `count` elements."""
        limit = f"the limit is {self.maximum}{' per call' if self.per_call else ''}"
        detail = {key: value for key, value in (("column", self.column), ("hint", self.hint))
                  if value}
        envelope: Envelope = {"success": False,
                              "error": f"{self.path} holds {count} {self.noun}; {limit}",
                              "error_code": "54000", "retry_recommended": False}
        if detail:
            envelope["error_detail"] = detail
        return envelope


@dataclass(frozen=True)
class FunctionSpec:
    """How the client calls one API function."""

    name: str
    #: parameter name -> PostgreSQL type, in declaration order
    params: dict[str, str]
    isolation: Isolation
    signature: str
    read_only: bool = False
    #: the parameter whose value keys the pre-snapshot advisory lock (SERIALIZABLE hot rows)
    hot_row_param: str | None = None
    #: the parameter that carries the idempotency key, and the key inside it when it is JSON
    idempotency_param: str | None = None
    idempotency_json_key: str | None = None
    required: frozenset[str] = field(default_factory=frozenset)
    #: "envelope": returns one jsonb envelope; "table": returns rows (RETURNS TABLE);
    #: "scalar": returns one value (answered as the envelope's "id")
    returns: str = "envelope"
    #: the array arguments' sizes, checked before anything is sent
    array_limits: tuple[ArrayLimit, ...] = ()

    def call_sql(self, given: tuple[str, ...]) -> str:
        """SELECT public.fn(p_a => %(p_a)s::type, ...) for the parameters given (cached)."""
        args = tuple((n, self.params[n]) for n in self.params if n in given)
        return call_sql(self.name, args, self.returns == "table")


FUNCTIONS: dict[str, FunctionSpec] = {}

_SIGNATURE = re.compile(r"(\w+)\((.*)\)", re.S)


def parse_signature(text: str) -> tuple[str, dict[str, str], frozenset[str]]:
    """"name(p_a uuid, p_b text = NULL)" -> (name, {p_a: uuid, p_b: text}, {p_a})."""
    match = _SIGNATURE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a signature: {text!r}")
    params: dict[str, str] = {}
    required = set()
    for part in filter(None, (p.strip() for p in match.group(2).split(","))):
        declared, _, default = part.partition("=")
        name, sql_type = declared.split()
        params[name] = sql_type
        if not default:
            required.add(name)
    return match.group(1), params, frozenset(required)


class _SyncCaller(Protocol):
    def _typed(self, name: str, **params: Any) -> Envelope: ...


class _AsyncCaller(Protocol):
    def _typed(self, name: str, **params: Any) -> Awaitable[Envelope]: ...


class Operation(Generic[P, R]):
    """One API function: its spec, and its typed method on either client."""

    def __init__(self, spec: FunctionSpec, build: Callable[P, dict[str, Any]],
                 parse: Callable[[Envelope], R]) -> None:
        self.spec = spec
        self.build = build
        self.parse = parse
        functools.update_wrapper(cast(Any, self), build)

    @overload
    def __get__(self, instance: None, owner: type) -> Operation[P, R]: ...
    @overload
    def __get__(self, instance: _SyncCaller, owner: type) -> Callable[P, R]: ...
    @overload
    def __get__(self, instance: _AsyncCaller, owner: type) -> Callable[P, Awaitable[R]]: ...

    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None:
            return self
        name, build, parse = self.spec.name, self.build, self.parse
        if getattr(instance, "is_async", False):
            async def async_method(*args: Any, **kwargs: Any) -> R:
                return parse(await instance._typed(name, **build(*args, **kwargs)))

            return async_method

        def method(*args: Any, **kwargs: Any) -> R:
            return parse(instance._typed(name, **build(*args, **kwargs)))

        return method


def declare(
    signature: str,
    parse: Callable[[Envelope], R],
    *,
    isolation: Isolation = Isolation.READ_COMMITTED,
    read_only: bool = False,
    returns: str = "envelope",
    hot_row: str | None = None,
    idempotency: str | None = None,
    limits: tuple[ArrayLimit, ...] = (),
) -> Callable[[Callable[P, dict[str, Any]]], Operation[P, R]]:
    """Declare an API function: its SQL signature (`= NULL` marks a parameter with a
    default), how to read its answer, and how the client runs it.  `idempotency` is the
    parameter carrying the key, `"param.key"` for a key inside a JSON parameter;
    `limits` the array arguments' documented sizes (the function's 54000 checks)."""
    name, params, required = parse_signature(signature)
    for limit in limits:
        if limit.path.partition(".")[0] not in params:
            raise ValueError(f"{name} has no parameter for the limit on {limit.path}")
    key_param, _, json_key = (idempotency or "").partition(".")
    spec = FunctionSpec(
        name=name, params=params, isolation=isolation,
        signature=f"public.{name}({', '.join(params.values())})",
        read_only=read_only, hot_row_param=hot_row, idempotency_param=key_param or None,
        idempotency_json_key=json_key or None, required=required, returns=returns,
        array_limits=limits)

    def register(build: Callable[P, dict[str, Any]]) -> Operation[P, R]:
        if build.__name__ != name:
            raise ValueError(f"{build.__name__} declares {name}")
        FUNCTIONS[name] = spec
        return Operation(spec, build, parse)

    return register
