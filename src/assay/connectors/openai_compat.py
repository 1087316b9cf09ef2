"""A client for OpenAI-compatible ``/v1/chat/completions`` servers.

Works with OpenAI, vLLM, llama.cpp's server, Ollama, LiteLLM and others, by base URL. The
API key is read from an environment variable (``api_key_env``, default ``OPENAI_API_KEY``)
at each call and is never stored: not on the object, not in the cache, not in provenance.

Retries: HTTP 429, 5xx, timeouts and connection errors are retried up to ``max_retries``
times with exponential backoff and full jitter (``uniform(0, min(backoff_max, backoff_base
* 2**attempt))``); a refused connection (no server listens there) fails at once; a ``Retry-After`` header (seconds or an HTTP date) is honoured instead,
capped at ``backoff_max``. Other 4xx errors fail at once. Tokens come from the answer's
``usage``; the cost is ``usage`` × the model's :class:`~assay.connectors.base.Price`.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import httpx

from assay.connectors.base import BaseConnector, Completion, ConnectorError, Message, Price

if TYPE_CHECKING:
    from assay.connectors.cache import ResponseCache

__all__ = ["OpenAICompatible", "parse_retry_after"]


def _refused(e: BaseException) -> bool:
    """Whether a transport error is a refused connection (no server on that port)."""
    seen: BaseException | None = e
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError) or "connection refused" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class OpenAICompatible(BaseConnector):
    """One model behind an OpenAI-compatible server.

    Parameters
    ----------
    model : the model name the server knows.
    base_url : e.g. ``http://127.0.0.1:8000/v1``; default: ``$<base_url_env>``, else OpenAI's.
    base_url_env : the environment variable holding the base URL (default ``OPENAI_BASE_URL``).
    api_key_env : the environment variable holding the key (default ``OPENAI_API_KEY``);
        no key is sent when it is unset (local servers need none).
    timeout : seconds for one request.
    max_retries : retries after the first attempt.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        base_url_env: str = "OPENAI_BASE_URL",
        api_key_env: str | None = "OPENAI_API_KEY",
        params: dict[str, Any] | None = None,
        max_concurrency: int = 4,
        max_retries: int = 5,
        timeout: float = 60.0,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        cache: ResponseCache | None = None,
        price: Price | None = None,
        transport: httpx.BaseTransport | None = None,
        rng: random.Random | None = None,
        sleep: Any = time.sleep,
    ) -> None:
        super().__init__(model, params=params, max_concurrency=max_concurrency, cache=cache, price=price)
        url = base_url or os.environ.get(base_url_env) or "https://api.openai.com/v1"
        self.base_url = url.rstrip("/")
        self.api_key_env = api_key_env
        self.max_retries = max_retries
        self.timeout = timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._rng = rng or random.Random()
        self._sleep = sleep
        limits = httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency)
        self._client = httpx.Client(timeout=timeout, limits=limits, transport=transport)
        self.retries = 0  # retries made (not counting first attempts)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "base_url": self.base_url}

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OpenAICompatible:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self.backoff_max, retry_after)
        return self._rng.uniform(0.0, min(self.backoff_max, self.backoff_base * (2**attempt)))

    def _call(self, messages: Sequence[Message], params: dict[str, Any]) -> Completion:
        body = {**params, "model": self.model, "messages": list(messages)}
        url = f"{self.base_url}/chat/completions"
        last = ""
        status: int | None = None
        for attempt in range(self.max_retries + 1):
            retry_after: float | None = None
            self._count_call()
            try:
                resp = self._client.post(url, json=body, headers=self._headers())
            except (httpx.TimeoutException, httpx.TransportError) as e:
                last, status = f"{type(e).__name__}: {e}", None
                if _refused(e):  # nothing listens there: say so at once, retries would not help
                    raise ConnectorError(
                        f"{self.model} at {self.base_url}: connection refused (is the model server running?)",
                        status=None,
                        attempts=attempt + 1,
                    ) from e
            else:
                status = resp.status_code
                if status == 200:
                    return self._parse(resp)
                last = f"HTTP {status}: {resp.text[:300]}"
                if status not in RETRY_STATUS:
                    raise ConnectorError(
                        f"{self.model} at {self.base_url}: {last}", status=status, attempts=attempt + 1
                    )
                retry_after = parse_retry_after(resp.headers.get("retry-after"))
            if attempt < self.max_retries:
                with self._lock:
                    self.retries += 1
                self._sleep(self._backoff(attempt, retry_after))
        raise ConnectorError(
            f"{self.model} at {self.base_url}: gave up after {self.max_retries + 1} attempts; last: {last}",
            status=status,
            attempts=self.max_retries + 1,
        )

    def _parse(self, resp: httpx.Response) -> Completion:
        try:
            data = resp.json()
            choice = data["choices"][0]
            message = choice.get("message") or {}
            text = message.get("content")
            if text is None:
                text = choice.get("text", "")
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise ConnectorError(f"{self.model}: not a chat-completions answer: {resp.text[:300]}") from e
        usage = data.get("usage") or {}
        return Completion(
            text=str(text or ""),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            raw=data,
            model=str(data.get("model") or self.model),
        )
