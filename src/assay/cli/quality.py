"""`assay quality …`: aggregate crowd labels, measure agreement and score workers from CSV files.

Input CSVs have a header; labels.csv has columns ``worker,task,label`` and gold.csv ``task,label``.
Values are strings and are encoded to integers here; the algorithms live in :mod:`assay.quality`.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:  # NumPy and the algorithms load when a command runs, not for --help
    import numpy as np
    import numpy.typing as npt

__all__ = ["app"]

app = typer.Typer(no_args_is_help=True, help="Aggregate and measure crowd labels from CSV files.")

InputOpt = Annotated[Path, typer.Option("--input", "-i", help="labels CSV with columns worker,task,label.")]
GoldOpt = Annotated[Path | None, typer.Option("--gold", help="gold CSV with columns task,label.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@dataclass
class Encoded:
    task: npt.NDArray[np.int64]
    worker: npt.NDArray[np.int64]
    label: npt.NDArray[np.int64]
    tasks: list[str]
    workers: list[str]
    labels: list[str]
    raw_labels: list[str]


def _fail(msg: str) -> typer.Exit:
    typer.echo(f"error: {msg}", err=True)
    return typer.Exit(code=2)


def _read(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    if not path.exists():
        raise _fail(f"{path} does not exist")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise _fail(f"{path} lacks column(s) {', '.join(missing)}")
        rows = [r for r in reader if all(r.get(c) not in (None, "") for c in columns)]
    return rows


def _label_order(values: set[str]) -> list[str]:
    """Numeric labels sort numerically, others as strings."""
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


def _codes(values: list[str], order: list[str]) -> npt.NDArray[np.int64]:
    import numpy as np

    index = {v: i for i, v in enumerate(order)}
    return np.fromiter((index[v] for v in values), dtype=np.int64, count=len(values))


def _encode(rows: list[dict[str, str]], gold_rows: list[dict[str, str]] | None = None) -> Encoded:
    if not rows:
        raise _fail("no labels in the input")
    t = [r["task"] for r in rows]
    w = [r["worker"] for r in rows]
    y = [r["label"] for r in rows]
    tasks = sorted(set(t))
    workers = sorted(set(w))
    labels = _label_order(set(y) | {g["label"] for g in gold_rows or []})
    return Encoded(_codes(t, tasks), _codes(w, workers), _codes(y, labels), tasks, workers, labels, y)


def _gold(
    enc: Encoded, gold_rows: list[dict[str, str]]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    import numpy as np

    tindex = {s: i for i, s in enumerate(enc.tasks)}
    lindex = {s: i for i, s in enumerate(enc.labels)}
    pairs = [(tindex[g["task"]], lindex[g["label"]]) for g in gold_rows if g["task"] in tindex]
    arr = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return arr[:, 0], arr[:, 1]


@app.command()
def aggregate(
    input: InputOpt,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output CSV: task,label,confidence.")],
    method: Annotated[
        str, typer.Option("--method", "-m", help="mv | ds | onecoin | glad | mace | auto")
    ] = "auto",
    gold: GoldOpt = None,
) -> None:
    """Aggregate several labels per task into one label with a confidence."""
    from assay.quality import METHODS

    if method not in METHODS:
        raise _fail(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    rows = _read(input, ("worker", "task", "label"))
    gold_rows = _read(gold, ("task", "label")) if gold else None
    enc = _encode(rows, gold_rows)
    g = _gold(enc, gold_rows) if gold_rows else None
    model = METHODS[method]().fit(
        enc.task, enc.worker, enc.label, n_tasks=len(enc.tasks), n_labels=len(enc.labels), gold=g
    )
    conf = model.confidence_
    with open(out, "w", newline="", encoding="utf-8") as f:
        wr = csv.writer(f)
        wr.writerow(["task", "label", "confidence"])
        for i, name in enumerate(enc.tasks):
            lab = int(model.labels_[i])
            wr.writerow([name, enc.labels[lab] if lab >= 0 else "", f"{conf[i]:.6f}"])
    typer.echo(f"wrote {len(enc.tasks)} tasks to {out} ({method})")


@app.command()
def agreement(
    input: InputOpt,
    level: Annotated[str, typer.Option("--level", help="nominal | ordinal | interval")] = "nominal",
    json_out: JsonOpt = False,
) -> None:
    """Krippendorff's alpha, Fleiss' kappa and mean pairwise Cohen's kappa."""
    import numpy as np

    from assay.quality import fleiss_kappa, krippendorff_alpha, pairwise_cohen_kappa

    if level not in ("nominal", "ordinal", "interval"):
        raise _fail("--level must be nominal, ordinal or interval")
    rows = _read(input, ("worker", "task", "label"))
    enc = _encode(rows)
    if level == "nominal":
        values = enc.label.astype(np.float64)
    else:
        try:
            values = np.array([float(v) for v in enc.raw_labels])
        except ValueError:
            raise _fail(f"--level {level} needs numeric labels") from None
    result: dict[str, Any] = {
        "alpha": krippendorff_alpha(enc.task, values, level=level),  # type: ignore[arg-type]
        "level": level,
        "fleiss_kappa": fleiss_kappa(enc.task, enc.worker, enc.label),
        "cohen_kappa_mean": pairwise_cohen_kappa(enc.task, enc.worker, enc.label)[0],
        "items": len(enc.tasks),
        "workers": len(enc.workers),
        "labels": len(rows),
    }
    result = {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in result.items()}
    if json_out:
        typer.echo(json.dumps(result))
        return
    for k, v in result.items():
        typer.echo(f"{k:17} {v:.4f}" if isinstance(v, float) else f"{k:17} {v}")


@app.command()
def workers(input: InputOpt, gold: GoldOpt = None, json_out: JsonOpt = False) -> None:
    """Per worker: number of labels, accuracy estimated by Dawid-Skene, accuracy on gold."""
    import numpy as np

    from assay.quality import DawidSkene, consensus_agreement, gold_accuracy

    rows = _read(input, ("worker", "task", "label"))
    gold_rows = _read(gold, ("task", "label")) if gold else None
    enc = _encode(rows, gold_rows)
    nw = len(enc.workers)
    ds = DawidSkene().fit(enc.task, enc.worker, enc.label, n_workers=nw, n_labels=len(enc.labels))
    agree, _ = consensus_agreement(enc.task, enc.worker, enc.label, ds.labels_, n_workers=nw)
    n = np.bincount(enc.worker, minlength=nw)
    scores = None
    if gold_rows:
        gt, gl = _gold(enc, gold_rows)
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
