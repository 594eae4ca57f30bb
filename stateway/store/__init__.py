"""Persistence: the store protocol and its SQLite implementation (PostgreSQL comes next)."""
