"""A small deterministic OpenAI-compatible server for the tests, over real HTTP on 127.0.0.1.

``POST /v1/chat/completions`` answers:

- a generation prompt with ``"<model> answer (q=<quality>): <prompt>"`` (quality from
  ``qualities``, so a judge can tell the models apart), usage = word counts;
- a judge prompt (one holding candidate blocks ``[A]``, ``[B]`` …) with a JSON preference for
  the block of the best model, wrapped in prose and a code fence to exercise robust parsing;
  a prompt containing ``BADJSON`` gets an answer with no JSON in it.

``faults`` is a queue of HTTP statuses (or ``"slow"``) served to the next requests before
normal answers resume; 429s carry ``Retry-After: 0``. ``answerer(model, prompt)``, when set,
answers first (None: the usual answer). ``hold_after``: requests after that many answered wait
until ``release`` is set (``held`` is set when one waits), to stop a client in the middle of a run. ``calls``, ``in_flight_max`` and
``auth`` (the Authorization headers seen) let the tests check the client.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BLOCK = re.compile(r"^\[([A-Z])\]\n(.*?)(?=^\[[A-Z]\]\n|\Z)", re.S | re.M)
QUALITY = re.compile(r"\(q=(-?\d+(?:\.\d+)?)\)")


class FakeLLM:
    def __init__(self, qualities: dict[str, float] | None = None, delay: float = 0.0) -> None:
        self.qualities = qualities or {}
        self.delay = delay
        self.faults: deque[Any] = deque()
        self.calls = 0
        self.ok_calls = 0
        self.in_flight = 0
        self.in_flight_max = 0
        self.auth: list[str | None] = []
        self.bodies: list[dict[str, Any]] = []
        self.answerer: Any = None
        self.hold_after: int | None = None
        self.held = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status, headers, payload = fake.handle(self.path, body, self.headers.get("authorization"))
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> FakeLLM:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ------------------------------------------------------------------ behaviour
    def handle(self, path: str, body: dict[str, Any], auth: str | None) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            self.calls += 1
            self.auth.append(auth)
            self.bodies.append(body)
            self.in_flight += 1
            self.in_flight_max = max(self.in_flight_max, self.in_flight)
            fault = self.faults.popleft() if self.faults else None
            hold = self.hold_after is not None and self.ok_calls >= self.hold_after
        try:
            if hold:
                self.held.set()
                self.release.wait(60)
            if fault == "slow":
                time.sleep(1.0)
            elif isinstance(fault, int):
                headers = {"Retry-After": "0"} if fault == 429 else {}
                return fault, headers, {"error": {"message": f"injected {fault}"}}
            if self.delay:
                time.sleep(self.delay)
            if path.rstrip("/") != "/v1/chat/completions":
                return 404, {}, {"error": {"message": "not found"}}
            model = str(body.get("model"))
            messages = body.get("messages") or []
            prompt = "\n".join(str(m.get("content", "")) for m in messages)
            text = self.answer(model, prompt, body)
            with self._lock:
                self.ok_calls += 1
            usage = {
                "prompt_tokens": len(prompt.split()),
                "completion_tokens": len(text.split()),
            }
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            return (
                200,
                {},
                {
                    "id": f"cmpl-{self.calls}",
                    "object": "chat.completion",
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage,
                },
            )
        finally:
            with self._lock:
                self.in_flight -= 1

    def answer(self, model: str, prompt: str, body: dict[str, Any]) -> str:
        if self.answerer is not None:
            text = self.answerer(model, prompt)
            if text is not None:
                return str(text)
        if "BADJSON" in prompt:
            return "I think both are fine, honestly."
        blocks = BLOCK.findall(prompt)
        if blocks:
            scored = []
            for label, text in blocks:
                m = QUALITY.search(text)
                scored.append((float(m.group(1)) if m else 0.0, label))
            scored.sort(reverse=True)
            best = scored[0][1]
            gap = scored[0][0] - scored[-1][0]
            strength = 3 if gap >= 2 else (2 if gap >= 1 else 1)
            return (
                "Let me compare them.\n```json\n"
                + json.dumps({"preference": {"choice": best, "strength": strength}})
                + "\n```"
            )
        q = self.qualities.get(model, 0.0)
        temp = body.get("temperature")
        last = prompt.strip().splitlines()[-1] if prompt.strip() else ""
        suffix = f" t={temp}" if temp is not None else ""
        return f"{model} answer (q={q:g}){suffix}: {last}"
