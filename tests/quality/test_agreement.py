from __future__ import annotations

import csv

import numpy as np
import pytest
from qhelpers import data_dir

from assay.quality import (
    cohen_kappa_table,
    fleiss_kappa,
    fleiss_kappa_counts,
    krippendorff_alpha,
    pairwise_cohen_kappa,
)

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", reliability data with
# missing values (4 observers, 12 units) — the same table as irrcac's raw_4raters.
KRIPP_2011 = [
    [1, 1, None, 1],
    [2, 2, 3, 2],
    [3, 3, 3, 3],
    [3, 3, 3, 3],
    [2, 2, 2, 2],
    [1, 2, 3, 4],
    [4, 4, 4, 4],
    [1, 1, 2, 1],
    [2, 2, 2, 2],
    [None, 5, 5, 5],
    [None, None, 1, 1],
    [None, None, 3, None],
]


def _long(table: list[list[float | None]]) -> tuple[list[int], list[int], list[float]]:
    u, r, v = [], [], []
    for i, row in enumerate(table):
        for j, x in enumerate(row):
            if x is not None:
                u.append(i)
                r.append(j)
                v.append(float(x))
    return u, r, v


@pytest.mark.parametrize(
    ("level", "published"),
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_published_example(level: str, published: float) -> None:
    u, _, v = _long(KRIPP_2011)
    assert krippendorff_alpha(u, v, level=level) == pytest.approx(published, abs=5e-4)  # type: ignore[arg-type]


def test_krippendorff_binary_two_coders() -> None:
    # Krippendorff's 2-coder binary example: alpha = 0.095
    a = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    b = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    assert krippendorff_alpha(list(range(10)) * 2, a + b) == pytest.approx(0.095, abs=5e-4)


def test_krippendorff_edge_cases() -> None:
    assert krippendorff_alpha([0, 0, 1, 1], [1, 1, 2, 2]) == 1.0
    assert np.isnan(krippendorff_alpha([0, 1], [1, 2]))  # nothing pairable
    assert np.isnan(krippendorff_alpha([0, 0, 1, 1], [3, 3, 3, 3]))  # no variation
    # missing values (nan) are ignored
    assert krippendorff_alpha([0, 0, 0, 1, 1], [1, 1, np.nan, 2, 2]) == 1.0


def _irrcac_raw(name: str) -> tuple[list[int], list[int], list[int]]:
    path = data_dir("agreement", "irrcac") / f"{name}.csv"
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    cols = [i for i, h in enumerate(header) if h not in ("Group", "Units")]
    cats = sorted({row[i] for row in body for i in cols if row[i] != ""})
    code = {c: k for k, c in enumerate(cats)}
    u, r, y = [], [], []
    for i, row in enumerate(body):
        for j, c in enumerate(cols):
            if row[c] != "":
                u.append(i)
                r.append(j)
                y.append(code[row[c]])
    return u, r, y


# Values of irrCAC 0.4.4 (Gwet's handbook tables) for Fleiss' kappa and Krippendorff's alpha.
@pytest.mark.parametrize(
    ("name", "fleiss", "alpha"),
    [
        ("raw_4raters", 0.76117, 0.74342),
        ("raw_5observers", 0.45762, 0.48053),
        ("raw_gender", 0.12889, 0.14341),
        ("raw_g1g2", 0.65725, 0.63181),
        ("raw_ben_gerry", 0.64935, 0.66489),
    ],
)
def test_irrcac_tables(name: str, fleiss: float, alpha: float) -> None:
    u, r, y = _irrcac_raw(name)
    assert fleiss_kappa(u, r, y) == pytest.approx(fleiss, abs=1e-5)
    assert krippendorff_alpha(u, y) == pytest.approx(alpha, abs=1e-5)


def test_fleiss_distribution_table() -> None:
    path = data_dir("agreement", "irrcac") / "distrib_6raters.csv"
    counts = np.loadtxt(path, delimiter=",", skiprows=1)[:, 1:]
    # irrCAC: fleiss.kappa.dist(distrib.6raters) = 0.4139 (pa 0.5444, pe 0.2230)
    assert fleiss_kappa_counts(counts) == pytest.approx(0.4139, abs=1e-4)


def test_cohen_tables() -> None:
    path = data_dir("agreement", "irrcac") / "table_cont3x3abstractors.csv"
    t = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(1, 2, 3))
    assert cohen_kappa_table(t) == pytest.approx(0.7964, abs=1e-4)
    # hand-worked: po = 0.7, pe = 0.5 -> 0.4
    assert cohen_kappa_table([[35, 15], [15, 35]]) == pytest.approx(0.4)


def test_pairwise_cohen_matches_table_for_two_raters() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 3, 200)
    b = np.where(rng.random(200) < 0.7, a, rng.integers(0, 3, 200))
    table = np.zeros((3, 3))
    np.add.at(table, (a, b), 1)
    mean, ks = pairwise_cohen_kappa(
        np.tile(np.arange(200), 2), np.repeat([0, 1], 200), np.concatenate([a, b])
    )
    assert ks.size == 1
    assert mean == pytest.approx(cohen_kappa_table(table))


def test_pairwise_cohen_light_kappa_three_raters() -> None:
    u, r, y = _long([[1, 1, 2], [2, 2, 2], [1, 2, 1], [2, 2, 2], [1, 1, 1]])
    yi = [int(v) - 1 for v in y]
    mean, ks = pairwise_cohen_kappa(u, r, yi)
    assert ks.size == 3
    assert mean == pytest.approx(float(np.mean(ks)))
