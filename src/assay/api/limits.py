"""Request limits: the largest body a request may carry, and failed-login throttling."""

from __future__ import annotations

import threading
import time
from collections import deque

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assay.api.errors import BodyTooLarge, RateLimited, assay_problem

__all__ = ["BodySizeLimit", "LoginLimiter", "declared_length", "limited", "too_large"]


class BodySizeLimit:
    """Refuse bodies over ``max_bytes`` with 413: at once by Content-Length, else while reading."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if declared_length(scope) > self.max_bytes:
            await assay_problem(too_large(self.max_bytes))(scope, receive, send)
            return
        await self.app(scope, limited(receive, self.max_bytes), send)


def declared_length(scope: Scope) -> int:
    """The request's Content-Length (0 when absent or not a number)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


def limited(receive: Receive, max_bytes: int) -> Receive:
    """``receive`` that raises 413 (BodyTooLarge) once the body passes ``max_bytes``."""
    seen = 0

    async def receive_limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > max_bytes:
                raise too_large(max_bytes)
        return message

    return receive_limited


def too_large(max_bytes: int) -> BodyTooLarge:
    return BodyTooLarge(f"the request body is larger than {max_bytes} bytes")


class LoginLimiter:
    """Failed sign-ins, counted three ways over a sliding ``window`` of seconds.

    * per name and address (``per_pair``, 10): a person who mistypes;
    * per name from any address (``per_account``, 20): one account guessed from many addresses,
      or through a proxy that lets the client rotate ``X-Forwarded-For``;
    * per address over any names (``per_address``, 30): password spraying, one password tried
      on many names.

    A sign-in is refused (429 with ``Retry-After``) while any of the three is full; a success
    clears only its own name-and-address count, so that the account and the address stay
    counted while someone else is guessing. Kept in the memory of one server process: with N
    workers a client gets up to N times as many tries, which still stops guessing at any useful
    rate.
    """

    def __init__(
        self,
        failures: int = 10,
        window: float = 300.0,
        *,
        per_account: int = 20,
        per_address: int = 30,
    ) -> None:
        self.failures = failures
        self.per_account = per_account
        self.per_address = per_address
        self.window = window
        self._seen: dict[tuple[str, ...], deque[float]] = {}
        self._lock = threading.Lock()

    def _keys(self, name: str, client: str) -> list[tuple[tuple[str, ...], int]]:
        return [
            (("pair", name, client), self.failures),
            (("account", name), self.per_account),
            (("address", client), self.per_address),
        ]

    def _recent(self, key: tuple[str, ...], now: float) -> deque[float]:
        q = self._seen.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def check(self, name: str, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            waits = [
                int(q[0] + self.window - now) + 1
                for key, limit in self._keys(name, client)
                if len(q := self._recent(key, now)) >= limit
            ]
        if waits:
            wait = max(waits)
            raise RateLimited(
                f"too many failed sign-ins; try again in {wait} s", details={"retry_after": wait}
            )

    def failed(self, name: str, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key, _ in self._keys(name, client):
                self._recent(key, now).append(now)
            if len(self._seen) > 100_000:  # keep memory bounded under a flood of names
                self._seen = {k: v for k, v in self._seen.items() if v}

    def succeeded(self, name: str, client: str) -> None:
        with self._lock:
            self._seen.pop(("pair", name, client), None)
