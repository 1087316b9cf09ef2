from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from assay.cli.quality import app

runner = CliRunner()


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def _labels(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    rows: list[list[object]] = []
    truth = {f"t{i}": ("cat" if i % 2 else "dog") for i in range(40)}
    for t, y in truth.items():
        for w in range(5):
            good = rng.random() < (0.9 if w < 4 else 0.3)
            rows.append([f"w{w}", t, y if good else ("dog" if y == "cat" else "cat")])
    return _write(tmp_path / "labels.csv", ["worker", "task", "label"], rows)


def test_aggregate_all_methods(tmp_path: Path) -> None:
    labels = _labels(tmp_path)
    for method in ["mv", "ds", "onecoin", "glad", "mace", "auto"]:
        out = tmp_path / f"{method}.csv"
        r = runner.invoke(app, ["aggregate", "--input", str(labels), "--method", method, "--out", str(out)])
        assert r.exit_code == 0, r.output
        with open(out, newline="") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 40
        assert set(rows[0]) == {"task", "label", "confidence"}
        acc = np.mean([(r["label"] == "cat") == (int(r["task"][1:]) % 2 == 1) for r in rows])
        assert acc >= 0.8, method
        assert all(0.0 <= float(r["confidence"]) <= 1.0 for r in rows)


def test_aggregate_with_gold(tmp_path: Path) -> None:
    labels = _labels(tmp_path)
    gold = _write(tmp_path / "gold.csv", ["task", "label"], [["t0", "cat"], ["t1", "cat"]])
    out = tmp_path / "out.csv"
    r = runner.invoke(app, ["aggregate", "-i", str(labels), "--gold", str(gold), "-m", "ds", "-o", str(out)])
    assert r.exit_code == 0, r.output
    with open(out, newline="") as f:
        rows = {row["task"]: row for row in csv.DictReader(f)}
    assert rows["t0"]["label"] == "cat" and float(rows["t0"]["confidence"]) == 1.0


def test_aggregate_errors(tmp_path: Path) -> None:
    labels = _labels(tmp_path)
    r = runner.invoke(app, ["aggregate", "-i", str(labels), "-m", "nope", "-o", str(tmp_path / "o.csv")])
    assert r.exit_code == 2
    bad = _write(tmp_path / "bad.csv", ["who", "task", "label"], [["a", "b", "c"]])
    r = runner.invoke(app, ["aggregate", "-i", str(bad), "-o", str(tmp_path / "o.csv")])
    assert r.exit_code == 2
    r = runner.invoke(app, ["aggregate", "-i", str(tmp_path / "missing.csv"), "-o", str(tmp_path / "o.csv")])
    assert r.exit_code == 2


def test_agreement(tmp_path: Path) -> None:
    # Krippendorff (2011) example, nominal alpha 0.743, interval 0.849
    table = [
        [1, 1, None, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2], [1, 2, 3, 4],
        [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [None, 5, 5, 5], [None, None, 1, 1], [None, None, 3, None],
    ]  # fmt: skip
    rows = [[f"c{j}", f"u{i}", v] for i, row in enumerate(table) for j, v in enumerate(row) if v is not None]
    path = _write(tmp_path / "k.csv", ["worker", "task", "label"], rows)
    r = runner.invoke(app, ["agreement", "--input", str(path), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert abs(res["alpha"] - 0.743) < 5e-4
    assert abs(res["fleiss_kappa"] - 0.76117) < 1e-4
    assert res["items"] == 12 and res["workers"] == 4
    r = runner.invoke(app, ["agreement", "--input", str(path), "--level", "interval", "--json"])
    assert abs(json.loads(r.output)["alpha"] - 0.849) < 5e-4
    r = runner.invoke(app, ["agreement", "--input", str(path)])
    assert r.exit_code == 0 and "alpha" in r.output and "fleiss_kappa" in r.output


def test_workers(tmp_path: Path) -> None:
    labels = _labels(tmp_path)
    gold = _write(
        tmp_path / "gold.csv", ["task", "label"], [[f"t{i}", "cat" if i % 2 else "dog"] for i in range(20)]
    )
    r = runner.invoke(app, ["workers", "--input", str(labels), "--gold", str(gold), "--json"])
    assert r.exit_code == 0, r.output
    res = {w["worker"]: w for w in json.loads(r.output)}
    assert res["w0"]["labels"] == 40 and res["w0"]["gold_answers"] == 20
    assert res["w4"]["estimated_accuracy"] < 0.6 < res["w0"]["estimated_accuracy"]
    assert res["w4"]["gold_accuracy"] < res["w0"]["gold_accuracy"]
    lo, hi = res["w0"]["gold_accuracy_95"]
    assert lo < res["w0"]["gold_accuracy"] < hi
    r = runner.invoke(app, ["workers", "--input", str(labels)])
    assert r.exit_code == 0 and "w4" in r.output
