"""Exceptions of the accounts layer; each message names what was wrong.

Lookup failures subclass ``LookupError`` (404 in the web), bad input ``ValueError`` (400).
"""

from __future__ import annotations


class AccountError(Exception):
    """Base class of every accounts error."""


class InvalidUsername(AccountError, ValueError):
    """A username that is empty, too long or has characters outside a-z 0-9 . _ -."""


class InvalidPassword(AccountError, ValueError):
    """A password that is too short or too long."""


class InvalidRole(AccountError, ValueError):
    """A role that is not viewer, operator or admin."""


class UserExists(AccountError, ValueError):
    """A username that is already taken."""


class LastAdmin(AccountError, ValueError):
    """A change that would leave no enabled admin."""


class UserNotFound(AccountError, LookupError):
    """No user has that name or id."""


class InvalidTokenName(AccountError, ValueError):
    """A token name that is empty or too long."""


class TokenNotFound(AccountError, LookupError):
    """No token has that id (or it belongs to someone else)."""


class InvalidAuditFilter(AccountError, ValueError):
    """An audit filter (date, limit, offset) that cannot be used."""
