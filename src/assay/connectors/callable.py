"""A plain Python function as a model connector (a heuristic, a local model, a test double).

The function receives the messages and the merged parameters and returns the answer's
text, or a dict ``{"text", "prompt_tokens"?, "completion_tokens"?, "cost"?}``, or a
:class:`~assay.connectors.base.Completion`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from assay.connectors.base import BaseConnector, Completion, ConnectorError, Message, Price

if TYPE_CHECKING:
    from assay.connectors.cache import ResponseCache

__all__ = ["CallableConnector"]


class CallableConnector(BaseConnector):
    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        model: str | None = None,
        params: dict[str, Any] | None = None,
        max_concurrency: int = 4,
        cache: ResponseCache | None = None,
        price: Price | None = None,
    ) -> None:
        super().__init__(
            model or str(getattr(fn, "__name__", "callable")),
            params=params,
            max_concurrency=max_concurrency,
            cache=cache,
            price=price,
        )
        self.fn = fn

    def _call(self, messages: Sequence[Message], params: dict[str, Any]) -> Completion:
        self._count_call()
        try:
            out = self.fn(list(messages), **params)
        except ConnectorError:
            raise
        except Exception as e:  # a failing function is a failed call, reported per item
            raise ConnectorError(f"{self.model}: {type(e).__name__}: {e}") from e
        if isinstance(out, Completion):
            return out
        if isinstance(out, dict):
            return Completion(
                text=str(out.get("text", "")),
                prompt_tokens=int(out.get("prompt_tokens") or 0),
                completion_tokens=int(out.get("completion_tokens") or 0),
                cost=float(out.get("cost") or 0.0),
                raw=out,
            )
        return Completion(text=str(out))
