"""The keyboard in the workbench and in review's correction (issue 24, item 3): a text question
reached with ] takes the typing, shortcut letters never leak into a dialog's box, a choice moves
on so the next digit answers the next question, and correcting a review takes keys."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Server, login, shot
from .test_dashboard_panels import answer_all
from .test_workbench import _open, _submit_and_wait

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def projects(server: Server) -> dict[str, Any]:
    server.user("kim", "annotator")
    server.user("rex", "reviewer")
    pref = server.project(
        {
            "name": "keys",
            "fields": [{"name": "prompt", "type": "text"}, {"name": "candidates", "type": "comparison"}],
            "questions": [
                {"name": "pref", "type": "preference", "field": "candidates", "strength": True},
                {"name": "helpful", "type": "rating", "scale": 5},
                {"name": "rationale", "type": "text", "required": False},
                {"name": "tone", "type": "label", "options": ["calm", "rude"]},
            ],
            "workflow": {"overlap": 1},
        },
        [
            {
                "external_id": f"k{i}",
                "prompt": f"prompt {i}",
                "candidates": [{"model": "m1", "text": "one"}, {"model": "m2", "text": "two"}],
            }
            for i in range(2)
        ],
    )
    review = server.project(
        {
            "name": "keys-review",
            "fields": [{"name": "text", "type": "text"}],
            "questions": [
                {"name": "topic", "type": "label", "options": ["billing", "shipping", "other"]},
                {"name": "note", "type": "text", "required": False},
            ],
            "workflow": {"overlap": 1, "review_rate": 1.0},
        },
        [{"external_id": "r1", "text": "Where is my parcel?"}],
    )
    return {"pref": pref, "review": review}


def test_workbench_keys(browser: Any, server: Server, projects: dict[str, Any]) -> None:
    page = login(browser, server, "kim", viewport=(1280, 900))
    _open(page, projects["pref"])
    page.keyboard.press("1")  # A is better: the rating question comes next
    page.keyboard.press("Shift+3")  # strength of the preference just chosen
    page.keyboard.press("4")  # answers the rating, not the preference again; the rationale is next
    box = page.locator("#q-rationale-in")
    page.wait_for_function("() => document.activeElement?.id === 'q-rationale-in'")
    page.keyboard.type("sure, fine")  # its box takes the typing
    assert box.input_value() == "sure, fine"
    assert page.locator("[role=dialog]").count() == 0  # `s` and `f` typed, no dialog opened
    page.keyboard.press("Escape")  # leave the box: shortcuts again
    page.wait_for_function("() => document.activeElement?.id !== 'q-rationale-in'")
    page.keyboard.press("s")
    dialog = page.locator("[role=dialog]")
    dialog.wait_for()
    assert dialog.locator("input").input_value() == ""  # the letter did not leak into the reason
    page.keyboard.press("Escape")
    page.keyboard.press("f")
    dialog.wait_for()
    assert dialog.locator("input").input_value() == ""
    page.keyboard.press("Escape")
    page.keyboard.press("[")  # back to the rating ...
    page.keyboard.press("]")  # ... and ] to the rationale focuses its box
    page.wait_for_function("() => document.activeElement?.id === 'q-rationale-in'")
    page.keyboard.type("!")
    page.keyboard.press("Escape")
    page.keyboard.press("]")  # tone
    page.keyboard.press("1")
    shot(page, "24-keyboard")
    _submit_and_wait(page)
    page.context.close()
    [resp] = [r for r in server.responses(projects["pref"]["id"])]
    values = resp["values"]
    assert values["helpful"] == 4 and values["rationale"] == "sure, fine!" and values["tone"] == "calm"
    assert values["pref"]["strength"] == 3 and values["pref"]["choice"] in ("m1", "m2")


def test_correcting_a_review_takes_keys(browser: Any, server: Server, projects: dict[str, Any]) -> None:
    lee = server.user("lee2", "annotator")
    answer_all(server, lee["token"], projects["review"]["id"], lambda r: {"topic": "billing"})
    page = login(browser, server, "rex", viewport=(1280, 900))
    page.goto(f"/#/p/{projects['review']['id']}/review")
    page.get_by_test_id("review-item").wait_for()
    page.keyboard.press("c")
    page.get_by_test_id("correct-form").wait_for()
    page.keyboard.press("2")  # topic: shipping; the note comes next and takes the typing
    page.wait_for_function("() => document.activeElement?.id === 'q-note-in'")
    page.keyboard.type("customer asks about a parcel")
    page.keyboard.press("Control+Enter")  # save the correction from the text box
    page.get_by_test_id("no-reviews").wait_for()
    page.context.close()
    [resp] = server.responses(projects["review"]["id"])
    full = server.api.get(f"/records/{resp['record_id']}").json()
    [r] = full["responses"]
    assert r["review"] == "correct"
    assert r["corrected_values"] == {"topic": "shipping", "note": "customer asks about a parcel"}
