"""Accounts: tokens authenticate, are remembered briefly per process, and revocation is immediate here."""

from __future__ import annotations

import pytest

from assay.domain.errors import Unauthenticated, ValidationError
from assay.services import accounts
from assay.services.actors import SYSTEM
from assay.store.engine import Store


def test_token_cache_forgets_a_revoked_token_at_once(store: Store) -> None:
    new = accounts.add_user(store, SYSTEM, "ann", role="annotator")
    assert accounts.cached_actor(store, new.token) is None
    actor = accounts.authenticate_token(store, new.token)
    assert accounts.cached_actor(store, new.token) == actor
    assert actor.token_id is not None
    accounts.revoke_token(store, actor, actor.token_id)
    assert accounts.cached_actor(store, new.token) is None
    with pytest.raises(Unauthenticated):
        accounts.authenticate_token(store, new.token)


def test_session_end_and_password_change_forget_the_session(store: Store) -> None:
    accounts.add_user(store, SYSTEM, "bob", role="annotator", password="long enough pw")
    bob = accounts.login(store, "bob", "long enough pw")
    session = accounts.create_session(store, bob)
    assert accounts.authenticate_token(store, session).token_kind == "session"
    accounts.set_password(store, SYSTEM, "bob", "another long pw")
    assert accounts.cached_actor(store, session) is None
    accounts.authenticate_token(store, session)
    accounts.end_session(store, session)
    assert accounts.cached_actor(store, session) is None
    with pytest.raises(Unauthenticated):
        accounts.authenticate_token(store, session)
    with pytest.raises(Unauthenticated):
        accounts.login(store, "bob", "long enough pw")


@pytest.mark.parametrize(
    ("costs", "field"),
    [
        ({"cost_per_item": float("inf")}, "cost_per_item"),  # (stats would multiply it into every total)
        ({"cost_per_hour": float("nan")}, "cost_per_hour"),
        ({"cost_per_item": -0.5}, "cost_per_item"),
    ],
)
def test_a_cost_is_a_finite_number_not_below_zero(store: Store, costs: dict[str, float], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        accounts.add_user(store, SYSTEM, "ann", role="annotator", **costs)
    assert info.value.field == field
    assert [u["name"] for u in accounts.list_users(store, SYSTEM)] == []
