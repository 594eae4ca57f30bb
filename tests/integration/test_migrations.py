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


def test_history_rows_become_chunks_that_read_back_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stateway.engine.service import Service
    from stateway.store.sqlite import SqliteStore

    path = tmp_path / "history.db"
    connection = _connect(path)
    _migrate_up_to(connection, 7, monkeypatch)
    arn = "arn:aws:states:us-east-1:123456789012:execution:m:old"
    connection.execute("INSERT INTO executions (arn, state_machine_arn, name, definition, status, input, start_ms) "
                       "VALUES (?, 'arn:aws:states:us-east-1:123456789012:stateMachine:m', 'old', '{}', "
                       "'SUCCEEDED', '{}', 1000)", (arn,))
    stored = [(1, 0, "ExecutionStarted", 1000, {"input": "{\"é\": 1.5}", "roleArn": "r"}),
              (2, 1, "PassStateEntered", 1001, {"name": "P", "input": "{}"}),
              (3, 2, "ExecutionSucceeded", 1002, None)]
    for event_id, previous, kind, stamp, details in stored:
        connection.execute("INSERT INTO history_events VALUES (?, ?, ?, ?, ?, ?)",
                           (arn, event_id, previous, kind, stamp, json.dumps(details) if details else None))
    connection.close()
    store = SqliteStore(path)  # applies 0008
    service = Service(store)
    events = service.get_execution_history(arn, raw_timestamps=True)
    assert [(e["id"], e["previousEventId"], e["type"], e["timestamp"]) for e in events] == \
        [s[:4] for s in stored]
    assert events[0]["executionStartedEventDetails"] == stored[0][4]
    assert [e["id"] for e in service.get_execution_history(arn, reverse=True, max_results=2)] == [3, 2]
    assert [e["id"] for e in service.get_execution_history(arn, reverse=True, next_token="3")] == [2, 1]
    assert [e["id"] for e in service.get_execution_history(arn, next_token="1")] == [2, 3]
    view = store.all("history_events_of_type", {"arn": arn, "type": "PassStateEntered"})
    assert [(r["id"], json.loads(r["details"])) for r in view] == [(2, {"name": "P", "input": "{}"})]


def test_history_chunks_move_to_a_table_in_write_order_and_read_back_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stateway.engine.service import Service
    from stateway.store.sqlite import SqliteStore

    path = tmp_path / "appended.db"
    connection = _connect(path)
    _migrate_up_to(connection, 8, monkeypatch)
    chunks = {"b": [(1, 2, [[1, 0, "ExecutionStarted", 1000, {"input": "{}", "roleArn": "r"}],
                            [2, 0, "PassStateEntered", 1001, {"name": "P", "input": "{}"}]]),
                    (3, 3, [[3, 2, "ExecutionSucceeded", 1002, {"output": "{}"}]])],
              "a": [(1, 1, [[1, 0, "ExecutionStarted", 2000, {"input": "{}", "roleArn": "r"}]])]}
    for name, pieces in chunks.items():
        arn = f"arn:aws:states:us-east-1:123456789012:execution:m:{name}"
        connection.execute("INSERT INTO executions (arn, state_machine_arn, name, definition, status, input, start_ms) "
                           "VALUES (?, 'arn:aws:states:us-east-1:123456789012:stateMachine:m', ?, '{}', "
                           "'RUNNING', '{}', 1000)", (arn, name))
        for first, last, events in pieces:
            connection.execute("INSERT INTO history_chunks (execution_arn, last_id, first_id, events) VALUES (?, ?, ?, ?)",
                               (arn, last, first, json.dumps(events)))
    connection.close()
    store = SqliteStore(path)  # applies 0009
    service = Service(store)
    b = "arn:aws:states:us-east-1:123456789012:execution:m:b"
    assert [(e["id"], e["type"]) for e in service.get_execution_history(b)] == [
        (1, "ExecutionStarted"), (2, "PassStateEntered"), (3, "ExecutionSucceeded")]
    assert [e["id"] for e in service.get_execution_history(b, reverse=True, max_results=2)] == [3, 2]
    assert len(service.get_execution_history(b.replace(":b", ":a"))) == 1
    with pytest.raises(sqlite3.IntegrityError):  # chunks of one execution are still unique by last id
        store._writer.execute("INSERT INTO history_chunks (execution_arn, last_id, first_id, events) "
                              "VALUES (?, 3, 3, '[]')", (b,))
    plan = store._writer.execute("EXPLAIN QUERY PLAN " + store.q["history_chunks_forward"],
                                 {"arn": b, "after": 0, "limit": 10}).fetchall()
    assert "history_chunks_by_execution" in " ".join(str(tuple(row)) for row in plan)
    store.close()


