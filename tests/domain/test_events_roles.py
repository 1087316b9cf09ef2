from __future__ import annotations

import dataclasses

import pytest

import assay.domain as domain
from assay.domain import ALL_ACTIONS, PROJECT_CREATED, ContributorKind, Event, Role


def test_event_constants() -> None:
    assert PROJECT_CREATED == "project.created"
    names = [
        n
        for n in domain.__all__
        if n.isupper() and isinstance(getattr(domain, n), str) and "." in getattr(domain, n)
    ]
    assert {getattr(domain, n) for n in names} <= ALL_ACTIONS
    for n in (
        "RESPONSE_SUBMITTED",
        "ASSIGNMENT_EXPIRED",
        "DATASET_VERSION_CREATED",
        "EXPORTED",
        "MEMBER_ADDED",
    ):
        assert getattr(domain, n) in ALL_ACTIONS


def test_event_is_frozen() -> None:
    e = Event(
        actor_id=1, action=PROJECT_CREATED, object_type="project", object_id=3, project_id=3, after={"a": 1}
    )
    assert e.at.tzinfo is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.action = "x"  # type: ignore[misc]


def test_roles() -> None:
    assert Role.ANNOTATOR < Role.REVIEWER < Role.MANAGER < Role.ADMIN
    assert max(Role) == Role.ADMIN
    assert Role("manager").at_least("reviewer")
    assert not Role.ANNOTATOR.at_least(Role.REVIEWER)
    assert Role.ANNOTATOR.can("annotate") and not Role.ANNOTATOR.can("review")
    assert Role.REVIEWER.can("review") and not Role.REVIEWER.can("import")
    assert Role.MANAGER.can("export") and not Role.MANAGER.can("manage_users")
    assert Role.ADMIN.can("manage_users")
    assert not Role.ADMIN.can("no_such_action")
    assert Role.ADMIN == "admin"
    assert ContributorKind("model") is ContributorKind.MODEL
