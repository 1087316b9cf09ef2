"""Security headers on every response: a Content-Security-Policy, and no framing by other sites.

* The web UI (every path outside ``/api/``) may run scripts and load styles from the server only;
  it talks to the server only (``connect-src 'self'``). Record media (images, audio, video) may
  come from anywhere a record points to (an object store, a ``data:`` URL), so ``img-src`` and
  ``media-src`` allow any source; nothing of the page can be sent there but the media's own URL.
  Inline styles are allowed (the UI sizes bars and marks with ``style`` attributes); inline
  scripts, ``eval``, plugins and ``<base>`` are not.
* API answers (JSON, CSV, files) carry ``default-src 'none'``: they are data and run nothing, even
  if a browser is made to open one as a page. The interactive docs (``/api/v1/docs``) load
  Swagger UI from its CDN and get a policy that allows just that.
* ``frame-ancestors 'none'`` and ``X-Frame-Options: DENY`` on all: no other site may show assay in
  a frame (clickjacking). ``X-Content-Type-Options: nosniff`` keeps browsers to the declared type;
  ``Referrer-Policy: same-origin`` keeps the UI's URLs (project ids) from other sites.

The middleware sits outermost, so the answers of :class:`assay.api.hot.HotLane` get them too.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["API_POLICY", "DOCS_POLICY", "UI_POLICY", "SecurityHeaders"]

UI_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src * data: blob:; media-src * data: blob:; font-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
DOCS_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; frame-ancestors 'none'"
)
_COMMON = [
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


def _headers(policy: str) -> list[tuple[bytes, bytes]]:
    return [(b"content-security-policy", policy.encode()), *_COMMON]


class SecurityHeaders:
    """Add the headers above to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp, api_prefix: str) -> None:
        self.app = app
        self.api = api_prefix.rstrip("/") + "/"
        self.docs = self.api + "docs"
        self.by_kind = {"ui": _headers(UI_POLICY), "api": _headers(API_POLICY), "docs": _headers(DOCS_POLICY)}

    def _kind(self, path: str) -> str:
        if path == self.docs:
            return "docs"
        return "api" if path.startswith(self.api) or path + "/" == self.api else "ui"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.by_kind[self._kind(scope["path"])]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
