"""`assay quality …`: aggregate crowd answers, measure agreement and score workers from files.

Inputs are CSV (with a header) or Parquet, read with Arrow (:mod:`assay.formats.columns`), all
or nothing: a missing column, an empty cell or a value of the wrong kind is an error naming its
line, and nothing is written. Columns by ``--kind``:

* ``labels``: ``worker,task,label`` (gold: ``task,label``) → ``task,label,confidence``;
* ``ratings``: ``worker,task,value`` (or ``label``, numeric) → ``task,value,confidence``;
* ``boxes``: ``worker,image,x,y,w,h`` [``,label``] (a row with empty ``x,y,w,h``: the worker
  answered and drew no box) → ``image,x,y,w,h,confidence`` [``,label``];
* ``spans``: ``worker,task,start,end,label`` (empty ``start,end``: answered, marked nothing) →
  ``task,start,end,label,confidence``.

The algorithms live in :mod:`assay.quality` and load when a command runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:  # NumPy and the algorithms load when a command runs, not for --help
    import numpy as np
    import numpy.typing as npt

    from assay.formats.columns import Codes

__all__ = ["app", "keep_pandas_out"]

app = typer.Typer(no_args_is_help=True, help="Aggregate and measure crowd answers from CSV or Parquet files.")

KINDS = ("labels", "ratings", "boxes", "spans")
METHODS_BY_KIND = {
    "labels": ("auto", "mv", "ds", "onecoin", "glad", "mace"),
    "ratings": ("mean", "median"),
    "boxes": ("skills", "plain"),
    "spans": ("vote",),
}

InputOpt = Annotated[
    Path, typer.Option("--input", "-i", help="answers (CSV or Parquet); columns depend on --kind.")
]
GoldOpt = Annotated[Path | None, typer.Option("--gold", help="gold CSV or Parquet with columns task,label.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
KindOpt = Annotated[str, typer.Option("--kind", "-k", help="labels | ratings | boxes | spans")]


@dataclass
class Encoded:
    task: npt.NDArray[np.int64]
    worker: npt.NDArray[np.int64]
    label: npt.NDArray[np.int64]
    tasks: list[str]
    workers: list[str]
    labels: list[str]


class _NoPandas:
    """An import hook that refuses pandas (see :func:`keep_pandas_out`)."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError("pandas is kept out of `assay quality` commands")


def keep_pandas_out() -> None:
    """Make pandas unimportable in this process: PyArrow then works without it.

    PyArrow imports pandas (a third of a second) the first time it turns an array into NumPy or
    writes a CSV file, to recognise DataFrames; `assay quality` never hands it one. Called by
    ``assay.cli.main.main`` for the `quality` commands of the ``assay`` process only (not when the
    Typer app runs inside another program, which may need pandas).
    """
    import sys

    if "pandas" not in sys.modules and not any(isinstance(f, _NoPandas) for f in sys.meta_path):
        sys.meta_path.insert(0, _NoPandas())


def _fail(msg: str) -> typer.Exit:
    typer.echo(f"error: {msg}", err=True)
    return typer.Exit(code=2)


