"""The real OpenAI-compatible client against a deterministic server over HTTP: answers, tokens,
cost, retries, timeouts, concurrency, the API key, and the response cache."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from assay.connectors import (
    CallableConnector,
    ConnectorError,
    OpenAICompatible,
    Price,
    ResponseCache,
    parse_retry_after,
    user_message,
)
from tests.rlhf.fake_llm import FakeLLM

_OPEN: list[OpenAICompatible] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def _client(llm: FakeLLM, model: str = "model-strong", **kw: object) -> OpenAICompatible:
    kw.setdefault("backoff_base", 0.001)
    kw.setdefault("backoff_max", 0.05)
    c = OpenAICompatible(model, base_url=llm.base_url, api_key_env="ASSAY_TEST_LLM_KEY", **kw)  # type: ignore[arg-type]
    _OPEN.append(c)
    return c


def test_completion_tokens_and_cost(llm: FakeLLM) -> None:
    c = _client(llm, price=Price(prompt_per_mtok=2.0, completion_per_mtok=10.0))
    out = c.complete(user_message("What is 2+2?"), temperature=0.0)
    assert out.text == "model-strong answer (q=3) t=0.0: What is 2+2?"
    assert out.prompt_tokens == 3  # "What is 2+2?"
    assert out.completion_tokens == len(out.text.split())
    assert out.cost == pytest.approx((3 * 2.0 + out.completion_tokens * 10.0) / 1e6)
    assert not out.cached and out.latency_ms > 0
    assert out.params == {"temperature": 0.0}
    assert c.total_cost == pytest.approx(out.cost)
    assert llm.bodies[-1]["model"] == "model-strong" and llm.bodies[-1]["temperature"] == 0.0


def test_api_key_comes_from_the_environment_and_is_not_kept(
    llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSAY_TEST_LLM_KEY", "sk-secret-123")
    c = _client(llm)
    c.complete(user_message("hi"))
    assert llm.auth[-1] == "Bearer sk-secret-123"
    assert "sk-secret-123" not in repr(vars(c)) and "sk-secret-123" not in str(c.describe())
    monkeypatch.delenv("ASSAY_TEST_LLM_KEY")
    c.complete(user_message("hi again"))
    assert llm.auth[-1] is None


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_retries_on_rate_limits_and_server_errors(llm: FakeLLM, status: int) -> None:
    llm.faults.extend([status, status])
    waits: list[float] = []
    c = _client(llm, sleep=waits.append, rng=random.Random(1))
    out = c.complete(user_message("retry me"))
    assert out.text.endswith("retry me")
    assert llm.calls == 3 and c.retries == 2 and c.calls == 3
    if status == 429:
        assert waits == [0.0, 0.0]  # Retry-After: 0 honoured
    else:
        assert len(waits) == 2 and all(0 <= w <= 0.05 for w in waits)


def test_gives_up_after_max_retries_and_does_not_retry_client_errors(llm: FakeLLM) -> None:
    llm.faults.extend([500] * 10)
    c = _client(llm, max_retries=2, sleep=lambda s: None)
    with pytest.raises(ConnectorError, match="gave up after 3 attempts") as err:
        c.complete(user_message("x"))
    assert err.value.status == 500 and llm.calls == 3
    llm.faults.clear()
    llm.faults.append(400)
    with pytest.raises(ConnectorError, match="HTTP 400") as err:
        c.complete(user_message("y"))
    assert err.value.attempts == 1 and llm.calls == 4


def test_timeout_is_retried(llm: FakeLLM) -> None:
    llm.faults.append("slow")
    c = _client(llm, timeout=0.2, sleep=lambda s: None)
    out = c.complete(user_message("slow then fast"))
    assert out.text.endswith("slow then fast") and c.retries == 1


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    c = OpenAICompatible("m", base_url="http://127.0.0.1:9/v1", backoff_base=1.0, backoff_max=5.0)
    c._rng = random.Random(0)
    for attempt in range(6):
        w = c._backoff(attempt, None)
        assert 0 <= w <= min(5.0, 2**attempt)
    assert c._backoff(3, 2.5) == 2.5 and c._backoff(0, 100.0) == 5.0
    assert parse_retry_after("3") == 3.0 and parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past
    c.close()


def test_concurrency_limit(tmp_path: Path) -> None:
    llm = FakeLLM(delay=0.05).start()
    try:
        c = OpenAICompatible("m", base_url=llm.base_url, api_key_env=None, max_concurrency=3)
        _OPEN.append(c)
        outs = c.complete_many([user_message(f"p{i}") for i in range(12)])
        assert [o.text.rsplit(": ", 1)[1] for o in outs] == [f"p{i}" for i in range(12)]  # order kept
        assert 2 <= llm.in_flight_max <= 3
    finally:
        llm.stop()


def test_cache_second_run_makes_no_calls(llm: FakeLLM, tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    batch = [user_message(f"prompt {i}") for i in range(5)]
    with ResponseCache(path) as cache:
        c = _client(llm, cache=cache, price=Price(1.0, 1.0))
        first = c.complete_many(batch, temperature=0.7)
        assert llm.calls == 5 and all(not o.cached for o in first) and c.total_cost > 0
    with ResponseCache(path) as cache:  # a rerun, in a new process as far as the cache knows
        c2 = _client(llm, cache=cache, price=Price(1.0, 1.0))
        second = c2.complete_many(batch, temperature=0.7)
        assert llm.calls == 5 and c2.calls == 0 and c2.total_cost == 0
        assert [o.text for o in second] == [o.text for o in first]
        assert all(o.cached and o.cost == 0 for o in second)
        assert [o.completion_tokens for o in second] == [o.completion_tokens for o in first]
        # other parameters or another model are other keys
        c2.complete(batch[0], temperature=0.1)
        assert llm.calls == 6
        assert len(cache) == 6


def test_callable_connector(tmp_path: Path) -> None:
    seen: list[dict[str, object]] = []

    def echo(messages: list[dict[str, str]], **params: object) -> dict[str, object]:
        seen.append(params)
        return {"text": messages[-1]["content"].upper(), "prompt_tokens": 2, "completion_tokens": 1}

    with ResponseCache(tmp_path / "c.sqlite") as cache:
        c = CallableConnector(
            echo, model="echo", params={"temperature": 0}, cache=cache, price=Price(1e6, 1e6)
        )
        out = c.complete(user_message("abc"))
        assert out.text == "ABC" and out.cost == 3.0 and out.model == "echo"
        assert c.complete(user_message("abc")).cached and len(seen) == 1

    def boom(messages: list[dict[str, str]], **params: object) -> str:
        raise RuntimeError("nope")

    results = CallableConnector(boom).complete_many_safe([user_message("a"), user_message("b")])
    assert all(isinstance(r, ConnectorError) for r in results)


def test_a_refused_connection_fails_at_once() -> None:
    # (issue 24: no server on the port; before, it was retried for about 12 seconds)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    waits: list[float] = []
    c = OpenAICompatible(
        "m", base_url=f"http://127.0.0.1:{port}/v1", max_retries=5, sleep=waits.append, api_key_env="NONE"
    )
    with pytest.raises(ConnectorError, match="connection refused") as err:
        c.complete(user_message("x"))
    assert err.value.attempts == 1 and c.retries == 0 and waits == []
