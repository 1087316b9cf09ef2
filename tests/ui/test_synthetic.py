"""Synthetic data end to end with a browser: two teachers over HTTP write answers (`assay synth`),
the filters remove planted copies, a person accepts, edits and rejects items in the workbench,
the SFT export states each example's origin and prints the shares, and the dashboard's Synthetic
tab plots the teacher shares, origins, distinct-n and duplicates removed (axe clean)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.rlhf.fake_llm import FakeLLM
from tests.synth.teachers import answerer

from .conftest import Server, _assay, login, shot
from .test_accessibility import violations

pytestmark = pytest.mark.browser


def _next(page: Any, rid: str | None) -> None:
    page.wait_for_function(
        "rid => { const r = document.querySelector('[data-testid=record]'); return !r || r.dataset.recordId !== rid; }",
        arg=rid,
    )


def test_generate_filter_verify_in_the_browser_and_export_with_shares(
    browser: Any, server: Server, tmp_path: Path
) -> None:
    llm = FakeLLM().start()
    llm.answerer = answerer
    try:
        seeds = tmp_path / "seeds.jsonl"
        seeds.write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"Explain topic {i} in plain words."}) + "\n"
                                 for i in range(6)))  # fmt: skip
        out = _assay(server.home, "synth", "verify-me", str(seeds), "-t", "t-alpha", "-t", "t-beta",
                     "--endpoint", llm.base_url, "--json")  # fmt: skip
    finally:
        llm.stop()
    res = json.loads(out)["result"]
    assert res["removed"]["exact_duplicate"] == 1 and res["removed"]["near_duplicate"] == 1
    assert res["accepted"] == 8
    server.user("checker", "annotator")
    page = login(browser, server, "checker")
    project = next(p for p in server.api.get("/projects").json()["items"] if p["name"] == "verify-me")
    page.goto(f"/#/p/{project['id']}/work")
    for verdict in ["accept", "edit", "reject"]:
        rec = page.locator("[data-testid=record]")
        rec.wait_for()
        rid = rec.get_attribute("data-record-id")
        page.locator(f"button[data-value={verdict}]").click()
        if verdict == "edit":
            page.locator("textarea[data-control=textarea]").fill("A person's corrected answer.")
            shot(page, "synthetic-verify-edit")
        page.get_by_test_id("submit").click()
        _next(page, rid)
    page.context.close()
    out_file = tmp_path / "sft.jsonl"
    summary = _assay(server.home, "export", "verify-me", "--out", str(out_file), "--format", "sft")
    rows = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert len(rows) == 7  # 8 items, one rejected
    origins = [r["origin"] for r in rows]
    assert origins.count("synthetic-verified") == 2 and origins.count("synthetic-unverified") == 5
    assert any(r["messages"][-1]["content"] == "A person's corrected answer." for r in rows)
    assert all(r["verified_by"] == ["checker"] for r in rows if r["origin"] == "synthetic-verified")
    assert "synthetic-verified 28.6 %, synthetic-unverified 71.4 %" in summary

    # the dashboard's Synthetic tab, as a manager sees it
    server.user("synth-boss", "manager")
    page = login(browser, server, "synth-boss", viewport=(1280, 900))
    page.goto(f"/#/p/{project['id']}/dashboard")
    page.get_by_role("tab", name="Synthetic").click()
    panel = page.get_by_test_id("synth-panel")
    panel.wait_for()
    page.get_by_test_id("synth-run").first.wait_for()
    assert page.get_by_test_id("synth-records").inner_text() == "8"
    assert page.get_by_test_id("synth-verified").inner_text() == "2"
    assert page.get_by_test_id("synth-rejected").inner_text() == "1"
    assert page.get_by_test_id("synth-run").count() == 1
    cells = page.get_by_test_id("synth-run").first.locator("td").all_inner_texts()
    assert cells[2:4] == ["12", "8"]  # generated, accepted
    assert "Teacher shares" in panel.inner_text() and "t-alpha" in panel.inner_text()
    assert panel.locator("svg.plot").count() == 4
    labels = [panel.locator("svg.plot").nth(i).get_attribute("aria-label") or "" for i in range(4)]
    assert "t-alpha 50" in labels[1] and "t-beta 50" in labels[1]
    # then the embedding figures (the first report loads the local model into the server)
    page.get_by_test_id("synth-spread").wait_for(timeout=180_000)
    assert "minilm" in page.get_by_test_id("synth-spread").inner_text()
    shot(page, "synthetic-dashboard")
    assert violations(page) == []
    page.context.close()