def _load(path: Path, columns: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    from assay.formats.columns import ColumnError, read_columns

    try:
        return read_columns(path, columns, optional=optional)
    except ColumnError as err:
        raise _fail(str(err)) from None


def _all_numbers(values: list[str]) -> bool:
    try:
        for v in values:
            float(v)
    except ValueError:
        return False
    return True


def _numeric_first(values: list[str]) -> list[int]:
    """Positions of ``values`` in sorted order: numbers numerically (when all are), else as text."""
    try:
        keys = [float(v) for v in values]
        return sorted(range(len(values)), key=keys.__getitem__)
    except ValueError:
        return sorted(range(len(values)), key=values.__getitem__)


def _sorted(c: Codes) -> tuple[npt.NDArray[np.int64], list[str]]:
    """Codes and their values, sorted as text (the reader sorts them)."""
    return c.codes, c.values


def _encode(cols: dict[str, Any], task: str = "task", extra_labels: list[str] | None = None) -> Encoded:
    import numpy as np

    if len(cols[task].codes) == 0:
        raise _fail("no answers in the input")
    t, tasks = _sorted(cols[task])
    w, workers = _sorted(cols["worker"])
    lab: Codes = cols["label"]
    values = list(lab.values)
    for g in extra_labels or []:
        if g not in values:
            values.append(g)
    order = _numeric_first(values)
    rank = np.empty(len(order), dtype=np.int64)
    rank[np.asarray(order, dtype=np.int64)] = np.arange(len(order))
    return Encoded(t, w, rank[: len(lab.values)][lab.codes], tasks, workers, [values[i] for i in order])


def _gold(enc: Encoded, path: Path) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    import numpy as np

    g = _load(path, {"task": "code", "label": "code"})
    tindex = {s: i for i, s in enumerate(enc.tasks)}
    lindex = {s: i for i, s in enumerate(enc.labels)}
    gt = [g["task"].values[c] for c in g["task"].codes.tolist()]
    gl = [g["label"].values[c] for c in g["label"].codes.tolist()]
    pairs = [(tindex[t], lindex[lab]) for t, lab in zip(gt, gl, strict=True) if t in tindex and lab in lindex]
    arr = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


def _gold_labels(path: Path) -> list[str]:
    g = _load(path, {"task": "code", "label": "code"})
    return list(g["label"].values)


@app.command()
def aggregate(
    input: InputOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output CSV (columns by --kind).")],
    kind: KindOpt = "labels",
    method: Annotated[
        str | None,
        typer.Option(
            "--method",
            "-m",
            help="labels: auto | mv | ds | onecoin | glad | mace; ratings: mean | median; boxes: skills | plain.",
        ),
    ] = None,
    gold: GoldOpt = None,
    iou: Annotated[float, typer.Option("--iou", help="boxes: IoU at which two boxes match.")] = 0.5,
    support: Annotated[
        float, typer.Option("--support", help="boxes, spans: share of the workers an answer needs.")
    ] = 0.5,
) -> None:
    """Aggregate several answers per task into one with a confidence in [0, 1]."""
    if kind not in KINDS:
        raise _fail(f"unknown --kind {kind!r}; choose one of {', '.join(KINDS)}")
    method = method or METHODS_BY_KIND[kind][0]
    if method not in METHODS_BY_KIND[kind]:
        raise _fail(
            f"unknown method {method!r} for --kind {kind}; choose one of {', '.join(METHODS_BY_KIND[kind])}"
        )
    if gold is not None and kind != "labels":
        raise _fail("--gold applies to --kind labels")
    n = {
        "labels": _aggregate_labels,
        "ratings": _aggregate_ratings,
        "boxes": _aggregate_boxes,
        "spans": _aggregate_spans,
    }[kind](input, out, method, gold, iou, support)
    typer.echo(f"wrote {n} rows to {out} ({kind}, {method})")


def _aggregate_labels(
    input: Path, out: Path, method: str, gold: Path | None, iou: float, support: float
) -> int:
    import threading

    # The aggregator's modules (SciPy's sparse matrices) import while Arrow reads the file: the
    # reader works in C++ without Python's lock, so the two overlap.
    loaded: dict[str, Any] = {}

    def load() -> None:
        from assay.quality.aggregation.methods import method_class

        loaded["cls"] = method_class(method)

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    import numpy as np
    import pyarrow as pa

    from assay.formats.columns import write_csv

    cols = _load(input, {"worker": "code", "task": "code", "label": "code"})
    enc = _encode(cols, extra_labels=_gold_labels(gold) if gold else None)
    if len(enc.labels) > 10 and _all_numbers(enc.labels):
        typer.echo(
            f"note: the {len(enc.labels)} labels are all numbers; if they are ratings, "
            "--kind ratings averages them instead of voting on each value as a class",
            err=True,
        )
    g = _gold(enc, gold) if gold else None
    loader.join()
    model = loaded["cls"]().fit(
        enc.task, enc.worker, enc.label, n_tasks=len(enc.tasks), n_labels=len(enc.labels), gold=g
    )
    labels = pa.DictionaryArray.from_arrays(
        pa.array(np.where(model.labels_ >= 0, model.labels_, len(enc.labels)).astype(np.int32)),
        pa.array([*enc.labels, ""]),
    )
    write_csv(out, {"task": enc.tasks, "label": labels, "confidence": np.round(model.confidence_, 6)})
    return len(enc.tasks)


def _aggregate_ratings(
    input: Path, out: Path, method: str, gold: Path | None, iou: float, support: float
) -> int:
    import numpy as np

    from assay.formats.columns import write_csv
    from assay.quality.aggregation.ratings import BiasCorrectedMean, MedianRating

    cols = _load(
        input,
        {"worker": "code", "task": "code", "value": "float", "label": "float"},
        optional=("value", "label"),
    )
    value = cols.get("value", cols.get("label"))
    if value is None:
        raise _fail(f"{input.name} lacks a column value (or label) with the ratings")
    t, tasks = _sorted(cols["task"])
    w, _ = _sorted(cols["worker"])
    if method == "median":
        m: Any = MedianRating().fit(t, value, n_tasks=len(tasks))
    else:
        m = BiasCorrectedMean().fit(t, w, value, n_tasks=len(tasks))
    write_csv(out, {"task": tasks, "value": np.round(m.values_, 6), "confidence": np.round(m.confidence_, 6)})
    return len(tasks)


def _answered_rows(cols: dict[str, Any], coords: tuple[str, ...], input: Path) -> npt.NDArray[np.bool_]:
    """Which rows hold a shape: all coordinates given; a row with none is an answer with no shape."""
    import numpy as np

    given = np.stack([~np.isnan(cols[c]) for c in coords])
    partial = given.any(axis=0) & ~given.all(axis=0)
    if partial.any():
        row = int(np.argmax(partial))
        where = f"line {row + 2}" if input.suffix.lower() not in (".parquet", ".pq") else f"row {row + 1}"
        raise _fail(
            f"{input.name}, {where}: give all of {', '.join(coords)} or none (an answer with nothing marked)"
        )
    has: npt.NDArray[np.bool_] = np.asarray(given.all(axis=0), dtype=bool)
    return has


def _bad_row(input: Path, mask: npt.NDArray[np.bool_], what: str) -> None:
    import numpy as np

    if mask.any():
        row = int(np.argmax(mask))
        where = f"line {row + 2}" if input.suffix.lower() not in (".parquet", ".pq") else f"row {row + 1}"
        raise _fail(f"{input.name}, {where}: {what}")


def _aggregate_boxes(
    input: Path, out: Path, method: str, gold: Path | None, iou: float, support: float
) -> int:
    import numpy as np

    from assay.formats.columns import write_csv
    from assay.quality.aggregation.geometry import fuse_boxes, fuse_boxes_with_skills

    coords = ("x", "y", "w", "h")
    cols = _load(
        input,
        {"worker": "code", "image": "code", "label": "code", **dict.fromkeys(coords, "float?")},
        optional=("label",),
    )
    has = _answered_rows(cols, coords, input)
    _bad_row(input, has & ((cols["w"] <= 0) | (cols["h"] <= 0)), "w and h must be greater than 0")
    img, images = _sorted(cols["image"])
    w, _ = _sorted(cols["worker"])
    if "label" in cols:
        lab, labels = _sorted(cols["label"])
    else:
        lab, labels = np.zeros(img.size, dtype=np.int64), [""]
    k = len(labels)
    # one task per (image, label); every worker who answered the image answered each label
    n_w = int(w.max()) + 1 if w.size else 1
    answered_pairs = np.unique(img * n_w + w)
    a_img, a_w = answered_pairs // n_w, answered_pairs % n_w
    a_task = (a_img[:, None] * k + np.arange(k)[None, :]).ravel()
    a_worker = np.repeat(a_w, k)
    task = img[has] * k + lab[has]
    xywh = np.stack([cols[c][has] for c in coords], axis=1)
    boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    if method == "plain":
        n_ann = np.bincount(a_task, minlength=len(images) * k)
        fused = fuse_boxes(task, w[has], boxes, threshold=iou, min_support=support, annotators=n_ann)
    else:
        fused, _ = fuse_boxes_with_skills(
            task, w[has], boxes, threshold=iou, min_support=support, answered=(a_task, a_worker)
        )
    g = fused.geometry
    columns: dict[str, Any] = {
        "image": [images[i] for i in (fused.task // k).tolist()],
        "x": np.round(g[:, 0], 3),
        "y": np.round(g[:, 1], 3),
        "w": np.round(g[:, 2] - g[:, 0], 3),
        "h": np.round(g[:, 3] - g[:, 1], 3),
        "confidence": np.round(fused.confidence, 6),
    }
    if "label" in cols:
        columns["label"] = [labels[i] for i in (fused.task % k).tolist()]
    write_csv(out, columns)
    return int(fused.task.size)


def _aggregate_spans(
    input: Path, out: Path, method: str, gold: Path | None, iou: float, support: float
) -> int:
    import numpy as np

    from assay.formats.columns import write_csv
    from assay.quality.aggregation.spans import aggregate_spans

    cols = _load(
        input, {"worker": "code", "task": "code", "start": "float?", "end": "float?", "label": "code"}
    )
    has = _answered_rows(cols, ("start", "end"), input)
    start, end = cols["start"], cols["end"]
    _bad_row(
        input, has & ((start != np.floor(start)) | (end != np.floor(end))), "start and end must be integers"
    )
    _bad_row(input, has & (start < 0), "start must be at least 0")
    _bad_row(input, has & (end <= start), "end must be greater than start")
    t, tasks = _sorted(cols["task"])
    w, _ = _sorted(cols["worker"])
    lab, labels = _sorted(cols["label"])
    n_w = int(w.max()) + 1 if w.size else 1
    n_ann = np.bincount(np.unique(t * n_w + w) // n_w, minlength=len(tasks))
    res = aggregate_spans(
        t[has],
        w[has],
        start[has].astype(np.int64),
        end[has].astype(np.int64),
        lab[has],
        annotators=n_ann,
        threshold=support,
    )
    write_csv(
        out,
        {
            "task": [tasks[i] for i in res.task.tolist()],
            "start": res.start,
            "end": res.end,
            "label": [labels[i] for i in res.label.tolist()],
            "confidence": np.round(res.confidence, 6),
        },
    )
    return int(res.task.size)


@app.command()
def agreement(
    input: InputOpt,
    kind: KindOpt = "labels",
    level: Annotated[
        str, typer.Option("--level", help="labels: nominal | ordinal | interval (ratings: interval)")
    ] = "nominal",
    json_out: JsonOpt = False,
) -> None:
    """Krippendorff's alpha with the distance of --kind (labels: also Fleiss' and Cohen's kappa)."""
    import numpy as np

    if kind not in KINDS:
        raise _fail(f"unknown --kind {kind!r}; choose one of {', '.join(KINDS)}")
    if level not in ("nominal", "ordinal", "interval"):
        raise _fail("--level must be nominal, ordinal or interval")
    if kind in ("labels", "ratings"):
        result = _agreement_labels(
            input, "interval" if kind == "ratings" and level == "nominal" else level, kind
        )
    else:
        result = _agreement_shapes(input, kind)
    result = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in result.items()}
    if json_out:
        typer.echo(json.dumps(result))
        return
    for k, v in result.items():
        typer.echo(f"{k:17} {v:.4f}" if isinstance(v, float) else f"{k:17} {v}")


def _agreement_labels(input: Path, level: str, kind: str) -> dict[str, Any]:
    import numpy as np

    from assay.quality import fleiss_kappa, krippendorff_alpha, pairwise_cohen_kappa

    cols = _load(
        input,
        {"worker": "code", "task": "code", "label": "code", "value": "code"},
        optional=("label", "value"),
    )
    if "label" not in cols:
        if "value" not in cols:
            raise _fail(f"{input.name} lacks a column label (or value)")
        cols["label"] = cols["value"]
    enc = _encode(cols)
    if level == "nominal":
        values = enc.label.astype(np.float64)
    else:
        try:
            numbers = np.array([float(v) for v in enc.labels])
        except ValueError:
            raise _fail(f"--level {level} needs numeric labels") from None
        values = numbers[enc.label]
    result: dict[str, Any] = {
        "alpha": krippendorff_alpha(enc.task, values, level=level),  # type: ignore[arg-type]
        "level": level,
        "kind": kind,
    }
    if kind == "labels":
        result["fleiss_kappa"] = fleiss_kappa(enc.task, enc.worker, enc.label)
        result["cohen_kappa_mean"] = pairwise_cohen_kappa(enc.task, enc.worker, enc.label)[0]
    return result | {"items": len(enc.tasks), "workers": len(enc.workers), "labels": int(enc.task.size)}


def _agreement_shapes(input: Path, kind: str) -> dict[str, Any]:
    """Alpha over each worker's whole answer per item, with the IoU or span-overlap distance."""
    import numpy as np

    from assay.quality import distance_alpha
    from assay.services.agreement import iou as iou_distance
    from assay.services.agreement import span_overlap

    if kind == "boxes":
        coords: tuple[str, ...] = ("x", "y", "w", "h")
        cols = _load(
            input,
            {"worker": "code", "image": "code", "label": "code", **dict.fromkeys(coords, "float?")},
            optional=("label",),
        )
        item = "image"
    else:
        coords = ("start", "end")
        cols = _load(
            input, {"worker": "code", "task": "code", "start": "float?", "end": "float?", "label": "code"}
        )
        item = "task"
    has = _answered_rows(cols, coords, input)
    t, items = _sorted(cols[item])
    w, workers = _sorted(cols["worker"])
    labels = (
        [cols["label"].values[c] for c in cols["label"].codes.tolist()] if "label" in cols else [""] * t.size
    )
    answers: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for i in range(t.size):
        shapes = answers.setdefault((int(t[i]), int(w[i])), [])
        if has[i]:
            if kind == "boxes":
                shapes.append(
                    {
                        "x": cols["x"][i],
                        "y": cols["y"][i],
                        "w": cols["w"][i],
                        "h": cols["h"][i],
                        "label": labels[i],
                    }
                )
            else:
                shapes.append(
                    {"start": int(cols["start"][i]), "end": int(cols["end"][i]), "label": labels[i]}
                )
    keys = list(answers)
    values = [answers[k] for k in keys]
    distance = iou_distance if kind == "boxes" else span_overlap
    alpha = distance_alpha(
        np.array([k[0] for k in keys]), lambda i, j: distance(values[i], values[j]), max_pairs=20_000
    )
    return {
        "alpha": alpha,
        "distance": "1 - matched IoU" if kind == "boxes" else "1 - character F1",
        "kind": kind,
        "items": len(items),
        "workers": len(workers),
        "answers": len(keys),
    }


@app.command()
def workers(input: InputOpt, gold: GoldOpt = None, json_out: JsonOpt = False) -> None:
    """Per worker: number of labels, accuracy estimated by Dawid-Skene, accuracy on gold."""
    import numpy as np

    from assay.quality import DawidSkene, consensus_agreement, gold_accuracy

    cols = _load(input, {"worker": "code", "task": "code", "label": "code"})
    enc = _encode(cols, extra_labels=_gold_labels(gold) if gold else None)
    nw = len(enc.workers)
    ds = DawidSkene().fit(enc.task, enc.worker, enc.label, n_workers=nw, n_labels=len(enc.labels))
    agree, _ = consensus_agreement(enc.task, enc.worker, enc.label, ds.labels_, n_workers=nw)
    n = np.bincount(enc.worker, minlength=nw)
    scores = None
    if gold:
        gt, gl = _gold(enc, gold)
        truth = np.full(len(enc.tasks), -1)
        truth[gt] = gl
        has = truth[enc.task] >= 0
        scores = gold_accuracy(enc.worker[has], enc.label[has] == truth[enc.task[has]], n_workers=nw)
    out: list[dict[str, Any]] = []
    for i, name in enumerate(enc.workers):
        rec: dict[str, Any] = {
            "worker": name,
            "labels": int(n[i]),
            "estimated_accuracy": round(float(ds.skills_[i]), 4),
            "agreement_with_consensus": round(float(agree[i]), 4),
        }
        if scores is not None:
            rec["gold_answers"] = int(scores.n[i])
            rec["gold_accuracy"] = round(float(scores.mean[i]), 4) if scores.n[i] else None
            rec["gold_accuracy_95"] = (
                [round(float(scores.low[i]), 4), round(float(scores.high[i]), 4)] if scores.n[i] else None
            )
        out.append(rec)
    if json_out:
        typer.echo(json.dumps(out))
        return
    head = f"{'worker':20} {'labels':>7} {'est.acc':>8} {'consensus':>9}"
    typer.echo(head + (f" {'gold n':>6} {'gold acc':>8} {'95% interval':>15}" if scores else ""))
    for r in out:
        line = f"{r['worker'][:20]:20} {r['labels']:7d} {r['estimated_accuracy']:8.3f} {r['agreement_with_consensus']:9.3f}"
        if scores is not None:
            ga = r["gold_accuracy"]
            ci = r["gold_accuracy_95"]
            line += f" {r['gold_answers']:6d} " + (
                f"{ga:8.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if ga is not None else f"{'-':>8}"
            )
        typer.echo(line)
