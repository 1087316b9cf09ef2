"""What every model connector shares: the :class:`Completion` it returns and the protocol it follows.

A connector turns a list of chat messages (``[{"role": "user", "content": "..."}]``) into a
:class:`Completion`: the text, the tokens it took, what it cost, whether it came from the
response cache, and how long it took. :class:`BaseConnector` gives the shared machinery —
a concurrency limit, ``complete_many`` over a thread pool, the response cache, and cost from
per-model prices — so a concrete connector only implements :meth:`BaseConnector._call`.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from assay.connectors.cache import ResponseCache

__all__ = [
    "BaseConnector",
    "Completion",
    "ConnectorError",
    "Message",
    "ModelConnector",
    "Price",
    "user_message",
]

Message = dict[str, Any]


class ConnectorError(Exception):
    """A model call failed for good (after the retries a connector allows)."""

    def __init__(self, message: str, *, status: int | None = None, attempts: int = 1) -> None:
        super().__init__(message)
        self.status = status
        self.attempts = attempts


@dataclass(frozen=True)
class Price:
    """Prices of one model in currency units per million tokens (prompt, completion)."""

    prompt_per_mtok: float = 0.0
    completion_per_mtok: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.prompt_per_mtok + completion_tokens * self.completion_per_mtok) / 1e6


@dataclass
class Completion:
    """One model answer with its accounting.

    ``cost`` is what this call was billed: 0 when the answer came from the cache
    (``cached=True``); the tokens are those of the answer either way.
    """

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    cached: bool = False
    latency_ms: float = 0.0
    raw: dict[str, Any] | None = None
    model: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class ModelConnector(Protocol):
    """Anything that answers chat messages: an HTTP model server, a Python function, a test double."""

    model: str
    params: dict[str, Any]

    def complete(self, messages: Sequence[Message], **params: Any) -> Completion: ...

    def complete_many(self, batch: Sequence[Sequence[Message]], **params: Any) -> list[Completion]: ...


def user_message(text: str, system: str | None = None) -> list[Message]:
    """``[{"role": "system", ...}?, {"role": "user", "content": text}]``."""
    msgs: list[Message] = []
    if system:
        msgs.append({"role": "system", "content": system})
    msgs.append({"role": "user", "content": text})
    return msgs


class BaseConnector(ABC):
    """Concurrency limit, cache and cost accounting around one model call (:meth:`_call`).

    Parameters
    ----------
    model : the model's name (sent to the server, and the key of the cache and of prices).
    params : default sampling parameters (temperature, max_tokens, seed …), merged under
        the parameters of each call.
    max_concurrency : at most this many calls in flight at once, across threads.
    cache : a :class:`~assay.connectors.cache.ResponseCache`; a cached answer makes no call.
    price : prices per million tokens, for the cost of each answer.
    """

    def __init__(
        self,
        model: str,
        *,
        params: dict[str, Any] | None = None,
        max_concurrency: int = 4,
        cache: ResponseCache | None = None,
        price: Price | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.model = model
        self.params: dict[str, Any] = dict(params or {})
        self.max_concurrency = max_concurrency
        self.cache = cache
        self.price = price or Price()
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._lock = threading.Lock()
        self.calls = 0  # calls that reached the model (not the cache), retries included
        self.total_cost = 0.0
        self.total_prompt_tokens = 0
        self.total_completion_tokens = 0

    # ------------------------------------------------------------------ to implement
    @abstractmethod
    def _call(self, messages: Sequence[Message], params: dict[str, Any]) -> Completion:
        """Make one call (retries included); fill ``text`` and token counts."""

    # ------------------------------------------------------------------ shared
    def describe(self) -> dict[str, Any]:
        """What identifies this connector in provenance (never a secret)."""
        return {"model": self.model, "params": dict(self.params), "connector": type(self).__name__}

    def close(self) -> None:  # noqa: B027 (most connectors hold nothing)
        """Let go of what the connector holds (connections); nothing by default."""

    def complete(self, messages: Sequence[Message], **params: Any) -> Completion:
        merged = {**self.params, **params}
        msgs = [dict(m) for m in messages]
        if self.cache is not None:
            hit = self.cache.get(self.model, merged, msgs)
            if hit is not None:
                return Completion(
                    text=str(hit.get("text", "")),
                    prompt_tokens=int(hit.get("prompt_tokens") or 0),
                    completion_tokens=int(hit.get("completion_tokens") or 0),
                    cost=0.0,
                    cached=True,
                    latency_ms=0.0,
                    raw=hit.get("raw"),
                    model=self.model,
                    params=merged,
                )
        start = time.perf_counter()
        with self._slots:
            out = self._call(msgs, merged)
        out.latency_ms = (time.perf_counter() - start) * 1000.0
        out.model = out.model or self.model
        out.params = merged
        if not out.cost:
            out.cost = self.price.cost(out.prompt_tokens, out.completion_tokens)
        with self._lock:
            self.total_cost += out.cost
            self.total_prompt_tokens += out.prompt_tokens
            self.total_completion_tokens += out.completion_tokens
        if self.cache is not None:
            self.cache.put(
                self.model,
                merged,
                msgs,
                {
                    "text": out.text,
                    "prompt_tokens": out.prompt_tokens,
                    "completion_tokens": out.completion_tokens,
                    "cost": out.cost,
                    "raw": out.raw,
                },
            )
        return out

    def complete_many(self, batch: Sequence[Sequence[Message]], **params: Any) -> list[Completion]:
        """Answer every message list of ``batch`` (in order), ``max_concurrency`` at a time.

        A call that fails for good raises its :class:`ConnectorError` here; use
        :meth:`complete_many_safe` to get the errors in place instead.
        """
        results = self.complete_many_safe(batch, **params)
        for r in results:
            if isinstance(r, Exception):
                raise r
        return [r for r in results if isinstance(r, Completion)]

    def complete_many_safe(
        self, batch: Sequence[Sequence[Message]], **params: Any
    ) -> list[Completion | ConnectorError]:
        """Like :meth:`complete_many`, with a :class:`ConnectorError` in place of each failed call."""

        def one(msgs: Sequence[Message]) -> Completion | ConnectorError:
            try:
                return self.complete(msgs, **params)
            except ConnectorError as e:
                return e

        if len(batch) <= 1:
            return [one(m) for m in batch]
        with ThreadPoolExecutor(max_workers=min(self.max_concurrency, len(batch))) as pool:
            return list(pool.map(one, batch))

    def _count_call(self) -> None:
        with self._lock:
            self.calls += 1