def test_machines_stored_before_incarnations_get_one_each_and_start_executions(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stateway.engine.service import Service
    from stateway.store.sqlite import SqliteStore

    path = tmp_path / "incarnations.db"
    connection = _connect(path)
    _migrate_up_to(connection, 18, monkeypatch)
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    for name in ("a", "b"):  # as an older stateway stored them
        connection.execute("INSERT INTO state_machines (arn, name, type, definition, role_arn, revision_id, "
                           "created_ms, updated_ms) VALUES (?, ?, 'STANDARD', ?, 'r', 'rev', 1000, 1000)",
                           (f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}", name, definition))
    connection.close()
    service = Service(SqliteStore(path))  # applies 0019
    arns = [f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}" for name in ("a", "b")]
    incarnations = [service.store.one("get_state_machine", {"arn": arn})["incarnation"] for arn in arns]
    assert all(incarnations) and len(set(incarnations)) == 2
    # A start compares the incarnation it read with the stored one: the same, so the execution is stored.
    execution = service.start_execution(arns[0], {})
    assert service.describe_execution(execution)["status"] == "RUNNING"


def test_executions_stored_before_they_kept_their_machines_incarnation_get_it_from_creation_times(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """0020: an execution started no earlier than its machine's creation ran on that machine (as creation times
    told until then); one started before it ran on a machine that is gone."""
    from stateway.engine.service import Service
    from stateway.store.sqlite import SqliteStore

    path = tmp_path / "execution-incarnations.db"
    connection = _connect(path)
    _migrate_up_to(connection, 19, monkeypatch)
    definition = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    machine = "arn:aws:states:us-east-1:123456789012:stateMachine:m"
    connection.execute("INSERT INTO state_machines (arn, name, type, definition, role_arn, revision_id, created_ms, "
                       "updated_ms, incarnation) VALUES (?, 'm', 'STANDARD', ?, 'r', 'rev', 5000, 5000, 'now')",
                       (machine, definition))
    for name, start in (("before", 4000), ("same", 5000), ("after", 6000)):
        connection.execute("INSERT INTO executions (arn, state_machine_arn, name, definition, status, input, "
                           "start_ms, stop_ms) VALUES (?, ?, ?, ?, 'FAILED', '{}', ?, ?)",
                           (f"arn:aws:states:us-east-1:123456789012:execution:m:{name}", machine, name, definition,
                            start, start + 1))
    connection.close()
    service = Service(SqliteStore(path))  # applies 0020
    stored = dict(service.store.reader.execute("SELECT name, machine_incarnation FROM executions").fetchall())
    assert stored == {"before": None, "same": "now", "after": "now"}
    statuses = {name: service.store.one("describe_execution", {
        "arn": f"arn:aws:states:us-east-1:123456789012:execution:m:{name}"})["machine_status"]
        for name in stored}
    assert statuses == {"before": None, "same": "ACTIVE", "after": "ACTIVE"}


def test_map_runs_stored_before_their_children_had_rows_key_the_rows_of_the_children_they_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """0023: a Map Run gets the id its children's rows are keyed by; one stored before, still running, has its
    children listed and described as they start (found by their names, which it does not keep)."""
    from stateway.asl.child_names import child_execution_arn, child_execution_name, name_prefix
    from stateway.asl.events import ChildExecutionChanged
    from stateway.engine import map_runs
    from stateway.engine.paging import PageTokens
    from stateway.store.sqlite import SqliteStore

    path = tmp_path / "map-run-ids.db"
    connection = _connect(path)
    _migrate_up_to(connection, 22, monkeypatch)
    old = [f"arn:aws:states:us-east-1:123456789012:mapRun:m/Each:0000000{n}-0000-4000-8000-000000000000"
           for n in (1, 2)]
    for arn in old:
        connection.execute("INSERT INTO map_runs (arn, execution_arn, started_event_id, status, start_ms) "
                           "VALUES (?, 'arn:aws:states:us-east-1:123456789012:execution:m:e', 1, 'RUNNING', 5)", (arn,))
    connection.close()
    store = SqliteStore(path)  # applies 0023
    newer = "arn:aws:states:us-east-1:123456789012:mapRun:m/Each:00000003-0000-4000-8000-000000000000"
    with store.write() as db:
        db.execute(store.q["map_run_insert"], {
            "arn": newer, "execution_arn": "x", "started_event_id": 1, "start_ms": 6, "max_concurrency": 0,
            "tolerated_failure_percentage": 0.0, "tolerated_failure_count": 0, "total": 1,
            "child_names": name_prefix(newer)})
        rows = map_runs.ChildRows()
        rows.add([ChildExecutionChanged(old[1], 7, "RUNNING", 10, input="{}")])
        rows.write(db, store.q)
    ids = dict(store.reader.execute("SELECT arn, id FROM map_runs").fetchall())
    assert sorted(ids.values()) == [1, 2, 3] and ids[newer] == 3
    (child,) = map_runs.list_child_executions(store, PageTokens(b"k"), old[1])[0]
    assert child["executionArn"] == child_execution_arn(old[1], child_execution_name(old[1], 7), False)
    described = map_runs.describe_child_execution(store, child["executionArn"], 20)
    assert described is not None and (described["status"], described["mapRunArn"]) == ("RUNNING", old[1])
    store.close()
