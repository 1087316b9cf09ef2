"""Exports in the layouts that training stacks load (SFT, DPO, KTO, reward-model, process-reward …).

Each training format is a *transform*: a function from the project's export rows (the rows
of :func:`assay.services.exports.iter_export_rows`, with consensus and lineage) to training
examples. Transforms live in :mod:`assay.formats.training` modules and register there by name;
this module writes their examples as JSONL, Parquet, or a Hugging Face ``datasets`` folder
(``save_to_disk``) chosen by the output path's suffix.
"""

from __future__ import annotations

from collections.abc import Iterator
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

__all__ = ["TrainingOptions", "export_training", "training_formats", "unknown_format"]


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
    """Write a project's training examples in format ``fmt``; returns how many were written.

    ``path`` ending in ``.jsonl`` or ``.parquet`` gives that file; any other path is written
    as a Hugging Face ``datasets`` folder (``datasets.load_from_disk`` reads it). ``path``
    appears only when every example is written; a project the format does not fit, or any
    other error, leaves nothing behind.
    """
    transforms = load_transforms()
    if fmt not in transforms:
        raise unknown_format(fmt)
    options = options or TrainingOptions()
    suffix = path.suffix.lower()
    with store.read() as conn:
        project = load_project(conn, actor, project_ref, need="manager")
        pid = int(project["id"])
        schema = ProjectSchema.from_dict(project["schema"])
        examples = transforms[fmt](schema, iter_export_rows(conn, pid, lineage=True), options)
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
    with store.tx() as conn:
        audit(
            conn,
            actor,
            ev.EXPORTED,
            "project",
            pid,
            project_id=pid,
            after={"path": str(path), "format": fmt, "rows": n},
        )
    return n


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
