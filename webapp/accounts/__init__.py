"""Accounts: users and roles, API tokens, the audit log and login throttling.

Plain Python on top of ``webapp.store.accounts`` (no Flask): every function takes the caller's
sqlite-utils ``Database``, so the web (one per request), the CLI and tests share the rules.
Changes that the issue asks to be on record (users, roles, passwords, tokens) write their
audit entry in the same transaction as the change.
"""
