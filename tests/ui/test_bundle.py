"""The committed web bundle exists and was built from the current `frontend/` sources.

`npm run build` records a hash of the sources in `src/assay/web/static/build-info.json`
(frontend/scripts/stamp.mjs); this test computes the same hash, so a source change committed
without a rebuilt bundle fails here. Rebuild: `cd frontend && npm ci && npm run build`.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FRONTEND = ROOT / "frontend"
STATIC = ROOT / "src" / "assay" / "web" / "static"


def source_hash() -> tuple[str, int]:
    files = [p.relative_to(FRONTEND).as_posix() for p in (FRONTEND / "src").rglob("*") if p.is_file()]
    files += ["index.html", "vite.config.ts", "package.json", "package-lock.json"]
    h = hashlib.sha256()
    for f in sorted(files):
        h.update(f.encode())
        h.update(b"\0")
        h.update((FRONTEND / f).read_bytes())
        h.update(b"\0")
    return h.hexdigest(), len(files)


def test_bundle_exists() -> None:
    index = STATIC / "index.html"
    assert index.is_file(), "no built UI: cd frontend && npm ci && npm run build"
    assets = list((STATIC / "assets").glob("index-*.js"))
    assert assets, "the bundle has no JavaScript"
    html = index.read_text()
    for a in assets:
        assert f"/assets/{a.name}" in html


def test_bundle_matches_sources() -> None:
    info = json.loads((STATIC / "build-info.json").read_text())
    digest, n = source_hash()
    assert info["src_hash"] == digest, (
        f"the committed bundle is stale ({n} source files changed since it was built): "
        "cd frontend && npm ci && npm run build, and commit src/assay/web/static"
    )
