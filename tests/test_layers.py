"""Imports go one way only (DESIGN.md's layers): a backward edge fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "assay"

# For each layer: the assay packages it may import (besides itself).
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "quality": set(),
    "store": {"domain"},
    "formats": {"domain", "quality"},
    "connectors": {"domain", "settings"},
    "services": {"domain", "quality", "store", "formats", "connectors", "settings", "demo"},
    "demo": set(),
    "api": {"domain", "services", "settings", "store", "quality", "formats", "web"},
    "cli": {
        "domain",
        "services",
        "settings",
        "store",
        "quality",
        "formats",
        "sdk",
        "api",
        "connectors",
        "demo",
    },
    "sdk": {"domain"},
    "settings": set(),
    "web": set(),
}


def _layer(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "assay" and len(parts) > 1:
                found.add(parts[1])
    return found


MODULES = sorted(p for p in SRC.rglob("*.py") if _layer(p) in ALLOWED)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_go_one_way(path: Path) -> None:
    layer = _layer(path)
    bad = {m for m in _imports(path) if m != layer and m not in ALLOWED[layer] and m != "__init__"}
    assert not bad, f"{path.relative_to(SRC)} ({layer}) imports {sorted(bad)}"


def test_every_layer_is_known() -> None:
    layers = {_layer(p) for p in SRC.rglob("*.py")} - {"__init__", "__main__"}
    assert layers <= set(ALLOWED), layers - set(ALLOWED)
