"""Role checks: the ``require_role`` decorator and the predicates templates and views use."""

from __future__ import annotations

import functools

from flask import abort
from flask_login import current_user

from webapp.accounts import users


def user_can(role: str) -> bool:
    """Whether the signed-in user has ``role`` or above (for templates and mixed views)."""
    return current_user.is_authenticated and current_user.can(role)


def nobody_can(role: str) -> bool:
    """``user_can`` for a page rendered for nobody signed in."""
    return False


def user_can_delete() -> bool:
    return user_can("admin")


def require_role(role: str):
    """Decorator: 403 unless the signed-in user has ``role`` or above.

    The gate has already turned away anonymous requests; the role lives on the view as
    ``required_role`` so tests and the OpenAPI document can read it.
    """
    users.check_role(role)

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                abort(401)
            if not current_user.can(role):
                abort(
                    403,
                    f"This needs the {role} role; you are signed in as "
                    f"{current_user.username} ({current_user.role}).",
                )
            return view(*args, **kwargs)

        wrapper.required_role = role
        return wrapper

    return decorate
