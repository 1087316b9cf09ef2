"""Agent-trace codecs: each turns one kind of trace file into trajectory values.

Every codec module has ``NAME``, ``detect(sample) -> bool`` (given the file's first trace or
line, parsed) and ``read(path) -> Iterator[TraceItem]``. :func:`read_traces` picks the codec
by name, or detects it (``.traj`` files are SWE-agent's). Formats:

``openai-chat`` · ``openai-responses`` · ``anthropic`` · ``langsmith`` · ``otel`` ·
``steps`` · ``swe-agent`` · ``tau-bench``
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from assay.domain.errors import ValidationError
from assay.formats.traces import (
    anthropic,
    langsmith,
    openai_chat,
    openai_responses,
    otel,
    steps_jsonl,
    swe_agent,
    tau_bench,
)
from assay.formats.traces._common import TraceItem, json_items

__all__ = ["TRACE_FORMATS", "TraceItem", "detect_trace_format", "read_traces", "trace_files"]

# Detection order matters: the most specific shapes first.
_CODECS: tuple[ModuleType, ...] = (
    tau_bench,
    swe_agent,
    otel,
    langsmith,
    openai_responses,
    anthropic,
    steps_jsonl,
    openai_chat,
)
TRACE_FORMATS: dict[str, ModuleType] = {m.NAME: m for m in _CODECS}
_SUFFIXES = (".json", ".jsonl", ".ndjson", ".traj")


def _sample(path: Path) -> Any:
    items = json_items(path)
    if not items:
        raise ValidationError("the file holds no trace", file=path.name)
    first = items[0][1]
    if isinstance(first, dict) and "role" in first and len(items) > 1:
        return [v for _, v in items]  # a file of messages / items / steps
    return first


def detect_trace_format(path: Path) -> str:
    """The name of the codec that reads ``path`` (by suffix, then by the shape of its content)."""
    if path.suffix.lower() in swe_agent.SUFFIXES:
        return swe_agent.NAME
    sample = _sample(path)
    candidates: list[Any] = [sample]
    if isinstance(sample, list) and sample and isinstance(sample[0], dict):
        candidates.append(sample[0])  # a JSON array of traces, or a file of steps
    for cand in candidates:
        for codec in _CODECS:
            detector: Callable[[Any], bool] = codec.detect
            if detector(cand):
                return str(codec.NAME)
    raise ValidationError(
        f"cannot tell which trace format {path.name!r} holds; pass --format ({', '.join(TRACE_FORMATS)})",
        file=path.name,
    )


def trace_files(path: Path) -> list[Path]:
    """``path`` itself, or the trace files of a folder (sorted)."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in _SUFFIXES)
    if not path.exists():
        raise ValidationError(f"no such file: {path}", field="file")
    return [path]


def read_traces(path: Path, fmt: str = "auto") -> Iterator[tuple[Path, str, TraceItem]]:
    """``(file, format, trace)`` for every trace of a file or of a folder's trace files."""
    if fmt != "auto" and fmt not in TRACE_FORMATS:
        raise ValidationError(
            f"unknown trace format {fmt!r}; known: auto, {', '.join(TRACE_FORMATS)}", field="format"
        )
    files = trace_files(path)
    if not files:
        raise ValidationError(f"no trace files ({', '.join(_SUFFIXES)}) in {path}", field="file")
    for f in files:
        name = detect_trace_format(f) if fmt == "auto" else fmt
        for item in TRACE_FORMATS[name].read(f):
            yield f, name, item
