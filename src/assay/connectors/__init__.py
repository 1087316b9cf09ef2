"""Model connectors: OpenAI-compatible HTTP servers and Python callables, with a response cache.

>>> from assay.connectors import OpenAICompatible, ResponseCache, Price
>>> judge = OpenAICompatible("gpt-4o-mini", base_url="http://127.0.0.1:8000/v1",
...                          price=Price(0.15, 0.60), cache=ResponseCache("cache.sqlite"))  # doctest: +SKIP
>>> judge.complete([{"role": "user", "content": "Hi"}]).text  # doctest: +SKIP
"""

from assay.connectors.base import (
    BaseConnector,
    Completion,
    ConnectorError,
    Message,
    ModelConnector,
    Price,
    user_message,
)
from assay.connectors.cache import ResponseCache, cache_key, default_cache_path
from assay.connectors.callable import CallableConnector
from assay.connectors.openai_compat import OpenAICompatible, parse_retry_after

__all__ = [
    "BaseConnector",
    "CallableConnector",
    "Completion",
    "ConnectorError",
    "Message",
    "ModelConnector",
    "OpenAICompatible",
    "Price",
    "ResponseCache",
    "cache_key",
    "default_cache_path",
    "parse_retry_after",
    "user_message",
]
