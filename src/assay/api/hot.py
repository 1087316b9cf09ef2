"""The two hot routes, ``next`` and submit, straight on ASGI for API-token callers.

Most of the traffic of a labeling server is these two calls. Through FastAPI each passed seven
layers (error middlewares, body limits, the router's match over every route, the request
wrapper) before its route ran, about a fifth of the server's CPU per answer on the 2-core
machine. :class:`HotLane` sits in front of that stack: a ``POST`` to one of the two paths that
carries ``Authorization`` is served here, with the same rules and answers; everything else (the
web UI's cookie sessions with their CSRF check included) goes down the stack as before.

What each route does is written once, in :func:`lease` and :func:`submit`, which the FastAPI
routes (documented in the OpenAPI) call too; the body limit and the problem+json errors are
those of :mod:`assay.api.limits` and :mod:`assay.api.errors`.
"""

from __future__ import annotations

import logging
import re

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError as PydanticValidationError
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from assay.api.deps import authenticate_bearer
from assay.api.errors import assay_problem, crash_problem, validation_problem
from assay.api.limits import declared_length, limited, too_large
from assay.api.offload import offload_grouped
from assay.api.routes import out
from assay.api.schemas import SubmitIn
from assay.domain.errors import AssayError
from assay.domain.numbers import parse_id
from assay.services import dispatch
from assay.services.actors import Actor
from assay.store.engine import Store

__all__ = ["HotLane", "lease", "parse_submit", "submit"]

log = logging.getLogger("assay.api")

_NEXT = re.compile(r"/api/v1/projects/([0-9]+)/next")
_SUBMIT = re.compile(r"/api/v1/assignments/([0-9]+)/responses")


async def lease(store: Store, actor: Actor, project_id: int) -> Response:
    """``POST /projects/{id}/next``: the caller's lease, or 204 when nothing is left for it."""
    got = await offload_grouped(store, dispatch.next_assignment, store, actor, project_id)
    return Response(status_code=204) if got is None else out(got)


def parse_submit(raw: bytes) -> SubmitIn:
    """The submit body, or the error FastAPI would give for it (``body.<field>``)."""
    try:
        return SubmitIn.model_validate_json(raw)
    except PydanticValidationError as e:
        raise RequestValidationError(
            [{**err, "loc": ("body", *err["loc"])} for err in e.errors(include_url=False)]
        ) from None


async def submit(store: Store, actor: Actor, assignment_id: int, body: SubmitIn) -> Response:
    """``POST /assignments/{id}/responses``: 201 with the stored answer (200 for a repeat)."""
    response, created = await offload_grouped(
        store,
        dispatch.submit_response,
        store,
        actor,
        assignment_id,
        body.values,
        duration_ms=body.duration_ms,
        idempotency_key=body.idempotency_key,
        then_next=body.next,
    )
    return out(response, 201 if created else 200)


class HotLane:
    """Serve ``next`` and submit for ``Authorization`` callers; pass every other request on."""

    def __init__(self, app: ASGIApp, store: Store, max_bytes: int) -> None:
        self.app = app
        self.store = store
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = _NEXT.fullmatch(path) or _SUBMIT.fullmatch(path)
        authorization = None
        if route is not None and parse_id(route[1]) is None:  # (FastAPI refuses it, naming the field)
            route = None
        if route is not None:
            authorization = next(
                (v.decode("latin-1") for k, v in scope["headers"] if k == b"authorization"), None
            )
        if route is None or authorization is None:
            await self.app(scope, receive, send)
            return
        try:
            if declared_length(scope) > self.max_bytes:
                raise too_large(self.max_bytes)
            actor = await authenticate_bearer(self.store, authorization)
            if route.re is _NEXT:
                response = await lease(self.store, actor, int(route[1]))
            else:
                body = parse_submit(await _body(limited(receive, self.max_bytes)))
                response = await submit(self.store, actor, int(route[1]), body)
        except AssayError as e:
            response = assay_problem(e)
        except RequestValidationError as e:
            response = validation_problem(e)
        except Exception as e:
            log.exception("unhandled error on POST %s", path, exc_info=e)
            response = crash_problem()
        await response(scope, receive, send)


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
