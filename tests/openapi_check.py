"""The OpenAPI document against what the server really answers (issue 24, a typed API end to end).

* :func:`undescribed` names every 2xx answer of the document that has no body schema (a route
  without a ``response_model``, or a file route without its ``responses``);
* :class:`AnswerCheck` is an httpx response hook: every JSON answer with a 2xx status that a test
  client receives is validated against the schema its operation declares for that status, so the
  API tests (which use :meth:`tests.api.conftest.Live.client`) fail on an answer that the
  document does not describe, whoever added the route.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from jsonschema import Draft202012Validator

__all__ = ["AnswerCheck", "undescribed"]

NO_BODY = {"204", "205", "304"}
METHODS = ("get", "post", "put", "patch", "delete")


def undescribed(spec: dict[str, Any]) -> list[str]:
    """``METHOD path status`` of each success answer without a body schema."""
    missing = []
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method not in METHODS:
                continue
            answers = {s: r for s, r in op.get("responses", {}).items() if s.startswith("2")}
            if not answers:
                missing.append(f"{method.upper()} {path} (no success answer)")
            for status, answer in answers.items():
                if status in NO_BODY:
                    continue
                content = answer.get("content") or {}
                if not content or any(not (c.get("schema") or {}) for c in content.values()):
                    missing.append(f"{method.upper()} {path} {status}")
    return missing


class AnswerCheck:
    """Validates each 2xx JSON answer against its operation's schema in ``spec``."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.routes: list[tuple[re.Pattern[str], str, dict[str, Any]]] = []
        for path, item in spec.get("paths", {}).items():
            pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
            for method, op in item.items():
                if method in METHODS:
                    self.routes.append((pattern, method.upper(), op))
        # literal segments before parameters: /projects/new beats /projects/{id}
        self.routes.sort(key=lambda r: r[0].pattern.count("[^/]+"))
        self.checked = 0
        self.validators: dict[int, Draft202012Validator] = {}

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        for pattern, m, op in self.routes:
            if m == method and pattern.match(path):
                return op
        return None

    def check(self, method: str, path: str, status: int, body: Any) -> None:
        if not 200 <= status < 300 or status == 204:
            return
        op = self.operation(method, path)
        if op is None:
            return  # not a route of the API (a 404's problem, the UI's pages)
        answer = op.get("responses", {}).get(str(status))
        assert answer is not None, (
            f"{method} {path} answered {status}, which its OpenAPI operation does not list"
        )
        schema = (answer.get("content") or {}).get("application/json", {}).get("schema")
        if not schema or schema.get("format") == "binary":
            return  # not JSON, or a file that is (a COCO export)
        validator = self.validators.get(id(answer))
        if validator is None:
            schema = answer["content"]["application/json"]["schema"]
            validator = Draft202012Validator({**schema, "components": self.spec.get("components", {})})
            self.validators[id(answer)] = validator
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            where = ", ".join(
                f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message[:200]}" for e in errors[:5]
            )
            raise AssertionError(
                f"{method} {path} answered {status} with a body its OpenAPI schema does not describe "
                f"(declare it in assay.api.models): {where}"
            )
        self.checked += 1

    def __call__(self, response: httpx.Response) -> None:
        """An httpx response hook."""
        ctype = response.headers.get("content-type", "").split(";")[0].strip()
        if ctype != "application/json" or not 200 <= response.status_code < 300:
            return
        response.read()
        path = response.request.url.path
        self.check(response.request.method, path, response.status_code, response.json())
