"""Hardening (issue 20, item 6): sign-in limits, trusted proxies, security headers, CSRF bound to
the session, and an OpenAPI that declares its errors and checks what the server checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from assay.api.headers import API_POLICY, UI_POLICY
from assay.domain.text import NAME_PATTERN
from assay.settings import Settings, trusted_proxies
from tests.api.conftest import API, Live, running, spawn_server, stop_server
from tests.api.test_security import assert_problem, setup_world
from tests.factories import make_user


def _fail(c: httpx.Client, name: str, **headers: str) -> httpx.Response:
    return c.post("/auth/login", json={"name": name, "password": "wrong!"}, headers=headers)


def test_one_account_is_limited_from_any_number_of_addresses(db_url: str, tmp_path: Path) -> None:
    """Behind a trusted proxy each X-Forwarded-For is an address; one name still gets 20 tries."""
    settings = Settings(home=tmp_path, database_url=db_url, trusted_proxies=("127.0.0.1",))
    with running(db_url, settings) as live:
        make_user(live.store, "boss", role="admin", password="correct horse")
        c = live.client()
        for _ in range(10):
            assert_problem(_fail(c, "boss", **{"X-Forwarded-For": "10.0.0.1"}), 401)
        assert_problem(_fail(c, "boss", **{"X-Forwarded-For": "10.0.0.1"}), 429)
        # the proxy's address is believed: another client of the proxy is another address ...
        for i in range(10):
            assert_problem(_fail(c, "boss", **{"X-Forwarded-For": f"10.0.1.{i}"}), 401)
        # ... but the account has had 20 failures from anywhere: every address waits now
        r = c.post(
            "/auth/login",
            json={"name": "boss", "password": "correct horse"},
            headers={"X-Forwarded-For": "10.9.9.9"},
        )
        assert_problem(r, 429, "rate_limited")
        assert int(r.headers["retry-after"]) > 0
        # variants of the name are the same account (NFKC, spaces)
        assert_problem(_fail(c, " ｂoss ", **{"X-Forwarded-For": "10.9.9.8"}), 429)


def test_password_spraying_from_one_address_is_limited(live: Live) -> None:
    """One password tried on many names: 30 failures from an address, then it waits."""
    setup_world(live)
    c = live.client()
    for i in range(30):
        assert_problem(_fail(c, f"someone{i}"), 401)
    assert_problem(_fail(c, "someone-new"), 429, "rate_limited")
    r = c.post("/auth/login", json={"name": "boss", "password": "correct horse"})
    assert_problem(r, 429)


def test_forwarded_headers_are_ignored_unless_from_a_configured_proxy(db_url: str, tmp_path: Path) -> None:
    """`assay serve` without ASSAY_TRUSTED_PROXIES: a rotating X-Forwarded-For changes nothing."""
    proc, url = spawn_server(db_url, tmp_path)
    try:
        with httpx.Client(base_url=url + API, timeout=30) as c:
            for i in range(10):
                assert_problem(_fail(c, "boss", **{"X-Forwarded-For": f"192.0.2.{i}"}), 401)
            assert_problem(_fail(c, "boss", **{"X-Forwarded-For": "192.0.2.200"}), 429)
    finally:
        stop_server(proc)


def test_the_trusted_proxies_setting_is_checked() -> None:
    assert trusted_proxies(" 10.0.0.1, 10.1.0.0/16 ,::1") == ("10.0.0.1", "10.1.0.0/16", "::1")
    assert trusted_proxies("") == ()
    with pytest.raises(ValueError, match="ASSAY_TRUSTED_PROXIES"):
        trusted_proxies("proxy.local")


def _security_headers(r: httpx.Response, policy: str) -> None:
    assert r.headers["content-security-policy"] == policy, (r.url, r.headers)
    assert "frame-ancestors 'none'" in policy
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_every_answer_carries_a_content_security_policy_and_refuses_frames(live: Live) -> None:
    w = setup_world(live)
    anon = live.client()
    _security_headers(anon.get("/health"), API_POLICY)
    _security_headers(anon.get("/me"), API_POLICY)  # errors too
    ann = live.client(w["ann1"])
    _security_headers(ann.post(f"/projects/{w['p']['id']}/next"), API_POLICY)  # the hot lane
    docs = anon.get("/docs")
    assert "cdn.jsdelivr.net" in docs.headers["content-security-policy"]
    assert docs.headers["x-frame-options"] == "DENY"
    with httpx.Client(base_url=live.url) as ui:
        for path in ("/", "/projects/1/work"):
            _security_headers(ui.get(path), UI_POLICY)
    assert "script-src 'self';" in UI_POLICY and "unsafe-eval" not in UI_POLICY


def _sign_in(live: Live) -> tuple[httpx.Client, str, str]:
    c = live.client()
    r = c.post("/auth/login", json={"name": "boss", "password": "correct horse"})
    assert r.status_code == 200, r.text
    return c, r.json()["csrf_token"], c.cookies["assay_session"]


def test_a_csrf_token_is_refused_on_another_session(live: Live) -> None:
    setup_world(live)
    first, first_csrf, _ = _sign_in(live)
    second, second_csrf, second_session = _sign_in(live)
    assert first_csrf != second_csrf
    # another session's token, even with a CSRF cookie made to match it (set by a sibling site)
    forged = live.client(cookies={"assay_session": second_session, "assay_csrf": first_csrf})
    r = forged.post("/users", json={"name": "x1"}, headers={"X-CSRF-Token": first_csrf})
    assert_problem(r, 403, "forbidden")
    ok = second.post("/users", json={"name": "x1"}, headers={"X-CSRF-Token": second_csrf})
    assert ok.status_code == 201, ok.text
    assert first.post("/users", json={"name": "x2"}, headers={"X-CSRF-Token": first_csrf}).status_code == 201


def test_a_session_signed_in_before_the_binding_gets_its_token_on_its_next_page_load(live: Live) -> None:
    """A CSRF cookie that is not the session's (one set before tokens were bound to sessions) is
    set again by GET /me, which the web UI asks when it loads; writes then work again."""
    setup_world(live)
    _, csrf, session = _sign_in(live)
    old = live.client(cookies={"assay_session": session, "assay_csrf": "from-before"})
    assert_problem(old.post("/users", json={"name": "x3"}, headers={"X-CSRF-Token": "from-before"}), 403)
    r = old.get("/me")
    assert r.status_code == 200 and r.cookies["assay_csrf"] == csrf
    ok = old.post("/users", json={"name": "x3"}, headers={"X-CSRF-Token": r.cookies["assay_csrf"]})
    assert ok.status_code == 201, ok.text
    right = live.client(cookies={"assay_session": session, "assay_csrf": csrf})
    assert "assay_csrf" not in right.get("/me").headers.get("set-cookie", "")  # (nothing to set)


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def test_the_openapi_declares_its_problem_answers(live: Live) -> None:
    spec = live.client().get("/openapi.json").json()
    assert spec["components"]["schemas"]["Problem"]["required"] == [
        "type",
        "title",
        "status",
        "detail",
        "code",
    ]
    for method, path, op in _operations(spec):
        responses = op["responses"]
        expected = {"404", "422", "503"}
        if op["x-access"] != "public":
            expected |= {"401", "403"}
        if "requestBody" in op:
            expected |= {"400", "413"}
        assert expected <= set(responses), (method, path, sorted(responses))
        for status, answer in responses.items():
            if status.startswith(("4", "5")):
                content = answer["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
                assert content["application/problem+json"]["schema"] == {
                    "$ref": "#/components/schemas/Problem"
                }
    assert "429" in spec["paths"][f"{API}/auth/login"]["post"]["responses"]


def test_the_openapi_request_schemas_check_what_the_server_checks(live: Live) -> None:
    schemas = live.client().get("/openapi.json").json()["components"]["schemas"]
    user = schemas["UserIn"]["properties"]
    assert user["role"]["enum"] == ["admin", "manager", "reviewer", "annotator"]
    assert user["kind"]["enum"] == ["human", "model"]
    assert user["name"]["maxLength"] == 200 and user["name"]["minLength"] == 1
    assert user["name"]["pattern"] == NAME_PATTERN  # (tests/domain/test_text.py: clean_name's rule)
    assert schemas["MemberIn"]["properties"]["role"]["enum"] == ["admin", "manager", "reviewer", "annotator"]
    assert schemas["WorkspaceIn"]["properties"]["name"]["maxLength"] == 200
    for name in ("UserIn", "MemberIn", "LoginIn", "ReviewIn", "WorkspaceIn"):
        assert schemas[name]["additionalProperties"] is False, name
