"""CoNLL-2003 BIO files in and out: a sentence per record, spans in code points, a round trip
that gives back the same tags (and columns), bad files named by line and column, nothing kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.domain.errors import ValidationError
from assay.formats.coco import CocoOptions
from assay.formats.conll import tags_for
from assay.services import exports, imports
from assay.services.actors import SYSTEM
from assay.store import records as rec_store
from assay.store.engine import Store
from tests.factories import make_project, make_user

CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC
call NN I-NP O
to TO B-VP O
boycott VB I-VP O
British JJ B-NP B-MISC
lamb NN I-NP O
. . O O

Peter NNP B-NP B-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

😀 SYM O O
São NNP B-NP B-LOC
Paulo NNP I-NP I-LOC
Ünïcode NNP I-NP B-LOC
"""
SCHEMA = {
    "name": "ner",
    "fields": [{"name": "text", "type": "text"}],
    "questions": [
        {"name": "entities", "type": "span", "field": "text", "labels": ["PER", "ORG", "LOC", "MISC"]}
    ],
}


def tags(text: str) -> list[str]:
    return [line.split()[-1] for line in text.splitlines() if line.strip()]


def test_conll_round_trip(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "train.conll"
    src.write_text(CONLL, encoding="utf-8")
    p = make_project(store, SCHEMA)
    report = imports.import_file(store, SYSTEM, p["id"], src, fmt="conll", coco=CocoOptions(as_="gold"))
    assert report.created == 3
    with store.read() as conn:
        first = rec_store.get_record_by_external_id(conn, p["id"], "train-1")
        last = rec_store.get_record_by_external_id(conn, p["id"], "train-3")
    assert first is not None and last is not None
    assert first["fields"]["text"] == "EU rejects German call to boycott British lamb ."
    assert first["gold"]["entities"][:2] == [
        {"start": 0, "end": 2, "label": "ORG"},
        {"start": 11, "end": 17, "label": "MISC"},
    ]
    # code points: the emoji is one character
    text = last["fields"]["text"]
    assert text == "😀 São Paulo Ünïcode"
    assert last["gold"]["entities"] == [
        {"start": 2, "end": 11, "label": "LOC"},
        {"start": 12, "end": 19, "label": "LOC"},
    ]
    assert text[2:11] == "São Paulo"
    out = tmp_path / "out.conll"
    exports.export_file(store, SYSTEM, p["id"], out, fmt="conll", coco_from="gold")
    written = out.read_text(encoding="utf-8")
    assert tags(written) == tags(CONLL)
    assert written == CONLL + "\n"  # the POS and chunk columns and -DOCSTART- come back too


def test_conll_answers_and_iob1(store: Store, tmp_path: Path) -> None:
    """Tags as one annotator's answers; IOB1 (an I- after O opens a span) reads as IOB2."""
    make_user(store, "tagger")
    src = tmp_path / "iob1.txt"
    src.write_text("Peter I-PER\nBlackburn I-PER\nvisited O\nParis I-LOC\nLyon B-LOC\n", encoding="utf-8")
    p = make_project(store, SCHEMA)
    imports.import_file(
        store, SYSTEM, p["id"], src, fmt="conll", coco=CocoOptions(as_="answers", annotator="tagger")
    )
    out = tmp_path / "out.conll"
    exports.export_file(store, SYSTEM, p["id"], out, fmt="conll")  # consensus of the one answer
    assert tags(out.read_text()) == ["B-PER", "I-PER", "O", "B-LOC", "B-LOC"]


@pytest.mark.parametrize(
    ("line", "column", "text", "message"),
    [
        (3, 2, "Paris B-CITY\n", "'CITY' is not a label"),
        (3, 2, "Paris E-LOC\n", "must be a BIO tag"),
        (3, 3, "Paris NNP B-LOC\n", "has 3 columns, the file's first token line has 2"),
        (3, 1, "Paris\n", "at least 2 columns"),
    ],
)
def test_a_bad_conll_file_names_line_and_column(
    store: Store, tmp_path: Path, line: int, column: int, text: str, message: str
) -> None:
    src = tmp_path / "bad.conll"
    src.write_text("Good B-PER\n\n" + text + "\nMore O\n", encoding="utf-8")
    p = make_project(store, SCHEMA)
    with pytest.raises(ValidationError) as e:
        imports.import_file(store, SYSTEM, p["id"], src, fmt="conll")
    assert (e.value.file, e.value.line, e.value.field) == (str(src), line, f"column {column}")
    assert message in e.value.message
    with store.read() as conn:
        assert rec_store.count_records(conn, p["id"]) == 0


def test_tags_for_tokens_and_overlaps() -> None:
    spans = [{"start": 0, "end": 9, "label": "LOC"}, {"start": 4, "end": 9, "label": "PER"}]
    assert tags_for("São  Paulo x", spans) == [("São", "B-LOC"), ("Paulo", "I-LOC"), ("x", "O")]
    adjacent = [{"start": 0, "end": 1, "label": "LOC"}, {"start": 2, "end": 3, "label": "LOC"}]
    assert tags_for("a b", adjacent) == [("a", "B-LOC"), ("b", "B-LOC")]
