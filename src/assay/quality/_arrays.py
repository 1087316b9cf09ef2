"""Internal helpers: validation of integer-coded answer arrays and small numeric utilities.

Every algorithm in :mod:`assay.quality` takes answers as parallel 1-D integer arrays
``task``, ``worker`` and ``label`` of equal length ``n`` (one row per answer). Sizes
(``n_tasks``, ``n_workers``, ``n_labels``) may be given, otherwise they are ``max + 1``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from scipy import sparse

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

__all__ = [
    "BoolArray",
    "FloatArray",
    "IntArray",
    "Triplets",
    "as_float",
    "as_index",
    "check_triplets",
    "gold_arrays",
    "incidence",
    "normalize_rows",
    "softmax_rows",
]


def as_index(values: npt.ArrayLike, name: str) -> IntArray:
    """Return ``values`` as a 1-D int64 array of non-negative integers, or raise ``ValueError``."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.equal(np.mod(arr, 1), 0)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integer codes, got dtype {arr.dtype}")
    out = arr.astype(np.int64, copy=False)
    if out.size and int(out.min()) < 0:
        raise ValueError(f"{name} must be >= 0")
    return out


def as_float(values: npt.ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def _size(arr: IntArray, given: int | None, name: str) -> int:
    inferred = int(arr.max()) + 1 if arr.size else 0
    if given is None:
        return inferred
    if given < inferred:
        raise ValueError(f"{name}={given} but codes go up to {inferred - 1}")
    return int(given)


@dataclass(frozen=True)
class Triplets:
    """Validated ``(task, worker, label)`` answers with their sizes."""

    task: IntArray
    worker: IntArray
    label: IntArray
    n_tasks: int
    n_workers: int
    n_labels: int


def check_triplets(
    task: npt.ArrayLike,
    worker: npt.ArrayLike,
    label: npt.ArrayLike,
    n_tasks: int | None = None,
    n_workers: int | None = None,
    n_labels: int | None = None,
) -> Triplets:
    t = as_index(task, "task")
    w = as_index(worker, "worker")
    y = as_index(label, "label")
    if not (t.size == w.size == y.size):
        raise ValueError(f"task, worker and label differ in length: {t.size}, {w.size}, {y.size}")
    return Triplets(
        t,
        w,
        y,
        _size(t, n_tasks, "n_tasks"),
        _size(w, n_workers, "n_workers"),
        _size(y, n_labels, "n_labels"),
    )


def gold_arrays(
    gold: tuple[npt.ArrayLike, npt.ArrayLike] | None, n_tasks: int, n_labels: int
) -> tuple[IntArray, IntArray]:
    """Validate ``gold = (task_indices, label_indices)``; an empty pair when ``gold`` is None."""
    if gold is None:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    gt = as_index(gold[0], "gold tasks")
    gl = as_index(gold[1], "gold labels")
    if gt.size != gl.size:
        raise ValueError("gold tasks and gold labels differ in length")
    if gt.size and (int(gt.max()) >= n_tasks or int(gl.max()) >= n_labels):
        raise ValueError("gold refers to a task or label outside the data")
    return gt, gl


def incidence(rows: IntArray, cols: IntArray, n_rows: int, n_cols: int) -> sparse.csr_matrix:
    """0/1 (well, count) sparse matrix with a one at each ``(rows[i], cols[i])``."""
    from scipy import sparse  # loaded on first use: the label aggregators need no SciPy

    data = np.ones(rows.size, dtype=np.float64)
    return sparse.csr_matrix((data, (rows, cols)), shape=(n_rows, n_cols))


def normalize_rows(m: FloatArray) -> FloatArray:
    """Divide each row by its sum; all-zero rows become uniform."""
    s = m.sum(axis=-1, keepdims=True)
    k = m.shape[-1]
    out: FloatArray = np.divide(m, s, out=np.full_like(m, 1.0 / k), where=s > 0)
    return out


def softmax_rows(logp: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Row-wise softmax of log-scores; also returns each row's log-sum-exp."""
    mx = logp.max(axis=1, keepdims=True)
    e = np.exp(logp - mx)
    s = e.sum(axis=1, keepdims=True)
    lse: FloatArray = (np.log(s) + mx)[:, 0]
    out: FloatArray = e / s
    return out, lse
