"""UI languages (issue 24): English, Spanish and Arabic from message catalogues, chosen by the
browser or by the user; Arabic lays the page out right to left, and a record is labelled there."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import PASSWORD, Server, shot
from .test_dashboard_panels import answer_all

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def project(server: Server) -> dict[str, Any]:
    server.user("samira", "annotator")
    return server.project(
        {
            "name": "languages",
            "fields": [{"name": "text", "type": "text"}],
            "questions": [{"name": "sentiment", "type": "label", "options": ["positive", "negative"]}],
        },
        [{"external_id": "l1", "text": "The refund arrived, thanks"}],
    )


def test_arabic_from_the_browser_labels_a_record(
    browser: Any, server: Server, project: dict[str, Any]
) -> None:
    ctx = browser.new_context(locale="ar-EG", base_url=server.url, viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    page.goto("/")
    page.get_by_role("heading", name="تسجيل الدخول إلى assay").wait_for()
    assert page.evaluate("() => [document.documentElement.lang, document.documentElement.dir]") == [
        "ar",
        "rtl",
    ]
    page.get_by_label("الاسم").fill("samira")
    page.get_by_label("كلمة المرور").fill(PASSWORD)
    page.get_by_role("button", name="دخول").click()
    page.get_by_role("link", name="المشاريع").wait_for()
    page.get_by_role("heading", name="المشاريع").wait_for()  # the projects page too
    page.get_by_role("link", name="توسيم").wait_for()  # the list arrives after the heading
    assert page.get_by_role("link", name="توسيم").count() == 1
    page.goto(f"/#/p/{project['id']}/work")
    page.locator("[data-testid=record]").wait_for()
    assert page.get_by_role("button", name="تخطٍّ s").count() == 1
    assert page.evaluate("() => getComputedStyle(document.body).direction") == "rtl"
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")  # no side scroll
    text = page.locator("[data-testid=record] [dir=auto]").first
    assert text.evaluate("e => getComputedStyle(e).direction") == "ltr"  # English content stays LTR
    shot(page, "24-arabic-workbench")
    page.keyboard.press("?")  # the shortcuts, in Arabic too
    assert page.get_by_test_id("shortcuts").get_by_role("heading").inner_text() == "اختصارات لوحة المفاتيح"
    page.keyboard.press("Escape")
    page.get_by_test_id("shortcuts").wait_for(state="detached")
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.get_by_test_id("all-done").wait_for()
    assert "لم يبقَ شيء لك هنا" in page.get_by_test_id("all-done").inner_text()
    ctx.close()
    [resp] = server.responses(project["id"])
    assert resp["values"] == {"sentiment": "positive"}


def test_the_user_chooses_a_language(browser: Any, server: Server, project: dict[str, Any]) -> None:
    ctx = browser.new_context(locale="en-US", base_url=server.url)
    page = ctx.new_page()
    page.goto("/")
    page.get_by_label("Name").fill("samira")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Language").select_option("es")
    page.get_by_role("link", name="Proyectos").wait_for()
    assert page.evaluate("() => document.documentElement.dir") == "ltr"
    page.reload()  # the choice is kept
    page.get_by_role("button", name="Cerrar sesión").wait_for()
    page.get_by_label("Idioma").select_option("ar")
    page.get_by_role("button", name="تسجيل الخروج").wait_for()
    assert page.evaluate("() => document.documentElement.dir") == "rtl"
    ctx.close()


def test_review_in_spanish(browser: Any, server: Server) -> None:
    server.user("rosa", "reviewer")
    ann = server.user("ana", "annotator")
    p = server.project(
        {
            "name": "revision",
            "fields": [{"name": "text", "type": "text"}],
            "questions": [{"name": "ok", "type": "label", "options": ["yes", "no"]}],
            "workflow": {"overlap": 1, "review_rate": 1.0},
        },
        [{"external_id": "r1", "text": "hola"}],
    )
    answer_all(server, ann["token"], p["id"], lambda r: {"ok": "yes"})
    ctx = browser.new_context(locale="es-ES", base_url=server.url)
    page = ctx.new_page()
    page.goto("/")
    page.get_by_label("Nombre").fill("rosa")
    page.get_by_label("Contraseña").fill(PASSWORD)
    page.get_by_role("button", name="Entrar").click()
    page.get_by_role("link", name="Proyectos").wait_for()
    page.goto(f"/#/p/{p['id']}/review")
    page.get_by_role("table", name="Esta respuesta junto a las demás y al consenso").wait_for()
    page.get_by_role("button", name="Aceptar a").click()
    page.get_by_test_id("no-reviews").wait_for()
    assert page.get_by_test_id("no-reviews").inner_text() == "No hay nada pendiente de revisión."
    ctx.close()
