"""What the declarations share: the base models in and out, and argument conversions."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict


class Input(BaseModel):
    """A typed argument (plain mappings are accepted too, and checked by the server)."""

    model_config = ConfigDict(frozen=True)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class Result(BaseModel):
    """A successful answer, read from its envelope (the envelope's other fields ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


def text(value: uuid.UUID | str | None) -> str | None:
    return str(value) if value is not None else None


def decimal(value: Decimal | int | str) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))
