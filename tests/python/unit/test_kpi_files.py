"""Reading KPI files for `campaigndb kpi upsert` (pure logic; the server checks the rows)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from campaigndb_dev.kpi_files import KpiFileError, batches, read_kpi_file


def test_json_array_or_object_with_rows(tmp_path: Path) -> None:
    plain = tmp_path / "a.json"
    plain.write_text('[{"clicks": 1, "spend": 1.10}]')
    assert read_kpi_file(plain) == [{"clicks": 1, "spend": Decimal("1.10")}]
    wrapped = tmp_path / "b.JSON"
    wrapped.write_text('{"rows": [{"clicks": 2}], "exported": "today"}')
    assert read_kpi_file(wrapped) == [{"clicks": 2}]


@pytest.mark.parametrize(("name", "text", "words"), [
    ("bad.json", "[{", "not valid JSON"),
    ("obj.json", '{"data": []}', "expected a JSON array"),
    ("rows.txt", "x", "expected a .json or .csv file"),
    ("empty.csv", "", "no header line"),
    ("wide.csv", "a,b\n1,2,3\n", "line 2: more cells than the header names"),
])
def test_unreadable_files_are_clear_errors(tmp_path: Path, name: str, text: str,
                                           words: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(KpiFileError, match=words):
        read_kpi_file(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KpiFileError, match="cannot read"):
        read_kpi_file(tmp_path / "gone.csv")


def test_csv_counts_become_numbers_and_empty_cells_are_missing(tmp_path: Path) -> None:
    path = tmp_path / "k.csv"
    path.write_text("\ufeffcampaign_id, clicks,spend,impressions,revenue\n"
                    "c1, 12 ,3.50,,7\nc2,1.5,x,3,\n")
    assert read_kpi_file(path) == [
        {"campaign_id": "c1", "clicks": 12, "spend": "3.50", "revenue": "7"},
        # not a whole number: passed on as text for the server to refuse by name
        {"campaign_id": "c2", "clicks": "1.5", "spend": "x", "impressions": 3},
    ]


def test_batches_cover_every_row_once() -> None:
    rows = list(range(25))
    parts = list(batches(rows, 10))
    assert [offset for offset, _ in parts] == [0, 10, 20]
    assert [r for _, part in parts for r in part] == rows
    assert list(batches([], 10)) == []
    with pytest.raises(ValueError, match="at least 1"):
        list(batches(rows, 0))
