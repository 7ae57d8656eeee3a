"""Roles: member (upload, browse) < developer (+ CORS, Health) < admin (everything, deletes)."""

from __future__ import annotations

from r2.settings import ROLES

PAGE_ROLES: dict[str, str] = {
    "browse": "member",
    "upload": "member",
    "cors": "developer",
    "health": "developer",
    "usage": "admin",
}


def roles_for(role: str) -> frozenset[str]:
    """The roles a visitor with `role` holds (roles are cumulative); `none` holds nothing."""
    if role not in ROLES:
        return frozenset()
    return frozenset(ROLES[: ROLES.index(role) + 1])


def allows(held: frozenset[str], needed: str) -> bool:
    return needed in held
