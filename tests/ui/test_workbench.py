"""The annotator's workbench in a real browser against a real `assay serve`."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import CSP_VIOLATIONS, Server, login, png_data_url, shot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def setup(server: Server) -> dict[str, Any]:
    server.user("ann", "annotator")
    server.user("rev", "reviewer")
    server.user("boss", "manager")
    cls = server.project(
        {
            "name": "sentiment",
            "fields": [{"name": "review", "type": "text"}],
            "questions": [
                {"name": "sentiment", "type": "label", "options": ["positive", "negative", "mixed"]}
            ],
            "workflow": {"overlap": 1, "review_rate": 1.0},
            "guidelines": "Label the **overall** sentiment.",
        },
        [
            {"external_id": f"r{i}", "review": f"Review number {i}: it was {'great' if i % 2 else 'bad'}."}
            for i in range(10)
        ],
    )
    return {"cls": cls}


def test_sign_in_page_is_what_a_visitor_sees(browser: Any, server: Server) -> None:
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, base_url=server.url)
    page = ctx.new_page()
    page.goto("/")
    page.get_by_role("heading", name="Sign in to assay").wait_for()
    shot(page, "01-sign-in")
    ctx.close()


def test_label_ten_records_with_the_keyboard(browser: Any, server: Server, setup: dict[str, Any]) -> None:
    page = login(browser, server, "ann")
    shot(page, "02-home")
    page.get_by_role("link", name="sentiment").first.click()
    chosen = []
    for i in range(10):
        rec = page.locator("[data-testid=record]")
        rec.wait_for()
        rid = rec.get_attribute("data-record-id")
        key = "1" if i % 3 else "2"
        page.keyboard.press(key)
        if i == 0:
            shot(page, "03-workbench-label")
        page.keyboard.press("Enter")
        page.wait_for_function(
            "rid => { const r = document.querySelector('[data-testid=record]'); return !r || r.dataset.recordId !== rid; }",
            arg=rid,
        )
        chosen.append((rid, "positive" if key == "1" else "negative"))
    page.get_by_test_id("all-done").wait_for()
    got = {str(r["record_id"]): r["values"]["sentiment"] for r in server.responses(setup["cls"]["id"])}
    assert got == {rid: v for rid, v in chosen}
    page.context.close()


def _open(page: Any, project: dict[str, Any]) -> None:
    page.goto(f"/#/p/{project['id']}/work")
    page.locator("[data-testid=record]").wait_for()


def _submit_and_wait(page: Any) -> None:
    rid = page.locator("[data-testid=record]").get_attribute("data-record-id")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "rid => { const r = document.querySelector('[data-testid=record]'); return !r || r.dataset.recordId !== rid; }",
        arg=rid,
    )


def test_preference_box_span_and_trajectory(browser: Any, server: Server, setup: dict[str, Any]) -> None:
    pref = server.project(
        {
            "name": "pairs",
            "fields": [{"name": "prompt", "type": "text"}, {"name": "candidates", "type": "comparison"}],
            "questions": [
                {
                    "name": "preference",
                    "type": "preference",
                    "field": "candidates",
                    "ties": True,
                    "strength": True,
                }
            ],
        },
        [
            {
                "external_id": "p1",
                "prompt": "Say hi",
                "candidates": [{"model": "a", "text": "Hi!"}, {"model": "b", "text": "Hello there, friend."}],
            }
        ],
    )
    img = server.project(
        {
            "name": "boxes",
            "fields": [{"name": "photo", "type": "image"}],
            "questions": [{"name": "objects", "type": "bbox", "field": "photo", "labels": ["car", "person"]}],
        },
        [{"external_id": "i1", "photo": {"url": png_data_url(64, 48), "width": 640, "height": 480}}],
    )
    ner = server.project(
        {
            "name": "ner",
            "fields": [{"name": "text", "type": "text"}],
            "questions": [{"name": "entities", "type": "span", "field": "text", "labels": ["PER", "ORG"]}],
        },
        [{"external_id": "n1", "text": "Ada Lovelace worked with Babbage."}],
    )
    steps = [
        {"role": "user", "content": "Refund order 1234"},
        {
            "role": "assistant",
            "content": "Look it up",
            "tool_calls": [{"id": "c1", "name": "lookup_order", "arguments": {"order": 1234}}],
        },
        {"role": "tool", "tool_results": [{"call_id": "c1", "content": {"status": "shipped"}}]},
        {
            "role": "assistant",
            "content": "Look again",
            "tool_calls": [{"id": "c2", "name": "lookup_order", "arguments": {"order": 1234}}],
        },
        {
            "role": "assistant",
            "content": "Refund",
            "tool_calls": [{"id": "c3", "name": "refund", "arguments": {"order": 4321}}],
        },
        {"role": "assistant", "content": "Refunded."},
    ]
    traj = server.project(
        {
            "name": "agents",
            "fields": [{"name": "run", "type": "trajectory"}],
            "questions": [
                {"name": "steps", "type": "step_review", "field": "run"},
                {"name": "success", "type": "label", "options": ["yes", "no"]},
            ],
        },
        [{"external_id": "t1", "run": {"task": "Refund order 1234", "steps": steps}}],
    )
    page = login(browser, server, "ann")

    # A pairwise preference: the second candidate shown is better, strongly — keys only. (The
    # server shuffles the candidates per lease against position bias.)
    _open(page, pref)
    second = page.locator("[data-candidate]").nth(1).get_attribute("data-candidate")
    page.keyboard.press("2")
    page.keyboard.press("Shift+3")
    shot(page, "04-workbench-preference")
    _submit_and_wait(page)

    # A box on the image: drag on the overlay.
    _open(page, img)
    ov = page.get_by_test_id("image-overlay")
    ov.wait_for()
    # Drag once the image has loaded (its natural size sets the overlay's coordinates) and the
    # page has painted that.
    page.wait_for_function(
        "() => { const i = document.querySelector('.imgwrap img'); return i && i.complete && i.naturalWidth > 0; }"
    )
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    b = ov.bounding_box()
    page.mouse.move(b["x"] + b["width"] * 0.1, b["y"] + b["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] * 0.3, b["y"] + b["height"] * 0.4, steps=5)
    page.mouse.up()
    page.locator("[data-testid=region-objects]").wait_for()
    shot(page, "05-workbench-bbox")
    _submit_and_wait(page)

    # A span: select "Ada Lovelace", press 1 (PER).
    _open(page, ner)
    # The key is pressed once the page has heard of the selection (``selectionchange``).
    page.evaluate(
        """() => new Promise(done => {
        const el = document.querySelector('[data-testid=span-text] [data-off]');
        const r = document.createRange(); r.setStart(el.firstChild, 0); r.setEnd(el.firstChild, 12);
        const s = getSelection(); s.removeAllRanges();
        const heard = () => { if (!s.isCollapsed) { document.removeEventListener('selectionchange', heard); done(); } };
        document.addEventListener('selectionchange', heard);
        s.addRange(r); })"""
    )
    page.keyboard.press("1")
    page.locator("[data-testid=region-entities]").wait_for()
    shot(page, "06-workbench-span")
    _submit_and_wait(page)

    # A 6-step trajectory: j/k between steps, 1..5 verdicts; step 3 unnecessary, step 4 wrong arguments.
    _open(page, traj)
    assert page.get_by_test_id("suggested").count() >= 1
    page.keyboard.press("1")  # step 0 correct
    for _ in range(3):
        page.keyboard.press("j")
    page.keyboard.press("4")  # step 3: unnecessary
    page.keyboard.press("j")
    page.keyboard.press("3")  # step 4: wrong_arguments
    page.keyboard.press("]")
    page.keyboard.press("2")  # success: no
    shot(page, "07-workbench-trajectory")
    _submit_and_wait(page)
    page.context.close()

    [p] = server.responses(pref["id"])
    # blind: the page named the candidates A and B only; the answer is stored with the real id
    assert second == "B" and p["values"]["preference"]["strength"] == 3
    assert p["values"]["preference"]["choice"] in {"a", "b"}
    [i] = server.responses(img["id"])
    [box] = i["values"]["objects"]
    assert box["label"] == "car" and 50 < box["x"] < 80 and 80 < box["y"] < 110 and 100 < box["w"] < 150
    [n] = server.responses(ner["id"])
    assert n["values"] == {"entities": [{"start": 0, "end": 12, "label": "PER"}]}
    [t] = server.responses(traj["id"])
    # Step 3 repeats step 1's call: the import's pre-check suggested "unnecessary" (pre-filled, with
    # its comment); the annotator kept it.
    assert {k: v["verdict"] for k, v in t["values"]["steps"].items()} == {
        "0": "correct",
        "3": "unnecessary",
        "4": "wrong_arguments",
    }
    assert t["values"]["success"] == "no"


def test_record_text_is_never_run(browser: Any, server: Server) -> None:
    evil = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    p = server.project(
        {
            "name": "xss",
            "fields": [{"name": "body", "type": "text"}, {"name": "notes", "type": "markdown"}],
            "questions": [{"name": "ok", "type": "label", "options": ["yes", "no"]}],
        },
        [{"external_id": "x1", "body": evil, "notes": "# Title\n\n" + evil}],
    )
    page = login(browser, server, "ann")
    _open(page, p)
    # Every image the record's fields hold has finished (a broken src= fails at once), so an
    # error handler that was going to run has run; then two frames for anything queued after it.
    page.locator("[data-field=notes]").wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('[data-field] img')].every(i => i.complete)")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert page.evaluate("window.__pwned") is None
    assert evil in page.locator("[data-field=body] .text").inner_text()
    assert (
        page.locator("[data-field=body] img, [data-field=body] script, [data-field=notes] script").count()
        == 0
    )
    assert page.locator("[data-field=notes] img[onerror]").count() == 0
    # The sanitiser parses the markdown in an inert document, where Chromium still checks the
    # handler against the page's CSP: refused there too (reported, never run).
    assert all("inline event handler" in v for v in CSP_VIOLATIONS), CSP_VIOLATIONS
    CSP_VIOLATIONS.clear()
    shot(page, "08-workbench-xss")
    page.context.close()


def test_reviewer_corrects_and_manager_sees_counts(
    browser: Any, server: Server, setup: dict[str, Any]
) -> None:
    cls = setup["cls"]
    # The manager's dashboard before and after more work.
    boss = login(browser, server, "boss")
    boss.goto(f"/#/p/{cls['id']}/dashboard")
    boss.get_by_test_id("kpi-responses").wait_for()
    boss.wait_for_function("() => document.querySelector('[data-testid=kpi-responses]').textContent === '10'")
    shot(boss, "09-dashboard")

    rev = login(browser, server, "rev")
    rev.goto(f"/#/p/{cls['id']}/review")
    rev.get_by_test_id("review-item").wait_for()
    shot(rev, "10-review")
    rid = rev.get_by_test_id("review-item").get_attribute("data-review-id")
    before = rev.get_by_test_id("this-sentiment").inner_text()
    rev.keyboard.press("c")
    rev.get_by_test_id("correct-form").wait_for()
    rev.get_by_test_id("correct-form").get_by_role("radio", name="mixed").click()
    rev.get_by_role("button", name="Save correction").click()
    rev.wait_for_function(
        "rid => { const r = document.querySelector('[data-testid=review-item]'); return !r || r.dataset.reviewId !== rid; }",
        arg=rid,
    )
    assert before in ("positive", "negative")
    decided = server.api.get(f"/projects/{cls['id']}/reviews").json()["items"]
    assert all(str(x["review_id"]) != rid for x in decided)

    # The dashboard counts move: records tab shows history; reload overview.
    boss.reload()
    boss.get_by_test_id("kpi-done").wait_for()
    boss.get_by_role("tab", name="Records").click()
    boss.get_by_role("button", name="r1", exact=True).click()
    boss.get_by_test_id("history").wait_for()
    shot(boss, "11-dashboard-records")
    boss.get_by_role("tab", name="Contributors").click()
    boss.get_by_test_id("contributor").first.wait_for()
    shot(boss, "12-dashboard-contributors")
    boss.context.close()
    rev.context.close()


def test_annotator_cannot_open_the_dashboard(browser: Any, server: Server, setup: dict[str, Any]) -> None:
    page = login(browser, server, "ann")
    assert page.get_by_role("link", name="Dashboard").count() == 0
    page.goto(f"/#/p/{setup['cls']['id']}/dashboard")
    page.get_by_test_id("forbidden").wait_for()
    # and the server refuses it anyway
    status = page.evaluate(f"fetch('/api/v1/projects/{setup['cls']['id']}/stats').then(r => r.status)")
    assert status in (403, 404)
    shot(page, "13-annotator-forbidden")
    page.context.close()


def test_tablet_width(browser: Any, server: Server, setup: dict[str, Any]) -> None:
    page = login(browser, server, "boss", viewport=(800, 1100))
    page.goto(f"/#/p/{setup['cls']['id']}/dashboard")
    page.get_by_test_id("kpi-done").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shot(page, "14-tablet-dashboard")
    page.context.close()


def test_reference_diff_beside_the_agents_trajectory(
    browser: Any, server: Server, setup: dict[str, Any]
) -> None:
    search = {"role": "assistant", "tool_calls": [{"name": "search", "arguments": {"q": "paris"}}]}
    book = {"role": "assistant", "tool_calls": [{"name": "book", "arguments": {"flight": 2}}]}
    gold_book = {"role": "assistant", "tool_calls": [{"name": "book", "arguments": {"flight": 1}}]}
    pay = {"role": "assistant", "tool_calls": [{"name": "pay", "arguments": {}}]}
    p = server.project(
        {
            "name": "ref-diff",
            "fields": [{"name": "trace", "type": "trajectory"}],
            "questions": [{"name": "steps", "type": "step_review", "field": "trace"}],
        },
        [{"external_id": "r1", "trace": {"steps": [search, book], "reference": [search, gold_book, pay]}}],
    )
    page = login(browser, server, "ann")
    _open(page, p)
    diff = page.locator("[data-testid=reference-diff]")
    diff.wait_for()
    kinds = diff.locator("tbody tr").evaluate_all("rows => rows.map(r => r.dataset.kind)")
    assert sorted(kinds) == ["different_arguments", "match", "missing"]
    assert "precision 50%" in diff.inner_text() and "recall 33%" in diff.inner_text()
    shot(page, "17-workbench-reference-diff")
    page.context.close()
