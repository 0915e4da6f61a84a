"""Seed 002's import path for the durable store: ``from webapp.storage.sqlite import SQLiteStore``.

The implementation lives in :mod:`webapp.store` (the only room that touches SQLite); this
package only gives it the seed's name.
"""
