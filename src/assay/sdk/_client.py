"""``Client``: every route of the assay HTTP API as a typed method.

Lists come as iterators that follow the cursors. Idempotent calls (GET, PUT, DELETE, and
submits that carry an idempotency key) are retried with exponential backoff when the server
cannot be reached or answers 429/502/503/504; other calls are sent once.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson

from assay.domain.schema import ProjectSchema
from assay.sdk._errors import TransportError, error_from_response
from assay.sdk._models import (
    Contributor,
    Decision,
    ImportReport,
    Lease,
    Member,
    NewToken,
    NewUser,
    Project,
    Record,
    Response,
    ReviewItem,
    Token,
    User,
    Workspace,
    _Model,
)

__all__ = ["Client"]

M = TypeVar("M", bound=_Model)
RETRY_STATUS = frozenset({429, 502, 503, 504})
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class Client:
    """A connection to an assay server.

    >>> client = Client("http://127.0.0.1:8080", token="assay_…")    # doctest: +SKIP
    >>> lease = client.next("support-replies")                        # doctest: +SKIP
    >>> client.submit(lease.assignment_id, {"helpful": 6})            # doctest: +SKIP
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 0.2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        base = url.rstrip("/")
        if not base.endswith("/api/v1"):
            base += "/api/v1"
        headers = {"User-Agent": "assay-sdk", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.retries = retries
        self.backoff = backoff
        self._http = httpx.Client(base_url=base, headers=headers, timeout=timeout, transport=transport)

    # ---- plumbing ----------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(self, method: str, path: str, *, retry: bool | None = None, **kw: Any) -> httpx.Response:
        """Send one request; raise the SDK error of a problem+json answer."""
        retry = method in _IDEMPOTENT if retry is None else retry
        attempts = self.retries + 1 if retry else 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self._http.request(method, path, **kw)
            except httpx.TransportError as e:
                if last:
                    raise TransportError(f"{method} {path}: {e}") from e
                self._sleep(attempt)
                continue
            if response.status_code in RETRY_STATUS and not last:
                self._sleep(attempt, response.headers.get("retry-after"))
                continue
            if response.status_code >= 400:
                raise error_from_response(response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _sleep(self, attempt: int, retry_after: str | None = None) -> None:
        if retry_after and retry_after.isdigit():
            time.sleep(min(float(retry_after), 30.0))
            return
        time.sleep(self.backoff * (2**attempt) * (0.5 + random.random()))

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        response = self.request(method, path, **kw)
        return None if response.status_code == 204 or not response.content else response.json()

    def _pages(
        self, path: str, model: type[M] | None, params: dict[str, Any] | None = None, limit: int = 100
    ) -> Iterator[Any]:
        cursor: str | None = None
        while True:
            query = {k: v for k, v in (params or {}).items() if v is not None} | {"limit": limit}
            if cursor:
                query["cursor"] = cursor
            page = self._json("GET", path, params=query)
            for item in page["items"]:
                yield model.from_json(item) if model else item
            cursor = page.get("next_cursor")
            if not cursor:
                return

    @staticmethod
    def _schema(schema: ProjectSchema | dict[str, Any]) -> dict[str, Any]:
        return schema.to_dict() if isinstance(schema, ProjectSchema) else dict(schema)

    # ---- instance, accounts ---------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        data: dict[str, Any] = self._json("GET", "/health")
        return data

    def me(self) -> User:
        return User.from_json(self._json("GET", "/me"))

    def my_stats(self) -> dict[str, Any]:
        data: dict[str, Any] = self._json("GET", "/me/stats")
        return data

    def tokens(self) -> list[Token]:
        return [Token.from_json(t) for t in self._json("GET", "/tokens")["items"]]

    def create_token(self, name: str = "default", *, user: str | None = None) -> NewToken:
        return NewToken.from_json(self._json("POST", "/tokens", json={"name": name, "user": user}))

    def revoke_token(self, token_id: int) -> None:
        self._json("DELETE", f"/tokens/{token_id}")

    def users(self) -> list[User]:
        return [User.from_json(u) for u in self._json("GET", "/users")["items"]]

    def add_user(
        self,
        name: str,
        *,
        role: str = "annotator",
        kind: str = "human",
        skills: Iterable[str] = (),
        password: str | None = None,
        cost_per_hour: float | None = None,
        cost_per_item: float | None = None,
        workspace: str | None = None,
    ) -> NewUser:
        body = {
            "name": name,
            "role": role,
            "kind": kind,
            "skills": list(skills),
            "password": password,
            "cost_per_hour": cost_per_hour,
            "cost_per_item": cost_per_item,
            "workspace": workspace,
        }
        return NewUser.from_json(self._json("POST", "/users", json=body))

    def workspaces(self) -> list[Workspace]:
        return [Workspace.from_json(w) for w in self._json("GET", "/workspaces")["items"]]

    def create_workspace(self, name: str) -> Workspace:
        return Workspace.from_json(self._json("POST", "/workspaces", json={"name": name}))

    # ---- projects -----------------------------------------------------------------------------

    def projects(self, *, page_size: int = 100) -> Iterator[Project]:
        return self._pages("/projects", Project, limit=page_size)

    def create_project(
        self, schema: ProjectSchema | dict[str, Any], *, name: str | None = None, workspace: str | None = None
    ) -> Project:
        body = {"schema": self._schema(schema), "name": name, "workspace": workspace}
        return Project.from_json(self._json("POST", "/projects", json=body))

    def project(self, project: int | str) -> Project:
        """A project by id, or by name (looked up in the project list)."""
        return Project.from_json(self._json("GET", f"/projects/{self.project_id(project)}"))

    def project_id(self, project: int | str) -> int:
        if isinstance(project, int) or (str(project).isascii() and str(project).isdigit()):
            return int(project)
        for p in self.projects():
            if p.name == project:
                return p.id
        from assay.sdk._errors import NotFoundError

        raise NotFoundError(f"no project {project!r}", status=404, code="not_found")

    def update_project(
        self,
        project: int | str,
        *,
        schema: ProjectSchema | dict[str, Any] | None = None,
        guidelines: str | None = None,
    ) -> Project:
        body: dict[str, Any] = {}
        if schema is not None:
            body["schema"] = self._schema(schema)
        if guidelines is not None:
            body["guidelines"] = guidelines
        return Project.from_json(self._json("PATCH", f"/projects/{self.project_id(project)}", json=body))

    def members(self, project: int | str) -> list[Member]:
        items = self._json("GET", f"/projects/{self.project_id(project)}/members")["items"]
        return [Member.from_json(m) for m in items]

    def add_member(self, project: int | str, user: str, role: str = "annotator") -> None:
        self._json("POST", f"/projects/{self.project_id(project)}/members", json={"user": user, "role": role})

    # ---- records ------------------------------------------------------------------------------

    def add_records(self, project: int | str, rows: Iterable[dict[str, Any]]) -> ImportReport:
        """Add or update records (all or nothing), sent as NDJSON."""
        body = b"".join(orjson.dumps(r) + b"\n" for r in rows)
        response = self._json(
            "POST",
            f"/projects/{self.project_id(project)}/records",
            content=body,
            headers={"Content-Type": "application/x-ndjson"},
        )
        return ImportReport.from_json(response)

    def import_file(self, project: int | str, path: str | Path, *, format: str = "auto") -> ImportReport:
        """Upload a JSONL, JSON, CSV or Parquet file (all or nothing)."""
        path = Path(path)
        with path.open("rb") as fh:
            response = self._json(
                "POST",
                f"/projects/{self.project_id(project)}/imports",
                files={"file": (path.name, fh)},
                data={"format": format},
            )
        return ImportReport.from_json(response)

    def records(
        self, project: int | str, *, filter: str | None = None, page_size: int = 100
    ) -> Iterator[Record]:
        return self._pages(
            f"/projects/{self.project_id(project)}/records", Record, {"filter": filter}, page_size
        )

    def record(self, record_id: int) -> Record:
        return Record.from_json(self._json("GET", f"/records/{record_id}"))

    def record_history(self, record_id: int) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._json("GET", f"/records/{record_id}/history")["items"]
        return items

    def add_suggestions(
        self, record_id: int, suggestions: list[dict[str, Any]], *, replace: bool = False
    ) -> list[dict[str, Any]]:
        body = {"suggestions": suggestions, "replace": replace}
        out: list[dict[str, Any]] = self._json("POST", f"/records/{record_id}/suggestions", json=body)[
            "suggestions"
        ]
        return out

    # ---- dispatch -----------------------------------------------------------------------------

    def next(self, project: int | str) -> Lease | None:
        """Lease the next record (the one held, if any); None when nothing is left for the caller."""
        data = self._json("POST", f"/projects/{self.project_id(project)}/next")
        return None if data is None else Lease.from_json(data)

    def assignment(self, assignment_id: int) -> Lease:
        return Lease.from_json(self._json("GET", f"/assignments/{assignment_id}"))

    def submit(
        self,
        assignment_id: int,
        values: dict[str, Any],
        *,
        duration_ms: int | None = None,
        idempotency_key: str | None = None,
        next: bool = False,
    ) -> Response:
        """Submit an answer. A key is made when none is given, so the call is safe to retry.

        With ``next=True`` the answer comes back with the caller's next lease of the project in
        ``response.next`` (None when nothing is left; ``response.next_problem`` says why when the
        caller may not have one): one round trip per record instead of two.
        """
        key = idempotency_key or str(uuid.uuid4())
        body: dict[str, Any] = {"values": values, "duration_ms": duration_ms, "idempotency_key": key}
        if next:
            body["next"] = True
        response = self.request("POST", f"/assignments/{assignment_id}/responses", json=body, retry=True)
        return Response.from_json(response.json() | {"created": response.status_code == 201})

    def save_draft(self, assignment_id: int, values: dict[str, Any]) -> Response:
        return Response.from_json(
            self._json("PUT", f"/assignments/{assignment_id}/draft", json={"values": values})
        )

    def skip(self, assignment_id: int, *, reason: str | None = None, flag: bool = False) -> None:
        self._json("POST", f"/assignments/{assignment_id}/skip", json={"reason": reason, "flag": flag})

    def release(self, assignment_id: int) -> None:
        self._json("POST", f"/assignments/{assignment_id}/release")

    def responses(
        self, project: int | str, *, user: int | None = None, page_size: int = 100
    ) -> Iterator[Response]:
        return self._pages(
            f"/projects/{self.project_id(project)}/responses", Response, {"user": user}, page_size
        )

    # ---- review, consensus --------------------------------------------------------------------

    def reviews(self, project: int | str, *, page_size: int = 50) -> Iterator[ReviewItem]:
        return self._pages(f"/projects/{self.project_id(project)}/reviews", ReviewItem, limit=page_size)

    def decide_review(
        self,
        review_id: int,
        verdict: str,
        *,
        corrected_values: dict[str, Any] | None = None,
        comment: str | None = None,
    ) -> Decision:
        body = {"verdict": verdict, "corrected_values": corrected_values, "comment": comment}
        return Decision.from_json(self._json("POST", f"/reviews/{review_id}", json=body))

    def review_response(
        self,
        response_id: int,
        verdict: str,
        *,
        corrected_values: dict[str, Any] | None = None,
        comment: str | None = None,
    ) -> Decision:
        body = {"verdict": verdict, "corrected_values": corrected_values, "comment": comment}
        return Decision.from_json(self._json("POST", f"/responses/{response_id}/review", json=body))

    def recompute_consensus(self, project: int | str, method: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = self._json(
            "POST", f"/projects/{self.project_id(project)}/consensus", json={"method": method}
        )
        return data

    def consensus(self, project: int | str, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        return self._pages(f"/projects/{self.project_id(project)}/consensus", None, limit=page_size)

    # ---- export, figures, audit ---------------------------------------------------------------

    def export(
        self,
        project: int | str,
        path: str | Path,
        *,
        format: str = "jsonl",
        lineage: bool = False,
        csv_formulas: str = "escape",
        contributors: str = "names",
    ) -> Path:
        """Download the project's export (jsonl, csv or parquet) to ``path``, streamed. CSV cells a
        spreadsheet would run as formulas get a ``'`` before them unless ``csv_formulas="raw"``.
        ``contributors``: names, pseudonyms (``contributor-1`` … in this file) or none."""
        path = Path(path)
        params = {
            "format": format,
            "lineage": str(lineage).lower(),
            "csv_formulas": csv_formulas,
            "contributors": contributors,
        }
        url = f"/projects/{self.project_id(project)}/export"
        with self._http.stream("GET", url, params=params) as response:
            if response.status_code >= 400:
                response.read()
                raise error_from_response(response)
            with path.open("wb") as fh:
                for chunk in response.iter_bytes(1 << 20):
                    fh.write(chunk)
        return path

    def explain(self, record_id: int) -> dict[str, Any]:
        """The chain behind a record's labels: answers, reviews, consensus, the exported value."""
        data: dict[str, Any] = self._json("GET", f"/records/{int(record_id)}/explain")
        return data

    def project_stats(self, project: int | str) -> dict[str, Any]:
        data: dict[str, Any] = self._json("GET", f"/projects/{self.project_id(project)}/stats")
        return data

    def contributors(self, project: int | str) -> list[Contributor]:
        items = self._json("GET", f"/projects/{self.project_id(project)}/contributors")["items"]
        return [Contributor.from_json(c) for c in items]

    def leaderboard(
        self, project: int | str, category: str | None = None, *, question: str | None = None
    ) -> dict[str, Any]:
        """Bradley-Terry leaderboard of a comparison project: ``rows`` best first (``model, rating,
        ci_low, ci_high, wins, losses, ties`` …), ``win_rates``, ``judge_agreement``, ``position_bias``,
        and ``categories`` (one board per value of the metadata key ``category``)."""
        params = {k: v for k, v in {"category": category, "question": question}.items() if v is not None}
        data: dict[str, Any] = self._json(
            "GET", f"/projects/{self.project_id(project)}/leaderboard", params=params
        )
        return data

    def agent_stats(
        self, project: int | str, *, question: str | None = None, method: str = "mv"
    ) -> dict[str, Any]:
        """Agent-review figures: per-tool and per-agent error rates (``tools``, ``agents``) and
        per-trajectory summaries (``trajectories``), from the ``step_review`` verdicts."""
        params = {"method": method} | ({"question": question} if question is not None else {})
        data: dict[str, Any] = self._json(
            "GET", f"/projects/{self.project_id(project)}/agent-stats", params=params
        )
        return data

    def events(self, project: int | str, *, page_size: int = 100) -> Iterator[dict[str, Any]]:
        return self._pages(f"/projects/{self.project_id(project)}/events", None, limit=page_size)

    # ---- background jobs, AI-first routing ----------------------------------------------------

    def start_job(
        self,
        project: int | str,
        kind: str,
        params: dict[str, Any] | None = None,
        *,
        max_attempts: int | None = None,
        time_limit: int | None = None,
    ) -> dict[str, Any]:
        """Queue a job (``prelabel``, ``judge``, ``consensus``, ``export``, ``route``, ``train``)."""
        body = {"kind": kind, "params": params or {}, "max_attempts": max_attempts, "time_limit": time_limit}
        data: dict[str, Any] = self._json(
            "POST",
            f"/projects/{self.project_id(project)}/jobs",
            json={k: v for k, v in body.items() if v is not None},
        )
        return data

    def jobs(
        self, project: int | str, *, state: str | None = None, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """The project's jobs, newest first."""
        return self._pages(
            f"/projects/{self.project_id(project)}/jobs", None, {"state": state}, limit=page_size
        )

    def job(self, project: int | str, job_id: int) -> dict[str, Any]:
        data: dict[str, Any] = self._json("GET", f"/projects/{self.project_id(project)}/jobs/{job_id}")
        return data

    def cancel_job(self, project: int | str, job_id: int) -> dict[str, Any]:
        data: dict[str, Any] = self._json(
            "POST", f"/projects/{self.project_id(project)}/jobs/{job_id}/cancel"
        )
        return data

    def wait_job(
        self, project: int | str, job_id: int, *, timeout: float = 3600, poll: float = 0.5
    ) -> dict[str, Any]:
        """The job once it has ended (succeeded, failed or cancelled); ``TimeoutError`` past ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(project, job_id)
            if job["state"] not in ("queued", "running"):
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} is still {job['state']} after {timeout} s")
            time.sleep(poll)

    def trust(self, project: int | str) -> dict[str, Any]:
        """Trust in the project's models per question and answer (AI-first routing)."""
        data: dict[str, Any] = self._json("GET", f"/projects/{self.project_id(project)}/trust")
        return data

    def savings(self, project: int | str) -> dict[str, Any]:
        """The savings report: settled by models, people, both; human answers; accuracy; cost."""
        data: dict[str, Any] = self._json("GET", f"/projects/{self.project_id(project)}/savings")
        return data
