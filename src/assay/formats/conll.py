"""CoNLL-2003 style BIO files in and out, for spans over a text field.

In: one token per line, columns separated by whitespace, the last column a tag (``O``,
``B-LABEL``, ``I-LABEL``), a blank line between sentences, ``-DOCSTART-`` lines skipped. Each
sentence becomes a record (``external_id`` ``<file stem>-<n>``, n counting sentences from 1): its
text field holds the tokens joined by single spaces, its span question the labelled ranges in
character offsets (code points). Tags are read as IOB2; an ``I-X`` that does not continue an
``X`` (after ``O``, another label or at a sentence's start) opens a span, as IOB1 files (the
original CoNLL-2003 release) write it. The columns between the token and the tag (part of speech,
chunk) and the ``-DOCSTART-`` lines are kept in the record's metadata (``conll``) so that the
export writes them back. The whole file is read and checked before anything is imported: an error
names the file, the line and the column.

Out: the same layout, a tag per whitespace token of the text from consensus, the suggestions or
the gold, written as IOB2 (``B-`` opens every span). A token touched by a span takes its label;
where spans overlap (CoNLL cannot nest) the one that starts first wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from assay.domain.errors import ValidationError
from assay.domain.schema import ProjectSchema
from assay.formats.base import Source
from assay.formats.coco import COCO_AS, CocoOptions

__all__ = ["CONLL_FROM", "MODEL", "SpanTarget", "read_conll", "write_conll"]

CONLL_FROM = ("consensus", "suggestions", "gold")
MODEL = "conll"
DOCSTART = "-DOCSTART-"
_TOKEN = re.compile(r"\S+")


@dataclass(frozen=True)
class SpanTarget:
    """Where CoNLL goes in a project: its first span question and the text field it labels."""

    text_field: str
    question: str
    labels: tuple[str, ...]

    @classmethod
    def of(cls, schema: ProjectSchema) -> SpanTarget:
        for q in schema.questions:
            if q.type == "span":
                field = str(getattr(q, "field", ""))
                return cls(field, q.name, tuple(getattr(q, "label_values", [])))
        raise ValidationError("CoNLL needs a project with a span question on a text field", field="format")


def _bad(name: str, line: int, column: int, message: str) -> ValidationError:
    return ValidationError(message, file=name, line=line, field=f"column {column}")


@dataclass
class _Sentence:
    line: int
    docstart: bool
    tokens: list[str]
    middle: list[list[str]]
    tags: list[tuple[int, str, str]]  # (line, prefix, label)
    width: int


def _sentences(fh: BinaryIO, name: str, labels: tuple[str, ...]) -> Iterator[_Sentence]:
    cur: _Sentence | None = None
    docstart = False
    width = 0  # the file's layout: the number of columns of its first token line
    for lineno, data in enumerate(fh, 1):
        try:
            raw = data.decode("utf-8-sig" if lineno == 1 else "utf-8")
        except UnicodeDecodeError as e:
            raise _bad(
                name, lineno, 1, f"not UTF-8 text ({e.reason} at byte {e.start} of the line)"
            ) from None
        cols = raw.split()
        if not cols or cols[0] == DOCSTART:
            if cur is not None:
                yield cur
                cur = None
            docstart = docstart or bool(cols)
            continue
        if len(cols) < 2:
            raise _bad(
                name,
                lineno,
                1,
                f"a token line has the token and its tag (at least 2 columns), got {raw.strip()!r}",
            )
        if not width:
            width = len(cols)
        elif len(cols) != width:
            raise _bad(
                name,
                lineno,
                len(cols),
                f"has {len(cols)} columns, the file's first token line has {width}: "
                "every token line has the same columns, the tag last",
            )
        if cur is None:
            cur = _Sentence(lineno, docstart, [], [], [], len(cols))
            docstart = False
        tag = cols[-1]
        prefix, dash, label = tag.partition("-")
        if tag == "O":
            prefix, label = "O", ""
        elif not dash or prefix not in ("B", "I") or not label:
            raise _bad(
                name,
                lineno,
                len(cols),
                f"the last column must be a BIO tag (O, B-LABEL or I-LABEL), got {tag!r}",
            )
        elif label not in labels:
            raise _bad(
                name, lineno, len(cols), f"{label!r} is not a label of the project: {', '.join(labels)}"
            )
        cur.tokens.append(cols[0])
        cur.middle.append(cols[1:-1])
        cur.tags.append((lineno, prefix, label))
    if cur is not None:
        yield cur


def _spans(s: _Sentence) -> list[dict[str, Any]]:
    spans: list[dict[str, Any]] = []
    pos = 0
    open_: dict[str, Any] | None = None
    for token, (_, prefix, label) in zip(s.tokens, s.tags, strict=True):
        start, end = pos, pos + len(token)
        pos = end + 1
        if prefix == "O":
            open_ = None
        elif prefix == "I" and open_ is not None and open_["label"] == label:
            open_["end"] = end
        else:  # B-, or an I- that continues nothing (IOB1)
            open_ = {"start": start, "end": end, "label": label}
            spans.append(open_)
    return spans


def read_conll(path: Path, name: str, target: SpanTarget, options: CocoOptions) -> Source:
    """The records of a CoNLL file, checked whole first (all or nothing)."""
    if options.as_ not in COCO_AS:
        raise ValidationError(f"CoNLL tags become one of {', '.join(COCO_AS)}", field="coco_as")
    if options.as_ == "answers" and not options.annotator:
        raise ValidationError("CoNLL answers need --annotator (the user who tagged them)", field="annotator")
    if path.is_dir():
        raise ValidationError("a CoNLL file is one file, not a folder", file=name)
    stem = Path(name).stem
    rows: list[tuple[int, dict[str, Any]]] = []
    with path.open("rb") as fh:
        for n, s in enumerate(_sentences(fh, name, target.labels), 1):
            spans = _spans(s)
            conll: dict[str, Any] = {}
            if s.docstart:
                conll["docstart"] = True
            if s.width > 2:
                conll["columns"] = s.middle
            row: dict[str, Any] = {
                "external_id": f"{stem}-{n}",
                "fields": {target.text_field: " ".join(s.tokens)},
            }
            if conll:
                row["metadata"] = {"conll": conll}
            found = {target.question: spans} if spans else {}
            if options.as_ == "gold":
                row["gold"] = found
            elif options.as_ == "answers":
                row["responses"] = [{"user": options.annotator, "values": found}] if found else []
            else:
                row["suggestions"] = [{"question": q, "value": v, "model": MODEL} for q, v in found.items()]
            rows.append((s.line, row))
    if not rows:
        raise ValidationError("no sentences (a token and a tag per line)", file=name)

    def it() -> Iterator[tuple[int, dict[str, Any]]]:
        yield from rows

    return Source(name=name, rows=it(), unit="sentences", total=len(rows))


def tags_for(text: str, spans: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """``(token, tag)`` per whitespace token of ``text``, IOB2, from spans in code points."""
    ordered = sorted(
        (s for s in spans if isinstance(s, dict)), key=lambda s: (int(s["start"]), -int(s["end"]))
    )
    out: list[tuple[str, str]] = []
    owner: list[int | None] = []
    for m in _TOKEN.finditer(text):
        hit = next(
            (i for i, s in enumerate(ordered) if int(s["start"]) < m.end() and int(s["end"]) > m.start()),
            None,
        )
        if hit is None:
            out.append((m.group(), "O"))
        else:
            first = not owner or owner[-1] != hit
            out.append((m.group(), f"{'B' if first else 'I'}-{ordered[hit]['label']}"))
        owner.append(hit)
    return out


def write_conll(
    out: Path, rows: Iterable[dict[str, Any]], target: SpanTarget, source: str = "consensus"
) -> int:
    """Write export ``rows`` as one CoNLL file: a sentence per record with a text."""
    if source not in CONLL_FROM:
        raise ValidationError(
            f"CoNLL tags come from {', '.join(CONLL_FROM)} (a file holds one tag per token)",
            field="coco_from",
        )
    n = 0
    width: int | None = None  # the columns between token and tag, as the first sentence has them
    with out.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            text = (row.get("fields") or {}).get(target.text_field)
            if not isinstance(text, str) or not text.strip():
                continue
            if source == "consensus":
                value = ((row.get("consensus") or {}).get(target.question) or {}).get("value")
            elif source == "gold":
                value = (row.get("gold") or {}).get(target.question)
            else:
                value = next(
                    (s["value"] for s in row.get("suggestions") or [] if s["question"] == target.question),
                    None,
                )
            tagged = tags_for(text, value if isinstance(value, list) else [])
            conll = (row.get("metadata") or {}).get("conll") or {}
            if not isinstance(conll, dict):
                conll = {}
            middle = conll.get("columns")
            if not isinstance(middle, list) or len(middle) != len(tagged):
                middle = [[]] * len(tagged)
            if width is None:  # the first sentence sets the file's layout; the others follow it
                width = len(middle[0]) if middle and isinstance(middle[0], list) else 0
            if conll.get("docstart"):
                fh.write(" ".join([DOCSTART, *(["-X-"] * width), "O"]) + "\n\n")
            for (token, tag), extra in zip(tagged, middle, strict=True):
                cols = [str(c) for c in extra][:width] if isinstance(extra, list) else []
                cols += ["_"] * (width - len(cols))
                fh.write(" ".join([token, *cols, tag]) + "\n")
            fh.write("\n")
            n += 1
    return n
