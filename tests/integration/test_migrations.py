"""Numbered migrations on real SQLite files: applied once, in order, checked, and keeping the data."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from stateway.store import migrations
from stateway.store.migrations import MigrationError, migrate_sqlite
from stateway.store.queries import load_queries

pytestmark = pytest.mark.integration


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.row_factory = sqlite3.Row
    return connection


def _migrate_up_to(connection: sqlite3.Connection, last: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The schema as an older stateway left it."""
    every = migrations._migrations("sqlite")
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "_migrations", lambda dialect: [m for m in every if m[0] <= last])
        migrate_sqlite(connection)


def test_a_fresh_file_gets_every_migration_once(tmp_path: Path) -> None:
    connection = _connect(tmp_path / "fresh.db")
    applied = migrate_sqlite(connection)
    known = migrations._migrations("sqlite")
    assert applied == len(known) and migrate_sqlite(connection) == 0
    rows = connection.execute("SELECT version, name, checksum FROM schema_migrations ORDER BY version").fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [(n, name, hashlib.sha256(sql.encode()).hexdigest())
                                                 for n, name, sql in known]


def test_a_changed_or_newer_schema_is_refused(tmp_path: Path) -> None:
    connection = _connect(tmp_path / "checked.db")
    migrate_sqlite(connection)
    connection.execute("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate_sqlite(connection)
    connection.execute("UPDATE schema_migrations SET checksum = ? WHERE version = 1",
                       (hashlib.sha256(migrations._migrations("sqlite")[0][2].encode()).hexdigest(),))
    connection.execute("INSERT INTO schema_migrations VALUES (9999, '9999_future.sql', 'x')")
    with pytest.raises(MigrationError, match="newer than this stateway"):
        migrate_sqlite(connection)


def test_lean_tasks_keep_every_task_and_find_activity_tasks_and_tokens(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    connection = _connect(tmp_path / "old.db")
    _migrate_up_to(connection, 5, monkeypatch)
    activity = "arn:aws:states:us-east-1:123456789012:activity:review"
    rows = [
        ("exec-a", "t1", {"kind": "activity", "resource": activity}, "SCHEDULED", None),
        ("exec-a", "t2", {"kind": "lambda", "resource": "arn:aws:lambda:us-east-1:1:function:f"}, "RUNNING", None),
        ("exec-b", "t1", {"kind": "service", "resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken"},
         "WAITING", "token-b1"),
    ]
    for arn, task_id, command, status, token in rows:
        connection.execute("INSERT INTO tasks (execution_arn, id, command, status, token, created_ms) "
                           "VALUES (?, ?, ?, ?, ?, 1)", (arn, task_id, json.dumps(command), status, token))
    assert migrate_sqlite(connection) == len(migrations._migrations("sqlite")) - 5
    stored = connection.execute("SELECT execution_arn, id, status, token, activity_arn FROM tasks "
                                "ORDER BY execution_arn, id").fetchall()
    assert [tuple(r) for r in stored] == [("exec-a", "t1", "SCHEDULED", None, activity),
                                          ("exec-a", "t2", "RUNNING", None, None),
                                          ("exec-b", "t1", "WAITING", "token-b1", None)]
    q = load_queries("sqlite")
    found = connection.execute(q["next_activity_task"], {"activity_arn": activity}).fetchone()
    assert (found["execution_arn"], found["id"]) == ("exec-a", "t1")
    assert connection.execute(q["task_by_token"], {"token": "token-b1"}).fetchone()["id"] == "t1"
    with pytest.raises(sqlite3.IntegrityError):  # tokens stay unique
        connection.execute("INSERT INTO tasks (execution_arn, id, command, status, token, created_ms) "
                           "VALUES ('exec-c', 't1', '{}', 'WAITING', 'token-b1', 1)")
