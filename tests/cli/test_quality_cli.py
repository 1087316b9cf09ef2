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


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


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


def test_ratings_are_averaged_not_voted(tmp_path: Path) -> None:
    rows = [
        ["w0", "t0", 10],
        ["w1", "t0", 20],
        ["w2", "t0", 90],
        ["w0", "t1", 50],
        ["w1", "t1", 60],
        ["w2", "t1", 55],
    ]
    path = _write(tmp_path / "r.csv", ["worker", "task", "value"], rows)
    for method, t0 in (("median", 20.0), ("mean", None)):
        out = tmp_path / f"{method}.csv"
        r = runner.invoke(
            app, ["aggregate", "-i", str(path), "--kind", "ratings", "-m", method, "-o", str(out)]
        )
        assert r.exit_code == 0, r.output
        got = {row["task"]: row for row in _rows(out)}
        assert set(got["t0"]) == {"task", "value", "confidence"}
        if t0 is not None:
            assert float(got["t0"]["value"]) == t0
        assert 10 < float(got["t0"]["value"]) < 90 and 50 <= float(got["t1"]["value"]) <= 60


def test_boxes_are_fused_per_image(tmp_path: Path) -> None:
    rows = [
        ["w0", "img1", 10, 20, 30, 40],
        ["w1", "img1", 11, 20, 30, 41],
        ["w2", "img1", 10, 21, 29, 40],
        ["w2", "img1", 300, 300, 10, 10],  # one worker's stray box
        ["w0", "img2", "", "", "", ""],  # answered, no box
        ["w1", "img2", 5, 5, 5, 5],
    ]
    path = _write(tmp_path / "b.csv", ["worker", "image", "x", "y", "w", "h"], rows)
    out = tmp_path / "fused.csv"
    r = runner.invoke(app, ["aggregate", "-i", str(path), "--kind", "boxes", "-o", str(out)])
    assert r.exit_code == 0, r.output
    got = _rows(out)
    [box] = [g for g in got if g["image"] == "img1"]  # the stray box is dropped
    assert set(box) == {"image", "x", "y", "w", "h", "confidence"}
    assert abs(float(box["x"]) - 10) <= 1 and abs(float(box["w"]) - 30) <= 1
    assert 0.8 < float(box["confidence"]) <= 1
    [half] = [g for g in got if g["image"] == "img2"]  # one of two workers: kept (at least half), less sure
    assert float(half["confidence"]) < float(box["confidence"])


def test_spans_are_voted_per_character(tmp_path: Path) -> None:
    rows = [
        ["w0", "s1", 0, 5, "PER"],
        ["w1", "s1", 0, 4, "PER"],
        ["w2", "s1", 10, 12, "PER"],
        ["w2", "s2", "", "", "PER"],
    ]
    path = _write(tmp_path / "s.csv", ["worker", "task", "start", "end", "label"], rows)
    out = tmp_path / "spans.csv"
    r = runner.invoke(app, ["aggregate", "-i", str(path), "--kind", "spans", "-o", str(out)])
    assert r.exit_code == 0, r.output
    got = _rows(out)
    assert [(g["task"], g["start"], g["end"], g["label"]) for g in got] == [("s1", "0", "4", "PER")]


def test_a_bad_row_is_an_error_naming_its_line_and_nothing_is_written(tmp_path: Path) -> None:
    cases = [
        ("labels", ["worker", "task", "label"], [["w0", "t0", "a"], ["w1", "", "b"]], "line 3", "'task' is empty"),
        ("ratings", ["worker", "task", "value"], [["w0", "t0", 1], ["w1", "t0", "high"]], "line 3", "must be a number"),
        ("boxes", ["worker", "image", "x", "y", "w", "h"], [["w0", "i", 1, 1, 1, 1], ["w1", "i", 1, "", 1, 1]], "line 3", "or none"),
        ("boxes", ["worker", "image", "x", "y", "w", "h"], [["w0", "i", 1, 1, 1, 1], ["w1", "i", 1, 1, 0, 1]], "line 3", "greater than 0"),
        ("spans", ["worker", "task", "start", "end", "label"], [["w0", "t", 0, 1, "A"], ["w1", "t", 5, 2, "A"]], "line 3", "greater than start"),
        ("spans", ["worker", "task", "start", "end", "label"], [["w0", "t", 0, 1, "A"], ["w1", "t", 0, 1.5, "A"]], "line 3", "integers"),
    ]  # fmt: skip
    for kind, header, rows, line, what in cases:
        path = _write(tmp_path / f"{kind}.csv", header, rows)
        out = tmp_path / "never.csv"
        r = runner.invoke(app, ["aggregate", "-i", str(path), "--kind", kind, "-o", str(out)])
        assert r.exit_code == 2, (kind, r.output)
        assert line in r.output and what in r.output, (kind, r.output)
        assert not out.exists()


def test_parquet_input_and_the_agreement_of_boxes_and_spans(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    labels = _labels(tmp_path)
    rows = _rows(labels)
    pq.write_table(
        pa.table({k: [r[k] for r in rows] for k in ("worker", "task", "label")}), tmp_path / "l.parquet"
    )
    out = tmp_path / "pq.csv"
    r = runner.invoke(app, ["aggregate", "-i", str(tmp_path / "l.parquet"), "-m", "ds", "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert len(_rows(out)) == 40
    same = [[f"w{k}", f"i{i}", 10 + i, 10, 20, 20] for i in range(6) for k in range(3)]
    path = _write(tmp_path / "b.csv", ["worker", "image", "x", "y", "w", "h"], same)
    r = runner.invoke(app, ["agreement", "-i", str(path), "--kind", "boxes", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["alpha"] == 1.0
    spans = [[f"w{k}", f"s{i}", i, i + 3 + (k == 2) * i, "A"] for i in range(6) for k in range(3)]
    path = _write(tmp_path / "s.csv", ["worker", "task", "start", "end", "label"], spans)
    r = runner.invoke(app, ["agreement", "-i", str(path), "--kind", "spans", "--json"])
    res = json.loads(r.output)
    assert r.exit_code == 0 and 0 < res["alpha"] < 1 and res["items"] == 6


def test_the_assay_process_aggregates_without_loading_pandas(tmp_path: Path) -> None:
    import subprocess
    import sys

    labels = _labels(tmp_path)
    out = tmp_path / "o.csv"
    code = (
        "import sys\n"
        "from assay.cli.main import main\n"
        f"sys.argv = ['assay', 'quality', 'aggregate', '-i', {str(labels)!r}, '-m', 'ds', '-o', {str(out)!r}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "print('pandas' in sys.modules, 'scipy.stats' in sys.modules)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.split()[-2:] == ["False", "False"], r.stdout + r.stderr
    assert len(_rows(out)) == 40


def test_numeric_labels_get_a_note_about_ratings(tmp_path: Path) -> None:
    rows = [[f"w{w}", f"t{t}", (t * 7 + w) % 60] for t in range(20) for w in range(3)]
    path = _write(tmp_path / "nums.csv", ["worker", "task", "label"], rows)
    r = runner.invoke(app, ["aggregate", "-i", str(path), "-m", "mv", "-o", str(tmp_path / "o.csv")])
    assert r.exit_code == 0 and "--kind ratings" in r.output
