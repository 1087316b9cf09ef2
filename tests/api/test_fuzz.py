"""A bounded property-based run over the OpenAPI (schemathesis) against a live server with data:
no input it makes may get a 5xx (issue 20). On SQLite and PostgreSQL.

Schemathesis runs as its command (``st run``) in a process of its own, against the server of the
``live`` fixture seeded by ``setup_world`` (two projects, gold and ordinary records, users of every
role), as an admin (who may call every route), then as an annotator. The run is bounded by
examples per operation and a time budget, so it adds well under a minute per database; its seed is
fixed, so a failure happens again on the next run. What it finds is printed with a ``curl`` line
to reproduce it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.api.conftest import API, Live
from tests.api.test_security import setup_world

ST = shutil.which("st", path=str(Path(sys.executable).parent))
# DELETE /tokens/{id} would revoke the fuzzer's own token (ids are small), and the rest of the
# run would test only the 401.
EXCLUDED = ["--exclude-path", f"{API}/tokens/{{token_id}}", "--exclude-method", "DELETE"]


def _fuzz(
    live: Live,
    workdir: Path,
    token: str,
    max_examples: int,
    seconds: int,
    *extra: str,
    ids: dict[str, int] | None = None,
) -> None:
    """``st run`` as the holder of ``token``; ``ids`` fixes path parameters to objects that exist
    (so the run gets past the 404 into the route's checks)."""
    assert ST is not None, "schemathesis is a test dependency: pip install -e '.[test]'"
    config = workdir / f"schemathesis-{len(list(workdir.glob('schemathesis-*')))}.toml"
    config.write_text("[parameters]\n" + "".join(f'"path.{k}" = {v}\n' for k, v in (ids or {}).items()))
    cmd = [
        ST,
        "--config-file",
        str(config),
        "run",
        f"{live.url}{API}/openapi.json",
        "--url",
        live.url,
        "--checks",
        "not_a_server_error",
        "--header",
        f"Authorization: Bearer {token}",
        "--phases",
        "coverage,fuzzing",
        "--max-examples",
        str(max_examples),
        "--max-time",
        str(seconds),
        "--seed",
        "20",
        "--no-shrink",
        "--request-timeout",
        "30",
        *extra,
    ]
    done = subprocess.run(
        cmd, capture_output=True, text=True, timeout=seconds * 4 + 60, check=False, cwd=workdir
    )
    report = done.stdout[-6000:] + done.stderr[-2000:]
    assert done.returncode == 0, report


def test_no_input_gets_a_5xx(live: Live, tmp_path: Path) -> None:
    w = setup_world(live)
    pid = w["p"]["id"]
    ann = live.client(w["ann1"])
    lease = ann.post(f"/projects/{pid}/next").json()
    _fuzz(live, tmp_path, w["admin"], 10, 15, *EXCLUDED)
    # then the annotator on its own lease and record: answers, drafts and skips of every shape
    ids = {"project_id": pid, "assignment_id": lease["assignment_id"], "record_id": lease["record"]["id"]}
    _fuzz(live, tmp_path, w["ann1"], 6, 8, *EXCLUDED, ids=ids)
