"""The README's two commands work in either order and together (issue 24, item 2).

`scripts/test` installs the project in editable mode into its virtual environment; when the
demo ran from the same environment, that reinstall removed the files the running demo served
(the UI answered 404). The demo's command must therefore install into an environment of its
own, the same one in the README and the getting-started guide, and ignored by git.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _venvs(text: str) -> list[str]:
    return re.findall(r"-m venv (\S+)", text)


def _demo_command(doc: Path) -> str:
    blocks = re.findall(r"```bash\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    (command,) = [b.strip() for b in blocks if b.strip().endswith("assay demo")]
    return command


def test_the_demo_and_the_tests_use_different_environments() -> None:
    demo = _demo_command(ROOT / "README.md")
    assert demo == _demo_command(ROOT / "docs" / "getting-started.md")
    (demo_env,) = _venvs(demo)
    script = (ROOT / "scripts" / "test").read_text(encoding="utf-8")
    test_envs = set(_venvs(script)) | set(re.findall(r"\[ ! -x (\S+?)/bin/python", script))
    assert test_envs == {".venv"}
    assert demo_env not in test_envs
    # every command of the demo runs from its own environment
    assert all(part.startswith(f"{demo_env}/bin/") for part in re.findall(r"\S+/bin/\S+", demo))
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    assert f"{demo_env}/" in ignored and ".venv/" in ignored


def test_the_tour_uses_the_demo_environment() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (demo_env,) = _venvs(_demo_command(ROOT / "README.md"))
    assert f"source {demo_env}/bin/activate" in readme
