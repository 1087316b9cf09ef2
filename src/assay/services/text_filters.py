"""Filters and figures for generated text: exact and near-duplicates, contamination, diversity.

- **Exact duplicates**: the same text once case, punctuation and spacing are set aside.
- **Near-duplicates**: MinHash signatures of character 5-grams indexed by LSH
  (`datasketch <https://github.com/ekzhu/datasketch>`_); a candidate the index returns counts
  only when its estimated Jaccard similarity reaches the threshold, so the LSH's false positives
  are dropped. MinHash/LSH rather than embeddings: it needs no model, finds copies with small
  edits (the collapse a teacher shows), is deterministic for a seed, and indexes 100,000 items in
  seconds on one core.
- **Contamination**: the share of a text's word n-grams (8 by default) that occur in an
  evaluation set; any shared n-gram flags it (a text shorter than n words is one n-gram).
- **Diversity**: distinct-n (distinct n-grams over all n-grams of the accepted texts).
- **Language**: :func:`language_of` names a text's language (ISO 639-1) with
  `py3langid <https://github.com/adbar/py3langid>`_: the langid.py model (97 languages) ships
  inside the wheel, so it works offline; it is deterministic, needs only NumPy, and classifies a
  paragraph in well under a millisecond. (``langdetect`` is random unless seeded and unmaintained
  since 2021; ``fasttext-langdetect`` downloads its model on first use; ``lingua`` is more accurate
  on very short texts but its wheel is large.)
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = [
    "NearDuplicateIndex",
    "NgramIndex",
    "distinct_n",
    "language_codes",
    "language_of",
    "normalize",
    "words",
]

_WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    """The lower-cased words of a text (letters and digits; punctuation set aside)."""
    return _WORD.findall(text.lower())


def normalize(text: str) -> str:
    """The text as duplicate detection reads it: lower case, words separated by one space."""
    return " ".join(words(text))


def _shingles(norm: str, k: int) -> list[bytes]:
    data = norm.encode("utf-8")
    if len(data) <= k:
        return [data]
    return [data[i : i + k] for i in range(len(data) - k + 1)]


class NearDuplicateIndex:
    """Exact and near-duplicate detection over a growing set of texts.

    ``check(text)`` says whether a text duplicates one already added (``("exact", key)``,
    ``("near", key)`` or None); ``add(key, text)`` indexes it. ``threshold`` is the Jaccard
    similarity of character 5-gram sets from which two texts count as near-duplicates.
    """

    def __init__(self, threshold: float = 0.8, *, num_perm: int = 128, shingle: int = 5, seed: int = 1):
        from datasketch import MinHash, MinHashLSH

        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        self.threshold = threshold
        self.num_perm = num_perm
        self.shingle = shingle
        self.seed = seed
        self._minhash = MinHash
        # The index is tuned for recall (a lower threshold, false negatives weighed 4x); the estimated
        # similarity check below drops the extra candidates.
        self._lsh = MinHashLSH(
            threshold=min(max(threshold - 0.1, 0.05), 0.99), num_perm=num_perm, weights=(0.2, 0.8)
        )
        self._exact: dict[bytes, str] = {}
        self._sigs: dict[str, np.ndarray] = {}
        self._probe = MinHash(num_perm=num_perm, seed=seed)  # its permutations, made once

    def __len__(self) -> int:
        return len(self._exact)

    def _signature(self, norm: str) -> Any:
        m = self._minhash(
            num_perm=self.num_perm,
            seed=self.seed,
            hashfunc=zlib.crc32,  # 32 bits, in C: 3.5x faster than the default SHA-1 here
            permutations=self._probe.permutations,
            scheme=self._probe.scheme,
        )
        m.update_batch(_shingles(norm, self.shingle))
        return m

    def _lookup(self, text: str) -> tuple[bytes, Any, tuple[str, str] | None]:
        digest, sig, hit = self._nearest(text)
        return digest, sig, (hit[0], hit[1]) if hit else None

    def _nearest(self, text: str) -> tuple[bytes, Any, tuple[str, str, float] | None]:
        norm = normalize(text)
        digest = hashlib.blake2b(norm.encode("utf-8"), digest_size=16).digest()
        if digest in self._exact:
            return digest, None, ("exact", self._exact[digest], 1.0)
        if self.threshold >= 1.0:
            return digest, None, None
        sig = self._signature(norm)
        best: tuple[float, str] | None = None
        for key in self._lsh.query(sig):
            sim = float(np.mean(self._sigs[key] == sig.hashvalues))
            if sim >= self.threshold and (best is None or sim > best[0]):
                best = (sim, key)
        return digest, sig, (("near", best[1], round(best[0], 4)) if best else None)

    def nearest(self, text: str) -> tuple[str, str, float] | None:
        """Like ``check``, with the estimated Jaccard similarity of the match (1.0: exact)."""
        return self._nearest(text)[2]

    def _insert(self, key: str, digest: bytes, sig: Any) -> None:
        if key in self._sigs or digest in self._exact:
            self._exact.setdefault(digest, key)
            return
        self._exact[digest] = key
        if sig is not None:
            self._sigs[key] = sig.hashvalues
            self._lsh.insert(key, sig)

    def check(self, text: str) -> tuple[str, str] | None:
        return self._lookup(text)[2]

    def probe(self, text: str) -> tuple[bytes, Any, tuple[str, str] | None]:
        """``check`` keeping what it computed: ``probe[2]`` is the hit; :meth:`keep` indexes it."""
        return self._lookup(text)

    def keep(self, key: str, probe: tuple[bytes, Any, tuple[str, str] | None]) -> None:
        """Index a text :meth:`probe` looked at (no signature computed again)."""
        digest, sig, _ = probe
        if sig is None and self.threshold < 1.0:  # an exact duplicate was found: nothing to index
            self._exact.setdefault(digest, key)
            return
        self._insert(key, digest, sig)

    def add(self, key: str, text: str) -> None:
        norm = normalize(text)
        digest = hashlib.blake2b(norm.encode("utf-8"), digest_size=16).digest()
        self._insert(key, digest, self._signature(norm) if self.threshold < 1.0 else None)

    def check_add(self, key: str, text: str) -> tuple[str, str] | None:
        """``check`` then, when the text is new, ``add`` (one signature for both)."""
        digest, sig, hit = self._lookup(text)
        if hit is None:
            self._insert(key, digest, sig)
        return hit


def _grams(ws: list[str], n: int) -> list[str]:
    if len(ws) < n:
        return [" ".join(ws)] if ws else []
    return [" ".join(ws[i : i + n]) for i in range(len(ws) - n + 1)]


class NgramIndex:
    """The word n-grams of an evaluation set, to find texts that overlap it (contamination)."""

    def __init__(self, texts: Iterable[str] = (), n: int = 8) -> None:
        if n < 1:
            raise ValueError("n must be at least 1")
        self.n = n
        self._grams: set[int] = set()
        for t in texts:
            self.add(t)

    def __len__(self) -> int:
        return len(self._grams)

    @staticmethod
    def _h(gram: str) -> int:
        return int.from_bytes(hashlib.blake2b(gram.encode("utf-8"), digest_size=8).digest(), "little")

    def add(self, text: str) -> None:
        self._grams.update(self._h(g) for g in _grams(words(text), self.n))

    def overlap(self, text: str) -> float:
        """The share of the text's n-grams found in the set (0 for an empty text)."""
        grams = _grams(words(text), self.n)
        if not grams:
            return 0.0
        return sum(self._h(g) in self._grams for g in grams) / len(grams)


def distinct_n(texts: Iterable[str], n: int) -> float | None:
    """Distinct n-grams over all n-grams of the texts (1.0: no n-gram repeats); None without any."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for t in texts:
        ws = words(t)
        for i in range(len(ws) - n + 1):
            seen.add(tuple(ws[i : i + n]))
            total += 1
    return round(len(seen) / total, 4) if total else None


_LANGID: Any = None


def _identifier() -> Any:
    global _LANGID
    if _LANGID is None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        _LANGID = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _LANGID


def language_codes() -> set[str]:
    """The languages :func:`language_of` tells apart (ISO 639-1 codes)."""
    return {str(c) for c in _identifier().nb_classes}


def language_of(text: str) -> tuple[str, float]:
    """The language of a text (ISO 639-1 code) and the model's probability for it."""
    lang, prob = _identifier().classify(text)
    return str(lang), round(float(prob), 4)
