"""The check at startup: an execution whose rows in a real SQLite file disagree is quarantined, untouched."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from support import wait_for

from stateway.engine import Engine

pytestmark = pytest.mark.integration

YEAR = 31_536_000
TOKEN_TASK = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
              "Parameters": {"QueueUrl": "https://sqs.example/q", "MessageBody": {"token.$": "$$.Task.Token"}},
              "End": True}
HOLD = {"Type": "Wait", "Seconds": YEAR, "End": True}
# Each waits for a year in a different shape, so that the store holds every kind of row an execution has.
MACHINES: dict[str, dict[str, Any]] = {
    "wait": {"StartAt": "Hold", "States": {"Hold": HOLD}},
    "token": {"StartAt": "Ask", "States": {"Ask": TOKEN_TASK}},
    # Two iterations at a time of 200: frames, tasks, and the join's rows (its input, runs of items).
    "map": {"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "MaxConcurrency": 2, "End": True,
        "ItemProcessor": {"StartAt": "Ask", "States": {"Ask": TOKEN_TASK}}}}},
    # A Map inside a Parallel branch: that join is in a frame's row, not in the snapshot's own text.
    "nested": {"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Inner", "States": {"Inner": {"Type": "Map", "MaxConcurrency": 1, "End": True,
                                                  "ItemProcessor": {"StartAt": "Hold", "States": {"Hold": HOLD}}}}},
        {"StartAt": "Rest", "States": {"Rest": HOLD}}]}}},
}
INPUTS = {"map": list(range(200)), "nested": list(range(100))}
# The tables that hold an execution's rows, and the column naming it.
TABLES = {"executions": "arn", "history_chunks": "execution_arn", "tasks": "execution_arn",
          "timers": "execution_arn", "frames": "execution_arn", "join_data": "execution_arn"}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A store file with one execution of each machine waiting, built once; tests corrupt copies."""
    path = tmp_path_factory.mktemp("consistency") / "template.db"
    with Engine(f"sqlite:///{path}", poll_interval=0.05) as engine:
        arns = {name: engine.service.start_execution(engine.service.create_state_machine(name, definition),
                                                     INPUTS.get(name, {}), name=name)
                for name, definition in MACHINES.items()}
        wait_for(lambda: _count(path, "SELECT COUNT(*) FROM tasks WHERE status = 'WAITING'") == 3)
        wait_for(lambda: _count(path, "SELECT COUNT(*) FROM timers WHERE purpose = 'wait'") == 3)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the file alone holds everything: it can be copied
    return path, arns


def _count(path: Path, sql: str) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute(sql).fetchone()[0])


def _copy(template: tuple[Path, dict[str, str]], tmp_path: Path) -> Path:
    path = tmp_path / "e.db"
    shutil.copy(template[0], path)
    return path


def _rows_of(path: Path, arn: str) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as db:
        return {table: sorted(db.execute(f"SELECT * FROM {table} WHERE {column} = ?", (arn,)).fetchall(), key=repr)
                for table, column in TABLES.items()}


def test_a_store_whose_rows_agree_quarantines_nothing(template: tuple[Path, dict[str, str]], tmp_path: Path,
                                                      capfd: pytest.CaptureFixture[str]) -> None:
    path = _copy(template, tmp_path)
    with Engine(f"sqlite:///{path}") as engine:
        assert engine.health()["status"] == "ok"
    assert "quarantined" not in capfd.readouterr().err


ONE_FRAME = "(SELECT MIN(frame_id) FROM frames WHERE execution_arn = :arn)"


