"""Reading daily KPI rows from a file for `campaigndb kpi upsert` (JSON or CSV).

The rows go to `upsert_daily_kpi_batch` as they are read: the server checks every field and
names the first bad row.  The only conversion here is CSV's: every CSV cell is text, so the
whole-number columns are turned into JSON numbers when they read as one (the function
accepts numeric strings for spend and revenue, not for counts).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

COUNT_COLUMNS = ("impressions", "clicks", "conversions")
#: the function's limit per call
MAX_BATCH = 10_000


class KpiFileError(ValueError):
    """The file cannot be read as KPI rows (its content is checked by the server)."""


def read_kpi_file(path: Path) -> list[Any]:
    """The rows of a .json file (an array, or an object with "rows") or a .csv file (a
    header line naming the columns)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".json":
            return _json_rows(path)
        if suffix == ".csv":
            return _csv_rows(path)
    except OSError as exc:
        raise KpiFileError(f"cannot read {path}: {exc.strerror}") from exc
    raise KpiFileError(f"{path}: expected a .json or .csv file")


def _json_rows(path: Path) -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise KpiFileError(f"{path} is not valid JSON: {exc}") from exc
    if isinstance(data, dict) and isinstance(data.get("rows"), list):
        data = data["rows"]
    if not isinstance(data, list):
        raise KpiFileError(f"{path}: expected a JSON array of rows, or an object with 'rows'")
    return data


def _csv_rows(path: Path) -> list[Any]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            raise KpiFileError(f"{path}: the CSV file has no header line")
        rows: list[Any] = []
        for record in reader:
            if None in record:
                raise KpiFileError(
                    f"{path}, line {reader.line_num}: more cells than the header names")
            row: dict[str, Any] = {}
            for key, value in record.items():
                if value is None or value.strip() == "":
                    continue  # an empty cell is a missing value: the server says which
                text = value.strip()
                row[key.strip()] = int(text) if key.strip() in COUNT_COLUMNS and \
                    text.isdigit() else text
            rows.append(row)
    return rows


def batches(rows: Sequence[Any], size: int = MAX_BATCH) -> Iterator[tuple[int, Sequence[Any]]]:
    """(offset, rows) slices of at most `size` rows."""
    if size < 1:
        raise ValueError("size must be at least 1")
    for offset in range(0, len(rows), size):
        yield offset, rows[offset:offset + size]
