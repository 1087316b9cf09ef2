"""Exports in the layouts that training stacks load (SFT, DPO, KTO, reward-model, process-reward …).

Each training format is a *transform*: a function from the project's export rows (the rows
of :func:`assay.services.exports.iter_export_rows`, with consensus and lineage) to training
examples. Transforms live in :mod:`assay.formats.training` modules and register there by name;
this module writes their examples as JSONL, Parquet, or a Hugging Face ``datasets`` folder
(``save_to_disk``) chosen by the output path's suffix.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from assay.domain import events as ev
from assay.domain.errors import ValidationError
from assay.domain.schema import ProjectSchema
from assay.formats import EXPORT_FORMATS, open_writer
from assay.formats.atomic import atomic_output
from assay.formats.training import TrainingOptions, load_transforms
from assay.services.actors import Actor
from assay.services.audit import audit
from assay.services.exports import iter_export_rows
from assay.services.policies import load_project
from assay.store.engine import Store

__all__ = [
    "TrainingOptions",
    "TrainingReport",
    "cap_synthetic",
    "export_training",
    "export_training_report",
    "training_formats",
    "unknown_format",
]


@dataclass
class TrainingReport:
    """What a training export wrote: examples per origin and per teacher (when the export states
    them), and the synthetic examples left out to hold ``max_synthetic_share``."""

    rows: int = 0
    origins: dict[str, int] = field(default_factory=dict)
    teachers: dict[str, int] = field(default_factory=dict)
    capped: int = 0
    diversity: dict[str, Any] = field(default_factory=dict)

    def shares(self) -> dict[str, float]:
        from assay.formats.training.provenance import ORIGINS

        if not self.rows:
            return {}
        return {k: round(self.origins[k] / self.rows, 4) for k in ORIGINS if self.origins.get(k)}

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "origins": self.origins, "shares": self.shares(),
                "teachers": self.teachers, "capped_synthetic": self.capped,
                **({"diversity": self.diversity} if self.diversity else {})}  # fmt: skip

    def summary(self) -> str:
        """``human 60.0 %, synthetic-verified 30.0 % …; teachers: a 5, b 4``."""
        parts = [f"{k} {100 * v:.1f} %" for k, v in self.shares().items()]
        out = ", ".join(parts)
        if self.teachers:
            out += "; teachers: " + ", ".join(f"{k} {v}" for k, v in sorted(self.teachers.items()))
        if self.capped:
            out += f"; {self.capped} synthetic examples left out by the share cap"
        d = self.diversity
        if d.get("distinct_2") is not None:
            out += (f"; synthetic answers: distinct-1 {d['distinct_1']}, distinct-2 {d['distinct_2']}, "
                    f"distinct-3 {d['distinct_3']}")  # fmt: skip
        return out


def _answer_text(ex: dict[str, Any]) -> str | None:
    """The answer of a training example (the chosen one of a pair, a KTO completion, the last turn)."""
    for key in ("chosen", "completion", "response", "messages"):
        v = ex.get(key)
        if isinstance(v, str):
            return v
        if isinstance(v, list) and v and isinstance(v[-1], dict):
            return str(v[-1].get("content", ""))
    return None


def cap_synthetic(examples: list[dict[str, Any]], share: float) -> tuple[list[dict[str, Any]], int]:
    """The examples with synthetic ones left out until they are at most ``share`` of the whole:
    verified ones are kept before unverified ones, earlier before later; the order is kept."""
    human = sum(1 for ex in examples if ex.get("origin", "human") == "human")
    allowed = len(examples) if share >= 1.0 else math.floor(share * human / (1.0 - share) + 1e-9)
    synthetic = [i for i, ex in enumerate(examples) if ex.get("origin", "human") != "human"]
    synthetic.sort(key=lambda i: (examples[i]["origin"] != "synthetic-verified", i))
    drop = set(synthetic[allowed:])
    return [ex for i, ex in enumerate(examples) if i not in drop], len(drop)


def training_formats() -> list[str]:
    return sorted(load_transforms())


def unknown_format(fmt: str) -> ValidationError:
    """The error for a format that is neither a file format nor a training format; it lists both."""
    return ValidationError(
        f"unknown format {fmt!r}; file formats: {', '.join(EXPORT_FORMATS)}; "
        f"training formats: {', '.join(training_formats())}",
        field="format",
    )


def export_training(
    store: Store,
    actor: Actor,
    project_ref: int | str,
    path: Path,
    fmt: str,
    options: TrainingOptions | None = None,
) -> int:
    """Write a project's training examples in format ``fmt``; returns how many were written
    (:func:`export_training_report` tells more).

    ``path`` ending in ``.jsonl`` or ``.parquet`` gives that file; any other path is written
    as a Hugging Face ``datasets`` folder (``datasets.load_from_disk`` reads it). ``path``
    appears only when every example is written; a project the format does not fit, or any
    other error, leaves nothing behind.
    """
    return export_training_report(store, actor, project_ref, path, fmt, options).rows


def export_training_report(
    store: Store,
    actor: Actor,
    project_ref: int | str,
    path: Path,
    fmt: str,
    options: TrainingOptions | None = None,
) -> TrainingReport:
    """:func:`export_training`, returning the counts per origin and teacher. With
    ``options.max_synthetic_share`` each example states its origin and synthetic ones are left
    out (unverified first) until they are at most that share."""
    transforms = load_transforms()
    if fmt not in transforms:
        raise unknown_format(fmt)
    options = options or TrainingOptions()
    share = options.max_synthetic_share
    if share is not None:
        if not 0.0 <= share <= 1.0:
            raise ValidationError("a share from 0 to 1", field="max_synthetic_share")
        options = replace(options, extra={**options.extra, "provenance": True})
    suffix = path.suffix.lower()
    report = TrainingReport()
    origins: Counter[str] = Counter()
    teachers: Counter[str] = Counter()
    synthetic_texts: list[str] = []

    def counted(examples: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        if share is not None:
            kept, report.capped = cap_synthetic(list(examples), share)
            examples = iter(kept)
        for ex in examples:
            if "origin" in ex:
                origins[ex["origin"]] += 1
                if ex.get("teacher"):
                    teachers[str(ex["teacher"])] += 1
                if ex["origin"] != "human" and (text := _answer_text(ex)) is not None:
                    synthetic_texts.append(text)
            yield ex

    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
        pid = int(project["id"])
        schema = ProjectSchema.from_dict(project["schema"])
        examples = counted(transforms[fmt](schema, iter_export_rows(conn, pid, lineage=True), options))
        with atomic_output(path) as tmp:
            if suffix in (".jsonl", ".parquet"):
                writer = open_writer(tmp, suffix[1:])
                n = 0
                try:
                    for ex in examples:
                        writer.write(ex)
                        n += 1
                finally:
                    writer.close()
            else:
                n = _save_hf_dataset(examples, tmp)
    if synthetic_texts:  # the diversity of the synthetic answers this file holds
        from assay.services.text_filters import distinct_n

        report.diversity = {"synthetic_answers": len(synthetic_texts),
                            **{f"distinct_{n}": distinct_n(synthetic_texts, n) for n in (1, 2, 3)}}  # fmt: skip
    with store.tx() as conn:
        audit(
            conn,
            actor,
            ev.EXPORTED,
            "project",
            pid,
            project_id=pid,
            after={"path": str(path), "format": fmt, "rows": n}
            | ({"origins": dict(origins), "capped_synthetic": report.capped} if origins else {})
            | ({"diversity": report.diversity} if report.diversity else {}),
        )
    report.rows, report.origins, report.teachers = n, dict(origins), dict(teachers)
    return report


def _save_hf_dataset(examples: Iterator[dict[str, Any]], path: Path) -> int:
    try:
        import datasets
    except ImportError:  # pragma: no cover - depends on the install
        raise ValidationError(
            "writing a datasets folder needs the 'datasets' package: pip install 'assay[hf]' "
            "(from the repository: pip install '.[hf]'); or give a path ending in .jsonl or .parquet",
            field="out",
        ) from None
    rows = list(examples)
    ds = datasets.Dataset.from_list(rows)
    ds.save_to_disk(str(path))
    return len(rows)