@pytest.mark.parametrize(("name", "corruption", "reason"), [
    ("wait", "UPDATE executions SET snapshot = '{\"execution\": ' WHERE arn = :arn", "its snapshot cannot be read"),
    ("wait", "UPDATE executions SET snapshot = (SELECT snapshot FROM executions WHERE name = 'token') WHERE arn = :arn",
     "its snapshot is that of arn:aws:states:us-east-1:123456789012:execution:token:token"),
    ("wait", "DELETE FROM history_chunks WHERE execution_arn = :arn AND last_id = "
             "(SELECT MAX(last_id) FROM history_chunks WHERE execution_arn = :arn)", "its history ends at event 0, its snapshot at event 2"),
    ("wait", "DELETE FROM timers WHERE execution_arn = :arn", "of its snapshot has no row"),
    ("wait", "INSERT INTO timers VALUES (:arn, 't99', 0, 'wait')", "timer row t99 is not in its snapshot"),
    ("wait", "UPDATE executions SET snapshot = NULL WHERE arn = :arn", "it has no snapshot but its history runs to"),
    ("token", "DELETE FROM tasks WHERE execution_arn = :arn", "of its snapshot has no row"),
    # A row no snapshot knows, which recovery would otherwise hand to a worker.
    ("token", "INSERT INTO tasks (execution_arn, id, command, status, created_ms) "
              "VALUES (:arn, 'k99', 'not a command', 'SCHEDULED', 0)", "task row k99 is not in its snapshot"),
    ("map", f"DELETE FROM frames WHERE execution_arn = :arn AND frame_id = {ONE_FRAME}", "of its snapshot has no row"),
    ("map", "INSERT INTO frames VALUES (:arn, 'f999', '{}')", "frame row f999 is not in its snapshot"),
    ("map", f"UPDATE frames SET body = '[' WHERE execution_arn = :arn AND frame_id = {ONE_FRAME}",
     "row cannot be read"),
    ("map", "DELETE FROM join_data WHERE execution_arn = :arn AND kind = 'source'", "has no row of its input"),
    # Children 0 and 1 started before the join was first stored: its first run of items is 2 to 63.
    ("map", "DELETE FROM join_data WHERE execution_arn = :arn AND kind = 'items' AND idx = 2",
     "has no row holding the input of child 2, the next to start"),
    # The inner Map's join is in a branch frame's row: its items are checked all the same.
    ("nested", "DELETE FROM join_data WHERE execution_arn = :arn AND kind = 'items'",
     "has no row holding the input of child 1, the next to start"),
])
def test_an_execution_whose_rows_disagree_is_quarantined_at_startup_and_left_as_it_is(
        template: tuple[Path, dict[str, str]], tmp_path: Path, capfd: pytest.CaptureFixture[str],
        name: str, corruption: str, reason: str) -> None:
    path = _copy(template, tmp_path)
    arn = template[1][name]
    with sqlite3.connect(path) as db:
        db.execute(corruption, {"arn": arn})
    before = _rows_of(path, arn)
    with Engine(f"sqlite:///{path}", poll_interval=0.05) as engine:
        health = engine.health()
        # Only that one: every other execution's rows still agree, and the engine runs them.
        assert health["status"] == "degraded" and health["quarantinedExecutions"] == [arn]
        done = engine.service.start_execution(engine.service.create_state_machine(
            "pass", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}), {})
        assert engine.wait(done, timeout=10)["status"] == "SUCCEEDED"
    err = capfd.readouterr().err
    assert f"stateway: execution {arn} is quarantined until restart because its stored rows disagree: " in err
    assert reason in err
    assert _rows_of(path, arn) == before, "a quarantined execution's rows are never changed"


def test_a_quarantined_execution_with_a_due_timer_does_not_keep_the_engine_busy(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    with Engine(f"sqlite:///{path}") as engine:
        arn = engine.service.start_execution(engine.service.create_state_machine(
            "soon", {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}}), {})
        wait_for(lambda: _count(path, "SELECT COUNT(*) FROM timers WHERE purpose = 'wait'") == 1)
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO frames VALUES (?, 'f999', '{}')", (arn,))
    time.sleep(1.2)  # its timer is due: nothing may take it while the execution is quarantined
    with Engine(f"sqlite:///{path}", poll_interval=0.05) as engine:
        assert engine.health()["quarantinedExecutions"] == [arn]
        time.sleep(0.3)
        rounds = engine.rounds
        time.sleep(1.0)
        assert engine.rounds - rounds <= 1, "the due timer it leaves alone made the engine run rounds in a loop"
    assert _count(path, "SELECT COUNT(*) FROM timers WHERE purpose = 'wait'") == 1
