"""At phone width (375 px) the toolbars fit: no control is pushed off screen (issue 24, item 9)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Server, login, shot
from .test_workbench import _open

pytestmark = pytest.mark.browser

OVERFLOW = """() => {
  const bad = [];
  const doc = document.documentElement;
  if (doc.scrollWidth > window.innerWidth + 1) bad.push(`page ${doc.scrollWidth} > ${window.innerWidth}`);
  for (const el of document.querySelectorAll('[role=toolbar], .topbar')) {
    if (el.scrollWidth > el.clientWidth + 1) bad.push(`${el.className} ${el.scrollWidth} > ${el.clientWidth}`);
    for (const c of el.querySelectorAll('button, a, h1, span')) {
      const r = c.getBoundingClientRect();
      if (r.width && (r.right > window.innerWidth + 1 || r.left < -1)) bad.push(`${c.textContent.trim()} off screen`);
    }
  }
  return bad;
}"""


@pytest.fixture(scope="module")
def project(server: Server) -> dict[str, Any]:
    server.user("pat", "manager")
    return server.project(
        {
            "name": "a-project-with-a-rather-long-name",
            "fields": [{"name": "text", "type": "text"}],
            "questions": [{"name": "topic", "type": "label", "options": ["billing", "shipping"]}],
        },
        [{"external_id": "p1", "text": "Where is my parcel?"}],
    )


def test_the_toolbars_fit_a_phone(browser: Any, server: Server, project: dict[str, Any]) -> None:
    page = login(browser, server, "pat", viewport=(375, 740))
    _open(page, project)
    assert page.evaluate(OVERFLOW) == []
    shot(page, "24-phone-workbench")
    page.goto(f"/#/p/{project['id']}/dashboard")
    page.get_by_role("tab", name="Records").wait_for()
    assert page.evaluate(OVERFLOW) == []
    page.context.close()
