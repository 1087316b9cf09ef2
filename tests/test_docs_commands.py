"""The docs cannot drift from the code (issue 24, item 10): every ``assay`` command in a shell
block of the README and docs/ parses against the real CLI (known command, known options, the
arguments it needs), and every ``from assay… import …`` in a Python block imports."""

from __future__ import annotations

import importlib
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer

from assay.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _blocks(lang: str) -> list[tuple[str, str]]:
    out = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for block in re.findall(rf"```{lang}\n(.*?)```", text, re.S):
            out.append((doc.name, block))
    return out


def _commands() -> list[tuple[str, list[str]]]:
    found = []
    for name, block in _blocks("bash"):
        block = re.sub(r"<<'?(\w+)'?\n.*?\n\1\n", "\n", block, flags=re.S)  # here-documents
        for line in block.replace("\\\n", " ").splitlines():
            for part in re.split(r"&&|\|\||;", line):
                try:
                    words = shlex.split(part, comments=True)
                except ValueError:
                    continue
                # usage notation: [--opt value] is optional, a|b offers alternatives (take the first)
                words = [
                    w.strip("[]").split("|")[0] if w.startswith("[") or w.endswith("]") or "|" in w else w
                    for w in words
                ]
                if words and words[0].endswith("assay") and len(words) > 1:
                    found.append((name, [w for w in words[1:] if w]))
    return found


COMMANDS = _commands()


def test_the_docs_have_commands() -> None:
    assert len(COMMANDS) > 40


@pytest.mark.parametrize(("doc", "args"), COMMANDS, ids=[f"{d}: {' '.join(a)}"[:90] for d, a in COMMANDS])
def test_a_documented_command_parses(doc: str, args: list[str]) -> None:
    # Typer carries its own copy of Click: go by what the objects do, not by Click's classes.
    cmd: Any = typer.main.get_command(app)
    ctx = cmd.make_context("assay", [], resilient_parsing=True)
    rest = list(args)
    while hasattr(cmd, "get_command") and rest and not rest[0].startswith("-"):
        sub = cmd.get_command(ctx, rest[0])
        assert sub is not None, f"{doc}: no command {rest[0]!r} in `assay {' '.join(args)}`"
        cmd, rest = sub, rest[1:]
        ctx = cmd.make_context(cmd.name, [], resilient_parsing=True, parent=ctx)
    if "--help" in rest:
        return
    try:
        cmd.make_context(cmd.name, rest, parent=ctx.parent)
    except Exception as e:
        if not hasattr(e, "format_message"):
            raise
        pytest.fail(f"{doc}: `assay {' '.join(args)}`: {e.format_message()}")


IMPORTS = [
    (name, m.group(1), [n.strip() for n in m.group(2).split(",")])
    for name, block in _blocks("python")
    for m in re.finditer(r"^from (assay[\w.]*) import ([^\n(]+)$", block, re.M)
]


@pytest.mark.parametrize(("doc", "module", "names"), IMPORTS)
def test_a_documented_import_works(doc: str, module: str, names: list[str]) -> None:
    mod = importlib.import_module(module)
    for n in names:
        assert hasattr(mod, n.split(" as ")[0].strip()), f"{doc}: {module} has no {n}"


def test_the_readme_tour_runs_as_written(tmp_path: Path) -> None:
    """The README's five-minute tour, run by bash in an empty folder, line by line as written
    (its `source` line activates the environment the tests run in instead of .venv-demo)."""
    import os
    import subprocess
    import sys

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = readme.split("## A five-minute tour", 1)[1]
    (block,) = re.findall(r"```bash\n(.*?)```", tour, re.S)[:1]
    assert block.startswith("source .venv-demo/bin/activate")
    script = "set -euo pipefail\n" + block.split("\n", 1)[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Imported 2 rows into project sentiment" in proc.stdout
    assert (tmp_path / "sentiment.parquet").stat().st_size > 0
