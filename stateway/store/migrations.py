"""Numbered SQL migrations with checksums: applied once, in order, and never edited afterwards."""

from __future__ import annotations

import hashlib
import sqlite3
from importlib import resources

from stateway.asl.errors import StatewayError


class MigrationError(StatewayError):
    """A migration that was applied before has changed, or the database is newer than the code."""


def _migrations(dialect: str) -> list[tuple[int, str, str]]:
    folder = resources.files("stateway.store") / "migrations" / dialect
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            found.append((number, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


def migrate_sqlite(connection: sqlite3.Connection) -> int:
    """Bring the schema up to date; returns the number of migrations applied now."""
    connection.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL)"
    )
    applied = {row[0]: (row[1], row[2]) for row in
               connection.execute("SELECT version, name, checksum FROM schema_migrations")}
    known = _migrations("sqlite")
    newest_known = known[-1][0] if known else 0
    if applied and max(applied) > newest_known:
        raise MigrationError(f"the database schema (version {max(applied)}) is newer than this stateway "
                             f"(version {newest_known})")
    count = 0
    for number, name, sql in known:
        checksum = hashlib.sha256(sql.encode()).hexdigest()
        if number in applied:
            if applied[number][1] != checksum:
                raise MigrationError(f"migration {name} changed after it was applied")
            continue
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(sql):
                connection.execute(statement)
            connection.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                               (number, name, checksum))
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        count += 1
    return count


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (our migrations hold no `;` inside literals or triggers)."""
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
