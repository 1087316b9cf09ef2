"""Browser tests: Playwright for Python driving Debian's Chromium against a real `assay serve`.

Chromium is never downloaded: it is Debian's (`scripts/setup-browser` installs it). When it is
missing the browser tests are skipped, except under CI=true, where they fail.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("ASSAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PASSWORD = "correct horse battery staple"


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests must run; see scripts/setup-browser)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed")
    if not Path(CHROMIUM).exists():
        _missing(f"{CHROMIUM} is missing")
    if not (ROOT / "src/assay/web/static/index.html").exists():
        _missing("the web bundle is not built (cd frontend && npm ci && npm run build)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _assay(home: Path, *args: str) -> str:
    exe = shutil.which("assay", path=str(Path(sys.executable).parent)) or "assay"
    r = subprocess.run(
        [exe, *args, "--home", str(home)], capture_output=True, text=True, check=False, timeout=120
    )
    if r.returncode:
        raise RuntimeError(f"assay {' '.join(args)} failed: {r.stdout}\n{r.stderr}")
    return r.stdout


class Server:
    """A running `assay serve` on a temporary SQLite database, with an admin API client."""

    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.home = home
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        out = _assay(home, "init", "--password", PASSWORD, "--json")
        import json

        self.admin_token = json.loads(out)["token"]
        exe = Path(sys.executable).parent / "assay"
        has_serve = subprocess.run([str(exe), "serve", "--help"], capture_output=True).returncode == 0
        if has_serve:
            cmd = [str(exe), "serve", "--home", str(home), "--port", str(self.port)]
        else:  # `serve` not registered in the CLI yet: call the same function.
            cmd = [
                sys.executable,
                "-c",
                "import sys; from pathlib import Path; from assay.cli.serve import serve; "
                "serve(host='127.0.0.1', port=int(sys.argv[1]), home=Path(sys.argv[2]))",
                str(self.port),
                str(home),
            ]
        self.log = open(home / "serve.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, stdout=self.log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )
        self.api = httpx.Client(
            base_url=self.url + "/api/v1", headers={"Authorization": f"Bearer {self.admin_token}"}, timeout=60
        )
        # Wait for the server to answer or to exit; the bound only keeps a hung start from hanging
        # the run (a loaded machine can take long to start it).
        deadline = time.time() + 300
        try:
            while True:
                try:
                    if self.api.get("/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if self.proc.poll() is not None:
                    raise RuntimeError(f"assay serve exited: {(home / 'serve.log').read_text()[-2000:]}")
                if time.time() > deadline:
                    raise RuntimeError(
                        f"assay serve did not start: {(home / 'serve.log').read_text()[-2000:]}"
                    )
                time.sleep(0.2)
        except BaseException:
            self.stop()
            raise

    def user(self, name: str, role: str) -> dict[str, Any]:
        r = self.api.post("/users", json={"name": name, "role": role, "password": PASSWORD})
        assert r.status_code == 201, r.text
        return r.json()

    def project(self, schema: dict[str, Any], records: list[dict[str, Any]]) -> dict[str, Any]:
        r = self.api.post("/projects", json={"schema": schema})
        assert r.status_code == 201, r.text
        p = r.json()
        r = self.api.post(f"/projects/{p['id']}/records", json=records)
        assert r.status_code == 201, r.text
        return p

    def responses(self, project_id: int | str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 1000}
            if cursor:
                params["cursor"] = cursor
            r = self.api.get(f"/projects/{project_id}/responses", params=params)
            assert r.status_code == 200, r.text
            page = r.json()
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    def stop(self) -> None:
        self.api.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[Server]:
    s = Server(tmp_path_factory.mktemp("assay-ui"))
    yield s
    s.stop()


# What Chromium refused under the server's Content-Security-Policy, on any page opened by login();
# the autouse fixture below fails the test that caused one (the UI must work within the policy).
CSP_VIOLATIONS: list[str] = []


def watch_csp(page: Any) -> None:
    def seen(message: Any) -> None:
        if "Content Security Policy" in message.text:
            CSP_VIOLATIONS.append(f"{page.url}: {message.text}")

    page.on("console", seen)


@pytest.fixture(autouse=True)
def no_csp_violations() -> Iterator[None]:
    CSP_VIOLATIONS.clear()
    yield
    assert not CSP_VIOLATIONS, CSP_VIOLATIONS


def login(browser: Any, server: Server, name: str, viewport: tuple[int, int] = (1280, 720)) -> Any:
    ctx = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, base_url=server.url)
    page = ctx.new_page()
    watch_csp(page)
    page.goto("/")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("[data-testid=who]", state="attached")
    return page


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def png_data_url(w: int, h: int) -> str:
    """A small generated PNG (gradient) as a data: URL, so no file or network is needed."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        c = kind + data
        return len(data).to_bytes(4, "big") + c + zlib.crc32(c).to_bytes(4, "big")

    raw = b""
    for y in range(h):
        raw += b"\x00" + b"".join(bytes((x * 255 // w, y * 255 // h, 160)) for x in range(w))
    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    png = (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    )
    return "data:image/png;base64," + base64.b64encode(png).decode()
