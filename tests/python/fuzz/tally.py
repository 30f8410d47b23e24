"""How many hypothesis cases ran, per function and outcome (printed by conftest.py)."""

from __future__ import annotations

from collections import Counter, defaultdict

#: function -> outcome -> count.  Outcomes: "examples" (hypothesis examples run), and per
#: path ("sql", "client") "ok" (success), "refused" (failure envelope or raised error the
#: function documents) and "cast" (a value PostgreSQL could not cast to the parameter's type).
CASES: defaultdict[str, Counter[str]] = defaultdict(Counter)


def count(function: str, outcome: str) -> None:
    CASES[function][outcome] += 1


#: function -> SQLSTATE -> how often a failed call answered it (both paths): how deep the
#: strategies reach (a type check answers 22023, a missing row P0002, a state check 55000).
CODES: defaultdict[str, Counter[str]] = defaultdict(Counter)


def code(function: str, sqlstate: str) -> None:
    CODES[function][sqlstate] += 1
