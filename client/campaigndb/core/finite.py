"""Numbers the server cannot store faithfully (NaN, +-Infinity, sNaN): found anywhere in an
argument before anything is sent, so that a call answers 22023 naming the path instead of
storing JSON null or raising OverflowError (docs/client.md, "NaN policy")."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def non_finite_path(value: Any, path: str) -> str | None:
    """The path of the first non-finite number inside `value` (`p_businesses[3].rating`),
    or None.  Walks mappings, lists/tuples/sets and pydantic models."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, Decimal):
        return None if value.is_finite() else path
    if isinstance(value, str | bytes | int | None):
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = non_finite_path(item, f"{path}.{key}")
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            found = non_finite_path(item, f"{path}[{index}]")
            if found is not None:
                return found
        return None
    fields = getattr(type(value), "model_fields", None)
    if isinstance(fields, dict):  # a pydantic model
        for name in fields:
            found = non_finite_path(getattr(value, name, None), f"{path}.{name}")
            if found is not None:
                return found
    return None
