"""Who may call each route, declared next to it: ``@router.get(path, **access("project:reviewer"))``.

The declaration goes into the route's OpenAPI operation as ``x-access`` (so clients read it
there too), and ``tests/api/test_authorization_matrix.py`` calls every route as every role, on
objects of the caller's workspace and of another, and checks what each gets against it: a route
without a declaration fails the suite. The rules themselves live in :mod:`assay.services.policies`;
a declaration says which of them the route's service applies.
"""

from __future__ import annotations

from typing import Any

__all__ = ["RULES", "access"]

ROLES = ("annotator", "reviewer", "manager")

RULES: dict[str, str] = {
    "public": "anyone, signed in or not",
    "signed-in": "any signed-in user (its own things)",
    "admin": "instance admins only",
    "role:manager": "a manager of some workspace (sees its own workspaces' things)",
    "workspace:manager": "a manager of the workspace the request names (another workspace: 404)",
    **{
        f"project:{r}": f"the {r} role or above on the project (another workspace's: 404; lower: 403)"
        for r in ROLES
    },
    "record:reviewer": "the reviewer role or above on the record's project; an annotator only "
    "while it holds a lease on the record (else 404)",
    "holder": "the holder of the lease (anyone else: 404)",
    "owner": "the owner of the token, or an admin (anyone else: 404)",
}


def access(rule: str, *, openapi_extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Route decorator keywords that declare ``rule`` (one of :data:`RULES`)."""
    if rule not in RULES:
        raise ValueError(f"unknown access rule {rule!r}; one of {', '.join(RULES)}")
    return {"openapi_extra": {**(openapi_extra or {}), "x-access": rule}}
